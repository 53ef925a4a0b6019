//! The viewer's errors (configuration and start-up; request errors are HTTP responses).

use zoomstack_engine::EngineError;
use zoomstack_kernel::KernelError;

/// Why a viewer could not be configured or started.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// A view, limit or option that cannot work, with the value and what was expected.
    #[error("{0}")]
    Config(String),
    /// The stack or selection was rejected by the engine.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The stack parameters were rejected by the kernel.
    #[error(transparent)]
    Kernel(#[from] KernelError),
    /// The listening socket could not be opened.
    #[error("cannot listen on {addr}: {message}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// What the operating system said.
        message: String,
    },
}
