"""Fixtures for the Python reader checks of zoomstack-sinks.

The outputs are written by the Rust example ``python_fixtures`` into a directory given by the
environment variable ``ZOOMSTACK_SINKS_FIXTURES`` (``run_python_checks.sh`` sets it); without
it, the example is run here into a temporary directory.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def fixtures(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    env = os.environ.get("ZOOMSTACK_SINKS_FIXTURES")
    if env:
        out = pathlib.Path(env)
    else:
        out = tmp_path_factory.mktemp("sinks-fixtures")
        subprocess.run(
            ["cargo", "run", "--quiet", "--profile", "test", "-p", "zoomstack-sinks",
             "--example", "python_fixtures", "--", str(out)],
            cwd=REPO,
            check=True,
        )
    assert (out / "manifest.json").exists(), f"no manifest.json in {out}"
    return out


@pytest.fixture(scope="session")
def manifest(fixtures: pathlib.Path) -> dict:
    return json.loads((fixtures / "manifest.json").read_text())


def load_u16(fixtures: pathlib.Path, entry: dict) -> np.ndarray:
    """An expected array written by the Rust engine (little-endian uint16, C order)."""
    a = np.fromfile(fixtures / entry["file"], dtype="<u2")
    return a.reshape(entry["shape"])


def notebook_to_uint8(arr, max_val=256):
    """The notebook's function, verbatim."""
    a = np.asarray(arr, dtype=np.float32)
    a = np.clip(a, 0, float(max_val))
    a = (255.0 * a / float(max_val)).astype(np.uint8)
    return a


def stackview_stretch(image: np.ndarray) -> np.ndarray:
    """stackview's ``_img_to_rgb`` intensity mapping with no display range, then ``astype(uint8)``
    as ``stackview.animate`` does."""
    display_min = image.min()
    display_max = image.max()
    width = display_max - display_min
    if width == 0:
        width = 1
    image = (image.astype(float) - display_min) / width * 255
    image = np.minimum(image, 255)
    image = np.maximum(image, 0)
    return image.astype(np.uint8)
