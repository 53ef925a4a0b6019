//! [`ZoomStack`]: the whole virtual array, described in O(1).

use crate::error::{EngineError, Result};
use zoomstack_kernel::StackParams;

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
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ZoomStack {
    /// Number of zoom levels (frames).
    pub levels: u64,
    /// Frame size, center, zoom and iteration limit (the kernel's parameters).
    pub params: StackParams,
}

impl Default for ZoomStack {
    fn default() -> Self {
        Self {
            levels: NOTEBOOK_LEVELS,
            params: StackParams::default(),
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
        let s = Self { levels, params };
        s.validate()?;
        Ok(s)
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
