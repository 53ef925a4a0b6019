"""Zarr stores: layout and attributes of docs/contracts.md, resume, refusals (threaded scheduler)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import dask.array as da
import numpy as np
import pytest
import zarr

import zoomstack


def markers(array_dir: Path) -> set[str]:
    return set(os.listdir(array_dir / "zoomstack.done"))


def check_contract(z: zarr.Array, params: zoomstack.StackParams, select: str, unit) -> None:
    assert z.metadata.zarr_format == 3
    assert tuple(z.metadata.dimension_names) == ("level", "y", "x")
    assert z.dtype == np.uint16
    assert z.fill_value == 65535
    meta = z.attrs["zoomstack"]
    assert meta["format"] == "zoomstack-stack"
    assert meta["format_version"] == 1
    assert meta["zoomstack_version"] == zoomstack.__version__
    assert meta["kernel_contract_version"] == zoomstack.CONTRACT_VERSION == 1
    assert meta["stack"] == {
        "levels": params.levels,
        "height": params.height,
        "width": params.width,
        "center": list(params.center),
        "scale0": params.scale0,
        "zoom_per_level": params.zoom_per_level,
        "max_iter": params.max_iter,
        "dtype": "uint16",
    }
    assert meta["select"] == select
    assert meta["downsample"] is None
    assert meta["scale_rule"].startswith("scale(level) = scale0 / zoom_per_level ** level;")
    assert meta["write_unit"] == list(unit)
    assert meta["complete"] is True


@pytest.mark.parametrize("shards", [None, (2, 64, 64)])
def test_write_whole_stack(tmp_path, small_params, small_direct, shards) -> None:
    s = zoomstack.ZoomStackArray.from_params(small_params, (1, 32, 32))
    z = zoomstack.to_zarr(s, tmp_path / "s.zarr", shards=shards, scheduler="threads")
    unit = shards or (1, 32, 32)
    check_contract(z, small_params, "[0:16:1, 0:64:1, 0:64:1]", unit)
    assert z.chunks == (1, 32, 32)
    assert z.shards == shards
    n_units = 8 if shards else 64
    assert len(markers(tmp_path / "s.zarr" / "counts")) == n_units
    assert "0.0.0" in markers(tmp_path / "s.zarr" / "counts")
    np.testing.assert_array_equal(z[:], small_direct)
    # Other readers see the same array.
    again = zarr.open_array(tmp_path / "s.zarr", path="counts", mode="r")
    np.testing.assert_array_equal(again[:], small_direct)
    np.testing.assert_array_equal(da.from_zarr(str(tmp_path / "s.zarr"), component="counts").compute(), small_direct)
    info = zoomstack.store_info(tmp_path / "s.zarr")
    assert (info["units"], info["missing_units"], info["complete"]) == (n_units, 0, True)


def test_write_selection_at_a_path(tmp_path, small_params, small_direct) -> None:
    s = zoomstack.ZoomStackArray.from_params(small_params, (1, 32, 32))[3:15:4, ::2, 1::3]
    z = zoomstack.to_zarr(s, tmp_path / "g.zarr", path="stacks/preview", scheduler="threads")
    assert z.shape == (3, 32, 21)
    check_contract(z, small_params, "[3:15:4, 0:64:2, 1:64:3]", (1, 32, 21))
    np.testing.assert_array_equal(z[:], small_direct[3:15:4, ::2, 1::3])
    assert (tmp_path / "g.zarr/stacks/preview/zoomstack.done/0.0.0").exists()
    # Whole params: the full stack, chunks = the default Dask blocks, clipped.
    z2 = zoomstack.to_zarr(small_params, tmp_path / "p.zarr", scheduler="threads")
    assert z2.chunks == (1, 64, 64)
    np.testing.assert_array_equal(z2[:], small_direct)


def test_resume_skips_units_with_markers(tmp_path, small_params, small_direct) -> None:
    store = tmp_path / "r.zarr"
    s = zoomstack.ZoomStackArray.from_params(small_params, (1, 32, 32))
    z = zoomstack.to_zarr(s, store, shards=(4, 64, 64), scheduler="threads")
    # Simulate an interrupted run: unit 1 lost its marker (and its data is garbage); the other
    # units keep their markers: a resume must not touch them.
    w = zarr.open_array(store, path="counts", mode="r+")
    w[4:8] = 7
    os.remove(store / "counts" / "zoomstack.done" / "1.0.0")
    shard = lambda k: store / "counts" / "c" / str(k) / "0" / "0"  # noqa: E731
    before = {k: shard(k).stat().st_mtime_ns for k in (0, 2, 3)}
    info = zoomstack.store_info(store)
    assert (info["missing_units"], info["damaged_units"]) == (1, 0)
    z = zoomstack.to_zarr(s, store, shards=(4, 64, 64), scheduler="threads")
    assert {k: shard(k).stat().st_mtime_ns for k in (0, 2, 3)} == before, "a unit with a marker was rewritten"
    np.testing.assert_array_equal(z[:], small_direct)
    assert z.attrs["zoomstack"]["complete"] is True
    # A unit rewritten behind the writer's back (other length than its marker records) is
    # damaged: a resume writes it again.
    w[8:12] = 9
    info = zoomstack.store_info(store)
    assert (info["missing_units"], info["damaged_units"]) == (1, 1)
    z = zoomstack.to_zarr(s, store, shards=(4, 64, 64), scheduler="threads")
    np.testing.assert_array_equal(z[:], small_direct)
    # A torn shard (e.g. a writer killed mid-write) without a marker is replaced, not read.
    shard(3).write_bytes(b"torn")
    os.remove(store / "counts" / "zoomstack.done" / "3.0.0")
    z = zoomstack.to_zarr(s, store, shards=(4, 64, 64), scheduler="threads")
    np.testing.assert_array_equal(z[12:], small_direct[12:])
    assert zoomstack.verify(store)[0]["intact"]


def test_complete_store_is_not_recomputed(tmp_path, small_params) -> None:
    store = tmp_path / "c.zarr"
    s = zoomstack.ZoomStackArray.from_params(small_params, (2, 64, 64))
    zoomstack.to_zarr(s, store, scheduler="threads")
    before = {p: p.stat().st_mtime_ns for p in (store / "counts" / "c").rglob("*") if p.is_file()}
    zoomstack.to_zarr(s, store, scheduler="threads")
    after = {p: p.stat().st_mtime_ns for p in (store / "counts" / "c").rglob("*") if p.is_file()}
    assert before == after


@pytest.mark.parametrize(
    "change, field",
    [
        (dict(params=dict(max_iter=100)), "stack.max_iter"),
        (dict(params=dict(center=(-0.75, 0.1))), "stack.center"),
        (dict(params=dict(levels=17)), "stack.levels"),
        (dict(key=(slice(0, 8),)), "select"),
        (dict(chunks=(1, 16, 16)), "`chunks`"),
        (dict(shards=(4, 64, 64)), "`shard`"),
    ],
)
def test_resume_refuses_other_parameters(tmp_path, small_params, change, field) -> None:
    store = tmp_path / "m.zarr"
    zoomstack.to_zarr(
        zoomstack.ZoomStackArray.from_params(small_params, (1, 32, 32)),
        store,
        shards=(2, 64, 64),
        scheduler="threads",
    )
    params = zoomstack.StackParams(**{**small_params.__dict__, **change.get("params", {})})
    s = zoomstack.ZoomStackArray.from_params(params, (1, 32, 32))[change.get("key", ())]
    with pytest.raises(zoomstack.StoreMismatchError, match=field.replace(".", r"\.")) as info:
        zoomstack.to_zarr(
            s,
            store,
            chunks=change.get("chunks"),
            shards=change.get("shards", (2, 64, 64)),
            scheduler="threads",
        )
    assert "overwrite=True" in str(info.value)
    # overwrite=True starts over with the new parameters.
    z = zoomstack.to_zarr(
        s,
        store,
        chunks=change.get("chunks"),
        shards=change.get("shards", (2, 64, 64)),
        overwrite=True,
        scheduler="threads",
    )
    want = zoomstack.render_block(None, None, None, params)[change.get("key", ())]
    np.testing.assert_array_equal(z[:], want)
    assert z.attrs["zoomstack"]["complete"] is True


def test_refuses_foreign_arrays_and_bad_requests(tmp_path, small_params) -> None:
    zarr.create_array(tmp_path / "foreign.zarr", shape=(2, 2), dtype="uint8")
    s = zoomstack.ZoomStackArray.from_params(small_params, (1, 32, 32))
    with pytest.raises(zoomstack.StoreMismatchError, match="not a zoomstack store") as info:
        zoomstack.to_zarr(s, tmp_path / "foreign.zarr")
    assert "overwrite=True" not in str(info.value)
    with pytest.raises(zoomstack.StoreMismatchError, match="not a zoomstack store"):
        zoomstack.to_zarr(s, tmp_path / "foreign.zarr", overwrite=True)
    assert zarr.open_array(tmp_path / "foreign.zarr", mode="r").shape == (2, 2), "foreign array deleted"
    with pytest.raises(zoomstack.InvalidSelectionError, match="integer index 3"):
        zoomstack.to_zarr(s[3], tmp_path / "x.zarr")
    with pytest.raises(zoomstack.InvalidSelectionError, match="positive steps"):
        zoomstack.to_zarr(s[::-1], tmp_path / "x.zarr")
    with pytest.raises(zoomstack.InvalidSelectionError, match="empty"):
        zoomstack.to_zarr(s[5:5], tmp_path / "x.zarr")
    with pytest.raises(zoomstack.InvalidParameterError, match="multiple of the chunk shape"):
        zoomstack.to_zarr(s, tmp_path / "x.zarr", shards=(2, 48, 64))
    with pytest.raises(zoomstack.InvalidParameterError, match="shards"):
        zoomstack.to_zarr(s, tmp_path / "x.zarr", shards=(2, 0, 64))
    with pytest.raises(zoomstack.InvalidParameterError, match="filesystem path"):
        zoomstack.to_zarr(s, "s3://bucket/x.zarr")
    with pytest.raises(TypeError):
        zoomstack.to_zarr(np.zeros((2, 2, 2), np.uint16), tmp_path / "x.zarr")  # type: ignore[arg-type]
    assert not (tmp_path / "x.zarr").exists()


def test_store_written_by_another_tool_with_other_stop_normalization(tmp_path, small_params) -> None:
    """``select`` is compared as an index set: ``0:18:3`` and ``0:16:3`` are the same levels."""
    store = tmp_path / "n.zarr"
    s = zoomstack.ZoomStackArray.from_params(small_params, (1, 32, 32))[::3]
    z = zoomstack.to_zarr(s, store, scheduler="threads")
    assert z.attrs["zoomstack"]["select"] == "[0:18:3, 0:64:1, 0:64:1]"
    doc = json.loads((store / "counts" / "zarr.json").read_text())
    doc["attributes"]["zoomstack"]["select"] = "[0:16:3, 0:64:1, 0:64:1]"
    doc["attributes"]["zoomstack"]["complete"] = False
    (store / "counts" / "zarr.json").write_text(json.dumps(doc))
    os.remove(store / "counts" / "zoomstack.done" / "2.0.0")
    z = zoomstack.to_zarr(s, store, scheduler="threads")
    assert z.attrs["zoomstack"]["complete"] is True


def test_tasks_join_the_store_without_touching_its_metadata(tmp_path, small_params, small_direct) -> None:
    """``write_units`` (one Dask task) writes its units and their markers through the Rust
    sink and never rewrites ``zarr.json``; it refuses a store that does not exist instead of
    creating one (a worker that does not see the driver's file system)."""
    from zoomstack import _zarr, _zoomstack

    s = zoomstack.ZoomStackArray.from_params(small_params, (1, 32, 32))
    store = tmp_path / "t.zarr"
    spec = _zarr._store_spec(s, store, None, None, (4, 64, 64))
    layout = _zoomstack.init_store(spec)
    assert (layout["grid"], layout["write_unit"], layout["units_total"]) == ((4, 1, 1), (4, 64, 64), 4)
    assert layout["missing"] == [(0, 0, 0), (1, 0, 0), (2, 0, 0), (3, 0, 0)]
    meta = (store / "counts" / "zarr.json").read_bytes()
    stat = (store / "counts" / "zarr.json").stat()
    assert _zoomstack.write_units(spec, [(2, 0, 0), (0, 0, 0)]) == 2
    assert _zoomstack.write_units(spec, [(2, 0, 0)]) == 0, "a marked unit was written again"
    assert (store / "counts" / "zarr.json").read_bytes() == meta
    assert (store / "counts" / "zarr.json").stat().st_mtime_ns == stat.st_mtime_ns
    assert markers(store / "counts") == {"0.0.0", "2.0.0"}
    assert _zoomstack.init_store(spec)["missing"] == [(1, 0, 0), (3, 0, 0)]
    z = zarr.open_array(store, path="counts", mode="r")
    np.testing.assert_array_equal(z[0:4], small_direct[0:4])
    np.testing.assert_array_equal(z[8:12], small_direct[8:12])
    assert _zoomstack.finish_store(spec)["complete"] is False
    with pytest.raises(zoomstack.InvalidSelectionError, match="outside"):
        _zoomstack.write_units(spec, [(4, 0, 0)])

    other = _zarr._store_spec(s, tmp_path / "none.zarr", None, None, (4, 64, 64))
    with pytest.raises(zoomstack.StoreMismatchError, match="create the store first"):
        _zoomstack.write_units(other, [(0, 0, 0)])
    assert not (tmp_path / "none.zarr").exists()
    bad = {**spec, "max_iter": 100}
    with pytest.raises(zoomstack.StoreMismatchError, match="max_iter"):
        _zoomstack.write_units(bad, [(1, 0, 0)])
    assert markers(store / "counts") == {"0.0.0", "2.0.0"}


def test_errors_pickle() -> None:
    """Dask sends a task's exception to the client pickled: every class must survive that."""
    import pickle

    for cls in (
        zoomstack.ZoomstackError,
        zoomstack.InvalidParameterError,
        zoomstack.InvalidSelectionError,
        zoomstack.UnknownBackendError,
        zoomstack.StoreMismatchError,
        zoomstack.IncompleteStoreError,
    ):
        e = pickle.loads(pickle.dumps(cls("message")))
        assert type(e) is cls and str(e) == "message"
        assert isinstance(e, ValueError)
