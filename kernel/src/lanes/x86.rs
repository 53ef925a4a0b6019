//! The x86-64 targets above the baseline and their intrinsic lane types.
//!
//! Safety: the target-feature trampolines and the intrinsics below may only run on a CPU that
//! has the features. The crate guarantees this in one place: `crate::backend` instantiates a
//! lane type of [`Avx2Fma`] or [`Avx512`] only when [`crate::Isa::current`] is at least that
//! level, and `current` is never above [`crate::Isa::detected`] (`is_x86_feature_detected!`).
//! The lane types are crate-private, so no other code can make one.
#![allow(unsafe_code)] // target-feature functions and intrinsics; see the module docs

use super::{Inside, Lanes, Target};
use crate::Isa;
use std::arch::x86_64::{
    __m256d, __m512d, _CMP_GE_OQ, _CMP_LE_OQ, _CMP_LT_OQ, _CMP_NLE_UQ, _mm256_add_pd,
    _mm256_and_si256, _mm256_blendv_pd, _mm256_castpd_si256, _mm256_castsi256_pd, _mm256_cmp_pd,
    _mm256_fmadd_pd, _mm256_fmsub_pd, _mm256_loadu_pd, _mm256_movemask_pd, _mm256_mul_pd,
    _mm256_or_si256, _mm256_set1_epi64x, _mm256_set1_pd, _mm256_srli_epi64, _mm256_storeu_pd,
    _mm256_sub_pd, _mm512_add_pd, _mm512_and_si512, _mm512_castpd_si512, _mm512_castsi512_pd,
    _mm512_cmp_pd_mask, _mm512_fmadd_pd, _mm512_fmsub_pd, _mm512_loadu_pd, _mm512_mask_blend_pd,
    _mm512_mul_pd, _mm512_or_si512, _mm512_set1_epi64, _mm512_set1_pd, _mm512_srli_epi64,
    _mm512_storeu_pd, _mm512_sub_pd,
};
use std::marker::PhantomData;
use std::ops::{Add, Mul};

/// AVX2 and FMA.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Avx2Fma;

/// AVX-512F and AVX-512VL, with AVX2 and FMA.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Avx512;

impl Target for Avx2Fma {
    const FMA: bool = true;
    #[allow(clippy::inline_always)] // the trampoline below is the function boundary
    #[inline(always)]
    fn enter<F: Inside>(f: F) -> F::Output {
        #[target_feature(enable = "avx2,fma")]
        #[inline(never)]
        fn avx2_fma<F: Inside>(f: F) -> F::Output {
            f.run()
        }
        debug_assert!(Isa::detected() >= Isa::Avx2Fma);
        // SAFETY: only reached on CPUs with AVX2 and FMA (module docs).
        unsafe { avx2_fma(f) }
    }
}

impl Target for Avx512 {
    const FMA: bool = true;
    #[allow(clippy::inline_always)] // the trampoline below is the function boundary
    #[inline(always)]
    fn enter<F: Inside>(f: F) -> F::Output {
        #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
        #[inline(never)]
        fn avx512<F: Inside>(f: F) -> F::Output {
            f.run()
        }
        debug_assert!(Isa::detected() >= Isa::Avx512);
        // SAFETY: only reached on CPUs with AVX-512F/VL, AVX2 and FMA (module docs).
        unsafe { avx512(f) }
    }
}

/// Four lanes in one `__m256d` (AVX2 + FMA instructions), on target `T` ([`Avx2Fma`], or
/// [`Avx512`], where the same code may use 32 vector registers).
#[derive(Debug, Clone, Copy)]
pub(crate) struct X4<T>(__m256d, PhantomData<T>);

/// Eight lanes in one `__m512d` (AVX-512F instructions).
#[derive(Debug, Clone, Copy)]
pub(crate) struct X8(__m512d);

// SAFETY (every `unsafe` block below): the intrinsics need AVX2 + FMA (X4) or AVX-512F (X8),
// which the CPU has wherever a value of these types exists (module docs).
#[allow(clippy::inline_always)] // lane primitives: they must inline into the loops
impl<T> Add for X4<T> {
    type Output = Self;
    #[inline(always)]
    fn add(self, b: Self) -> Self {
        X4(unsafe { _mm256_add_pd(self.0, b.0) }, PhantomData)
    }
}

#[allow(clippy::inline_always)] // lane primitives: they must inline into the loops
impl<T> Mul for X4<T> {
    type Output = Self;
    #[inline(always)]
    fn mul(self, b: Self) -> Self {
        X4(unsafe { _mm256_mul_pd(self.0, b.0) }, PhantomData)
    }
}

impl<T> X4<T> {
    #[allow(clippy::inline_always)] // a lane primitive
    #[inline(always)]
    fn bits(m: __m256d) -> u32 {
        (unsafe { _mm256_movemask_pd(m) }) as u32
    }
}

#[allow(clippy::inline_always)] // lane primitives: they must inline into the loops
impl<T: Target> Lanes for X4<T> {
    type Target = T;
    const N: usize = 4;
    #[inline(always)]
    fn splat(x: f64) -> Self {
        X4(unsafe { _mm256_set1_pd(x) }, PhantomData)
    }
    #[inline(always)]
    fn load(x: &[f64]) -> Self {
        let x = &x[..4];
        // SAFETY: also, `x` holds 4 f64s.
        X4(unsafe { _mm256_loadu_pd(x.as_ptr()) }, PhantomData)
    }
    #[inline(always)]
    fn store(self, out: &mut [f64]) {
        let out = &mut out[..4];
        // SAFETY: also, `out` holds 4 f64s.
        unsafe { _mm256_storeu_pd(out.as_mut_ptr(), self.0) }
    }
    #[inline(always)]
    fn fused_mul_sub(a: Self, b: Self, c: Self) -> Self {
        X4(unsafe { _mm256_fmsub_pd(a.0, b.0, c.0) }, PhantomData)
    }
    #[inline(always)]
    fn fused_mul_add(a: Self, b: Self, c: Self) -> Self {
        X4(unsafe { _mm256_fmadd_pd(a.0, b.0, c.0) }, PhantomData)
    }
    #[inline(always)]
    fn double_plus(t: Self, c: Self) -> Self {
        Self::fused_mul_add(t, Self::splat(2.0), c)
    }
    #[inline(always)]
    fn outside_mask(zr: Self, zi: Self, threshold: Self) -> u32 {
        let s = zr * zr + zi * zi;
        // Not-less-or-equal, unordered: set for NaN.
        Self::bits(unsafe { _mm256_cmp_pd::<_CMP_NLE_UQ>(s.0, threshold.0) })
    }
    #[inline(always)]
    fn ge_mask(a: Self, b: Self) -> u32 {
        Self::bits(unsafe { _mm256_cmp_pd::<_CMP_GE_OQ>(a.0, b.0) })
    }
    #[inline(always)]
    fn le_mask(a: Self, b: Self) -> u32 {
        Self::bits(unsafe { _mm256_cmp_pd::<_CMP_LE_OQ>(a.0, b.0) })
    }
    #[inline(always)]
    fn lt_mask(a: Self, b: Self) -> u32 {
        Self::bits(unsafe { _mm256_cmp_pd::<_CMP_LT_OQ>(a.0, b.0) })
    }
    #[inline(always)]
    fn select_lt(a: Self, b: Self, x: Self, y: Self) -> Self {
        let m = unsafe { _mm256_cmp_pd::<_CMP_LT_OQ>(a.0, b.0) };
        X4(unsafe { _mm256_blendv_pd(y.0, x.0, m) }, PhantomData)
    }
    #[inline(always)]
    fn split_exponent(x: Self) -> (Self, Self) {
        // As `spec::split_exponent`: the biased exponent field becomes the low bits of 2^52,
        // from which subtracting 2^52 + 1023 is exact.
        unsafe {
            let bits = _mm256_castpd_si256(x.0);
            let field = _mm256_and_si256(_mm256_srli_epi64::<52>(bits), _mm256_set1_epi64x(0x7ff));
            let big = _mm256_or_si256(field, _mm256_set1_epi64x(TWO_52_BITS));
            let e = _mm256_sub_pd(_mm256_castsi256_pd(big), _mm256_set1_pd(TWO_52_PLUS_BIAS));
            let m = _mm256_or_si256(
                _mm256_and_si256(bits, _mm256_set1_epi64x(MANTISSA_BITS)),
                _mm256_set1_epi64x(ONE_BITS),
            );
            (X4(e, PhantomData), X4(_mm256_castsi256_pd(m), PhantomData))
        }
    }
}

#[allow(clippy::inline_always)] // lane primitives: they must inline into the loops
impl Add for X8 {
    type Output = Self;
    #[inline(always)]
    fn add(self, b: Self) -> Self {
        X8(unsafe { _mm512_add_pd(self.0, b.0) })
    }
}

#[allow(clippy::inline_always)] // lane primitives: they must inline into the loops
impl Mul for X8 {
    type Output = Self;
    #[inline(always)]
    fn mul(self, b: Self) -> Self {
        X8(unsafe { _mm512_mul_pd(self.0, b.0) })
    }
}

#[allow(clippy::inline_always)] // lane primitives: they must inline into the loops
impl Lanes for X8 {
    type Target = Avx512;
    const N: usize = 8;
    #[inline(always)]
    fn splat(x: f64) -> Self {
        X8(unsafe { _mm512_set1_pd(x) })
    }
    #[inline(always)]
    fn load(x: &[f64]) -> Self {
        let x = &x[..8];
        // SAFETY: also, `x` holds 8 f64s.
        X8(unsafe { _mm512_loadu_pd(x.as_ptr()) })
    }
    #[inline(always)]
    fn store(self, out: &mut [f64]) {
        let out = &mut out[..8];
        // SAFETY: also, `out` holds 8 f64s.
        unsafe { _mm512_storeu_pd(out.as_mut_ptr(), self.0) }
    }
    #[inline(always)]
    fn fused_mul_sub(a: Self, b: Self, c: Self) -> Self {
        X8(unsafe { _mm512_fmsub_pd(a.0, b.0, c.0) })
    }
    #[inline(always)]
    fn fused_mul_add(a: Self, b: Self, c: Self) -> Self {
        X8(unsafe { _mm512_fmadd_pd(a.0, b.0, c.0) })
    }
    #[inline(always)]
    fn double_plus(t: Self, c: Self) -> Self {
        Self::fused_mul_add(t, Self::splat(2.0), c)
    }
    #[inline(always)]
    fn outside_mask(zr: Self, zi: Self, threshold: Self) -> u32 {
        let s = zr * zr + zi * zi;
        // Not-less-or-equal, unordered: set for NaN.
        u32::from(unsafe { _mm512_cmp_pd_mask::<_CMP_NLE_UQ>(s.0, threshold.0) })
    }
    #[inline(always)]
    fn ge_mask(a: Self, b: Self) -> u32 {
        u32::from(unsafe { _mm512_cmp_pd_mask::<_CMP_GE_OQ>(a.0, b.0) })
    }
    #[inline(always)]
    fn le_mask(a: Self, b: Self) -> u32 {
        u32::from(unsafe { _mm512_cmp_pd_mask::<_CMP_LE_OQ>(a.0, b.0) })
    }
    #[inline(always)]
    fn lt_mask(a: Self, b: Self) -> u32 {
        u32::from(unsafe { _mm512_cmp_pd_mask::<_CMP_LT_OQ>(a.0, b.0) })
    }
    #[inline(always)]
    fn select_lt(a: Self, b: Self, x: Self, y: Self) -> Self {
        let m = unsafe { _mm512_cmp_pd_mask::<_CMP_LT_OQ>(a.0, b.0) };
        X8(unsafe { _mm512_mask_blend_pd(m, y.0, x.0) })
    }
    #[inline(always)]
    fn split_exponent(x: Self) -> (Self, Self) {
        // As X4's (AVX-512F integer operations; `getexp` would differ at 0 and subnormals).
        unsafe {
            let bits = _mm512_castpd_si512(x.0);
            let field = _mm512_and_si512(_mm512_srli_epi64::<52>(bits), _mm512_set1_epi64(0x7ff));
            let big = _mm512_or_si512(field, _mm512_set1_epi64(TWO_52_BITS));
            let e = _mm512_sub_pd(_mm512_castsi512_pd(big), _mm512_set1_pd(TWO_52_PLUS_BIAS));
            let m = _mm512_or_si512(
                _mm512_and_si512(bits, _mm512_set1_epi64(MANTISSA_BITS)),
                _mm512_set1_epi64(ONE_BITS),
            );
            (X8(e), X8(_mm512_castsi512_pd(m)))
        }
    }
}

/// Bits of `2^52`.
const TWO_52_BITS: i64 = 0x4330_0000_0000_0000;
/// `2^52 + 1023` (exact).
const TWO_52_PLUS_BIAS: f64 = 4503599627371519.0;
/// The mantissa field of an f64.
const MANTISSA_BITS: i64 = 0x000f_ffff_ffff_ffff;
/// Bits of `1.0`.
const ONE_BITS: i64 = 0x3ff0_0000_0000_0000;
