//! The module's exception classes and the mapping of Rust errors onto them.

use pyo3::create_exception;
use pyo3::exceptions::{
    PyKeyboardInterrupt, PyMemoryError, PyOSError, PyPermissionError, PyValueError,
};
use pyo3::prelude::*;
use zoomstack_engine::EngineError;
use zoomstack_kernel::KernelError;
use zoomstack_sinks::SinkError;

create_exception!(
    zoomstack._zoomstack,
    ZoomstackError,
    PyValueError,
    "Base class of every zoomstack error (a ValueError)."
);
create_exception!(
    zoomstack._zoomstack,
    InvalidParameterError,
    ZoomstackError,
    "A stack parameter (height, width, center, scale0, zoom_per_level, max_iter, levels) is invalid."
);
create_exception!(
    zoomstack._zoomstack,
    InvalidSelectionError,
    ZoomstackError,
    "A block or slice reaches outside the stack, or has a zero step."
);
create_exception!(
    zoomstack._zoomstack,
    UnknownBackendError,
    ZoomstackError,
    "An unknown kernel backend name (argument or ZOOMSTACK_KERNEL)."
);
create_exception!(
    zoomstack._zoomstack,
    StoreMismatchError,
    ZoomstackError,
    "An existing store cannot be written: other parameters (the differing field is named), not a zoomstack store, or missing."
);
create_exception!(
    zoomstack._zoomstack,
    IncompleteStoreError,
    ZoomstackError,
    "A write finished without every unit's completion marker."
);

/// Maps a kernel error to the matching Python exception (the message names the value).
// Used as `.map_err(kernel_err)`, which hands over the error by value.
#[allow(clippy::needless_pass_by_value)]
pub(crate) fn kernel_err(e: KernelError) -> PyErr {
    let msg = e.to_string();
    match e {
        KernelError::ZeroSize { .. }
        | KernelError::BadFloat { .. }
        | KernelError::BadMaxIter { .. } => InvalidParameterError::new_err(msg),
        KernelError::SliceOutOfBounds { .. } | KernelError::ZeroStep { .. } => {
            InvalidSelectionError::new_err(msg)
        }
        KernelError::UnknownBackend { .. } => UnknownBackendError::new_err(msg),
        // Output length and coordinate-length mismatches cannot come from this module's
        // callers (it sizes every buffer itself); report them as the base class.
        _ => ZoomstackError::new_err(msg),
    }
}

/// Maps an engine error to the matching Python exception.
pub(crate) fn engine_err(e: EngineError) -> PyErr {
    let msg = e.to_string();
    match e {
        EngineError::Kernel(k) => kernel_err(k),
        EngineError::SelectSyntax { .. }
        | EngineError::SelectZeroStep { .. }
        | EngineError::SelectArity { .. }
        | EngineError::ZeroStep { .. }
        | EngineError::IndexOutOfBounds { .. } => InvalidSelectionError::new_err(msg),
        EngineError::ZeroChunk { .. }
        | EngineError::BadShard { .. }
        | EngineError::ZeroFactor { .. }
        | EngineError::NestedMean { .. }
        | EngineError::TooManyLevels { .. }
        | EngineError::Unsupported { .. } => InvalidParameterError::new_err(msg),
        EngineError::TooLarge { .. } => PyMemoryError::new_err(msg),
        EngineError::Cancelled { .. } => PyKeyboardInterrupt::new_err(msg),
        EngineError::ThreadPool { .. } => ZoomstackError::new_err(msg),
    }
}

/// Maps a sink (Zarr store) error to the matching Python exception.
// Used as `.map_err(sink_err)`, which hands over the error by value.
#[allow(clippy::needless_pass_by_value)]
pub(crate) fn sink_err(e: SinkError) -> PyErr {
    let msg = e.to_string();
    match e {
        SinkError::ParameterMismatch { .. }
        | SinkError::NotAZoomstackStore { .. }
        | SinkError::AlreadyExists { .. }
        | SinkError::NoStore { .. } => StoreMismatchError::new_err(msg),
        SinkError::InvalidParameter { .. } => InvalidParameterError::new_err(msg),
        SinkError::InvalidTile { .. } => InvalidSelectionError::new_err(msg),
        SinkError::PermissionDenied { .. } => PyPermissionError::new_err(msg),
        SinkError::DiskFull { .. } | SinkError::Io { .. } => PyOSError::new_err(msg),
        _ => ZoomstackError::new_err(msg),
    }
}

/// Maps the error of an engine run that feeds a sink: the sink's own error, or the engine's.
pub(crate) fn exec_err(e: zoomstack_engine::ExecError<SinkError>) -> PyErr {
    match e {
        zoomstack_engine::ExecError::Consumer(s) => sink_err(s),
        zoomstack_engine::ExecError::Engine(e) => engine_err(e),
    }
}
