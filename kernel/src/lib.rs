//! # zoomstack-kernel
//!
//! The escape-time kernel of zoomstack: the notebook's pixel grid ([`StackParams`],
//! [`LevelGrid`]), its exact arithmetic as a scalar reference ([`spec::escape_scalar`]) and
//! SIMD backends ([`Backend`]) that equal the reference bit for bit. Besides counts
//! ([`render_block`], [`render_points`]) they give smooth escape values
//! ([`render_block_smooth`], [`render_points_smooth`], reference [`spec::smooth_scalar`]), and
//! any level may be fractional ([`render_block_at`], [`render_block_smooth_at`]).
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

pub use backend::{Backend, update_limit};
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
/// corresponding pixels of the full level. It is [`render_block_at`]`(.., level as f64, ..)`.
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
    render_block_at(params, level as f64, rows, cols, backend, out)
}

/// [`render_block`] at a fractional level `t >= 0` (the grid of [`StackParams::level_grid_at`]):
/// for in-between frames of a continuous zoom. An integer `t` gives exactly the level's counts.
///
/// # Errors
///
/// Those of [`render_block`] and [`StackParams::level_grid_at`] (a negative, NaN or infinite `t`).
///
/// ```
/// use zoomstack_kernel::{Backend, IndexRange, StackParams, render_block_at};
/// let p = StackParams { height: 8, width: 8, ..StackParams::default() };
/// let mut counts = vec![0u16; 64];
/// let all = IndexRange::full(8);
/// render_block_at(&p, 2500.5, all, all, Backend::fastest(), &mut counts).unwrap();
/// assert!(render_block_at(&p, f64::NAN, all, all, Backend::fastest(), &mut counts).is_err());
/// ```
pub fn render_block_at(
    params: &StackParams,
    t: f64,
    rows: IndexRange,
    cols: IndexRange,
    backend: Backend,
    out: &mut [u16],
) -> Result<(), KernelError> {
    let (xs, ys, max_iter) = block_axes(params, t, rows, cols, out.len())?;
    backend.run(&GridSource { xs: &xs, ys: &ys }, max_iter, out);
    Ok(())
}

/// [`render_block`] of a whole level with the escape loop's tuning constants given (see
/// `Backend::run_tuned`): for `kernel/examples/tuning.rs` and the tests.
#[doc(hidden)]
pub fn render_level_tuned<const V: usize, const K: u32, const G: u32>(
    params: &StackParams,
    level: u64,
    backend: Backend,
    out: &mut [u16],
) -> Result<(), KernelError> {
    let (rows, cols) = (
        IndexRange::full(params.height as u64),
        IndexRange::full(params.width as u64),
    );
    let (xs, ys, max_iter) = block_axes(params, level as f64, rows, cols, out.len())?;
    backend::run_tuned::<V, K, G>(backend, &GridSource { xs: &xs, ys: &ys }, max_iter, out);
    Ok(())
}

/// Smooth escape values of the strided sub-grid `rows` x `cols` of level `level` into `out`
/// (row-major, one `f32` per pixel): for each pixel exactly [`spec::smooth_scalar`] (continuous
/// across count boundaries; `max_iter` where the count is `max_iter`; see [`spec`], "Smooth
/// escape values"). Every backend gives the same values bit for bit.
///
/// # Errors
///
/// Those of [`render_block`] (`out` must hold `rows.count * cols.count` values).
///
/// ```
/// use zoomstack_kernel::{Backend, IndexRange, StackParams, render_block, render_block_smooth};
/// let p = StackParams::default();
/// let (rows, cols) = (IndexRange::new(0, 64, 8), IndexRange::new(0, 64, 8));
/// let (mut smooth, mut counts) = (vec![0f32; 64], vec![0u16; 64]);
/// render_block_smooth(&p, 3000, rows, cols, Backend::fastest(), &mut smooth).unwrap();
/// render_block(&p, 3000, rows, cols, Backend::fastest(), &mut counts).unwrap();
/// let g = p.level_grid(3000).unwrap();
/// let c = (g.cols.at(64), g.rows.at(128));
/// assert_eq!(smooth[2 * 8 + 1], zoomstack_kernel::spec::smooth_scalar(c.0, c.1, 256));
/// for (&nu, &k) in smooth.iter().zip(&counts) {
///     assert!(k == 256 && nu == 256.0 || (nu - f32::from(k)).abs() < 2.0, "{k} {nu}");
/// }
/// ```
pub fn render_block_smooth(
    params: &StackParams,
    level: u64,
    rows: IndexRange,
    cols: IndexRange,
    backend: Backend,
    out: &mut [f32],
) -> Result<(), KernelError> {
    render_block_smooth_at(params, level as f64, rows, cols, backend, out)
}

/// [`render_block_smooth`] at a fractional level `t >= 0` (as [`render_block_at`]).
///
/// # Errors
///
/// Those of [`render_block_at`].
pub fn render_block_smooth_at(
    params: &StackParams,
    t: f64,
    rows: IndexRange,
    cols: IndexRange,
    backend: Backend,
    out: &mut [f32],
) -> Result<(), KernelError> {
    let (xs, ys, max_iter) = block_axes(params, t, rows, cols, out.len())?;
    let mut counts = vec![0u16; out.len()];
    backend.run_smooth(&GridSource { xs: &xs, ys: &ys }, max_iter, &mut counts, out);
    Ok(())
}

/// The checks of the block renderers, then the sub-grid's column and row coordinates.
fn block_axes(
    params: &StackParams,
    t: f64,
    rows: IndexRange,
    cols: IndexRange,
    out_len: usize,
) -> Result<(Vec<f64>, Vec<f64>, u32), KernelError> {
    let grid = params.level_grid_at(t)?;
    rows.check("rows", params.height as u64)?;
    cols.check("cols", params.width as u64)?;
    let expected = usize::try_from(rows.count.saturating_mul(cols.count)).unwrap_or(usize::MAX);
    if out_len != expected {
        return Err(KernelError::BadOutputLen {
            got: out_len,
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
    Ok((xs, ys, grid.max_iter))
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
    check_points(re, im, max_iter, out.len())?;
    backend.run(&PointSource { re, im }, max_iter, out);
    Ok(())
}

/// Smooth escape values of arbitrary points `re[i] + i im[i]`: [`spec::smooth_scalar`] for
/// each, bit for bit, on every backend.
///
/// # Errors
///
/// Those of [`render_points`].
///
/// ```
/// use zoomstack_kernel::{Backend, render_points_smooth};
/// let mut out = [0f32; 2];
/// render_points_smooth(&[0.0, 1.0], &[0.0, 0.0], 256, Backend::fastest(), &mut out).unwrap();
/// assert_eq!(out[0], 256.0); // never escapes
/// assert_eq!(out[1], zoomstack_kernel::spec::smooth_scalar(1.0, 0.0, 256)); // count 2
/// ```
pub fn render_points_smooth(
    re: &[f64],
    im: &[f64],
    max_iter: u32,
    backend: Backend,
    out: &mut [f32],
) -> Result<(), KernelError> {
    check_points(re, im, max_iter, out.len())?;
    let mut counts = vec![0u16; out.len()];
    backend.run_smooth(&PointSource { re, im }, max_iter, &mut counts, out);
    Ok(())
}

/// The checks of the point renderers.
fn check_points(re: &[f64], im: &[f64], max_iter: u32, out_len: usize) -> Result<(), KernelError> {
    validate_max_iter(u64::from(max_iter))?;
    if re.len() != im.len() || re.len() != out_len {
        return Err(KernelError::LengthMismatch {
            re: re.len(),
            im: im.len(),
            out: out_len,
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
    Ok(())
}

/// The work in `counts`: a pixel with count `n` cost `min(n + 1, max_iter)` updates.
pub fn pixel_iterations(counts: &[u16], max_iter: u32) -> u64 {
    counts
        .iter()
        .map(|&n| (u64::from(n) + 1).min(u64::from(max_iter)))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lanes' `log2` equals [`spec::log2`] bit for bit on every backend and instruction
    /// set: special values, both sides of `sqrt 2` and of powers of 2, and random bit patterns
    /// (negative, subnormal, NaN and infinite included).
    #[test]
    fn log2_lanes_equal_the_reference() {
        let s2 = std::f64::consts::SQRT_2;
        let mut xs = vec![
            0.0,
            -0.0,
            1e-310,
            -1.0,
            1.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            -f64::NAN,
            f64::MAX,
            f64::MIN_POSITIVE,
            s2,
            s2.next_up(),
            s2.next_down(),
            0.5 * s2,
            2.0,
            2f64.next_down(),
            1024.0 * 1024.0,
        ];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for i in 0..200_000u64 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            xs.push(f64::from_bits(state));
            xs.push(1.0 + i as f64 / 200_000.0);
            xs.push((f64::from_bits(state >> 12 | 1f64.to_bits()) - 1.0) * 2e6);
        }
        let want: Vec<u64> = xs.iter().map(|&x| spec::log2(x).to_bits()).collect();
        for isa in Isa::supported() {
            for b in Backend::ALL {
                let got = isa
                    .scoped(|| {
                        backend::with_lanes!(b, isa, |L, W| {
                            let _ = W;
                            escape::log2_all::<L>(&xs)
                        })
                    })
                    .unwrap();
                for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
                    assert_eq!(g.to_bits(), w, "{b} on {isa}: log2({:e})", xs[i]);
                }
            }
        }
    }

    /// The smooth path's counts (captured with the escapes' `z_k`) are the count path's, on
    /// every backend and instruction set, including hazard lanes (`|c| > 1.9`) and shortcuts.
    #[test]
    fn smooth_path_counts_equal_count_path() {
        let (mut re, mut im) = (vec![], vec![]);
        for k in 0..4000 {
            let a = f64::from(k);
            // A spiral from the cardioid's inside out to |c| = 2.6.
            let r = 0.1 + 2.5 * a / 4000.0;
            re.push(r * (a * 0.37).cos() - 0.4);
            im.push(r * (a * 0.37).sin());
        }
        for max_iter in [1, 2, 256, 3000] {
            let want: Vec<u16> = re
                .iter()
                .zip(&im)
                .map(|(&a, &b)| spec::escape_scalar(a, b, max_iter))
                .collect();
            for isa in Isa::supported() {
                for b in Backend::ALL {
                    let (mut counts, mut out) = (vec![0u16; re.len()], vec![0f32; re.len()]);
                    isa.scoped(|| {
                        b.run_smooth(
                            &PointSource { re: &re, im: &im },
                            max_iter,
                            &mut counts,
                            &mut out,
                        );
                    })
                    .unwrap();
                    assert_eq!(counts, want, "{b} on {isa}, max_iter {max_iter}");
                }
            }
        }
    }
}
