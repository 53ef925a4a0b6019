"""The Dask array: one graph layer, fused slicing, equality with direct renders."""

from __future__ import annotations

import pickle

import dask
import dask.array as da
import numpy as np
import pytest
from conftest import reference_stack

import zoomstack


def test_whole_stack_is_one_layer_with_notebook_shape() -> None:
    s = zoomstack.stack()
    assert isinstance(s, da.Array)
    assert isinstance(s, zoomstack.ZoomStackArray)
    assert s.shape == (120000, 512, 512)
    assert s.dtype == np.uint16
    assert s.chunksize == (1, 256, 256)
    assert s.npartitions == 480000
    assert len(s.dask.layers) == 1
    assert s.params == zoomstack.StackParams()


def test_notebook_preview_is_fused_and_renders_only_selected_pixels() -> None:
    s = zoomstack.stack()
    p = s[0:20000:500, ::2, ::2]
    assert isinstance(p, zoomstack.ZoomStackArray)
    assert p.shape == (40, 256, 256)
    assert len(p.dask.layers) == 1
    # 40 blocks of 256 x 256: exactly the selected pixels, nothing more.
    assert p.npartitions == 40
    assert p.selection == (range(0, 20000, 500), range(0, 512, 2), range(0, 512, 2))
    # A few of its levels equal the notebook's renderer on the same pixels.
    got = p[[0, 39]].compute(scheduler="sync")  # fancy index: Dask fallback on a fused array
    want = reference_stack(zoomstack.StackParams(), [0, 19500])[:, ::2, ::2]
    np.testing.assert_array_equal(got, want)


KEYS = [
    (slice(None),),
    (slice(2, 14, 3), slice(None, None, 2), slice(1, None, 2)),
    (slice(None, None, -1), slice(60, 3, -7), Ellipsis),
    (Ellipsis, slice(5, 6)),
    (3,),
    (-1, slice(None, None, 3)),
    (slice(1, 9), 10, -5),
    (Ellipsis, 7),
    (np.int64(4), np.int32(2)),
    (slice(100, 200),),  # empty
    (slice(3, 3), slice(None), 0),
]


@pytest.mark.parametrize("key", KEYS, ids=repr)
def test_basic_indexing_matches_numpy(small_params, small_direct, key) -> None:
    s = zoomstack.ZoomStackArray.from_params(small_params, (3, 16, 32))
    got = s[key]
    want = small_direct[key]
    assert isinstance(got, zoomstack.ZoomStackArray)
    assert len(got.dask.layers) == 1
    assert got.shape == want.shape
    np.testing.assert_array_equal(got.compute(scheduler="threads"), want)


def test_chained_indexing_composes(small_params, small_direct) -> None:
    s = zoomstack.ZoomStackArray.from_params(small_params, (2, 16, 16))
    got = s[1::2][::-1, 3:60:2][:, ::3, 5][2:]
    want = small_direct[1::2][::-1, 3:60:2][:, ::3, 5][2:]
    assert isinstance(got, zoomstack.ZoomStackArray) and len(got.dask.layers) == 1
    np.testing.assert_array_equal(got.compute(), want)
    level = s[7]
    np.testing.assert_array_equal(level[::2, ::2].compute(), small_direct[7, ::2, ::2])
    assert level[3, 4].compute() == small_direct[7, 3, 4]


def test_non_basic_keys_fall_back_to_dask(small_params, small_direct) -> None:
    s = zoomstack.ZoomStackArray.from_params(small_params, (4, 32, 32))
    for key in [([0, 5, 9],), (None, 2), (small_direct[:, 0, 0] > 100,)]:
        got = s[key]
        assert not isinstance(got, zoomstack.ZoomStackArray)
        np.testing.assert_array_equal(got.compute(), small_direct[key])
    with pytest.raises(IndexError):
        s[16]
    with pytest.raises(IndexError):
        s[0, 0, 0, 0]


def test_rechunk_regular_is_fused(small_params, small_direct) -> None:
    s = zoomstack.ZoomStackArray.from_params(small_params)
    r = s[::3].rechunk((2, -1, 32))
    assert isinstance(r, zoomstack.ZoomStackArray) and len(r.dask.layers) == 1
    assert r.chunks == ((2, 2, 2), (64,), (32, 32))
    np.testing.assert_array_equal(r.compute(), small_direct[::3])
    # Anything irregular is Dask's rechunk.
    irregular = s.rechunk(((10, 6), (64,), (64,)))
    assert not isinstance(irregular, zoomstack.ZoomStackArray)
    np.testing.assert_array_equal(irregular.compute(), small_direct)


def test_dask_operations_and_pickling(small_params, small_direct) -> None:
    s = zoomstack.ZoomStackArray.from_params(small_params, (4, 64, 64))
    assert int(s.max().compute()) == int(small_direct.max())
    np.testing.assert_array_equal((s[:, ::2, ::2] + 1).compute(), small_direct[:, ::2, ::2] + 1)
    back = pickle.loads(pickle.dumps(s[2:5]))
    assert isinstance(back, zoomstack.ZoomStackArray) and back.name == s[2:5].name
    np.testing.assert_array_equal(back.compute(), small_direct[2:5])
    (persisted,) = dask.persist(s[::5], scheduler="sync")
    np.testing.assert_array_equal(persisted.compute(), small_direct[::5])


def test_names_are_deterministic() -> None:
    assert zoomstack.stack()[::500].name == zoomstack.stack()[::500].name
    assert zoomstack.stack()[::500].name != zoomstack.stack(max_iter=100)[::500].name


def test_stack_rejects_bad_arguments() -> None:
    with pytest.raises(zoomstack.InvalidParameterError, match="chunks"):
        zoomstack.stack(chunks=(1, 0, 256))
    with pytest.raises(zoomstack.InvalidParameterError, match="chunks"):
        zoomstack.stack(chunks=(1, 256))
    with pytest.raises(zoomstack.InvalidParameterError, match="max_iter"):
        zoomstack.stack(max_iter=0)
    with pytest.raises(ValueError, match="width"):
        zoomstack.stack(width=-1)
