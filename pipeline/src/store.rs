//! Running a [`ZarrJob`]: opening (or resuming) its store and rendering its datasets, tile =
//! write unit, with this process's share of the units.

use std::path::{Path, PathBuf};

use zoomstack_sinks::{
    IfExists, SinkError, StoreValues, StoredElement, Writers, ZarrOptions, ZarrPyramid, ZarrReport,
    ZarrSink,
};

use zoomstack_engine::{RenderPlan, TileSpec};

use crate::error::RunError;
use crate::jobs::ZarrJob;
use crate::run::{Counters, RunOptions, resolve};

/// An open store of elements `T` (counts or smooth values): one array, or an OME-Zarr pyramid
/// of them.
pub(crate) enum Store<T: StoredElement = u16> {
    Single(Box<ZarrSink<T>>),
    Pyramid(ZarrPyramid<T>),
}

impl<T: StoredElement> Store<T> {
    pub(crate) fn dir(&self) -> &Path {
        match self {
            Store::Single(s) => s.array_dir(),
            Store::Pyramid(p) => p.group_dir(),
        }
    }

    fn level(&self, k: usize) -> &ZarrSink<T> {
        match self {
            Store::Single(s) => s,
            Store::Pyramid(p) => &p.levels()[k],
        }
    }

    fn finish(self) -> Result<Vec<ZarrReport>, SinkError> {
        match self {
            Store::Single(s) => s.finish().map(|r| vec![r]),
            Store::Pyramid(p) => p.finish(),
        }
    }
}

/// The store directory of `job` and the options its sinks open it with; refuses what the share
/// cannot do (replace, or a store that does not exist yet, with `must_exist`).
fn store_options(
    job: &ZarrJob,
    opts: &RunOptions,
    must_exist: bool,
) -> Result<(PathBuf, ZarrOptions), RunError> {
    let z = &job.spec;
    let path = resolve(&opts.out_dir, &job.path);
    let label = &job.who.label;
    if opts.share.count > 1 && z.if_exists == IfExists::Replace {
        return Err(RunError::Usage(format!(
            "{label}: if_exists = \"replace\" cannot be used with --count > 1 (every process would delete the others' work); run `zoomstack init` once, then the shares with if_exists = \"resume\""
        )));
    }
    let array_path = z.array.clone().unwrap_or_default();
    let node_dir = if array_path.is_empty() {
        path.clone()
    } else {
        path.join(&array_path)
    };
    if must_exist && !node_dir.join("zarr.json").exists() {
        return Err(RunError::Usage(format!(
            "{label}: {} has no store yet; with --count > 1, create it once with `zoomstack init SPEC` before starting the shares",
            node_dir.display()
        )));
    }
    let options = ZarrOptions {
        array_path,
        compression: z.compression,
        if_exists: z.if_exists,
        writers: if opts.share.count > 1 {
            Writers::Shared
        } else {
            Writers::Sole
        },
        verify: opts.verify,
    };
    Ok((path, options))
}

/// What opening the store of `job` would refuse, checked without creating or changing anything
/// (the run's preflight): each array (each pyramid level) by [`ZarrSink::check`].
pub(crate) fn check_store(
    job: &ZarrJob,
    opts: &RunOptions,
    must_exist: bool,
) -> Result<(), RunError> {
    let (path, options) = store_options(job, opts, must_exist)?;
    let sink_err = |e: SinkError| RunError::Sink {
        sink: job.who.label.clone(),
        error: e,
    };
    if job.spec.ome {
        for (k, d) in job.datasets.iter().enumerate() {
            let array_path = if options.array_path.is_empty() {
                k.to_string()
            } else {
                format!("{}/{k}", options.array_path)
            };
            let level = ZarrOptions {
                array_path,
                ..options.clone()
            };
            ZarrSink::check(&path, &d.desc, &level).map_err(sink_err)?;
        }
        Ok(())
    } else {
        ZarrSink::check(&path, &job.datasets[0].desc, &options).map_err(sink_err)
    }
}

/// Opens (creating, or checking for resume) the store of `job`, of elements `T` (the job's
/// values), without writing any chunk. With `must_exist` (a share of a job array), the store
/// must have been created before.
fn open_store<T: StoredElement>(
    job: &ZarrJob,
    opts: &RunOptions,
    must_exist: bool,
) -> Result<Store<T>, RunError> {
    let (path, options) = store_options(job, opts, must_exist)?;
    let sink_err = |e: SinkError| RunError::Sink {
        sink: job.who.label.clone(),
        error: e,
    };
    if job.spec.ome {
        let descs = job.datasets.iter().map(|d| d.desc.clone()).collect();
        ZarrPyramid::open_of(&path, descs, options)
            .map(Store::Pyramid)
            .map_err(sink_err)
    } else {
        ZarrSink::open_of(&path, job.datasets[0].desc.clone(), options)
            .map(|s| Store::Single(Box::new(s)))
            .map_err(sink_err)
    }
}

/// Creates (or checks for resume) the store of `job` without writing any chunk (`zoomstack
/// init`); returns its directory.
pub(crate) fn init_store(job: &ZarrJob, opts: &RunOptions) -> Result<PathBuf, RunError> {
    Ok(match job.spec.values {
        StoreValues::Counts => open_store::<u16>(job, opts, false)?.dir().to_path_buf(),
        StoreValues::Smooth => open_store::<f32>(job, opts, false)?.dir().to_path_buf(),
    })
}

/// The count every pixel of write unit `t` has, when its levels are proven constant (exact
/// stacks only): such units are stored without rendering.
pub(crate) fn proven_constant_unit(plan: &RenderPlan, t: &TileSpec) -> Option<u16> {
    let levels = plan.levels().sub(t.origin[0], t.shape[0] as u64);
    let (lo, hi) = (levels.at(0), levels.last()?);
    plan.stack().proven_constant(lo, hi)
}

/// Renders this process's share of the units of `job` that are not written yet, as counts or
/// smooth values (the job's `values`). Returns the store directory and one report per dataset;
/// on an error or cancellation, what is done is recorded (markers are on disk) before the
/// error is returned.
pub(crate) fn run_zarr(
    job: &ZarrJob,
    opts: &RunOptions,
    counters: &Counters,
) -> Result<(PathBuf, Vec<ZarrReport>), RunError> {
    match job.spec.values {
        StoreValues::Counts => run_zarr_of::<u16>(job, opts, counters),
        StoreValues::Smooth => run_zarr_of::<f32>(job, opts, counters),
    }
}

/// [`run_zarr`] with elements `T`.
fn run_zarr_of<T: StoredElement>(
    job: &ZarrJob,
    opts: &RunOptions,
    counters: &Counters,
) -> Result<(PathBuf, Vec<ZarrReport>), RunError> {
    let label = &job.who.label;
    let store = open_store::<T>(job, opts, opts.share.count > 1)?;
    for (k, d) in job.datasets.iter().enumerate() {
        let level = store.level(k);
        let plan = &d.plan;
        let grid = plan.chunk_grid();
        let share = opts.share;
        tracing::info!(
            sink = %label,
            dataset = k,
            shape = ?plan.shape(),
            write_unit = ?plan.chunks(),
            units = plan.num_tiles(),
            already_done = level.progress().units_done,
            share = ?share,
            "zarr dataset"
        );
        // Units of levels proven constant are stored without rendering (a shard of them is one
        // encoded chunk and an index); the executor then skips them as already written (and
        // counts them as done).
        for (i, t) in plan.tiles().enumerate() {
            if share.owns(i as u64)
                && level.needs_tile(t.origin, t.shape)
                && let Some(v) = proven_constant_unit(plan, &t).and_then(T::of_proven_count)
                && let Err(e) = level.write_constant_tile(t.origin, t.shape, v)
            {
                let _ = store.finish();
                return Err(RunError::Sink {
                    sink: label.clone(),
                    error: e,
                });
            }
        }
        let exec = counters.executor();
        let result = exec.for_each_tile_of::<T, _, _, _>(
            plan,
            |t| {
                let lin = (t.index[0] * grid[1] + t.index[1]) * grid[2] + t.index[2];
                share.owns(lin) && level.needs_tile(t.origin, t.shape)
            },
            |tile| level.write_tile(tile.spec.origin, tile.spec.shape, &tile.data),
        );
        match result {
            Ok(p) => counters.finished(plan.len(), p.pixels_rendered),
            Err(e) => {
                // Record what is done (markers are already on disk) before stopping.
                let _ = store.finish();
                return Err(RunError::exec(label, e));
            }
        }
    }
    let dir = store.dir().to_path_buf();
    let reports = store.finish().map_err(|e| RunError::Sink {
        sink: label.clone(),
        error: e,
    })?;
    Ok((dir, reports))
}
