//! [`OrbitBounds`]: the stored f64 points `Zf_n` of a reference orbit, with rigorous bounds
//! `delta_n >= |Zf_n - Z_n|` against the true orbit `Z_n` of the exact centre `C`.
//!
//! The orbit is `Zhat_(n+1) = Zhat_n^2 + Chat` in `p`-bit arithmetic (each operation rounded once,
//! `Chat` the centre rounded to `p` bits), stored as `Zf_n`, the f64 nearest to `Zhat_n`. With
//! `u = 2^(1-p)` (one ulp: the bound holds for faithful rounding, not only for nearest), one
//! update is `Zhat_n^2 + Chat + l_n` with `|l_n| <= 5.01 u (|Zhat_n|^2 + |Chat|_1)` (the real
//! part rounds four times, the imaginary part twice; the parent module's doc derives it; `|C|_1`
//! below is computed with enough slack to cover `|Chat|_1`), so `e_n = |Zhat_n - Z_n|` obeys
//!
//! ```text
//! e_0 = 0,   e_(n+1) <= 2 |Zhat_n| e_n + e_n^2 + 2^(4-p) (|Zhat_n|^2 + |C|_1) + |C - Chat|
//! ```
//!
//! (`Zhat_n^2 - Z_n^2 = (Zhat_n - Z_n)(Zhat_n + Z_n)`). The f64 rounding of each stored point is
//! fresh, not propagated: `delta_n = e_n + 2^-51 |Zf_n| + 2^-1022` (a component is within one ulp,
//! 2^-52 of itself, of the big value; the absolute term covers subnormals), and
//! `|Zhat_n| <= (1 + 2^-51) |Zf_n| + 2^-1022`. Every bound is computed rounding up ([`Up`]).

use super::round::{Cx, Up};
use crate::exact::ReferenceOrbit;
use crate::exact::real::{ExactReal, Prec};

/// The orbit points a proof uses and their error bounds, index `n` for `Z_n`.
pub(super) struct OrbitBounds {
    /// `Zf_n` as stored.
    pub(super) z: Vec<Cx>,
    /// Upper bounds of `|Zf_n|`.
    pub(super) zabs: Vec<Up>,
    /// Upper bounds of `|Zf_n - Z_n|`, `Z_n` the true orbit of the exact centre.
    pub(super) delta: Vec<Up>,
}

/// `2^max(e, -1000)`: at least `2^e`, and a normal f64.
fn pow2_at_least(e: i64) -> f64 {
    2f64.powi(e.max(-1000) as i32)
}

/// An upper bound of `|x|` from its nearest f64 (within one ulp; the absolute term covers a
/// subnormal).
fn abs_up(x: &ExactReal) -> Up {
    Up(x.to_f64().abs()) * (1.0 + pow2_at_least(-50)) + f64::MIN_POSITIVE
}

/// An upper bound of `|x - round_p(x)|`: the difference of `x` at `p + 64` bits and at `p`
/// bits, plus what the wider rounding and the subtraction can hide.
fn residual_up(x: &ExactReal, p: usize) -> Up {
    let q = p + 64;
    let d = Prec::new(q).sub(&x.to_big(q), &x.to_big(p));
    let d = Up(d.to_f64().value().abs()) * (1.0 + pow2_at_least(-50)) + f64::MIN_POSITIVE;
    d + abs_up(x) * pow2_at_least(-(q as i64) + 2)
}

impl OrbitBounds {
    /// The bounds of `orbit`'s points `Z_0 ..= Z_min(last, max_iter)`.
    pub(super) fn new(orbit: &ReferenceOrbit, max_iter: u32) -> Self {
        let p = orbit.precision();
        let pts = orbit.points();
        let pts = &pts[..pts.len().min(max_iter as usize + 1)];
        let (cr, ci) = (orbit.center_re(), orbit.center_im());
        let c1 = abs_up(cr) + abs_up(ci);
        let res = residual_up(cr, p) + residual_up(ci, p);
        let unit = pow2_at_least(4 - p as i64);
        let rel = pow2_at_least(-51);
        let (mut z, mut zabs, mut delta) = (
            Vec::with_capacity(pts.len()),
            Vec::with_capacity(pts.len()),
            Vec::with_capacity(pts.len()),
        );
        let mut e = Up(0.0);
        for pt in pts {
            let zf = Cx::new(pt[0], pt[1]);
            let za = zf.abs_up();
            let zhat = za * (1.0 + rel) + f64::MIN_POSITIVE;
            z.push(zf);
            zabs.push(za);
            delta.push(e + za * rel + f64::MIN_POSITIVE);
            let local = Up(unit) * (zhat.sq() + c1) + res;
            e = Up(2.0) * zhat * e + e.sq() + local;
        }
        OrbitBounds { z, zabs, delta }
    }

    /// Number of points held (`Z_0 ..= Z_(len-1)`).
    pub(super) fn len(&self) -> usize {
        self.z.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exact::ExactStack;

    #[test]
    fn bounds_are_small_and_grow_with_the_derivative() {
        let stack = ExactStack::default();
        let orbit = ReferenceOrbit::for_level(&stack, 140000).unwrap();
        let b = OrbitBounds::new(&orbit, stack.max_iter);
        assert_eq!(b.len(), 252);
        // Z_0 = 0 exactly: only the bumps of exact zeros (about 1e-162 after the square root).
        assert!(b.delta[0].0 < 1e-150);
        // The f64 rounding of each point dominates: about 2^-51 |Zf_n|.
        assert!(b.delta.iter().all(|d| d.0 < 1e-14), "{:?}", b.delta.last());
        // A decimal centre's own rounding is carried too, amplified along the orbit.
        let dec = ExactStack {
            center_re: "-0.743645857047151".parse().unwrap(),
            center_im: "0.13182592380533".parse().unwrap(),
            ..stack
        };
        let orbit = ReferenceOrbit::for_level(&dec, 140000).unwrap();
        let d = OrbitBounds::new(&orbit, dec.max_iter);
        assert!(d.delta.iter().all(|d| d.0.is_finite() && d.0 < 1e-14));
        let short = OrbitBounds::new(&orbit, 10);
        assert_eq!(short.len(), 11);
    }
}
