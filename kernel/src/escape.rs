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
use crate::spec::{PolyNum, SMOOTH_BAILOUT, SMOOTH_MAX_EXTRA, log2_poly, numpy_abs};
#[cfg(doc)]
use crate::spec::{smooth_from_escape, smooth_nu};
use std::marker::PhantomData;

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
    fields: Box<[[f64; LOG_CHUNK]]>,
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
            fields: vec![[0.0; LOG_CHUNK]; 5].into_boxed_slice(),
            fill: 0,
            lanes: PhantomData,
        }
    }

    /// Finishes the logged escapes and empties the log. Compiled into the caller's trampoline.
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn finish(&mut self) {
        let n = self.fill;
        let [zr, zi, cr, ci, k] = &self.fields[..] else {
            unreachable!("five fields")
        };
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
            hazard: vec![false; V * L::N],
            hazards: 0,
            iterating: [0; V],
            pending: [0; V],
            parked: [0; V],
            waiting: 0,
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
    /// Lane's `|c|` is too large for unchecked blocks.
    hazard: Vec<bool>,
    /// Number of busy hazard lanes.
    hazards: usize,
    /// Per vector: lanes still iterating (busy, not pending).
    iterating: [u32; V],
    /// Per vector: lanes that surely escaped in a past block, waiting for the replay from
    /// their snapshot (`snap_*`, the state at that block's start).
    pending: [u32; V],
    /// Per vector: lanes whose pixel is recorded, waiting for a refill.
    parked: [u32; V],
    /// Pending and parked lanes of all vectors.
    waiting: usize,
    /// Lane-blocks the waiting lanes have idled since the last flush: at `G`, all are
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
            let kb = if self.hazards > 0 { 1 } else { K };
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
            self.idled += self.waiting;
            if self.idled >= G as usize || self.waiting > 0 && self.iterating == [0; V] {
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
        let mut sure = surely & outside;
        if self.hazards > 0 {
            for i in 0..n {
                if self.hazard[v * n + i] {
                    sure &= !(1 << i);
                }
            }
        }
        let before = self.pending[v] | self.parked[v];
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
        let after = self.pending[v] | self.parked[v];
        self.waiting += (after.count_ones() - before.count_ones()) as usize;
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
        (self.waiting, self.idled) = (0, 0);
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
        self.active -= 1;
        if self.hazard[lane] {
            self.hazards -= 1;
        }
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
            self.hazard[lane] = hazard;
            self.active += usize::from(busy);
            if busy {
                self.iterating[v] |= 1 << i;
            }
            self.hazards += usize::from(hazard);
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

/// The update's throughput limit on this CPU, for the benchmarks' "% of the limit": `V`
/// independent vectors of `L` iterate `c = -0.1 + 0.1i` (inside the main cardioid: never
/// escapes) `iters` times with [`update`], the escape loop's own arithmetic; with `test`, each
/// iteration also computes `|z|^2`, compares it and counts the lanes still inside, as a loop
/// that tests every iteration must. Returns the pixel-iterations done (`V * L::N * iters`) and a
/// value derived from the state, so the work cannot be optimised away.
pub(crate) fn update_limit<L: Lanes, const V: usize>(iters: u64, test: bool) -> (u64, f64) {
    enter::<L, _>(
        #[inline(always)]
        || {
            let (cr, ci) = (L::splat(-0.1), L::splat(0.1));
            let (mut zr, mut zi) = ([L::splat(0.0); V], [L::splat(0.0); V]);
            let mut inside = [L::splat(0.0); V];
            let (four, one, zero) = (L::splat(4.0), L::splat(1.0), L::splat(0.0));
            if test {
                for _ in 0..iters {
                    for v in 0..V {
                        (zr[v], zi[v]) = update(zr[v], zi[v], cr, ci);
                        let s = zr[v] * zr[v] + zi[v] * zi[v];
                        inside[v] = inside[v] + L::select_lt(four, s, zero, one);
                    }
                }
            } else {
                for _ in 0..iters {
                    for v in 0..V {
                        (zr[v], zi[v]) = update(zr[v], zi[v], cr, ci);
                    }
                }
            }
            let mut acc = [0.0f64; 8];
            let mut sum = 0.0;
            for v in 0..V {
                (zr[v] + zi[v] + inside[v]).store(&mut acc);
                sum += acc[..L::N].iter().sum::<f64>();
            }
            (V as u64 * L::N as u64 * iters, sum)
        },
    )
}
