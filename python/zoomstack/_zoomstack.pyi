"""Type stubs of the Rust extension module ``zoomstack._zoomstack``."""

import numpy as np
import numpy.typing as npt

__version__: str
#: Version of the kernel's counting contract (grid, arithmetic, count convention).
CONTRACT_VERSION: int
#: Whether this build compiled in fused multiply-add (fast); the kernel is exact either way.
FUSED_FMA: bool

class ZoomstackError(ValueError):
    """Base class of every zoomstack error."""

class InvalidParameterError(ZoomstackError):
    """A stack parameter is invalid."""

class InvalidSelectionError(ZoomstackError):
    """A block or slice reaches outside the stack, or has a zero step."""

class UnknownBackendError(ZoomstackError):
    """An unknown kernel backend name."""

def render_block(
    levels: tuple[int, int, int],
    rows: tuple[int, int, int],
    cols: tuple[int, int, int],
    *,
    height: int = 512,
    width: int = 512,
    center: tuple[float, float] = (-0.743645857047151, 0.13182592380533),
    scale0: float = 3.0,
    zoom_per_level: float = 1.00025,
    max_iter: int = 256,
    backend: str | None = None,
) -> npt.NDArray[np.uint16]:
    """Renders ``range(*levels) x range(*rows) x range(*cols)`` of the stack (GIL released)."""

def validate_params(
    *,
    levels: int = 120000,
    height: int = 512,
    width: int = 512,
    center: tuple[float, float] = (-0.743645857047151, 0.13182592380533),
    scale0: float = 3.0,
    zoom_per_level: float = 1.00025,
    max_iter: int = 256,
) -> None:
    """Raises InvalidParameterError naming the first bad parameter."""

def backend_description(backend: str | None = None) -> str:
    """What a backend compiled to in this build."""
