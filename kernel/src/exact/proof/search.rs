//! [`ConstantFrames`]: the level from which every frame of a stack is proven constant, found once
//! per stack and process (a continuum binary search, then a discrete scan downward).

use super::model::MAX_TILE_STEPS;
use super::{frame_proof, rect_proof, zooms_in};
use crate::KernelError;
use crate::exact::{ExactStack, MIN_SPACING, OrbitCache};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// Levels below the continuum threshold that [`ConstantFrames::find`] tries with discrete
/// proofs ([`prove_frame`](super::prove_frame), one level each). Past it the threshold stays
/// where the scan stopped (sound, less tight).
pub const MAX_DISCRETE_SCAN: u64 = 4096;

/// Tile updates one [`ConstantFrames::find`] may spend on all its proofs together (about 6 s
/// here; the notebook's stack needs a small fraction). When they are spent the search keeps
/// the shallowest level proven so far: sound, less tight. Each proof also has its own
/// [`MAX_TILE_STEPS`].
pub const MAX_SEARCH_STEPS: u64 = 1 << 26;

/// Every level from `level` on is proven to be one constant frame of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConstantFrom {
    /// The first proven level `L_d`: levels `level..continuum_level` by discrete proofs
    /// ([`prove_frame`](super::prove_frame)), the rest by the continuum proof at
    /// `continuum_level`.
    pub level: u64,
    /// `L_c`: the level whose whole rectangle ([`prove_rect`](super::prove_rect)), and so
    /// every deeper level's, is proven (the smallest the binary search found).
    pub continuum_level: u64,
    /// The count of every pixel of those levels.
    pub count: u16,
}

impl ConstantFrom {
    /// `Some(count)` when `level` is proven constant (`level >= self.level`).
    pub fn covers(&self, level: u64) -> Option<u16> {
        (level >= self.level).then_some(self.count)
    }
}

type Slot = Arc<Mutex<Option<Option<ConstantFrom>>>>;

/// [`ConstantFrom`] per stack, found on first use and kept (a run, `describe` and a viewer ask
/// repeatedly). Concurrent requests for one stack wait for a single search.
///
/// ```
/// use zoomstack_kernel::exact::{ExactStack, OrbitCache, proof::ConstantFrames};
/// let found = ConstantFrames::global()
///     .find(&ExactStack::default(), OrbitCache::global())
///     .unwrap()
///     .unwrap();
/// assert_eq!(found.count, 250);
/// assert!((139_000..=141_000).contains(&found.level));
/// assert_eq!(found.covers(119_999_999), Some(250));
/// assert_eq!(found.covers(found.level - 1), None);
/// ```
#[derive(Debug, Default)]
pub struct ConstantFrames {
    slots: Mutex<HashMap<ExactStack, Slot>>,
}

impl ConstantFrames {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The process-wide cache.
    pub fn global() -> &'static ConstantFrames {
        static GLOBAL: OnceLock<ConstantFrames> = OnceLock::new();
        GLOBAL.get_or_init(ConstantFrames::new)
    }

    /// The smallest level `L_d` such that every level `>= L_d` is proven constant, and that
    /// count; `None` when nothing is proven (`zoom_per_level <= 1`, a centre whose frames never
    /// settle within the proof's reach, ...). Orbits come from `cache`.
    ///
    /// The search: `L_c`, the smallest level whose continuum proof holds, by binary search
    /// between level 0 and the level where both half extents are below [`MIN_SPACING`] (deeper
    /// proofs repeat that one); then discrete proofs at `L_c - 1`, `L_c - 2`, ... while they
    /// give the same count, at most [`MAX_DISCRETE_SCAN`] levels. Only levels whose own proof
    /// held are reported, so the answer is sound even where the proofs are not monotone.
    ///
    /// # Errors
    ///
    /// [`ExactStack::validate`] errors and those of [`OrbitCache::get`] (a precision beyond the
    /// cap). Errors are not cached.
    pub fn find(
        &self,
        stack: &ExactStack,
        cache: &OrbitCache,
    ) -> Result<Option<ConstantFrom>, KernelError> {
        stack.validate()?;
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(slots.entry(stack.clone()).or_default())
        };
        let mut found = slot.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(f) = *found {
            return Ok(f);
        }
        let f = search(stack, cache)?;
        *found = Some(f);
        Ok(f)
    }

    /// Number of stacks held.
    pub fn len(&self) -> usize {
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// True when no stack is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every stack.
    pub fn clear(&self) {
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

/// `Some(count)` when `level` of `stack` is proven constant, from the process-wide
/// [`ConstantFrames`] and [`OrbitCache`] (the first call per stack runs the search).
///
/// # Errors
///
/// Those of [`ConstantFrames::find`].
pub fn is_proven_constant(stack: &ExactStack, level: u64) -> Result<Option<u16>, KernelError> {
    Ok(ConstantFrames::global()
        .find(stack, OrbitCache::global())?
        .and_then(|f| f.covers(level)))
}

fn search(stack: &ExactStack, cache: &OrbitCache) -> Result<Option<ConstantFrom>, KernelError> {
    if !zooms_in(stack) {
        return Ok(None);
    }
    let mut left = MAX_SEARCH_STEPS;
    // One proof at `level` (continuum or discrete) within what is left of the budget.
    let mut attempt = |level: u64, rect: bool| -> Result<Option<u16>, KernelError> {
        let p = stack.proof_precision(level)?;
        let orbit = cache.get(&stack.center_re, &stack.center_im, stack.max_iter, p)?;
        let budget = left.min(MAX_TILE_STEPS);
        let out = if rect {
            rect_proof(stack, &orbit, level, budget)?
        } else {
            frame_proof(stack, &orbit, level, budget)?
        };
        left -= out.steps.min(left);
        Ok(out.count)
    };
    let top = floor_level(stack);
    let Some(mut count) = attempt(top, true)? else {
        return Ok(None);
    };
    // Smallest proven level in [0, top]: `hi` always proven, `lo` not (or not tried).
    let (mut lo, mut hi) = (None, top);
    loop {
        let mid = match lo {
            None if hi > 0 => 0,
            Some(lo) if hi - lo > 1 => lo + (hi - lo) / 2,
            _ => break,
        };
        match attempt(mid, true)? {
            Some(k) => (hi, count) = (mid, k),
            None => lo = Some(mid),
        }
    }
    let mut from = hi;
    while from > 0 && hi - from < MAX_DISCRETE_SCAN {
        if attempt(from - 1, false)? != Some(count) {
            break;
        }
        from -= 1;
    }
    Ok(Some(ConstantFrom {
        level: from,
        continuum_level: hi,
        count,
    }))
}

/// A level whose half extents are both below [`MIN_SPACING`] (so every deeper continuum proof
/// is the same computation), from `log2` estimates with a margin; `u64::MAX` if beyond.
fn floor_level(stack: &ExactStack) -> u64 {
    let aspect = (stack.width as f64 / stack.height as f64).max(1.0);
    let top_log2 = stack.scale0.log2_abs() + aspect.log2() - 1.0;
    let levels = (top_log2 - MIN_SPACING.log2()) / stack.zoom_per_level.log2_abs();
    let levels = levels.max(0.0).ceil() + 2.0;
    if levels < u64::MAX as f64 {
        levels as u64
    } else {
        u64::MAX
    }
}
