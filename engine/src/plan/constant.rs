//! The tiles of a plan whose levels are all proven constant (exact contract): they need no
//! per-pixel work, so a store keeps them in a small representation, progress and estimates
//! count them apart. The proof itself is the kernel's ([`ZoomStack::proven_constant`]); this is
//! only its mapping onto a plan's tiles.

use std::ops::Range;

use super::{RenderPlan, TileSpec};
use crate::stack::Arithmetic;

/// The tiles of a plan whose every level is proven constant, with that count: every tile whose
/// level-chunk index (`index[0]`) lies in [`ConstantTiles::level_chunks`]. Those tiles are
/// consecutive in C order ([`ConstantTiles::tiles`]). Found by [`RenderPlan::proven_constant_tiles`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConstantTiles {
    chunks: Range<u64>,
    tiles: Range<u64>,
    levels: u64,
    elements: u64,
    count: u16,
}

impl ConstantTiles {
    /// Level-chunk indices (first axis of the tile grid) whose levels are all proven constant.
    #[must_use]
    pub fn level_chunks(&self) -> Range<u64> {
        self.chunks.clone()
    }

    /// Tile numbers ([`RenderPlan::tile`], C order) of the constant tiles: a contiguous range.
    #[must_use]
    pub fn tiles(&self) -> Range<u64> {
        self.tiles.clone()
    }

    /// Number of constant tiles.
    #[must_use]
    pub fn num_tiles(&self) -> u64 {
        self.tiles.end - self.tiles.start
    }

    /// Output levels of the constant tiles.
    #[must_use]
    pub fn num_levels(&self) -> u64 {
        self.levels
    }

    /// Output elements of the constant tiles.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.elements
    }

    /// True when there is no constant element (never for a value
    /// [`RenderPlan::proven_constant_tiles`] returns).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.elements == 0
    }

    /// The count of every pixel of the constant tiles.
    #[must_use]
    pub fn count(&self) -> u16 {
        self.count
    }

    /// `true` when `tile` is one of the constant tiles.
    #[must_use]
    pub fn contains(&self, tile: &TileSpec) -> bool {
        self.chunks.contains(&tile.index[0])
    }
}

impl RenderPlan {
    /// The count every pixel of `tile` has when all its levels are proven constant (exact
    /// contract; `None` otherwise and always in the numpy contract).
    #[must_use]
    pub fn proven_constant_tile(&self, tile: &TileSpec) -> Option<u16> {
        let levels = self.levels().sub(tile.origin[0], tile.shape[0] as u64);
        self.stack.proven_constant(levels.at(0), levels.last()?)
    }

    /// The tiles whose levels are all proven constant, or `None` when there are none (always in
    /// the numpy contract). The first call for a stack runs the kernel's proof search (cached per
    /// process); after it this costs a logarithmic number of look-ups, whatever the plan's size.
    ///
    /// The proven levels of a stack are every level from a threshold on, and a plan's levels are
    /// monotone, so the constant level-chunks are a run at one end of the level axis: found by
    /// bisection, each step asking [`RenderPlan::proven_constant_tile`]'s question of one
    /// level-chunk.
    ///
    /// ```
    /// use zoomstack_engine::ZoomStack;
    /// use zoomstack_kernel::exact::ExactStack;
    /// let exact = ExactStack { height: 8, width: 8, ..ExactStack::default() };
    /// let stack = ZoomStack::exact(120_000_000, exact).unwrap();
    /// // Levels from 139845 on are proven constant (250 everywhere).
    /// let plan = stack.array().select("[139000:149000]").unwrap()
    ///     .rechunk([1000, 8, 8]).unwrap().optimize().unwrap();
    /// let c = plan.proven_constant_tiles().unwrap();
    /// assert_eq!((c.level_chunks(), c.count()), (1..10, 250));
    /// assert_eq!(c.len(), 9000 * 8 * 8);
    /// assert!(ZoomStack::default().array().optimize().unwrap().proven_constant_tiles().is_none());
    /// ```
    #[must_use]
    pub fn proven_constant_tiles(&self) -> Option<ConstantTiles> {
        if !matches!(self.stack.arithmetic, Arithmetic::Exact(_)) {
            return None;
        }
        let [n, g1, g2] = self.chunk_grid();
        if n == 0 || g1 == 0 || g2 == 0 {
            return None;
        }
        let at = |c: u64| self.level_chunk_constant(c);
        let chunks = match (at(0), at(n - 1)) {
            (Some(a), Some(b)) if a == b => (0..n, a),
            // Constant from level-chunk `hi` on: `lo` is not, `hi` is.
            (None, Some(b)) => {
                let (mut lo, mut hi) = (0, n - 1);
                while hi - lo > 1 {
                    let mid = lo + (hi - lo) / 2;
                    if at(mid) == Some(b) {
                        hi = mid;
                    } else {
                        lo = mid;
                    }
                }
                (hi..n, b)
            }
            // Constant up to level-chunk `lo` (levels descending): `lo` is, `hi` is not.
            (Some(a), None) => {
                let (mut lo, mut hi) = (0, n - 1);
                while hi - lo > 1 {
                    let mid = lo + (hi - lo) / 2;
                    if at(mid) == Some(a) {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
                (0..lo + 1, a)
            }
            _ => return None,
        };
        let (chunks, count) = chunks;
        let cl = self.chunks[0] as u64;
        let levels_total = self.shape()[0];
        let first = chunks.start * cl;
        let end = (chunks.end * cl).min(levels_total);
        let [_, h, w] = self.shape();
        Some(ConstantTiles {
            tiles: chunks.start * g1 * g2..chunks.end * g1 * g2,
            chunks,
            levels: end - first,
            elements: (end - first).saturating_mul(h).saturating_mul(w),
            count,
        })
    }

    /// [`RenderPlan::proven_constant_tile`] for the tiles of level-chunk `c`.
    fn level_chunk_constant(&self, c: u64) -> Option<u16> {
        self.tile_at([c, 0, 0])
            .and_then(|t| self.proven_constant_tile(&t))
    }
}

#[cfg(test)]
mod tests {
    use crate::ZoomStack;
    use zoomstack_kernel::exact::ExactStack;

    fn deep() -> ZoomStack {
        let e = ExactStack {
            height: 8,
            width: 12,
            ..ExactStack::default()
        };
        ZoomStack::exact(120_000_000, e).unwrap()
    }

    /// The bisection agrees with asking every tile, for ascending, descending and strided
    /// levels, with tiles split along y and x too.
    #[test]
    fn the_constant_run_is_the_tiles_proven_one_by_one() {
        let cases = [
            ("[139000:141000]", [100, 8, 12]),
            ("[139000:141000]", [7, 3, 5]),
            ("[141000:139000:-1]", [64, 8, 12]),
            ("[139000:160000:37]", [3, 4, 12]),
            ("[119999000:]", [10, 8, 12]),
            ("[1000:2000]", [100, 8, 12]),
            ("[139800:139900]", [1, 8, 12]),
        ];
        for (select, chunks) in cases {
            let plan = deep()
                .array()
                .select(select)
                .unwrap()
                .rechunk(chunks)
                .unwrap()
                .optimize()
                .unwrap();
            let found = plan.proven_constant_tiles();
            let one_by_one: Vec<u64> = (0..plan.num_tiles())
                .filter(|&i| plan.proven_constant_tile(&plan.tile(i)).is_some())
                .collect();
            let elements: u64 = one_by_one.iter().map(|&i| plan.tile(i).len() as u64).sum();
            match &found {
                None => assert!(one_by_one.is_empty(), "{select}: {one_by_one:?}"),
                Some(c) => {
                    assert_eq!(c.tiles().collect::<Vec<_>>(), one_by_one, "{select}");
                    assert_eq!(c.num_tiles(), one_by_one.len() as u64, "{select}");
                    assert_eq!(c.len(), elements, "{select}");
                    let [_, h, w] = plan.shape();
                    assert_eq!(c.num_levels() * h * w, elements, "{select}");
                    assert_eq!(c.count(), 250, "{select}");
                    for i in 0..plan.num_tiles() {
                        let t = plan.tile(i);
                        assert_eq!(c.contains(&t), one_by_one.contains(&i), "{select} {i}");
                    }
                }
            }
        }
        // Around the threshold (139845 for this centre): a run that starts inside the plan, at
        // the end for ascending levels and at the start for descending ones.
        let around = |select: &str| {
            let plan = deep()
                .array()
                .select(select)
                .unwrap()
                .rechunk([10, 8, 12])
                .unwrap()
                .optimize()
                .unwrap();
            let c = plan.proven_constant_tiles().unwrap();
            (c.level_chunks(), plan.chunk_grid()[0])
        };
        let (up, n) = around("[139000:141000]");
        assert!(up.start > 0 && up.end == n, "{up:?} of {n}");
        let (down, n) = around("[141000:139000:-1]");
        assert!(down.start == 0 && down.end < n, "{down:?} of {n}");
        assert_eq!(down.end, n - up.start);
        // Shallow levels: nothing proven; the deepest: everything.
        let shallow = deep().array().select("[1000:2000]").unwrap();
        assert!(
            shallow
                .optimize()
                .unwrap()
                .proven_constant_tiles()
                .is_none()
        );
        let plan = deep()
            .array()
            .select("[119999000:]")
            .unwrap()
            .rechunk([10, 8, 12])
            .unwrap()
            .optimize()
            .unwrap();
        let all = plan.proven_constant_tiles().unwrap();
        assert_eq!(all.num_tiles(), plan.num_tiles());
        assert_eq!(all.len(), plan.len());
    }
}
