"""The extension against a Rust-side render of the same blocks.

The CLI cannot render a raw block yet, so the Rust side is the tiny example binary
``python/examples/render_raw.rs``: it renders pixel by pixel with the kernel's scalar
reference (``spec::escape_scalar`` on ``level_grid`` coordinates), independently of the
extension's range handling and of the SIMD backends.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

import zoomstack
from zoomstack import _zoomstack

REPO = Path(__file__).resolve().parents[2]

BLOCKS = [
    ((0, 2, 1), (0, 32, 1), (0, 48, 1)),
    ((3000, 3001, 1), (1, 32, 3), (47, -1, -2)),
    ((119999, 60000, -59999), (31, 0, -5), (2, 45, 7)),
    ((40000, 40003, 1), (10, 11, 1), (0, 48, 1)),
]


@pytest.fixture(scope="module")
def rust_render():
    subprocess.run(
        ["cargo", "build", "-q", "-p", "zoomstack-python", "--example", "render_raw"],
        cwd=REPO,
        check=True,
    )

    def render(levels, rows, cols, p: zoomstack.StackParams) -> np.ndarray:
        args = [*levels, *rows, *cols, p.height, p.width, *p.center, p.scale0, p.zoom_per_level, p.max_iter]
        out = subprocess.run(
            ["cargo", "run", "-q", "-p", "zoomstack-python", "--example", "render_raw", "--"]
            + [repr(a) for a in args],
            cwd=REPO,
            check=True,
            capture_output=True,
        ).stdout
        shape = tuple(len(range(*r)) for r in (levels, rows, cols))
        return np.frombuffer(out, dtype="<u2").reshape(shape)

    return render


@pytest.mark.parametrize("block", BLOCKS, ids=repr)
def test_extension_equals_rust_reference(rust_render, block) -> None:
    p = zoomstack.StackParams(height=32, width=48)
    want = rust_render(*block, p)
    got = _zoomstack.render_block(*block, **p.kernel_kwargs())
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    assert want.max() > 0


def test_extension_equals_rust_reference_other_params(rust_render) -> None:
    p = zoomstack.StackParams(
        levels=10, height=40, width=24, center=(-0.75, 0.1), scale0=2.5, zoom_per_level=1.5, max_iter=3000
    )
    block = ((0, 10, 3), (0, 40, 1), (23, -1, -1))
    np.testing.assert_array_equal(
        _zoomstack.render_block(*block, **p.kernel_kwargs()), rust_render(*block, p)
    )
