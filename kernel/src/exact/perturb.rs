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

use super::bla::{BlaTable, bla_phase};
use super::orbit::ReferenceOrbit;

const FOUR: f64 = 4.0;

/// One update of the delta `(dr, di)` around `Z_m = (zr, zi)`: the module's operation order
/// (`t + t` is exact, so `(t + t) + d` is `Lanes::double_plus`; `mul_add` rounds once).
#[allow(clippy::inline_always)] // compiled into the BLA loop's trampoline too
#[inline(always)]
fn delta_step(zr: f64, zi: f64, dr: f64, di: f64, dcr: f64, dci: f64) -> (f64, f64) {
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
    reference(orbit, None, dcr, dci, max_iter)
}

/// The scalar references of both methods: the plain delta loop (`table` `None`), or BLA's two
/// phases ([`super::bla`]) then the plain loop.
pub(super) fn reference(
    orbit: &ReferenceOrbit,
    table: Option<&BlaTable>,
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
    let mut p = Pixel::new(dcr, dci);
    if let Some(table) = table
        && let Some(v) = bla_phase(&mut p, orbit.points(), table, max_iter)
    {
        return v;
    }
    loop {
        if let Some(v) = p.advance(orbit.points(), None, max_iter) {
            return v;
        }
    }
}

/// One pixel's state in the delta loop: delta, offset, orbit index, updates done.
#[derive(Clone, Copy)]
pub(super) struct Pixel {
    pub(super) dr: f64,
    pub(super) di: f64,
    pub(super) dcr: f64,
    pub(super) dci: f64,
    pub(super) m: usize,
    pub(super) n: u32,
}

impl Pixel {
    pub(super) fn new(dcr: f64, dci: f64) -> Self {
        Pixel {
            dr: 0.0,
            di: 0.0,
            dcr,
            dci,
            m: 0,
            n: 0,
        }
    }

    /// One step: with a BLA table, its longest valid step at `m` (two updates or more,
    /// [`super::bla`]), else one plain update ([`delta_step`]); then the tests, in the module's
    /// order. Returns the pixel's result when this step decided it. The one place the rule is
    /// written: the scalar references and the BLA phase all call it.
    #[allow(clippy::inline_always)] // compiled into the BLA loop's trampoline
    #[inline(always)]
    pub(super) fn advance(
        &mut self,
        z: &[[f64; 2]],
        table: Option<&BlaTable>,
        max_iter: u32,
    ) -> Option<PerturbCount> {
        let (dr, di, m) = (self.dr, self.di, self.m);
        if let Some(s) = table.and_then(|t| t.lookup(m, dr * dr + di * di, max_iter - self.n)) {
            let [ar, ai] = s.a;
            let [br, bi] = s.b;
            self.dr = (ar * dr - ai * di) + (br * self.dcr - bi * self.dci);
            self.di = (ar * di + ai * dr) + (br * self.dci + bi * self.dcr);
            self.m = m + s.len as usize;
            self.n += s.len;
        } else {
            (self.dr, self.di) = delta_step(z[m][0], z[m][1], dr, di, self.dcr, self.dci);
            self.m = m + 1;
            self.n += 1;
        }
        let (zr, zi) = (z[self.m][0] + self.dr, z[self.m][1] + self.di);
        let norm = zr * zr + zi * zi;
        if norm > FOUR || norm.is_nan() {
            return Some(PerturbCount {
                count: (self.n - 1) as u16,
                norm,
            });
        }
        if self.n == max_iter {
            return Some(PerturbCount {
                count: max_iter as u16,
                norm,
            });
        }
        if norm < self.dr * self.dr + self.di * self.di || self.m == z.len() - 1 {
            (self.dr, self.di, self.m) = (zr, zi, 0);
        }
        None
    }
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
