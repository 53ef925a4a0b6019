//! The vector delta loop ([`perturb_counts`]): the contract of [`super::perturb`], per pixel,
//! written once over [`Lanes`] with `V` vectors in flight. Each vector runs in one of two modes,
//! chosen when it is refilled from how often pixels have rebased lately:
//!
//! * **Lockstep** (rebasing is rare, as at deep levels): all busy lanes share `m`, so an update
//!   reads `2 Z_m` and `Z_(m+1)` as broadcasts of one table entry ([`ReferenceOrbit::steps`]).
//!   The vector starts with `N` pixels at `m = 0`; lanes that finish idle (`d = dc = 0`, which
//!   keeps `d = 0`) until all have; a lane that rebases alone is parked and continues, at
//!   `m = 0`, in a later vector. Most updates skip both tests: a bound on the lanes' `|d|`
//!   ([`bound`]) proves that no lane escapes or rebases, so `z`, `|z|^2` and `|d|^2` are not
//!   computed. The last update before `max_iter` or the orbit's end is always tested.
//! * **Gather** (rebasing is frequent, as at shallow levels, where parking every rebase costs
//!   more than it saves): each lane has its own `m` and reads its own entry; lanes rebase in
//!   place, a finished lane takes the next pixel at once, and every update is tested.
//!
//! Per pixel, the operations on `d` and the decisions are the reference's, in its order.
//!
//! Like the escape loop, it runs compiled for its lane type's instruction set: the whole loop
//! is entered once through [`enter`], as one [`Inside`] type (a closure this large would stay
//! out of line in the portable build), and its parts (advancing, syncing, refilling) and what
//! they call on the lanes are `#[inline(always)]` inside it. (Entering each part through its own
//! trampoline, as before, cost f64x8 a quarter of its time: 1.4 - 1.5x faster without on levels
//! 20000 - 100000, measured side by side.)

use super::bound;
use super::orbit::ReferenceOrbit;
use super::perturb::Results;
use crate::escape::PixelSource;
use crate::lanes::{Inside, Lanes, enter};
use std::marker::PhantomData;

mod intake;

/// Marks an idle lane.
const IDLE: usize = usize::MAX;
const FOUR: f64 = 4.0;
/// Lane-updates over which the rebase rate is measured (older ones fade out).
const RATE_WINDOW: f64 = 65536.0;
/// Which modes the busy vectors are in: [`DeltaMachine::advance`]'s specialisations.
const LOCKSTEP: u8 = 0;
const GATHER: u8 = 1;
const MIXED: u8 = 2;

/// Computes `out[p]` for every pixel of `src` (whose points are offsets `dc` from the orbit's
/// reference point), and continues every pixel of `resume` (its state after `n` updates, at
/// orbit index `m`, as the BLA phase hands it over; its result goes to `out` at its index),
/// with `V` vectors of `L` in flight. `max_iter` in `1..=orbit.max_iter()`.
///
/// A refilled vector gathers when more than one in `R` recent lane-updates rebased; a gathering
/// vector stops taking pixels (and drains) below one in `2 R`. Handed-over pixels that share
/// `m` run in lockstep.
pub(crate) fn perturb_counts<L: Lanes, const V: usize, const R: u32>(
    src: &impl PixelSource,
    mut resume: Vec<Parked>,
    orbit: &ReferenceOrbit,
    max_iter: u32,
    out: &mut (impl Results + ?Sized),
) {
    debug_assert!(out.len() >= src.len());
    debug_assert!((1..=orbit.max_iter()).contains(&max_iter));
    // Taken from the end: equal `m` adjacent, the smallest first.
    resume.sort_by_key(|p| std::cmp::Reverse(p.m));
    enter::<L, _>(Perturb::<_, _, L, V, R> {
        src,
        orbit,
        max_iter,
        out,
        resume,
        lanes: PhantomData,
    });
}

/// A source without pixels (for a machine that only continues handed-over ones).
pub(crate) struct NoPixels;

impl PixelSource for NoPixels {
    fn len(&self) -> usize {
        0
    }
    fn row_len(&self) -> usize {
        1
    }
    fn point(&self, _row: usize, _col: usize) -> (f64, f64) {
        unreachable!("NoPixels has no pixels")
    }
}

/// [`perturb_counts`]'s work: the whole machine, compiled into `enter`'s trampoline (a type,
/// not a closure, so that it cannot stay out of line: see [`Inside`]).
struct Perturb<'a, S: PixelSource, O: Results + ?Sized, L, const V: usize, const R: u32> {
    src: &'a S,
    orbit: &'a ReferenceOrbit,
    max_iter: u32,
    out: &'a mut O,
    /// Pixels handed over mid-orbit: the machine then always gathers.
    resume: Vec<Parked>,
    lanes: PhantomData<L>,
}

impl<S: PixelSource, O: Results + ?Sized, L: Lanes, const V: usize, const R: u32> Inside
    for Perturb<'_, S, O, L, V, R>
{
    type Output = ();
    #[allow(clippy::inline_always)] // it is the trampoline's body
    #[inline(always)]
    fn run(self) {
        let Self {
            src,
            orbit,
            max_iter,
            out,
            resume,
            ..
        } = self;
        // Even the state is made inside: `L::splat` is an instruction of `L`'s target.
        let zero = L::splat(0.0);
        let z = orbit.points();
        let mut m = DeltaMachine::<L, V, R> {
            z,
            t: orbit.steps(),
            last: z.len() - 1,
            dr: [zero; V],
            di: [zero; V],
            dcr: [zero; V],
            dci: [zero; V],
            pix: vec![IDLE; V * L::N],
            n_off: vec![0; V * L::N],
            m_off: vec![0; V * L::N],
            live: [0; V],
            gather: [false; V],
            age: [0; V],
            n_top: [0; V],
            m0: [0; V],
            bound: [f64::INFINITY; V],
            grow_c: [0.0; V],
            steps: [0; V],
            countdown: [0; V],
            active: resume.len(),
            parked: resume,
            rebased: 0.0,
            updates: 0.0,
            next: 0,
            next_row: 0,
            next_col: 0,
            max_iter,
        };
        m.run(src, out);
    }
}

/// A pixel that waits for a vector to take it: one that rebased in a lockstep vector (at
/// `m = 0`), or one handed over mid-orbit ([`perturb_resume`]), with `n` updates done.
pub(crate) struct Parked {
    pub pix: usize,
    pub n: u32,
    pub m: usize,
    pub d: [f64; 2],
    pub dc: [f64; 2],
}

struct DeltaMachine<'a, L: Lanes, const V: usize, const R: u32> {
    /// The reference orbit `Z_0..=Z_last`.
    z: &'a [[f64; 2]],
    /// What an update at index `m` reads ([`bound::entry`]).
    t: &'a [bound::Entry],
    last: usize,
    dr: [L; V],
    di: [L; V],
    dcr: [L; V],
    dci: [L; V],
    /// Per lane: pixel index, or IDLE.
    pix: Vec<usize>,
    /// Per lane: at the vector's last sync it has done `n_off + age` updates (wrapping) and, in
    /// gather mode, sits at orbit index `m_off + age`.
    n_off: Vec<u32>,
    m_off: Vec<usize>,
    /// Per vector: its busy lanes (bit per lane).
    live: [u32; V],
    gather: [bool; V],
    /// Per vector: updates since it was refilled, at its last sync.
    age: [usize; V],
    /// Per lockstep vector: at least the largest `n_off` of its busy lanes, and their orbit
    /// index at the last sync.
    n_top: [u32; V],
    m0: [usize; V],
    /// Per vector: a bound on its lanes' `|d|` (infinite: test every update) and the bound's
    /// growth constant ([`bound`]).
    bound: [f64; V],
    grow_c: [f64; V],
    /// Per vector: updates since its last sync.
    steps: [usize; V],
    /// Per vector: updates until some lane may reach `max_iter` or the orbit's end.
    countdown: [usize; V],
    parked: Vec<Parked>,
    /// Recent rebases and lane-updates (fading over [`RATE_WINDOW`]).
    rebased: f64,
    updates: f64,
    /// Pixels started and not finished (in vectors or parked).
    active: usize,
    next: usize,
    next_row: usize,
    next_col: usize,
    max_iter: u32,
}

// The loop's parts are compiled into `enter`'s trampoline: they must inline there.
#[allow(clippy::inline_always)]
impl<L: Lanes, const V: usize, const R: u32> DeltaMachine<'_, L, V, R> {
    #[inline(always)]
    fn run(&mut self, src: &impl PixelSource, out: &mut (impl Results + ?Sized)) {
        for v in 0..V {
            self.refill(v, src);
        }
        while self.active > 0 {
            // The loop specialised for the vectors' modes (the lockstep one stays small).
            let busy = |g: bool| (0..V).any(|v| self.live[v] != 0 && self.gather[v] == g);
            let (v, escaped, closer, norms) = match (busy(false), busy(true)) {
                (_, false) => self.advance::<LOCKSTEP>(),
                (false, true) => self.advance::<GATHER>(),
                (true, true) => self.advance::<MIXED>(),
            };
            self.sync(v, escaped, closer, norms, src, out);
        }
    }

    /// Runs updates round-robin over the busy vectors until one of them has an event (a lane
    /// escaped or asked to rebase, or the countdown ran out); returns that vector, its masks
    /// and `|z|^2`. Runs inside [`enter`].
    #[inline(always)]
    fn advance<const MODES: u8>(&mut self) -> (usize, u32, u32, L) {
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
                let gather = match MODES {
                    LOCKSTEP => false,
                    GATHER => true,
                    _ => self.gather[v],
                };
                let ([tr, ti, br, bi], grow, safe) = self.entry(v, steps[v], gather);
                // `2 Z_m + d` with `2 Z_m` from the table is `double_plus(Z_m, d)`: t + t is exact.
                let (ar, ai) = (tr + dr[v], ti + di[v]);
                let nr = L::fused_mul_sub(ar, dr[v], L::fused_mul_sub(ai, di[v], dcr[v]));
                let ni = L::fused_mul_add(ar, di[v], L::fused_mul_add(ai, dr[v], dci[v]));
                (dr[v], di[v]) = (nr, ni);
                steps[v] += 1;
                countdown[v] -= 1;
                let b = bound[v] * grow + self.grow_c[v];
                if b <= safe && countdown[v] != 0 {
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
                    if gather && escaped == 0 && countdown[v] != 0 {
                        // Rebase in place without a sync: before the countdown's end no lane
                        // is at max_iter or the orbit's end, and none escaped.
                        dr[v] = L::select_lt(nz, nd, zr, nr);
                        di[v] = L::select_lt(nz, nd, zi, ni);
                        let k = 0usize.wrapping_sub(self.age[v] + steps[v]);
                        for i in Bits(closer) {
                            self.m_off[v * L::N + i] = k;
                        }
                        self.rebased += f64::from(closer.count_ones());
                        continue;
                    }
                    break 'run (v, escaped, closer, nz);
                }
                if !gather {
                    bound[v] = bound_from(nd);
                }
            }
        };
        (self.dr, self.di) = (dr, di);
        (self.bound, self.steps, self.countdown) = (bound, steps, countdown);
        event
    }

    /// `[2 Zr_m, 2 Zi_m, Zr_(m+1), Zi_(m+1)]` at each lane's index `m`, `steps` updates after
    /// vector `v`'s last sync, with the bound's growth factor and limit: broadcast in lockstep,
    /// else gathered per lane with a limit that never skips.
    #[allow(clippy::inline_always)] // the hot loop's body: it must inline
    #[inline(always)]
    fn entry(&self, v: usize, steps: usize, gather: bool) -> ([L; 4], f64, f64) {
        if gather {
            let k = self.age[v] + steps;
            let mut a = [[0.0; 8]; 4];
            for i in 0..L::N {
                let e = self.t[self.m_off[v * L::N + i].wrapping_add(k)].0;
                for (a, e) in a.iter_mut().zip(e) {
                    a[i] = e;
                }
            }
            // No `array::map`: it may not inline, and would run the lanes outside their target.
            let [a0, a1, a2, a3] = a;
            (
                [L::load(&a0), L::load(&a1), L::load(&a2), L::load(&a3)],
                1.0,
                -1.0,
            )
        } else {
            let e = self.t[self.m0[v] + steps].0;
            let s = [
                L::splat(e[0]),
                L::splat(e[1]),
                L::splat(e[2]),
                L::splat(e[3]),
            ];
            (s, e[4], e[5])
        }
    }

    /// Settles vector `v` after an event, in [`super::perturb_scalar_detail`]'s order per lane:
    /// records lanes that escaped or reached `max_iter`; rebases lanes that asked for it or
    /// reached the orbit's end (`d <- Z_m + d`, `m <- 0`), in place, except that a lockstep
    /// vector parks a lane that rebases alone. Then refills what the vector's mode refills and
    /// restarts its counters and bound. Only the lanes of an event are visited, unless the
    /// countdown ran out. Runs inside [`enter`].
    #[inline(always)]
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
        let (steps, gather) = (self.steps[v], self.gather[v]);
        let age = self.age[v] + steps;
        let rebased = (closer & !escaped).count_ones();
        self.count(steps * self.live[v].count_ones() as usize, rebased);
        let mut a = [[0.0; 8]; 5];
        for (a, x) in a
            .iter_mut()
            .zip([self.dr[v], self.di[v], self.dcr[v], self.dci[v], norms])
        {
            x.store(a);
        }
        let [mut dr, mut di, mut dcr, mut dci, nz] = a;
        // Lockstep: every lane is at `m`, and at the orbit's end all rebase in place.
        let m = self.m0[v] + steps;
        let end = !gather && m == self.last;
        // Without a countdown event no lane is at max_iter or the orbit's end.
        let visit = if self.countdown[v] == 0 {
            self.live[v]
        } else {
            escaped | closer
        };
        let mut live = self.live[v];
        // A gathering vector takes new pixels while rebasing stays frequent.
        let refill = gather && self.rebased * f64::from(2 * R) > self.updates;
        let mut n_top = 0;
        for i in Bits(visit) {
            let lane = v * n + i;
            let bit = 1u32 << i;
            let it = self.n_off[lane].wrapping_add(age as u32);
            let m = if gather {
                self.m_off[lane].wrapping_add(age)
            } else {
                m
            };
            if escaped & bit != 0 {
                out.put(self.pix[lane], (it - 1) as u16, nz[i]);
                self.active -= 1;
            } else if it == self.max_iter {
                out.put(self.pix[lane], self.max_iter as u16, nz[i]);
                self.active -= 1;
            } else if closer & bit != 0 || m == self.last {
                let [zr, zi] = self.z[m];
                let d = [zr + dr[i], zi + di[i]];
                if gather || end {
                    ([dr[i], di[i]], self.m_off[lane]) = (d, 0usize.wrapping_sub(age));
                    n_top = n_top.max(self.n_off[lane]);
                    continue;
                }
                let (pix, dc) = (self.pix[lane], [dcr[i], dci[i]]);
                self.parked.push(Parked {
                    pix,
                    n: it,
                    m: 0,
                    d,
                    dc,
                });
            } else {
                n_top = n_top.max(self.n_off[lane]);
                continue;
            }
            // The lane is free: the next pixel, or idle (d = dc = 0).
            (dr[i], di[i], dcr[i], dci[i], self.pix[lane]) = (0.0, 0.0, 0.0, 0.0, IDLE);
            live &= !bit;
            if refill && let Some(((pix, n0, m0), d, dc)) = self.take(src, true) {
                let (n_off, m_off) = (n0.wrapping_sub(age as u32), m0.wrapping_sub(age));
                (self.pix[lane], self.n_off[lane], self.m_off[lane]) = (pix, n_off, m_off);
                ([dr[i], di[i]], [dcr[i], dci[i]]) = (d, dc);
                live |= bit;
            }
        }
        self.live[v] = live;
        if live == 0 {
            self.refill(v, src);
        } else {
            if !gather && self.countdown[v] == 0 {
                self.n_top[v] = n_top;
            }
            self.age[v] = age;
            self.m0[v] = if end || gather { 0 } else { m };
            for (x, a) in [&mut self.dr, &mut self.di, &mut self.dcr, &mut self.dci]
                .into_iter()
                .zip([&dr, &di, &dcr, &dci])
            {
                x[v] = L::load(a);
            }
            let b = if gather {
                f64::INFINITY
            } else {
                bound_from(self.dr[v] * self.dr[v] + self.di[v] * self.di[v])
            };
            self.restart(v, b);
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
#[allow(clippy::inline_always)] // called where the lanes' target is enabled
#[inline(always)]
fn max_lane<L: Lanes>(x: L) -> f64 {
    let mut a = [0.0; 8];
    x.store(&mut a);
    // `maxsd` semantics: one instruction per lane.
    a[..L::N]
        .iter()
        .fold(0.0, |m, &x| if x > m { x } else { m })
}
