//! Rendering one tile of a [`RenderPlan`] with the kernel.
//!
//! Per axis, the tile's output indices map to a sorted list of grid indices to render and, per
//! output index, the run of that list to average (one entry when not averaging). When both lists
//! are strided runs (always, except for a select with a step after a mean), each level is one
//! `render_block` call; the output is then either the rendered block itself or gathered from it
//! (negative steps, means). Otherwise the needed grid points are rendered with `render_points`
//! on exactly the grid's coordinates (`Linspace::at` of the same indices), which is the same
//! arithmetic on the same numbers.

use crate::error::Result;
use crate::plan::{RenderPlan, TileSpec};
use crate::sample::Sample;
use crate::selection::AxisMap;
use crate::stack::Arithmetic;
use zoomstack_kernel::{Backend, IndexRange};

/// Points rendered per `render_points` call on the irregular path.
const POINTS_PER_CALL: usize = 16 * 1024;

/// The grid indices one axis of a tile needs.
#[derive(Debug)]
pub(crate) struct AxisGather {
    /// Grid indices to render, ascending, distinct.
    needed: Vec<usize>,
    /// Per output index: positions `lo..hi` in `needed` to average.
    ranges: Vec<(usize, usize)>,
    /// `needed` as a strided run, when it is one.
    slice: Option<IndexRange>,
    /// The output indices as one strided run of grid indices (any step sign), when they are
    /// (no mean): the kernel renders them directly, in output order.
    direct: Option<IndexRange>,
}

impl AxisGather {
    /// The grid indices for output indices `o0 .. o0 + t` of `map`.
    pub(crate) fn new(map: &AxisMap, o0: u64, t: usize) -> AxisGather {
        if map.factor == 1 {
            let r = map.source.sub(o0, t as u64);
            let asc = r.step > 0 || r.count <= 1;
            let first = if asc { r.start } else { r.last().unwrap_or(0) } as usize;
            let step = r.step.unsigned_abs() as usize;
            let needed = (0..t).map(|k| first + k * step).collect();
            let ranges = (0..t)
                .map(|i| if asc { (i, i + 1) } else { (t - 1 - i, t - i) })
                .collect();
            return AxisGather {
                needed,
                ranges,
                slice: Some(IndexRange::new(first as u64, step.max(1) as i64, t as u64)),
                direct: Some(r),
            };
        }
        let mut pairs: Vec<(usize, usize)> = Vec::new();
        for i in 0..t {
            let (lo, hi) = map.block(map.blocks.at(o0 + i as u64));
            pairs.extend((lo..hi).map(|p| (map.source.at(p) as usize, i)));
        }
        pairs.sort_unstable();
        let mut ranges = vec![(usize::MAX, 0); t];
        for (pos, &(_, i)) in pairs.iter().enumerate() {
            ranges[i].0 = ranges[i].0.min(pos);
            ranges[i].1 = ranges[i].1.max(pos + 1);
        }
        let needed: Vec<usize> = pairs.into_iter().map(|p| p.0).collect();
        AxisGather {
            slice: strided(&needed),
            needed,
            ranges,
            direct: None,
        }
    }

    /// Number of grid indices rendered.
    pub(crate) fn rendered(&self) -> usize {
        self.needed.len()
    }
}

/// `v` (ascending, distinct) as a strided run, if it is one.
fn strided(v: &[usize]) -> Option<IndexRange> {
    match v {
        [] => Some(IndexRange::EMPTY),
        [a] => Some(IndexRange::new(*a as u64, 1, 1)),
        [a, b, ..] => {
            let step = b - a;
            v.windows(2)
                .all(|w| w[1] - w[0] == step)
                .then(|| IndexRange::new(*a as u64, step as i64, v.len() as u64))
        }
    }
}

/// Renders one tile of `plan`: returns its data (row-major `(level, y, x)`) and the number of
/// grid pixels rendered. `stop` is polled between levels; when it returns true, rendering ends
/// early with `Ok(None)`.
pub(crate) fn render_tile<T: Sample>(
    plan: &RenderPlan,
    spec: &TileSpec,
    backend: Backend,
    stop: &dyn Fn() -> bool,
) -> Result<Option<(Vec<T>, u64)>> {
    let [tl, ty, tx] = spec.shape;
    let rows = AxisGather::new(plan.rows(), spec.origin[1], ty);
    let cols = AxisGather::new(plan.cols(), spec.origin[2], tx);
    let frame = ty * tx;
    let mut data = vec![T::default(); tl * frame];
    let direct = rows.direct.zip(cols.direct);
    let mut scratch = if direct.is_some() {
        Vec::new()
    } else {
        vec![T::default(); rows.rendered() * cols.rendered()]
    };
    let stack = plan.stack();
    for (k, out) in data.chunks_exact_mut(frame.max(1)).enumerate().take(tl) {
        if stop() {
            return Ok(None);
        }
        let level = plan.levels().at(spec.origin[0] + k as u64);
        if let Some((r, c)) = direct {
            // The kernel takes negative steps: rows and columns come out in output order.
            T::render_block(stack, level, r, c, backend, out)?;
        } else {
            render_grid(plan, level, &rows, &cols, backend, &mut scratch)?;
            reduce(&rows, &cols, &scratch, out);
        }
    }
    let rendered = (tl * rows.rendered() * cols.rendered()) as u64;
    Ok(Some((data, rendered)))
}

/// Renders `rows.needed x cols.needed` of `level` into `buf` (row-major).
fn render_grid<T: Sample>(
    plan: &RenderPlan,
    level: u64,
    rows: &AxisGather,
    cols: &AxisGather,
    backend: Backend,
    buf: &mut [T],
) -> Result<()> {
    let stack = plan.stack();
    if let (Some(r), Some(c)) = (rows.slice, cols.slice) {
        T::render_block(stack, level, r, c, backend, buf)?;
        return Ok(());
    }
    if let Arithmetic::Exact(e) = &stack.arithmetic {
        let index = |v: &[usize]| v.iter().map(|&i| i as u64).collect::<Vec<_>>();
        let (r, c) = (index(&rows.needed), index(&cols.needed));
        T::render_exact_indices(e, level, &r, &c, backend, buf)?;
        return Ok(());
    }
    let params = &stack.params;
    let grid = stack.level_grid(level)?;
    let nc = cols.needed.len();
    if nc == 0 {
        return Ok(());
    }
    let xs: Vec<f64> = cols.needed.iter().map(|&c| grid.cols.at(c)).collect();
    let batch = (POINTS_PER_CALL / nc).max(1);
    let mut re = Vec::with_capacity(batch * nc);
    let mut im = Vec::with_capacity(batch * nc);
    for (b, out) in rows.needed.chunks(batch).zip(buf.chunks_mut(batch * nc)) {
        re.clear();
        im.clear();
        for &r in b {
            let y = grid.rows.at(r);
            re.extend_from_slice(&xs);
            im.extend(std::iter::repeat_n(y, nc));
        }
        T::render_points(&re, &im, params.max_iter, backend, out)?;
    }
    Ok(())
}

/// Gathers (and averages) the rendered grid `src` into the tile's level `out`.
fn reduce<T: Sample>(rows: &AxisGather, cols: &AxisGather, src: &[T], out: &mut [T]) {
    let nc = cols.needed.len();
    let tx = cols.ranges.len();
    for (i, &(r0, r1)) in rows.ranges.iter().enumerate() {
        let line = &mut out[i * tx..(i + 1) * tx];
        for (o, &(c0, c1)) in line.iter_mut().zip(&cols.ranges) {
            *o = if r1 - r0 == 1 && c1 - c0 == 1 {
                src[r0 * nc + c0]
            } else {
                let block = (r0..r1).flat_map(|r| src[r * nc + c0..r * nc + c1].iter().copied());
                T::mean(block, ((r1 - r0) * (c1 - c0)) as u64)
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IndexRange;

    #[test]
    fn gather_negative_step_and_gapped_blocks() {
        let m = AxisMap {
            source: IndexRange::new(9, -2, 5),
            factor: 1,
            blocks: IndexRange::full(5),
        };
        let g = AxisGather::new(&m, 1, 3); // grid 7, 5, 3
        assert_eq!(g.needed, vec![3, 5, 7]);
        assert_eq!(g.ranges, vec![(2, 3), (1, 2), (0, 1)]);
        assert_eq!(
            g.direct,
            Some(IndexRange::new(7, -2, 3)),
            "rendered directly, in output order"
        );
        let m = AxisMap {
            source: IndexRange::new(1, 1, 10),
            factor: 2,
            blocks: IndexRange::new(4, -3, 2), // blocks 4, 1
        };
        let g = AxisGather::new(&m, 0, 2);
        assert_eq!(g.needed, vec![3, 4, 9, 10]);
        assert_eq!(g.ranges, vec![(2, 4), (0, 2)]);
        assert_eq!(g.slice, None);
        assert_eq!(strided(&[2, 5, 8]), Some(IndexRange::new(2, 3, 3)));
    }
}
