//! The delta loop of the exact mode: perturbation around a [`ReferenceOrbit`] with rebasing,
//! written once over [`Lanes`], and its scalar reference [`perturb_scalar`].
//!
//! A pixel `c = C + dc` has the orbit `z_n = Z_m + d`, with `d` iterated in f64:
//!
//! ```text
//! d <- (2 Z_m + d) d + dc,   m <- m + 1        (one update, n <- n + 1)
//! ```
//!
//! in this fixed order of IEEE operations (the same in every backend and every build; `fma` is
//! one rounding, emulated per lane where the build has no FMA, as the numpy path does):
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

use super::orbit::ReferenceOrbit;
use crate::escape::PixelSource;
use crate::lanes::Lanes;

/// Marks an idle lane.
const IDLE: usize = usize::MAX;
const FOUR: f64 = 4.0;

/// One update of the delta `(dr, di)` around `Z_m = (zr, zi)`: the module's operation order.
#[allow(clippy::inline_always)] // the hot loop's body: it must inline
#[inline(always)]
fn delta_step<L: Lanes>(zr: L, zi: L, dr: L, di: L, dcr: L, dci: L) -> (L, L) {
    let ar = L::double_plus(zr, dr);
    let ai = L::double_plus(zi, di);
    let nr = L::fused_mul_sub(ar, dr, L::fused_mul_sub(ai, di, dcr));
    let ni = L::fused_mul_add(ar, di, L::fused_mul_add(ai, dr, dci));
    (nr, ni)
}

/// The outcome of one pixel in the scalar reference: its count and `|z|^2` at the deciding
/// update (the escaping one, or update `max_iter`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PerturbCount {
    /// The escape count (notebook convention).
    pub count: u16,
    /// `zr*zr + zi*zi` (as computed) at the deciding update.
    pub norm: f64,
}

/// The scalar perturbation reference: the count of the pixel at offset `(dcr, dci)` from the
/// orbit's reference point, with `max_iter <= orbit.max_iter()`. Every backend of
/// [`super::render_block_exact`] equals it bit for bit.
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

/// Computes `out[p]` for every pixel of `src` (whose points are offsets `dc` from the orbit's
/// reference point) with `V` vectors of `L` in flight. `max_iter` in `1..=orbit.max_iter()`.
pub(crate) fn perturb_counts<L: Lanes, const V: usize>(
    src: &impl PixelSource,
    orbit: &ReferenceOrbit,
    max_iter: u32,
    out: &mut (impl Results + ?Sized),
) {
    debug_assert_eq!(out.len(), src.len());
    debug_assert!((1..=orbit.max_iter()).contains(&max_iter));
    let zero = L::splat(0.0);
    let z = orbit.points();
    let mut m = DeltaMachine::<L, V> {
        z,
        last: z.len() - 1,
        dr: [zero; V],
        di: [zero; V],
        dcr: [zero; V],
        dci: [zero; V],
        m0: vec![0; V * L::N],
        n0: vec![0; V * L::N],
        pix: vec![IDLE; V * L::N],
        steps: [0; V],
        countdown: [0; V],
        active: 0,
        next: 0,
        next_row: 0,
        next_col: 0,
        max_iter,
    };
    m.run(src, out);
}

struct DeltaMachine<'a, L: Lanes, const V: usize> {
    /// The reference orbit `Z_0..=Z_last`.
    z: &'a [[f64; 2]],
    last: usize,
    dr: [L; V],
    di: [L; V],
    dcr: [L; V],
    dci: [L; V],
    /// Per lane: orbit index and updates done at the vector's last sync.
    m0: Vec<usize>,
    n0: Vec<u32>,
    /// Pixel index per lane, or IDLE.
    pix: Vec<usize>,
    /// Per vector: updates since its last sync (the same for all its lanes).
    steps: [usize; V],
    /// Per vector: updates until some lane reaches `max_iter` or the orbit's end.
    countdown: [usize; V],
    active: usize,
    next: usize,
    next_row: usize,
    next_col: usize,
    max_iter: u32,
}

impl<L: Lanes, const V: usize> DeltaMachine<'_, L, V> {
    fn run(&mut self, src: &impl PixelSource, out: &mut (impl Results + ?Sized)) {
        let all = (1u32 << L::N) - 1;
        let zero = L::splat(0.0);
        for v in 0..V {
            // Every lane starts idle: this fills them.
            self.sync(v, 0, 0, zero, src, out);
        }
        let four = L::splat(FOUR);
        let n = L::N;
        while self.active > 0 {
            for v in 0..V {
                // Gather Z_m and Z_{m+1} per lane (idle lanes sit at m = steps <= last - 1).
                let (mut ar, mut ai, mut br, mut bi) = ([0.0; 8], [0.0; 8], [0.0; 8], [0.0; 8]);
                for i in 0..n {
                    let k = self.m0[v * n + i] + self.steps[v];
                    [ar[i], ai[i]] = self.z[k];
                    [br[i], bi[i]] = self.z[k + 1];
                }
                let (dr, di) = delta_step(
                    L::load(&ar),
                    L::load(&ai),
                    self.dr[v],
                    self.di[v],
                    self.dcr[v],
                    self.dci[v],
                );
                let (zr, zi) = (L::load(&br) + dr, L::load(&bi) + di);
                let escaped = L::outside_mask(zr, zi, four);
                let nz = zr * zr + zi * zi;
                let nd = dr * dr + di * di;
                let closer = !L::ge_mask(nz, nd) & all;
                (self.dr[v], self.di[v]) = (dr, di);
                self.steps[v] += 1;
                self.countdown[v] -= 1;
                if escaped | closer != 0 || self.countdown[v] == 0 {
                    self.sync(v, escaped, closer, nz, src, out);
                }
            }
        }
    }

    /// Settles vector `v` after an event: records lanes that escaped or reached `max_iter`,
    /// rebases lanes that asked for it (or reached the orbit's end) with `d <- Z_m + d`, refills
    /// free and idle lanes, and restarts the vector's step counters. Decisions follow
    /// [`perturb_scalar_detail`]'s order exactly.
    fn sync(
        &mut self,
        v: usize,
        escaped: u32,
        closer: u32,
        norms: L,
        src: &impl PixelSource,
        out: &mut (impl Results + ?Sized),
    ) {
        let n = L::N;
        let steps = self.steps[v];
        let (mut dr, mut di, mut dcr, mut dci) = ([0.0; 8], [0.0; 8], [0.0; 8], [0.0; 8]);
        self.dr[v].store(&mut dr);
        self.di[v].store(&mut di);
        self.dcr[v].store(&mut dcr);
        self.dci[v].store(&mut dci);
        let mut nz = [0.0; 8];
        norms.store(&mut nz);
        let (total, row_len) = (src.len(), src.row_len());
        let mut countdown = self.last;
        for i in 0..n {
            let lane = v * n + i;
            let bit = 1u32 << i;
            let mut free = self.pix[lane] == IDLE;
            if !free {
                let m = self.m0[lane] + steps;
                let it = self.n0[lane] + steps as u32;
                if escaped & bit != 0 {
                    out.put(self.pix[lane], (it - 1) as u16, nz[i]);
                    free = true;
                } else if it == self.max_iter {
                    out.put(self.pix[lane], self.max_iter as u16, nz[i]);
                    free = true;
                } else if closer & bit != 0 || m == self.last {
                    let [zr, zi] = self.z[m];
                    (dr[i], di[i]) = (zr + dr[i], zi + di[i]);
                    (self.m0[lane], self.n0[lane]) = (0, it);
                } else {
                    (self.m0[lane], self.n0[lane]) = (m, it);
                }
                if free {
                    self.active -= 1;
                    self.pix[lane] = IDLE;
                }
            }
            if free {
                // The next pixel, or idle: d = 0 at m = 0.
                let (mut c_re, mut c_im, mut p) = (0.0, 0.0, IDLE);
                if self.next < total {
                    (c_re, c_im) = src.point(self.next_row, self.next_col);
                    p = self.next;
                    self.next += 1;
                    self.next_col += 1;
                    if self.next_col == row_len {
                        (self.next_row, self.next_col) = (self.next_row + 1, 0);
                    }
                    self.active += 1;
                }
                self.pix[lane] = p;
                (dr[i], di[i], dcr[i], dci[i]) = (0.0, 0.0, c_re, c_im);
                (self.m0[lane], self.n0[lane]) = (0, 0);
            }
            if self.pix[lane] != IDLE {
                let left =
                    (self.last - self.m0[lane]).min((self.max_iter - self.n0[lane]) as usize);
                countdown = countdown.min(left);
            }
        }
        self.dr[v] = L::load(&dr);
        self.di[v] = L::load(&di);
        self.dcr[v] = L::load(&dcr);
        self.dci[v] = L::load(&dci);
        self.steps[v] = 0;
        self.countdown[v] = countdown;
    }
}
