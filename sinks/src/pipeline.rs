//! Running an engine plan into sinks: the thin glue between `zoomstack-engine` and the writers.

use std::path::{Path, PathBuf};

use zoomstack_engine::{EngineError, Executor, IndexRange, RenderPlan};

use crate::frames::FrameSink;
use crate::{ArrayDescription, SinkError, ZarrOptions, ZarrPyramid, ZarrReport, ZarrSink};

impl ArrayDescription {
    /// The description of an optimized plan: its stack, normalized select (in the full stack's
    /// index space, stride downsampling folded in), mean factors, shape and chunk shape.
    pub fn from_plan(plan: &RenderPlan) -> ArrayDescription {
        ArrayDescription {
            levels: plan.stack.levels,
            params: plan.stack.params,
            select: plan.select_string(),
            mean: plan.mean_factors(),
            post_select: plan.post_select_string(),
            shape: plan.shape(),
            chunks: plan.chunks(),
        }
    }
}

/// The same plan tiled by `tile` (clamped to the output shape, at least 1 per axis).
fn retiled(plan: &RenderPlan, tile: [usize; 3]) -> RenderPlan {
    let shape = plan.shape();
    let chunks = [0, 1, 2].map(|k| {
        let n = usize::try_from(shape[k]).unwrap_or(usize::MAX).max(1);
        tile[k].clamp(1, n)
    });
    RenderPlan {
        chunks,
        ..plan.clone()
    }
}

/// `plan` tiled by `sink`'s write units (shards when sharded, else chunks), clamped to the
/// output shape: the tiling under which every tile is stored without buffering.
pub fn sink_tiling(plan: &RenderPlan, sink: &ZarrSink) -> RenderPlan {
    retiled(plan, sink.write_unit())
}

/// Turn an executor error back into the sink's error when a sink caused it.
fn from_engine(err: EngineError) -> SinkError {
    match err {
        EngineError::Sink(inner) => match inner.downcast::<SinkError>() {
            Ok(e) => *e,
            Err(other) => SinkError::Engine(EngineError::Sink(other)),
        },
        other => SinkError::Engine(other),
    }
}

/// Render `plan` into `sink` with `executor`, skipping write units that already have a marker.
/// The executor's tiles are the sink's write units (the shard when sharded), so every stored
/// object is encoded once by the thread that rendered it, and memory is bounded by the tiles in
/// flight. Returns the sink's report; a cancelled run (the executor's cancel flag) returns an
/// incomplete report, which a later run with the same parameters resumes.
pub fn render_into(
    plan: &RenderPlan,
    executor: &Executor,
    sink: ZarrSink,
) -> Result<ZarrReport, SinkError> {
    let desc = ArrayDescription::from_plan(plan);
    if desc.shape != sink.description().shape {
        return Err(SinkError::invalid(
            "plan shape",
            format!("{:?}", desc.shape),
            format!("expected the sink's shape {:?}", sink.description().shape),
        ));
    }
    let tiled = sink_tiling(plan, &sink);
    let result = executor.for_each_tile(
        &tiled,
        |spec| sink.needs_tile(spec.origin, spec.shape),
        |tile| sink.write_tile(tile.spec.origin, tile.spec.shape, &tile.data),
    );
    match result {
        Ok(_) | Err(EngineError::Cancelled { .. }) => sink.finish(),
        Err(e) => Err(from_engine(e)),
    }
}

/// Write (or resume) `plan` as a Zarr v3 store at `store`: chunk shape from the plan, the rest
/// from `options`. See [`ZarrSink::open`] and [`render_into`].
///
/// ```
/// use zoomstack_engine::{Executor, ZoomStack};
/// use zoomstack_sinks::{ZarrOptions, write_zarr};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let plan = ZoomStack::default().array().select("[0:20000:500, ::8, ::8]")?
///     .rechunk([1, 64, 64])?.optimize()?;
/// let opts = ZarrOptions { shard: Some([8, 64, 64]), ..ZarrOptions::default() };
/// let report = write_zarr(&plan, &Executor::new(2), dir.path().join("preview.zarr"), opts)?;
/// assert!(report.complete);
/// assert_eq!(report.units_total, 5); // 40 levels in shards of 8
/// # Ok(()) }
/// ```
pub fn write_zarr(
    plan: &RenderPlan,
    executor: &Executor,
    store: impl AsRef<Path>,
    options: ZarrOptions,
) -> Result<ZarrReport, SinkError> {
    let sink = ZarrSink::open(store, ArrayDescription::from_plan(plan), options)?;
    render_into(plan, executor, sink)
}

/// The plans of a stride pyramid: `plan` itself, then `plan[:, ::2, ::2]`, `plan[:, ::4, ::4]`,
/// ... (`levels` plans in all), each rendered directly at its stride. Chunk shapes are the
/// base's, clamped to each level's shape. Levels whose y or x axis would be empty are not
/// produced.
pub fn pyramid_plans(plan: &RenderPlan, levels: usize) -> Vec<RenderPlan> {
    let mut out = Vec::with_capacity(levels);
    for k in 0..levels.min(63) {
        let s = 1u64 << k;
        let (ny, nx) = (plan.rows.len().div_ceil(s), plan.cols.len().div_ceil(s));
        if ny == 0 || nx == 0 {
            break;
        }
        let p = RenderPlan {
            rows: plan.rows.select(&IndexRange::new(0, s as i64, ny)),
            cols: plan.cols.select(&IndexRange::new(0, s as i64, nx)),
            ..plan.clone()
        };
        out.push(retiled(&p, plan.chunks));
    }
    out
}

/// Write (or resume) an OME-Zarr 0.5 pyramid of `plans` (e.g. from [`pyramid_plans`]) at
/// `store`, one dataset per plan, each rendered directly (see [`ZarrPyramid::open`] for the
/// shard shape of each level). Returns one report per level.
pub fn write_pyramid(
    plans: &[RenderPlan],
    executor: &Executor,
    store: impl AsRef<Path>,
    options: ZarrOptions,
) -> Result<Vec<ZarrReport>, SinkError> {
    let descs: Vec<ArrayDescription> = plans.iter().map(ArrayDescription::from_plan).collect();
    let pyramid = ZarrPyramid::open(store, descs, options)?;
    let mut reports = Vec::with_capacity(plans.len());
    for (plan, sink) in plans.iter().zip(pyramid.into_levels()) {
        reports.push(render_into(plan, executor, sink)?);
    }
    Ok(reports)
}

/// Render `plan` frame by frame (in level order) into every sink, then finish them all.
/// Returns the files written.
pub fn write_frames(
    plan: &RenderPlan,
    executor: &Executor,
    mut sinks: Vec<Box<dyn FrameSink>>,
) -> Result<Vec<PathBuf>, SinkError> {
    executor
        .for_each_frame(plan, |_, level, frame| {
            for s in sinks.iter_mut() {
                s.write_frame(level, frame)?;
            }
            Ok::<(), SinkError>(())
        })
        .map_err(from_engine)?;
    let mut files = Vec::new();
    for s in sinks {
        files.extend(s.finish()?);
    }
    Ok(files)
}
