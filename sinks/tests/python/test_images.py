"""Pillow reads the PNG, 16-bit PNG, GIF, APNG and contact sheet back with the expected sizes,
frame counts, timing and exact pixel values (computed here with numpy and matplotlib)."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib import colormaps
from PIL import Image, ImageSequence

from conftest import load_u16, notebook_to_uint8, stackview_stretch


def lut(name: str) -> np.ndarray:
    if name == "gray":
        return np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
    return colormaps[name](np.arange(256), bytes=True)[:, :3]


@pytest.fixture(scope="module")
def frames(fixtures, manifest):
    return load_u16(fixtures, manifest["images"]["frames"])


def test_file_names_sort_in_level_order(manifest):
    files = manifest["images"]["files"]
    pngs = [f for f in files if f.startswith("png_viridis/")]
    assert pngs == sorted(pngs)
    assert pngs == [f"png_viridis/level-{lvl:06d}.png" for lvl in manifest["images"]["levels"]]
    raws = [f for f in files if f.startswith("png_raw/")]
    assert raws == [f"png_raw/level-{lvl:06d}-raw.png" for lvl in manifest["images"]["levels"]]


def test_colormapped_png(fixtures, manifest, frames):
    for k, lvl in enumerate(manifest["images"]["levels"]):
        im = Image.open(fixtures / f"png_viridis/level-{lvl:06d}.png")
        assert im.mode == "RGB"
        assert im.size == (frames.shape[2], frames.shape[1])
        want = lut("viridis")[notebook_to_uint8(frames[k])]
        np.testing.assert_array_equal(np.asarray(im), want)


def test_gray_png(fixtures, manifest, frames):
    for k, lvl in enumerate(manifest["images"]["levels"]):
        im = Image.open(fixtures / f"png_gray/level-{lvl:06d}.png")
        assert im.mode == "L"
        np.testing.assert_array_equal(np.asarray(im), notebook_to_uint8(frames[k]))


def test_16bit_png_holds_raw_counts(fixtures, manifest, frames):
    for k, lvl in enumerate(manifest["images"]["levels"]):
        im = Image.open(fixtures / f"png_raw/level-{lvl:06d}-raw.png")
        assert im.mode in ("I;16", "I;16B", "I")
        got = np.asarray(im).astype(np.int64)
        np.testing.assert_array_equal(got, frames[k].astype(np.int64))
        assert got.max() == frames[k].max() > 255  # really 16-bit (max_iter = 256)


def check_animation(path, frames, colors, scale, delay_ms, loop):
    im = Image.open(path)
    assert im.n_frames == frames.shape[0]
    assert im.size == (frames.shape[2], frames.shape[1])
    if loop is None:
        assert "loop" not in im.info
    else:
        assert im.info["loop"] == loop
    for k, frame in enumerate(ImageSequence.Iterator(im)):
        assert frame.info["duration"] == delay_ms
        want = colors[scale(frames[k])]
        np.testing.assert_array_equal(np.asarray(frame.convert("RGB")), want, err_msg=f"frame {k}")


def test_gif_is_stackview_animate(fixtures, manifest, frames):
    """The notebook's ``stackview.animate(image)``: gray, each frame stretched min..max."""
    g = manifest["images"]["gray_gif"]
    check_animation(fixtures / g["path"], frames, lut("gray"), stackview_stretch,
                    g["delay_ms"], g["loop"])


def test_gif_palette_is_the_colormap(fixtures, manifest, frames):
    g = manifest["images"]["magma_gif"]
    check_animation(fixtures / g["path"], frames, lut("magma"), stackview_stretch,
                    g["delay_ms"], g["loop"])
    im = Image.open(fixtures / g["path"])
    assert im.mode == "P"
    palette = np.array(im.getpalette()[:768], dtype=np.uint8).reshape(256, 3)
    np.testing.assert_array_equal(palette, lut("magma"))


def test_apng(fixtures, manifest, frames):
    a = manifest["images"]["apng"]
    im = Image.open(fixtures / a["path"])
    assert im.format == "PNG" and getattr(im, "is_animated", False)
    check_animation(fixtures / a["path"], frames, lut("viridis"), notebook_to_uint8,
                    a["delay_ms"], a["plays"])


def test_contact_sheet(fixtures, manifest, frames):
    s = manifest["images"]["sheet"]
    im = Image.open(fixtures / s["path"])
    assert im.mode == "RGB"
    n, h, w = frames.shape
    cols, gap = s["columns"], s["gap"]
    rows = -(-n // cols)
    assert im.size[0] == cols * w + (cols + 1) * gap
    assert im.size[1] > rows * h + (rows + 1) * gap  # plus one label strip per row
    a = np.asarray(im)
    colors = lut(s["colormap"])
    for k in range(min(n, cols)):  # the first row: cells at (gap, gap + k * (w + gap))
        x0 = gap + k * (w + gap)
        np.testing.assert_array_equal(a[gap:gap + h, x0:x0 + w], colors[notebook_to_uint8(frames[k])])
    np.testing.assert_array_equal(a[0, 0], s["background"])
    # The label strip under frame 0 has text pixels (level "0").
    strip = a[gap + h:gap + h + 12, gap:gap + w]
    assert (strip == 240).all(axis=-1).any()
