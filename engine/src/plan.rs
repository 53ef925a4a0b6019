//! The optimized plan ([`RenderPlan`]) the executor runs, its tiling ([`TileSpec`]), and the
//! plan rewrites other crates need (retiling to a store's write units, pyramid levels): they
//! live here so that no other crate builds a plan by hand.

use crate::error::{EngineError, Result};
use crate::selection::{AxisMap, Selection};
use crate::slice::{AXES, IndexRange, format_range};
use crate::stack::ZoomStack;

mod constant;

pub use constant::ConstantTiles;

/// The optimized plan: which stack levels, rows and columns to render, how to reduce them, and
/// the tiling. Built by [`crate::LazyArray::optimize`] (or [`RenderPlan::new`]); rewritten by
/// [`RenderPlan::retiled`] and [`RenderPlan::for_store`]; run by [`crate::Executor`].
#[derive(Debug, Clone, PartialEq)]
pub struct RenderPlan {
    stack: ZoomStack,
    selection: Selection,
    /// Tile (chunk) shape, clamped to the output shape.
    chunks: [usize; 3],
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
    /// A plan from its parts, unchecked (the optimizer's result).
    pub(crate) fn from_parts(stack: ZoomStack, selection: Selection, chunks: [usize; 3]) -> Self {
        RenderPlan {
            stack,
            selection,
            chunks: clamp_chunks(chunks, selection.shape()),
        }
    }

    /// A plan rendering `selection` of `stack` in tiles of `chunks` (clamped to the output
    /// shape), checked like an optimized plan ([`RenderPlan::validate`]).
    ///
    /// # Errors
    ///
    /// The errors of [`RenderPlan::validate`].
    pub fn new(stack: ZoomStack, selection: Selection, chunks: [usize; 3]) -> Result<Self> {
        for (k, &c) in chunks.iter().enumerate() {
            if c == 0 {
                return Err(EngineError::ZeroChunk { axis: AXES[k] });
            }
        }
        let plan = RenderPlan::from_parts(stack, selection, chunks);
        plan.validate()?;
        Ok(plan)
    }

    /// Checks the stack, that every index lies inside it, and that the first and last selected
    /// levels have a valid grid (the scale is monotonic in the level, so every level between
    /// them does too). The executor calls this before running a plan.
    ///
    /// # Errors
    ///
    /// The stack's errors ([`ZoomStack::validate`]), an index outside the stack, or a level
    /// whose scale underflows.
    pub fn validate(&self) -> Result<()> {
        self.stack.validate()?;
        self.selection.validate(self.stack.shape())?;
        if let Some((lo, hi)) = self.selection.levels.bounds() {
            self.stack.check_levels(lo, hi)?;
        }
        Ok(())
    }

    /// The same plan in tiles of `tile` (clamped to the output shape, at least 1 per axis):
    /// e.g. a store's write units, so every tile is one stored object.
    #[must_use]
    pub fn retiled(&self, tile: [usize; 3]) -> RenderPlan {
        RenderPlan::from_parts(self.stack.clone(), self.selection, tile)
    }

    /// The same plan tiled by a store's write units, so every tile is one stored object written
    /// by the thread that rendered it.
    #[must_use]
    pub fn for_store(&self, layout: &crate::StoreLayout) -> RenderPlan {
        self.retiled(layout.unit())
    }

    /// The stack rendered.
    #[must_use]
    pub const fn stack(&self) -> &ZoomStack {
        &self.stack
    }

    /// What is rendered, typed.
    #[must_use]
    pub const fn selection(&self) -> &Selection {
        &self.selection
    }

    /// Stack levels, one per output level.
    #[must_use]
    pub const fn levels(&self) -> IndexRange {
        self.selection.levels
    }

    /// Output rows -> grid rows.
    #[must_use]
    pub const fn rows(&self) -> &AxisMap {
        &self.selection.rows
    }

    /// Output columns -> grid columns.
    #[must_use]
    pub const fn cols(&self) -> &AxisMap {
        &self.selection.cols
    }

    /// Output shape `[levels, y, x]`.
    pub fn shape(&self) -> [u64; 3] {
        self.selection.shape()
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
        self.selection.levels.at(k)
    }

    /// Grid pixels rendered for the whole output (saturating); with a mean, every pixel of
    /// every kept block.
    pub fn rendered_pixels(&self) -> u64 {
        self.selection
            .levels
            .count
            .saturating_mul(self.selection.rows.rendered())
            .saturating_mul(self.selection.cols.rendered())
    }

    /// Pixels of the whole stack (saturating).
    pub fn stack_pixels(&self) -> u64 {
        self.stack
            .shape()
            .iter()
            .fold(1u64, |a, &b| a.saturating_mul(b))
    }

    /// The optimized plan as lines of text (used by [`crate::LazyArray::explain`]).
    pub fn explain_lines(&self) -> Vec<String> {
        let [l, h, w] = self.stack.shape();
        let mut v = vec![
            format!(
                "Render levels {} ({} of {l})",
                format_range(&self.selection.levels),
                self.selection.levels.count
            ),
            format!("  {}", self.selection.rows.explain("rows", h)),
            format!("  {}", self.selection.cols.explain("cols", w)),
        ];
        let s = self.shape();
        let c = self.chunks;
        let g = self.chunk_grid();
        v.push(format!(
            "Output ({}, {}, {}), tiles ({}, {}, {}): grid ({}, {}, {}) = {} tiles",
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

/// Chunk shape clamped to `1..=max(shape, 1)` on each axis.
pub(crate) fn clamp_chunks(chunks: [usize; 3], shape: [u64; 3]) -> [usize; 3] {
    let mut out = [1; 3];
    for k in 0..3 {
        let cap = usize::try_from(shape[k].max(1)).unwrap_or(usize::MAX);
        out[k] = chunks[k].clamp(1, cap);
    }
    out
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
    use crate::DownsampleMode;

    #[test]
    fn preview_plan() {
        let a = ZoomStack::default().array();
        let p = a
            .select("[0:20000:500, ::2, ::2]")
            .unwrap()
            .optimize()
            .unwrap();
        assert_eq!(p.shape(), [40, 256, 256]);
        assert_eq!(p.levels(), IndexRange::new(0, 500, 40));
        assert_eq!(p.rows().source, IndexRange::new(0, 2, 256));
        assert_eq!(p.num_tiles(), 40);
        assert_eq!(p.rendered_pixels(), 40 * 256 * 256);
        assert_eq!(
            p.selection().select_text(),
            "[0:20000:500, 0:512:2, 0:512:2]"
        );
        assert_eq!(p.selection().mean_factors(), None);
        assert_eq!(p.selection().post_select_text(), None);
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
        assert_eq!(p.levels(), IndexRange::new(119999 - 15, -3, 2));
        // rows: 10..500 step 2 -> 245; stride 2 -> step 4 from 10; [1:] from 14.
        assert_eq!(p.rows().source, IndexRange::new(14, 4, 122));
        assert_eq!(p.cols().source, IndexRange::new(0, 4, 128));
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
        assert_eq!(p.rows().source, IndexRange::new(1, 1, 511));
        assert_eq!(p.rows().factor, 4);
        assert_eq!(p.rows().blocks, IndexRange::new(0, 10, 13));
        assert_eq!(p.cols().source, IndexRange::new(3, 1, 2));
        assert_eq!(p.shape(), [4, 13, 2]);
        assert_eq!(p.selection().mean_factors(), Some([4, 1]));
        assert_eq!(p.selection().select_text(), "[0:4:1, 1:512:1, 3:5:1]");
        assert_eq!(
            p.selection().post_select_text().unwrap(),
            "[:, 0:130:10, 0:2:1]"
        );
        // 511 rows = 127 full blocks + 1 of 3; block 120 is full: 13 * 4 rows.
        assert_eq!(p.rows().rendered(), 52);
        let last = a
            .downsample(4, 4, DownsampleMode::Mean)
            .unwrap()
            .select("[:1, -1:, -1:]")
            .unwrap();
        let q = last.optimize().unwrap();
        assert_eq!(q.rows().rendered(), 4);
        let odd = a
            .select("[:1, :7, :7]")
            .unwrap()
            .downsample(3, 3, DownsampleMode::Mean)
            .unwrap();
        let q = odd.optimize().unwrap();
        assert_eq!((q.shape(), q.rows().rendered()), ([1, 3, 3], 7));
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
        let total: usize = tiles.iter().map(super::TileSpec::len).sum();
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
        let stack = good.stack().clone();
        let sel = *good.selection();
        let build = |s: Selection| RenderPlan::new(stack.clone(), s, [1, 8, 8]);
        assert!(
            RenderPlan::new(stack.clone(), sel, [1, 0, 8])
                .unwrap_err()
                .to_string()
                .contains("chunk size of the y axis")
        );
        let mut s = sel;
        s.rows.source = IndexRange::new(510, 1, 3);
        assert!(build(s).unwrap_err().to_string().contains("index 512"));
        let mut s = sel;
        s.cols.source = IndexRange::new(1, -1, 3);
        assert!(build(s).unwrap_err().to_string().contains("index -1"));
        let mut s = sel;
        s.levels = IndexRange {
            start: 0,
            step: 0,
            count: 2,
        };
        assert!(
            build(s)
                .unwrap_err()
                .to_string()
                .contains("step cannot be zero")
        );
        let mut s = sel;
        s.rows.factor = 0;
        assert!(build(s).is_err());
        let mut s = sel;
        s.rows = AxisMap {
            source: IndexRange::full(8),
            factor: 3,
            blocks: IndexRange::new(0, 1, 4),
        };
        assert!(build(s).unwrap_err().to_string().contains("index 3"));
        assert!(build(sel).is_ok());
    }

    #[test]
    fn invalid_levels_fail_at_optimize() {
        let deep = ZoomStack {
            levels: 10_000,
            params: zoomstack_kernel::StackParams {
                zoom_per_level: 2.0,
                ..Default::default()
            },
            ..ZoomStack::default()
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
