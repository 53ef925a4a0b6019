//! The scalar reference: the notebook's arithmetic, one pixel at a time.
//!
//! This is the specification every backend must equal bit for bit. It is numpy 2.x on a CPU
//! with FMA (AVX2/AVX-512), which is where the notebook runs:
//!
//! * `Z * Z` for complex128 is `re = fma(zr, zr, -(zi * zi))`, `im = zr * zi + zi * zr`;
//! * then `+ C` adds the parts;
//! * `np.abs(Z) > 2.0` on a contiguous complex128 array runs numpy's SIMD `cabs`:
//!   `larger * sqrt(fma(ratio, ratio, 1.0))` with `ratio = smaller / larger` of `|re|`, `|im|`.
//!
//! Counts are 0-based: the pixel escaping on the first update gets 0; a pixel that never
//! escapes within `max_iter` updates gets `max_iter`.
//!
//! # Smooth escape values
//!
//! [`smooth_scalar`] gives each pixel a continuous value (an `f32`) next to its integer count,
//! which stays exactly what [`escape_scalar`] says:
//!
//! * A pixel with count `k < max_iter` continues the same orbit, with the same update
//!   ([`step`]), from `z_k` (the first `z` with [`numpy_abs`] `> 2`, after `k + 1` updates)
//!   until `|z_n|^2 > R^2` with the bailout `R = `[`SMOOTH_BAILOUT`]` = 2^10`, for at most
//!   [`SMOOTH_MAX_EXTRA`] more updates whatever `max_iter` is (`n` counts updates like `k`:
//!   `z_n` comes after `n + 1` updates). Then
//!   `nu = (n + 1) - log2(log2 |z_n|)`, with `log2 |z_n| = 0.5 * log2(zr^2 + zi^2)` in f64
//!   (`zr^2 + zi^2` as two products and a sum), rounded to `f32`. Both `log2` are this
//!   module's [`log2`], not std's: an exponent split and a fixed polynomial evaluated with a
//!   fixed sequence of correctly rounded operations (products and fused multiply-adds), so the
//!   lanes compute the same bits by construction; relative error at most
//!   [`LOG2_MAX_REL_ERROR`] `= 3e-15`. (The contract used std `log2` before; on the 809831
//!   escaping pixels of the benchmarks' level mix, 0, 3000, 20000, 60000 and 119999 at
//!   512 x 512, the f64 values differ from std's by at most 5.7e-14 and every `f32` value is
//!   the same. A pixel can differ by one `f32` ulp only where its f64 value lies that close to
//!   an `f32` rounding boundary.)
//! * A pixel with count `max_iter` (it never escaped) has the value `max_iter as f32`.
//!
//! This is the usual smooth iteration count `n + 1 - log2(ln |z_n| / ln R)` shifted by the
//! constant `log2(log2 R) = log2 10`, so values sit close to the counts: `nu` is within about
//! `(k - 0.5, k + 1]` for most escaping pixels, and it has no jump where the count steps by 1.
//! [`smooth_from_escape`] is the finishing step: the continuation ([`smooth_continue`]) and the
//! formula ([`smooth_nu`]). The backends run both over their lanes with the same operations
//! (`escape.rs`: the same update and tests, and [`log2`]'s steps), so they reach the same `n`
//! and `|z_n|^2` and the same value, and equal [`smooth_scalar`] bit for bit.

/// `np.abs` of a complex128 as numpy's SIMD loop computes it on FMA hardware.
///
/// ```
/// use zoomstack_kernel::spec::numpy_abs;
/// assert_eq!(numpy_abs(3.0, -4.0), 5.0);
/// assert_eq!(numpy_abs(0.0, 0.0), 0.0);
/// ```
#[inline]
pub fn numpy_abs(re: f64, im: f64) -> f64 {
    let (mut re, mut im) = (re.abs(), im.abs());
    if re.is_infinite() || im.is_infinite() {
        return f64::INFINITY;
    }
    if re.is_nan() || im.is_nan() {
        (re, im) = (f64::NAN, f64::NAN);
    }
    let larger = re.max(im);
    let smaller = re.min(im);
    let ratio = if larger == 0.0 || larger.is_infinite() {
        0.0
    } else {
        smaller / larger
    };
    ratio.mul_add(ratio, 1.0).sqrt() * larger
}

/// One update `z <- z * z + c` with numpy's rounding (see the module docs).
#[inline]
pub fn step(zr: f64, zi: f64, cr: f64, ci: f64) -> (f64, f64) {
    let re = zr.mul_add(zr, -(zi * zi));
    let t = zr * zi;
    (re + cr, (t + t) + ci)
}

/// The escape count of `c = cr + i ci`: the reference every backend must equal.
///
/// `max_iter` must be in `1..=65535` (the API functions check it).
///
/// ```
/// use zoomstack_kernel::spec::escape_scalar;
/// assert_eq!(escape_scalar(0.0, 0.0, 256), 256); // in the set
/// assert_eq!(escape_scalar(3.0, 0.0, 256), 0); // escapes on the first update
/// ```
pub fn escape_scalar(cr: f64, ci: f64, max_iter: u32) -> u16 {
    escape_orbit(cr, ci, max_iter).0 as u16
}

/// The count of `c` and the `z` it escaped with (`z_k`; the last `z` when it never escaped).
#[inline]
fn escape_orbit(cr: f64, ci: f64, max_iter: u32) -> (u32, f64, f64) {
    let (mut zr, mut zi) = (0.0f64, 0.0f64);
    for k in 0..max_iter {
        (zr, zi) = step(zr, zi, cr, ci);
        if numpy_abs(zr, zi) > 2.0 {
            return (k, zr, zi);
        }
    }
    (max_iter, zr, zi)
}

/// Bailout radius `R` of the smooth values' continuation (see the module docs): `2^10`.
pub const SMOOTH_BAILOUT: f64 = 1024.0;

/// Most updates the smooth values' continuation adds after the escape, whatever `max_iter` is.
pub const SMOOTH_MAX_EXTRA: u32 = 64;

/// The smooth value of a pixel that escaped with count `k` at `z_k = zr + i zi` (the first `z`
/// with [`numpy_abs`] `> 2`) for `c = cr + i ci`: [`smooth_continue`] then [`smooth_nu`]
/// (module docs). Every backend's smooth values equal it bit for bit.
///
/// ```
/// use zoomstack_kernel::spec::{log2, smooth_from_escape};
/// // c = 1: z = 1, 2, 5 (count 2), 26, 677, 458330 (n = 5).
/// let nu = smooth_from_escape(2, 5.0, 0.0, 1.0, 0.0);
/// assert_eq!(nu, (6.0 - log2(0.5 * log2(458330f64 * 458330.0))) as f32);
/// assert!(nu > 1.7 && nu < 2.0);
/// ```
// Inlined into each backend's loop, compiled for its instruction set (hardware FMA in `step`).
#[allow(clippy::inline_always)]
#[inline(always)]
pub fn smooth_from_escape(k: u32, zr: f64, zi: f64, cr: f64, ci: f64) -> f32 {
    let (n, s) = smooth_continue(k, zr, zi, cr, ci);
    smooth_nu(n, s)
}

/// The continuation of the smooth values (module docs): from `z_k = zr + i zi` with count `k`,
/// updates with [`step`] until `|z_n|^2 > `[`SMOOTH_BAILOUT`]`^2`, at most [`SMOOTH_MAX_EXTRA`]
/// times (a NaN `|z_n|^2` continues, as in the count loop). Returns `n` (as `f64`, an exact
/// integer) and `|z_n|^2 = zr^2 + zi^2` (two products and a sum, each rounded).
///
/// ```
/// use zoomstack_kernel::spec::smooth_continue;
/// // c = 1: z_2 = 5, then 26, 677, 458330 = z_5.
/// assert_eq!(smooth_continue(2, 5.0, 0.0, 1.0, 0.0), (5.0, 458330f64 * 458330.0));
/// ```
#[allow(clippy::inline_always)] // as `smooth_from_escape`
#[inline(always)]
pub fn smooth_continue(k: u32, zr: f64, zi: f64, cr: f64, ci: f64) -> (f64, f64) {
    const R2: f64 = SMOOTH_BAILOUT * SMOOTH_BAILOUT;
    let (mut zr, mut zi, mut n) = (zr, zi, f64::from(k));
    let mut s = zr * zr + zi * zi;
    let mut extra = 0;
    #[allow(clippy::neg_cmp_op_on_partial_ord)] // NaN continues, as the count loop does
    while !(s > R2) && extra < SMOOTH_MAX_EXTRA {
        (zr, zi) = step(zr, zi, cr, ci);
        s = zr * zr + zi * zi;
        n += 1.0;
        extra += 1;
    }
    (n, s)
}

/// The smooth value's formula (module docs): `(n + 1) - log2(log2 |z_n|)` with
/// `log2 |z_n| = 0.5 * log2(s)`, `s = |z_n|^2` as [`smooth_continue`] returns it, and both
/// `log2` this module's [`log2`], rounded to `f32`.
///
/// ```
/// use zoomstack_kernel::spec::smooth_nu;
/// // |z_n| = 2^16: log2 |z_n| = 16, log2 16 = 4.
/// assert_eq!(smooth_nu(5.0, 2f64.powi(32)), 2.0);
/// ```
#[allow(clippy::inline_always)] // as `smooth_from_escape`
#[inline(always)]
pub fn smooth_nu(n: f64, s: f64) -> f32 {
    let log2_abs = 0.5 * log2(s);
    ((n + 1.0) - log2(log2_abs)) as f32
}

/// `x = m 2^e` split by its bits: `e` is the biased exponent field minus 1023 and `m` the
/// mantissa field under the exponent of `1.0` (`1 <= m < 2`), both exact. For normal `x > 0`
/// that is `x = m 2^e`; for other `x` (zero, subnormal, negative, infinite, NaN) the parts
/// mean nothing, and [`log2`] does not use them.
///
/// ```
/// use zoomstack_kernel::spec::split_exponent;
/// assert_eq!(split_exponent(6.0), (2.0, 1.5));
/// assert_eq!(split_exponent(0.75), (-1.0, 1.5));
/// ```
#[allow(clippy::inline_always)] // as `smooth_from_escape`
#[inline(always)]
pub fn split_exponent(x: f64) -> (f64, f64) {
    let bits = x.to_bits();
    let e = ((bits >> 52) & 0x7ff) as f64 - 1023.0;
    let m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 1f64.to_bits());
    (e, m)
}

/// The coefficients of `P`, `c_0` (about `1 / ln 2`) first, with `log2(1 + f) ~ f P(f)` on
/// `sqrt(1/2) - 1 <= f <= sqrt(2) - 1` (degree 17: mpmath's `chebyfit` of `log2(1 + f) / f`
/// on that interval, rounded to f64; relative error of `P` itself 2.1e-15 after rounding).
pub const LOG2_POLY: [f64; 18] = [
    1.442695040888961,
    -0.7213475204444744,
    0.48089834696635186,
    -0.36067376022931874,
    0.2885390074459846,
    -0.2404491717654101,
    0.20609935165660867,
    -0.1803370456075891,
    0.16029707750652847,
    -0.14426173158514688,
    0.13120223089953834,
    -0.12041875891128528,
    0.11051433445433557,
    -0.10044652934071209,
    0.09704605528122602,
    -0.10715965704794955,
    0.10097695102587108,
    -0.04694320952454281,
];

/// The base-2 logarithm of the smooth values' contract: deterministic, the same bits on every
/// backend and instruction set, and within [`LOG2_MAX_REL_ERROR`] of the true `log2(x)`
/// for normal `x > 0`.
///
/// With `(e, m) = `[`split_exponent`]`(x)`, `m > sqrt 2` becomes `(e + 1, m / 2)`, so
/// `f = m - 1` (exact) is in `[sqrt(1/2) - 1, sqrt(2) - 1]`; then `P(f)` by Estrin's scheme
/// over [`LOG2_POLY`] (`log2_poly`: products and fused multiply-adds, `f64::mul_add`, an FMA
/// instruction or libm's correctly rounded `fma`), and `log2 x = fma(f, P(f), e)`. Only exact bit
/// operations, comparisons and correctly rounded `*`, `-` and `fma`, so the lanes compute the
/// same bits. `+inf` gives `+inf` and NaN gives NaN; zero, subnormals and negative `x` give NaN
/// (the smooth values pass only `x >= 1`, infinities and NaN).
///
/// ```
/// use zoomstack_kernel::spec::log2;
/// assert_eq!(log2(1.0), 0.0);
/// assert_eq!(log2(1024.0), 10.0);
/// assert!((log2(10.0) - 10f64.log2()).abs() < 1e-14);
/// assert_eq!(log2(f64::INFINITY), f64::INFINITY);
/// assert!(log2(0.0).is_nan() && log2(-1.0).is_nan() && log2(f64::NAN).is_nan());
/// ```
#[allow(clippy::inline_always)] // as `smooth_from_escape`
#[inline(always)]
pub fn log2(x: f64) -> f64 {
    let (e, m) = split_exponent(x);
    let (e, m) = if std::f64::consts::SQRT_2 < m {
        (e + 1.0, m * 0.5)
    } else {
        (e, m)
    };
    let f = m - 1.0;
    let r = f.mul_add(log2_poly(f), e);
    if x < f64::MIN_POSITIVE {
        f64::NAN
    } else if x < f64::INFINITY {
        r
    } else {
        x
    }
}

/// A number type [`log2_poly`] runs on: `f64` here, the lane vectors in the kernel.
pub(crate) trait PolyNum: Copy + std::ops::Mul<Output = Self> {
    /// `x` (in every lane).
    fn constant(x: f64) -> Self;
    /// `a * b + c`, rounded once.
    fn fma(a: Self, b: Self, c: Self) -> Self;
}

#[allow(clippy::inline_always)] // as `smooth_from_escape`
impl PolyNum for f64 {
    #[inline(always)]
    fn constant(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn fma(a: Self, b: Self, c: Self) -> Self {
        a.mul_add(b, c)
    }
}

/// `P(f)` of [`log2`] by Estrin's scheme over [`LOG2_POLY`] (`c_i`, `i = 0..=17`): with
/// `fma(a, b, c) = a b + c` rounded once, `f2 = f f`, `f4 = f2 f2`, `f8 = f4 f4`,
/// `f16 = f8 f8`, then `q_i = fma(c_(2i+1), f, c_2i)`, `r_j = fma(q_(2j+1), f2, q_2j)`,
/// `s_l = fma(r_(2l+1), f4, r_2l)`, `t = fma(s_1, f8, s_0)` and `P = fma(q_8, f16, t)`. Generic
/// over the number type so that the reference and the lanes evaluate the same operations in
/// the same order (only direct `#[inline(always)]` calls: no closures, which would keep the
/// lanes' intrinsics out of line).
#[allow(clippy::inline_always)] // as `smooth_from_escape`
#[inline(always)]
pub(crate) fn log2_poly<T: PolyNum>(f: T) -> T {
    let c = &LOG2_POLY;
    let f2 = f * f;
    let f4 = f2 * f2;
    let f8 = f4 * f4;
    let f16 = f8 * f8;
    let q0 = T::fma(T::constant(c[1]), f, T::constant(c[0]));
    let q1 = T::fma(T::constant(c[3]), f, T::constant(c[2]));
    let q2 = T::fma(T::constant(c[5]), f, T::constant(c[4]));
    let q3 = T::fma(T::constant(c[7]), f, T::constant(c[6]));
    let q4 = T::fma(T::constant(c[9]), f, T::constant(c[8]));
    let q5 = T::fma(T::constant(c[11]), f, T::constant(c[10]));
    let q6 = T::fma(T::constant(c[13]), f, T::constant(c[12]));
    let q7 = T::fma(T::constant(c[15]), f, T::constant(c[14]));
    let q8 = T::fma(T::constant(c[17]), f, T::constant(c[16]));
    let r0 = T::fma(q1, f2, q0);
    let r1 = T::fma(q3, f2, q2);
    let r2 = T::fma(q5, f2, q4);
    let r3 = T::fma(q7, f2, q6);
    let s0 = T::fma(r1, f4, r0);
    let s1 = T::fma(r3, f4, r2);
    let t = T::fma(s1, f8, s0);
    T::fma(q8, f16, t)
}

/// A bound on the relative error of [`log2`] for normal `x > 0` (`|log2(x) / L - 1|`, `L` the
/// true value; `log2(1) = 0` exactly). The polynomial alone is within 2.1e-15 (evaluated
/// exactly, over 20001 points of the interval); measured against std `log2` over about 42
/// million points (`tests::log2_matches_std`): worst 2.44e-15 (at `x = 0.712`).
pub const LOG2_MAX_REL_ERROR: f64 = 3e-15;

/// The smooth escape value of `c = cr + i ci` (module docs): the reference every backend's
/// smooth values must equal. `max_iter` must be in `1..=65535`.
///
/// ```
/// use zoomstack_kernel::spec::{escape_scalar, smooth_scalar};
/// assert_eq!(smooth_scalar(0.0, 0.0, 256), 256.0); // in the set: max_iter
/// let (k, nu) = (escape_scalar(0.3, 0.5, 256), smooth_scalar(0.3, 0.5, 256));
/// assert!(f32::from(k) - 1.0 < nu && nu < f32::from(k) + 1.5, "{k} {nu}");
/// ```
pub fn smooth_scalar(cr: f64, ci: f64, max_iter: u32) -> f32 {
    match escape_orbit(cr, ci, max_iter) {
        (k, zr, zi) if k < max_iter => smooth_from_escape(k, zr, zi, cr, ci),
        _ => max_iter as f32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_zero_based() {
        // c = 1: z = 1, 2, 5 -> escapes on the third update (k = 2).
        assert_eq!(escape_scalar(1.0, 0.0, 256), 2);
        // c = -2 stays at |z| = 2 forever: not > 2.
        assert_eq!(escape_scalar(-2.0, 0.0, 256), 256);
        assert_eq!(escape_scalar(0.0, 0.0, 1), 1);
        assert_eq!(escape_scalar(0.0, 0.0, 65535), 65535);
    }

    /// [`log2`] against std `log2`: a dense sweep of every binade's mantissas (`[1, 4)` in
    /// steps of `2^-20`, so both sides of `sqrt 2` and of each power of 2, shifted to many
    /// binades), points close to 1, and random normal `x`; the worst relative error must be
    /// within [`LOG2_MAX_REL_ERROR`] (printed: `cargo test -p zoomstack-kernel --lib -- log2
    /// --nocapture`).
    #[test]
    fn log2_matches_std() {
        let (mut worst, mut at, mut checked) = (0.0f64, 0.0f64, 0u64);
        let mut check = |x: f64| {
            let (got, want) = (log2(x), x.log2());
            let err = if want == 0.0 {
                got.abs()
            } else {
                (got / want - 1.0).abs()
            };
            if err > worst || err.is_nan() {
                (worst, at) = (err, x);
            }
            checked += 1;
        };
        for i in 0..(3u64 << 20) {
            let m = 1.0 + i as f64 / f64::from(1u32 << 20);
            for e in [-1022, -500, -3, -1, 0, 1, 2, 9, 19, 40, 300, 1022] {
                check(m * 2f64.powi(e));
            }
        }
        for i in 1..1_000_000u64 {
            let d = i as f64 * 2f64.powi(-40);
            check(1.0 + d);
            check(1.0 - d);
        }
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..2_000_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let x = f64::from_bits(state >> 1); // positive: NaN, inf or subnormal skipped
            if x.is_normal() {
                check(x);
            }
        }
        eprintln!("log2: {checked} points, worst relative error {worst:e} at {at:e}");
        assert!(worst <= LOG2_MAX_REL_ERROR, "{worst:e} at {at:e}");
    }

    #[test]
    #[allow(clippy::float_cmp)] // exact values
    fn log2_exact_cases() {
        for e in -1022..1024 {
            assert_eq!(log2(2f64.powi(e)), f64::from(e));
        }
        assert_eq!(log2(f64::INFINITY), f64::INFINITY);
        for x in [0.0, -0.0, 1e-310, -1.0, f64::NEG_INFINITY, f64::NAN] {
            assert!(log2(x).is_nan(), "{x}");
        }
    }

    #[test]
    #[allow(clippy::float_cmp)] // exactness test: numpy's special values, bit for bit
    fn numpy_abs_special_values() {
        assert_eq!(numpy_abs(f64::INFINITY, f64::NAN), f64::INFINITY);
        assert!(numpy_abs(f64::NAN, 1.0).is_nan());
        assert_eq!(numpy_abs(-2.0, 0.0), 2.0);
    }
}
