//! The one escape-time loop, generic over the lane type, shared by every backend.
//!
//! How it stays exact and fast:
//!
//! * `V` independent vectors are in flight, so the FMA latency chain of one vector is hidden
//!   behind the others.
//! * Escape is tested only every `K` iterations. Before a block the state is saved; after it,
//!   a cheap test flags every lane whose `|z|^2` is above `4 (1 - 2^-40)` (or NaN). A flagged
//!   vector replays the block from the saved state one iteration at a time with the exact
//!   test ([`crate::spec::numpy_abs`] where the cheap test is not decisive), so every lane gets
//!   the count the reference gives it. Lanes may run past `max_iter` inside a block: a lane
//!   that did not escape before its limit gets `max_iter` and the extra updates are discarded. This is sound because for `|c| <= 1.9` an orbit that
//!   reached `|z| > 2 - 1e-14` grows monotonically (`|z|^2 - |c| > |z|`), so it is still
//!   flagged at the block's end. Lanes with a larger `|c|` force blocks of one iteration.
//! * Lanes that finish do not stop the others: a lane that surely escaped in a block (above
//!   the exact threshold at its end, and no hazard) only keeps that block's starting state, a
//!   lane at `max_iter` is recorded, and both idle until the waiting lanes have idled `G`
//!   lane-blocks in all (or no lane iterates). Then one replay, all vectors interleaved so
//!   their latency chains overlap, finds every waiting escape, and the lanes are refilled with
//!   the next pixels. Replaying one vector per escape, as before, left the loop latency-bound
//!   and cost a replay per escaping lane: `G` trades idle lanes for fewer, cheaper replays
//!   (`kernel/examples/tuning.rs` compares the choices).
//! * Points safely inside the main cardioid or the period-2 bulb never escape: they get
//!   `max_iter` without iterating (the margins keep this exact; see [`in_cardioid_or_bulb`]).
//! * The loop runs inside [`enter`], compiled for the lane type's instruction set; its cold
//!   parts (replaying a block, refilling lanes) are separate functions entered the same way.
//!   Everything else it calls on the lanes is `#[inline(always)]`.
//! * Finished pixels go to an [`Escapes`] output: counts only (`[u16]`), or counts plus a log
//!   of the escapes ([`EscapeLog`]: pixel, count, `c` and the `z_k` it escaped with, captured
//!   where the replay records the escape, one array per field), from which [`smooth_values`]
//!   finishes the smooth values ([`crate::spec::smooth_from_escape`]), `L::N` logged escapes
//!   at a time over the lanes too: the continuation (`continue_lanes`, the same update) and
//!   the formula with the contract's own `log2` (`nu_lanes`). The loop is the same for both.

use crate::lanes::{Lanes, enter};
use crate::spec::numpy_abs;

mod limit;
mod smooth;

pub(crate) use limit::update_limit;
#[cfg(doc)]
use smooth::EscapeLog;
#[cfg(test)]
pub(crate) use smooth::log2_all;
pub(crate) use smooth::smooth_values;

/// Lanes above this `|z|^2` after a block may have escaped (NaN also counts).
const MAYBE_OUT: f64 = 4.0 * (1.0 - 1.0 / (1u64 << 40) as f64);
/// Lanes above this `|z|^2` have certainly escaped (`numpy_abs > 2`).
const SURELY_OUT: f64 = 4.0 * (1.0 + 1.0 / (1u64 << 40) as f64);
/// `|c|^2` above which unchecked blocks are not sound: check every iteration.
const HAZARD_C2: f64 = 1.9 * 1.9;
/// Marks an idle lane.
const IDLE: usize = usize::MAX;

/// True for points safely inside the main cardioid or the period-2 bulb.
///
/// Such points have an attracting cycle and never escape. The margins (bulb radius 0.245
/// instead of 0.25, the cardioid test shifted by 1e-4) keep away from the boundary, where a
/// parabolic cycle might let rounding push an orbit out after many iterations.
#[inline]
pub fn in_cardioid_or_bulb(cr: f64, ci: f64) -> bool {
    let y2 = ci * ci;
    let b = cr + 1.0;
    if b * b + y2 < 0.245 * 0.245 {
        return true;
    }
    let u = cr - 0.25;
    let q = u * u + y2;
    q * (q + u) < 0.25 * y2 - 1e-4
}

/// Where pixels come from: `len()` pixels in rows of `row_len()`; pixel `p` is
/// `point(p / row_len, p % row_len)`.
pub trait PixelSource {
    /// Number of pixels.
    fn len(&self) -> usize;
    /// No pixels at all.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Pixels per row (>= 1).
    fn row_len(&self) -> usize;
    /// The point `c` of the pixel at `row`, `col`.
    fn point(&self, row: usize, col: usize) -> (f64, f64);
}

/// Where the escape loop puts each finished pixel.
pub(crate) trait Escapes {
    /// Number of pixels it holds.
    fn len(&self) -> usize;
    /// Pixel `p` is done with `count` (`max_iter`: it did not escape, or a shortcut).
    fn put(&mut self, p: usize, count: u16);
    /// Pixel `p`, the point `c`, escaped with `count < max_iter` at `z_k = z`.
    #[allow(clippy::inline_always)] // called in the loop's cold parts, which must inline it
    #[inline(always)]
    fn escaped(&mut self, p: usize, count: u16, _z: [f64; 2], _c: [f64; 2]) {
        self.put(p, count);
    }
}

#[allow(clippy::inline_always)] // called in the loop's cold parts, which must inline it
impl Escapes for [u16] {
    #[inline(always)]
    fn len(&self) -> usize {
        <[u16]>::len(self)
    }
    #[inline(always)]
    fn put(&mut self, p: usize, count: u16) {
        self[p] = count;
    }
}

/// Computes the count of every pixel of `src` into `out` with `V` vectors of `L` in flight,
/// escape tests every `K` iterations, and `G` finished lanes gathered (over all vectors, or
/// all busy lanes) before they are replayed and refilled together (`G = 1`: at once).
/// `max_iter` in `1..=65535`; `out.len() == src.len()`.
pub(crate) fn escape_counts<L: Lanes, const V: usize, const K: u32, const G: u32>(
    src: &impl PixelSource,
    max_iter: u32,
    shortcuts: bool,
    out: &mut (impl Escapes + ?Sized),
) {
    debug_assert_eq!(out.len(), src.len());
    const { assert!(K >= 1 && G >= 1) };
    // Even the state is made inside: `L::splat` is an instruction of `L`'s target.
    enter::<L, _>(|| {
        let zero = L::splat(0.0);
        let mut m = Machine::<L, V, K, G> {
            zr: [zero; V],
            zi: [zero; V],
            cr: [zero; V],
            ci: [zero; V],
            it: [L::splat(IDLE_ITERS); V],
            pix: vec![IDLE; V * L::N],
            hazard: [0; V],
            iterating: [0; V],
            pending: [0; V],
            parked: [0; V],
            idled: 0,
            snap_zr: vec![0.0; V * L::N],
            snap_zi: vec![0.0; V * L::N],
            snap_it: vec![0.0; V * L::N],
            active: 0,
            next: 0,
            next_row: 0,
            next_col: 0,
            max_iter,
            shortcuts,
        };
        m.run(src, out);
    });
}

/// Iteration count of an idle lane: never reaches any limit.
const IDLE_ITERS: f64 = -1e300;

struct Machine<L: Lanes, const V: usize, const K: u32, const G: u32> {
    zr: [L; V],
    zi: [L; V],
    cr: [L; V],
    ci: [L; V],
    /// Updates done per lane (exact small integers as f64).
    it: [L; V],
    /// Pixel index per lane, or IDLE.
    pix: Vec<usize>,
    /// Per vector: busy lanes whose `|c|` is too large for unchecked blocks.
    hazard: [u32; V],
    /// Per vector: lanes still iterating (busy, not pending).
    iterating: [u32; V],
    /// Per vector: lanes that surely escaped in a past block, waiting for the replay from
    /// their snapshot (`snap_*`, the state at that block's start).
    pending: [u32; V],
    /// Per vector: lanes whose pixel is recorded, waiting for a refill.
    parked: [u32; V],
    /// Lane-blocks the waiting (pending and parked) lanes have idled since the last flush: at
    /// `G`, all are
    /// replayed and refilled.
    idled: usize,
    snap_zr: Vec<f64>,
    snap_zi: Vec<f64>,
    snap_it: Vec<f64>,
    /// Number of busy lanes.
    active: usize,
    /// Next pixel to hand out.
    next: usize,
    /// Row and column of `next` (no division per pixel).
    next_row: usize,
    next_col: usize,
    max_iter: u32,
    shortcuts: bool,
}

// One iteration of the hot loop: it must inline there; `#[inline]` is only a hint.
#[allow(clippy::inline_always)]
#[inline(always)]
fn update<L: Lanes>(zr: L, zi: L, cr: L, ci: L) -> (L, L) {
    let re = L::fused_mul_sub(zr, zr, zi * zi);
    let t = zr * zi;
    (re + cr, L::double_plus(t, ci))
}

// The loop and its out-of-line parts are compiled into `enter`'s trampolines: they must inline
// there.
#[allow(clippy::inline_always)]
impl<L: Lanes, const V: usize, const K: u32, const G: u32> Machine<L, V, K, G> {
    #[inline(always)]
    fn run(&mut self, src: &impl PixelSource, out: &mut (impl Escapes + ?Sized)) {
        for v in 0..V {
            enter::<L, _>(
                #[inline(always)]
                || self.refill(v, (1u32 << L::N) - 1, src, out),
            );
        }
        let maybe = L::splat(MAYBE_OUT);
        let limit = L::splat(f64::from(self.max_iter));
        while self.active > 0 {
            let kb = if self.hazard == [0; V] { K } else { 1 };
            let (saved_zr, saved_zi, saved_it) = (self.zr, self.zi, self.it);
            // Local copies keep the whole state in registers for the block.
            let (mut zr, mut zi, cr, ci) = (self.zr, self.zi, self.cr, self.ci);
            for _ in 0..kb {
                for v in 0..V {
                    (zr[v], zi[v]) = update(zr[v], zi[v], cr[v], ci[v]);
                }
            }
            let kbv = L::splat(f64::from(kb));
            for v in 0..V {
                self.it[v] = self.it[v] + kbv;
            }
            (self.zr, self.zi) = (zr, zi);
            for v in 0..V {
                let iterating = self.iterating[v];
                let outside = L::outside_mask(zr[v], zi[v], maybe) & iterating;
                let limited = L::ge_mask(self.it[v], limit) & iterating;
                if outside | limited != 0 {
                    let saved = (saved_zr[v], saved_zi[v], saved_it[v]);
                    enter::<L, _>(
                        #[inline(always)]
                        || self.settle(v, saved, kb, outside, limited, out),
                    );
                }
            }
            // Waiting lanes idle: flush once they have idled `G` lane-blocks in all, or when
            // no lane iterates.
            let waiting: u32 = (0..V)
                .map(|v| (self.pending[v] | self.parked[v]).count_ones())
                .sum();
            self.idled += waiting as usize;
            if self.idled >= G as usize || waiting > 0 && self.iterating == [0; V] {
                enter::<L, _>(
                    #[inline(always)]
                    || self.flush(src, out),
                );
            }
        }
    }

    /// Vector `v` has lanes that may have escaped (`outside`) or reached `max_iter`
    /// (`limited`) in the block that started from `saved`. Lanes that surely escaped in it
    /// wait for a replay from that state ([`Self::flush`]); lanes at the limit are recorded
    /// and wait for a refill. A lane that may or may not have escaped is replayed at once
    /// (rare). Cold: call it through [`enter`].
    #[inline(always)]
    fn settle(
        &mut self,
        v: usize,
        saved: (L, L, L),
        kb: u32,
        outside: u32,
        limited: u32,
        out: &mut (impl Escapes + ?Sized),
    ) {
        let n = L::N;
        // Surely escaped within this block: above the exact threshold (or overflowed to NaN)
        // now, and below `MAYBE_OUT` at its start, so by the monotone growth (module docs)
        // not before it. Not for hazard lanes, where that growth is not guaranteed.
        let surely = L::outside_mask(self.zr[v], self.zi[v], L::splat(SURELY_OUT));
        let sure = surely & outside & !self.hazard[v];
        if outside & !sure != 0 {
            // Undecided by the block's end: replay this vector's block now.
            let mut state = [(L::splat(0.0), L::splat(0.0), L::splat(0.0)); V];
            let (mut flagged, mut live) = ([0; V], [0; V]);
            (state[v], flagged[v], live[v]) = (saved, outside, self.iterating[v]);
            self.parked[v] |= self.replay(&state, kb, &flagged, &live, out)[v];
        } else {
            for i in 0..n {
                let bit = 1 << i;
                if limited & !outside & bit != 0 {
                    // No escape in this block: done at the limit.
                    self.record(v * n + i, self.max_iter as u16, out);
                    self.parked[v] |= bit;
                }
            }
            if sure != 0 {
                let (mut sr, mut si, mut st) = ([0.0f64; 8], [0.0f64; 8], [0.0f64; 8]);
                saved.0.store(&mut sr);
                saved.1.store(&mut si);
                saved.2.store(&mut st);
                for i in 0..n {
                    if sure & (1 << i) != 0 {
                        let lane = v * n + i;
                        (self.snap_zr[lane], self.snap_zi[lane]) = (sr[i], si[i]);
                        self.snap_it[lane] = st[i];
                    }
                }
                self.pending[v] |= sure;
                self.iterating[v] &= !sure;
            }
        }
    }

    /// Replays every vector's pending lanes from their snapshots together (each escapes within
    /// `K` updates of its snapshot; the vectors' replays overlap), then refills them and the
    /// parked lanes. Cold: call it through [`enter`].
    #[allow(clippy::needless_range_loop)] // lanes index several arrays
    #[inline(always)]
    fn flush(&mut self, src: &impl PixelSource, out: &mut (impl Escapes + ?Sized)) {
        let n = L::N;
        let pending = self.pending;
        if pending != [0; V] {
            let mut state = [(L::splat(0.0), L::splat(0.0), L::splat(0.0)); V];
            for v in 0..V {
                if pending[v] == 0 {
                    continue;
                }
                let (mut zr, mut zi, mut it) = ([0.0f64; 8], [0.0f64; 8], [0.0f64; 8]);
                for i in 0..n {
                    if pending[v] & (1 << i) != 0 {
                        let lane = v * n + i;
                        (zr[i], zi[i]) = (self.snap_zr[lane], self.snap_zi[lane]);
                        it[i] = self.snap_it[lane];
                    }
                }
                state[v] = (L::load(&zr), L::load(&zi), L::load(&it));
            }
            let finished = self.replay(&state, K, &pending, &pending, out);
            debug_assert_eq!(finished, pending, "a pending lane escapes within its block");
        }
        for v in 0..V {
            let lanes = pending[v] | self.parked[v];
            if lanes != 0 {
                (self.pending[v], self.parked[v]) = (0, 0);
                self.refill(v, lanes, src, out);
            }
        }
        self.idled = 0;
    }

    /// Replays `kb` updates of the lanes `live[v]` of every vector `v` from the state
    /// `state[v]` (`zr`, `zi`, updates done) one iteration at a time with the exact test, the
    /// vectors interleaved, recording every lane that escaped or reached `max_iter` within them.
    /// Only lanes `flagged[v]` can have escaped. Returns the recorded lanes, for the caller to
    /// refill.
    #[allow(clippy::needless_range_loop)] // lanes index several arrays
    #[inline(always)]
    fn replay(
        &mut self,
        state: &[(L, L, L); V],
        kb: u32,
        flagged: &[u32; V],
        live: &[u32; V],
        out: &mut (impl Escapes + ?Sized),
    ) -> [u32; V] {
        let n = L::N;
        let max_iter = f64::from(self.max_iter);
        let mut live = *live;
        let (mut zr, mut zi) = (state.map(|s| s.0), state.map(|s| s.1));
        let mut it0 = [[0.0f64; 8]; V];
        // Lanes that reach max_iter within the replay (usually none).
        let mut limited = [0u32; V];
        for v in 0..V {
            state[v].2.store(&mut it0[v]);
            limited[v] =
                L::ge_mask(state[v].2 + L::splat(f64::from(kb)), L::splat(max_iter)) & live[v];
        }
        let mut finished = [0u32; V];
        let (mut ar, mut ai) = ([0.0f64; 8], [0.0f64; 8]);
        let (mut cr, mut ci) = ([0.0f64; 8], [0.0f64; 8]);
        for t in 0..kb {
            let mut busy = false;
            for v in 0..V {
                // Only flagged lanes can escape: once they and the limited lanes are settled,
                // the rest of the block needs no replay.
                if (flagged[v] | limited[v]) & live[v] == 0 {
                    continue;
                }
                busy = true;
                if limited[v] & live[v] != 0 {
                    // Lanes that already did max_iter updates before this one are done.
                    let done = state[v].2 + L::splat(f64::from(t));
                    let mut done = L::ge_mask(done, L::splat(max_iter)) & limited[v] & live[v];
                    while done != 0 {
                        let i = done.trailing_zeros() as usize;
                        done &= done - 1;
                        self.record(v * n + i, self.max_iter as u16, out);
                        live[v] &= !(1 << i);
                        finished[v] |= 1 << i;
                    }
                }
                (zr[v], zi[v]) = update(zr[v], zi[v], self.cr[v], self.ci[v]);
            }
            if !busy {
                break;
            }
            for v in 0..V {
                let mask = L::outside_mask(zr[v], zi[v], L::splat(MAYBE_OUT)) & live[v];
                if mask == 0 {
                    continue;
                }
                zr[v].store(&mut ar);
                zi[v].store(&mut ai);
                self.cr[v].store(&mut cr);
                self.ci[v].store(&mut ci);
                let mut lanes = mask;
                while lanes != 0 {
                    let i = lanes.trailing_zeros() as usize;
                    lanes &= lanes - 1;
                    let bit = 1 << i;
                    let s = ar[i] * ar[i] + ai[i] * ai[i];
                    if s > SURELY_OUT || numpy_abs(ar[i], ai[i]) > 2.0 {
                        let (lane, count) = (v * n + i, (it0[v][i] + f64::from(t)) as u16);
                        out.escaped(self.pix[lane], count, [ar[i], ai[i]], [cr[i], ci[i]]);
                        self.finish(lane);
                        live[v] &= !bit;
                        finished[v] |= bit;
                    }
                }
            }
        }
        // Lanes that reach the limit exactly at the replay's end.
        for v in 0..V {
            for i in 0..n {
                let bit = 1 << i;
                if limited[v] & live[v] & bit != 0 && it0[v][i] + f64::from(kb) >= max_iter {
                    self.record(v * n + i, self.max_iter as u16, out);
                    finished[v] |= bit;
                }
            }
        }
        finished
    }

    /// Records the count of `lane`'s pixel; the lane must be refilled afterwards.
    #[inline]
    fn record(&mut self, lane: usize, count: u16, out: &mut (impl Escapes + ?Sized)) {
        out.put(self.pix[lane], count);
        self.finish(lane);
    }

    /// Marks `lane` idle once its pixel is recorded; it must be refilled afterwards.
    #[inline]
    fn finish(&mut self, lane: usize) {
        let (v, i) = (lane / L::N, lane % L::N);
        self.iterating[v] &= !(1 << i);
        self.pending[v] &= !(1 << i);
        self.hazard[v] &= !(1 << i);
        self.active -= 1;
        self.pix[lane] = IDLE;
    }

    /// Gives each lane of vector `v` in `lanes` the next pixel that needs iterating
    /// (finishing shortcut pixels on the way), or makes it idle. One store and one load per
    /// state vector, however many lanes change. Call it through [`enter`].
    #[inline(always)]
    fn refill(
        &mut self,
        v: usize,
        lanes: u32,
        src: &impl PixelSource,
        out: &mut (impl Escapes + ?Sized),
    ) {
        let n = L::N;
        let (mut cr, mut ci, mut zr, mut zi, mut it) = (
            [0.0f64; 8],
            [0.0f64; 8],
            [0.0f64; 8],
            [0.0f64; 8],
            [0.0f64; 8],
        );
        self.cr[v].store(&mut cr);
        self.ci[v].store(&mut ci);
        self.zr[v].store(&mut zr);
        self.zi[v].store(&mut zi);
        self.it[v].store(&mut it);
        let (total, row_len) = (src.len(), src.row_len());
        for i in 0..n {
            if lanes & (1 << i) == 0 {
                continue;
            }
            let (mut c_re, mut c_im, mut p) = (0.0, 0.0, IDLE);
            while self.next < total {
                let q = self.next;
                let (a, b) = src.point(self.next_row, self.next_col);
                self.next += 1;
                self.next_col += 1;
                if self.next_col == row_len {
                    (self.next_row, self.next_col) = (self.next_row + 1, 0);
                }
                if self.shortcuts && in_cardioid_or_bulb(a, b) {
                    out.put(q, self.max_iter as u16);
                    continue;
                }
                (c_re, c_im, p) = (a, b, q);
                break;
            }
            let busy = p != IDLE;
            let r2 = c_re * c_re + c_im * c_im;
            let hazard = busy && (r2 > HAZARD_C2 || r2.is_nan());
            let lane = v * n + i;
            self.pix[lane] = p;
            self.active += usize::from(busy);
            if busy {
                self.iterating[v] |= 1 << i;
            }
            if hazard {
                self.hazard[v] |= 1 << i;
            }
            (cr[i], ci[i], zr[i], zi[i]) = (c_re, c_im, 0.0, 0.0);
            it[i] = if busy { 0.0 } else { IDLE_ITERS };
        }
        self.cr[v] = L::load(&cr);
        self.ci[v] = L::load(&ci);
        self.zr[v] = L::load(&zr);
        self.zi[v] = L::load(&zi);
        self.it[v] = L::load(&it);
    }
}
