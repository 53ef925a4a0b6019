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
    let (mut zr, mut zi) = (0.0f64, 0.0f64);
    for k in 0..max_iter {
        (zr, zi) = step(zr, zi, cr, ci);
        if numpy_abs(zr, zi) > 2.0 {
            return k as u16;
        }
    }
    max_iter as u16
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
