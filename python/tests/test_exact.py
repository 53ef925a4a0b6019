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
