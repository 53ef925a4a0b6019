"""Colormap tables are matplotlib's bytes; the scalings equal the notebook's and stackview's
numpy code on every input."""

from __future__ import annotations

import json
import pathlib

import numpy as np
from matplotlib import colormaps

from conftest import notebook_to_uint8, stackview_stretch

FIXTURE = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "colormaps.json"


def test_fixture_equals_live_matplotlib():
    fx = json.loads(FIXTURE.read_text())
    names = ["rainbow", "viridis", "magma", "inferno", "plasma", "cividis", "twilight"]
    assert sorted(fx["tables"]) == sorted(names)
    for name in names:
        cmap = colormaps[name]
        if name == "twilight":  # cyclic, 510 entries: zoomstack uses it resampled to 256
            cmap = cmap.resampled(256)
        want = cmap(np.arange(256), bytes=True)[:, :3]
        np.testing.assert_array_equal(np.array(fx["tables"][name], dtype=np.uint8), want, name)
    gray = colormaps["gray"](np.arange(256), bytes=True)[:, :3]
    np.testing.assert_array_equal(np.array(fx["matplotlib_gray"], dtype=np.uint8), gray)


def test_rust_tables_equal_fixture():
    """The generated Rust source holds the fixture's bytes (the Rust unit test checks this too)."""
    src = (FIXTURE.parents[2] / "src" / "colormap" / "tables.rs").read_text()
    fx = json.loads(FIXTURE.read_text())
    for name, table in fx["tables"].items():
        start = src.index(f"static {name.upper()}: [[u8; 3]; 256] = [")
        body = src[src.index("= [", start) + 2:src.index("\n];", start)]
        nums = [int(t) for t in body.replace("[", " ").replace("]", " ").replace(",", " ").split()]
        assert nums == [v for rgb in table for v in rgb], name


def test_to_uint8_is_the_notebooks(fixtures, manifest):
    t = manifest["scalars"]["to_uint8"]
    got = np.fromfile(fixtures / t["file"], dtype=np.uint8).reshape(len(t["maxes"]), 65536)
    values = np.arange(65536, dtype=np.uint16)
    for row, m in zip(got, t["maxes"]):
        np.testing.assert_array_equal(row, notebook_to_uint8(values, max_val=m), err_msg=f"max {m}")


def test_stretch_is_stackviews(fixtures, manifest):
    s = manifest["scalars"]["stretch"]
    got = np.fromfile(fixtures / s["file"], dtype=np.uint8)
    pos = 0
    for lo, hi in s["ranges"]:
        image = np.arange(lo, hi + 1, dtype=np.uint16)
        want = stackview_stretch(image)
        np.testing.assert_array_equal(got[pos:pos + len(image)], want, err_msg=f"{lo}..{hi}")
        pos += len(image)
    assert pos == len(got)
