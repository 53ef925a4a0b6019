//! Rigorous bounds on top of round-to-nearest f64: [`Up`] (upper bounds), [`Dn`] (lower
//! bounds), and [`Cx`], a complex f64 value whose operations have the documented error bounds.
//!
//! An operation rounded to nearest lands within half a gap of the exact result, so the next
//! f64 above it (`next_up`) is at least the exact result, and the one below (`next_down`) at
//! most, for every sign and magnitude, subnormals and overflow included (`inf` stays `inf`).
//! NaN stays NaN, and every decision compares so that NaN means "not proven".

use std::ops::{Add, Mul, Sub};

/// `|fl(a + b) - (a + b)| <= ADD_ERR |fl(a + b)|` for a complex f64 sum (each component is within
/// 2^-53 of its exact value; an addition never underflows inexactly).
pub(super) const ADD_ERR: f64 = 1.0 / (1u64 << 52) as f64;

/// `|fl(a b) - a b| <= MUL_ERR |a| |b| + MUL_ABS` for the complex product `(ar br - ai bi,
/// ar bi + ai br)` in f64: per component two product roundings and one sum rounding, at most
/// `(2 + 2^-53) 2^-53 (|ar br| + |ai bi|) <= 2^-51.9 |a||b|`, and `sqrt 2` for the modulus.
pub(super) const MUL_ERR: f64 = 1.0 / (1u64 << 51) as f64;

/// Absolute part of [`MUL_ERR`]: a product that underflows is off by up to 2^-1075 per component.
pub(super) const MUL_ABS: f64 = f64::MIN_POSITIVE / (1u64 << 48) as f64; // 2^-1070

/// The next f64 above `x`: for a finite `x >= +0` (every bound here) the next bit pattern,
/// else the general `next_up` (which keeps NaN and infinities, and handles `-0` and negatives).
#[inline]
fn bump(x: f64) -> f64 {
    if x.is_sign_positive() && x < f64::INFINITY {
        f64::from_bits(x.to_bits() + 1)
    } else {
        x.next_up()
    }
}

/// An upper bound: every operation rounds up.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub(super) struct Up(pub(super) f64);

/// A lower bound: subtracting an upper bound rounds down.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub(super) struct Dn(pub(super) f64);

impl Add for Up {
    type Output = Up;
    #[inline]
    fn add(self, b: Up) -> Up {
        Up(bump(self.0 + b.0))
    }
}

impl Add<f64> for Up {
    type Output = Up;
    #[inline]
    fn add(self, b: f64) -> Up {
        Up(bump(self.0 + b))
    }
}

impl Mul for Up {
    type Output = Up;
    #[inline]
    fn mul(self, b: Up) -> Up {
        Up(bump(self.0 * b.0))
    }
}

impl Mul<f64> for Up {
    type Output = Up;
    #[inline]
    fn mul(self, b: f64) -> Up {
        Up(bump(self.0 * b))
    }
}

impl Sub<Up> for Dn {
    type Output = Dn;
    #[inline]
    fn sub(self, b: Up) -> Dn {
        Dn((self.0 - b.0).next_down())
    }
}

impl Up {
    /// `self^2`, rounded up.
    #[inline]
    pub(super) fn sq(self) -> Up {
        self * self
    }

    /// The larger bound; NaN if either is NaN (`f64::max` would drop a NaN).
    #[inline]
    pub(super) fn max(self, b: Up) -> Up {
        if self.0.is_nan() || b.0.is_nan() {
            Up(f64::NAN)
        } else {
            Up(self.0.max(b.0))
        }
    }

    /// True when the bound is at most `x`; false for NaN.
    #[inline]
    pub(super) fn at_most(self, x: f64) -> bool {
        self.0 <= x
    }
}

/// A complex f64 value (a midpoint; its error bounds travel separately).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(super) struct Cx {
    pub(super) re: f64,
    pub(super) im: f64,
}

impl Cx {
    pub(super) const ZERO: Cx = Cx { re: 0.0, im: 0.0 };
    pub(super) const ONE: Cx = Cx { re: 1.0, im: 0.0 };

    pub(super) fn new(re: f64, im: f64) -> Self {
        Cx { re, im }
    }

    /// `2 self`: exact (an overflow gives an infinity, which fails every bound).
    #[inline]
    pub(super) fn double(self) -> Cx {
        Cx::new(self.re + self.re, self.im + self.im)
    }

    /// An upper bound of `|self|`.
    #[inline]
    pub(super) fn abs_up(self) -> Up {
        let s = (Up(self.re) * Up(self.re)) + (Up(self.im) * Up(self.im));
        Up(bump(s.0.sqrt()))
    }

    /// An upper bound of `|self|` without a square root, `|re| + |im|` (at most `sqrt 2` above
    /// `|self|`): for rounding-error terms, where that slack does not matter.
    #[inline]
    pub(super) fn abs1_up(self) -> Up {
        Up(self.re.abs()) + Up(self.im.abs())
    }

    /// A lower bound of `|self|` (NaN stays NaN).
    #[inline]
    pub(super) fn abs_dn(self) -> Dn {
        let sq = |x: f64| {
            let v = (x * x).next_down();
            if v < 0.0 { 0.0 } else { v }
        };
        let s = (sq(self.re) + sq(self.im)).next_down();
        let s = if s < 0.0 { 0.0 } else { s };
        Dn(s.sqrt().next_down())
    }

    /// True when both parts are finite.
    #[inline]
    pub(super) fn is_finite(self) -> bool {
        self.re.is_finite() && self.im.is_finite()
    }
}

impl Add for Cx {
    type Output = Cx;
    #[inline]
    fn add(self, b: Cx) -> Cx {
        Cx::new(self.re + b.re, self.im + b.im)
    }
}

impl Sub for Cx {
    type Output = Cx;
    #[inline]
    fn sub(self, b: Cx) -> Cx {
        Cx::new(self.re - b.re, self.im - b.im)
    }
}

impl Mul for Cx {
    type Output = Cx;
    /// Unfused (Rust never contracts `a * b - c * d` into an FMA), so [`MUL_ERR`] holds.
    #[inline]
    fn mul(self, b: Cx) -> Cx {
        Cx::new(
            self.re * b.re - self.im * b.im,
            self.re * b.im + self.im * b.re,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_enclose_the_exact_results() {
        // 0.1 + 0.2 is inexact in f64; the bound is above the true sum of the two f64 values.
        let (a, b) = (0.1f64, 0.2f64);
        let up = Up(a) + Up(b);
        assert!(up.0 > a + b);
        let dn = Dn(a) - Up(-b);
        assert!(dn.0 < a + b);
        // Underflow: the product of two tiny numbers is above zero as a bound.
        assert!((Up(1e-200) * Up(1e-200)).0 > 0.0);
        assert!((Up(f64::MAX) * Up(2.0)).0.is_infinite());
        let z = Cx::new(3.0, 4.0);
        assert!(z.abs_up().0 >= 5.0 && z.abs_dn().0 <= 5.0);
        assert!(z.abs_up().0 - 5.0 < 1e-14 && 5.0 - z.abs_dn().0 < 1e-14);
        assert!(Cx::ZERO.abs_dn().0 <= 0.0);
    }

    #[test]
    fn nan_never_proves() {
        let nan = Up(f64::NAN);
        assert!(!nan.at_most(2.0));
        assert!(!(Up(1.0) + nan).at_most(2.0));
        assert!(Up(1.0).max(nan).0.is_nan());
        // A NaN lower bound (and inf - inf) is never "above 2" (decisions test `lb > 2`).
        assert!(Cx::new(f64::NAN, 0.0).abs_dn().0.is_nan());
        assert!((Dn(f64::INFINITY) - Up(f64::INFINITY)).0.is_nan());
    }
}
