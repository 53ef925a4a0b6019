"""Type stubs of the Rust extension module ``zoomstack._zoomstack``."""

from typing import Any, Literal, TypedDict

import numpy as np
import numpy.typing as npt

__version__: str
#: Version of the kernel's counting contract (grid, arithmetic, count convention).
CONTRACT_VERSION: int
#: Whether this build compiled in fused multiply-add (fast); the kernel is exact either way.
FUSED_FMA: bool
#: Directory (inside the array's directory) of the completion markers ``i.j.k``.
MARKER_DIR: str

class ZoomstackError(ValueError):
    """Base class of every zoomstack error."""

class InvalidParameterError(ZoomstackError):
    """A stack parameter is invalid."""

class InvalidSelectionError(ZoomstackError):
    """A block or slice reaches outside the stack, or has a zero step."""

class UnknownBackendError(ZoomstackError):
    """An unknown kernel backend name."""

class StoreMismatchError(ZoomstackError):
    """An existing store cannot be written: other parameters (the field is named), not a
    zoomstack store, or missing."""

class IncompleteStoreError(ZoomstackError):
    """A write finished without every unit's completion marker."""

def render_block(
    levels: tuple[int, int, int],
    rows: tuple[int, int, int],
    cols: tuple[int, int, int],
    *,
    height: int = 512,
    width: int = 512,
    center: tuple[float | str, float | str] = (-0.743645857047151, 0.13182592380533),
    scale0: float | str = 3.0,
    zoom_per_level: float | str = 1.00025,
    max_iter: int = 256,
    backend: str | None = None,
    arithmetic: Literal["numpy", "exact"] = "numpy",
) -> npt.NDArray[np.uint16]:
    """Renders ``range(*levels) x range(*rows) x range(*cols)`` of the stack (GIL released)."""

def validate_params(
    *,
    levels: int = 120000,
    height: int = 512,
    width: int = 512,
    center: tuple[float | str, float | str] = (-0.743645857047151, 0.13182592380533),
    scale0: float | str = 3.0,
    zoom_per_level: float | str = 1.00025,
    max_iter: int = 256,
    arithmetic: Literal["numpy", "exact"] = "numpy",
) -> None:
    """Raises InvalidParameterError naming the first bad parameter."""

def backend_description(backend: str | None = None) -> str:
    """What a backend compiled to in this build."""

class StoreSpec(TypedDict):
    """What a Zarr store holds; every store function takes the same spec."""

    store: str
    path: str  # the array inside the store, "" = the root
    levels: int
    height: int
    width: int
    center: tuple[float | str, float | str]
    scale0: float | str
    zoom_per_level: float | str
    max_iter: int
    arithmetic: Literal["numpy", "exact"]
    select: tuple[tuple[int, int, int], tuple[int, int, int], tuple[int, int, int]]  # range()s
    chunks: tuple[int, int, int]
    shards: tuple[int, int, int] | None
    compression: Literal["zstd", "none"]
    compression_level: int

class StoreLayout(TypedDict):
    array_dir: str
    shape: tuple[int, int, int]
    write_unit: tuple[int, int, int]
    grid: tuple[int, int, int]
    units_total: int
    missing: list[tuple[int, int, int]]

class StoreReport(TypedDict):
    array_dir: str
    units_total: int
    units_done: int
    complete: bool

class StoreStatus(TypedDict):
    attributes: dict[str, Any]
    array_path: str
    shape: list[int]
    write_unit: list[int]
    units_total: int
    units_done: int
    units_damaged: int
    complete: bool

class VerifyReport(TypedDict):
    array_dir: str
    units_total: int
    units_intact: int
    missing: list[tuple[int, int, int]]
    damaged: list[tuple[tuple[int, int, int], str]]
    units_checksummed: int
    raw_bytes: int
    stored_bytes: int
    seconds: float
    intact: bool

def init_store(
    spec: StoreSpec, *, if_exists: Literal["resume", "fail", "replace"] = "resume"
) -> StoreLayout:
    """Creates or checks the store (driver); returns the unit grid and the units to write."""

def write_units(
    spec: StoreSpec, units: list[tuple[int, int, int]], *, backend: str | None = None
) -> int:
    """Renders and writes these units of the existing store (a task; GIL released); returns
    how many it wrote. Never rewrites the store's metadata."""

def finish_store(spec: StoreSpec) -> StoreReport:
    """Marks the store complete when every unit has its marker (driver)."""

def store_info(store: str, path: str = "") -> StoreStatus:
    """The store's attribute and marker counts (read-only)."""

def verify_store(store: str, path: str = "", *, threads: int = 0) -> list[VerifyReport]:
    """Re-reads every write unit (as ``zoomstack verify``); one report per array (read-only)."""
