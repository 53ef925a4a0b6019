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
//!   the count the reference gives it. This is sound because for `|c| <= 1.9` an orbit that
//!   reached `|z| > 2 - 1e-14` grows monotonically (`|z|^2 - |c| > |z|`), so it is still
//!   flagged at the block's end. Lanes with a larger `|c|` force blocks of one iteration.
//! * A lane that finishes is refilled at once with the next pixel, so vectors stay full.
//! * Points safely inside the main cardioid or the period-2 bulb never escape: they get
//!   `max_iter` without iterating (the margins keep this exact; see [`in_cardioid_or_bulb`]).

use crate::lanes::Lanes;
use crate::spec::numpy_abs;

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

/// Where pixels come from: `len` pixels, pixel `p` at `c = at(p)`.
pub trait PixelSource {
    /// Number of pixels.
    fn len(&self) -> usize;
    /// The point of pixel `p`.
    fn at(&self, p: usize) -> (f64, f64);
}

/// Computes `out[p]` for every pixel of `src` with `V` vectors of `L` in flight and escape
/// tests every `K` iterations. `max_iter` in `1..=65535`; `out.len() == src.len()`.
pub fn escape_counts<L: Lanes, const V: usize, const K: u32>(
    src: &impl PixelSource,
    max_iter: u32,
    shortcuts: bool,
    out: &mut [u16],
) {
    debug_assert_eq!(out.len(), src.len());
    let mut m = Machine::<L, V, K> {
        zr: [L::splat(0.0); V],
        zi: [L::splat(0.0); V],
        cr: [L::splat(0.0); V],
        ci: [L::splat(0.0); V],
        pix: vec![IDLE; V * L::N],
        start: vec![0; V * L::N],
        hazard: vec![false; V * L::N],
        step: 0,
        next: 0,
        max_iter,
        shortcuts,
    };
    m.run(src, out);
}

struct Machine<L: Lanes, const V: usize, const K: u32> {
    zr: [L; V],
    zi: [L; V],
    cr: [L; V],
    ci: [L; V],
    /// Pixel index per lane, or IDLE.
    pix: Vec<usize>,
    /// Value of `step` when the lane's pixel started.
    start: Vec<u64>,
    /// Lane's `|c|` is too large for unchecked blocks.
    hazard: Vec<bool>,
    /// Iterations done by the machine so far.
    step: u64,
    /// Next pixel to hand out.
    next: usize,
    max_iter: u32,
    shortcuts: bool,
}

#[inline(always)]
fn update<L: Lanes>(zr: L, zi: L, cr: L, ci: L) -> (L, L) {
    let re = L::fused_mul_sub(zr, zr, zi * zi);
    let t = zr * zi;
    (re + cr, L::double_plus(t, ci))
}

impl<L: Lanes, const V: usize, const K: u32> Machine<L, V, K> {
    fn run(&mut self, src: &impl PixelSource, out: &mut [u16]) {
        for lane in 0..V * L::N {
            self.refill(lane, src, out);
        }
        loop {
            let Some((deadline, hazard)) = self.schedule() else {
                break;
            };
            let kb = if hazard {
                1
            } else {
                (deadline - self.step).min(K as u64) as u32
            };
            let (saved_zr, saved_zi) = (self.zr, self.zi);
            for _ in 0..kb {
                for v in 0..V {
                    (self.zr[v], self.zi[v]) =
                        update(self.zr[v], self.zi[v], self.cr[v], self.ci[v]);
                }
            }
            let step0 = self.step;
            self.step += kb as u64;
            let maybe = L::splat(MAYBE_OUT);
            for v in 0..V {
                if L::outside_mask(self.zr[v], self.zi[v], maybe) != 0 {
                    self.replay(v, saved_zr[v], saved_zi[v], kb, step0, src, out);
                }
            }
            if self.step == deadline {
                for lane in 0..V * L::N {
                    let p = self.pix[lane];
                    if p != IDLE && self.step - self.start[lane] == self.max_iter as u64 {
                        out[p] = self.max_iter as u16;
                        self.refill(lane, src, out);
                    }
                }
            }
        }
    }

    /// The earliest deadline of an active lane and whether any active lane is a hazard;
    /// `None` when every lane is idle.
    fn schedule(&self) -> Option<(u64, bool)> {
        let mut deadline = u64::MAX;
        let mut hazard = false;
        for lane in 0..V * L::N {
            if self.pix[lane] != IDLE {
                deadline = deadline.min(self.start[lane] + self.max_iter as u64);
                hazard |= self.hazard[lane];
            }
        }
        (deadline != u64::MAX).then_some((deadline, hazard))
    }

    /// Replays the last block of vector `v` one iteration at a time with the exact test,
    /// finishing the lanes that escaped within it.
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn replay(
        &mut self,
        v: usize,
        mut zr: L,
        mut zi: L,
        kb: u32,
        step0: u64,
        src: &impl PixelSource,
        out: &mut [u16],
    ) {
        let n = L::N;
        let mut live = 0u32;
        for i in 0..n {
            if self.pix[v * n + i] != IDLE {
                live |= 1 << i;
            }
        }
        let mut escaped: Vec<(usize, u16)> = Vec::new();
        let (mut ar, mut ai) = ([0.0f64; 8], [0.0f64; 8]);
        for t in 0..kb {
            (zr, zi) = update(zr, zi, self.cr[v], self.ci[v]);
            let mask = L::outside_mask(zr, zi, L::splat(MAYBE_OUT)) & live;
            if mask == 0 {
                continue;
            }
            zr.store(&mut ar);
            zi.store(&mut ai);
            for i in 0..n {
                if mask & (1 << i) == 0 {
                    continue;
                }
                let s = ar[i] * ar[i] + ai[i] * ai[i];
                if s > SURELY_OUT || numpy_abs(ar[i], ai[i]) > 2.0 {
                    let lane = v * n + i;
                    let count = step0 + t as u64 - self.start[lane];
                    escaped.push((lane, count as u16));
                    live &= !(1 << i);
                }
            }
        }
        for (lane, count) in escaped {
            out[self.pix[lane]] = count;
            self.refill(lane, src, out);
        }
    }

    /// Gives `lane` the next pixel that needs iterating (finishing shortcut pixels on the
    /// way), or makes it idle.
    fn refill(&mut self, lane: usize, src: &impl PixelSource, out: &mut [u16]) {
        let (v, i) = (lane / L::N, lane % L::N);
        let total = src.len();
        let (mut c_re, mut c_im, mut p) = (0.0, 0.0, IDLE);
        while self.next < total {
            let q = self.next;
            self.next += 1;
            let (a, b) = src.at(q);
            if self.shortcuts && in_cardioid_or_bulb(a, b) {
                out[q] = self.max_iter as u16;
                continue;
            }
            (c_re, c_im, p) = (a, b, q);
            break;
        }
        self.pix[lane] = p;
        self.start[lane] = self.step;
        self.hazard[lane] = p != IDLE && !(c_re * c_re + c_im * c_im <= HAZARD_C2);
        set_lane(&mut self.cr[v], i, c_re);
        set_lane(&mut self.ci[v], i, c_im);
        set_lane(&mut self.zr[v], i, 0.0);
        set_lane(&mut self.zi[v], i, 0.0);
    }
}

#[inline(always)]
fn set_lane<L: Lanes>(x: &mut L, i: usize, value: f64) {
    let mut a = [0.0f64; 8];
    x.store(&mut a);
    a[i] = value;
    *x = L::load(&a);
}
