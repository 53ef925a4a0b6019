//! The typed selection every crate below the CLI and the Python API passes around:
//! [`Selection`] (stack levels plus one [`AxisMap`] per spatial axis). Text appears only at the
//! edges: [`Selection::select_text`] / [`Selection::post_select_text`] write it (with
//! [`format_range`]) and [`Selection::from_text`] reads it back (with [`parse_select`]).

use crate::error::{EngineError, Result};
use crate::slice::{AXES, IndexRange, format_range, parse_select};
use std::fmt::Write as _;

/// How the output indices of one spatial axis map to pixels of the full-resolution grid.
///
/// Output index `o` takes block `b = blocks.at(o)`; the block covers source positions
/// `b * factor .. min((b + 1) * factor, source.count)`, which are grid indices
/// `source.at(position)`. The output pixel is the mean of its block (a single pixel when
/// `factor == 1`). Canonical form: when `factor == 1`, `blocks` is `0..source.count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AxisMap {
    /// Grid indices of the pre-mean axis (everything selected before the mean).
    pub source: IndexRange,
    /// Mean factor (1: no averaging on this axis).
    pub factor: u64,
    /// Blocks kept (everything selected after the mean).
    pub blocks: IndexRange,
}

impl AxisMap {
    /// Every pixel of an axis of length `len`, unaveraged.
    pub const fn identity(len: u64) -> Self {
        AxisMap {
            source: IndexRange::full(len),
            factor: 1,
            blocks: IndexRange::full(len),
        }
    }

    /// Output length.
    pub const fn len(&self) -> u64 {
        self.blocks.count
    }

    /// True when the output is empty.
    pub const fn is_empty(&self) -> bool {
        self.blocks.count == 0
    }

    /// Selects output indices `r` (which must index `0..self.len()`).
    #[must_use]
    pub fn select(&self, r: &IndexRange) -> AxisMap {
        if self.factor == 1 {
            let source = self.source.compose(r);
            AxisMap {
                source,
                factor: 1,
                blocks: IndexRange::full(source.count),
            }
        } else {
            AxisMap {
                blocks: self.blocks.compose(r),
                ..*self
            }
        }
    }

    /// Averages blocks of `f` output pixels. Only on an unaveraged map (or with `f == 1`, a no-op).
    #[must_use]
    pub fn mean(&self, f: u64) -> AxisMap {
        if f <= 1 {
            return *self;
        }
        debug_assert_eq!(self.factor, 1, "one mean per axis (checked when recording)");
        // Canonical form: with factor 1, `blocks` is the identity, so `source` is the whole axis.
        AxisMap {
            source: self.source,
            factor: f,
            blocks: IndexRange::full(self.source.count.div_ceil(f)),
        }
    }

    /// Source positions `lo..hi` (indices into `source`) of block `b`.
    pub fn block(&self, b: u64) -> (u64, u64) {
        let lo = b.saturating_mul(self.factor).min(self.source.count);
        let hi = lo.saturating_add(self.factor).min(self.source.count);
        (lo, hi)
    }

    /// Number of distinct grid pixels rendered on this axis for the whole output.
    pub fn rendered(&self) -> u64 {
        if self.factor == 1 {
            return self.blocks.count;
        }
        let Some((_, max)) = self.blocks.bounds() else {
            return 0;
        };
        let (lo, hi) = self.block(max);
        let short = self.factor - (hi - lo);
        self.blocks
            .count
            .saturating_mul(self.factor)
            .saturating_sub(short)
    }

    pub(crate) fn explain(&self, name: &str, len: u64) -> String {
        let s = &self.source;
        let mut t = format!("{name} {} ({} of {len})", format_range(s), s.count);
        if self.factor > 1 {
            let _ = write!(
                t,
                ", mean of {} -> {} blocks, keep {} ({})",
                self.factor,
                s.count.div_ceil(self.factor),
                format_range(&self.blocks),
                self.blocks.count
            );
        }
        t
    }
}

/// What a plan renders, in the full stack's index space: which stack levels, and per spatial
/// axis which grid pixels, averaged how, keeping which blocks.
///
/// ```
/// use zoomstack_engine::{IndexRange, Selection};
/// let s = Selection::strided([IndexRange::new(0, 500, 40), IndexRange::new(0, 2, 256), IndexRange::new(0, 2, 256)]);
/// assert_eq!(s.select_text(), "[0:20000:500, 0:512:2, 0:512:2]");
/// assert_eq!(Selection::from_text(&s.select_text(), None, None, [120000, 512, 512]).unwrap(), s);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Selection {
    /// Stack levels, one per output level.
    pub levels: IndexRange,
    /// Output rows -> grid rows.
    pub rows: AxisMap,
    /// Output columns -> grid columns.
    pub cols: AxisMap,
}

impl Selection {
    /// Everything of a stack of shape `[levels, height, width]`.
    #[must_use]
    pub const fn full(shape: [u64; 3]) -> Self {
        Selection {
            levels: IndexRange::full(shape[0]),
            rows: AxisMap::identity(shape[1]),
            cols: AxisMap::identity(shape[2]),
        }
    }

    /// A strided selection without a mean: `[levels, rows, cols]` of the full grid.
    #[must_use]
    pub fn strided(ranges: [IndexRange; 3]) -> Self {
        let axis = |r: IndexRange| AxisMap {
            source: r,
            factor: 1,
            blocks: IndexRange::full(r.count),
        };
        Selection {
            levels: ranges[0],
            rows: axis(ranges[1]),
            cols: axis(ranges[2]),
        }
    }

    /// Output shape `[levels, y, x]`.
    #[must_use]
    pub const fn shape(&self) -> [u64; 3] {
        [self.levels.count, self.rows.len(), self.cols.len()]
    }

    /// The grid pixels before any mean: `[levels, rows.source, cols.source]`.
    #[must_use]
    pub const fn source(&self) -> [IndexRange; 3] {
        [self.levels, self.rows.source, self.cols.source]
    }

    /// The mean downsample factors `[fy, fx]`, if the selection averages.
    #[must_use]
    pub fn mean_factors(&self) -> Option<[u64; 2]> {
        (self.rows.factor > 1 || self.cols.factor > 1)
            .then_some([self.rows.factor, self.cols.factor])
    }

    /// The blocks kept after the mean, when that is not every block.
    #[must_use]
    pub fn post_select(&self) -> Option<[IndexRange; 2]> {
        let full = |m: &AxisMap| m.blocks.is_full(m.source.count.div_ceil(m.factor));
        (!full(&self.rows) || !full(&self.cols)).then_some([self.rows.blocks, self.cols.blocks])
    }

    /// The selection of grid pixels before any mean, normalized (`start:stop:step` with explicit
    /// numbers), e.g. `[0:20000:500, 0:512:2, 0:512:2]`: the store attribute `select`.
    #[must_use]
    pub fn select_text(&self) -> String {
        let [l, r, c] = self.source();
        format!(
            "[{}, {}, {}]",
            format_range(&l),
            format_range(&r),
            format_range(&c)
        )
    }

    /// The blocks kept after the mean as `[:, rows, cols]`, when not everything: the store
    /// attribute `post_select`.
    #[must_use]
    pub fn post_select_text(&self) -> Option<String> {
        self.post_select()
            .map(|[r, c]| format!("[:, {}, {}]", format_range(&r), format_range(&c)))
    }

    /// Reads a selection back from its text form (what [`Selection::select_text`],
    /// [`Selection::mean_factors`] and [`Selection::post_select_text`] give) on a stack of shape
    /// `stack_shape`. Any numpy text selecting the same indices gives the same selection.
    ///
    /// # Errors
    ///
    /// A select or post-select that does not parse or does not fit the stack, or a mean factor
    /// of 0.
    pub fn from_text(
        select: &str,
        mean: Option<[u64; 2]>,
        post_select: Option<&str>,
        stack_shape: [u64; 3],
    ) -> Result<Selection> {
        let specs = parse_select(select)?;
        let mut ranges = [IndexRange::EMPTY; 3];
        for k in 0..3 {
            ranges[k] = specs[k].indices(stack_shape[k], AXES[k])?;
        }
        let mut sel = Selection::strided(ranges);
        if let Some([fy, fx]) = mean {
            for (axis, f) in [("y", fy), ("x", fx)] {
                if f == 0 {
                    return Err(EngineError::ZeroFactor { axis });
                }
            }
            sel.rows = sel.rows.mean(fy);
            sel.cols = sel.cols.mean(fx);
        }
        if let Some(text) = post_select {
            let specs = parse_select(text)?;
            let shape = sel.shape();
            sel.rows = sel.rows.select(&specs[1].indices(shape[1], AXES[1])?);
            sel.cols = sel.cols.select(&specs[2].indices(shape[2], AXES[2])?);
        }
        Ok(sel)
    }

    /// Checks that every index lies inside a stack of shape `stack_shape` (selections built by
    /// hand; those built by the engine always do).
    ///
    /// # Errors
    ///
    /// [`EngineError::IndexOutOfBounds`], [`EngineError::ZeroStep`] or
    /// [`EngineError::ZeroFactor`] naming the axis.
    pub fn validate(&self, stack_shape: [u64; 3]) -> Result<()> {
        check_range("level", &self.levels, stack_shape[0])?;
        for (axis, map, len) in [
            ("y", &self.rows, stack_shape[1]),
            ("x", &self.cols, stack_shape[2]),
        ] {
            check_range(axis, &map.source, len)?;
            if map.factor == 0 {
                return Err(EngineError::ZeroFactor { axis });
            }
            check_range(axis, &map.blocks, map.source.count.div_ceil(map.factor))?;
        }
        Ok(())
    }
}

/// Checks that every index of `r` lies in `0..len`, as an engine error naming the axis.
fn check_range(axis: &'static str, r: &IndexRange, len: u64) -> Result<()> {
    r.check(axis, len).map_err(|e| match e {
        zoomstack_kernel::KernelError::ZeroStep { .. } => EngineError::ZeroStep {
            spec: format!("{}:{}:0", r.start, r.start),
            axis,
        },
        zoomstack_kernel::KernelError::SliceOutOfBounds { last, .. } => {
            EngineError::IndexOutOfBounds {
                axis,
                index: last,
                len,
            }
        }
        other => EngineError::Kernel(other),
    })
}
