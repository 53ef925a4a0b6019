//! The pixel grid of a zoom level, exactly as the notebook builds it with `np.linspace`.

use crate::KernelError;

/// Parameters of a zoom stack that fix every pixel's coordinate and count.
///
/// `Default` is the notebook's stack: 512 x 512, center `(-0.743645857047151, 0.13182592380533)`,
/// `scale0 = 3.0`, `zoom_per_level = 1.00025`, `max_iter = 256`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StackParams {
    /// Rows per level.
    pub height: usize,
    /// Columns per level.
    pub width: usize,
    /// Real part of the center.
    pub center_re: f64,
    /// Imaginary part of the center.
    pub center_im: f64,
    /// Height of level 0 in the complex plane.
    pub scale0: f64,
    /// Zoom factor between consecutive levels.
    pub zoom_per_level: f64,
    /// Iteration limit; a pixel that never escapes gets this count.
    pub max_iter: u32,
}

impl Default for StackParams {
    fn default() -> Self {
        Self {
            height: 512,
            width: 512,
            center_re: -0.743645857047151,
            center_im: 0.13182592380533,
            scale0: 3.0,
            zoom_per_level: 1.00025,
            max_iter: 256,
        }
    }
}

fn finite(what: &'static str, value: f64) -> Result<(), KernelError> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(KernelError::BadFloat {
            what,
            value,
            expected: "a finite number",
        })
    }
}

fn positive(what: &'static str, value: f64) -> Result<(), KernelError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(KernelError::BadFloat {
            what,
            value,
            expected: "a finite number > 0",
        })
    }
}

impl StackParams {
    /// Checks every parameter; all kernel entry points call this first.
    ///
    /// # Errors
    ///
    /// [`KernelError::ZeroSize`] for a height or width of 0, [`KernelError::BadFloat`] for a
    /// center that is not finite or a `scale0` or `zoom_per_level` that is not finite and
    /// positive, [`KernelError::BadMaxIter`] for a `max_iter` outside `1..=`[`MAX_ITER_LIMIT`].
    ///
    /// ```
    /// use zoomstack_kernel::StackParams;
    /// assert!(StackParams::default().validate().is_ok());
    /// let bad = StackParams { max_iter: 0, ..StackParams::default() };
    /// assert!(bad.validate().unwrap_err().to_string().contains("max_iter"));
    /// ```
    pub fn validate(&self) -> Result<(), KernelError> {
        if self.height == 0 {
            return Err(KernelError::ZeroSize {
                what: "height",
                value: 0,
            });
        }
        if self.width == 0 {
            return Err(KernelError::ZeroSize {
                what: "width",
                value: 0,
            });
        }
        finite("center_re", self.center_re)?;
        finite("center_im", self.center_im)?;
        positive("scale0", self.scale0)?;
        positive("zoom_per_level", self.zoom_per_level)?;
        validate_max_iter(u64::from(self.max_iter))?;
        Ok(())
    }

    /// The notebook's scale of level `level`: `scale0 / zoom_per_level ** level`.
    ///
    /// Python's float `**` is libm `pow`, so this is `powf`, not `powi` (they differ in the last bits).
    /// It is [`StackParams::scale_at`]`(level as f64)`, bit for bit.
    pub fn scale(&self, level: u64) -> f64 {
        self.scale_at(level as f64)
    }

    /// The scale at a fractional level `t`: `scale0 / zoom_per_level.powf(t)`. For an integer
    /// `t` it equals [`StackParams::scale`] bit for bit; between levels it zooms continuously
    /// (for smooth animations). `t` is not checked here ([`StackParams::level_grid_at`] checks it).
    ///
    /// ```
    /// use zoomstack_kernel::StackParams;
    /// let p = StackParams::default();
    /// assert_eq!(p.scale_at(3000.0).to_bits(), p.scale(3000).to_bits());
    /// assert!(p.scale(1) < p.scale_at(0.5) && p.scale_at(0.5) < p.scale(0));
    /// ```
    pub fn scale_at(&self, t: f64) -> f64 {
        self.scale0 / self.zoom_per_level.powf(t)
    }

    /// The pixel grid of one level. Fails if the level's scale is not a positive finite number
    /// (e.g. a level so deep that the scale underflows to zero). It is
    /// [`StackParams::level_grid_at`]`(level as f64)`.
    ///
    /// # Errors
    ///
    /// The errors of [`StackParams::validate`]. [`KernelError::BadFloat`] when the level's
    /// scale is not finite and positive, or a grid end is not finite.
    pub fn level_grid(&self, level: u64) -> Result<LevelGrid, KernelError> {
        self.level_grid_at(level as f64)
    }

    /// The pixel grid at a fractional level `t >= 0`: the notebook's grid with the scale
    /// [`StackParams::scale_at`]`(t)`. An integer `t` gives exactly [`StackParams::level_grid`].
    ///
    /// # Errors
    ///
    /// Those of [`StackParams::level_grid`], and [`KernelError::BadFloat`] naming `level` when
    /// `t` is negative, NaN or infinite.
    ///
    /// ```
    /// use zoomstack_kernel::StackParams;
    /// let p = StackParams::default();
    /// assert_eq!(p.level_grid_at(7.0).unwrap(), p.level_grid(7).unwrap());
    /// let e = p.level_grid_at(-0.5).unwrap_err().to_string();
    /// assert!(e.contains("level") && e.contains("a finite number >= 0"), "{e}");
    /// ```
    pub fn level_grid_at(&self, t: f64) -> Result<LevelGrid, KernelError> {
        self.validate()?;
        if !(t.is_finite() && t >= 0.0) {
            return Err(KernelError::BadFloat {
                what: "level",
                value: t,
                expected: "a finite number >= 0",
            });
        }
        let scale = self.scale_at(t);
        positive("level scale (scale0 / zoom_per_level ** level)", scale)?;
        // The notebook: aspect = width / height; x spans scale * aspect, y spans scale.
        let aspect = self.width as f64 / self.height as f64;
        let half_x = (scale * aspect) / 2.0;
        let half_y = scale / 2.0;
        let cols = Linspace::new(self.center_re - half_x, self.center_re + half_x, self.width);
        let rows = Linspace::new(
            self.center_im - half_y,
            self.center_im + half_y,
            self.height,
        );
        finite("grid start", cols.start.min(rows.start))?;
        finite("grid stop", cols.stop.max(rows.stop))?;
        Ok(LevelGrid {
            rows,
            cols,
            max_iter: self.max_iter,
        })
    }
}

/// The largest iteration limit: counts are `u16` (a pixel that never escapes has count
/// `max_iter`). The one place of this rule; the spec, the Python package and errors use it.
pub const MAX_ITER_LIMIT: u32 = u16::MAX as u32;

/// Checks an iteration limit: `1..=`[`MAX_ITER_LIMIT`].
///
/// # Errors
///
/// [`KernelError::BadMaxIter`] outside that range.
pub fn validate_max_iter(max_iter: u64) -> Result<(), KernelError> {
    if (1..=u64::from(MAX_ITER_LIMIT)).contains(&max_iter) {
        Ok(())
    } else {
        Err(KernelError::BadMaxIter { value: max_iter })
    }
}

/// `np.linspace(start, stop, n)` (endpoint included), addressable by index.
///
/// numpy computes `step = (stop - start) / (n - 1)` and element `j` as `j * step + start`
/// (a multiply, then an add: two roundings), then overwrites the last element with `stop`.
/// Computing each coordinate from its global index, never by accumulation, is what makes a
/// strided sub-grid bit-identical to the corresponding pixels of the full grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Linspace {
    /// First value.
    pub start: f64,
    /// Last value (exact).
    pub stop: f64,
    /// `(stop - start) / (n - 1)`, or NaN when `n == 1` (as numpy).
    pub step: f64,
    /// Number of values.
    pub n: usize,
}

impl Linspace {
    /// The linspace from `start` to `stop` with `n >= 1` values.
    pub fn new(start: f64, stop: f64, n: usize) -> Self {
        let step = if n > 1 {
            (stop - start) / (n - 1) as f64
        } else {
            f64::NAN
        };
        Self {
            start,
            stop,
            step,
            n,
        }
    }

    /// Value `j` (`j < n`).
    #[inline]
    pub fn at(&self, j: usize) -> f64 {
        if j + 1 == self.n {
            if j == 0 { self.start } else { self.stop }
        } else {
            j as f64 * self.step + self.start
        }
    }
}

/// The coordinates of one level: `c = cols.at(x) + i * rows.at(y)`.
///
/// Row 0 is the lowest imaginary part (as in the notebook), so images are flipped vertically
/// against the usual mathematical picture.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LevelGrid {
    /// Imaginary parts, one per row.
    pub rows: Linspace,
    /// Real parts, one per column.
    pub cols: Linspace,
    /// Iteration limit.
    pub max_iter: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::float_cmp)] // exactness test: the values must match numpy's bit for bit
    fn linspace_matches_numpy_rules() {
        let l = Linspace::new(-1.0, 1.0, 5);
        let v: Vec<f64> = (0..5).map(|j| l.at(j)).collect();
        assert_eq!(v, vec![-1.0, -0.5, 0.0, 0.5, 1.0]);
        assert_eq!(Linspace::new(2.0, 3.0, 1).at(0), 2.0);
    }

    #[test]
    #[allow(clippy::float_cmp)] // exactness test: the values must match numpy's bit for bit
    fn level_grid_of_notebook_stack() {
        let g = StackParams::default().level_grid(0).unwrap();
        assert_eq!(g.cols.at(0), -0.743645857047151 - 1.5);
        assert_eq!(g.cols.at(511), -0.743645857047151 + 1.5);
        assert!(
            g.rows.at(0) < g.rows.at(511),
            "row 0 is the lowest imaginary part"
        );
    }

    #[test]
    fn rejects_bad_params() {
        let p = StackParams::default();
        for (bad, word) in [
            (StackParams { height: 0, ..p }, "height"),
            (StackParams { width: 0, ..p }, "width"),
            (
                StackParams {
                    center_re: f64::NAN,
                    ..p
                },
                "center_re",
            ),
            (
                StackParams {
                    center_im: f64::INFINITY,
                    ..p
                },
                "center_im",
            ),
            (StackParams { scale0: -1.0, ..p }, "scale0"),
            (StackParams { scale0: 0.0, ..p }, "scale0"),
            (
                StackParams {
                    zoom_per_level: f64::NAN,
                    ..p
                },
                "zoom_per_level",
            ),
            (StackParams { max_iter: 0, ..p }, "max_iter"),
            (
                StackParams {
                    max_iter: 65536,
                    ..p
                },
                "max_iter",
            ),
        ] {
            let e = bad.validate().unwrap_err().to_string();
            assert!(e.contains(word), "{e}");
        }
        let deep = StackParams {
            zoom_per_level: 2.0,
            ..p
        };
        assert!(deep.level_grid(5000).is_err(), "scale underflows to 0");
    }
}
