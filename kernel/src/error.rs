//! The kernel's error type.

/// Invalid input rejected at the kernel's API boundary.
///
/// Every message names the offending value and what was expected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KernelError {
    /// An image dimension was zero.
    #[error("{what} must be at least 1 pixel, got {value}")]
    ZeroSize {
        /// Which dimension (`height` or `width`).
        what: &'static str,
        /// The value given.
        value: usize,
    },
    /// A floating-point parameter was NaN or infinite, or outside its valid range.
    #[error("{what} must be {expected}, got {value}")]
    BadFloat {
        /// Which parameter.
        what: &'static str,
        /// The value given.
        value: f64,
        /// What was expected, in words.
        expected: &'static str,
    },
    /// `max_iter` was outside `1..=MAX_ITER_LIMIT`.
    #[error("max_iter must be in 1..={limit} (counts are u16), got {value}", limit = crate::MAX_ITER_LIMIT)]
    BadMaxIter {
        /// The value given.
        value: u64,
    },
    /// A strided sub-grid reaches outside the level's grid.
    #[error(
        "{axis} slice start {start} step {step} count {count} reaches index {last}, but the axis has {len} pixels"
    )]
    SliceOutOfBounds {
        /// `rows` or `cols`.
        axis: &'static str,
        /// First index.
        start: u64,
        /// Step between indices.
        step: i64,
        /// Number of indices.
        count: u64,
        /// Last index reached.
        last: i64,
        /// Length of the axis.
        len: u64,
    },
    /// A slice step of zero.
    #[error("{axis} slice step cannot be zero")]
    ZeroStep {
        /// `rows` or `cols`.
        axis: &'static str,
    },
    /// The output buffer has the wrong length.
    #[error("output buffer holds {got} counts, expected {expected}")]
    BadOutputLen {
        /// Length given.
        got: usize,
        /// Length required.
        expected: usize,
    },
    /// Coordinate slices of different lengths.
    #[error("coordinate and output slices differ in length: re {re}, im {im}, out {out}")]
    LengthMismatch {
        /// Real parts.
        re: usize,
        /// Imaginary parts.
        im: usize,
        /// Output.
        out: usize,
    },
    /// An unknown backend name (e.g. in `ZOOMSTACK_KERNEL`).
    #[error("unknown kernel backend {name:?}: expected one of auto, scalar, f64x4, f64x8")]
    UnknownBackend {
        /// The name given.
        name: String,
    },
}
