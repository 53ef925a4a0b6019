"""zarr-python 3 and dask read the Rust sink's stores back exactly; attributes round-trip."""

from __future__ import annotations

import json
import math
import dask.array as da
import numpy as np
import pytest
import zarr

from conftest import load_u16

KEYS = {"format", "format_version", "zoomstack_version", "kernel_contract_version", "stack",
        "select", "downsample", "scale_rule", "write_unit", "complete"}


STORES = ["unsharded.zarr", "sharded.zarr", "uncompressed.zarr", "mean.zarr"]


def entry(manifest, name):
    return next(e for e in manifest["zarr"] if e["path"] == name)


@pytest.mark.parametrize("store", STORES)
def test_zarr_python_reads_equal(fixtures, manifest, store):
    e = entry(manifest, store)
    want = load_u16(fixtures, e["expected"])
    z = zarr.open_array(fixtures / store, path="counts", mode="r")
    assert z.dtype == np.uint16
    assert z.shape == want.shape
    assert z.fill_value == 65535  # never a count (max_iter 256)
    assert tuple(z.chunks) == tuple(e["chunks"])
    if e["shards"] is None:
        assert z.shards is None
    else:
        assert tuple(z.shards) == tuple(e["shards"])
    np.testing.assert_array_equal(z[...], want)
    # A strided read through zarr equals the same slice of the expected array.
    np.testing.assert_array_equal(z[1::3, ::5, 2::4], want[1::3, ::5, 2::4])


@pytest.mark.parametrize("store", STORES)
def test_dask_reads_equal(fixtures, manifest, store):
    e = entry(manifest, store)
    want = load_u16(fixtures, e["expected"])
    d = da.from_zarr(str(fixtures / store), component="counts")
    assert d.shape == want.shape
    np.testing.assert_array_equal(d.compute(), want)
    assert int(d.sum().compute()) == int(want.astype(np.int64).sum())


@pytest.mark.parametrize("store", STORES)
def test_attributes_round_trip(fixtures, manifest, store):
    e = entry(manifest, store)
    z = zarr.open_array(fixtures / store, path="counts", mode="r")
    assert z.metadata.dimension_names == ("level", "y", "x")
    attrs = dict(z.attrs)
    assert "_zarrs" not in attrs
    zs = attrs["zoomstack"]
    assert KEYS <= set(zs), set(zs) ^ KEYS
    assert zs["format"] == "zoomstack-stack"
    assert zs["format_version"] == 1
    assert zs["kernel_contract_version"] == 1
    assert zs["complete"] is True
    assert zs["select"] == e["select"]
    assert zs["stack"] == {
        "levels": 120000, "height": 512, "width": 512,
        "center": [-0.743645857047151, 0.13182592380533],
        "scale0": 3.0, "zoom_per_level": 1.00025, "max_iter": 256, "dtype": "uint16",
    }
    unit = e["shards"] or e["chunks"]
    assert zs["write_unit"] == unit
    if store == "mean.zarr":
        assert zs["downsample"] == {"factors": [4, 4], "mode": "mean"}
    else:
        assert zs["downsample"] is None
    # One completion marker per write unit, named i.j.k.
    grid = [math.ceil(n / u) for n, u in zip(z.shape, unit)]
    markers = sorted(p.name for p in (fixtures / store / "counts" / "zoomstack.done").iterdir())
    want = sorted(f"{i}.{j}.{k}" for i in range(grid[0]) for j in range(grid[1])
                  for k in range(grid[2]))
    assert markers == want
    assert len(markers) == e["units"]
    # The raw zarr.json says the same (no zarrs-specific fields leaked into attributes).
    meta = json.loads((fixtures / store / "counts" / "zarr.json").read_text())
    assert meta["zarr_format"] == 3 and meta["node_type"] == "array"
    assert set(meta["attributes"]) == {"zoomstack", "long_name", "units", "coordinates"}
    root = json.loads((fixtures / store / "zarr.json").read_text())
    assert root["node_type"] == "group"


@pytest.mark.parametrize("store", STORES)
def test_xarray_opens_the_store_with_stack_levels(fixtures, manifest, store):
    import xarray as xr

    e = entry(manifest, store)
    want = load_u16(fixtures, e["expected"])
    start, stop, step = (int(v) for v in e["select"].strip("[]").split(", ")[0].split(":"))
    levels = list(range(start, stop, step))
    with xr.open_zarr(fixtures / store) as ds:
        assert ds["level"].values.tolist() == levels
        assert ds["counts"].dims == ("level", "y", "x")
        assert set(ds.coords) == {"level", "scale", "log10_scale", "y", "x"}
        np.testing.assert_array_equal(ds["scale"].values, [3.0 / 1.00025**lv for lv in levels])
        for k in (0, len(levels) - 1):
            np.testing.assert_array_equal(ds["counts"].sel(level=levels[k]).values, want[k])


def test_select_means_what_it_says(fixtures, manifest):
    """The select string (full-stack index space) reproduces the stored array from a
    full-resolution rendering: the pyramid's level 0 is such a rendering at stride 4."""
    e = entry(manifest, "unsharded.zarr")
    z = zarr.open_array(fixtures / "unsharded.zarr", path="counts", mode="r")
    parts = [p.split(":") for p in z.attrs["zoomstack"]["select"].strip("[]").split(", ")]
    counts = [len(range(int(a), int(b), int(c))) for a, b, c in parts]
    assert counts == list(z.shape) == e["expected"]["shape"]


def test_ome_pyramid(fixtures, manifest):
    p = manifest["pyramid"]
    root = fixtures / p["path"]
    g = zarr.open_group(root, mode="r")
    ome = g.attrs["ome"]
    assert ome["version"] == "0.5"
    ms = ome["multiscales"][0]
    assert [a["name"] for a in ms["axes"]] == ["level", "y", "x"]
    assert [d["path"] for d in ms["datasets"]] == [str(k) for k in range(len(p["levels"]))]
    for k, lvl in enumerate(p["levels"]):
        a = g[str(k)]
        assert a.metadata.dimension_names == ("level", "y", "x")
        np.testing.assert_array_equal(a[...], load_u16(fixtures, lvl))
        scale = ms["datasets"][k]["coordinateTransformations"][0]
        assert scale == {"type": "scale", "scale": [1000.0, 4.0 * 2**k, 4.0 * 2**k]}
        assert a.attrs["zoomstack"]["complete"] is True
    # Each level is the base at stride 2^k (rendered directly, equal to subsampling).
    base = load_u16(fixtures, p["levels"][0])
    for k, lvl in enumerate(p["levels"]):
        np.testing.assert_array_equal(load_u16(fixtures, lvl), base[:, :: 2**k, :: 2**k])
    # dask reads each level as a pyramid level.
    pyr = [da.from_zarr(str(root), component=str(k)) for k in range(len(p["levels"]))]
    assert [x.shape for x in pyr] == [tuple(lvl["shape"]) for lvl in p["levels"]]


def test_ome_pyramid_validates(fixtures, manifest):
    import yaozarrs

    yaozarrs.validate_zarr_store(str(fixtures / manifest["pyramid"]["path"]))
