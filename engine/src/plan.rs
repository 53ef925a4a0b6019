//! The optimizer and the optimized plan ([`RenderPlan`]) the executor runs.
//!
//! The logical plan is a chain `Source -> (Select | Rechunk | Downsample)*`. The optimizer folds
//! it from the source outwards into one render source per axis, applying these rewrites:
//!
//! * **fold selects**: `Select(Select(x))` becomes one select (strided ranges compose:
//!   `a.compose(b)` picks `a[b[k]]`), so a chain of any length costs O(1) to plan;
//! * **stride to select**: `Downsample(Stride, fy, fx)` is `Select[:, ::fy, ::fx]`;
//! * **push into the source**: the folded select becomes the source's level, row and column
//!   ranges, so only selected pixels are rendered;
//! * **push through mean**: a select after `Downsample(Mean, f)` selects blocks; each selected
//!   output pixel maps to its `f x f` block of source pixels ([`AxisMap`]), so only the blocks
//!   that are kept are rendered;
//! * **rechunk to tiling**: the last chunk shape is the executor's tile shape.

use crate::array::{DownsampleMode, PlanNode};
use crate::error::{EngineError, Result};
use crate::slice::{AXES, IndexRange};
use crate::stack::ZoomStack;

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

    fn explain(&self, name: &str, len: u64) -> String {
        let s = &self.source;
        let mut t = format!("{name} {} ({} of {len})", s.to_numpy(), s.count);
        if self.factor > 1 {
            t += &format!(
                ", mean of {} -> {} blocks, keep {} ({})",
                self.factor,
                s.count.div_ceil(self.factor),
                self.blocks.to_numpy(),
                self.blocks.count
            );
        }
        t
    }
}

/// The optimized plan: which stack levels, rows and columns to render, how to reduce them, and
/// the tiling. Built by [`crate::LazyArray::optimize`]; run by [`crate::Executor`].
#[derive(Debug, Clone, PartialEq)]
pub struct RenderPlan {
    /// The stack rendered.
    pub stack: ZoomStack,
    /// Stack levels, one per output level.
    pub levels: IndexRange,
    /// Output rows -> grid rows.
    pub rows: AxisMap,
    /// Output columns -> grid columns.
    pub cols: AxisMap,
    /// Tile (chunk) shape, clamped to the output shape.
    pub chunks: [usize; 3],
}

/// One tile of a plan: a chunk of the output array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TileSpec {
    /// Index in the chunk grid.
    pub index: [u64; 3],
    /// Output coordinates of the tile's first element.
    pub origin: [u64; 3],
    /// Shape (smaller than the chunk shape at the array's far edges).
    pub shape: [usize; 3],
}

impl TileSpec {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// True when the tile has no element (never for tiles of a plan).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl RenderPlan {
    /// Folds a logical plan into a render plan (the rewrites in the module docs).
    pub(crate) fn fold(node: &PlanNode, chunks: [usize; 3]) -> RenderPlan {
        let chain = node.chain();
        let stack = *chain[0].stack();
        let [l, h, w] = stack.shape();
        let mut levels = IndexRange::full(l);
        let mut rows = AxisMap::identity(h);
        let mut cols = AxisMap::identity(w);
        for node in &chain[1..] {
            match node {
                PlanNode::Source { .. } | PlanNode::Rechunk { .. } => {}
                PlanNode::Select { ranges, .. } => {
                    levels = levels.compose(&ranges[0]);
                    rows = rows.select(&ranges[1]);
                    cols = cols.select(&ranges[2]);
                }
                PlanNode::Downsample {
                    factors: [fy, fx],
                    mode: DownsampleMode::Stride,
                    ..
                } => {
                    // A factor above i64::MAX keeps one index (the axis is shorter).
                    let step = |f: u64| f.min(i64::MAX as u64) as i64;
                    rows = rows.select(&IndexRange::new(0, step(*fy), rows.len().div_ceil(*fy)));
                    cols = cols.select(&IndexRange::new(0, step(*fx), cols.len().div_ceil(*fx)));
                }
                PlanNode::Downsample {
                    factors: [fy, fx],
                    mode: DownsampleMode::Mean,
                    ..
                } => {
                    rows = rows.mean(*fy);
                    cols = cols.mean(*fx);
                }
            }
        }
        RenderPlan {
            stack,
            levels,
            rows,
            cols,
            chunks,
        }
    }

    /// Checks the stack, that the first and last selected levels have a valid grid (the scale is
    /// monotonic in the level, so every level between them does too), and, for plans built by
    /// hand, that every index lies inside the stack and every chunk size is at least 1. The
    /// executor calls this before running a plan.
    pub fn validate(&self) -> Result<()> {
        self.stack.validate()?;
        for (k, &c) in self.chunks.iter().enumerate() {
            if c == 0 {
                return Err(EngineError::ZeroChunk { axis: AXES[k] });
            }
        }
        let [l, h, w] = self.stack.shape();
        check_range("level", &self.levels, l)?;
        for (axis, map, len) in [("y", &self.rows, h), ("x", &self.cols, w)] {
            check_range(axis, &map.source, len)?;
            if map.factor == 0 {
                return Err(EngineError::ZeroFactor { axis });
            }
            check_range(axis, &map.blocks, map.source.count.div_ceil(map.factor))?;
        }
        if let Some((lo, hi)) = self.levels.bounds() {
            self.stack.params.level_grid(lo)?;
            self.stack.params.level_grid(hi)?;
        }
        Ok(())
    }

    /// Output shape `[levels, y, x]`.
    pub fn shape(&self) -> [u64; 3] {
        [self.levels.count, self.rows.len(), self.cols.len()]
    }

    /// Tile shape.
    pub fn chunks(&self) -> [usize; 3] {
        self.chunks
    }

    /// Number of elements of the output (saturating).
    pub fn len(&self) -> u64 {
        self.shape().iter().fold(1u64, |a, &b| a.saturating_mul(b))
    }

    /// True when the output has no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of the output (`u16`), saturating.
    pub fn bytes(&self) -> u64 {
        self.len().saturating_mul(2)
    }

    /// Tiles along each axis.
    pub fn chunk_grid(&self) -> [u64; 3] {
        let s = self.shape();
        [0, 1, 2].map(|k| s[k].div_ceil(self.chunks[k] as u64))
    }

    /// Number of tiles (saturating).
    pub fn num_tiles(&self) -> u64 {
        self.chunk_grid()
            .iter()
            .fold(1u64, |a, &b| a.saturating_mul(b))
    }

    /// Tile number `i` in C order (level-major), `i < num_tiles()`.
    pub fn tile(&self, i: u64) -> TileSpec {
        let g = self.chunk_grid();
        let (g1, g2) = (g[1].max(1), g[2].max(1));
        self.tile_at_unchecked([i / (g1 * g2), (i / g2) % g1, i % g2])
    }

    /// The tile with chunk-grid index `index`, if it exists.
    pub fn tile_at(&self, index: [u64; 3]) -> Option<TileSpec> {
        let g = self.chunk_grid();
        (0..3)
            .all(|k| index[k] < g[k])
            .then(|| self.tile_at_unchecked(index))
    }

    fn tile_at_unchecked(&self, index: [u64; 3]) -> TileSpec {
        let s = self.shape();
        let origin = [0, 1, 2].map(|k| index[k] * self.chunks[k] as u64);
        let shape =
            [0, 1, 2].map(|k| (self.chunks[k] as u64).min(s[k].saturating_sub(origin[k])) as usize);
        TileSpec {
            index,
            origin,
            shape,
        }
    }

    /// Every tile, in C order (level-major), computed lazily.
    pub fn tiles(&self) -> impl Iterator<Item = TileSpec> + '_ {
        (0..self.num_tiles()).map(move |i| self.tile(i))
    }

    /// The stack level of output level `k` (`k < shape()[0]`).
    pub fn stack_level(&self, k: u64) -> u64 {
        self.levels.at(k)
    }

    /// Grid pixels rendered for the whole output (saturating); with a mean, every pixel of
    /// every kept block.
    pub fn rendered_pixels(&self) -> u64 {
        self.levels
            .count
            .saturating_mul(self.rows.rendered())
            .saturating_mul(self.cols.rendered())
    }

    /// Pixels of the whole stack (saturating).
    pub fn stack_pixels(&self) -> u64 {
        self.stack
            .shape()
            .iter()
            .fold(1u64, |a, &b| a.saturating_mul(b))
    }

    /// The mean downsample factors `[fy, fx]`, if the plan averages (stride downsampling is
    /// folded into [`RenderPlan::select_string`]).
    pub fn mean_factors(&self) -> Option<[u64; 2]> {
        (self.rows.factor > 1 || self.cols.factor > 1)
            .then_some([self.rows.factor, self.cols.factor])
    }

    /// The selection of grid pixels before any mean, normalized (`start:stop:step` with explicit
    /// numbers) in the full stack's index space: e.g. `[0:20000:500, 0:512:2, 0:512:2]`.
    pub fn select_string(&self) -> String {
        format!(
            "[{}, {}, {}]",
            self.levels.to_numpy(),
            self.rows.source.to_numpy(),
            self.cols.source.to_numpy()
        )
    }

    /// The selection of blocks after the mean, when it is not everything (only with a mean
    /// followed by a select): `[:, rows, cols]` over the downsampled axes.
    pub fn post_select_string(&self) -> Option<String> {
        let full = |m: &AxisMap| m.blocks.is_full(m.source.count.div_ceil(m.factor));
        (!full(&self.rows) || !full(&self.cols)).then(|| {
            format!(
                "[:, {}, {}]",
                self.rows.blocks.to_numpy(),
                self.cols.blocks.to_numpy()
            )
        })
    }

    /// The optimized plan as lines of text (used by [`crate::LazyArray::explain`]).
    pub fn explain_lines(&self) -> Vec<String> {
        let [l, h, w] = self.stack.shape();
        let mut v = vec![
            format!(
                "Render levels {} ({} of {l})",
                self.levels.to_numpy(),
                self.levels.count
            ),
            format!("  {}", self.rows.explain("rows", h)),
            format!("  {}", self.cols.explain("cols", w)),
        ];
        let s = self.shape();
        let c = self.chunks;
        let g = self.chunk_grid();
        v.push(format!(
            "Output ({}, {}, {}) uint16, tiles ({}, {}, {}): grid ({}, {}, {}) = {} tiles",
            s[0],
            s[1],
            s[2],
            c[0],
            c[1],
            c[2],
            g[0],
            g[1],
            g[2],
            self.num_tiles()
        ));
        v.push(format!(
            "Renders {} of the stack's {} pixels ({})",
            self.rendered_pixels(),
            self.stack_pixels(),
            percent(self.rendered_pixels(), self.stack_pixels())
        ));
        v
    }
}

/// Checks that every index of `r` lies in `0..len` (plans built by hand).
fn check_range(axis: &'static str, r: &IndexRange, len: u64) -> Result<()> {
    if r.count >= 2 && r.step == 0 {
        return Err(EngineError::ZeroStep {
            spec: format!("{}:{}:0", r.start, r.start),
            axis,
        });
    }
    let last = r.start as i128 + (r.count.max(1) as i128 - 1) * r.step as i128;
    if r.count > 0 && (r.start >= len || last < 0 || last >= len as i128) {
        return Err(EngineError::IndexOutOfBounds {
            axis,
            index: last.clamp(i64::MIN as i128, i64::MAX as i128) as i64,
            len,
        });
    }
    Ok(())
}

/// `a / b` as a percentage with enough digits to be non-zero when `a > 0`.
pub(crate) fn percent(a: u64, b: u64) -> String {
    if b == 0 {
        return "n/a".to_string();
    }
    let p = a as f64 / b as f64 * 100.0;
    if p == 0.0 || p >= 0.01 {
        format!("{p:.2}%")
    } else {
        format!("{p:.2e}%")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DownsampleMode, ZoomStack};

    #[test]
    fn preview_plan() {
        let a = ZoomStack::default().array();
        let p = a
            .select("[0:20000:500, ::2, ::2]")
            .unwrap()
            .optimize()
            .unwrap();
        assert_eq!(p.shape(), [40, 256, 256]);
        assert_eq!(p.levels, IndexRange::new(0, 500, 40));
        assert_eq!(p.rows.source, IndexRange::new(0, 2, 256));
        assert_eq!(p.num_tiles(), 40);
        assert_eq!(p.rendered_pixels(), 40 * 256 * 256);
        assert_eq!(p.select_string(), "[0:20000:500, 0:512:2, 0:512:2]");
        assert_eq!(p.mean_factors(), None);
        assert_eq!(p.post_select_string(), None);
    }

    #[test]
    fn selects_fold_and_stride_is_a_select() {
        let a = ZoomStack::default().array();
        let b = a
            .select("[100:, 10:500]")
            .unwrap()
            .select("[::-3, ::2]")
            .unwrap()
            .downsample(2, 4, DownsampleMode::Stride)
            .unwrap()
            .select("[5:7, 1:]")
            .unwrap();
        let p = b.optimize().unwrap();
        // levels: 100..120000 reversed step 3 -> 119999, 119996, ...; [5:7] -> two of them.
        assert_eq!(p.levels, IndexRange::new(119999 - 15, -3, 2));
        // rows: 10..500 step 2 -> 245; stride 2 -> step 4 from 10; [1:] from 14.
        assert_eq!(p.rows.source, IndexRange::new(14, 4, 122));
        assert_eq!(p.cols.source, IndexRange::new(0, 4, 128));
        assert_eq!(p.shape(), b.shape());
        let text = b.explain();
        assert!(text.contains("Select [::-3, ::2, :]"), "{text}");
        assert!(
            text.contains("Render levels 119984:119978:-3 (2 of 120000)"),
            "{text}"
        );
    }

    #[test]
    fn select_after_mean_keeps_blocks() {
        let a = ZoomStack::default().array();
        let b = a
            .select("[:4, 1:]")
            .unwrap()
            .downsample(4, 1, DownsampleMode::Mean)
            .unwrap()
            .select("[:, ::10, 3:5]")
            .unwrap();
        let p = b.optimize().unwrap();
        assert_eq!(p.rows.source, IndexRange::new(1, 1, 511));
        assert_eq!(p.rows.factor, 4);
        assert_eq!(p.rows.blocks, IndexRange::new(0, 10, 13));
        assert_eq!(p.cols.source, IndexRange::new(3, 1, 2));
        assert_eq!(p.shape(), [4, 13, 2]);
        assert_eq!(p.mean_factors(), Some([4, 1]));
        assert_eq!(p.select_string(), "[0:4:1, 1:512:1, 3:5:1]");
        assert_eq!(p.post_select_string().unwrap(), "[:, 0:130:10, 0:2:1]");
        // 511 rows = 127 full blocks + 1 of 3; block 120 is full: 13 * 4 rows.
        assert_eq!(p.rows.rendered(), 52);
        let last = a
            .downsample(4, 4, DownsampleMode::Mean)
            .unwrap()
            .select("[:1, -1:, -1:]")
            .unwrap();
        let q = last.optimize().unwrap();
        assert_eq!(q.rows.rendered(), 4);
        let odd = a
            .select("[:1, :7, :7]")
            .unwrap()
            .downsample(3, 3, DownsampleMode::Mean)
            .unwrap();
        let q = odd.optimize().unwrap();
        assert_eq!((q.shape(), q.rows.rendered()), ([1, 3, 3], 7));
        assert!(
            a.downsample(2, 2, DownsampleMode::Mean)
                .unwrap()
                .downsample(2, 1, DownsampleMode::Mean)
                .unwrap_err()
                .to_string()
                .contains("[2, 1]")
        );
    }

    #[test]
    fn tiles_cover_the_output() {
        let a = ZoomStack::default().array();
        let p = a
            .select("[:5, :100, :70]")
            .unwrap()
            .rechunk([2, 64, 32])
            .unwrap()
            .optimize()
            .unwrap();
        assert_eq!(p.chunk_grid(), [3, 2, 3]);
        let tiles: Vec<_> = p.tiles().collect();
        assert_eq!(tiles.len(), 18);
        assert_eq!(tiles[0].index, [0, 0, 0]);
        assert_eq!(tiles[1].index, [0, 0, 1]);
        assert_eq!(tiles[3].index, [0, 1, 0]);
        assert_eq!(tiles[17].shape, [1, 36, 6]);
        let total: usize = tiles.iter().map(|t| t.len()).sum();
        assert_eq!(total, 5 * 100 * 70);
        assert_eq!(p.tile_at([2, 1, 2]), Some(tiles[17]));
        assert_eq!(p.tile_at([3, 0, 0]), None);
    }

    #[test]
    fn hand_built_plans_are_checked() {
        let good = ZoomStack::default()
            .array()
            .select("[:3, :8, :8]")
            .unwrap()
            .optimize()
            .unwrap();
        let mut p = good.clone();
        p.chunks[1] = 0;
        assert!(
            p.validate()
                .unwrap_err()
                .to_string()
                .contains("chunk size of the y axis")
        );
        let mut p = good.clone();
        p.rows.source = IndexRange::new(510, 1, 3);
        assert!(p.validate().unwrap_err().to_string().contains("index 512"));
        let mut p = good.clone();
        p.cols.source = IndexRange::new(1, -1, 3);
        assert!(p.validate().unwrap_err().to_string().contains("index -1"));
        let mut p = good.clone();
        p.levels = IndexRange {
            start: 0,
            step: 0,
            count: 2,
        };
        assert!(
            p.validate()
                .unwrap_err()
                .to_string()
                .contains("step cannot be zero")
        );
        let mut p = good.clone();
        p.rows.factor = 0;
        assert!(p.validate().is_err());
        let mut p = good;
        p.rows = AxisMap {
            source: IndexRange::full(8),
            factor: 3,
            blocks: IndexRange::new(0, 1, 4),
        };
        assert!(p.validate().unwrap_err().to_string().contains("index 3"));
        assert!(crate::Executor::new(1).compute(&p).is_err());
    }

    #[test]
    fn invalid_levels_fail_at_optimize() {
        let deep = ZoomStack {
            levels: 10_000,
            params: zoomstack_kernel::StackParams {
                zoom_per_level: 2.0,
                ..Default::default()
            },
        };
        let a = deep.array();
        assert!(a.select("[:10]").unwrap().optimize().is_ok());
        let e = a.optimize().unwrap_err().to_string();
        assert!(e.contains("scale"), "{e}");
        assert!(a.explain().contains("INVALID"));
        let huge = ZoomStack {
            levels: u64::MAX,
            ..Default::default()
        };
        assert!(
            huge.array()
                .optimize()
                .unwrap_err()
                .to_string()
                .contains("at most")
        );
    }
}
