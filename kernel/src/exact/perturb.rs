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
//!
//! How the vector loop ([`DeltaMachine`]) is fast without changing any of that:
//!
//! * Lockstep: all busy lanes of a vector share `m`, so an update reads `2 Z_m` and `Z_(m+1)`
//!   as broadcasts of one table entry ([`ReferenceOrbit::steps`]), not per lane. A vector
//!   starts with `N` pixels at `m = 0`; finished lanes idle until all have finished; a lane that
//!   rebases alone is parked and continues (at `m = 0`) in a vector of parked pixels.
//! * Most updates skip both tests: a per-vector bound on `|d|` ([`bound`]) proves that no lane
//!   escapes or rebases, so `z`, `|z|^2` and `|d|^2` are not computed. The last update before
//!   `max_iter` or the orbit's end is always tested.
//! * Per pixel, the operations on `d` and the decisions are the reference's, in its order.

use super::bound;
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
        t: orbit.steps(),
        last: z.len() - 1,
        dr: [zero; V],
        di: [zero; V],
        dcr: [zero; V],
        dci: [zero; V],
        n_start: vec![0; V * L::N],
        pix: vec![IDLE; V * L::N],
        live: [0; V],
        age: [0; V],
        n_top: [0; V],
        m0: [0; V],
        bound: [f64::INFINITY; V],
        grow_c: [0.0; V],
        steps: [0; V],
        countdown: [0; V],
        parked: Vec::new(),
        active: 0,
        next: 0,
        next_row: 0,
        next_col: 0,
        max_iter,
    };
    m.run(src, out);
}

/// A pixel that rebased and waits, at `m = 0`, for a vector to take it.
struct Parked {
    pix: usize,
    n: u32,
    d: [f64; 2],
    dc: [f64; 2],
}

/// The delta loop's state. All busy lanes of a vector share one orbit index (lockstep), so an
/// update reads one broadcast entry: vectors start full at `m = 0`; a lane that finishes stays
/// idle (`d = dc = 0`, which keeps `d = 0`) until the whole vector is; a lane that rebases
/// alone moves to `parked`, which refills emptied vectors; at the orbit's end the whole vector
/// rebases together.
struct DeltaMachine<'a, L: Lanes, const V: usize> {
    /// The reference orbit `Z_0..=Z_last`.
    z: &'a [[f64; 2]],
    /// What an update at index `m` reads ([`bound::entry`]).
    t: &'a [[f64; 6]],
    last: usize,
    dr: [L; V],
    di: [L; V],
    dcr: [L; V],
    dci: [L; V],
    /// Per lane: updates done when its vector took it (a lane has done `n_start + age` at the
    /// vector's last sync).
    n_start: Vec<u32>,
    /// Pixel index per lane, or IDLE.
    pix: Vec<usize>,
    /// Per vector: its busy lanes (bit per lane).
    live: [u32; V],
    /// Per vector: updates since it was refilled, at its last sync.
    age: [u32; V],
    /// Per vector: at least the largest `n_start` of its busy lanes.
    n_top: [u32; V],
    /// Per vector: the orbit index of its lanes at the last sync.
    m0: [usize; V],
    /// Per vector: a bound on its lanes' `|d|` (infinite: test every update) and the bound's
    /// growth constant ([`bound`]).
    bound: [f64; V],
    grow_c: [f64; V],
    /// Per vector: updates since its last sync.
    steps: [usize; V],
    /// Per vector: updates until some lane may reach `max_iter`, or the orbit's end.
    countdown: [usize; V],
    parked: Vec<Parked>,
    /// Pixels started and not finished (in vectors or parked).
    active: usize,
    next: usize,
    next_row: usize,
    next_col: usize,
    max_iter: u32,
}

impl<L: Lanes, const V: usize> DeltaMachine<'_, L, V> {
    fn run(&mut self, src: &impl PixelSource, out: &mut (impl Results + ?Sized)) {
        for v in 0..V {
            self.refill(v, src);
        }
        while self.active > 0 {
            let (v, escaped, closer, norms) = self.advance();
            self.sync(v, escaped, closer, norms, src, out);
        }
    }

    /// Runs updates round-robin over the busy vectors until one of them has an event (a lane
    /// escaped or asked to rebase, or the countdown ran out); returns that vector, its masks
    /// and `|z|^2`.
    fn advance(&mut self) -> (usize, u32, u32, L) {
        let four = L::splat(FOUR);
        // Local copies keep the state in registers.
        let (mut dr, mut di, dcr, dci) = (self.dr, self.di, self.dcr, self.dci);
        let (mut bound, mut steps, mut countdown) = (self.bound, self.steps, self.countdown);
        let event = 'run: loop {
            for v in 0..V {
                let live = self.live[v];
                if live == 0 {
                    continue;
                }
                let e = self.t[self.m0[v] + steps[v]];
                let [tr, ti, br, bi] = [e[0], e[1], e[2], e[3]].map(L::splat);
                // `2 Z_m + d` with `2 Z_m` from the table is `double_plus(Z_m, d)`: t + t is exact.
                let (ar, ai) = (tr + dr[v], ti + di[v]);
                let nr = L::fused_mul_sub(ar, dr[v], L::fused_mul_sub(ai, di[v], dcr[v]));
                let ni = L::fused_mul_add(ar, di[v], L::fused_mul_add(ai, dr[v], dci[v]));
                (dr[v], di[v]) = (nr, ni);
                steps[v] += 1;
                countdown[v] -= 1;
                let b = bound[v] * e[4] + self.grow_c[v];
                if b <= e[5] && countdown[v] != 0 {
                    // Proven: no lane escapes or rebases here ([`bound`]).
                    bound[v] = b;
                    continue;
                }
                let (zr, zi) = (br + nr, bi + ni);
                let nz = zr * zr + zi * zi;
                let nd = nr * nr + ni * ni;
                // NaN is outside; a NaN |d|^2 comes with a NaN |z|^2, which escaped first.
                let escaped = !L::le_mask(nz, four) & live;
                let closer = L::lt_mask(nz, nd) & live;
                if escaped | closer != 0 || countdown[v] == 0 {
                    break 'run (v, escaped, closer, nz);
                }
                bound[v] = bound_from(nd);
            }
        };
        (self.dr, self.di) = (dr, di);
        (self.bound, self.steps, self.countdown) = (bound, steps, countdown);
        event
    }

    /// Settles vector `v` after an event, in [`perturb_scalar_detail`]'s order per lane:
    /// records lanes that escaped or reached `max_iter`; at the orbit's end rebases every lane
    /// in place (`d <- Z_m + d`, `m <- 0`); else parks lanes that asked to rebase. Then refills
    /// the vector if it is empty and restarts its counters and bound. Only the lanes of an
    /// event are visited, unless the countdown ran out.
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
        let age = self.age[v] + steps as u32;
        let m = self.m0[v] + steps;
        let [zr, zi] = self.z[m];
        let (mut dr, mut di, mut dcr, mut dci) = ([0.0; 8], [0.0; 8], [0.0; 8], [0.0; 8]);
        self.dr[v].store(&mut dr);
        self.di[v].store(&mut di);
        self.dcr[v].store(&mut dcr);
        self.dci[v].store(&mut dci);
        let mut nz = [0.0; 8];
        norms.store(&mut nz);
        let end = m == self.last;
        // Without a countdown event no lane is at max_iter or the orbit's end.
        let visit = if self.countdown[v] == 0 {
            self.live[v]
        } else {
            escaped | closer
        };
        let mut live = self.live[v];
        let mut n_top = 0;
        for i in Bits(visit) {
            let lane = v * n + i;
            let bit = 1u32 << i;
            let it = self.n_start[lane] + age;
            if escaped & bit != 0 {
                out.put(self.pix[lane], (it - 1) as u16, nz[i]);
                self.active -= 1;
            } else if it == self.max_iter {
                out.put(self.pix[lane], self.max_iter as u16, nz[i]);
                self.active -= 1;
            } else if end {
                (dr[i], di[i]) = (zr + dr[i], zi + di[i]);
                n_top = n_top.max(self.n_start[lane]);
                continue;
            } else if closer & bit != 0 {
                self.parked.push(Parked {
                    pix: self.pix[lane],
                    n: it,
                    d: [zr + dr[i], zi + di[i]],
                    dc: [dcr[i], dci[i]],
                });
            } else {
                n_top = n_top.max(self.n_start[lane]);
                continue;
            }
            self.pix[lane] = IDLE;
            live &= !bit;
            (dr[i], di[i], dcr[i], dci[i]) = (0.0, 0.0, 0.0, 0.0);
        }
        self.live[v] = live;
        if live == 0 {
            self.refill(v, src);
        } else {
            if self.countdown[v] == 0 {
                self.n_top[v] = n_top;
            }
            self.age[v] = age;
            self.m0[v] = if end { 0 } else { m };
            self.dr[v] = L::load(&dr);
            self.di[v] = L::load(&di);
            self.dcr[v] = L::load(&dcr);
            self.dci[v] = L::load(&dci);
            let nd = self.dr[v] * self.dr[v] + self.di[v] * self.di[v];
            self.restart(v, bound_from(nd));
        }
        if !self.parked.is_empty() {
            // At the frame's end, idle vectors take parked pixels at once.
            for w in 0..V {
                if self.live[w] == 0 {
                    self.refill(w, src);
                }
            }
        }
    }

    /// Gives every lane of the empty vector `v` a pixel at `m = 0`: parked ones when they fill
    /// it (or nothing else is left), the last parked first (they have few updates left: mixing
    /// them with new pixels would leave lanes idle; choosing them by `n` cost more than it
    /// saved), else new ones; lanes left over are idle.
    fn refill(&mut self, v: usize, src: &impl PixelSource) {
        let (mut dr, mut di, mut dcr, mut dci) = ([0.0; 8], [0.0; 8], [0.0; 8], [0.0; 8]);
        let (mut live, mut n_top, mut d1, mut dc1) = (0, 0, 0.0f64, 0.0f64);
        let from_parked = self.parked.len() >= L::N || self.next == src.len();
        for i in 0..L::N {
            let lane = v * L::N + i;
            if let Some(p) = self.parked.pop_if(|_| from_parked) {
                (self.pix[lane], self.n_start[lane]) = (p.pix, p.n);
                ([dr[i], di[i]], [dcr[i], dci[i]]) = (p.d, p.dc);
            } else if self.next < src.len() {
                (dcr[i], dci[i]) = src.point(self.next_row, self.next_col);
                (self.pix[lane], self.n_start[lane]) = (self.next, 0);
                self.next += 1;
                self.next_col += 1;
                if self.next_col == src.row_len() {
                    (self.next_row, self.next_col) = (self.next_row + 1, 0);
                }
                self.active += 1;
            } else {
                continue;
            }
            live |= 1 << i;
            n_top = n_top.max(self.n_start[lane]);
            d1 = d1.max(dr[i].abs() + di[i].abs());
            dc1 = dc1.max(dcr[i].abs() + dci[i].abs());
        }
        (self.live[v], self.n_top[v], self.age[v], self.m0[v]) = (live, n_top, 0, 0);
        self.dr[v] = L::load(&dr);
        self.di[v] = L::load(&di);
        self.dcr[v] = L::load(&dcr);
        self.dci[v] = L::load(&dci);
        self.grow_c[v] = bound::constant(dc1);
        self.restart(v, bound::start(d1));
    }

    /// Restarts vector `v`'s counters, with the bound `b` on its lanes' `|d|`.
    fn restart(&mut self, v: usize, b: f64) {
        self.bound[v] = b;
        self.steps[v] = 0;
        let to_limit = (self.max_iter - self.n_top[v] - self.age[v]) as usize;
        self.countdown[v] = (self.last - self.m0[v]).min(to_limit);
    }
}

/// The set bits of a mask, lowest first.
struct Bits(u32);

impl Iterator for Bits {
    type Item = usize;
    fn next(&mut self) -> Option<usize> {
        let i = self.0.trailing_zeros();
        self.0 &= self.0.wrapping_sub(1);
        (i < 32).then_some(i as usize)
    }
}

/// [`bound::restart`] from the lanes' computed `|d|^2` (idle lanes: 0), or infinity unless
/// every one is at most `CAP^2` (so also for NaN).
#[allow(clippy::inline_always)] // in the hot loop
#[inline(always)]
fn bound_from<L: Lanes>(nd: L) -> f64 {
    if L::le_mask(nd, L::splat(bound::CAP * bound::CAP)) == (1u32 << L::N) - 1 {
        bound::restart(max_lane(nd))
    } else {
        f64::INFINITY
    }
}

/// The largest lane of `x`, which has no NaN lane.
fn max_lane<L: Lanes>(x: L) -> f64 {
    let mut a = [0.0; 8];
    x.store(&mut a);
    // `maxsd` semantics: one instruction per lane.
    a[..L::N]
        .iter()
        .fold(0.0, |m, &x| if x > m { x } else { m })
}
