//! The exact arithmetic contract: the true escape count of the exactly placed pixel, at any
//! depth f64 deltas cover (pixel spacing down to [`MIN_SPACING`], about level 2.77 million of
//! the notebook's stack).
//!
//! * [`ExactReal`] and [`ExactStack`]: parameters taken exactly (an f64's binary value, or a
//!   decimal string as written), the precision rule ([`ExactStack::orbit_precision`]) and the
//!   pixel offsets from the centre, computed in big precision and rounded to f64 once.
//! * [`ReferenceOrbit`]: the centre's orbit in big precision (dashu-float), stored as f64. It
//!   depends on the centre, precision and `max_iter` only, so one orbit serves every level of
//!   a precision band; [`OrbitCache`] computes each once per process and shares it (`Arc`).
//! * The delta loop ([`perturb_scalar`] is its reference): perturbation with rebasing, written
//!   once over the kernel's lane types; every [`Backend`] equals the reference bit for bit.
//! * [`render_block_exact`]: the exact counterpart of [`crate::render_block`], per tile, with a
//!   shared orbit.
//! * [`oracle`]: direct iteration of single pixels in big precision, confirmed at twice the
//!   precision, which the committed truth sets come from.
//!
//! ```
//! use zoomstack_kernel::{Backend, IndexRange};
//! use zoomstack_kernel::exact::{ExactStack, OrbitCache, render_block_exact};
//!
//! let stack = ExactStack::default(); // the notebook's stack, its f64 values taken exactly
//! let orbit = OrbitCache::global().for_level(&stack, 130000).unwrap();
//! let (rows, cols) = (IndexRange::new(0, 64, 8), IndexRange::new(0, 64, 8));
//! let mut counts = vec![0u16; 64];
//! render_block_exact(&stack, &orbit, 130000, rows, cols, Backend::fastest(), &mut counts).unwrap();
//! // Level 130000 is close to the centre's count 250 everywhere (249..=256 with max_iter 256).
//! assert!(counts.iter().all(|&c| (249..=256).contains(&c)));
//! ```

mod bound;
mod delta;
pub mod oracle;
mod orbit;
mod perturb;
mod real;
mod stack;

pub use orbit::{OrbitCache, ReferenceOrbit};
pub use perturb::{PerturbCount, perturb_scalar, perturb_scalar_detail};
pub use real::{ExactReal, MAX_DECIMAL_DIGITS, MAX_DECIMAL_EXPONENT};
pub use stack::{ExactStack, MAX_PRECISION_BITS, MIN_SPACING, Offsets};

use crate::escape::PixelSource;
use crate::{Backend, IndexRange, KernelError};
use delta::perturb_counts;
use perturb::Results;
use wide::{f64x4, f64x8};

/// Vectors in flight per backend in the delta loop (tuned with `examples/exact_speed.rs`: more
/// than these no longer stay in registers).
const SCALAR_V: usize = 3;
const X4_V: usize = 3;
const X8_V: usize = 2;
/// Per backend, the delta loop's vectors gather (instead of running in lockstep) above one
/// rebase in this many recent lane-updates. Tuned on levels 0..140000 of the notebook's stack:
/// gathering 8 lanes costs more, so f64x8 keeps lockstep longer (1 in 4; 1 in 16 is 35% slower
/// at level 20000), while scalar and f64x4 gain there from 1 in 32 (+92%, +18% over 1 in 4).
const SCALAR_R: u32 = 32;
const X4_R: u32 = 32;
const X8_R: u32 = 4;

struct OffsetSource<'a> {
    xs: &'a [f64],
    ys: &'a [f64],
}

impl PixelSource for OffsetSource<'_> {
    #[inline]
    fn len(&self) -> usize {
        self.xs.len() * self.ys.len()
    }
    #[inline]
    fn row_len(&self) -> usize {
        self.xs.len().max(1)
    }
    #[inline]
    fn point(&self, row: usize, col: usize) -> (f64, f64) {
        (self.xs[col], self.ys[row])
    }
}

/// Renders the strided sub-grid `rows` x `cols` of `level` in the exact contract into `out`
/// (row-major, `rows.count * cols.count` counts), iterating deltas around `orbit`, which must be
/// the orbit `level` needs ([`ReferenceOrbit::check_for`]; [`OrbitCache::for_level`] gives it).
///
/// Counts are independent of the backend, the build, the tiling and of which other levels
/// are rendered.
///
/// # Errors
///
/// [`KernelError::TooDeep`] for a level whose pixel spacing is below [`MIN_SPACING`] (f64 deltas
/// end there); [`KernelError::OrbitMismatch`] for an orbit of another centre, precision, or a
/// smaller `max_iter`; the errors of [`ExactStack::offsets`]; [`KernelError::BadOutputLen`]
/// when `out` does not hold `rows.count * cols.count` counts.
pub fn render_block_exact(
    stack: &ExactStack,
    orbit: &ReferenceOrbit,
    level: u64,
    rows: IndexRange,
    cols: IndexRange,
    backend: Backend,
    out: &mut [u16],
) -> Result<(), KernelError> {
    render_into(stack, orbit, level, (rows, cols), backend, out)
}

/// [`render_block_exact`] with `|z|^2` at each pixel's deciding update (the escaping update, or
/// update `max_iter`), as [`perturb_scalar_detail`] gives it: for diagnostics, tests and smooth
/// colouring. Counts are those of [`render_block_exact`].
///
/// # Errors
///
/// Those of [`render_block_exact`].
pub fn render_block_exact_detail(
    stack: &ExactStack,
    orbit: &ReferenceOrbit,
    level: u64,
    rows: IndexRange,
    cols: IndexRange,
    backend: Backend,
    out: &mut [PerturbCount],
) -> Result<(), KernelError> {
    render_into(stack, orbit, level, (rows, cols), backend, out)
}

fn render_into(
    stack: &ExactStack,
    orbit: &ReferenceOrbit,
    level: u64,
    (rows, cols): (IndexRange, IndexRange),
    backend: Backend,
    out: &mut (impl Results + ?Sized),
) -> Result<(), KernelError> {
    stack.validate()?;
    stack.check_depth(level)?;
    orbit.check_for(stack, level)?;
    rows.check("rows", stack.height as u64)?;
    cols.check("cols", stack.width as u64)?;
    let expected = usize::try_from(rows.count.saturating_mul(cols.count)).unwrap_or(usize::MAX);
    if out.len() != expected {
        return Err(KernelError::BadOutputLen {
            got: out.len(),
            expected,
        });
    }
    let offsets = stack.offsets(level, rows, cols)?;
    let src = OffsetSource {
        xs: &offsets.cols,
        ys: &offsets.rows,
    };
    let max_iter = stack.max_iter;
    match backend {
        Backend::Scalar => perturb_counts::<f64, SCALAR_V, SCALAR_R>(&src, orbit, max_iter, out),
        Backend::F64x4 => perturb_counts::<f64x4, X4_V, X4_R>(&src, orbit, max_iter, out),
        Backend::F64x8 => perturb_counts::<f64x8, X8_V, X8_R>(&src, orbit, max_iter, out),
    }
    Ok(())
}
