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
    /// An unknown instruction-set name (e.g. in `ZOOMSTACK_ISA`).
    #[error("unknown instruction set {name:?}: expected one of auto, baseline, avx2, avx512")]
    UnknownIsa {
        /// The name given.
        name: String,
    },
    /// An instruction set this CPU cannot run.
    #[error("instruction set {requested} is not supported by this CPU (its best is {detected})")]
    UnsupportedIsa {
        /// The level asked for.
        requested: &'static str,
        /// The best level the CPU has.
        detected: &'static str,
    },
    /// A decimal string that is not a number (exact mode's parameters).
    #[error("{what}: {text:?} is not a decimal number: expected {expected}")]
    BadDecimal {
        /// Which parameter.
        what: &'static str,
        /// The text given.
        text: String,
        /// What was expected, in words.
        expected: &'static str,
    },
    /// An exact-mode parameter outside its valid range.
    #[error("{what} must be {expected}, got {value}")]
    BadExact {
        /// Which parameter.
        what: &'static str,
        /// The value given, as exact decimal text.
        value: String,
        /// What was expected, in words.
        expected: &'static str,
    },
    /// A level needs more reference-orbit precision than the documented cap.
    #[error(
        "level {level} needs a {needed}-bit reference orbit, beyond the cap of {cap} bits \
         (exact::MAX_PRECISION_BITS)"
    )]
    PrecisionCap {
        /// The level asked for.
        level: u64,
        /// Bits the precision rule asks for.
        needed: u64,
        /// The cap.
        cap: u64,
    },
    /// A level deeper than f64 deltas cover (exact mode).
    #[error(
        "level {level} has a pixel spacing of about 2^{spacing_log2:.1}, below the 1e-300 that \
         f64 perturbation deltas cover (deeper frames need extended-exponent deltas, not built yet)"
    )]
    TooDeep {
        /// The level asked for.
        level: u64,
        /// log2 of its smaller pixel spacing.
        spacing_log2: f64,
    },
    /// A reference orbit that does not belong to the stack and level it is used with.
    #[error("reference orbit {what} is {got}, but the stack and level need {expected}")]
    OrbitMismatch {
        /// What differs (`center`, `precision`, `max_iter`).
        what: &'static str,
        /// What the orbit has.
        got: String,
        /// What the stack and level need.
        expected: String,
    },
}
