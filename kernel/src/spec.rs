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
//!   `nu = n + 1 - log2(log2 |z_n|)`, with `log2 |z_n| = 0.5 * log2(zr^2 + zi^2)` in f64
//!   (std `log2`; `zr^2 + zi^2` as two products and a sum), rounded to `f32`.
//! * A pixel with count `max_iter` (it never escaped) has the value `max_iter as f32`.
//!
//! This is the usual smooth iteration count `n + 1 - log2(ln |z_n| / ln R)` shifted by the
//! constant `log2(log2 R) = log2 10`, so values sit close to the counts: `nu` is within about
//! `(k - 0.5, k + 1]` for most escaping pixels, and it has no jump where the count steps by 1.
//! [`smooth_from_escape`] is the finishing step: the continuation ([`smooth_continue`]) and the
//! formula ([`smooth_nu`]). The backends run the continuation over their lanes with the same
//! update and the same tests (`escape.rs`), so they reach the same `n` and `|z_n|^2`, and
//! equal [`smooth_scalar`] bit for bit.

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
/// use zoomstack_kernel::spec::smooth_from_escape;
/// // c = 1: z = 1, 2, 5 (count 2), 26, 677, 458330 (n = 5).
/// let nu = smooth_from_escape(2, 5.0, 0.0, 1.0, 0.0);
/// assert_eq!(nu, (6.0 - (0.5 * (458330f64 * 458330.0).log2()).log2()) as f32);
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

/// The smooth value's formula (module docs): `n + 1 - log2(log2 |z_n|)` with
/// `log2 |z_n| = 0.5 * log2(s)`, `s = |z_n|^2` as [`smooth_continue`] returns it, rounded to
/// `f32`.
///
/// ```
/// use zoomstack_kernel::spec::smooth_nu;
/// // |z_n| = 2^16: log2 |z_n| = 16, log2 16 = 4.
/// assert_eq!(smooth_nu(5.0, 2f64.powi(32)), 2.0);
/// ```
#[allow(clippy::inline_always)] // as `smooth_from_escape`
#[inline(always)]
pub fn smooth_nu(n: f64, s: f64) -> f32 {
    let log2_abs = 0.5 * s.log2();
    (n + 1.0 - log2_abs.log2()) as f32
}

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

    #[test]
    #[allow(clippy::float_cmp)] // exactness test: numpy's special values, bit for bit
    fn numpy_abs_special_values() {
        assert_eq!(numpy_abs(f64::INFINITY, f64::NAN), f64::INFINITY);
        assert!(numpy_abs(f64::NAN, 1.0).is_nan());
        assert_eq!(numpy_abs(-2.0, 0.0), 2.0);
    }
}
