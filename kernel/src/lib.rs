//! # zoomstack-kernel
//!
//! The escape-time kernel of zoomstack: the notebook's pixel grid ([`StackParams`],
//! [`LevelGrid`]), its exact arithmetic as a scalar reference ([`spec::escape_scalar`]) and
//! SIMD backends ([`Backend`]) that equal the reference bit for bit.
//!
//! ```
//! use zoomstack_kernel::{Backend, IndexRange, StackParams, render_block};
//!
//! let params = StackParams::default(); // the notebook's 512 x 512 stack
//! // Every 64th row and column of level 3000: an 8 x 8 strided sub-grid.
//! let (rows, cols) = (IndexRange::new(0, 64, 8), IndexRange::new(0, 64, 8));
//! let mut counts = vec![0u16; 64];
//! render_block(&params, 3000, rows, cols, Backend::fastest(), &mut counts).unwrap();
//! // Identical to the scalar reference, pixel for pixel.
//! let grid = params.level_grid(3000).unwrap();
//! let c = (grid.cols.at(64), grid.rows.at(128));
//! assert_eq!(counts[2 * 8 + 1], zoomstack_kernel::spec::escape_scalar(c.0, c.1, 256));
//! ```

mod backend;
mod error;
pub mod escape;
pub mod exact;
mod grid;
mod isa;
mod lanes;
mod limits;
mod range;
pub mod spec;

pub use backend::Backend;
pub use error::KernelError;
pub use grid::{LevelGrid, Linspace, MAX_ITER_LIMIT, StackParams, validate_max_iter};
pub use isa::Isa;
pub use limits::{F64Limits, SPACING_ULPS};
pub use range::IndexRange;

use escape::PixelSource;

/// Whether the fused multiply-adds that run now ([`Isa::current`]) are hardware FMA
/// instructions (else libm `fma` calls: exact, but slow).
///
/// ```
/// // On x86-64 CPUs with FMA (Haswell, Zen 1 and later), whatever the build's target-cpu:
/// let _fast = zoomstack_kernel::fused_fma();
/// ```
pub fn fused_fma() -> bool {
    Isa::current().hardware_fma()
}

/// Version of the counting contract (grid, arithmetic, count convention). Stores written
/// under one contract version are bit-identical whenever the parameters are.
pub const CONTRACT_VERSION: u32 = 1;

struct GridSource<'a> {
    xs: &'a [f64],
    ys: &'a [f64],
}

impl PixelSource for GridSource<'_> {
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

struct PointSource<'a> {
    re: &'a [f64],
    im: &'a [f64],
}

impl PixelSource for PointSource<'_> {
    #[inline]
    fn len(&self) -> usize {
        self.re.len()
    }
    #[inline]
    fn row_len(&self) -> usize {
        self.re.len().max(1)
    }
    #[inline]
    fn point(&self, _row: usize, col: usize) -> (f64, f64) {
        (self.re[col], self.im[col])
    }
}

/// Renders the strided sub-grid `rows` x `cols` of level `level` into `out` (row-major,
/// `rows.count * cols.count` counts). Steps may be negative (row order follows the ranges).
///
/// Every pixel has exactly the coordinates it has in the full grid, so any sub-grid equals the
/// corresponding pixels of the full level.
///
/// # Errors
///
/// The errors of [`StackParams::level_grid`]. [`KernelError::ZeroStep`] or
/// [`KernelError::SliceOutOfBounds`] when `rows` or `cols` does not fit the level, and
/// [`KernelError::BadOutputLen`] when `out` does not hold `rows.count * cols.count` counts.
pub fn render_block(
    params: &StackParams,
    level: u64,
    rows: IndexRange,
    cols: IndexRange,
    backend: Backend,
    out: &mut [u16],
) -> Result<(), KernelError> {
    let grid = params.level_grid(level)?;
    rows.check("rows", params.height as u64)?;
    cols.check("cols", params.width as u64)?;
    let expected = usize::try_from(rows.count.saturating_mul(cols.count)).unwrap_or(usize::MAX);
    if out.len() != expected {
        return Err(KernelError::BadOutputLen {
            got: out.len(),
            expected,
        });
    }
    // In range: checked against the axis lengths above.
    let xs: Vec<f64> = (0..cols.count)
        .map(|k| grid.cols.at(cols.at(k) as usize))
        .collect();
    let ys: Vec<f64> = (0..rows.count)
        .map(|k| grid.rows.at(rows.at(k) as usize))
        .collect();
    backend.run(&GridSource { xs: &xs, ys: &ys }, grid.max_iter, out);
    Ok(())
}

/// Escape counts of arbitrary points `re[i] + i im[i]`.
///
/// # Errors
///
/// [`KernelError::BadMaxIter`] for a `max_iter` outside `1..=`[`MAX_ITER_LIMIT`],
/// [`KernelError::LengthMismatch`] when `re`, `im` and `out` differ in length, and
/// [`KernelError::BadFloat`] for a coordinate that is not finite.
pub fn render_points(
    re: &[f64],
    im: &[f64],
    max_iter: u32,
    backend: Backend,
    out: &mut [u16],
) -> Result<(), KernelError> {
    validate_max_iter(u64::from(max_iter))?;
    if re.len() != im.len() || re.len() != out.len() {
        return Err(KernelError::LengthMismatch {
            re: re.len(),
            im: im.len(),
            out: out.len(),
        });
    }
    for (what, v) in re
        .iter()
        .map(|&v| ("re", v))
        .chain(im.iter().map(|&v| ("im", v)))
    {
        if !v.is_finite() {
            return Err(KernelError::BadFloat {
                what,
                value: v,
                expected: "a finite coordinate",
            });
        }
    }
    backend.run(&PointSource { re, im }, max_iter, out);
    Ok(())
}

/// The work in `counts`: a pixel with count `n` cost `min(n + 1, max_iter)` updates.
pub fn pixel_iterations(counts: &[u16], max_iter: u32) -> u64 {
    counts
        .iter()
        .map(|&n| (u64::from(n) + 1).min(u64::from(max_iter)))
        .sum()
}
