//! The delta machine's intake: which pixel goes into which lane (a new one, or a parked one),
//! in which mode a refilled vector runs, and its counters after a refill or sync.

use super::{DeltaMachine, RATE_WINDOW, bound};
use crate::escape::PixelSource;
use crate::lanes::Lanes;

// Called from the loop compiled into `enter`'s trampoline: they must inline there.
#[allow(clippy::inline_always)]
impl<L: Lanes, const V: usize, const R: u32> DeltaMachine<'_, L, V, R> {
    /// Counts `updates` lane-updates and `rebased` rebases.
    pub(super) fn count(&mut self, updates: usize, rebased: u32) {
        self.updates += updates as f64;
        self.rebased += f64::from(rebased);
        if self.updates > RATE_WINDOW {
            (self.updates, self.rebased) = (0.5 * self.updates, 0.5 * self.rebased);
        }
    }

    /// The next pixel for a lane: the last parked one (if `parked` allows), else a new one at
    /// `m = 0`; as `((pixel, updates done, m), d, dc)` (pixels handed over mid-orbit are
    /// parked with their `m`).
    #[allow(clippy::type_complexity)]
    pub(super) fn take(
        &mut self,
        src: &impl PixelSource,
        parked: bool,
    ) -> Option<((usize, u32, usize), [f64; 2], [f64; 2])> {
        if parked && let Some(p) = self.parked.pop() {
            return Some(((p.pix, p.n, p.m), p.d, p.dc));
        }
        if self.next == src.len() {
            return None;
        }
        let (cr, ci) = src.point(self.next_row, self.next_col);
        let pix = self.next;
        self.next += 1;
        self.next_col += 1;
        if self.next_col == src.row_len() {
            (self.next_row, self.next_col) = (self.next_row + 1, 0);
        }
        self.active += 1;
        Some(((pix, 0, 0), [0.0; 2], [cr, ci]))
    }

    /// Gives every lane of the empty vector `v` a pixel, in gather mode while rebasing is
    /// frequent, else in lockstep (lanes sharing `m`). Lockstep takes parked pixels only when they
    /// fill it (or nothing else is left): they have few updates left, and mixing them with new
    /// pixels would leave lanes idle. Lanes left over are idle.
    /// Runs inside [`enter`](crate::lanes::enter).
    #[allow(clippy::needless_range_loop)] // a lane indexes several arrays
    #[inline(always)]
    pub(super) fn refill(&mut self, v: usize, src: &impl PixelSource) {
        let gather = self.rebased * f64::from(R) > self.updates;
        let parked = gather || self.parked.len() >= L::N || self.next == src.len();
        let mut a = [[0.0; 8]; 4];
        let (mut live, mut n_top, mut d1, mut dc1) = (0, 0, 0.0f64, 0.0f64);
        // A lockstep vector's lanes share `m`: it takes pixels while the next one has the
        // first one's (those handed over mid-orbit come sorted by `m`; new ones are at 0).
        let mut shared_m = None;
        for i in 0..L::N {
            let lane = v * L::N + i;
            let next_m = self.parked.last().filter(|_| parked).map_or(0, |p| p.m);
            if !gather && shared_m.is_some_and(|m| m != next_m) {
                break;
            }
            let Some(((pix, n0, m0), d, dc)) = self.take(src, parked) else {
                break;
            };
            shared_m.get_or_insert(m0);
            (self.pix[lane], self.n_off[lane], self.m_off[lane]) = (pix, n0, m0);
            ([a[0][i], a[1][i]], [a[2][i], a[3][i]]) = (d, dc);
            live |= 1 << i;
            n_top = n_top.max(n0);
            d1 = d1.max(d[0].abs() + d[1].abs());
            dc1 = dc1.max(dc[0].abs() + dc[1].abs());
        }
        (self.live[v], self.gather[v]) = (live, gather);
        let m0 = if gather { 0 } else { shared_m.unwrap_or(0) };
        (self.n_top[v], self.age[v], self.m0[v]) = (n_top, 0, m0);
        for (x, a) in [&mut self.dr, &mut self.di, &mut self.dcr, &mut self.dci]
            .into_iter()
            .zip(&a)
        {
            x[v] = L::load(a);
        }
        self.grow_c[v] = bound::constant(dc1);
        let b = if gather {
            f64::INFINITY
        } else {
            bound::start(d1)
        };
        self.restart(v, b);
    }

    /// Restarts vector `v`'s counters, with the bound `b` on its lanes' `|d|`; idle lanes of a
    /// gathering vector follow a busy one (any index the vector reads stays valid).
    pub(super) fn restart(&mut self, v: usize, b: f64) {
        self.bound[v] = b;
        self.steps[v] = 0;
        let (age, live) = (self.age[v], self.live[v]);
        let mut countdown = self.last;
        if self.gather[v] && live != 0 {
            let lanes = v * L::N..(v + 1) * L::N;
            let follow = self.m_off[v * L::N + live.trailing_zeros() as usize];
            for (i, lane) in lanes.enumerate() {
                if live & (1 << i) == 0 {
                    self.m_off[lane] = follow;
                    continue;
                }
                let m = self.m_off[lane].wrapping_add(age);
                let it = self.n_off[lane].wrapping_add(age as u32);
                countdown = countdown
                    .min(self.last - m)
                    .min((self.max_iter - it) as usize);
            }
        } else if !self.gather[v] {
            let to_limit = (self.max_iter - self.n_top[v]) as usize - age;
            countdown = (self.last - self.m0[v]).min(to_limit);
        }
        self.countdown[v] = countdown;
    }
}
