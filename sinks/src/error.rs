//! The crate's single error type.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Everything that can go wrong in a sink.
///
/// Messages name the offending value or path and say what was expected. File-system errors are
/// classified: [`SinkError::PermissionDenied`] and [`SinkError::DiskFull`] get their own variants
/// so callers (and users) can tell them apart from other I/O failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// A frame sink's encoder thread stopped (it failed; its own error says why).
    #[error("a frame sink stopped before the last frame")]
    Stopped,

    /// A parameter is outside its valid range.
    #[error("invalid {what}: {value} ({expected})")]
    InvalidParameter {
        /// The parameter (e.g. `"shard shape"`).
        what: &'static str,
        /// The rejected value, formatted.
        value: String,
        /// What would have been accepted.
        expected: String,
    },

    /// A tile does not fit the array it is written to, or its data has the wrong length.
    #[error("invalid tile at origin {origin:?} with shape {shape:?}: {reason}")]
    InvalidTile {
        /// Tile origin in output coordinates (level, y, x).
        origin: [u64; 3],
        /// Tile shape (level, y, x).
        shape: [usize; 3],
        /// What is wrong with it.
        reason: String,
    },

    /// A frame has a different size from the frames before it (or from the declared size).
    #[error("frame for level {level} is {actual:?} (height, width), expected {expected:?}")]
    FrameShape {
        /// Stack level of the offending frame.
        level: u64,
        /// The declared frame shape.
        expected: (usize, usize),
        /// The frame's shape.
        actual: (usize, usize),
    },

    /// A frame of values the sink does not colour (smooth values to a sink of counts, or the
    /// other way round).
    #[error("{sink} takes frames of {expected}, got {got} (frame for level {level})")]
    FrameValues {
        /// The sink (`GIF`, `16-bit PNG`, ...).
        sink: &'static str,
        /// What it takes (`counts`, `smooth values`).
        expected: &'static str,
        /// What it got.
        got: &'static str,
        /// Stack level of the frame.
        level: u64,
    },

    /// An animation received a different number of frames than it declared.
    #[error("{path}: {format} declared {expected} frames but received {actual}")]
    FrameCount {
        /// The output file.
        path: PathBuf,
        /// `"APNG"` or `"GIF"`.
        format: &'static str,
        /// Declared number of frames.
        expected: u64,
        /// Number of frames received.
        actual: u64,
    },

    /// A colormap name is not one of the supported maps.
    #[error(
        "unknown colormap {} (expected one of: {expected})",
        zoomstack_engine::Excerpt::around(name, 0)
    )]
    UnknownColormap {
        /// The rejected name.
        name: String,
        /// Comma-separated list of supported names.
        expected: String,
    },

    /// The path exists but is not a zoomstack store, so it is left untouched.
    #[error("{path} exists and is not a zoomstack store: {reason}; refusing to write into it")]
    NotAZoomstackStore {
        /// The path the user asked for.
        path: PathBuf,
        /// Why it was not recognised.
        reason: String,
    },

    /// An existing zoomstack store was written with different parameters.
    #[error(
        "cannot resume {path}: field `{field}` differs (store has {existing}, this run has {requested}); \
         write to a new path or use the store's parameters"
    )]
    ParameterMismatch {
        /// The store.
        path: PathBuf,
        /// The differing field, e.g. `stack.max_iter`, `select`, `chunks`, `shard`.
        field: String,
        /// The store's value.
        existing: String,
        /// This run's value.
        requested: String,
    },

    /// Another process is writing the store (it holds the store's lock).
    #[error(
        "{path} is being written by another process (it holds the store's lock); wait for it to finish or stop it, then run again"
    )]
    StoreBusy {
        /// The array directory.
        path: PathBuf,
    },

    /// A writer that needs an existing store (a share of a job array, a Dask task) found none.
    #[error(
        "{path} has no zoomstack store yet; create it once first (`zoomstack init SPEC`, or the \
         Python package's to_zarr), then start the writers"
    )]
    NoStore {
        /// The array directory.
        path: PathBuf,
    },

    /// The store exists and the caller asked not to touch existing stores.
    #[error("{path} already holds a zoomstack store (use resume or replace)")]
    AlreadyExists {
        /// The store.
        path: PathBuf,
    },

    /// An output path exists and is not what the sink writes there (a device, a FIFO, a
    /// socket, a directory where a file goes, a dangling symlink, ...): it is left untouched.
    #[error("{path} is {what}; refusing to write there (expected {expected})")]
    UnsafeOutput {
        /// The path the user asked for.
        path: PathBuf,
        /// What it is, e.g. `a character device`, `a symlink to /x, which is a FIFO`.
        what: String,
        /// What the sink accepts there.
        expected: &'static str,
    },

    /// Permission denied (or a read-only file system) while accessing `path`.
    #[error("permission denied: cannot {op} {path} ({source})")]
    PermissionDenied {
        /// What was being done (`"create directory"`, `"write chunk"`, ...).
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// The underlying error.
        source: Arc<io::Error>,
    },

    /// The disk (or quota, or file-size limit) is full.
    #[error("no space left: cannot {op} {path} ({source}); free space and resume")]
    DiskFull {
        /// What was being done.
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// The underlying error.
        source: Arc<io::Error>,
    },

    /// Any other I/O error.
    #[error("cannot {op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// The underlying error.
        source: Arc<io::Error>,
    },

    /// A zarrs error that is not a plain I/O error (codec, metadata, ...).
    #[error("zarr error while trying to {op} {path}: {message}")]
    Zarr {
        /// What was being done.
        op: &'static str,
        /// The store or array path.
        path: PathBuf,
        /// zarrs' message.
        message: String,
    },

    /// A metadata file (`zarr.json`) is not valid JSON or lacks a required field.
    #[error("invalid metadata in {path}: {reason}")]
    InvalidMetadata {
        /// The metadata file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },

    /// A video codec name is not one of the supported codecs.
    #[error(
        "unknown video codec {} (expected one of: {expected})",
        zoomstack_engine::Excerpt::around(name, 0)
    )]
    UnknownVideoCodec {
        /// The rejected name.
        name: String,
        /// Comma-separated list of supported names.
        expected: String,
    },

    /// A video output's container could not be told from its path, or is not supported.
    #[error("{path}: unknown video container {container:?} (expected one of: {expected})")]
    UnknownVideoContainer {
        /// The output path.
        path: PathBuf,
        /// The rejected extension or container name (empty when the path has no extension).
        container: String,
        /// The accepted extensions.
        expected: String,
    },

    /// A codec that the container cannot hold (e.g. H.264 in `WebM`), or a container/extension
    /// disagreement.
    #[error("{path}: {problem} (expected {expected})")]
    VideoFormatMismatch {
        /// The output path.
        path: PathBuf,
        /// What does not fit, e.g. `codec h264 cannot go into a WebM container`.
        problem: String,
        /// What would fit.
        expected: String,
    },

    /// The external encoder (ffmpeg) could not be found or started, or lacks an encoder.
    #[error("{program}: {problem}; {hint}")]
    EncoderUnavailable {
        /// The program that was looked for (`ffmpeg`, or `$ZOOMSTACK_FFMPEG`).
        program: PathBuf,
        /// What is missing, e.g. `ffmpeg not found (No such file or directory)`.
        problem: String,
        /// How to get it.
        hint: String,
    },

    /// The external encoder (ffmpeg) failed; `stderr` is the end of what it printed.
    #[error("{program} failed while writing {path} ({status}); its output ends with:\n{stderr}")]
    EncoderFailed {
        /// The encoder program.
        program: PathBuf,
        /// The output being written.
        path: PathBuf,
        /// How it ended (`exit status: 1`, `killed by signal 9`, `it closed its input`, ...).
        status: Box<str>,
        /// The last few kilobytes of its standard error.
        stderr: Box<str>,
    },

    /// PNG encoding failed.
    #[error("cannot write PNG {path}: {source}")]
    Png {
        /// The output file.
        path: PathBuf,
        /// The encoder's error.
        source: Arc<png::EncodingError>,
    },

    /// GIF encoding failed.
    #[error("cannot write GIF {path}: {source}")]
    Gif {
        /// The output file.
        path: PathBuf,
        /// The encoder's error.
        source: Arc<gif::EncodingError>,
    },
}

impl SinkError {
    /// Classify an I/O error on `path` while doing `op`.
    pub(crate) fn io(op: &'static str, path: &Path, err: io::Error) -> SinkError {
        Self::io_arc(op, path, Arc::new(err))
    }

    pub(crate) fn io_arc(op: &'static str, path: &Path, err: Arc<io::Error>) -> SinkError {
        let path = path.to_path_buf();
        if is_permission(&err) {
            SinkError::PermissionDenied {
                op,
                path,
                source: err,
            }
        } else if is_disk_full(&err) {
            SinkError::DiskFull {
                op,
                path,
                source: err,
            }
        } else {
            SinkError::Io {
                op,
                path,
                source: err,
            }
        }
    }

    /// Classify a zarrs array error, pulling out I/O errors so that permission and space
    /// problems get their own variants.
    pub(crate) fn zarr(op: &'static str, path: &Path, err: zarrs::array::ArrayError) -> SinkError {
        use zarrs::array::ArrayError;
        use zarrs::array::CodecError;
        use zarrs::storage::StorageError;
        match err {
            ArrayError::StorageError(StorageError::IOError(e))
            | ArrayError::CodecError(
                CodecError::IOError(e) | CodecError::StorageError(StorageError::IOError(e)),
            ) => Self::io_arc(op, path, e),
            other => SinkError::Zarr {
                op,
                path: path.to_path_buf(),
                message: other.to_string(),
            },
        }
    }

    /// Classify a zarrs array-creation error.
    pub(crate) fn zarr_create(
        op: &'static str,
        path: &Path,
        err: zarrs::array::ArrayCreateError,
    ) -> SinkError {
        use zarrs::array::ArrayCreateError;
        use zarrs::storage::StorageError;
        match err {
            ArrayCreateError::StorageError(StorageError::IOError(e)) => Self::io_arc(op, path, e),
            other => SinkError::Zarr {
                op,
                path: path.to_path_buf(),
                message: other.to_string(),
            },
        }
    }

    pub(crate) fn png(path: &Path, err: png::EncodingError) -> SinkError {
        match err {
            png::EncodingError::IoError(e) => SinkError::io("write PNG", path, e),
            other => SinkError::Png {
                path: path.to_path_buf(),
                source: Arc::new(other),
            },
        }
    }

    pub(crate) fn gif(path: &Path, err: gif::EncodingError) -> SinkError {
        match err {
            gif::EncodingError::Io(e) => SinkError::io("write GIF", path, e),
            other => SinkError::Gif {
                path: path.to_path_buf(),
                source: Arc::new(other),
            },
        }
    }

    // A conversion constructor: call sites pass numbers, `&str`s and `format!` temporaries alike.
    #[allow(clippy::needless_pass_by_value)]
    pub(crate) fn invalid(
        what: &'static str,
        value: impl ToString,
        expected: impl ToString,
    ) -> Self {
        SinkError::InvalidParameter {
            what,
            value: value.to_string(),
            expected: expected.to_string(),
        }
    }
}

/// `EACCES`, `EPERM` or `EROFS`.
fn is_permission(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem
    ) || matches!(err.raw_os_error(), Some(1 | 13 | 30))
}

/// `ENOSPC`, `EDQUOT` or `EFBIG`.
fn is_disk_full(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded | io::ErrorKind::FileTooLarge
    ) || matches!(err.raw_os_error(), Some(27 | 28 | 122))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_os_errors() {
        let p = Path::new("/some/where");
        let e = SinkError::io("write chunk", p, io::Error::from_raw_os_error(28));
        assert!(matches!(e, SinkError::DiskFull { .. }), "{e:?}");
        assert!(e.to_string().contains("/some/where"), "{e}");
        assert!(e.to_string().contains("no space left"), "{e}");
        let e = SinkError::io("create directory", p, io::Error::from_raw_os_error(13));
        assert!(matches!(e, SinkError::PermissionDenied { .. }), "{e:?}");
        assert!(e.to_string().contains("permission denied"), "{e}");
        let e = SinkError::io("create directory", p, io::Error::from_raw_os_error(30));
        assert!(matches!(e, SinkError::PermissionDenied { .. }), "{e:?}");
        let e = SinkError::io("open", p, io::Error::from_raw_os_error(2));
        assert!(matches!(e, SinkError::Io { .. }), "{e:?}");
    }

    #[test]
    fn classifies_zarrs_io_errors() {
        use zarrs::array::ArrayError;
        use zarrs::storage::StorageError;
        let p = Path::new("/store");
        let err = ArrayError::StorageError(StorageError::IOError(Arc::new(
            io::Error::from_raw_os_error(28),
        )));
        assert!(matches!(
            SinkError::zarr("write chunk", p, err),
            SinkError::DiskFull { .. }
        ));
        let err = ArrayError::InvalidChunkGridIndicesError(vec![9, 9, 9]);
        let e = SinkError::zarr("write chunk", p, err);
        assert!(matches!(e, SinkError::Zarr { .. }));
        assert!(e.to_string().contains("/store"), "{e}");
    }
}
