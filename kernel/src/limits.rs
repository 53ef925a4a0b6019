//! Where the notebook's f64 arithmetic stops resolving a stack ([`StackParams::f64_limits`]).
//!
//! The numpy contract reproduces the notebook's f64 counts at every level, but deep enough they
//! stop being the mathematically true counts: first the pixel spacing shrinks to a few ulp of
//! the centre's coordinates (rounding in the grid and in the iteration then moves pixels by a
//! visible fraction of a pixel), then neighbouring columns (or rows) get the same f64
//! coordinate and the image collapses into stripes.

use crate::grid::StackParams;

/// A pixel spacing below this many ulp of the centre coordinate on its axis counts as coarse.
pub const SPACING_ULPS: f64 = 16.0;

/// The levels where the notebook's f64 grid stops resolving pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct F64Limits {
    /// The first level whose pixel spacing, on either axis, is below [`SPACING_ULPS`] ulp of
    /// the centre's coordinate on that axis (`None`: no such level below the bound searched).
    pub coarse_from: Option<u64>,
    /// The first level where two neighbouring columns or rows of the grid have the same f64
    /// coordinate (or the level's scale underflows).
    pub collapse_from: Option<u64>,
}

/// The distance from `v` to the next f64 away from zero.
fn ulp(v: f64) -> f64 {
    let a = v.abs();
    f64::from_bits(a.to_bits() + 1) - a
}

/// The first level in `0..levels` where `pred` holds, for a `pred` that holds from some level
/// on (or never).
fn first_level(levels: u64, pred: impl Fn(u64) -> bool) -> Option<u64> {
    if levels == 0 || !pred(levels - 1) {
        return None;
    }
    let (mut lo, mut hi) = (0u64, levels - 1); // pred(hi) holds
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Some(lo)
}

impl StackParams {
    /// Where f64 stops resolving this stack among its first `levels` levels (see
    /// [`F64Limits`]). Both conditions only grow with the level when `zoom_per_level > 1`; for
    /// a stack that does not zoom in, only level 0 is examined.
    ///
    /// ```
    /// use zoomstack_kernel::StackParams;
    /// let l = StackParams::default().f64_limits(120_000_000);
    /// assert_eq!(l.collapse_from, Some(126_412));
    /// assert!(l.coarse_from.unwrap() < 120_000);
    /// ```
    #[must_use]
    pub fn f64_limits(&self, levels: u64) -> F64Limits {
        let search = if self.zoom_per_level > 1.0 {
            levels
        } else {
            levels.min(1)
        };
        let coarse = |level: u64| {
            let scale = self.scale(level);
            let aspect = self.width as f64 / self.height as f64;
            let x = self.width > 1
                && scale * aspect / ((self.width - 1) as f64) < SPACING_ULPS * ulp(self.center_re);
            let y = self.height > 1
                && scale / ((self.height - 1) as f64) < SPACING_ULPS * ulp(self.center_im);
            x || y
        };
        let collapsed = |level: u64| match self.level_grid(level) {
            Err(_) => true,
            Ok(g) => {
                // Bit equality of neighbours is the question: two pixels, one coordinate.
                let dup = |l: &crate::Linspace, n: usize| {
                    (1..n).any(|j| l.at(j).to_bits() == l.at(j - 1).to_bits())
                };
                dup(&g.cols, self.width) || dup(&g.rows, self.height)
            }
        };
        F64Limits {
            coarse_from: first_level(search, coarse),
            collapse_from: first_level(search, collapsed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_notebook_stack_collapses_at_126412() {
        let p = StackParams::default();
        let l = p.f64_limits(120_000_000);
        let c = l.collapse_from.unwrap();
        assert_eq!(c, 126_412);
        let cols = |level| {
            let g = p.level_grid(level).unwrap();
            (0..512).map(|j| g.cols.at(j)).collect::<Vec<f64>>()
        };
        let distinct = |v: Vec<f64>| {
            let mut v = v;
            v.dedup();
            v.len()
        };
        assert_eq!(distinct(cols(c - 1)), 512);
        assert!(distinct(cols(c)) < 512);
        // The coarse level: spacing below 16 ulp of the centre's real part (the limiting axis).
        let k = l.coarse_from.unwrap();
        let spacing = |level| p.scale(level) / 511.0;
        let u = ulp(p.center_re);
        assert!(spacing(k) < SPACING_ULPS * u && spacing(k - 1) >= SPACING_ULPS * u);
        assert!((115_000..120_000).contains(&k), "{k}");
        // Fewer levels than the limits: none.
        assert_eq!(
            p.f64_limits(100_000),
            F64Limits {
                coarse_from: None,
                collapse_from: None
            }
        );
    }

    #[test]
    fn stacks_that_do_not_zoom_in_are_examined_at_level_0() {
        let out = StackParams {
            zoom_per_level: 0.5,
            ..StackParams::default()
        };
        assert_eq!(out.f64_limits(1000).collapse_from, None);
        let tiny = StackParams {
            scale0: 1e-30,
            zoom_per_level: 1.0,
            ..StackParams::default()
        };
        assert_eq!(
            tiny.f64_limits(10),
            F64Limits {
                coarse_from: Some(0),
                collapse_from: Some(0)
            }
        );
    }
}
