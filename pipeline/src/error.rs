//! [`RunError`]: what can go wrong in a run, with the sink it happened in.

use zoomstack_engine::{EngineError, ExecError};
use zoomstack_sinks::SinkError;

use crate::preflight::{Estimate, Limits};

/// What went wrong in a run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A sink failed (opening, writing or finishing). (The message includes the causes, so
    /// the error exposes no `source`: printing a chain would repeat them.)
    #[error("{sink}: {error}")]
    Sink {
        /// The sink's label.
        sink: String,
        /// The sink's error.
        error: SinkError,
    },
    /// The engine failed (planning, memory limit, kernel).
    #[error("{sink}: {error}")]
    Engine {
        /// The sink's label.
        sink: String,
        /// The engine's error.
        error: EngineError,
    },
    /// Stopped by the cancel flag (Ctrl-C, SIGTERM, SIGHUP).
    #[error(
        "interrupted after {tiles_done} of {tiles_total} tiles of {sink}{}",
        constant_note(*tiles_constant)
    )]
    Cancelled {
        /// The sink (or sinks) being rendered.
        sink: String,
        /// Tiles done in that job: for a Zarr store, this process's write units that are
        /// stored (in this run or an earlier one).
        tiles_done: u64,
        /// Tiles in that job (for a Zarr store, this process's share of its write units).
        tiles_total: u64,
        /// Of the tiles done, write units proven constant (stored without rendering).
        tiles_constant: u64,
        /// What each sink of the run keeps, one line per sink (`sink 1 (png): ...`): complete,
        /// resumable (Zarr), kept but not resumed (PNG frames), or nothing (animations and
        /// sheets appear only when complete). Filled by [`crate::Pipeline::run`].
        kept: Vec<String>,
    },
    /// The run would write more than [`crate::RunOptions::guard`] allows.
    #[error(
        "this run would write {} files and up to {} ({}), above the limit of {} files and {}",
        estimate.files(),
        zoomstack_engine::format_bytes(estimate.bytes()),
        estimate.basis(),
        limits.max_files,
        zoomstack_engine::format_bytes(limits.max_bytes)
    )]
    TooMuchOutput {
        /// What the run would write, per sink.
        estimate: Estimate,
        /// The limits it exceeds.
        limits: Limits,
    },
    /// A request that cannot be honoured (names the problem).
    #[error("{0}")]
    Usage(String),
}

impl RunError {
    /// The error of an executor run feeding `sink`, the sink's own error kept as it is.
    pub(crate) fn exec(sink: &str, e: ExecError<SinkError>) -> RunError {
        match e {
            ExecError::Consumer(error) => RunError::Sink {
                sink: sink.to_string(),
                error,
            },
            ExecError::Engine(e) => RunError::engine(sink, e),
        }
    }

    /// An engine error of `sink` (cancellation becomes [`RunError::Cancelled`]).
    pub(crate) fn engine(sink: &str, e: EngineError) -> RunError {
        match e {
            EngineError::Cancelled {
                tiles_done,
                tiles_total,
            } => RunError::Cancelled {
                sink: sink.to_string(),
                tiles_done,
                tiles_total,
                tiles_constant: 0,
                kept: Vec::new(),
            },
            error => RunError::Engine {
                sink: sink.to_string(),
                error,
            },
        }
    }

    /// `true` when the error is the user's to fix (exit code 2): bad parameters, paths that
    /// are not stores or not writable, stores written with other parameters, memory limits.
    #[must_use]
    pub fn is_user_error(&self) -> bool {
        match self {
            RunError::Usage(_) | RunError::TooMuchOutput { .. } => true,
            RunError::Cancelled { .. } => false,
            RunError::Engine { error, .. } => !matches!(
                error,
                EngineError::Cancelled { .. } | EngineError::ThreadPool { .. }
            ),
            RunError::Sink { error, .. } => sink_user_error(error),
        }
    }
}

/// The part of [`RunError::Cancelled`]'s message on its proven-constant units.
fn constant_note(constant: u64) -> String {
    if constant == 0 {
        String::new()
    } else {
        format!(" ({constant} of them proven constant, stored without rendering)")
    }
}

fn sink_user_error(e: &SinkError) -> bool {
    use std::io::ErrorKind as K;
    if let SinkError::Io { source, .. } = e {
        // Paths the user chose that cannot hold the output.
        return matches!(
            source.kind(),
            K::NotFound
                | K::AlreadyExists
                | K::NotADirectory
                | K::IsADirectory
                | K::ReadOnlyFilesystem
                | K::InvalidFilename
                | K::InvalidInput
        );
    }
    matches!(
        e,
        SinkError::InvalidParameter { .. }
            | SinkError::UnknownColormap { .. }
            | SinkError::NotAZoomstackStore { .. }
            | SinkError::ParameterMismatch { .. }
            | SinkError::AlreadyExists { .. }
            | SinkError::StoreBusy { .. }
            | SinkError::NoStore { .. }
            | SinkError::PermissionDenied { .. }
            | SinkError::UnsafeOutput { .. }
    )
}
