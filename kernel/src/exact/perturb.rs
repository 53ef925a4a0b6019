//! The delta loop of the exact mode: perturbation around a [`ReferenceOrbit`] with rebasing,
//! written once over [`Lanes`], and its scalar reference [`perturb_scalar`].
//!
//! A pixel `c = C + dc` has the orbit `z_n = Z_m + d`, with `d` iterated in f64:
//!
//! ```text
//! d <- (2 Z_m + d) d + dc,   m <- m + 1        (one update, n <- n + 1)
//! ```
//!
//! in this fixed order of IEEE operations (the same in every backend, instruction set and build;
//! `fma` is one rounding: an FMA instruction, or libm's `fma` where the CPU has none):
//!
//! ```text
//! ar = 2 Zr_m + dr                    (Lanes::double_plus: t + t is exact)
//! ai = 2 Zi_m + di
//! dr' = fma(ar, dr, -fma(ai, di, -dcr))    = ar dr - (ai di - dcr)
//! di' = fma(ar, di,  fma(ai, dr,  dci))    = ar di + (ai dr + dci)
//! zr = Zr_{m+1} + dr',  zi = Zi_{m+1} + di'
//! ```
//!
//! After the update, in this order: if `zr*zr + zi*zi > 4` (two products and a sum, unfused;
//! NaN counts as outside) the pixel escaped and its count is `n - 1`; else if `n == max_iter` its
//! count is `max_iter`; else if `|z|^2 < |d|^2` (each `x*x + y*y`, unfused) or `m` is the last
//! index of the orbit, it rebases: `d <- z`, `m <- 0` (Zhuoran's rebasing: the pixel continues
//! on the reference from its start, which needs no glitch detection).
//!
//! The count is the notebook's convention: `z_0 = 0`; the first update `n` (1-based) with
//! `|z_n| > 2` gives count `n - 1`, i.e. the first `k` in `0..max_iter` with `|z_(k+1)| > 2`;
//! never escaping gives `max_iter`. The exact mode tests `|z|^2 > 4` (the true criterion), not
//! numpy's rounded `cabs`.
//!
//! The vector loop over [`crate::lanes::Lanes`] is [`super::delta`]; it equals this reference
//! bit for bit in every backend and build.

use super::orbit::ReferenceOrbit;

pub(super) const FOUR: f64 = 4.0;

/// One update of the delta `(dr, di)` around `Z_m = (zr, zi)`: the module's operation order
/// (`t + t` is exact, so `(t + t) + d` is `Lanes::double_plus`; `mul_add` rounds once).
#[allow(clippy::inline_always)] // compiled into the BLA loop's trampoline too
#[inline(always)]
pub(super) fn delta_step(zr: f64, zi: f64, dr: f64, di: f64, dcr: f64, dci: f64) -> (f64, f64) {
    let ar = (zr + zr) + dr;
    let ai = (zi + zi) + di;
    let nr = ar.mul_add(dr, -(ai.mul_add(di, -dcr)));
    let ni = ar.mul_add(di, ai.mul_add(dr, dci));
    (nr, ni)
}

/// The outcome of one pixel in the scalar reference: its count and `|z|^2` at the deciding
/// update (the escaping one, or update `max_iter`; NaN for a pixel proven never to escape,
/// [`ReferenceOrbit::never_escapes`], which is not iterated).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PerturbCount {
    /// The escape count (notebook convention).
    pub count: u16,
    /// `zr*zr + zi*zi` (as computed) at the deciding update.
    pub norm: f64,
}

/// The scalar perturbation reference: the count of the pixel at offset `(dcr, dci)` from the
/// orbit's reference point, with `max_iter <= orbit.max_iter()`. Every backend of
/// [`super::render_block_exact`] equals it bit for bit. A pixel proven never to escape
/// ([`ReferenceOrbit::never_escapes`]) gets `max_iter` without iterating.
///
/// ```
/// use zoomstack_kernel::exact::{ExactStack, ReferenceOrbit, perturb_scalar};
/// let stack = ExactStack::default();
/// let orbit = ReferenceOrbit::for_level(&stack, 0).unwrap();
/// assert_eq!(perturb_scalar(&orbit, 0.0, 0.0, 256), 250); // the centre itself
/// // c = 1 + 0i: z = 1, 2, 5: escapes on the third update.
/// let to_one = 1.0 - stack.center_re.to_f64();
/// assert_eq!(perturb_scalar(&orbit, to_one, -stack.center_im.to_f64(), 256), 2);
/// ```
///
/// # Panics
///
/// If `max_iter` is 0 or exceeds `orbit.max_iter()`.
pub fn perturb_scalar(orbit: &ReferenceOrbit, dcr: f64, dci: f64, max_iter: u32) -> u16 {
    perturb_scalar_detail(orbit, dcr, dci, max_iter).count
}

/// [`perturb_scalar`] with `|z|^2` at the deciding update (for reports).
///
/// # Panics
///
/// If `max_iter` is 0 or exceeds `orbit.max_iter()`.
pub fn perturb_scalar_detail(
    orbit: &ReferenceOrbit,
    dcr: f64,
    dci: f64,
    max_iter: u32,
) -> PerturbCount {
    assert!(
        (1..=orbit.max_iter()).contains(&max_iter),
        "max_iter {max_iter} must be in 1..={}",
        orbit.max_iter()
    );
    if orbit.never_escapes(dcr, dci) {
        return PerturbCount {
            count: max_iter as u16,
            norm: f64::NAN,
        };
    }
    let z = orbit.points();
    let last = z.len() - 1;
    let (mut dr, mut di, mut m) = (0.0f64, 0.0f64, 0usize);
    for n in 1..=max_iter {
        (dr, di) = delta_step(z[m][0], z[m][1], dr, di, dcr, dci);
        m += 1;
        let (zr, zi) = (z[m][0] + dr, z[m][1] + di);
        let norm = zr * zr + zi * zi;
        if norm > FOUR || norm.is_nan() {
            return PerturbCount {
                count: (n - 1) as u16,
                norm,
            };
        }
        if n == max_iter {
            return PerturbCount {
                count: max_iter as u16,
                norm,
            };
        }
        if norm < dr * dr + di * di || m == last {
            (dr, di, m) = (zr, zi, 0);
        }
    }
    unreachable!("the loop returns at n == max_iter")
}

/// Where the delta loop puts a finished pixel: its count and `|z|^2` at the deciding update.
pub(crate) trait Results {
    fn len(&self) -> usize;
    fn put(&mut self, pixel: usize, count: u16, norm: f64);
}

impl Results for [u16] {
    fn len(&self) -> usize {
        <[u16]>::len(self)
    }
    #[inline]
    fn put(&mut self, pixel: usize, count: u16, _norm: f64) {
        self[pixel] = count;
    }
}

impl Results for [PerturbCount] {
    fn len(&self) -> usize {
        <[PerturbCount]>::len(self)
    }
    #[inline]
    fn put(&mut self, pixel: usize, count: u16, norm: f64) {
        self[pixel] = PerturbCount { count, norm };
    }
}
