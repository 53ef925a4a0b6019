//! [`ExactStack`]: the exact geometry of a zoom stack, the precision rule, the depth limit and
//! the pixel offsets `dc` from the centre.

use super::real::{Big, ExactReal, Prec};
use crate::{IndexRange, KernelError, StackParams, validate_max_iter};

/// The cap on reference-orbit precision, in bits (about 19700 decimal digits). Levels whose
/// precision rule asks for more are refused with [`KernelError::PrecisionCap`]. (With f64 deltas
/// the depth limit, [`MIN_SPACING`], is reached first, at about 1100 bits.)
pub const MAX_PRECISION_BITS: u64 = 1 << 16;

/// The smallest pixel spacing f64 deltas cover. Deeper levels are refused with
/// [`KernelError::TooDeep`]: offsets would approach the f64 exponent range (normal numbers end at
/// 2.2e-308), and the next step there is extended-exponent deltas, not built yet.
pub const MIN_SPACING: f64 = 1e-300;

/// Extra bits the pixel offsets are computed with, beyond the orbit precision.
const OFFSET_GUARD_BITS: usize = 128;

/// The exact geometry of a zoom stack: every parameter is an exact number ([`ExactReal`]).
///
/// Pixel `(r, j)` of level `level` is the exact point
/// `c = center + ((j/(W-1) - 1/2) s W/H, (r/(H-1) - 1/2) s)` with `s = scale0 / zoom_per_level^level`
/// (row 0 is the lowest imaginary part, as in the notebook; an axis of one pixel sits at
/// `-1/2`, as `np.linspace` with one value does).
///
/// ```
/// use zoomstack_kernel::exact::{ExactReal, ExactStack};
/// let notebook = ExactStack::default(); // the notebook's f64 parameters, exactly
/// assert_eq!(notebook.orbit_precision(120000).unwrap(), 128);
/// let literal = ExactStack {
///     center_re: "-0.743645857047151".parse().unwrap(),
///     center_im: "0.13182592380533".parse().unwrap(),
///     ..ExactStack::default()
/// };
/// assert!(literal.validate().is_ok());
/// assert!(notebook.check_depth(3_000_000).unwrap_err().to_string().contains("1e-300"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExactStack {
    /// Rows per level.
    pub height: usize,
    /// Columns per level.
    pub width: usize,
    /// Real part of the centre.
    pub center_re: ExactReal,
    /// Imaginary part of the centre.
    pub center_im: ExactReal,
    /// Height of level 0 in the complex plane (> 0).
    pub scale0: ExactReal,
    /// Zoom factor between consecutive levels (> 0).
    pub zoom_per_level: ExactReal,
    /// Iteration limit; a pixel that never escapes gets this count.
    pub max_iter: u32,
    /// Skip runs of delta updates with bivariate linear approximation ([`super::bla`]): the
    /// method for deep locations with large `max_iter`. Off by default: counts may differ from
    /// the plain delta loop's where an escape decision is within rounding (both are checked
    /// against the oracle).
    pub bla: bool,
}

impl Default for ExactStack {
    /// The notebook's stack, its f64 parameters taken as their exact binary values.
    fn default() -> Self {
        ExactStack::from_params(&StackParams::default()).expect("the notebook's parameters")
    }
}

impl ExactStack {
    /// The stack of `params` with each f64 taken as its exact binary value.
    ///
    /// # Errors
    ///
    /// The errors of [`StackParams::validate`].
    pub fn from_params(params: &StackParams) -> Result<Self, KernelError> {
        params.validate()?;
        Ok(ExactStack {
            height: params.height,
            width: params.width,
            center_re: ExactReal::from_f64(params.center_re)?,
            center_im: ExactReal::from_f64(params.center_im)?,
            scale0: ExactReal::from_f64(params.scale0)?,
            zoom_per_level: ExactReal::from_f64(params.zoom_per_level)?,
            max_iter: params.max_iter,
            bla: false,
        })
    }

    /// Checks every parameter; all exact-mode entry points call this first.
    ///
    /// # Errors
    ///
    /// [`KernelError::ZeroSize`] for a height or width of 0, [`KernelError::BadExact`] for a
    /// `scale0` or `zoom_per_level` that is not positive, [`KernelError::BadMaxIter`].
    pub fn validate(&self) -> Result<(), KernelError> {
        for (what, value) in [("height", self.height), ("width", self.width)] {
            if value == 0 {
                return Err(KernelError::ZeroSize { what, value });
            }
        }
        for (what, v) in [
            ("scale0", &self.scale0),
            ("zoom_per_level", &self.zoom_per_level),
        ] {
            if !v.is_positive() {
                return Err(KernelError::BadExact {
                    what,
                    value: v.to_string(),
                    expected: "a number > 0",
                });
            }
        }
        validate_max_iter(u64::from(self.max_iter))
    }

    /// About `log2` of the level's smaller pixel spacing (`s W/H / (W-1)` across, `s / (H-1)`
    /// down; an axis of one pixel has no spacing, and a 1 x 1 level counts `s`).
    pub fn spacing_log2(&self, level: u64) -> f64 {
        let s = self.scale0.log2_abs() - level as f64 * self.zoom_per_level.log2_abs();
        let (w, h) = (self.width as f64, self.height as f64);
        let mut per = f64::INFINITY;
        if self.width > 1 {
            per = per.min(w / h / (w - 1.0));
        }
        if self.height > 1 {
            per = per.min(1.0 / (h - 1.0));
        }
        if per.is_infinite() {
            per = 1.0;
        }
        s + per.log2()
    }

    /// About `log10` of the level's height in the complex plane, `s = scale0 / zoom_per_level^level`,
    /// at any depth (no f64 underflow). For display: its absolute error is about
    /// `level * 1e-16 * log10(zoom_per_level)`, i.e. `s` to ~1e-11 relative at level 1.2e8.
    pub fn scale_log10(&self, level: u64) -> f64 {
        (self.scale0.log2_abs() - level as f64 * self.zoom_per_level.log2_abs())
            * std::f64::consts::LOG10_2
    }

    /// Refuses levels deeper than f64 deltas cover (pixel spacing below [`MIN_SPACING`]).
    ///
    /// # Errors
    ///
    /// [`KernelError::TooDeep`], naming the level and its spacing.
    pub fn check_depth(&self, level: u64) -> Result<(), KernelError> {
        let spacing_log2 = self.spacing_log2(level);
        if spacing_log2 < MIN_SPACING.log2() || spacing_log2.is_nan() {
            return Err(KernelError::TooDeep {
                level,
                spacing_log2,
            });
        }
        Ok(())
    }

    /// The precision (bits) of the reference orbit for `level`: the rule is
    /// `log2(max(1, |center|) / spacing) + 64`, rounded up to a multiple of 64, at least 128.
    ///
    /// It depends on the level only through its spacing and is coarse on purpose: one orbit
    /// serves every level of a 64-bit band (levels 0 to 156914 of the notebook's stack
    /// at 128 bits), and a level's counts never depend on which other levels a run renders.
    /// The 64 bits beyond the pixel spacing keep the reference's own error (its rounding,
    /// amplified by at most `|dZ/dC|`, about 2^48 on the notebook's centre) far below a pixel.
    ///
    /// # Errors
    ///
    /// [`KernelError::PrecisionCap`] beyond [`MAX_PRECISION_BITS`].
    pub fn orbit_precision(&self, level: u64) -> Result<usize, KernelError> {
        self.precision_for_spacing(level, self.spacing_log2(level))
    }

    /// The precision (bits) of the reference orbit a constant-frame proof of `level` uses
    /// ([`super::proof`]): [`ExactStack::orbit_precision`] for every level f64 deltas cover
    /// (so proofs and renders share orbits), and beyond [`MIN_SPACING`] the precision of a
    /// spacing of exactly [`MIN_SPACING`]. A proof needs its orbit accurate to its margin
    /// against `|z| = 2`, not to a pixel, and proves deeper levels through the depth limit's
    /// bigger rectangle, so it never needs the cap.
    ///
    /// # Errors
    ///
    /// [`KernelError::PrecisionCap`] beyond [`MAX_PRECISION_BITS`] (only for a centre far
    /// beyond the f64 range).
    pub fn proof_precision(&self, level: u64) -> Result<usize, KernelError> {
        let s = self.spacing_log2(level);
        let floor = MIN_SPACING.log2();
        self.precision_for_spacing(level, if s < floor { floor } else { s })
    }

    fn precision_for_spacing(&self, level: u64, spacing_log2: f64) -> Result<usize, KernelError> {
        let mag = self
            .center_re
            .log2_abs()
            .max(self.center_im.log2_abs())
            .max(0.0);
        let need = (mag - spacing_log2 + 64.0).max(128.0);
        let bits = if need.is_finite() {
            (need / 64.0).ceil() as u64 * 64
        } else {
            u64::MAX
        };
        if bits > MAX_PRECISION_BITS {
            return Err(KernelError::PrecisionCap {
                level,
                needed: bits,
                cap: MAX_PRECISION_BITS,
            });
        }
        Ok(bits as usize)
    }

    /// The level's scale `s = scale0 / zoom_per_level^level` at `bits` bits (relative error
    /// below `(2 level + 2) 2^-bits`).
    pub(crate) fn scale_big(&self, level: u64, bits: usize) -> Big {
        let ctx = Prec::new(bits);
        let pow = ctx.powu(&self.zoom_per_level.to_big(bits), level);
        ctx.div(&self.scale0.to_big(bits), &pow)
    }

    /// The horizontal extent of a level of scale `s`: `s W / H`.
    pub(super) fn extent_x(&self, ctx: Prec, s: &Big) -> Big {
        ctx.div(
            &ctx.mul(s, &Big::from(self.width as u64)),
            &Big::from(self.height as u64),
        )
    }

    /// The exact point of pixel `(r, j)` of `level`, rounded to `bits` bits (the oracle's `c`):
    /// centre and offset are computed with `bits + 64 + bits(level)` bits, their sum rounded
    /// to `bits`. The caller checks `r` and `j`.
    pub(crate) fn pixel_big(&self, level: u64, r: u64, j: u64, bits: usize) -> (Big, Big) {
        let wide = bits + 64 + (64 - level.leading_zeros() as usize);
        let ctx = Prec::new(wide);
        let s = self.scale_big(level, wide);
        let extent_x = self.extent_x(ctx, &s);
        let out = Prec::new(bits);
        let re = axis_offset(ctx, j, self.width, &extent_x);
        let im = axis_offset(ctx, r, self.height, &s);
        (
            out.add(&self.center_re.to_big(wide), &re),
            out.add(&self.center_im.to_big(wide), &im),
        )
    }

    /// The largest `|dc|` of any pixel of `level` (its corners' offsets, rounded up a little):
    /// what the level's BLA table must cover.
    ///
    /// # Errors
    ///
    /// Those of [`ExactStack::offsets`].
    pub fn frame_dc_max(&self, level: u64) -> Result<f64, KernelError> {
        let ends = |n: usize| [0, n as u64 - 1];
        let o = self.offsets_at(level, &ends(self.height), &ends(self.width))?;
        let far = |v: &[f64]| v.iter().fold(0.0f64, |a, x| a.max(x.abs()));
        Ok(far(&o.cols).hypot(far(&o.rows)) * (1.0 + 1e-12))
    }

    /// The offset of pixel `(r, j)` of `level` from the centre: the exact offset, in big
    /// precision, rounded to f64 once (see [`ExactStack::offsets`]).
    ///
    /// # Errors
    ///
    /// Those of [`ExactStack::offsets`].
    pub fn pixel_offset(&self, level: u64, r: u64, j: u64) -> Result<(f64, f64), KernelError> {
        let o = self.offsets(level, IndexRange::new(r, 1, 1), IndexRange::new(j, 1, 1))?;
        Ok((o.cols[0], o.rows[0]))
    }

    /// The f64 offsets `dc` from the reference point of every column and row of a strided
    /// sub-grid of `level` (the offsets separate: `dc = (cols[j], rows[r])`).
    ///
    /// Each offset is `(center - reference) + (k/(n-1) - 1/2) * extent`, computed with
    /// `orbit_precision(level) + 128 + bits(level)` bits and rounded to f64 once, where
    /// `reference` is the centre rounded to the orbit precision (zero when the centre is an f64).
    /// That final rounding moves a pixel by at most 2^-53 of its offset, i.e. by less than
    /// 2^-44 pixel spacings on a 512-pixel axis: far below what the delta iteration's own f64
    /// rounding does at each step, and far below any count decision the oracle can confirm.
    ///
    /// # Errors
    ///
    /// [`ExactStack::validate`], [`ExactStack::check_depth`], [`ExactStack::orbit_precision`]
    /// errors; [`KernelError::ZeroStep`] / [`KernelError::SliceOutOfBounds`] for ranges that do
    /// not fit the level.
    pub fn offsets(
        &self,
        level: u64,
        rows: IndexRange,
        cols: IndexRange,
    ) -> Result<Offsets, KernelError> {
        rows.check("rows", self.height as u64)?;
        cols.check("cols", self.width as u64)?;
        let at = |r: IndexRange| (0..r.count).map(move |k| r.at(k));
        self.offsets_of(level, at(rows), at(cols))
    }

    /// [`ExactStack::offsets`] of the rows and columns at explicit indices (any order).
    ///
    /// # Errors
    ///
    /// Those of [`ExactStack::offsets`]; [`KernelError::SliceOutOfBounds`] for an index outside
    /// the level.
    pub fn offsets_at(
        &self,
        level: u64,
        rows: &[u64],
        cols: &[u64],
    ) -> Result<Offsets, KernelError> {
        for (axis, idx, len) in [("rows", rows, self.height), ("cols", cols, self.width)] {
            if let Some(&bad) = idx.iter().find(|&&i| i >= len as u64) {
                return Err(KernelError::SliceOutOfBounds {
                    axis,
                    start: bad,
                    step: 1,
                    count: 1,
                    last: bad as i64,
                    len: len as u64,
                });
            }
        }
        self.offsets_of(level, rows.iter().copied(), cols.iter().copied())
    }

    fn offsets_of(
        &self,
        level: u64,
        rows: impl Iterator<Item = u64>,
        cols: impl Iterator<Item = u64>,
    ) -> Result<Offsets, KernelError> {
        self.validate()?;
        self.check_depth(level)?;
        let p = self.orbit_precision(level)?;
        let bits = p + OFFSET_GUARD_BITS + (64 - level.leading_zeros() as usize);
        let ctx = Prec::new(bits);
        let s = self.scale_big(level, bits);
        // Across: s * W / H; down: s.
        let extent_x = self.extent_x(ctx, &s);
        let residual = |c: &ExactReal| ctx.sub(&c.to_big(bits), &c.to_big(p));
        let (res_x, res_y) = (residual(&self.center_re), residual(&self.center_im));
        let axis = |idx: &mut dyn Iterator<Item = u64>, n: usize, extent: &Big, res: &Big| {
            idx.map(|i| {
                ctx.add(res, &axis_offset(ctx, i, n, extent))
                    .to_f64()
                    .value()
            })
            .collect()
        };
        Ok(Offsets {
            cols: axis(&mut { cols }, self.width, &extent_x, &res_x),
            rows: axis(&mut { rows }, self.height, &s, &res_y),
        })
    }
}

/// The offset `(i/(n-1) - 1/2) * extent` of index `i` on an axis of `n` pixels, as
/// `(2i - (n-1)) * extent / (2 (n-1))` (two roundings); `-extent/2` when `n == 1`.
/// Where pixel `i` of an axis of `n` pixels sits, as the fraction `num / den` of the axis's
/// extent from the centre: `i/(n-1) - 1/2` (numpy's linspace from `-extent/2` to `+extent/2`),
/// and `-1/2` for an axis of one pixel (linspace's start).
pub fn axis_fraction(i: u64, n: usize) -> (i64, i64) {
    if n == 1 {
        (-1, 2)
    } else {
        (2 * i as i64 - (n as i64 - 1), 2 * (n as i64 - 1))
    }
}

fn axis_offset(ctx: Prec, i: u64, n: usize, extent: &Big) -> Big {
    let (num, den) = axis_fraction(i, n);
    ctx.div(&ctx.mul(extent, &Big::from(num)), &Big::from(den))
}

/// The f64 offsets from the reference point of a sub-grid's columns and rows
/// ([`ExactStack::offsets`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Offsets {
    /// Real offset of each selected column, in range order.
    pub cols: Vec<f64>,
    /// Imaginary offset of each selected row, in range order.
    pub rows: Vec<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::float_cmp)] // exactness test
    fn offsets_of_simple_grids() {
        let stack = ExactStack {
            height: 3,
            width: 5,
            center_re: ExactReal::zero(),
            center_im: ExactReal::zero(),
            scale0: "2".parse().unwrap(),
            zoom_per_level: "2".parse().unwrap(),
            max_iter: 10,
            bla: false,
        };
        // Level 1: s = 1, extent across 5/3.
        let o = stack
            .offsets(1, IndexRange::full(3), IndexRange::full(5))
            .unwrap();
        assert_eq!(o.rows, vec![-0.5, 0.0, 0.5]);
        let third = 5.0 / 3.0;
        assert_eq!(o.cols[0], -third / 2.0);
        assert_eq!(o.cols[2], 0.0);
        assert_eq!(o.cols[3], 5.0 / 12.0);
        let one = ExactStack {
            height: 1,
            width: 1,
            ..stack
        };
        assert_eq!(one.pixel_offset(0, 0, 0).unwrap(), (-1.0, -1.0));
    }

    #[test]
    fn precision_rule_and_limits() {
        let nb = ExactStack::default();
        assert_eq!(nb.orbit_precision(0).unwrap(), 128);
        assert_eq!(nb.orbit_precision(156_914).unwrap(), 128);
        assert_eq!(nb.orbit_precision(156_915).unwrap(), 192);
        assert!(nb.check_depth(2_700_000).is_ok());
        let e = nb.check_depth(2_800_000).unwrap_err().to_string();
        assert!(e.contains("2800000") && e.contains("1e-300"), "{e}");
        assert!(nb.orbit_precision(2_700_000).unwrap() <= 1152);
        let e = nb.orbit_precision(200_000_000).unwrap_err().to_string();
        assert!(e.contains("cap"), "{e}");
        // Proofs share the render's orbits where f64 deltas reach, and stop growing past them.
        for level in [0, 156_915, 2_700_000] {
            assert_eq!(nb.proof_precision(level), nb.orbit_precision(level));
        }
        let deepest = nb.proof_precision(2_800_000).unwrap();
        assert!((1088..=1216).contains(&deepest), "{deepest}");
        assert_eq!(nb.proof_precision(200_000_000).unwrap(), deepest);
        let bad = ExactStack {
            scale0: "-1".parse().unwrap(),
            ..nb.clone()
        };
        assert!(bad.validate().unwrap_err().to_string().contains("scale0"));
        assert!(
            nb.offsets(3_000_000, IndexRange::full(1), IndexRange::full(1))
                .is_err()
        );
    }

    #[test]
    fn residual_of_a_decimal_centre_is_kept() {
        // A decimal centre differs from its 128-bit rounding by ~2^-128: at a level of spacing
        // ~2^-70 the residual still shows in the offsets' low bits, and the centre pixel of an
        // odd grid is exactly the residual.
        let stack = ExactStack {
            height: 3,
            width: 3,
            center_re: "0.1".parse().unwrap(),
            center_im: "0.2".parse().unwrap(),
            ..ExactStack::default()
        };
        let (x, y) = stack.pixel_offset(0, 1, 1).unwrap();
        assert!(x != 0.0 && x.abs() < 1e-38, "{x}");
        assert!(y != 0.0 && y.abs() < 1e-38, "{y}");
        let nb = ExactStack {
            height: 3,
            width: 3,
            ..ExactStack::default()
        };
        assert_eq!(nb.pixel_offset(0, 1, 1).unwrap(), (0.0, 0.0));
    }
}
