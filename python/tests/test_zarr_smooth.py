"""Smooth-value stores written by the CLI (``render --zarr ... --values smooth``), read with
zarr-python and xarray: a ``float32`` array ``smooth`` with its ``zoomstack`` attribute and the
store's coordinates, whose values sit next to the package's own counts.

The CLI is the release binary (``cargo build --release -p zoomstack-cli``, built here once).
"""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
import xarray as xr
import zarr

import zoomstack

LEVELS, HEIGHT, WIDTH = 8, 32, 48
FIRST = 1000


@pytest.fixture(scope="module")
def store(cli_binary, tmp_path_factory):
    path = tmp_path_factory.mktemp("smooth") / "s.zarr"
    subprocess.run(
        [
            str(cli_binary), "render", "--levels", f"{FIRST}:{FIRST + LEVELS}",
            "--set", f"stack.height={HEIGHT}", "--set", f"stack.width={WIDTH}",
            "--chunks", f"1,{HEIGHT},{WIDTH}", "--shards", f"4,{HEIGHT},{WIDTH}",
            "--zarr", str(path), "--values", "smooth", "--quiet",
        ],
        check=True,
        capture_output=True,
    )
    return path


@pytest.fixture(scope="module")
def counts() -> np.ndarray:
    params = zoomstack.StackParams(height=HEIGHT, width=WIDTH)
    return zoomstack.render_block((FIRST, FIRST + LEVELS, 1), None, None, params)


def test_zarr_python_reads_float32_smooth_values_with_their_attribute(store, counts):
    a = zarr.open_array(store, path="smooth", mode="r")
    assert a.dtype == np.float32
    assert a.shape == (LEVELS, HEIGHT, WIDTH)
    assert np.isnan(a.fill_value)
    zs = a.attrs["zoomstack"]
    assert zs["values"] == "smooth"
    assert zs["smooth"]["bailout"] == 1024
    assert "nu = n + 1 - log2(log2(|z_n|))" in zs["smooth"]["formula"]
    assert zs["complete"] is True
    assert a.attrs["long_name"] == "smooth escape value"
    assert a.attrs["units"] == "iterations"
    nu = a[:]
    assert not np.isnan(nu).any(), "every unit is written"
    # Interior pixels are max_iter exactly; most escaping ones (the kernel's spec: "within about
    # (k - 0.5, k + 1]") sit next to their count k (77% of them here; a few reach k + 3).
    interior = counts == 256
    assert np.array_equal(nu[interior], np.full(interior.sum(), 256, np.float32))
    d = nu[~interior] - counts[~interior].astype(np.float64)
    assert np.all(np.isfinite(d))
    assert np.mean((d > -0.5) & (d <= 1)) > 0.5
    assert np.any(nu != np.round(nu)), "continuous, not counts"


def test_xarray_opens_the_smooth_array_with_its_coordinates(store):
    ds = xr.open_zarr(store)
    assert list(ds.data_vars) == ["smooth"]
    v = ds.smooth
    assert v.dtype == np.float32
    assert v.dims == ("level", "y", "x")
    assert list(ds.level.values) == list(range(FIRST, FIRST + LEVELS))
    assert "scale" in ds.coords and "log10_scale" in ds.coords
    frame = v.sel(level=FIRST + 3).values
    direct = zarr.open_array(store, path="smooth", mode="r")[3]
    assert np.array_equal(frame, direct)
    assert v.attrs["long_name"] == "smooth escape value"
