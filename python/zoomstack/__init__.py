"""zoomstack: the notebook's Mandelbrot zoom stack as a lazy Dask array, rendered by an exact
Rust kernel (bit-identical to the notebook's numpy ``mandelbrot_array`` on CPUs with FMA).

>>> import zoomstack
>>> s = zoomstack.stack()              # (120000, 512, 512) uint16, one graph layer
>>> preview = s[0:20000:500, ::2, ::2]  # renders only the selected pixels
>>> preview.shape
(40, 256, 256)

Scale out: with a ``distributed.Client`` active, ``preview.compute()`` and :func:`to_zarr`
run on the cluster (workers need this package installed and, for ``to_zarr``, a shared
filesystem).
"""

from ._zoomstack import (
    CONTRACT_VERSION,
    FUSED_FMA,
    InvalidParameterError,
    InvalidSelectionError,
    UnknownBackendError,
    ZoomstackError,
    __version__,
    backend_description,
)
from ._params import NOTEBOOK_CENTER, StackParams
from ._array import (
    AXIS_NAMES,
    MAX_BLOCKS_PER_AXIS,
    ZoomStackArray,
    default_chunks,
    render_block,
    stack,
)
from ._zarr import (
    DONE_DIR,
    IncompleteStoreError,
    StoreMismatchError,
    open_pyramid,
    store_info,
    to_zarr,
    verify,
)

__all__ = [
    "AXIS_NAMES",
    "CONTRACT_VERSION",
    "DONE_DIR",
    "FUSED_FMA",
    "IncompleteStoreError",
    "InvalidParameterError",
    "InvalidSelectionError",
    "MAX_BLOCKS_PER_AXIS",
    "NOTEBOOK_CENTER",
    "StackParams",
    "StoreMismatchError",
    "UnknownBackendError",
    "ZoomStackArray",
    "ZoomstackError",
    "__version__",
    "backend_description",
    "default_chunks",
    "open_pyramid",
    "render_block",
    "stack",
    "store_info",
    "to_zarr",
    "verify",
]
