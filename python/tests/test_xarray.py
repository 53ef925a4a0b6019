"""Stores open in xarray: a group with the counts and 1-D coordinate arrays, so that
``xr.open_zarr(store).sel(level=L)`` is stack level ``L``; unwritten units read as the fill
value, which is never a count; dask's ``to_zarr`` method on a zoomstack array writes a
zoomstack store. CLI-written stores open the same way (the CLI is the release binary)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import dask.array as da
import numpy as np
import pytest
import xarray as xr
import zarr

import zoomstack
from zoomstack import _zoomstack
from zoomstack._zarr import _store_spec

from conftest import reference_stack


# 1000 levels of 40 x 56 from the notebook's zoom (a faster zoom so the levels differ).
# The stores carry consolidated metadata: xarray's fallback warning would be an error here.
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

PARAMS = zoomstack.StackParams(levels=1000, height=40, width=56, zoom_per_level=1.00025**120)
FILL = 65535


def stack() -> zoomstack.ZoomStackArray:
    return zoomstack.stack(
        levels=PARAMS.levels,
        height=PARAMS.height,
        width=PARAMS.width,
        zoom_per_level=PARAMS.zoom_per_level,
        chunks=(1, 40, 56),
    )


def expected(levels) -> np.ndarray:
    return reference_stack(PARAMS, levels)


def check_dataset(ds: xr.Dataset, levels: list[int]) -> None:
    """Coordinates, attributes and `.sel(level=L)` of a store holding `levels` (full frames)."""
    counts = ds["counts"]
    assert counts.dims == ("level", "y", "x")
    assert counts.dtype == np.uint16
    assert ds["level"].values.tolist() == levels
    assert set(ds.coords) == {"level", "scale", "log10_scale", "y", "x"}
    for name in ("counts", "level", "scale", "log10_scale", "y", "x"):
        assert ds[name].attrs["units"] == "1", name
        assert ds[name].attrs["long_name"], name
    np.testing.assert_array_equal(
        ds["scale"].values, [PARAMS.scale0 / PARAMS.zoom_per_level**lv for lv in levels]
    )
    np.testing.assert_allclose(ds["log10_scale"].values, np.log10(ds["scale"].values), rtol=1e-12)
    # Offsets from the centre in units of the level's scale (x also times the aspect).
    np.testing.assert_allclose(ds["y"].values, np.linspace(-0.5, 0.5, PARAMS.height), atol=1e-15)
    aspect = PARAMS.width / PARAMS.height
    np.testing.assert_allclose(
        ds["x"].values, np.linspace(-0.5, 0.5, PARAMS.width) * aspect, atol=1e-15
    )
    # Label-based selection is the stack level, not the position.
    for lv in (levels[1], levels[-1]):
        np.testing.assert_array_equal(ds["counts"].sel(level=lv).values, expected([lv])[0])
    assert "zoomstack" in counts.attrs


@pytest.mark.parametrize("shards", [None, (2, 40, 56)], ids=["plain", "sharded"])
def test_python_store_opens_in_xarray(tmp_path, shards):
    store = tmp_path / "x.zarr"
    zoomstack.to_zarr(
        stack()[0:1000:250], store, shards=shards
    )
    with xr.open_zarr(store) as ds:
        check_dataset(ds, [0, 250, 500, 750])
        assert ds["counts"].encoding["chunks"] == (1, 40, 56)


@pytest.mark.parametrize("shards", [None, "4,40,56"], ids=["plain", "sharded"])
def test_cli_store_opens_in_xarray(tmp_path, cli_binary, shards):
    store = tmp_path / "cli.zarr"
    args = [
        str(cli_binary), "render", "--levels", "0:1000:125", "--chunks", "1,40,56",
        "--set", "stack.levels=1000", "--set", "stack.height=40", "--set", "stack.width=56",
        "--zoom-per-level", repr(PARAMS.zoom_per_level), "--zarr", str(store), "--quiet",
    ]
    if shards:
        args += ["--shards", shards]
    subprocess.run(args, check=True, capture_output=True)
    with xr.open_zarr(store) as ds:
        check_dataset(ds, list(range(0, 1000, 125)))


def test_an_interrupted_store_reads_the_fill_value_where_units_are_missing(tmp_path):
    store = tmp_path / "part.zarr"
    source = stack()[0:8]
    spec = _store_spec(source, store, None, None, None)
    _zoomstack.init_store(spec, if_exists="resume")
    # The writer stopped after three of its eight tasks (a killed run, a lost cluster).
    for unit in ((0, 0, 0), (3, 0, 0), (5, 0, 0)):
        _zoomstack.write_units(spec, [unit])
    assert not zoomstack.store_info(store)["complete"]
    want = expected(range(8))
    assert FILL > PARAMS.max_iter and not (want == FILL).any(), "the fill value is never a count"
    with xr.open_zarr(store) as ds:
        counts = ds["counts"].values
    assert counts.dtype == np.uint16  # the fill value is not turned into a NaN mask
    for lv in range(8):
        if lv in (0, 3, 5):
            np.testing.assert_array_equal(counts[lv], want[lv])
        else:
            assert (counts[lv] == FILL).all(), lv
    z = zarr.open_array(store, path="counts", mode="r")
    assert z.fill_value == FILL


def test_dask_to_zarr_method_writes_a_zoomstack_store(tmp_path):
    a = stack()[0:4]
    out = a.to_zarr(str(tmp_path / "m.zarr"))
    assert out.attrs["zoomstack"]["complete"] is True
    with xr.open_zarr(tmp_path / "m.zarr") as ds:
        np.testing.assert_array_equal(ds["counts"].values, expected(range(4)))
    # Dask's options for arbitrary arrays are refused with a pointer to the plain writer.
    with pytest.raises(TypeError, match="dask.array.to_zarr"):
        a.to_zarr(str(tmp_path / "n.zarr"), compute=False)
    # dask.array.to_zarr itself still writes a plain array, on purpose.
    da.to_zarr(a, str(tmp_path / "plain.zarr"))
    plain = zarr.open_array(tmp_path / "plain.zarr", mode="r")
    assert "zoomstack" not in plain.attrs


def test_ome_pyramid_opens_with_zoomstack_open_pyramid(tmp_path, cli_binary):
    store = tmp_path / "p.ome.zarr"
    tree = zoomstack.open_pyramid(_write_pyramid(cli_binary, store))
    assert list(tree.children) == ["0", "1", "2"]
    base = tree["0"].to_dataset()
    assert base["counts"].shape == (2, 40, 56)
    np.testing.assert_array_equal(base["counts"].sel(level=500).values, expected([500])[0])
    half = tree["1"].to_dataset()
    assert half["counts"].shape == (2, 20, 28)
    np.testing.assert_array_equal(half["y"].values, base["y"].values[::2])
    np.testing.assert_array_equal(half["counts"].values, base["counts"].values[:, ::2, ::2])
    assert half["level"].values.tolist() == [0, 500]
    assert half["scale"].attrs["units"] == "1"
    # Plain xarray cannot open the group itself: its datasets share dimension names.
    with pytest.raises(ValueError):
        xr.open_zarr(store, consolidated=False).load()


def _write_pyramid(cli: Path, store: Path) -> Path:
    subprocess.run(
        [
            str(cli), "render", "--levels", "0:1000:500", "--chunks", "1,40,56",
            "--set", "stack.levels=1000", "--set", "stack.height=40", "--set", "stack.width=56",
            "--zoom-per-level", repr(PARAMS.zoom_per_level), "--zarr", str(store),
            "--pyramid-levels", "2", "--quiet",
        ],
        check=True,
        capture_output=True,
    )
    return store
