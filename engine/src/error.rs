//! The engine's error type.

use zoomstack_kernel::KernelError;

/// Everything that can go wrong between a pipeline description and rendered tiles.
///
/// Every message names the offending value and what was expected. Bad input never panics.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A select string that is not numpy basic-slicing syntax.
    #[error(
        "cannot parse select {} at byte {position}: expected {expected}, found {found}",
        Excerpt::around(text, *position)
    )]
    SelectSyntax {
        /// The whole select string.
        text: String,
        /// Byte offset of the problem in `text`.
        position: usize,
        /// What the parser expected there.
        expected: &'static str,
        /// What it found instead (a quoted snippet, or "end of input").
        found: String,
    },
    /// A slice with step 0 in a select string (numpy: "slice step cannot be zero").
    #[error(
        "select {}: slice step cannot be zero (byte {position}, {axis} axis)",
        Excerpt::around(text, *position)
    )]
    SelectZeroStep {
        /// The whole select string.
        text: String,
        /// Byte offset of the step in `text`.
        position: usize,
        /// Axis name (`level`, `y` or `x`).
        axis: &'static str,
    },
    /// More than three indices, or more than one ellipsis, in a select string.
    #[error(
        "select {} at byte {position}: {problem} (the array has 3 axes: level, y, x)",
        Excerpt::around(text, *position)
    )]
    SelectArity {
        /// The whole select string.
        text: String,
        /// Byte offset of the offending item.
        position: usize,
        /// What is wrong, in words.
        problem: String,
    },
    /// A feature the stack's arithmetic contract does not offer.
    #[error("{what} are not available here: {why}")]
    Unsupported {
        /// What was asked for (`smooth values`, `frames at fractional levels`).
        what: &'static str,
        /// Why not, and what to use instead.
        why: &'static str,
    },
    /// A slice with step 0 built from Rust ([`crate::SliceSpec`]).
    #[error("slice {spec} on the {axis} axis: slice step cannot be zero")]
    ZeroStep {
        /// The slice, in numpy syntax.
        spec: String,
        /// Axis name (`level`, `y` or `x`).
        axis: &'static str,
    },
    /// An integer index outside the axis (numpy raises `IndexError`).
    #[error("index {index} is out of bounds for the {axis} axis with size {len}")]
    IndexOutOfBounds {
        /// Axis name.
        axis: &'static str,
        /// The index given.
        index: i64,
        /// Length of the axis.
        len: u64,
    },
    /// A chunk size of zero in `rechunk`.
    #[error("chunk size of the {axis} axis must be at least 1, got 0")]
    ZeroChunk {
        /// Axis name.
        axis: &'static str,
    },
    /// A downsampling factor of zero.
    #[error("downsample factor of the {axis} axis must be at least 1, got 0")]
    ZeroFactor {
        /// Axis name.
        axis: &'static str,
    },
    /// A second `Mean` downsample after one with a factor above 1 (each would round on its own;
    /// the engine fuses at most one averaging step).
    #[error(
        "a mean downsample by {second:?} after a mean downsample by {first:?} is not supported: \
         expected at most one mean downsample with a factor above 1 (use one mean by the product of the factors)"
    )]
    NestedMean {
        /// Factors `[fy, fx]` of the first mean.
        first: [u64; 2],
        /// Factors `[fy, fx]` of the second mean.
        second: [u64; 2],
    },
    /// A stack with more levels than the engine can index.
    #[error("a stack may have at most {max} levels, got {levels}")]
    TooManyLevels {
        /// Levels requested.
        levels: u64,
        /// The maximum (`i64::MAX`).
        max: u64,
    },
    /// The kernel rejected the parameters or a level (e.g. a scale that underflows to zero).
    #[error("kernel: {0}")]
    Kernel(#[from] KernelError),
    /// A result or a working set larger than the configured memory limit
    /// ([`crate::Executor::memory_limit`]). Streaming (`for_each_tile`, `for_each_frame`)
    /// instead of `compute` keeps only the tiles in flight in memory. (The message is for end
    /// users and names no API.)
    #[error(
        "{what} of shape {shape:?} would need {bytes} bytes ({human}), above the memory limit of {limit} bytes; \
         use smaller chunks, select fewer levels, rows or columns, or use fewer threads"
    )]
    TooLarge {
        /// What was too large (`result`, `tiles in flight`, ...).
        what: &'static str,
        /// Its shape.
        shape: Vec<u64>,
        /// Bytes it would need.
        bytes: u64,
        /// The same, human-readable.
        human: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// A shard shape that does not hold whole chunks.
    #[error(
        "shard shape {shard:?} is not a multiple of the chunk shape {chunks:?} on the {axis} axis (a shard holds whole chunks, or covers the whole axis)"
    )]
    BadShard {
        /// The shard shape given.
        shard: [usize; 3],
        /// The chunk shape (clamped to the array).
        chunks: [usize; 3],
        /// The first axis where it fails.
        axis: &'static str,
    },
    /// The cancel flag was raised.
    #[error("cancelled after {tiles_done} of {tiles_total} tiles")]
    Cancelled {
        /// Tiles finished (rendered and consumed, or skipped) before stopping.
        tiles_done: u64,
        /// Tiles in the plan.
        tiles_total: u64,
    },
    /// The rayon thread pool could not be built.
    #[error("cannot build a thread pool with {threads} threads: {message}")]
    ThreadPool {
        /// Threads requested.
        threads: usize,
        /// rayon's message.
        message: String,
    },
}

/// A user's text in a message: quoted whole when short, otherwise a short window around the
/// byte of interest with its total length, so a megabyte of input never fills the terminal.
///
/// ```
/// use zoomstack_engine::Excerpt;
/// assert_eq!(Excerpt::around("[::0]", 3).to_string(), "\"[::0]\"");
/// let long = format!("[{}]", "1,".repeat(500_000));
/// let shown = Excerpt::around(&long, 10).to_string();
/// assert!(shown.len() < 120, "{shown}");
/// assert!(shown.ends_with("(1000002 bytes)"), "{shown}");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Excerpt<'a> {
    text: &'a str,
    position: usize,
}

impl<'a> Excerpt<'a> {
    /// Texts up to this many bytes are shown whole.
    pub const MAX: usize = 80;

    /// `text`, or the part of it around byte `position`.
    pub fn around(text: &'a str, position: usize) -> Excerpt<'a> {
        Excerpt { text, position }
    }
}

impl std::fmt::Display for Excerpt<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = self.text;
        if t.len() <= Self::MAX {
            return write!(f, "{t:?}");
        }
        let floor = |mut p: usize| {
            p = p.min(t.len());
            while !t.is_char_boundary(p) {
                p -= 1;
            }
            p
        };
        let start = floor(self.position.saturating_sub(Self::MAX / 2));
        let end = floor(start + Self::MAX);
        let window = &t[start..end];
        write!(
            f,
            "{}{window:?}{} ({} bytes)",
            if start > 0 { "..." } else { "" },
            if end < t.len() { "..." } else { "" },
            t.len()
        )
    }
}

/// `Result` with [`EngineError`].
pub type Result<T, E = EngineError> = std::result::Result<T, E>;

/// The error of an executor run that feeds a consumer (a sink): the engine's own, or the
/// consumer's, with its type kept so the caller sees exactly what the sink returned.
#[derive(Debug, thiserror::Error)]
pub enum ExecError<E> {
    /// Planning, rendering, a limit, or cancellation.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The consumer returned this error; the run stopped.
    #[error(transparent)]
    Consumer(E),
}

impl<E> ExecError<E> {
    /// The consumer's error, if it is one.
    pub fn consumer(self) -> Option<E> {
        match self {
            ExecError::Consumer(e) => Some(e),
            ExecError::Engine(_) => None,
        }
    }
}

impl ExecError<std::convert::Infallible> {
    /// The engine error of a run whose consumer cannot fail.
    pub fn into_engine(self) -> EngineError {
        match self {
            ExecError::Engine(e) => e,
            ExecError::Consumer(never) => match never {},
        }
    }
}
