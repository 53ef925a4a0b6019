//! From a validated [`Spec`] to render jobs, their description, and their execution.
//!
//! Sinks that consume whole frames (PNG, 16-bit PNG, animation, contact sheet) and whose
//! optimized plans select the same levels, rows and columns (and the same mean, if any) share one
//! render: one frame stream fans out to all of them. A Zarr sink renders on its own, with the
//! executor's tiles equal to its write units (shards, or chunks when unsharded), so each
//! rendered tile is exactly one stored object and the job-array filter and the resume filter
//! work per write unit. See the README for why overlapping-but-different selections are not
//! merged.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use zoomstack_engine::{
    AxisMap, DownsampleMode, EngineError, Executor, IndexRange, LazyArray, Progress, RenderPlan,
};
use zoomstack_kernel::Backend;
use zoomstack_sinks::{
    ApngWriter, ArrayDescription, ContactSheet, FrameNaming, FrameSink, GifWriter, IfExists,
    PngFrameOptions, PngFrameWriter, PngKind, SinkError, ZarrOptions, ZarrPyramid, ZarrReport,
    ZarrSink,
};

use crate::spec::{AnimationFormat, SinkKind, SinkSpec, Spec, ZarrSpec};

/// Which share of the write units this process renders (job arrays): unit `k` (C order over a
/// Zarr array's write-unit grid) belongs to share `k % count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    /// This process's index, `< count`.
    pub index: u64,
    /// Number of processes.
    pub count: u64,
}

impl Share {
    /// The whole job (one process).
    pub const ALL: Share = Share { index: 0, count: 1 };

    /// `true` if unit `k` is this share's.
    pub fn owns(&self, k: u64) -> bool {
        k % self.count == self.index
    }
}

/// How a run executes.
#[derive(Clone)]
pub struct RunOptions {
    /// Worker threads (0: one per core).
    pub threads: usize,
    /// Kernel backend.
    pub backend: Backend,
    /// Relative sink paths are resolved against this directory.
    pub out_dir: PathBuf,
    /// This process's share of the Zarr write units.
    pub share: Share,
    /// Raised (e.g. by Ctrl-C) to stop at the next tile.
    pub cancel: Arc<AtomicBool>,
}

/// One render job: a plan and the sinks fed from it.
#[derive(Debug, Clone)]
pub enum Job {
    /// Frame sinks sharing one frame stream (indices into `Spec::sinks`).
    Frames {
        /// The plan rendered (the first sink's).
        plan: RenderPlan,
        /// The sinks fed.
        sinks: Vec<usize>,
    },
    /// One Zarr sink: one dataset, or several for an OME-Zarr pyramid.
    Zarr {
        /// The sink (index into `Spec::sinks`).
        sink: usize,
        /// One entry per dataset (pyramid level).
        datasets: Vec<Dataset>,
        /// Shard shape passed to the store, if sharded.
        shard: Option<[usize; 3]>,
    },
}

/// One Zarr array to write: what it holds and how it is rendered.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The lazy array (for `describe`).
    pub array: LazyArray,
    /// The plan rendered, tiled by write units.
    pub plan: RenderPlan,
    /// The store's description (shape, chunks, select, mean).
    pub desc: ArrayDescription,
    /// The write unit: the shard shape when sharded, else the chunk shape.
    pub unit: [usize; 3],
}

/// Key of frame sinks that can share a render.
#[derive(PartialEq, Eq, Hash)]
struct FrameKey {
    levels: IndexRange,
    rows: AxisMap,
    cols: AxisMap,
}

/// Builds the Zarr job of one sink.
fn zarr_job(
    index: usize,
    s: &SinkSpec,
    z: &ZarrSpec,
    requested: [usize; 3],
) -> Result<Job, RunError> {
    let label = s.label();
    let err = |e: EngineError| RunError::Engine {
        sink: label.clone(),
        error: e,
    };
    let mut arrays = vec![s.array.clone()];
    for k in 1..=z.pyramid_levels {
        let f = 1u64 << k;
        arrays.push(
            s.array
                .downsample(f, f, DownsampleMode::Stride)
                .and_then(|a| a.rechunk(requested))
                .map_err(err)?,
        );
    }
    // Chunks are clamped to each dataset's shape (what the engine tiles with). The shard of
    // dataset 0 is the requested one, or, where it covers the whole axis, the axis rounded up
    // to whole chunks (the spec checked that a shard smaller than the axis holds whole
    // chunks); a pyramid's other datasets keep the same number of chunks per shard
    // (ZarrPyramid's rule).
    let mut datasets = Vec::with_capacity(arrays.len());
    let mut per_shard: Option<[usize; 3]> = None;
    for array in arrays {
        let plan0 = array.optimize().map_err(err)?;
        let shape = plan0.shape();
        let chunks = plan0.chunks;
        let unit = match (z.shards, per_shard) {
            (None, _) => chunks,
            (Some(_), Some(n)) => [0, 1, 2].map(|k| n[k] * chunks[k]),
            (Some(s0), None) => {
                let shard = [0, 1, 2].map(|k| {
                    let whole = usize::try_from(shape[k])
                        .unwrap_or(usize::MAX)
                        .div_ceil(chunks[k])
                        .saturating_mul(chunks[k]);
                    if s0[k] as u64 >= shape[k] {
                        whole
                    } else {
                        s0[k]
                    }
                });
                per_shard = Some([0, 1, 2].map(|k| shard[k] / chunks[k]));
                shard
            }
        };
        let desc = ArrayDescription::from_plan(&plan0);
        let plan = array
            .rechunk(unit)
            .and_then(|a| a.optimize())
            .map_err(err)?;
        datasets.push(Dataset {
            array,
            plan,
            desc,
            unit,
        });
    }
    let shard = z.shards.map(|_| datasets[0].unit);
    Ok(Job::Zarr {
        sink: index,
        datasets,
        shard,
    })
}

/// Groups the spec's sinks into render jobs (frame sinks with equal plans share one).
pub fn jobs(spec: &Spec) -> Result<Vec<Job>, RunError> {
    let mut jobs = Vec::new();
    let mut frame_groups: HashMap<FrameKey, usize> = HashMap::new();
    for (i, s) in spec.sinks.iter().enumerate() {
        match &s.kind {
            SinkKind::Zarr(z) => jobs.push(zarr_job(i, s, z, s.chunks)?),
            _ => {
                let key = FrameKey {
                    levels: s.plan.levels,
                    rows: s.plan.rows,
                    cols: s.plan.cols,
                };
                match frame_groups.get(&key) {
                    Some(&j) => {
                        if let Job::Frames { sinks, .. } = &mut jobs[j] {
                            sinks.push(i);
                        }
                    }
                    None => {
                        frame_groups.insert(key, jobs.len());
                        jobs.push(Job::Frames {
                            plan: s.plan.clone(),
                            sinks: vec![i],
                        });
                    }
                }
            }
        }
    }
    Ok(jobs)
}

/// Resolves a sink path against the output directory.
pub fn resolve(out_dir: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() || out_dir == Path::new(".") || out_dir.as_os_str().is_empty() {
        p.to_path_buf()
    } else {
        out_dir.join(p)
    }
}

fn tuple(v: &[u64]) -> String {
    let parts: Vec<String> = v.iter().map(u64::to_string).collect();
    format!("({})", parts.join(", "))
}

/// `zoomstack describe`: the stack, each sink's plan before and after optimization and its
/// dask-style table, and how sinks share renders. Renders nothing.
pub fn describe(spec: &Spec, jobs: &[Job], out_dir: &Path) -> String {
    let mut s = String::new();
    let p = &spec.stack.params;
    let _ = writeln!(
        s,
        "Stack: {} levels of {} x {} (height x width), center [{}, {}], scale0 {}, zoom_per_level {}, max_iter {}",
        spec.stack.levels,
        p.height,
        p.width,
        p.center_re,
        p.center_im,
        p.scale0,
        p.zoom_per_level,
        p.max_iter
    );
    let whole = spec.stack.array().describe();
    let _ = writeln!(
        s,
        "       {} uint16 in all, {} pixels\n",
        zoomstack_engine::format_bytes(whole.bytes),
        whole.stack_pixels
    );
    for sink in &spec.sinks {
        let _ = writeln!(
            s,
            "== {}: {}",
            sink.label(),
            resolve(out_dir, &sink.path).display()
        );
        let _ = writeln!(s, "select {}", sink.select);
        s.push_str(&sink.array.explain());
        let _ = writeln!(s, "{}", sink.array.describe());
        if let SinkKind::Zarr(z) = &sink.kind
            && let Some(Job::Zarr {
                datasets, shard, ..
            }) = jobs
                .iter()
                .find(|j| matches!(j, Job::Zarr { sink: i, .. } if *i == sink.index))
        {
            for (k, d) in datasets.iter().enumerate() {
                let unit = d.unit.map(|c| c as u64);
                let name = if z.ome {
                    format!("dataset {k}")
                } else {
                    "array".to_string()
                };
                let _ = writeln!(
                    s,
                    "{name}: shape {}, chunks {}, {} {}, {} write units, select {}{}",
                    tuple(&d.desc.shape),
                    tuple(&d.desc.chunks.map(|c| c as u64)),
                    if shard.is_some() { "shards" } else { "unit" },
                    tuple(&unit),
                    d.plan.num_tiles(),
                    d.desc.select,
                    d.desc
                        .mean
                        .map(|m| format!(", mean {m:?}"))
                        .unwrap_or_default()
                );
            }
            let codec = match z.compression {
                zoomstack_sinks::Compression::None => "none".to_string(),
                zoomstack_sinks::Compression::Zstd { level } => format!("zstd level {level}"),
                #[allow(unreachable_patterns)]
                other => format!("{other:?}"),
            };
            let _ = writeln!(
                s,
                "compression {codec}, {}",
                if z.ome {
                    format!(
                        "OME-Zarr 0.5 group with {} dataset(s)",
                        1 + z.pyramid_levels
                    )
                } else {
                    "single array".to_string()
                }
            );
        }
        s.push('\n');
    }
    let _ = writeln!(s, "Render jobs:");
    let mut total = 0u64;
    for (n, job) in jobs.iter().enumerate() {
        match job {
            Job::Frames { plan, sinks } => {
                total = total.saturating_add(plan.rendered_pixels());
                let names: Vec<String> = sinks.iter().map(|&i| spec.sinks[i].label()).collect();
                let _ = writeln!(
                    s,
                    "  {}. one frame stream of {} frames {} x {}, {} pixels rendered -> {}",
                    n + 1,
                    plan.shape()[0],
                    plan.shape()[1],
                    plan.shape()[2],
                    plan.rendered_pixels(),
                    names.join(", ")
                );
            }
            Job::Zarr { sink, datasets, .. } => {
                let px: u64 = datasets.iter().map(|d| d.plan.rendered_pixels()).sum();
                total = total.saturating_add(px);
                let units: u64 = datasets.iter().map(|d| d.plan.num_tiles()).sum();
                let _ = writeln!(
                    s,
                    "  {}. {} write units, {} pixels rendered -> {}",
                    n + 1,
                    units,
                    px,
                    spec.sinks[*sink].label()
                );
            }
        }
    }
    let _ = writeln!(s, "Total: {total} pixels rendered");
    s
}

/// What went wrong in a run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A sink failed (opening, writing or finishing). (The message includes the causes, so
    /// the error exposes no `source`: printing a chain would repeat them.)
    #[error("{sink}: {error}")]
    Sink {
        /// The sink's label.
        sink: String,
        /// The sink's error.
        error: SinkError,
    },
    /// The engine failed (planning, memory limit, kernel).
    #[error("{sink}: {error}")]
    Engine {
        /// The sink's label.
        sink: String,
        /// The engine's error.
        error: EngineError,
    },
    /// Stopped by the cancel flag (Ctrl-C).
    #[error("interrupted after {tiles_done} of {tiles_total} tiles of {sink}")]
    Cancelled {
        /// The sink (or sinks) being rendered.
        sink: String,
        /// Tiles done in that job.
        tiles_done: u64,
        /// Tiles in that job.
        tiles_total: u64,
    },
    /// A request that cannot be honoured (names the problem).
    #[error("{0}")]
    Usage(String),
}

impl RunError {
    /// `true` when the error is the user's to fix (exit code 2): bad parameters, paths that
    /// are not stores or not writable, stores written with other parameters, memory limits.
    pub fn is_user_error(&self) -> bool {
        match self {
            RunError::Usage(_) => true,
            RunError::Cancelled { .. } => false,
            RunError::Engine { error, .. } => engine_user_error(error),
            RunError::Sink { error, .. } => sink_user_error(error),
        }
    }
}

fn engine_user_error(e: &EngineError) -> bool {
    match e {
        EngineError::Sink(inner) => inner
            .downcast_ref::<SinkError>()
            .is_some_and(sink_user_error),
        EngineError::Cancelled { .. } | EngineError::ThreadPool { .. } => false,
        _ => true,
    }
}

fn sink_user_error(e: &SinkError) -> bool {
    use std::io::ErrorKind as K;
    if let SinkError::Io { source, .. } = e {
        // Paths the user chose that cannot hold the output.
        return matches!(
            source.kind(),
            K::NotFound
                | K::AlreadyExists
                | K::NotADirectory
                | K::IsADirectory
                | K::ReadOnlyFilesystem
                | K::InvalidFilename
                | K::InvalidInput
        );
    }
    matches!(
        e,
        SinkError::InvalidParameter { .. }
            | SinkError::UnknownColormap { .. }
            | SinkError::NotAZoomstackStore { .. }
            | SinkError::ParameterMismatch { .. }
            | SinkError::AlreadyExists { .. }
            | SinkError::PermissionDenied { .. }
    )
}

/// Receives progress of a run (the binary draws a progress bar).
pub trait Observer: Send + Sync {
    /// The run starts: `total` output pixels over all jobs.
    fn start(&self, _total: u64) {}
    /// A job starts (`what` names its sinks).
    fn job(&self, _what: &str) {}
    /// Output pixels finished so far over all jobs (rendered, or skipped as already written).
    fn advance(&self, _done: u64) {}
}

/// An observer that ignores everything.
pub struct Silent;
impl Observer for Silent {}

/// What one sink produced.
#[derive(Debug, Clone)]
pub struct SinkOutcome {
    /// The sink's label.
    pub sink: String,
    /// Files written (frame sinks) or the store directory (Zarr).
    pub paths: Vec<PathBuf>,
    /// Zarr: one report per dataset.
    pub zarr: Vec<ZarrReport>,
    /// `false` when this process skipped the sink (frame sinks in shares other than 0).
    pub ran: bool,
}

/// The outcome of a run.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    /// One entry per sink, in spec order.
    pub sinks: Vec<SinkOutcome>,
    /// Grid pixels rendered by this process.
    pub pixels_rendered: u64,
    /// Wall time in seconds.
    pub seconds: f64,
}

fn executor(opts: &RunOptions, observer: &Arc<dyn Observer>, offset: u64) -> Executor {
    let obs = observer.clone();
    Executor::new(opts.threads)
        .with_backend(opts.backend)
        .with_cancel(opts.cancel.clone())
        .with_progress(move |p: Progress| obs.advance(offset.saturating_add(p.pixels_done)))
}

/// Total output pixels of the jobs (for the progress bar).
pub fn total_pixels(jobs: &[Job]) -> u64 {
    jobs.iter()
        .map(|j| match j {
            Job::Frames { plan, .. } => plan.len(),
            Job::Zarr { datasets, .. } => datasets.iter().map(|d| d.plan.len()).sum(),
        })
        .fold(0u64, u64::saturating_add)
}

/// Opens (creating, or checking for resume) the stores of the Zarr jobs without writing any
/// chunk: `zoomstack init`. Returns each store's directory.
pub fn init(spec: &Spec, jobs: &[Job], opts: &RunOptions) -> Result<Vec<PathBuf>, RunError> {
    let mut out = Vec::new();
    for job in jobs {
        if let Job::Zarr {
            sink,
            datasets,
            shard,
        } = job
        {
            let s = &spec.sinks[*sink];
            let store = open_store(s, datasets, *shard, opts, false)?;
            out.push(store.dir().to_path_buf());
        }
    }
    Ok(out)
}

enum Store {
    Single(Box<ZarrSink>),
    Pyramid(ZarrPyramid),
}

impl Store {
    fn dir(&self) -> &Path {
        match self {
            Store::Single(s) => s.array_dir(),
            Store::Pyramid(p) => p.group_dir(),
        }
    }

    fn level(&self, k: usize) -> &ZarrSink {
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

fn zarr_spec(s: &SinkSpec) -> &ZarrSpec {
    match &s.kind {
        SinkKind::Zarr(z) => z,
        _ => unreachable!("zarr jobs are built from zarr sinks"),
    }
}

fn open_store(
    s: &SinkSpec,
    datasets: &[Dataset],
    shard: Option<[usize; 3]>,
    opts: &RunOptions,
    must_exist: bool,
) -> Result<Store, RunError> {
    let z = zarr_spec(s);
    let path = resolve(&opts.out_dir, &s.path);
    let label = s.label();
    let sink_err = |e: SinkError| RunError::Sink {
        sink: label.clone(),
        error: e,
    };
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
        shard,
        if_exists: z.if_exists,
    };
    if z.ome {
        let descs = datasets.iter().map(|d| d.desc.clone()).collect();
        ZarrPyramid::open(&path, descs, options)
            .map(Store::Pyramid)
            .map_err(sink_err)
    } else {
        ZarrSink::open(&path, datasets[0].desc.clone(), options)
            .map(|s| Store::Single(Box::new(s)))
            .map_err(sink_err)
    }
}

fn engine_error(label: &str, e: EngineError) -> RunError {
    match e {
        EngineError::Cancelled {
            tiles_done,
            tiles_total,
        } => RunError::Cancelled {
            sink: label.to_string(),
            tiles_done,
            tiles_total,
        },
        EngineError::Sink(inner) => match inner.downcast::<SinkError>() {
            Ok(se) => RunError::Sink {
                sink: label.to_string(),
                error: *se,
            },
            Err(other) => RunError::Engine {
                sink: label.to_string(),
                error: EngineError::Sink(other),
            },
        },
        other => RunError::Engine {
            sink: label.to_string(),
            error: other,
        },
    }
}

/// Runs every job. Frame sinks run only in share 0 when the work is split (`--count > 1`).
pub fn run(
    spec: &Spec,
    jobs: &[Job],
    opts: &RunOptions,
    observer: &Arc<dyn Observer>,
) -> Result<RunReport, RunError> {
    let t0 = Instant::now();
    if opts.share.count == 0 || opts.share.index >= opts.share.count {
        return Err(RunError::Usage(format!(
            "share index {} must be below the share count {}",
            opts.share.index, opts.share.count
        )));
    }
    let split = opts.share.count > 1;
    observer.start(total_pixels(jobs));
    let base = AtomicU64::new(0);
    let rendered = AtomicU64::new(0);
    let mut outcomes: Vec<Option<SinkOutcome>> = vec![None; spec.sinks.len()];
    for job in jobs {
        match job {
            Job::Frames { plan, sinks } => {
                let labels: Vec<String> = sinks.iter().map(|&i| spec.sinks[i].label()).collect();
                let label = labels.join(", ");
                let short: Vec<String> =
                    sinks.iter().map(|&i| spec.sinks[i].short_label()).collect();
                if split && opts.share.index != 0 {
                    for &i in sinks {
                        outcomes[i] = Some(SinkOutcome {
                            sink: spec.sinks[i].label(),
                            paths: vec![],
                            zarr: vec![],
                            ran: false,
                        });
                    }
                    base.fetch_add(plan.len(), Ordering::Relaxed);
                    observer.advance(base.load(Ordering::Relaxed));
                    continue;
                }
                observer.job(&short.join(", "));
                let paths = run_frames(spec, plan, sinks, opts, observer, &base, &rendered)
                    .map_err(|e| match e {
                        FrameError::Engine(e) => engine_error(&label, e),
                        FrameError::Sink(i, e) => RunError::Sink {
                            sink: spec.sinks[i].label(),
                            error: e,
                        },
                    })?;
                for (&i, p) in sinks.iter().zip(paths) {
                    outcomes[i] = Some(SinkOutcome {
                        sink: spec.sinks[i].label(),
                        paths: p,
                        zarr: vec![],
                        ran: true,
                    });
                }
            }
            Job::Zarr {
                sink,
                datasets,
                shard,
            } => {
                let s = &spec.sinks[*sink];
                let label = s.label();
                observer.job(&s.short_label());
                let store = open_store(s, datasets, *shard, opts, split)?;
                for (k, d) in datasets.iter().enumerate() {
                    let level = store.level(k);
                    // Tile by the store's own write unit, so each tile is one stored object.
                    let plan = if level.write_unit() == d.plan.chunks {
                        d.plan.clone()
                    } else {
                        d.array
                            .rechunk(level.write_unit())
                            .and_then(|a| a.optimize())
                            .map_err(|e| RunError::Engine {
                                sink: label.clone(),
                                error: e,
                            })?
                    };
                    let grid = plan.chunk_grid();
                    let share = opts.share;
                    tracing::info!(
                        sink = %label,
                        dataset = k,
                        shape = ?plan.shape(),
                        write_unit = ?plan.chunks,
                        units = plan.num_tiles(),
                        already_done = level.progress().units_done,
                        share = ?share,
                        "zarr dataset"
                    );
                    let exec = executor(opts, observer, base.load(Ordering::Relaxed));
                    let result = exec.for_each_tile(
                        &plan,
                        |t| {
                            let lin = (t.index[0] * grid[1] + t.index[1]) * grid[2] + t.index[2];
                            share.owns(lin) && level.needs_tile(t.origin, t.shape)
                        },
                        |tile| level.write_tile(tile.spec.origin, tile.spec.shape, &tile.data),
                    );
                    match result {
                        Ok(p) => {
                            rendered.fetch_add(p.pixels_rendered, Ordering::Relaxed);
                            base.fetch_add(d.plan.len(), Ordering::Relaxed);
                        }
                        Err(e) => {
                            // Record what is done (markers are already on disk) before stopping.
                            let _ = store.finish();
                            return Err(engine_error(&label, e));
                        }
                    }
                }
                let dir = store.dir().to_path_buf();
                let reports = store.finish().map_err(|e| RunError::Sink {
                    sink: label.clone(),
                    error: e,
                })?;
                outcomes[*sink] = Some(SinkOutcome {
                    sink: label,
                    paths: vec![dir],
                    zarr: reports,
                    ran: true,
                });
            }
        }
    }
    Ok(RunReport {
        sinks: outcomes.into_iter().flatten().collect(),
        pixels_rendered: rendered.load(Ordering::Relaxed),
        seconds: t0.elapsed().as_secs_f64(),
    })
}

enum FrameError {
    Engine(EngineError),
    Sink(usize, SinkError),
}

fn open_frame_sink(
    spec: &Spec,
    s: &SinkSpec,
    plan: &RenderPlan,
    opts: &RunOptions,
) -> Result<Box<dyn FrameSink + Send>, SinkError> {
    let path = resolve(&opts.out_dir, &s.path);
    let [n, h, w] = plan.shape();
    let levels = spec.stack.levels;
    Ok(match &s.kind {
        SinkKind::Png {
            colormap,
            scaling,
            compression,
        } => Box::new(PngFrameWriter::new(
            path,
            PngFrameOptions {
                kind: PngKind::Preview {
                    colormap: *colormap,
                    scaling: *scaling,
                },
                naming: FrameNaming::for_stack(levels),
                compression: *compression,
            },
        )?),
        SinkKind::Png16 { compression } => Box::new(PngFrameWriter::new(
            path,
            PngFrameOptions {
                compression: *compression,
                ..PngFrameOptions::counts16(levels)
            },
        )?),
        SinkKind::Animation { format, options } => match format {
            AnimationFormat::Gif => {
                Box::new(GifWriter::create(path, w as usize, h as usize, *options)?)
            }
            AnimationFormat::Apng => Box::new(ApngWriter::create(
                path, w as usize, h as usize, n, *options,
            )?),
        },
        SinkKind::ContactSheet(o) => Box::new(ContactSheet::new(path, *o)?),
        SinkKind::Zarr(_) => unreachable!("zarr sinks are not frame sinks"),
    })
}

/// A message to a frame sink's thread.
enum FrameMsg {
    Frame(u64, Arc<ndarray::Array2<u16>>),
    Finish,
}

/// Renders `plan` once and feeds every frame to each sink. With several sinks, each sink
/// encodes on its own thread (fed through a bounded channel, in level order), so PNG, GIF and
/// contact-sheet encoding overlap with each other and with rendering. A sink is finished (its
/// file moved into place) only after every frame arrived; on an error or Ctrl-C the writers are
/// dropped, which removes their temporary files.
fn run_frames(
    spec: &Spec,
    plan: &RenderPlan,
    sinks: &[usize],
    opts: &RunOptions,
    observer: &Arc<dyn Observer>,
    base: &AtomicU64,
    rendered: &AtomicU64,
) -> Result<Vec<Vec<PathBuf>>, FrameError> {
    let mut writers = Vec::with_capacity(sinks.len());
    for &i in sinks {
        writers.push(
            open_frame_sink(spec, &spec.sinks[i], plan, opts)
                .map_err(|e| FrameError::Sink(i, e))?,
        );
    }
    tracing::info!(
        frames = plan.shape()[0],
        height = plan.shape()[1],
        width = plan.shape()[2],
        tiles = plan.num_tiles(),
        sinks = writers.len(),
        "frame stream"
    );
    let exec = executor(opts, observer, base.load(Ordering::Relaxed));
    let (result, outcomes) = if writers.len() == 1 {
        let mut failed: Option<SinkError> = None;
        let mut w = writers.pop().expect("one writer");
        let result = exec.for_each_frame(plan, |_, level, frame| {
            w.write_frame(level, frame).map_err(|e| {
                let msg = e.to_string();
                failed = Some(e);
                msg
            })
        });
        let outcome = match (&result, failed) {
            (_, Some(e)) => Err(e),
            (Ok(_), None) => w.finish(),
            (Err(_), None) => Ok(vec![]),
        };
        (result, vec![outcome])
    } else {
        std::thread::scope(|scope| {
            let mut senders = Vec::with_capacity(writers.len());
            let mut handles = Vec::with_capacity(writers.len());
            for mut w in writers {
                let (tx, rx) = std::sync::mpsc::sync_channel::<FrameMsg>(8);
                senders.push(tx);
                handles.push(scope.spawn(move || -> Result<Vec<PathBuf>, SinkError> {
                    for msg in rx {
                        match msg {
                            FrameMsg::Frame(level, frame) => w.write_frame(level, frame.view())?,
                            FrameMsg::Finish => return w.finish(),
                        }
                    }
                    // The stream stopped early: drop the writer (no output claims completeness).
                    Ok(vec![])
                }));
            }
            let result = exec.for_each_frame(plan, |_, level, frame| {
                let frame = Arc::new(frame.to_owned());
                for tx in &senders {
                    tx.send(FrameMsg::Frame(level, frame.clone()))
                        .map_err(|_| "a frame sink stopped")?;
                }
                Ok::<(), &str>(())
            });
            if result.is_ok() {
                for tx in &senders {
                    let _ = tx.send(FrameMsg::Finish);
                }
            }
            drop(senders);
            let outcomes: Vec<Result<Vec<PathBuf>, SinkError>> = handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect();
            (result, outcomes)
        })
    };
    // A sink's own error explains a stopped stream better than the executor's.
    let mut out = Vec::with_capacity(outcomes.len());
    for (o, &i) in outcomes.into_iter().zip(sinks) {
        match o {
            Ok(paths) => out.push(paths),
            Err(e) => return Err(FrameError::Sink(i, e)),
        }
    }
    match result {
        Ok(p) => {
            rendered.fetch_add(p.pixels_rendered, Ordering::Relaxed);
            base.fetch_add(plan.len(), Ordering::Relaxed);
            Ok(out)
        }
        Err(e) => Err(FrameError::Engine(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::parse_str;

    #[test]
    fn preview_sinks_share_one_render() {
        let spec = parse_str("preview", crate::PREVIEW_SPEC).unwrap();
        let jobs = jobs(&spec).unwrap();
        assert_eq!(jobs.len(), 1);
        assert!(
            matches!(&jobs[0], Job::Frames { sinks, plan } if sinks == &[0, 1, 2] && plan.shape() == [40, 256, 256])
        );
        let text = describe(&spec, &jobs, Path::new("out"));
        assert!(
            text.contains("one frame stream of 40 frames 256 x 256"),
            "{text}"
        );
        assert!(text.contains("Total: 2621440 pixels rendered"), "{text}");
    }

    #[test]
    fn different_selections_and_zarr_render_separately() {
        let spec = parse_str(
            "t",
            r#"
            [stack]
            levels = 100
            height = 64
            width = 64
            [[sink]]
            kind = "png"
            select = "[::10]"
            [[sink]]
            kind = "png16"
            select = "[0:100:10, :, :]"
            chunks = [2, 32, 32]
            [[sink]]
            kind = "contact-sheet"
            select = "[::10, ::2]"
            [[sink]]
            kind = "zarr"
            select = "[::10]"
            shards = [4, 64, 64]
            "#,
        )
        .unwrap();
        let jobs = jobs(&spec).unwrap();
        // png and png16 select the same pixels (chunks do not matter for frames).
        assert_eq!(jobs.len(), 3);
        assert!(matches!(&jobs[0], Job::Frames { sinks, .. } if sinks == &[0, 1]));
        assert!(matches!(&jobs[1], Job::Frames { sinks, .. } if sinks == &[2]));
        match &jobs[2] {
            Job::Zarr {
                datasets, shard, ..
            } => {
                assert_eq!(*shard, Some([4, 64, 64]));
                assert_eq!(datasets[0].plan.chunks, [4, 64, 64]);
                assert_eq!(datasets[0].desc.chunks, [1, 64, 64]);
                assert_eq!(datasets[0].plan.num_tiles(), 3);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            total_pixels(&jobs),
            10 * 64 * 64 + 10 * 32 * 64 + 10 * 64 * 64
        );
    }

    #[test]
    fn shares_partition_the_units() {
        let shares: Vec<Share> = (0..3).map(|index| Share { index, count: 3 }).collect();
        for k in 0..100 {
            assert_eq!(shares.iter().filter(|s| s.owns(k)).count(), 1);
        }
        assert!((0..10).all(|k| Share::ALL.owns(k)));
    }
}
