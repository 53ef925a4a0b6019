//! The one run path: [`Pipeline`] runs a whole spec (all sinks, shared renders, a share of a job
//! array, progress, cancel). The CLI, the tests, the examples and the benches all call it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use zoomstack_engine::{DEFAULT_MEMORY_LIMIT, Executor, Progress};
use zoomstack_kernel::Backend;
use zoomstack_sinks::ZarrReport;

use crate::error::RunError;
use crate::frames::run_frames;
use crate::jobs::{Job, jobs};
use crate::preflight::Limits;
use crate::spec::{FrameKind, SinkKind, Spec};
use crate::store::{constant_units, init_store, run_zarr};

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
    #[must_use]
    pub fn owns(&self, k: u64) -> bool {
        k % self.count == self.index
    }

    /// Number of units `k` in `units` that are this share's.
    #[must_use]
    pub fn owned_in(&self, units: std::ops::Range<u64>) -> u64 {
        // Units k < n with k % count == index.
        let below = |n: u64| {
            if self.index >= n {
                0
            } else {
                (n - self.index).div_ceil(self.count)
            }
        };
        below(units.end).saturating_sub(below(units.start))
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
    /// Re-read every written unit of an existing store (length, checksum, decoding) and
    /// render the damaged ones again; without it a resume checks lengths only.
    pub verify: bool,
    /// Refuse a run that would write more than this ([`Pipeline::estimate`]); `None` (the
    /// default for library callers) writes whatever the spec asks. The CLI sets it unless
    /// `--yes` is given.
    pub guard: Option<Limits>,
    /// Largest total of buffers in flight ([`Executor::memory_limit`]), in bytes: a job whose
    /// tiles (one per thread) need more is refused before anything is created. Default
    /// [`DEFAULT_MEMORY_LIMIT`] (4 GiB); the CLI's `--memory-limit`.
    pub memory_limit: u64,
}

impl Default for RunOptions {
    /// All cores, the fastest backend, the current directory, the whole job, no guard, the
    /// executor's default memory limit.
    fn default() -> Self {
        RunOptions {
            threads: 0,
            backend: Backend::fastest(),
            out_dir: PathBuf::from("."),
            share: Share::ALL,
            cancel: Arc::default(),
            verify: false,
            guard: None,
            memory_limit: DEFAULT_MEMORY_LIMIT,
        }
    }
}

/// Receives progress of a run (the binary draws a progress bar).
pub trait Observer: Send + Sync {
    /// The run starts: `total` output pixels over all jobs.
    fn start(&self, _total: u64) {}
    /// A job starts (`what` names its sinks).
    fn job(&self, _what: &str) {}
    /// Output pixels finished so far over all jobs (rendered, or skipped as already written).
    fn advance(&self, _done: u64) {}
    /// Zarr write units proven constant that the current job stores without rendering: `stored`
    /// of the job's `total` so far (already stored ones included). Their pixels are not part of
    /// the pixel progress ([`Observer::start`], [`Observer::advance`]).
    fn constant_units(&self, _stored: u64, _total: u64) {}
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

/// Resolves a sink path against the output directory (`-`, standard output, stays `-`).
#[must_use]
pub fn resolve(out_dir: &Path, p: &Path) -> PathBuf {
    if p.is_absolute()
        || zoomstack_sinks::is_stdout(p)
        || out_dir == Path::new(".")
        || out_dir.as_os_str().is_empty()
    {
        p.to_path_buf()
    } else {
        out_dir.join(p)
    }
}

/// Progress over the jobs of a run (output pixels of finished jobs, pixels rendered) and the
/// run's executor: one worker pool for every job of the run.
pub(crate) struct Counters {
    observer: Arc<dyn Observer>,
    executor: Executor,
    base: AtomicU64,
    rendered: AtomicU64,
}

impl Counters {
    fn new(opts: &RunOptions, observer: &Arc<dyn Observer>) -> Self {
        Counters {
            observer: observer.clone(),
            executor: Executor::new(opts.threads)
                .with_backend(opts.backend)
                .with_cancel(opts.cancel.clone())
                .with_memory_limit(opts.memory_limit),
            base: AtomicU64::new(0),
            rendered: AtomicU64::new(0),
        }
    }

    /// The run's executor for the next job (its clones share the pool), reporting progress on
    /// top of the finished jobs.
    pub(crate) fn executor(&self) -> Executor {
        let obs = self.observer.clone();
        let offset = self.base.load(Ordering::Relaxed);
        self.executor
            .clone()
            .with_progress(move |p: Progress| obs.advance(offset.saturating_add(p.pixels_done)))
    }

    /// The run's executor for a job that reports its own progress ([`Counters::job`]).
    pub(crate) fn executor_of_job(&self) -> Executor {
        self.executor.clone()
    }

    /// The progress of the next job, counted by the job itself on top of the finished jobs.
    pub(crate) fn job(&self) -> JobProgress<'_> {
        JobProgress {
            counters: self,
            offset: self.base.load(Ordering::Relaxed),
            done: AtomicU64::new(0),
        }
    }

    /// See [`Observer::constant_units`].
    pub(crate) fn constant_units(&self, stored: u64, total: u64) {
        self.observer.constant_units(stored, total);
    }

    /// A job of `pixels` output pixels is done, `rendered` grid pixels rendered by it.
    pub(crate) fn finished(&self, pixels: u64, rendered: u64) {
        self.rendered.fetch_add(rendered, Ordering::Relaxed);
        let done = self.base.fetch_add(pixels, Ordering::Relaxed) + pixels;
        self.observer.advance(done);
    }
}

/// The pixel progress of one job, reported on top of the jobs finished before it.
pub(crate) struct JobProgress<'a> {
    counters: &'a Counters,
    offset: u64,
    done: AtomicU64,
}

impl JobProgress<'_> {
    /// `pixels` more output pixels of the job are done.
    pub(crate) fn advance(&self, pixels: u64) {
        let done = self.done.fetch_add(pixels, Ordering::Relaxed) + pixels;
        self.counters
            .observer
            .advance(self.offset.saturating_add(done));
    }
}

/// A spec ready to run: its render jobs (which sinks share a render, how stores are tiled).
///
/// ```
/// use zoomstack_pipeline::{Pipeline, RunOptions, Silent, spec::parse_str};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let spec = parse_str("t.toml", r#"
///     [stack]
///     levels = 100
///     height = 32
///     width = 32
///     [[sink]]
///     kind = "zarr"
///     path = "s.zarr"
///     select = "[::10]"
///     shards = [4, 32, 32]
///     [[sink]]
///     kind = "png"
///     select = "[::50]"
/// "#)?;
/// let opts = RunOptions { out_dir: dir.path().to_path_buf(), ..RunOptions::default() };
/// let silent: std::sync::Arc<dyn zoomstack_pipeline::Observer> = std::sync::Arc::new(Silent);
/// let report = Pipeline::new(spec)?.run(&opts, &silent)?;
/// assert!(report.sinks[0].zarr[0].complete);
/// assert_eq!(report.sinks[1].paths.len(), 2);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Pipeline {
    spec: Spec,
    jobs: Vec<Job>,
}

impl Pipeline {
    /// Plans the jobs of `spec`.
    ///
    /// # Errors
    ///
    /// [`RunError::Engine`] when a store layout or pyramid level cannot be planned.
    pub fn new(spec: Spec) -> Result<Pipeline, RunError> {
        let jobs = jobs(&spec)?;
        Ok(Pipeline { spec, jobs })
    }

    /// The spec.
    #[must_use]
    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    /// The render jobs, in spec order of their first sink.
    #[must_use]
    pub fn jobs(&self) -> &[Job] {
        &self.jobs
    }

    /// Total output pixels of the jobs that the progress counts ([`Observer::start`]): every
    /// pixel, less those of Zarr write units proven constant, which are stored without
    /// rendering and reported apart ([`Observer::constant_units`]).
    #[must_use]
    pub fn total_pixels(&self) -> u64 {
        self.jobs
            .iter()
            .map(|j| {
                let constant = match j {
                    Job::Frames(_) => 0,
                    Job::Zarr(z) => z
                        .datasets
                        .iter()
                        .filter_map(constant_units)
                        .map(|c| c.len())
                        .fold(0u64, u64::saturating_add),
                };
                j.pixels().saturating_sub(constant)
            })
            .fold(0u64, u64::saturating_add)
    }

    /// Opens (creating, or checking for resume) the stores of the Zarr jobs without writing any
    /// chunk: `zoomstack init`, after the checks of [`Pipeline::preflight`]. Returns each
    /// store's directory.
    ///
    /// # Errors
    ///
    /// The errors of [`Pipeline::preflight`]; a store that cannot be created or resumed with
    /// these parameters.
    pub fn init(&self, opts: &RunOptions) -> Result<Vec<PathBuf>, RunError> {
        // A store for a run that would be refused is not created either.
        self.preflight(opts)?;
        let mut out = Vec::new();
        for job in &self.jobs {
            if let Job::Zarr(z) = job {
                out.push(init_store(z, opts)?);
            }
        }
        Ok(out)
    }

    /// Runs every job. Frame sinks run only in share 0 when the work is split (`--count > 1`).
    ///
    /// # Errors
    ///
    /// The first sink or engine error, [`RunError::Cancelled`] when the cancel flag was raised
    /// (a Zarr store is then left resumable), [`RunError::Usage`] for an invalid share or a
    /// spec without sinks.
    pub fn run(
        &self,
        opts: &RunOptions,
        observer: &Arc<dyn Observer>,
    ) -> Result<RunReport, RunError> {
        let t0 = Instant::now();
        self.preflight(opts)?;
        observer.start(self.total_pixels());
        let counters = Counters::new(opts, observer);
        let mut outcomes: Vec<Option<SinkOutcome>> = vec![None; self.spec.sinks.len()];
        match self.run_jobs(opts, observer, &counters, &mut outcomes) {
            Ok(()) => {}
            Err(RunError::Cancelled {
                sink,
                tiles_done,
                tiles_total,
                tiles_constant,
                ..
            }) => {
                return Err(RunError::Cancelled {
                    sink,
                    tiles_done,
                    tiles_total,
                    tiles_constant,
                    kept: kept_notes(&self.spec, opts, &outcomes),
                });
            }
            Err(e) => return Err(e),
        }
        Ok(RunReport {
            sinks: outcomes.into_iter().flatten().collect(),
            pixels_rendered: counters.rendered.load(Ordering::Relaxed),
            seconds: t0.elapsed().as_secs_f64(),
        })
    }

    /// The jobs of [`Pipeline::run`], in order, each finished sink's outcome in `outcomes`.
    fn run_jobs(
        &self,
        opts: &RunOptions,
        observer: &Arc<dyn Observer>,
        counters: &Counters,
        outcomes: &mut [Option<SinkOutcome>],
    ) -> Result<(), RunError> {
        let split = opts.share.count > 1;
        for job in &self.jobs {
            match job {
                Job::Frames(f) => {
                    if split && opts.share.index != 0 {
                        for t in &f.sinks {
                            outcomes[t.who.index] = Some(SinkOutcome {
                                sink: t.who.label.clone(),
                                paths: vec![],
                                zarr: vec![],
                                ran: false,
                            });
                        }
                        counters.finished(f.plan.len(), 0);
                        continue;
                    }
                    let short: Vec<&str> = f.sinks.iter().map(|t| t.who.short.as_str()).collect();
                    observer.job(&short.join(", "));
                    let paths = run_frames(f, self.spec.stack.levels, opts, counters)?;
                    for (t, p) in f.sinks.iter().zip(paths) {
                        outcomes[t.who.index] = Some(SinkOutcome {
                            sink: t.who.label.clone(),
                            paths: p,
                            zarr: vec![],
                            ran: true,
                        });
                    }
                }
                Job::Zarr(z) => {
                    observer.job(&z.who.short);
                    let (dir, reports) = run_zarr(z, opts, counters)?;
                    outcomes[z.who.index] = Some(SinkOutcome {
                        sink: z.who.label.clone(),
                        paths: vec![dir],
                        zarr: reports,
                        ran: true,
                    });
                }
            }
        }
        Ok(())
    }
}

/// What each sink keeps after an interrupted run (`outcomes`: the sinks that finished).
fn kept_notes(spec: &Spec, opts: &RunOptions, outcomes: &[Option<SinkOutcome>]) -> Vec<String> {
    spec.sinks
        .iter()
        .zip(outcomes)
        .map(|(s, o)| {
            let path = resolve(&opts.out_dir, &s.path);
            let shown = path.display();
            let what = match (o, &s.kind) {
                (Some(o), _) if !o.ran => "skipped (frame sinks run in share 0)".to_string(),
                (Some(_), _) => format!("complete ({shown})"),
                (None, SinkKind::Zarr(_)) => format!(
                    "{shown}: every finished write unit is kept; run the same command again to resume"
                ),
                (None, SinkKind::Frames(FrameKind::Png { .. } | FrameKind::Png16 { .. })) => {
                    format!(
                        "the frames written so far in {shown} are kept but not resumed: a rerun renders and writes every frame again"
                    )
                }
                (None, SinkKind::Frames(_)) if zoomstack_sinks::is_stdout(&path) => {
                    "what went to standard output is incomplete".to_string()
                }
                (None, SinkKind::Frames(_)) => format!(
                    "{shown} was not written: nothing of it is kept (a file already there is untouched)"
                ),
            };
            format!("{}: {what}", s.label())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::parse_str;

    #[test]
    fn preview_sinks_share_one_render() {
        let spec = parse_str("preview", crate::PREVIEW_SPEC).unwrap();
        let p = Pipeline::new(spec).unwrap();
        assert_eq!(p.jobs().len(), 1);
        match &p.jobs()[0] {
            Job::Frames(f) => {
                let idx: Vec<usize> = f.sinks.iter().map(|t| t.who.index).collect();
                assert_eq!(idx, [0, 1, 2]);
                assert_eq!(f.plan.shape(), [40, 256, 256]);
            }
            Job::Zarr(_) => panic!("frames expected"),
        }
        let text = p.describe(Path::new("out"));
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
        let p = Pipeline::new(spec).unwrap();
        let jobs = p.jobs();
        let frame_sinks = |j: &Job| match j {
            Job::Frames(f) => f.sinks.iter().map(|t| t.who.index).collect::<Vec<_>>(),
            Job::Zarr(_) => vec![],
        };
        // png and png16 select the same pixels (chunks do not matter for frames).
        assert_eq!(jobs.len(), 3);
        assert_eq!(frame_sinks(&jobs[0]), [0, 1]);
        assert_eq!(frame_sinks(&jobs[1]), [2]);
        match &jobs[2] {
            Job::Zarr(z) => {
                let d = &z.datasets[0];
                assert_eq!(d.desc.layout.shard(), Some([4, 64, 64]));
                assert_eq!(d.plan.chunks(), [4, 64, 64]);
                assert_eq!(d.desc.chunks(), [1, 64, 64]);
                assert_eq!(d.plan.num_tiles(), 3);
            }
            Job::Frames(_) => panic!("zarr expected"),
        }
        assert_eq!(p.total_pixels(), 10 * 64 * 64 + 10 * 32 * 64 + 10 * 64 * 64);
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
