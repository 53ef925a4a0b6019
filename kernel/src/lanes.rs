//! The small vector trait the one escape loop is written over, and its three widths.
//!
//! Only two operations need care for exactness:
//! * [`Lanes::fused_mul_sub`] must round once. `wide` fuses only when the `fma` target feature
//!   is compiled in; otherwise this falls back to `f64::mul_add` per lane (exact, slower).
//! * [`Lanes::fused_mul_add`] (used by the exact mode's delta loop) likewise rounds once.
//! * [`Lanes::double_plus`] computes `(t + t) + c`; `t + t` is exact, so on FMA builds it is
//!   the single fused `t * 2 + c`, which rounds identically.

use std::ops::{Add, Mul};
use wide::{f64x4, f64x8};

/// Whether `wide`'s `mul_add`/`mul_sub` are single-rounding in this build.
pub const FUSED: bool = cfg!(any(
    target_feature = "fma",
    all(target_arch = "aarch64", target_feature = "neon")
));

/// A vector of `N` f64 lanes.
pub trait Lanes: Copy + Add<Output = Self> + Mul<Output = Self> {
    /// Number of lanes.
    const N: usize;
    /// Every lane `x`.
    fn splat(x: f64) -> Self;
    /// Lanes from `x[..N]`.
    fn load(x: &[f64]) -> Self;
    /// Lanes into `out[..N]`.
    fn store(self, out: &mut [f64]);
    /// `a * b - c`, rounded once.
    fn fused_mul_sub(a: Self, b: Self, c: Self) -> Self;
    /// `a * b + c`, rounded once.
    fn fused_mul_add(a: Self, b: Self, c: Self) -> Self;
    /// `(t + t) + c`, exactly as two IEEE additions would round it.
    fn double_plus(t: Self, c: Self) -> Self;
    /// Bit `i` set where lane `i` has `!(zr^2 + zi^2 <= threshold)` (NaN counts as set).
    fn outside_mask(zr: Self, zi: Self, threshold: Self) -> u32;
    /// Bit `i` set where lane `i` has `a >= b`.
    fn ge_mask(a: Self, b: Self) -> u32;
    /// Bit `i` set where lane `i` has `a <= b` (clear for NaN).
    fn le_mask(a: Self, b: Self) -> u32;
    /// Bit `i` set where lane `i` has `a < b` (clear for NaN).
    fn lt_mask(a: Self, b: Self) -> u32;
    /// Lane `i` of `x` where `a < b` in lane `i`, else of `y`.
    fn select_lt(a: Self, b: Self, x: Self, y: Self) -> Self;
}

// The escape loop's per-lane primitives must inline into its hot loop; `#[inline]` is only a hint.
#[allow(clippy::inline_always)]
impl Lanes for f64 {
    const N: usize = 1;
    #[inline(always)]
    fn splat(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn load(x: &[f64]) -> Self {
        x[0]
    }
    #[inline(always)]
    fn store(self, out: &mut [f64]) {
        out[0] = self;
    }
    #[inline(always)]
    fn fused_mul_sub(a: Self, b: Self, c: Self) -> Self {
        a.mul_add(b, -c)
    }
    #[inline(always)]
    fn fused_mul_add(a: Self, b: Self, c: Self) -> Self {
        a.mul_add(b, c)
    }
    #[inline(always)]
    fn double_plus(t: Self, c: Self) -> Self {
        (t + t) + c
    }
    #[inline(always)]
    fn outside_mask(zr: Self, zi: Self, threshold: Self) -> u32 {
        let s = zr * zr + zi * zi;
        u32::from(s > threshold || s.is_nan())
    }
    #[inline(always)]
    fn ge_mask(a: Self, b: Self) -> u32 {
        u32::from(a >= b)
    }
    #[inline(always)]
    fn le_mask(a: Self, b: Self) -> u32 {
        u32::from(a <= b)
    }
    #[inline(always)]
    fn lt_mask(a: Self, b: Self) -> u32 {
        u32::from(a < b)
    }
    #[inline(always)]
    fn select_lt(a: Self, b: Self, x: Self, y: Self) -> Self {
        if a < b { x } else { y }
    }
}

macro_rules! wide_lanes {
    ($t:ty, $n:expr) => {
        impl Lanes for $t {
            const N: usize = $n;
            #[inline(always)]
            fn splat(x: f64) -> Self {
                <$t>::splat(x)
            }
            #[inline(always)]
            fn load(x: &[f64]) -> Self {
                let a: [f64; $n] = x[..$n].try_into().expect("slice of N lanes");
                <$t>::new(a)
            }
            #[inline(always)]
            fn store(self, out: &mut [f64]) {
                out[..$n].copy_from_slice(&self.to_array());
            }
            #[inline(always)]
            fn fused_mul_sub(a: Self, b: Self, c: Self) -> Self {
                if FUSED {
                    a.mul_sub(b, c)
                } else {
                    let (a, b, c) = (a.to_array(), b.to_array(), c.to_array());
                    <$t>::new(std::array::from_fn(|i| a[i].mul_add(b[i], -c[i])))
                }
            }
            #[inline(always)]
            fn fused_mul_add(a: Self, b: Self, c: Self) -> Self {
                if FUSED {
                    a.mul_add(b, c)
                } else {
                    let (a, b, c) = (a.to_array(), b.to_array(), c.to_array());
                    <$t>::new(std::array::from_fn(|i| a[i].mul_add(b[i], c[i])))
                }
            }
            #[inline(always)]
            fn double_plus(t: Self, c: Self) -> Self {
                if FUSED {
                    t.mul_add(<$t>::splat(2.0), c)
                } else {
                    (t + t) + c
                }
            }
            #[inline(always)]
            fn outside_mask(zr: Self, zi: Self, threshold: Self) -> u32 {
                let s = zr * zr + zi * zi;
                // `simd_le` is false for NaN, so NaN lanes land in the mask.
                !s.simd_le(threshold).to_bitmask() & ((1u32 << $n) - 1)
            }
            #[inline(always)]
            fn ge_mask(a: Self, b: Self) -> u32 {
                a.simd_ge(b).to_bitmask()
            }
            #[inline(always)]
            fn le_mask(a: Self, b: Self) -> u32 {
                a.simd_le(b).to_bitmask()
            }
            #[inline(always)]
            fn lt_mask(a: Self, b: Self) -> u32 {
                a.simd_lt(b).to_bitmask()
            }
            #[inline(always)]
            fn select_lt(a: Self, b: Self, x: Self, y: Self) -> Self {
                a.simd_lt(b).bitselect(x, y)
            }
        }
    };
}

wide_lanes!(f64x4, 4);
wide_lanes!(f64x8, 8);
