//! Constant-frame proofs: rigorous bounds that every pixel of a level (or every point of its
//! rectangle, and so of every deeper level) has one and the same true count, so that such
//! frames can be produced without per-pixel work. A proof either holds for the exact pixels,
//! whatever f64 does, or says "not proven"; tightness comes second.
//!
//! * [`prove_rect`]: every `c` in the level's continuous rectangle (the convex hull of its
//!   pixel points, half extents `s W / (2H)` and `s / 2` around the exact centre, bounded upward)
//!   has count `K`. With `zoom_per_level > 1` each deeper level's rectangle lies inside, so this
//!   proves every deeper level too; for `zoom_per_level <= 1` it is refused (`None`).
//! * [`prove_frame`]: the same for the level's `W x H` pixel points only (tighter; this level
//!   only).
//! * [`ConstantFrames::find`]: the smallest level `L_d` from which every level is proven
//!   constant ([`ConstantFrom`]), cached per stack; [`is_proven_constant`] asks it for one level.
//!
//! # The method
//!
//! `C` is the exact centre, `Z_n` its true orbit, `Zf_n` the stored f64 points of a
//! [`ReferenceOrbit`] (`p`-bit arithmetic, any `p`: the bounds account for it). A pixel is
//! `c = C + dc`; its orbit is `z_n = Z_n + d_n` with `d_0 = 0`, `d_(n+1) = 2 Z_n d_n + d_n^2 + dc`.
//!
//! 1. **The orbit's error** (`proof/orbit_bounds.rs`): `delta_n >= |Zf_n - Z_n|`. One big-float
//!    update of `Zhat_n` rounds the real part four times (`x^2`, `y^2`, their difference, the sum
//!    with `Chat_re`) and the imaginary part twice (`x y`, doubled exactly, plus `Chat_im`);
//!    with relative errors at most `u = 2^(1-p)` each (one ulp: faithful rounding suffices) the
//!    real part is off by at most `u (3 + 3u + u^2) |Zhat|^2 + u |Chat_re|`, the imaginary by
//!    `u (2 + u) |Zhat|^2 + u |Chat_im|` (`|2xy| <= |Z|^2`), so the update's local error is at most
//!    `2^(4-p) (|Zhat_n|^2 + |C|_1)`. Adding `|C - Chat|` (a decimal centre is not binary) and
//!    `Zhat_n^2 - Z_n^2 = (Zhat_n - Z_n)(Zhat_n + Z_n)` gives
//!    `e_(n+1) = 2 |Zhat_n| e_n + e_n^2 + local_n`; the f64 rounding of each stored point,
//!    `2^-51 |Zf_n|`, is added fresh and not propagated (the big orbit never sees it).
//! 2. **Affine models with remainder** (`proof/model.rs`): a tile is a set of points
//!    `dc = t + u` (`t` an f64 centre, `u` in a box of radius `rho`) and a model
//!    `d_n = p + q u + e`, `|e| <= r`, for all its points. One update gives
//!    `p' = (2 Zf_n + p) p + t`, `q' = 2 (Zf_n + p) q + 1` (in f64) and the new remainder
//!    `r' = |q|^2 rho^2 + 2 delta_n D + 2 (|Zf_n| + delta_n) r + 2 D r + r^2`
//!    (`D = |p| + |q| rho`) plus the f64 rounding of `p'` and of `q'` times `rho`. (For the
//!    whole region, `t = 0`, `p = 0` and `q = A_n = dZ/dC` computed in f64: `r` is the
//!    derivative's error `alpha_n` times `rho` plus the nonlinear remainder `eps_n`.) Every
//!    bound is an upper bound computed with each f64 operation rounded up (`next_up`, valid
//!    for any rounding to nearest, subnormals and overflow included), and every complex f64
//!    operation is charged its worst rounding error (`proof/round.rs`).
//! 3. **Decisions at update `n`**: `|z_n| = |W + q u + zeta + e|` with `W = Zf_n + p`. The tile is
//!    inside when `|W| + |q| rho + delta_n + r <= 2` (or, as `|W + q u|` is convex in `u`, its
//!    maximum at the box's four corners plus the errors is); escaped when
//!    `|W| - |q| rho - delta_n - r > 2` (computed rounding down). Comparisons are written so
//!    that NaN or an infinity is never a decision.
//! 4. **Tiles**: the whole region runs as one model while it is inside, each state kept (at
//!    deep levels this alone decides). At its first undecided update it is halved into tiles,
//!    which advance in lockstep; a tile undecided at update `n` is replaced by its 2 or 4
//!    halves. Every new tile restarts from a kept state of the whole region (all its updates
//!    are proven inside), the last one whose remainder is below
//!    `ROOT_TOLERANCE (rho_t / rho)^2` (the new tile's own quadratic scale: a pixel restarts
//!    near update 0 and inherits almost no remainder), and is brought to update `n` without
//!    checks (its ancestors proved those updates). Pixel regions split down to single pixels
//!    (a box of rounding size); the continuum down to `2^-24` of the rectangle per axis. An
//!    undecided leaf fails the proof.
//! 5. **The count**: every tile inside at update `n` continues; every tile escaped at `n`
//!    gives `K = n - 1`; all inside through update `max_iter` gives `K = max_iter`. Tiles inside
//!    and escaped at the same update, an orbit that ends (the centre escaped) before the region
//!    is decided, [`MAX_TILE_STEPS`] spent, or a non-finite bound: not proven.
//!
//! Before either proof, 5 x 5 pixels (corners and centre among them) are counted by f64
//! perturbation (`proof/sample.rs`); two different counts end it as not proven. That only
//! saves time (hopeless proofs in chaotic regions would split tiles until the budget is
//! spent); it never makes a proof hold.
//!
//! Soundness rests on: each model bound holds for every point of its tile (induction on `n`,
//! the algebra above), each tile's box holds its exact points (pixel positions and the
//! rectangle are computed in big precision and bounded with explicit relative slack), the
//! tiles' point sets cover the region, and dashu-float's operations being faithfully rounded
//! at the orbit's precision (they are documented as correctly rounded).
//!
//! # Depth
//!
//! A proof needs no f64 deltas, but it needs f64 half extents: below [`MIN_SPACING`]
//! (1e-300) a rectangle's half extent is replaced by `MIN_SPACING` (a bigger rectangle, so still
//! a proof of the level), with the orbit precision of that depth
//! ([`ExactStack::proof_precision`]); [`prove_frame`] there proves the rectangle.
//!
//! ```
//! use zoomstack_kernel::exact::{ExactStack, OrbitCache, proof};
//! let stack = ExactStack::default(); // the notebook's stack
//! let orbit = OrbitCache::global().for_level(&stack, 160000).unwrap();
//! // Level 160000's whole rectangle, so every deeper level, is count 250.
//! assert_eq!(proof::prove_rect(&stack, &orbit, 160000).unwrap(), Some(250));
//! // Level 0 is not constant.
//! let orbit = OrbitCache::global().for_level(&stack, 0).unwrap();
//! assert_eq!(proof::prove_frame(&stack, &orbit, 0).unwrap(), None);
//! ```

mod model;
mod orbit_bounds;
mod region;
mod round;
mod sample;
mod search;

pub use model::{MAX_TILE_STEPS, ROOT_TOLERANCE};
pub use region::CONTINUUM_SLOTS_LOG2;
pub use search::{
    ConstantFrames, ConstantFrom, MAX_DISCRETE_SCAN, MAX_SEARCH_STEPS, is_proven_constant,
};

use super::real::Big;
use super::{ExactStack, MIN_SPACING, ReferenceOrbit};
use crate::KernelError;
use model::Outcome;
use orbit_bounds::OrbitBounds;
use region::{Axis, Region, half_extents};

/// Frames wider or taller than this are not proven (pixel indices stay exact in f64).
const MAX_AXIS: usize = 1 << 32;

/// Proves that every point of `level`'s continuous rectangle has the same true count, and so
/// every level deeper than `level` (which needs `zoom_per_level > 1`); returns that count.
///
/// `orbit` is any reference orbit of the stack's centre with `max_iter` at least the stack's
/// (its precision enters the bounds; [`ExactStack::proof_precision`] is the one
/// [`ConstantFrames`] uses).
///
/// `Ok(None)`: not proven, or `zoom_per_level <= 1`.
///
/// # Errors
///
/// [`ExactStack::validate`] errors; [`KernelError::OrbitMismatch`] for an orbit of another
/// centre or a smaller `max_iter`.
pub fn prove_rect(
    stack: &ExactStack,
    orbit: &ReferenceOrbit,
    level: u64,
) -> Result<Option<u16>, KernelError> {
    Ok(rect_proof(stack, orbit, level, MAX_TILE_STEPS)?.count)
}

/// Proves that every pixel point of `level` has the same true count, and returns it. Tighter
/// than [`prove_rect`], but it proves this level only. Below [`MIN_SPACING`] it proves the
/// (enlarged) rectangle instead.
///
/// `Ok(None)`: not proven.
///
/// # Errors
///
/// Those of [`prove_rect`].
pub fn prove_frame(
    stack: &ExactStack,
    orbit: &ReferenceOrbit,
    level: u64,
) -> Result<Option<u16>, KernelError> {
    Ok(frame_proof(stack, orbit, level, MAX_TILE_STEPS)?.count)
}

const NOT_PROVEN: Outcome = Outcome {
    count: None,
    steps: 0,
};

/// [`prove_rect`] with a budget of tile updates.
fn rect_proof(
    stack: &ExactStack,
    orbit: &ReferenceOrbit,
    level: u64,
    budget: u64,
) -> Result<Outcome, KernelError> {
    check(stack, orbit)?;
    if !zooms_in(stack) || stack.width > MAX_AXIS || stack.height > MAX_AXIS {
        return Ok(NOT_PROVEN);
    }
    if sample::refuted(stack, orbit, level) {
        return Ok(NOT_PROVEN);
    }
    Ok(continuum(stack, orbit, level, budget))
}

/// [`prove_frame`] with a budget of tile updates.
fn frame_proof(
    stack: &ExactStack,
    orbit: &ReferenceOrbit,
    level: u64,
    budget: u64,
) -> Result<Outcome, KernelError> {
    check(stack, orbit)?;
    if stack.width > MAX_AXIS || stack.height > MAX_AXIS || sample::refuted(stack, orbit, level) {
        return Ok(NOT_PROVEN);
    }
    let (hx, hy) = half_extents(stack, level);
    if !(hx >= MIN_SPACING && hy >= MIN_SPACING) {
        return Ok(continuum(stack, orbit, level, budget));
    }
    let region = Region {
        x: Axis::Pixels {
            n: stack.width as u64,
            h: hx,
        },
        y: Axis::Pixels {
            n: stack.height as u64,
            h: hy,
        },
    };
    Ok(prove(stack, orbit, &region, budget))
}

fn continuum(stack: &ExactStack, orbit: &ReferenceOrbit, level: u64, budget: u64) -> Outcome {
    let (hx, hy) = half_extents(stack, level);
    // A bigger rectangle is still a proof of this one (NaN stays NaN and fails).
    let floor = |h: f64| if h < MIN_SPACING { MIN_SPACING } else { h };
    let region = Region {
        x: Axis::Continuum { h: floor(hx) },
        y: Axis::Continuum { h: floor(hy) },
    };
    prove(stack, orbit, &region, budget)
}

fn prove(stack: &ExactStack, orbit: &ReferenceOrbit, region: &Region, budget: u64) -> Outcome {
    for axis in [region.x, region.y] {
        let (Axis::Pixels { h, .. } | Axis::Continuum { h }) = axis;
        if !h.is_finite() {
            return NOT_PROVEN;
        }
    }
    let bounds = OrbitBounds::new(orbit, stack.max_iter);
    model::prove_region(region, &bounds, stack.max_iter, budget)
}

/// True when `zoom_per_level > 1` exactly (rounding to nearest is monotone and keeps 1).
fn zooms_in(stack: &ExactStack) -> bool {
    stack.zoom_per_level.to_big(1024) > Big::ONE
}

fn check(stack: &ExactStack, orbit: &ReferenceOrbit) -> Result<(), KernelError> {
    stack.validate()?;
    if orbit.center_re() != &stack.center_re || orbit.center_im() != &stack.center_im {
        return Err(KernelError::OrbitMismatch {
            what: "center",
            got: format!("({}, {})", orbit.center_re(), orbit.center_im()),
            expected: format!("({}, {})", stack.center_re, stack.center_im),
        });
    }
    if orbit.max_iter() < stack.max_iter {
        return Err(KernelError::OrbitMismatch {
            what: "max_iter",
            got: orbit.max_iter().to_string(),
            expected: format!("at least {}", stack.max_iter),
        });
    }
    Ok(())
}
