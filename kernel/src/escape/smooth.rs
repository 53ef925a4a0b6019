//! Smooth escape values in the lanes: the escape loop's escapes logged ([`EscapeLog`]) and
//! finished as the reference does ([`crate::spec::smooth_from_escape`]), `L::N` at a time.

use super::{Escapes, PixelSource, escape_counts, update};
use crate::lanes::{Lanes, enter};
use crate::spec::{PolyNum, SMOOTH_BAILOUT, SMOOTH_MAX_EXTRA, log2_poly};
#[cfg(doc)]
use crate::spec::{smooth_from_escape, smooth_nu};
use std::marker::PhantomData;

/// Escapes logged before [`EscapeLog`] finishes them: small enough to stay in cache.
const LOG_CHUNK: usize = 1024;

/// The smooth output: counts, and each pixel's smooth value. Pixels that did not escape get
/// `max_iter` at once; escapes (pixel, count, `z_k`, `c`) are logged, one array per field, and
/// finished ([`finish_smooth`]) `LOG_CHUNK` at a time, `L::N` per lane operation.
pub(crate) struct EscapeLog<'a, L: Lanes> {
    counts: &'a mut [u16],
    out: &'a mut [f32],
    max_iter: u32,
    /// Logged escapes (`fill` of them): pixel indices and the fields, each `LOG_CHUNK` long.
    pix: Box<[usize]>,
    /// `z_k` (real, imaginary), `c` (real, imaginary) and the counts of the logged escapes.
    fields: Box<[[f64; LOG_CHUNK]; 5]>,
    fill: usize,
    lanes: PhantomData<L>,
}

impl<'a, L: Lanes> EscapeLog<'a, L> {
    fn new(counts: &'a mut [u16], out: &'a mut [f32], max_iter: u32) -> Self {
        EscapeLog {
            counts,
            out,
            max_iter,
            pix: vec![0; LOG_CHUNK].into_boxed_slice(),
            // Built on the heap: 40 KiB would be a large stack temporary.
            fields: vec![[0.0; LOG_CHUNK]; 5]
                .into_boxed_slice()
                .try_into()
                .expect("five fields"),
            fill: 0,
            lanes: PhantomData,
        }
    }

    /// Finishes the logged escapes and empties the log. Compiled into the caller's trampoline.
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn finish(&mut self) {
        let n = self.fill;
        let [zr, zi, cr, ci, k] = &*self.fields;
        finish_smooth::<L>(
            [&zr[..n], &zi[..n], &cr[..n], &ci[..n], &k[..n]],
            &self.pix[..n],
            self.out,
        );
        self.fill = 0;
    }
}

#[allow(clippy::inline_always)] // called in the loop's cold parts, which must inline it
impl<L: Lanes> Escapes for EscapeLog<'_, L> {
    #[inline(always)]
    fn len(&self) -> usize {
        self.counts.len()
    }
    #[inline(always)]
    fn put(&mut self, p: usize, count: u16) {
        self.counts[p] = count;
        // Only non-escaping pixels are put (escapes come through `escaped`).
        debug_assert!(u32::from(count) >= self.max_iter);
        self.out[p] = self.max_iter as f32;
    }
    #[inline(always)]
    fn escaped(&mut self, p: usize, count: u16, z: [f64; 2], c: [f64; 2]) {
        self.counts[p] = count;
        let (i, f) = (self.fill, &mut self.fields);
        self.pix[i] = p;
        (f[0][i], f[1][i], f[2][i], f[3][i]) = (z[0], z[1], c[0], c[1]);
        f[4][i] = f64::from(count);
        self.fill += 1;
        if self.fill == LOG_CHUNK {
            self.finish();
        }
    }
}

/// The smooth value of every pixel of `src` into `out` (and its count into `counts`): the
/// escape loop of [`escape_counts`] with the escapes logged and finished as it goes
/// ([`EscapeLog`]: the step of [`smooth_from_escape`], `L::N` escapes at a time), compiled for
/// `L`'s instruction set. `counts.len() == out.len() == src.len()`.
pub(crate) fn smooth_values<L: Lanes, const V: usize, const K: u32, const G: u32>(
    src: &impl PixelSource,
    max_iter: u32,
    counts: &mut [u16],
    out: &mut [f32],
) {
    debug_assert_eq!(out.len(), src.len());
    let mut log = EscapeLog::<L>::new(counts, out, max_iter);
    escape_counts::<L, V, K, G>(src, max_iter, true, &mut log);
    // `#[inline(always)]`: the closure must be compiled into the trampoline (a closure of
    // this size is not inlined by LLVM's heuristics, and its lane operations would be calls).
    enter::<L, _>(
        #[inline(always)]
        || log.finish(),
    );
}

#[allow(clippy::inline_always)] // lane primitives: they must inline into the loops
impl<L: Lanes> PolyNum for L {
    #[inline(always)]
    fn constant(x: f64) -> Self {
        L::splat(x)
    }
    #[inline(always)]
    fn fma(a: Self, b: Self, c: Self) -> Self {
        L::fused_mul_add(a, b, c)
    }
}

/// `|z|^2` above which the continuation stops: [`SMOOTH_BAILOUT`]`^2`.
const SMOOTH_R2: f64 = SMOOTH_BAILOUT * SMOOTH_BAILOUT;

/// [`smooth_from_escape`] for logged escapes (`fields`: `z_k`'s real and imaginary parts, `c`'s,
/// the counts; pixel `pix[i]` is entry `i`), `L::N` at a time through [`continue_lanes`] and
/// [`nu_lanes`] ([`smooth_nu`]), into `out`.
#[allow(clippy::inline_always)] // compiled into `enter`'s trampoline
#[inline(always)]
fn finish_smooth<L: Lanes>(fields: [&[f64]; 5], pix: &[usize], out: &mut [f32]) {
    let n = L::N;
    let (whole, total) = (pix.len() / n * n, pix.len());
    let [zr, zi, cr, ci, k] = fields;
    for i in (0..whole).step_by(n) {
        let r = i..i + n;
        finish_batch(
            out,
            L::load(&zr[r.clone()]),
            L::load(&zi[r.clone()]),
            L::load(&cr[r.clone()]),
            L::load(&ci[r.clone()]),
            L::load(&k[r.clone()]),
            &pix[r],
        );
    }
    if whole < total {
        // Padding lanes start beyond the bailout (done before any update); unused.
        let pad = |xs: &[f64], fill: f64| {
            let mut a = [fill; 8];
            a[..total - whole].copy_from_slice(&xs[whole..]);
            L::load(&a)
        };
        finish_batch(
            out,
            pad(zr, 2.0 * SMOOTH_BAILOUT),
            pad(zi, 0.0),
            pad(cr, 0.0),
            pad(ci, 0.0),
            pad(k, 0.0),
            &pix[whole..],
        );
    }
}

/// The continuation and the formula for the escapes of `pix` (one per lane; padding lanes
/// beyond), into `out`.
#[allow(clippy::inline_always)] // compiled into `enter`'s trampoline
#[inline(always)]
fn finish_batch<L: Lanes>(out: &mut [f32], zr: L, zi: L, cr: L, ci: L, k: L, pix: &[usize]) {
    let (m, s) = continue_lanes(zr, zi, cr, ci, k);
    let mut nu = [0.0f64; 8];
    nu_lanes(m, s).store(&mut nu);
    for (&p, &v) in pix.iter().zip(&nu) {
        // As `smooth_nu`: the f64 value rounded to f32.
        out[p] = v as f32;
    }
}

/// [`crate::spec::smooth_nu`] in every lane, before the rounding to `f32`: the same operations
/// in the same order ([`log2_lanes`]).
#[allow(clippy::inline_always)] // compiled into `enter`'s trampoline
#[inline(always)]
fn nu_lanes<L: Lanes>(n: L, s: L) -> L {
    let log2_abs = L::splat(0.5) * log2_lanes(s);
    // `a - b` is `a + (-1) b` exactly (the negation is exact).
    (n + L::splat(1.0)) + log2_lanes(log2_abs) * L::splat(-1.0)
}

/// [`crate::spec::log2`] in every lane: the same exact split, the same polynomial steps
/// ([`log2_poly`], with the lanes' fused multiply-add), the same special cases, so the same
/// bits.
#[allow(clippy::inline_always)] // compiled into `enter`'s trampoline
#[inline(always)]
fn log2_lanes<L: Lanes>(x: L) -> L {
    let (e, m) = L::split_exponent(x);
    let big = L::splat(std::f64::consts::SQRT_2);
    let e = L::select_lt(big, m, e + L::splat(1.0), e);
    let m = L::select_lt(big, m, m * L::splat(0.5), m);
    // `m - 1` as `m + (-1)`: the same IEEE result.
    let f = m + L::splat(-1.0);
    let p = log2_poly(f);
    let r = L::fused_mul_add(f, p, e);
    let r = L::select_lt(x, L::splat(f64::INFINITY), r, x);
    L::select_lt(x, L::splat(f64::MIN_POSITIVE), L::splat(f64::NAN), r)
}

/// [`crate::spec::smooth_continue`] in every lane: the same [`update`] and the same `|z|^2`
/// (two products and a sum), each lane stopping at its own `|z_n|^2 > R^2` or after
/// [`SMOOTH_MAX_EXTRA`] updates (a NaN `|z|^2` continues). Returns `n` and `|z_n|^2` per lane,
/// bit for bit the reference's. Lanes that are done keep updating `z`, but their `n` and
/// `|z_n|^2` no longer change.
#[allow(clippy::inline_always)] // compiled into `enter`'s trampoline
#[inline(always)]
fn continue_lanes<L: Lanes>(mut zr: L, mut zi: L, cr: L, ci: L, k: L) -> (L, L) {
    let (r2, one) = (L::splat(SMOOTH_R2), L::splat(1.0));
    let limit = k + L::splat(f64::from(SMOOTH_MAX_EXTRA));
    let all = (1u32 << L::N) - 1;
    let (mut n, mut s) = (k, zr * zr + zi * zi);
    // Done: `s > R^2` (false for NaN) or `n >= k + SMOOTH_MAX_EXTRA`.
    while L::lt_mask(r2, s) | L::ge_mask(n, limit) != all {
        (zr, zi) = update(zr, zi, cr, ci);
        let (s1, n1) = (zr * zr + zi * zi, n + one);
        // Lanes with `n < limit` and not `R^2 < s` take the update.
        let (s2, n2) = (L::select_lt(n, limit, s1, s), L::select_lt(n, limit, n1, n));
        (s, n) = (L::select_lt(r2, s, s, s2), L::select_lt(r2, s, n, n2));
    }
    (n, s)
}

/// [`log2_lanes`] over `xs` (`L::N` at a time, compiled for `L`'s instruction set).
#[cfg(test)]
pub(crate) fn log2_all<L: Lanes>(xs: &[f64]) -> Vec<f64> {
    enter::<L, _>(
        #[inline(always)]
        || {
            let mut out = vec![0.0; xs.len()];
            let (mut x, mut y) = ([1.0f64; 8], [0.0f64; 8]);
            for (xs, out) in xs.chunks(L::N).zip(out.chunks_mut(L::N)) {
                x[..xs.len()].copy_from_slice(xs);
                log2_lanes(L::load(&x)).store(&mut y);
                out.copy_from_slice(&y[..out.len()]);
            }
            out
        },
    )
}
