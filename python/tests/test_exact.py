"""The exact arithmetic contract from Python: the same true counts as the CLI, decimal-string
parameters, proven constant levels at any depth of a 120,000,000-level stack, and stores of
constant shards (one encoded chunk shared by the whole shard index) read back by zarr-python.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import zarr

import zoomstack

REPO = Path(__file__).resolve().parents[2]
CLI = REPO / "target" / "release" / "zoomstack"
DEEP = 120_000_000


@pytest.fixture(scope="module")
def cli():
    subprocess.run(
        ["cargo", "build", "--locked", "-q", "--release", "-p", "zoomstack-cli"], cwd=REPO, check=True
    )
    return CLI


def exact_params(**kw) -> zoomstack.StackParams:
    return zoomstack.StackParams(levels=DEEP, height=32, width=32, arithmetic="exact", **kw)


def test_exact_differs_from_numpy_where_f64_runs_out():
    p = exact_params()
    numpy = zoomstack.StackParams(levels=200_000, height=32, width=32)
    exact = zoomstack.render_block(130000, None, None, p)
    f64 = zoomstack.render_block(130000, None, None, numpy)
    assert exact.shape == f64.shape == (1, 32, 32)
    assert (exact != f64).any()
    # Shallow levels agree with the notebook wherever f64 resolves the pixels.
    assert (zoomstack.render_block(3000, None, None, p) == zoomstack.render_block(3000, None, None, numpy)).mean() > 0.99


def test_deepest_levels_are_proven_constant():
    # The default chunks keep the level axis at 2**20 blocks or fewer (115 levels per block
    # here): Dask keeps a tuple entry per block, 120 million one-level blocks would not fit.
    s = zoomstack.stack(levels=DEEP, height=32, width=32, arithmetic="exact")
    assert s.shape == (DEEP, 32, 32)
    assert s.chunksize == (115, 32, 32) and s.numblocks == (1043479, 1, 1)
    assert (s[DEEP - 1].compute() == 250).all()
    assert (s[10_000_000:10_000_003, ::4, ::4].compute() == 250).all()
    # Every 10 millionth level: slices keep the stack's level chunks (115 per block).
    sparse = s[::10_000_000, 0, 0]
    assert sparse.numblocks == (1,)
    assert (sparse[2:].compute() == 250).all() and sparse[0].compute() < 250
    block = zoomstack.render_block(DEEP - 1, None, None, exact_params())
    assert (block == 250).all()
    with pytest.raises(zoomstack.InvalidParameterError, match=r"120000000 into 120000000 blocks"):
        zoomstack.stack(levels=DEEP, height=32, width=32, arithmetic="exact", chunks=(1, 32, 32))
    with pytest.raises(zoomstack.InvalidParameterError, match="a chunk of 115 or more"):
        s.rechunk((2, 32, 32))


def test_decimal_strings_are_taken_exactly():
    text = exact_params(center=("-0.743645857047151", "0.13182592380533"))
    binary = exact_params()
    a = zoomstack.render_block(130000, None, None, text)
    b = zoomstack.render_block(130000, None, None, binary)
    assert a.shape == b.shape
    # The decimal centre is not the f64 centre: at this depth the frames differ.
    assert (a != b).any()
    with pytest.raises(zoomstack.InvalidParameterError, match="0.74x"):
        exact_params(center=("-0.74x", "0.1"))
    with pytest.raises(zoomstack.InvalidParameterError, match="arithmetic"):
        zoomstack.StackParams(arithmetic="exakt")


def test_constant_shards_read_back_with_zarr_python(cli, tmp_path):
    store = tmp_path / "deep.zarr"
    spec = tmp_path / "deep.toml"
    spec.write_text(
        f'[stack]\nlevels = {DEEP}\nheight = 32\nwidth = 32\narithmetic = "exact"\n'
        f'[[sink]]\nkind = "zarr"\npath = "{store}"\nselect = "[139000:150000]"\n'
        "chunks = [1, 32, 32]\nshards = [4096, 32, 32]\n"
    )
    subprocess.run([str(cli), "run", str(spec), "--quiet"], check=True)
    a = zarr.open_array(store, path="counts", mode="r")
    assert a.shape == (11000, 32, 32)
    p = exact_params()
    for k in (0, 844, 845, 4095, 4096, 10999):
        want = zoomstack.render_block(139000 + k, None, None, p)[0]
        np.testing.assert_array_equal(a[k], want, err_msg=f"level {139000 + k}")
    assert (a[4096:] == 250).all()


KF2_5E113 = REPO / "kernel" / "tests" / "data" / "locations" / "kf2-5e113.json"


def test_bla_renders_a_deep_location_like_the_cli(cli, tmp_path):
    import json

    loc = json.loads(KF2_5E113.read_text())
    kw = dict(
        levels=1, height=24, width=32, center=(loc["center_re"], loc["center_im"]),
        scale0=loc["scale"], zoom_per_level="2", max_iter=loc["max_iter"], arithmetic="exact",
    )
    bla = zoomstack.render_block(0, None, None, zoomstack.StackParams(bla=True, **kw))
    plain = zoomstack.render_block(0, None, None, zoomstack.StackParams(**kw))
    assert bla.shape == (1, 24, 32)
    # Well inside this location's structure the two methods agree on every pixel.
    assert (bla == plain).all() and 22000 <= bla.min() and bla.max() < loc["max_iter"]
    # The CLI's store of the same stack holds the same counts and records the method.
    spec = tmp_path / "bla.toml"
    spec.write_text(
        f'[stack]\nlevels = 1\nheight = 24\nwidth = 32\ncenter = ["{loc["center_re"]}", '
        f'"{loc["center_im"]}"]\nscale0 = "{loc["scale"]}"\nzoom_per_level = "2"\n'
        f'max_iter = {loc["max_iter"]}\narithmetic = "exact"\nbla = true\n'
        '[[sink]]\nkind = "zarr"\npath = "bla.zarr"\n'
    )
    subprocess.run([str(cli), "run", str(spec)], cwd=tmp_path, check=True, capture_output=True)
    store = zarr.open_array(tmp_path / "bla.zarr", path="counts", mode="r")
    assert (store[...] == bla).all()
    assert store.attrs["zoomstack"]["stack"]["exact"]["bla"] is True
    with pytest.raises(zoomstack.InvalidParameterError, match="arithmetic"):
        zoomstack.StackParams(bla=True)
    with pytest.raises(zoomstack.InvalidParameterError, match="bla must be"):
        zoomstack.StackParams(bla="yes", arithmetic="exact")
