//! The update's throughput limit, measured in the benchmarks' own run.

use super::update;
use crate::lanes::{Lanes, enter};

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
