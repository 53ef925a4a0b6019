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
//!   shared orbit; [`render_level_block`] and [`render_level_indices`] take the orbit from
//!   [`OrbitCache::global`] (what the engine, the viewer and Python call).
//! * [`oracle`]: direct iteration of single pixels in big precision, confirmed at twice the
//!   precision, which the committed truth sets come from.
//! * [`proof`]: rigorous constant-frame proofs (every pixel of a level, or every point of its
//!   rectangle and so of every deeper level, has one count), and the level from which a
//!   stack's frames are all proven constant.
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

mod bla;
mod bound;
mod delta;
pub mod oracle;
mod orbit;
mod perturb;
pub mod proof;
mod real;
mod stack;

pub use bla::{BLA_EPSILON, BlaTable, perturb_bla_detail};
pub use orbit::{OrbitCache, ReferenceOrbit};
pub use perturb::{PerturbCount, perturb_scalar, perturb_scalar_detail};
pub use real::{ExactReal, MAX_DECIMAL_DIGITS, MAX_DECIMAL_EXPONENT};
pub use stack::{ExactStack, MAX_PRECISION_BITS, MIN_SPACING, Offsets, axis_fraction};

use crate::backend::per_width;
use crate::escape::PixelSource;
use crate::{Backend, IndexRange, KernelError};
use delta::perturb_counts;
use perturb::Results;

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
    render_into(stack, orbit, level, Cells::Ranges(rows, cols), backend, out)
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
    render_into(stack, orbit, level, Cells::Ranges(rows, cols), backend, out)
}

/// Renders the strided sub-grid `rows` x `cols` of `level` in the exact contract: the
/// one-call form of [`render_block_exact`], taking the level's orbit from
/// [`OrbitCache::global`] (computed once per process and precision band). A level that
/// [`proof::is_proven_constant`] proves constant is filled with its count without per-pixel
/// work, at any depth; other levels must be within [`MIN_SPACING`].
///
/// # Errors
///
/// Those of [`OrbitCache::for_level`] and [`render_block_exact`].
pub fn render_level_block(
    stack: &ExactStack,
    level: u64,
    rows: IndexRange,
    cols: IndexRange,
    backend: Backend,
    out: &mut [u16],
) -> Result<(), KernelError> {
    rows.check("rows", stack.height as u64)?;
    cols.check("cols", stack.width as u64)?;
    let n = rows.count.saturating_mul(cols.count);
    render_level(stack, level, Cells::Ranges(rows, cols), n, backend, out)
}

/// `cells` (`n` pixels) of `level`: filled when proven constant, else rendered around the
/// level's orbit from [`OrbitCache::global`].
fn render_level(
    stack: &ExactStack,
    level: u64,
    cells: Cells<'_>,
    n: u64,
    backend: Backend,
    out: &mut [u16],
) -> Result<(), KernelError> {
    if fill_if_constant(stack, level, n, out)? {
        return Ok(());
    }
    let orbit = OrbitCache::global().for_level(stack, level)?;
    render_into(stack, &orbit, level, cells, backend, out)
}

/// Fills `out` (which must hold `n` counts) when `level` is proven constant.
fn fill_if_constant(
    stack: &ExactStack,
    level: u64,
    n: u64,
    out: &mut [u16],
) -> Result<bool, KernelError> {
    stack.validate()?;
    let Some(count) = proof::is_proven_constant(stack, level)? else {
        return Ok(false);
    };
    let expected = usize::try_from(n).unwrap_or(usize::MAX);
    if out.len() != expected {
        return Err(KernelError::BadOutputLen {
            got: out.len(),
            expected,
        });
    }
    out.fill(count);
    Ok(true)
}

/// Checks that every level in `lo..=hi` can be rendered ([`check_level`]): the ends, and the
/// first level past [`MIN_SPACING`] when it falls between them (levels past it are renderable
/// only when proven constant, and the proof of one level covers all deeper ones).
///
/// # Errors
///
/// Those of [`check_level`] for the first level that cannot be rendered.
pub fn check_levels(stack: &ExactStack, lo: u64, hi: u64) -> Result<(), KernelError> {
    check_level(stack, lo)?;
    check_level(stack, hi)?;
    if stack.check_depth(hi).is_err() && stack.check_depth(lo).is_ok() {
        // The spacing shrinks with the level here: find the first level past the limit.
        let (mut a, mut b) = (lo, hi);
        while a + 1 < b {
            let mid = a + (b - a) / 2;
            if stack.check_depth(mid).is_ok() {
                a = mid;
            } else {
                b = mid;
            }
        }
        check_level(stack, b)?;
    }
    Ok(())
}

/// Checks that `level` of `stack` can be rendered in the exact contract: it is proven constant,
/// or its depth is within [`MIN_SPACING`] and its precision within the cap.
///
/// # Errors
///
/// [`KernelError::TooDeep`], [`KernelError::PrecisionCap`], and those of the proof search.
pub fn check_level(stack: &ExactStack, level: u64) -> Result<(), KernelError> {
    stack.validate()?;
    if proof::is_proven_constant(stack, level)?.is_some() {
        return Ok(());
    }
    stack.check_depth(level)?;
    stack.orbit_precision(level).map(|_| ())
}

/// Renders the pixels at the given row and column indices of `level` (any order, repeats
/// allowed; `out` row-major `rows.len() * cols.len()`) in the exact contract, for selections
/// that are not strided runs. Counts equal [`render_level_block`]'s at the same pixels.
///
/// # Errors
///
/// Those of [`render_level_block`]; [`KernelError::SliceOutOfBounds`] for an index outside
/// the level.
pub fn render_level_indices(
    stack: &ExactStack,
    level: u64,
    rows: &[u64],
    cols: &[u64],
    backend: Backend,
    out: &mut [u16],
) -> Result<(), KernelError> {
    let n = (rows.len() as u64).saturating_mul(cols.len() as u64);
    render_level(stack, level, Cells::Indices(rows, cols), n, backend, out)
}

/// Which pixels of a level to render: strided runs or explicit indices per axis.
#[derive(Clone, Copy)]
enum Cells<'a> {
    Ranges(IndexRange, IndexRange),
    Indices(&'a [u64], &'a [u64]),
}

fn render_into(
    stack: &ExactStack,
    orbit: &ReferenceOrbit,
    level: u64,
    cells: Cells<'_>,
    backend: Backend,
    out: &mut (impl Results + ?Sized),
) -> Result<(), KernelError> {
    stack.validate()?;
    stack.check_depth(level)?;
    orbit.check_for(stack, level)?;
    let (n_rows, n_cols) = match cells {
        Cells::Ranges(rows, cols) => {
            rows.check("rows", stack.height as u64)?;
            cols.check("cols", stack.width as u64)?;
            (rows.count, cols.count)
        }
        Cells::Indices(rows, cols) => (rows.len() as u64, cols.len() as u64),
    };
    let expected = usize::try_from(n_rows.saturating_mul(n_cols)).unwrap_or(usize::MAX);
    if out.len() != expected {
        return Err(KernelError::BadOutputLen {
            got: out.len(),
            expected,
        });
    }
    let offsets = match cells {
        Cells::Ranges(rows, cols) => stack.offsets(level, rows, cols)?,
        Cells::Indices(rows, cols) => stack.offsets_at(level, rows, cols)?,
    };
    let (xs, ys) = (&offsets.cols[..], &offsets.rows[..]);
    let max_iter = stack.max_iter;
    if stack.bla {
        // One table per level (its whole frame's largest offset), whatever the tiling.
        let table = orbit.bla_table(stack.frame_dc_max(level)?);
        let rest = bla::bla_phase_all(&OffsetSource { xs, ys }, orbit, &table, max_iter, out);
        if !rest.is_empty() {
            dispatch(backend, &delta::NoPixels, rest, orbit, max_iter, out);
        }
        return Ok(());
    }
    // Pixels proven never to escape get max_iter here; the delta loop takes the others, packed
    // into one row (their counts do not depend on which pixels share a vector). The index list
    // is built only once a pixel is skipped: deep frames have none and render straight through.
    let mut kept: Option<Vec<usize>> = None;
    for (r, &y) in ys.iter().enumerate() {
        for (j, &x) in xs.iter().enumerate() {
            let p = r * xs.len() + j;
            if orbit.never_escapes(x, y) {
                out.put(p, max_iter as u16, f64::NAN);
                kept.get_or_insert_with(|| (0..p).collect());
            } else if let Some(k) = &mut kept {
                k.push(p);
            }
        }
    }
    match kept {
        None => dispatch(
            backend,
            &OffsetSource { xs, ys },
            Vec::new(),
            orbit,
            max_iter,
            out,
        ),
        Some(kept) if !kept.is_empty() => {
            let src = PackedSource {
                xs,
                ys,
                kept: &kept,
            };
            let mut scatter = Scatter { out, at: &kept };
            dispatch(backend, &src, Vec::new(), orbit, max_iter, &mut scatter);
        }
        Some(_) => {}
    }
    Ok(())
}

fn dispatch(
    backend: Backend,
    src: &impl PixelSource,
    resume: Vec<delta::Parked>,
    orbit: &ReferenceOrbit,
    max_iter: u32,
    out: &mut (impl Results + ?Sized),
) {
    crate::backend::with_lanes!(backend, crate::Isa::current(), |L, W| perturb_counts::<
        L,
        { per_width(W, SCALAR_V, X4_V, X8_V) },
        { per_width(W, SCALAR_R as usize, X4_R as usize, X8_R as usize) as u32 },
    >(
        src, resume, orbit, max_iter, out
    ));
}

/// The pixels `kept` (row-major indices into the `xs`-wide grid) as one row.
struct PackedSource<'a> {
    xs: &'a [f64],
    ys: &'a [f64],
    kept: &'a [usize],
}

impl PixelSource for PackedSource<'_> {
    #[inline]
    fn len(&self) -> usize {
        self.kept.len()
    }
    #[inline]
    fn row_len(&self) -> usize {
        self.kept.len().max(1)
    }
    #[inline]
    fn point(&self, _row: usize, col: usize) -> (f64, f64) {
        let p = self.kept[col];
        (self.xs[p % self.xs.len()], self.ys[p / self.xs.len()])
    }
}

/// Results of packed pixel `k` go to pixel `at[k]` of `out`.
struct Scatter<'a, R: Results + ?Sized> {
    out: &'a mut R,
    at: &'a [usize],
}

impl<R: Results + ?Sized> Results for Scatter<'_, R> {
    fn len(&self) -> usize {
        self.at.len()
    }
    #[inline]
    fn put(&mut self, pixel: usize, count: u16, norm: f64) {
        self.out.put(self.at[pixel], count, norm);
    }
}
