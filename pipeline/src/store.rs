//! Running a [`ZarrJob`]: opening (or resuming) its store and rendering its datasets, tile =
//! write unit, with this process's share of the units.

use std::path::{Path, PathBuf};

use zoomstack_sinks::{
    IfExists, SinkError, StoreValues, StoredElement, Writers, ZarrOptions, ZarrPyramid, ZarrReport,
    ZarrSink,
};

use std::sync::atomic::Ordering;

use zoomstack_engine::{ConstantTiles, EngineError, ExecError, TileSpec};

use crate::error::RunError;
use crate::jobs::{Dataset, ZarrJob};
use crate::run::{Counters, RunOptions, Share, resolve};

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

/// The write units of dataset `d` stored without rendering: its tiles proven constant (exact
/// contract; [`zoomstack_engine::RenderPlan::proven_constant_tiles`]), in stores whose elements have a value for a
/// proven count ([`StoredElement::of_proven_count`]: counts do, smooth values do not).
pub(crate) fn constant_units(d: &Dataset) -> Option<ConstantTiles> {
    let c = d.plan.proven_constant_tiles()?;
    let stored = match d.desc.values {
        StoreValues::Counts => u16::of_proven_count(c.count()).is_some(),
        StoreValues::Smooth => f32::of_proven_count(c.count()).is_some(),
    };
    stored.then_some(c)
}

/// Write units of a job (this process's share of them) and how many are stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct UnitsDone {
    /// Units of this share.
    total: u64,
    /// Of those, stored (now or by an earlier run).
    done: u64,
    /// Of those stored, units proven constant (stored without rendering).
    constant: u64,
}

/// What `store` holds of this share's units of `job`, asked of the sink (its markers and the
/// units written in this run).
fn units_done<T: StoredElement>(job: &ZarrJob, store: &Store<T>, share: Share) -> UnitsDone {
    let mut n = UnitsDone::default();
    for (k, d) in job.datasets.iter().enumerate() {
        let level = store.level(k);
        let constant = constant_units(d);
        for (i, t) in d.plan.tiles().enumerate() {
            if !share.owns(i as u64) {
                continue;
            }
            n.total += 1;
            if !level.needs_tile(t.origin, t.shape) {
                n.done += 1;
                if constant.as_ref().is_some_and(|c| c.contains(&t)) {
                    n.constant += 1;
                }
            }
        }
    }
    n
}

/// The cancellation of `job`, with what `store` holds of this share's units; finishes the store
/// (its markers are on disk) first.
fn cancelled<T: StoredElement>(job: &ZarrJob, store: Store<T>, share: Share) -> RunError {
    let n = units_done(job, &store, share);
    let _ = store.finish();
    RunError::Cancelled {
        sink: job.who.label.clone(),
        tiles_done: n.done,
        tiles_total: n.total,
        tiles_constant: n.constant,
        kept: Vec::new(),
    }
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
///
/// Progress: units proven constant are stored first, without rendering, and reported apart
/// ([`crate::Observer::constant_units`]); the pixel progress counts the other units (rendered, already
/// written, or another share's), so its rate and ETA are those of the rendering.
fn run_zarr_of<T: StoredElement>(
    job: &ZarrJob,
    opts: &RunOptions,
    counters: &Counters,
) -> Result<(PathBuf, Vec<ZarrReport>), RunError> {
    let label = &job.who.label;
    let share = opts.share;
    let store = open_store::<T>(job, opts, share.count > 1)?;
    let constants: Vec<Option<(ConstantTiles, T)>> = job
        .datasets
        .iter()
        .map(|d| constant_units(d).and_then(|c| T::of_proven_count(c.count()).map(|v| (c, v))))
        .collect();
    let constant_total: u64 = constants
        .iter()
        .flatten()
        .map(|(c, _)| share.owned_in(c.tiles()))
        .sum();
    let mut constant_stored = 0u64;
    for (k, d) in job.datasets.iter().enumerate() {
        let level = store.level(k);
        let plan = &d.plan;
        let grid = plan.chunk_grid();
        let constant = constants[k].as_ref();
        tracing::info!(
            sink = %label,
            dataset = k,
            shape = ?plan.shape(),
            write_unit = ?plan.chunks(),
            units = plan.num_tiles(),
            proven_constant = constant.map_or(0, |(c, _)| c.num_tiles()),
            already_done = level.progress().units_done,
            share = ?share,
            "zarr dataset"
        );
        // Units of levels proven constant are stored without rendering (a shard of them is one
        // encoded chunk and an index); the executor then skips them as already written.
        if let Some((c, v)) = constant {
            for i in c.tiles().filter(|&i| share.owns(i)) {
                if opts.cancel.load(Ordering::Relaxed) {
                    return Err(cancelled(job, store, share));
                }
                let t = plan.tile(i);
                if level.needs_tile(t.origin, t.shape)
                    && let Err(e) = level.write_constant_tile(t.origin, t.shape, *v)
                {
                    let _ = store.finish();
                    return Err(RunError::Sink {
                        sink: label.clone(),
                        error: e,
                    });
                }
                constant_stored += 1;
                counters.constant_units(constant_stored, constant_total);
            }
        }
        let is_constant = |t: &TileSpec| constant.is_some_and(|(c, _)| c.contains(t));
        let job_progress = counters.job();
        let result = counters.executor_of_job().for_each_tile_of::<T, _, _, _>(
            plan,
            |t| {
                let lin = (t.index[0] * grid[1] + t.index[1]) * grid[2] + t.index[2];
                let render = share.owns(lin) && level.needs_tile(t.origin, t.shape);
                if !render && !is_constant(t) {
                    job_progress.advance(t.len() as u64);
                }
                render
            },
            |tile| {
                level.write_tile(tile.spec.origin, tile.spec.shape, &tile.data)?;
                job_progress.advance(tile.spec.len() as u64);
                Ok(())
            },
        );
        match result {
            Ok(p) => counters.finished(
                plan.len() - constant.map_or(0, |(c, _)| c.len()),
                p.pixels_rendered,
            ),
            Err(ExecError::Engine(EngineError::Cancelled { .. })) => {
                return Err(cancelled(job, store, share));
            }
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
