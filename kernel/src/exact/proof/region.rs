//! The region a proof covers and its tiles ([`Cell`]): a rectangle of offsets `dc` from the exact
//! centre, split along pixel indices (a frame's pixel points: [`Axis::Pixels`]) or along dyadic
//! fractions (the continuous rectangle: [`Axis::Continuum`]).
//!
//! A cell stands for an exact set of points (its pixels, or its part of the rectangle) and holds
//! a box `t + [-hx, hx] x [-hy, hy]` (f64 centre `t`, upward half widths) that contains that set
//! whatever the f64 roundings of `t` and of the level's extent were.

use super::round::{Cx, Up};
use crate::exact::ExactStack;
use crate::exact::real::Prec;

/// The continuous rectangle is split on a grid of `2^24` cells per axis at most.
pub const CONTINUUM_SLOTS_LOG2: u32 = 24;

/// Relative bound on how far a box centre `t` is from the exact centre of its cell's points:
/// the half extent `h` is at most `2^-48` above the true one, `g` and `g h` round once each.
const POSITION_ERR: f64 = 1.0 / (1u64 << 47) as f64;

/// One axis of a proof's region, `h` an upper bound of the level's half extent on it.
#[derive(Debug, Clone, Copy)]
pub(super) enum Axis {
    /// The `n` pixel positions `g h_true`, `g = (2i - (n-1)) / (n-1)` (`-1` when `n == 1`); `h` is
    /// at most `2^-48` above `h_true`.
    Pixels {
        /// Pixels on the axis.
        n: u64,
        /// Upper bound of the half extent.
        h: f64,
    },
    /// The whole interval `[-h, h]`.
    Continuum {
        /// Half extent (an upper bound of the true one: the interval contains the level's).
        h: f64,
    },
}

/// A cell's index range on one axis: pixels `lo..=hi`, or dyadic slots `[lo, hi]`.
pub(super) type Span = (u64, u64);

impl Axis {
    fn root(self) -> Span {
        match self {
            Axis::Pixels { n, .. } => (0, n - 1),
            Axis::Continuum { .. } => (0, 1 << CONTINUUM_SLOTS_LOG2),
        }
    }

    fn can_split(self, (lo, hi): Span) -> bool {
        match self {
            Axis::Pixels { .. } => hi > lo,
            Axis::Continuum { .. } => hi - lo >= 2,
        }
    }

    /// Two halves whose point sets cover the span's (pixel halves are disjoint).
    fn split(self, (lo, hi): Span) -> [Span; 2] {
        let mid = lo + (hi - lo) / 2;
        match self {
            Axis::Pixels { .. } => [(lo, mid), (mid + 1, hi)],
            Axis::Continuum { .. } => [(lo, mid), (mid, hi)],
        }
    }

    /// The centre of the span's box and an upper bound of its half width.
    fn place(self, (lo, hi): Span) -> (f64, f64) {
        let (g_mid, g_half, h) = match self {
            Axis::Pixels { n: 1, h } => (-1.0, 0.0, h),
            Axis::Pixels { n, h } => {
                // Integers below 2^53 (widths are capped at 2^32): one rounding each.
                let d = (n - 1) as f64;
                let mid = ((lo + hi) as f64 - d) / d;
                (mid, ((hi - lo) as f64 / d).next_up(), h)
            }
            Axis::Continuum { h } => {
                // Dyadic and exact.
                let m = (1u64 << CONTINUUM_SLOTS_LOG2) as f64;
                (((lo + hi) as f64 - m) / m, (hi - lo) as f64 / m, h)
            }
        };
        let t = g_mid * h;
        let half = Up(g_half) * h + Up(t.abs()) * POSITION_ERR + f64::MIN_POSITIVE;
        (t, half.0)
    }
}

/// A tile of a proof: an exact point set (index spans) and a box containing it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Cell {
    x: Span,
    y: Span,
    /// Centre of the box.
    pub(super) t: Cx,
    /// Half widths of the box (upper bounds).
    pub(super) half: (f64, f64),
    /// Upper bound of `|u|` over the box `[-hx, hx] x [-hy, hy]`.
    pub(super) rho: Up,
}

/// The region of a proof: its two axes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Region {
    pub(super) x: Axis,
    pub(super) y: Axis,
}

impl Region {
    fn cell(&self, x: Span, y: Span) -> Cell {
        let (tx, hx) = self.x.place(x);
        let (ty, hy) = self.y.place(y);
        let rho = Up(Cx::new(hx, hy).abs_up().0);
        Cell {
            x,
            y,
            t: Cx::new(tx, ty),
            half: (hx, hy),
            rho,
        }
    }

    /// The cell of the whole region.
    pub(super) fn root(&self) -> Cell {
        self.cell(self.x.root(), self.y.root())
    }

    /// The cell's children (two or four, keeping cells about square), `None` for a leaf.
    pub(super) fn split(&self, c: &Cell) -> Option<Vec<Cell>> {
        let (cx, cy) = (self.x.can_split(c.x), self.y.can_split(c.y));
        let sx = cx && (c.half.0 >= c.half.1 / 2.0 || !cy);
        let sy = cy && (c.half.1 >= c.half.0 / 2.0 || !cx);
        let xs: Vec<Span> = if sx {
            self.x.split(c.x).to_vec()
        } else {
            vec![c.x]
        };
        let ys: Vec<Span> = if sy {
            self.y.split(c.y).to_vec()
        } else {
            vec![c.y]
        };
        if xs.len() * ys.len() == 1 {
            return None;
        }
        Some(
            ys.iter()
                .flat_map(|&y| xs.iter().map(move |&x| (x, y)))
                .map(|(x, y)| self.cell(x, y))
                .collect(),
        )
    }
}

/// Upper bounds of `level`'s half extents `s W / (2H)` and `s / 2`, at most `2^-48` above the
/// true ones (`s` in `128 + bits(level)` bits, rounded to f64, raised by `2^-50`, then one ulp).
/// An infinity or NaN (a scale beyond f64) fails every proof; a subnormal is the caller's to
/// clamp.
pub(super) fn half_extents(stack: &ExactStack, level: u64) -> (f64, f64) {
    let bits = 128 + (64 - level.leading_zeros() as usize);
    let ctx = Prec::new(bits);
    let s = stack.scale_big(level, bits);
    let ex = stack.extent_x(ctx, &s);
    let up = |v: f64| (v * (1.0 + 1.0 / (1u64 << 50) as f64)).next_up();
    (up(ex.to_f64().value() / 2.0), up(s.to_f64().value() / 2.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holds(axis: Axis, span: Span, points: &[f64]) {
        let (t, half) = axis.place(span);
        for &p in points {
            assert!(
                (p - t).abs() <= half,
                "{p} outside {t} +- {half} ({axis:?} {span:?})"
            );
        }
    }

    #[test]
    fn boxes_hold_their_points() {
        let h = 0.75;
        let axis = Axis::Pixels { n: 5, h };
        let g = |i: f64| (2.0 * i - 4.0) / 4.0 * h;
        holds(axis, (0, 4), &[g(0.0), g(4.0)]);
        holds(axis, (1, 2), &[g(1.0), g(2.0)]);
        holds(axis, (3, 3), &[g(3.0)]);
        let [a, b] = axis.split((0, 4));
        assert_eq!((a, b), ((0, 2), (3, 4)));
        holds(Axis::Pixels { n: 1, h }, (0, 0), &[-h]);
        let c = Axis::Continuum { h };
        holds(c, c.root(), &[-h, h, 0.0]);
        let [a, b] = c.split(c.root());
        holds(c, a, &[-h, 0.0]);
        holds(c, b, &[0.0, h]);
    }

    #[test]
    fn splitting_ends_at_pixels() {
        let r = Region {
            x: Axis::Pixels { n: 3, h: 1.0 },
            y: Axis::Pixels { n: 1, h: 1.0 },
        };
        let root = r.root();
        let kids = r.split(&root).unwrap();
        assert_eq!(kids.len(), 2);
        let leaf = r.split(&kids[1]).is_none();
        assert!(leaf, "{kids:?}");
        assert_eq!(r.split(&kids[0]).unwrap().len(), 2);
    }

    #[test]
    fn half_extents_are_upper_bounds() {
        let stack = ExactStack {
            height: 2,
            width: 4,
            scale0: "2".parse().unwrap(),
            zoom_per_level: "2".parse().unwrap(),
            ..ExactStack::default()
        };
        let (hx, hy) = half_extents(&stack, 2); // s = 1/2: hx = 1/2, hy = 1/4
        assert!(hx >= 0.5 && hx - 0.5 < 1e-14 && hy >= 0.25 && hy - 0.25 < 1e-14);
    }
}
