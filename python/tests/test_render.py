"""The block renderer against the notebook's numpy renderer, and its error handling."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from notebook_reference import mandelbrot_array, render_level

import zoomstack
from zoomstack import _zoomstack

SMALL = zoomstack.StackParams(height=32, width=48)
NOTEBOOK_LEVELS = [0, 3000, 119999]


def notebook_level(level: int, p: zoomstack.StackParams = SMALL) -> np.ndarray:
    return render_level(
        level, p.height, p.width, p.center, p.scale0, p.zoom_per_level, p.max_iter
    )


@pytest.mark.parametrize("level", NOTEBOOK_LEVELS)
@pytest.mark.parametrize("backend", ["scalar", "f64x4", "f64x8", None])
def test_full_level_equals_notebook(level: int, backend: str | None) -> None:
    got = zoomstack.render_block(level, None, None, SMALL, backend=backend)
    assert got.shape == (1, 32, 48)
    assert got.dtype == np.uint16
    np.testing.assert_array_equal(got[0], notebook_level(level))


@pytest.mark.parametrize(
    "rows, cols",
    [
        (slice(None, None, 2), slice(None, None, 2)),
        (slice(1, 32, 3), slice(5, 47, 7)),
        (slice(None, None, -1), slice(None, None, -5)),
        (slice(30, 2, -4), slice(0, 48, 1)),
        (slice(7, 8), slice(46, 0, -3)),
    ],
)
@pytest.mark.parametrize("level", NOTEBOOK_LEVELS)
def test_strided_block_equals_notebook(level: int, rows: slice, cols: slice) -> None:
    got = zoomstack.render_block(level, rows, cols, SMALL)
    np.testing.assert_array_equal(got[0], notebook_level(level)[rows, cols])


def test_level_ranges_equal_notebook() -> None:
    p = zoomstack.StackParams(height=24, width=40)
    for levels in [range(0, 120000, 29999), range(119999, 0, -40000), (5, 6, 1)]:
        got = zoomstack.render_block(levels, slice(None, None, 3), slice(1, None, 2), p)
        want = np.stack([notebook_level(i, p)[::3, 1::2] for i in range(*_triple(levels))])
        np.testing.assert_array_equal(got, want)


def _triple(r) -> tuple[int, int, int]:
    return (r.start, r.stop, r.step) if isinstance(r, range) else r


@pytest.mark.parametrize("max_iter", [1, 2, 1000])
def test_other_parameters_equal_notebook(max_iter: int) -> None:
    p = zoomstack.StackParams(
        height=20, width=36, center=(-0.75, 0.1), scale0=2.5, zoom_per_level=1.001, max_iter=max_iter
    )
    for level in (0, 2000):
        got = zoomstack.render_block(level, None, None, p)[0]
        want = mandelbrot_array(20, 36, (-0.75, 0.1), 2.5 / 1.001**level, max_iter)
        np.testing.assert_array_equal(got, want)


def test_raw_extension_signature() -> None:
    """The extension takes Python-style (start, stop, step) triples and stack keywords."""
    got = _zoomstack.render_block((3000, 3001, 1), (0, 32, 1), (47, -1, -1), height=32, width=48)
    np.testing.assert_array_equal(got[0], notebook_level(3000)[:, ::-1])
    assert got.flags.c_contiguous and got.flags.writeable
    empty = _zoomstack.render_block((5, 5, 1), (0, 32, 1), (0, 48, 1), height=32, width=48)
    assert empty.shape == (0, 32, 48)


@pytest.mark.parametrize(
    "kwargs, exc, words",
    [
        (dict(height=0), zoomstack.InvalidParameterError, ["height", "0"]),
        (dict(width=-3), zoomstack.InvalidParameterError, ["width", "-3"]),
        (dict(max_iter=0), zoomstack.InvalidParameterError, ["max_iter", "0"]),
        (dict(max_iter=70000), zoomstack.InvalidParameterError, ["max_iter", "70000"]),
        (dict(scale0=-1.0), zoomstack.InvalidParameterError, ["scale0", "-1"]),
        (dict(zoom_per_level=float("nan")), zoomstack.InvalidParameterError, ["zoom_per_level", "NaN"]),
        (dict(center=(float("inf"), 0.0)), zoomstack.InvalidParameterError, ["center_re", "inf"]),
        (dict(backend="avx9000"), zoomstack.UnknownBackendError, ["avx9000"]),
        (dict(rows=(0, 600, 1)), zoomstack.InvalidSelectionError, ["rows", "599", "512"]),
        (dict(cols=(0, 10, 0)), zoomstack.InvalidSelectionError, ["cols", "step"]),
        (dict(levels=(-2, 3, 1)), zoomstack.InvalidSelectionError, ["levels", "-2"]),
    ],
)
def test_bad_parameters_raise_typed_errors(kwargs: dict, exc: type, words: list[str]) -> None:
    args = {"levels": (0, 1, 1), "rows": (0, 4, 1), "cols": (0, 4, 1)}
    for k in ("levels", "rows", "cols"):
        if k in kwargs:
            args[k] = kwargs.pop(k)
    with pytest.raises(exc) as info:
        _zoomstack.render_block(args["levels"], args["rows"], args["cols"], **kwargs)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, zoomstack.ZoomstackError)
    for w in words:
        assert w in str(info.value), (w, str(info.value))


def test_level_whose_scale_underflows_is_an_error() -> None:
    with pytest.raises(zoomstack.InvalidParameterError, match="scale"):
        zoomstack.render_block(5000, 0, 0, zoomstack.StackParams(levels=10, zoom_per_level=2.0))


def test_stack_params_validation() -> None:
    with pytest.raises(zoomstack.InvalidParameterError, match="levels"):
        zoomstack.StackParams(levels=0)
    with pytest.raises(zoomstack.InvalidParameterError, match="deepest level 5999"):
        zoomstack.StackParams(levels=6000, zoom_per_level=2.0)
    with pytest.raises(zoomstack.InvalidParameterError, match="height"):
        zoomstack.StackParams(height=2.5)
    with pytest.raises(zoomstack.InvalidParameterError, match="center"):
        zoomstack.StackParams(center=1.0)
    with pytest.raises(zoomstack.InvalidSelectionError, match="levels"):
        zoomstack.render_block("all")


def test_backend_description_names_the_instruction_set() -> None:
    d = zoomstack.backend_description("f64x8")
    assert d.startswith("f64x8: f64x8 on ")
    # The extension is built with the workspace's -C target-cpu=native: on FMA hardware the
    # kernel must be the fused (fast) build. (It is exact either way.)
    with open("/proc/cpuinfo") as f:
        has_fma = " fma " in f.read()
    assert zoomstack.FUSED_FMA == has_fma, d


def test_gil_is_released_while_rendering() -> None:
    """While one thread renders a single slow level, the main thread keeps running Python."""
    # Every pixel lies inside the period-3 bulb (not shortcut by the kernel): 65535 iterations.
    slow = zoomstack.StackParams(
        height=96, width=96, center=(-0.1226, 0.7449), scale0=1e-3, max_iter=65535
    )
    state = {"in_render": False}

    def work() -> None:
        state["in_render"] = True
        zoomstack.render_block(0, None, None, slow)
        state["in_render"] = False

    t = threading.Thread(target=work)
    t.start()
    wakeups = 0
    while t.is_alive():
        time.sleep(0.001)  # needs the GIL back to return
        if state["in_render"]:
            wakeups += 1
    t.join()
    # Holding the GIL for the whole level would allow at most a couple of wake-ups.
    assert wakeups >= 20, wakeups
