"""Shared fixtures: small stacks and their reference renders."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

import zoomstack  # noqa: E402
from notebook_reference import render_level  # noqa: E402


def reference_stack(params: zoomstack.StackParams, levels) -> np.ndarray:
    """The notebook's renderer, level by level (full frames)."""
    return np.stack(
        [
            render_level(
                i,
                params.height,
                params.width,
                params.center,
                params.scale0,
                params.zoom_per_level,
                params.max_iter,
            )
            for i in levels
        ]
    )


@pytest.fixture(scope="session")
def small_params() -> zoomstack.StackParams:
    """16 levels of 64 x 64 spread over the notebook's 120000-level zoom."""
    return zoomstack.StackParams(levels=16, height=64, width=64, zoom_per_level=1.00025**7500)


@pytest.fixture(scope="session")
def small_direct(small_params) -> np.ndarray:
    """All of ``small_params`` rendered directly (one call)."""
    return zoomstack.render_block(None, None, None, small_params)


@pytest.fixture(scope="session")
def cli_binary() -> Path:
    """The ``zoomstack`` release binary of this checkout, built once per test session."""
    repo = Path(__file__).resolve().parents[2]
    subprocess.run(
        ["cargo", "build", "--locked", "-q", "--release", "-p", "zoomstack-cli"], cwd=repo, check=True
    )
    return repo / "target" / "release" / "zoomstack"
