//! A quick refutation before a proof: a few pixels by f64 perturbation. Two different counts
//! mean the frame (and its rectangle) is not constant, so the proof is not tried; this only
//! ever makes a proof say "not proven", and saves the tile budget a hopeless proof would
//! spend splitting tiles in chaotic regions before anything escapes.

use crate::exact::{ExactStack, ReferenceOrbit, perturb_scalar};

/// Pixels sampled per axis (corners, centre and between).
const PER_AXIS: u64 = 5;

/// Indices spread over an axis of `n` pixels, both ends included.
fn spread(n: u64) -> Vec<u64> {
    let k = PER_AXIS.min(n);
    (0..k)
        .map(|i| if k == 1 { 0 } else { i * (n - 1) / (k - 1) })
        .collect()
}

/// True when sampled pixels of `level` have two counts (perturbation in f64, as
/// [`crate::exact::render_block_exact`] renders). False when they agree, or when the level
/// cannot be sampled (too deep for f64 deltas, or an orbit of another precision).
pub(super) fn refuted(stack: &ExactStack, orbit: &ReferenceOrbit, level: u64) -> bool {
    if orbit.check_for(stack, level).is_err() {
        return false;
    }
    // Offsets separate: a column's real part and a row's imaginary part.
    let axis = |n: usize, pick: fn(&ExactStack, u64, u64) -> Option<f64>| -> Option<Vec<f64>> {
        spread(n as u64)
            .into_iter()
            .map(|i| pick(stack, level, i))
            .collect()
    };
    let xs = axis(stack.width, |s, l, j| {
        s.pixel_offset(l, 0, j).ok().map(|o| o.0)
    });
    let ys = axis(stack.height, |s, l, r| {
        s.pixel_offset(l, r, 0).ok().map(|o| o.1)
    });
    let (Some(xs), Some(ys)) = (xs, ys) else {
        return false;
    };
    let mut first = None;
    for &dy in &ys {
        for &dx in &xs {
            let k = perturb_scalar(orbit, dx, dy, stack.max_iter);
            if *first.get_or_insert(k) != k {
                return true;
            }
        }
    }
    false
}
