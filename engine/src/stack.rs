//! [`ZoomStack`]: the whole virtual array, described in O(1).

use crate::error::{EngineError, Result};
use std::sync::Arc;
use zoomstack_kernel::exact::{self, ExactStack};
use zoomstack_kernel::{Backend, IndexRange, KernelError, LevelGrid, StackParams};

/// The notebook's number of levels.
pub const NOTEBOOK_LEVELS: u64 = 120_000;

/// The notebook's chunk shape `(1, 256, 256)` (clamped to the frame for smaller stacks).
pub const DEFAULT_CHUNKS: [usize; 3] = [1, 256, 256];

/// A zoom stack: `levels` frames of `params.height x params.width` `u16` escape counts, level `i`
/// at scale `scale0 / zoom_per_level ** i` around a fixed center.
///
/// Defining a stack stores these few numbers and nothing per level, so 120000 or 10^9 levels
/// cost the same. `Default` is the notebook's stack: 120000 levels of 512 x 512, `max_iter` 256.
///
/// ```
/// use zoomstack_engine::ZoomStack;
/// let stack = ZoomStack { levels: 1_000_000_000, ..ZoomStack::default() };
/// assert_eq!(stack.array().shape(), [1_000_000_000, 512, 512]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ZoomStack {
    /// Number of zoom levels (frames).
    pub levels: u64,
    /// Frame size, center, zoom and iteration limit (the kernel's parameters; in the exact
    /// contract, the f64 nearest to each exact value, for display and grid coordinates).
    pub params: StackParams,
    /// What the counts mean: the notebook's f64 arithmetic, or the true counts.
    pub arithmetic: Arithmetic,
    /// Which real level each level of the array is (a video's frames at fractional levels).
    pub timeline: Timeline,
}

/// Which zoom level each level of a stack's array shows.
///
/// ```
/// use zoomstack_engine::{Timeline, ZoomStack};
/// // 5 frames from level 0 to level 2: t = 0, 0.5, 1, 1.5, 2.
/// let s = ZoomStack { levels: 5, timeline: Timeline::Span { first: 0.0, last: 2.0 }, ..ZoomStack::default() };
/// assert_eq!((0..5).map(|k| s.level_at(k)).collect::<Vec<_>>(), vec![0.0, 0.5, 1.0, 1.5, 2.0]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Timeline {
    /// Level `k` of the array is zoom level `k` (the stack itself).
    #[default]
    Levels,
    /// The array's `levels` levels are evenly spaced real zoom levels from `first` to `last`
    /// (both included): level `k` shows `t = first + (k (last - first)) / (levels - 1)`, at scale
    /// `scale0 / zoom_per_level ** t` (numpy contract only). Computed in that order, a `t` that is
    /// mathematically an integer is exactly that integer, so its frame is bit-identical to the
    /// stack's level.
    Span {
        /// Real level of the first frame (>= 0).
        first: f64,
        /// Real level of the last frame (>= 0; below `first` zooms out).
        last: f64,
    },
}

/// The two arithmetic contracts of a stack's counts.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Arithmetic {
    /// Bit for bit the notebook's f64 arithmetic (`arithmetic = "numpy"`, the default).
    #[default]
    Numpy,
    /// The true escape count of the exactly placed pixel (`arithmetic = "exact"`): the stack's
    /// exact parameters, whose height, width and `max_iter` equal the f64 parameters'.
    Exact(Arc<ExactStack>),
}

impl Arithmetic {
    /// `"numpy"` or `"exact"`, as specs and stores name them.
    pub fn name(&self) -> &'static str {
        match self {
            Arithmetic::Numpy => "numpy",
            Arithmetic::Exact(_) => "exact",
        }
    }
}

impl Default for ZoomStack {
    fn default() -> Self {
        Self {
            levels: NOTEBOOK_LEVELS,
            params: StackParams::default(),
            arithmetic: Arithmetic::Numpy,
            timeline: Timeline::Levels,
        }
    }
}

impl ZoomStack {
    /// A stack of `levels` levels with `params`, validated.
    ///
    /// ```
    /// use zoomstack_engine::ZoomStack;
    /// use zoomstack_kernel::StackParams;
    /// let p = StackParams { height: 64, width: 96, ..StackParams::default() };
    /// assert_eq!(ZoomStack::new(10, p).unwrap().shape(), [10, 64, 96]);
    /// assert!(ZoomStack::new(10, StackParams { max_iter: 0, ..p }).is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// The errors of [`ZoomStack::validate`].
    pub fn new(levels: u64, params: StackParams) -> Result<Self> {
        let s = Self {
            levels,
            params,
            arithmetic: Arithmetic::Numpy,
            timeline: Timeline::Levels,
        };
        s.validate()?;
        Ok(s)
    }

    /// A stack of `levels` levels in the exact contract; its f64 parameters are the nearest
    /// f64 of each exact value.
    ///
    /// ```
    /// use zoomstack_engine::ZoomStack;
    /// use zoomstack_kernel::exact::ExactStack;
    /// let deep = ZoomStack::exact(120_000_000, ExactStack::default()).unwrap();
    /// assert_eq!(deep.arithmetic.name(), "exact");
    /// assert_eq!(deep.params, ZoomStack::default().params);
    /// ```
    ///
    /// # Errors
    ///
    /// The errors of [`ExactStack::validate`] and [`ZoomStack::validate`].
    pub fn exact(levels: u64, stack: ExactStack) -> Result<Self> {
        stack.validate()?;
        let params = StackParams {
            height: stack.height,
            width: stack.width,
            center_re: stack.center_re.to_f64(),
            center_im: stack.center_im.to_f64(),
            scale0: stack.scale0.to_f64(),
            zoom_per_level: stack.zoom_per_level.to_f64(),
            max_iter: stack.max_iter,
        };
        let s = Self {
            levels,
            params,
            arithmetic: Arithmetic::Exact(Arc::new(stack)),
            timeline: Timeline::Levels,
        };
        s.validate()?;
        Ok(s)
    }

    /// The same frames at evenly spaced real levels: `frames` levels from `first` to `last`
    /// ([`Timeline::Span`]).
    ///
    /// # Errors
    ///
    /// The errors of [`ZoomStack::validate`]: a stack in the exact contract, or ends that are
    /// not finite numbers >= 0.
    pub fn spanning(&self, first: f64, last: f64, frames: u64) -> Result<ZoomStack> {
        let s = ZoomStack {
            levels: frames,
            timeline: Timeline::Span { first, last },
            ..self.clone()
        };
        s.validate()?;
        Ok(s)
    }

    /// The real zoom level that level `k` of the array shows ([`Timeline`]).
    pub fn level_at(&self, k: u64) -> f64 {
        match self.timeline {
            Timeline::Levels => k as f64,
            Timeline::Span { first, last } => {
                if self.levels <= 1 {
                    first
                } else {
                    first + (k as f64 * (last - first)) / (self.levels - 1) as f64
                }
            }
        }
    }

    /// The pixel grid of level `level` of the array (numpy contract).
    ///
    /// # Errors
    ///
    /// The kernel's errors for the level.
    pub fn level_grid(&self, level: u64) -> std::result::Result<LevelGrid, KernelError> {
        // `level_grid(level)` is `level_grid_at(level as f64)`, which is `level_at` of a stack's
        // own levels: one call serves both timelines.
        self.params.level_grid_at(self.level_at(level))
    }

    /// Renders the strided sub-grid `rows` x `cols` of `level` under the stack's contract
    /// (the kernel's `render_block` or `exact::render_level_block`).
    ///
    /// # Errors
    ///
    /// The kernel's errors for this level and sub-grid.
    pub fn render_block(
        &self,
        level: u64,
        rows: IndexRange,
        cols: IndexRange,
        backend: Backend,
        out: &mut [u16],
    ) -> std::result::Result<(), KernelError> {
        match &self.arithmetic {
            // `render_block(level)` is `render_block_at(level as f64)`: `level_at` covers both
            // timelines.
            Arithmetic::Numpy => zoomstack_kernel::render_block_at(
                &self.params,
                self.level_at(level),
                rows,
                cols,
                backend,
                out,
            ),
            // Spans are refused in the exact contract (`validate`): levels are the stack's own.
            Arithmetic::Exact(e) => exact::render_level_block(e, level, rows, cols, backend, out),
        }
    }

    /// Smooth escape values ([`zoomstack_kernel::spec::smooth_scalar`]) of the strided sub-grid
    /// `rows` x `cols` of `level` (numpy contract).
    ///
    /// # Errors
    ///
    /// [`EngineError::Kernel`] for the kernel's errors for this level and sub-grid;
    /// [`EngineError::Unsupported`] in the exact contract.
    pub fn render_block_smooth(
        &self,
        level: u64,
        rows: IndexRange,
        cols: IndexRange,
        backend: Backend,
        out: &mut [f32],
    ) -> Result<()> {
        self.check_smooth()?;
        Ok(zoomstack_kernel::render_block_smooth_at(
            &self.params,
            self.level_at(level),
            rows,
            cols,
            backend,
            out,
        )?)
    }

    /// Checks that the stack's contract has smooth values (the numpy contract).
    ///
    /// # Errors
    ///
    /// [`EngineError::Unsupported`] in the exact contract.
    pub fn check_smooth(&self) -> Result<()> {
        match &self.arithmetic {
            Arithmetic::Numpy => Ok(()),
            Arithmetic::Exact(_) => Err(no_exact_smooth()),
        }
    }

    /// The count of every pixel of levels `lo..=hi` when they are all proven constant with one
    /// count (exact contract; the proven levels of a stack are all levels from a threshold on,
    /// so the ends decide). `None` otherwise, and always in the numpy contract.
    pub fn proven_constant(&self, lo: u64, hi: u64) -> Option<u16> {
        let Arithmetic::Exact(e) = &self.arithmetic else {
            return None;
        };
        let a = exact::proof::is_proven_constant(e, lo.min(hi)).ok()??;
        let b = exact::proof::is_proven_constant(e, lo.max(hi)).ok()??;
        (a == b).then_some(a)
    }

    /// Checks that every level in `lo..=hi` can be rendered ([`ZoomStack::check_level`]).
    ///
    /// # Errors
    ///
    /// The kernel's error for the first level found that cannot.
    pub fn check_levels(&self, lo: u64, hi: u64) -> std::result::Result<(), KernelError> {
        match &self.arithmetic {
            // The scale is monotonic in the level: the ends decide.
            Arithmetic::Numpy => self.check_level(lo).and_then(|()| self.check_level(hi)),
            Arithmetic::Exact(e) => exact::check_levels(e, lo, hi),
        }
    }

    /// Checks that `level` can be rendered: its scale is positive and finite (numpy); proven
    /// constant, or its depth within what f64 deltas cover (exact).
    ///
    /// # Errors
    ///
    /// The kernel's error for the level.
    pub fn check_level(&self, level: u64) -> std::result::Result<(), KernelError> {
        match &self.arithmetic {
            Arithmetic::Numpy => self.level_grid(level).map(|_| ()),
            Arithmetic::Exact(e) => exact::check_level(e, level),
        }
    }

    /// Checks the parameters (the kernel's rules) and the level count (at most `i64::MAX`).
    /// Levels whose scale underflows are reported when a plan selecting them is optimized.
    ///
    /// # Errors
    ///
    /// [`EngineError::Kernel`] for parameters the kernel rejects
    /// ([`StackParams::validate`]), [`EngineError::TooManyLevels`] for more than `i64::MAX`
    /// levels.
    pub fn validate(&self) -> Result<()> {
        self.params.validate()?;
        if let Timeline::Span { first, last } = self.timeline {
            if let Arithmetic::Exact(_) = self.arithmetic {
                return Err(EngineError::Unsupported {
                    what: "frames at fractional levels",
                    why: "the exact contract renders integer levels only; use arithmetic = \"numpy\" or pick frames by a select",
                });
            }
            for (what, v) in [("first level", first), ("last level", last)] {
                if !(v.is_finite() && v >= 0.0) {
                    return Err(EngineError::Kernel(KernelError::BadFloat {
                        what,
                        value: v,
                        expected: "a finite level >= 0",
                    }));
                }
            }
        }
        if self.levels > i64::MAX as u64 {
            return Err(EngineError::TooManyLevels {
                levels: self.levels,
                max: i64::MAX as u64,
            });
        }
        Ok(())
    }

    /// `[levels, height, width]`.
    pub fn shape(&self) -> [u64; 3] {
        [
            self.levels,
            self.params.height as u64,
            self.params.width as u64,
        ]
    }
}

/// The error for smooth values in the exact contract.
pub(crate) fn no_exact_smooth() -> EngineError {
    EngineError::Unsupported {
        what: "smooth values",
        why: "the exact contract computes integer counts only; use arithmetic = \"numpy\" or colour from counts",
    }
}
