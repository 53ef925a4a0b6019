//! What the viewer shows: a stack, the levels on the slider and the rows and columns of a level.

use serde::Serialize;
use zoomstack_engine::{IndexRange, ZoomStack, parse_select};

use crate::ViewError;

/// The level the notebook's `stackview.picker(stack, slice_number=3000)` opens at.
pub const NOTEBOOK_PICKER_LEVEL: u64 = 3000;

/// The part of a stack the viewer shows: the levels its slider runs over and the rows and
/// columns of each level (at stride 1; a request may subsample them further).
///
/// ```
/// use zoomstack_engine::ZoomStack;
/// use zoomstack_view::View;
///
/// let view = View::from_select(ZoomStack::default(), "[0:20000:500, ::2, ::2]").unwrap();
/// assert_eq!(view.levels.count, 40);
/// assert_eq!((view.rows.count, view.cols.count), (256, 256));
/// assert_eq!(view.level_at(39), 19500);
/// ```
#[derive(Clone, Debug)]
pub struct View {
    /// The whole stack (any of its levels can be requested).
    pub stack: ZoomStack,
    /// The numpy selection the view was made from, e.g. `[0:20000:500, ::2, ::2]`.
    pub select: String,
    /// The levels on the slider, in slider order.
    pub levels: IndexRange,
    /// Rows of a level shown at stride 1.
    pub rows: IndexRange,
    /// Columns of a level shown at stride 1.
    pub cols: IndexRange,
}

impl View {
    /// Every level, every pixel.
    pub fn whole(stack: ZoomStack) -> View {
        let p = stack.params;
        View {
            select: "[:, :, :]".to_string(),
            levels: IndexRange::full(stack.levels),
            rows: IndexRange::full(p.height as u64),
            cols: IndexRange::full(p.width as u64),
            stack,
        }
    }

    /// The levels, rows and columns a numpy selection `[levels, rows, cols]` picks out of
    /// `stack`. The level axis may have any step (the slider follows it); rows and columns need
    /// a positive step, since levels are shown with row 0 at the top as in the notebook.
    ///
    /// # Errors
    ///
    /// [`ViewError::Engine`] for a stack the engine rejects, or a selection that does not parse
    /// or does not fit the stack. [`ViewError::Config`] for rows or columns with a negative
    /// step, or an empty selection.
    pub fn from_select(stack: ZoomStack, select: &str) -> Result<View, ViewError> {
        stack.validate()?;
        let specs = parse_select(select)?;
        let [levels_len, height, width] = stack.shape();
        let levels = specs[0].indices(levels_len, "level")?;
        let rows = axis(specs[1].indices(height, "y")?, "y", select)?;
        let cols = axis(specs[2].indices(width, "x")?, "x", select)?;
        if levels.is_empty() || rows.count == 0 || cols.count == 0 {
            return Err(ViewError::Config(format!(
                "selection {select} of a stack of shape {levels_len} x {height} x {width} is \
                 empty: expected at least one level, row and column"
            )));
        }
        Ok(View {
            stack,
            select: select.trim().to_string(),
            levels,
            rows,
            cols,
        })
    }

    /// The absolute level at slider position `k` (`k < levels.count`).
    pub fn level_at(&self, k: u64) -> u64 {
        self.levels.at(k)
    }

    /// The slider position of the level nearest to `level`.
    pub fn position_of(&self, level: u64) -> u64 {
        let r = &self.levels;
        if r.count <= 1 {
            return 0;
        }
        let k = (level as f64 - r.start as f64) / r.step as f64;
        k.round().clamp(0.0, (r.count - 1) as f64) as u64
    }

    /// The level the page opens at: the notebook picker's level 3000 when it is on the slider,
    /// else the first level.
    pub fn initial_level(&self) -> u64 {
        let k = self.position_of(NOTEBOOK_PICKER_LEVEL);
        if self.level_at(k) == NOTEBOOK_PICKER_LEVEL {
            NOTEBOOK_PICKER_LEVEL
        } else {
            self.level_at(0)
        }
    }

    /// The smallest stride whose frames have at most `max_pixels` pixels (at most the view's
    /// larger side, where a frame is one row or column).
    pub fn stride_for(&self, max_pixels: u64) -> usize {
        let pixels = |s: usize| {
            let (r, c) = self.strided(s);
            r.count.saturating_mul(c.count)
        };
        let largest =
            usize::try_from(self.rows.count.max(self.cols.count).max(1)).unwrap_or(usize::MAX);
        (1..=largest)
            .find(|&s| pixels(s) <= max_pixels)
            .unwrap_or(largest)
    }

    /// The rows and columns shown when every `stride`-th of the view's rows and columns is taken.
    pub fn strided(&self, stride: usize) -> (IndexRange, IndexRange) {
        (substride(self.rows, stride), substride(self.cols, stride))
    }
}

fn substride(a: IndexRange, stride: usize) -> IndexRange {
    let stride = stride.max(1) as u64;
    let step = i64::try_from(stride)
        .unwrap_or(i64::MAX)
        .saturating_mul(a.step);
    IndexRange::new(a.start, step, a.count.div_ceil(stride))
}

fn axis(r: IndexRange, name: &str, select: &str) -> Result<IndexRange, ViewError> {
    if r.step < 0 && r.count > 1 {
        return Err(ViewError::Config(format!(
            "selection {select}: the {name} axis has step {}; the viewer shows levels in stack \
             order, expected a positive step",
            r.step
        )));
    }
    Ok(r)
}

/// An axis as `{start, step, count}` in JSON.
#[derive(Serialize)]
pub(crate) struct AxisJson {
    pub start: u64,
    pub step: i64,
    pub count: u64,
}

impl From<IndexRange> for AxisJson {
    fn from(r: IndexRange) -> Self {
        AxisJson {
            start: r.start,
            step: r.step,
            count: r.count,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_selection() {
        let v = View::from_select(ZoomStack::default(), "[0:20000:500, ::2, ::2]").unwrap();
        assert_eq!(v.levels, IndexRange::new(0, 500, 40));
        assert_eq!(v.rows, IndexRange::new(0, 2, 256));
        assert_eq!(v.initial_level(), 3000);
        assert_eq!(v.position_of(3000), 6);
        assert_eq!(v.position_of(3100), 6);
        assert_eq!(v.position_of(999_999), 39);
        let (r, c) = v.strided(3);
        assert_eq!((r.step, r.count, c.count), (6, 86, 86));
        assert_eq!(v.stride_for(1 << 20), 1);
        assert_eq!(v.stride_for(256 * 256 - 1), 2);
        assert_eq!(v.stride_for(1), 256);
        assert_eq!(v.stride_for(0), 256);
    }

    #[test]
    fn reversed_levels_and_bad_axes() {
        let v = View::from_select(ZoomStack::default(), "[::-1]").unwrap();
        assert_eq!(v.level_at(0), 119_999);
        assert_eq!(v.position_of(119_999), 0);
        assert_eq!(v.initial_level(), 3000);
        let e = View::from_select(ZoomStack::default(), "[:, ::-1]").unwrap_err();
        assert!(e.to_string().contains("step -1"), "{e}");
        let e = View::from_select(ZoomStack::default(), "[5:5]").unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
        let e = View::from_select(ZoomStack::default(), "[0:10:0]").unwrap_err();
        assert!(e.to_string().contains('0'), "{e}");
    }
}
