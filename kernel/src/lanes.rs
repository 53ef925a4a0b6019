//! The small vector trait the escape loop and the delta loop are written over, its lane types,
//! and the seam where an instruction set is chosen at run time.
//!
//! A lane type names a [`Target`]: an instruction set whose [`Target::enter`] runs work (an
//! [`Inside`]: a closure, or a type for work too large to trust to the inliner) inside a
//! function compiled with that instruction set's target features. The loops call their hot
//! parts through [`enter`], and everything those parts call on the lanes is
//! `#[inline(always)]`, so each instantiation of a loop is compiled for its lane type's
//! instruction set, whatever the build's `-C target-cpu`. Which instantiation runs is chosen
//! per call from [`crate::Isa::current`] (`crate::backend`).
//!
//! The lane types:
//! * [`Plain`]: `N` plain `f64`s with per-lane operations, on any target (the baseline paths,
//!   and the scalar backend on every level);
//! * `X4` (AVX2+FMA intrinsics) and `X8` (AVX-512F intrinsics), in `x86`;
//! * [`Pair`]: two vectors as one (f64x8 on AVX2 as two 256-bit halves).
//!
//! Only two operations need care for exactness, and both round once on every path:
//! * [`Lanes::fused_mul_sub`] and [`Lanes::fused_mul_add`] are a hardware FMA instruction, or
//!   `f64::mul_add` per lane: an FMA instruction where the target has one compiled in, else
//!   libm's `fma` (correctly rounded; slow).
//! * [`Lanes::double_plus`] computes `(t + t) + c`; `t + t` is exact, so with hardware FMA it
//!   is the single fused `t * 2 + c`, which rounds identically.

use std::marker::PhantomData;
use std::ops::{Add, Mul};

#[cfg(target_arch = "x86_64")]
mod x86;
#[cfg(target_arch = "x86_64")]
pub(crate) use x86::{Avx2Fma, Avx512, X4, X8};

/// An instruction set the loops can be compiled for.
pub(crate) trait Target: Copy {
    /// Whether `f64::mul_add` is one instruction inside [`Target::enter`].
    const FMA: bool;
    /// Runs `f` inside a function compiled for this instruction set. `f` and what it calls on
    /// the lanes must be `#[inline(always)]` to be compiled for it too.
    fn enter<F: Inside>(f: F) -> F::Output;
}

/// Work run inside a trampoline ([`Target::enter`]). A closure is one, but whether a closure
/// inlines into the trampoline is the optimiser's choice, and a large one may stay out of line
/// (compiled without the target features: its lane intrinsics become out-of-line calls). Large
/// work is a type whose `run` is `#[inline(always)]`, which always inlines.
pub(crate) trait Inside {
    type Output;
    fn run(self) -> Self::Output;
}

impl<R, F: FnOnce() -> R> Inside for F {
    type Output = R;
    #[allow(clippy::inline_always)] // only forwards to the closure
    #[inline(always)]
    fn run(self) -> R {
        self()
    }
}

/// What the build is compiled for (no extra target features).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Baseline;

impl Target for Baseline {
    const FMA: bool = cfg!(any(
        target_feature = "fma",
        all(target_arch = "aarch64", target_feature = "neon")
    ));
    #[allow(clippy::inline_always)] // the trampoline below is the function boundary
    #[inline(always)]
    fn enter<F: Inside>(f: F) -> F::Output {
        #[inline(never)]
        fn baseline<F: Inside>(f: F) -> F::Output {
            f.run()
        }
        baseline(f)
    }
}

/// Runs `f` compiled for the instruction set of the lane type `L` (see the module docs).
#[allow(clippy::inline_always)] // only forwards to the trampoline
#[inline(always)]
pub(crate) fn enter<L: Lanes, F: Inside>(f: F) -> F::Output {
    L::Target::enter(f)
}

/// A vector of `N` f64 lanes.
pub(crate) trait Lanes: Copy + Add<Output = Self> + Mul<Output = Self> {
    /// The instruction set this lane type's operations compile to.
    type Target: Target;
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
    /// Bit `i` set where lane `i` has `!(zr^2 + zi^2 <= threshold)` (NaN counts as set), with
    /// `zr^2 + zi^2` as two products and a sum, each rounded.
    fn outside_mask(zr: Self, zi: Self, threshold: Self) -> u32;
    /// Bit `i` set where lane `i` has `a >= b`.
    fn ge_mask(a: Self, b: Self) -> u32;
    /// Bit `i` set where lane `i` has `a <= b` (clear for NaN).
    fn le_mask(a: Self, b: Self) -> u32;
    /// Bit `i` set where lane `i` has `a < b` (clear for NaN).
    fn lt_mask(a: Self, b: Self) -> u32;
    /// Lane `i` of `x` where `a < b` in lane `i`, else of `y`.
    fn select_lt(a: Self, b: Self, x: Self, y: Self) -> Self;
    /// [`crate::spec::split_exponent`] in every lane (bit operations, exact).
    fn split_exponent(x: Self) -> (Self, Self);
}

/// `N` plain f64 lanes, compiled for the target `T`: per-lane operations, which LLVM vectorizes
/// as far as `T` allows; `f64::mul_add` is an FMA instruction where `T` has one, else libm's
/// `fma`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plain<const N: usize, T>([f64; N], PhantomData<T>);

impl<const N: usize, T> Plain<N, T> {
    #[allow(clippy::inline_always)] // a lane primitive
    #[inline(always)]
    fn map(f: impl FnMut(usize) -> f64) -> Self {
        Plain(std::array::from_fn(f), PhantomData)
    }

    #[allow(clippy::inline_always)] // a lane primitive
    #[inline(always)]
    fn mask(f: impl Fn(usize) -> bool) -> u32 {
        (0..N).fold(0, |m, i| m | (u32::from(f(i)) << i))
    }
}

#[allow(clippy::inline_always)] // lane primitives: they must inline into the loops
impl<const N: usize, T> Add for Plain<N, T> {
    type Output = Self;
    #[inline(always)]
    fn add(self, b: Self) -> Self {
        Self::map(|i| self.0[i] + b.0[i])
    }
}

#[allow(clippy::inline_always)] // lane primitives: they must inline into the loops
impl<const N: usize, T> Mul for Plain<N, T> {
    type Output = Self;
    #[inline(always)]
    fn mul(self, b: Self) -> Self {
        Self::map(|i| self.0[i] * b.0[i])
    }
}

// The loops' per-lane primitives must inline into their hot loops; `#[inline]` is only a hint.
#[allow(clippy::inline_always)]
impl<const N: usize, T: Target> Lanes for Plain<N, T> {
    type Target = T;
    const N: usize = N;
    #[inline(always)]
    fn splat(x: f64) -> Self {
        Plain([x; N], PhantomData)
    }
    #[inline(always)]
    fn load(x: &[f64]) -> Self {
        Plain(x[..N].try_into().expect("slice of N lanes"), PhantomData)
    }
    #[inline(always)]
    fn store(self, out: &mut [f64]) {
        out[..N].copy_from_slice(&self.0);
    }
    #[inline(always)]
    fn fused_mul_sub(a: Self, b: Self, c: Self) -> Self {
        Self::map(|i| a.0[i].mul_add(b.0[i], -c.0[i]))
    }
    #[inline(always)]
    fn fused_mul_add(a: Self, b: Self, c: Self) -> Self {
        Self::map(|i| a.0[i].mul_add(b.0[i], c.0[i]))
    }
    #[inline(always)]
    fn double_plus(t: Self, c: Self) -> Self {
        if T::FMA {
            Self::map(|i| t.0[i].mul_add(2.0, c.0[i]))
        } else {
            Self::map(|i| (t.0[i] + t.0[i]) + c.0[i])
        }
    }
    #[inline(always)]
    fn outside_mask(zr: Self, zi: Self, threshold: Self) -> u32 {
        let s = zr * zr + zi * zi;
        #[allow(clippy::neg_cmp_op_on_partial_ord)] // NaN is outside
        Self::mask(|i| !(s.0[i] <= threshold.0[i]))
    }
    #[inline(always)]
    fn ge_mask(a: Self, b: Self) -> u32 {
        Self::mask(|i| a.0[i] >= b.0[i])
    }
    #[inline(always)]
    fn le_mask(a: Self, b: Self) -> u32 {
        Self::mask(|i| a.0[i] <= b.0[i])
    }
    #[inline(always)]
    fn lt_mask(a: Self, b: Self) -> u32 {
        Self::mask(|i| a.0[i] < b.0[i])
    }
    #[inline(always)]
    fn select_lt(a: Self, b: Self, x: Self, y: Self) -> Self {
        Self::map(|i| if a.0[i] < b.0[i] { x.0[i] } else { y.0[i] })
    }
    #[inline(always)]
    fn split_exponent(x: Self) -> (Self, Self) {
        let parts: [(f64, f64); N] = std::array::from_fn(|i| crate::spec::split_exponent(x.0[i]));
        (Self::map(|i| parts[i].0), Self::map(|i| parts[i].1))
    }
}

/// Two vectors of `L` as one of `2 L::N` lanes (low half first), on `L`'s target.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pair<L>(L, L);

#[allow(clippy::inline_always)] // lane primitives: they must inline into the loops
impl<L: Lanes> Add for Pair<L> {
    type Output = Self;
    #[inline(always)]
    fn add(self, b: Self) -> Self {
        Pair(self.0 + b.0, self.1 + b.1)
    }
}

#[allow(clippy::inline_always)] // lane primitives: they must inline into the loops
impl<L: Lanes> Mul for Pair<L> {
    type Output = Self;
    #[inline(always)]
    fn mul(self, b: Self) -> Self {
        Pair(self.0 * b.0, self.1 * b.1)
    }
}

#[allow(clippy::inline_always)] // lane primitives: they must inline into the loops
impl<L: Lanes> Lanes for Pair<L> {
    type Target = L::Target;
    const N: usize = 2 * L::N;
    #[inline(always)]
    fn splat(x: f64) -> Self {
        Pair(L::splat(x), L::splat(x))
    }
    #[inline(always)]
    fn load(x: &[f64]) -> Self {
        Pair(L::load(&x[..L::N]), L::load(&x[L::N..]))
    }
    #[inline(always)]
    fn store(self, out: &mut [f64]) {
        let (lo, hi) = out.split_at_mut(L::N);
        self.0.store(lo);
        self.1.store(hi);
    }
    #[inline(always)]
    fn fused_mul_sub(a: Self, b: Self, c: Self) -> Self {
        Pair(
            L::fused_mul_sub(a.0, b.0, c.0),
            L::fused_mul_sub(a.1, b.1, c.1),
        )
    }
    #[inline(always)]
    fn fused_mul_add(a: Self, b: Self, c: Self) -> Self {
        Pair(
            L::fused_mul_add(a.0, b.0, c.0),
            L::fused_mul_add(a.1, b.1, c.1),
        )
    }
    #[inline(always)]
    fn double_plus(t: Self, c: Self) -> Self {
        Pair(L::double_plus(t.0, c.0), L::double_plus(t.1, c.1))
    }
    #[inline(always)]
    fn outside_mask(zr: Self, zi: Self, threshold: Self) -> u32 {
        L::outside_mask(zr.0, zi.0, threshold.0) | L::outside_mask(zr.1, zi.1, threshold.1) << L::N
    }
    #[inline(always)]
    fn ge_mask(a: Self, b: Self) -> u32 {
        L::ge_mask(a.0, b.0) | L::ge_mask(a.1, b.1) << L::N
    }
    #[inline(always)]
    fn le_mask(a: Self, b: Self) -> u32 {
        L::le_mask(a.0, b.0) | L::le_mask(a.1, b.1) << L::N
    }
    #[inline(always)]
    fn lt_mask(a: Self, b: Self) -> u32 {
        L::lt_mask(a.0, b.0) | L::lt_mask(a.1, b.1) << L::N
    }
    #[inline(always)]
    fn select_lt(a: Self, b: Self, x: Self, y: Self) -> Self {
        Pair(
            L::select_lt(a.0, b.0, x.0, y.0),
            L::select_lt(a.1, b.1, x.1, y.1),
        )
    }
    #[inline(always)]
    fn split_exponent(x: Self) -> (Self, Self) {
        let ((e0, m0), (e1, m1)) = (L::split_exponent(x.0), L::split_exponent(x.1));
        (Pair(e0, e1), Pair(m0, m1))
    }
}
