//! The streaming parallel executor: renders a [`RenderPlan`]'s tiles on a rayon pool and hands
//! each one to a consumer as soon as it is done.
//!
//! Workers claim tile numbers from a shared counter (C order), render the tile, and call the
//! consumer themselves, so at most `threads` tiles are in flight in [`Executor::for_each_tile`],
//! whatever the size of the plan. Tiles are rendered independently of each other and of the
//! thread that renders them, so their contents are identical for any thread count; only the
//! order in which the consumer sees them varies. [`Executor::for_each_frame`] reorders whole
//! frames, holding a small window of level-chunks.

mod frames;
mod run;

use crate::describe::format_bytes;
use crate::error::{EngineError, ExecError, Result};
use crate::plan::{RenderPlan, TileSpec};
use crate::sample::Sample;
use ndarray::{Array3, s};
use run::Run;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use zoomstack_kernel::Backend;

/// Default memory limit of [`Executor::compute`] and of buffers in flight: 4 GiB.
pub const DEFAULT_MEMORY_LIMIT: u64 = 4 << 30;

/// A rendered tile: `spec.shape` values (counts unless asked otherwise), row-major
/// `(level, y, x)` within the tile.
#[derive(Debug, Clone, PartialEq)]
pub struct Tile<T = u16> {
    /// Where the tile sits in the output.
    pub spec: TileSpec,
    /// The values.
    pub data: Vec<T>,
}

impl<T> Tile<T> {
    /// The data as a 3-D view of shape `spec.shape`.
    ///
    /// # Panics
    ///
    /// If `data.len()` is not the product of `spec.shape` (never for tiles the executor made).
    pub fn view(&self) -> ndarray::ArrayView3<'_, T> {
        ndarray::ArrayView3::from_shape(self.spec.shape, &self.data)
            .expect("tile data has the tile's shape")
    }
}

/// A snapshot of an execution's progress, passed to the progress callback after every tile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    /// Tiles finished: rendered and accepted by the consumer, or skipped by the filter.
    pub tiles_done: u64,
    /// Of those, tiles skipped by the filter.
    pub tiles_skipped: u64,
    /// Tiles in the plan.
    pub tiles_total: u64,
    /// Output pixels finished (including skipped tiles).
    pub pixels_done: u64,
    /// Output pixels in the plan.
    pub pixels_total: u64,
    /// Grid pixels rendered so far (more than output pixels when averaging).
    pub pixels_rendered: u64,
}

/// The progress callback: called on worker threads, keep it cheap.
pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// The pool an executor and its clones share: built on first use, with its thread count.
type SharedPool = Arc<Mutex<Option<(usize, Arc<rayon::ThreadPool>)>>>;

/// Runs optimized plans: a rayon pool of `threads` threads, the kernel `backend`, optional
/// progress callback and cancel flag, and a memory limit.
///
/// ```
/// use zoomstack_engine::{Executor, ZoomStack};
/// use zoomstack_kernel::StackParams;
/// let stack = ZoomStack::new(6, StackParams { height: 16, width: 24, ..Default::default() }).unwrap();
/// let plan = stack.array().select("[::2, ::-1, 3:9]").unwrap().optimize().unwrap();
/// let a = Executor::new(2).compute(&plan).unwrap();
/// assert_eq!(a.shape(), &[3, 16, 6]);
/// ```
#[derive(Clone)]
pub struct Executor {
    /// Worker threads (0: one per available core).
    pub threads: usize,
    /// Kernel backend (all give identical counts).
    pub backend: Backend,
    /// Called after every finished tile.
    pub progress: Option<ProgressFn>,
    /// When set to true, the run stops at the next tile (or level) and returns
    /// [`EngineError::Cancelled`].
    pub cancel: Option<Arc<AtomicBool>>,
    /// Largest result [`Executor::compute`] allocates, and largest total of buffers in flight
    /// in the streaming methods, in bytes.
    pub memory_limit: u64,
    /// The worker pool, built on first use and kept for the executor's life (shared by its
    /// clones), keyed by its thread count.
    pool: SharedPool,
}

impl Default for Executor {
    fn default() -> Self {
        Self {
            threads: 0,
            backend: Backend::fastest(),
            progress: None,
            cancel: None,
            memory_limit: DEFAULT_MEMORY_LIMIT,
            pool: Arc::default(),
        }
    }
}

impl fmt::Debug for Executor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Executor")
            .field("threads", &self.threads)
            .field("backend", &self.backend)
            .field("progress", &self.progress.as_ref().map(|_| "Fn(Progress)"))
            .field("cancel", &self.cancel)
            .field("memory_limit", &self.memory_limit)
            .finish_non_exhaustive()
    }
}

impl Executor {
    /// An executor with `threads` workers (0: one per core) and the defaults otherwise.
    pub fn new(threads: usize) -> Self {
        Self {
            threads,
            ..Self::default()
        }
    }

    /// With this kernel backend.
    #[must_use]
    pub fn with_backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    /// With a progress callback.
    #[must_use]
    pub fn with_progress(mut self, f: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }

    /// With a cancel flag.
    #[must_use]
    pub fn with_cancel(mut self, flag: Arc<AtomicBool>) -> Self {
        self.cancel = Some(flag);
        self
    }

    /// With a memory limit in bytes.
    #[must_use]
    pub fn with_memory_limit(mut self, bytes: u64) -> Self {
        self.memory_limit = bytes;
        self
    }

    /// The number of worker threads a run uses.
    pub fn effective_threads(&self) -> usize {
        if self.threads > 0 {
            self.threads
        } else {
            std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
        }
    }

    /// The executor's worker pool (built once, reused by every run and every clone).
    ///
    /// # Errors
    ///
    /// [`EngineError::ThreadPool`] when rayon cannot start the threads.
    pub fn pool(&self) -> Result<Arc<rayon::ThreadPool>> {
        let threads = self.effective_threads();
        let mut slot = self
            .pool
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((n, pool)) = slot.as_ref()
            && *n == threads
        {
            return Ok(pool.clone());
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("zoomstack-{i}"))
            .build()
            .map_err(|e| EngineError::ThreadPool {
                threads,
                message: e.to_string(),
            })?;
        let pool = Arc::new(pool);
        *slot = Some((threads, pool.clone()));
        Ok(pool)
    }

    /// Bytes one worker holds while rendering a tile of `plan`: the tile plus the grid pixels
    /// of one of its levels when gathering.
    pub(crate) fn tile_bytes<T: Sample>(plan: &RenderPlan) -> u64 {
        let [cl, cy, cx] = plan.chunks().map(|c| c as u64);
        let gy = cy
            .saturating_mul(plan.rows().factor)
            .min(plan.rows().source.count);
        let gx = cx
            .saturating_mul(plan.cols().factor)
            .min(plan.cols().source.count);
        cl.saturating_mul(cy)
            .saturating_mul(cx)
            .saturating_add(gy.saturating_mul(gx))
            .saturating_mul(T::BYTES)
    }

    pub(crate) fn check_memory(
        &self,
        what: &'static str,
        shape: Vec<u64>,
        bytes: u64,
    ) -> Result<()> {
        if bytes > self.memory_limit {
            return Err(EngineError::TooLarge {
                what,
                shape,
                human: format_bytes(bytes),
                bytes,
                limit: self.memory_limit,
            });
        }
        Ok(())
    }

    /// What [`Executor::for_each_tile`] checks before rendering anything: the plan is valid
    /// ([`RenderPlan::validate`]) and its tiles in flight (one per thread) fit the memory limit.
    /// A caller runs it over all its plans before creating any output, so a refused run leaves
    /// nothing behind.
    ///
    /// ```
    /// use zoomstack_engine::{Executor, ZoomStack};
    /// let plan = ZoomStack::default().array().rechunk([64, 512, 512]).unwrap().optimize().unwrap();
    /// assert!(Executor::new(2).check_tiles(&plan).is_ok());
    /// assert!(Executor::new(2).with_memory_limit(1 << 20).check_tiles(&plan).is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// The errors of [`RenderPlan::validate`], [`EngineError::TooLarge`] above the limit.
    pub fn check_tiles(&self, plan: &RenderPlan) -> Result<()> {
        self.check_tiles_of::<u16>(plan)
    }

    /// [`Executor::check_tiles`] for values of type `T`.
    ///
    /// # Errors
    ///
    /// As [`Executor::check_tiles`].
    pub fn check_tiles_of<T: Sample>(&self, plan: &RenderPlan) -> Result<()> {
        plan.validate()?;
        self.check_memory(
            "tiles in flight",
            plan.chunks().iter().map(|&c| c as u64).collect(),
            Self::tile_bytes::<T>(plan).saturating_mul(self.effective_threads() as u64),
        )
    }

    /// Renders every tile of `plan` for which `filter` returns true, in parallel, handing each
    /// one to `consumer` on the worker thread that rendered it, as soon as it is done. At most
    /// `threads` tiles are in flight. Tiles the filter rejects count as done (e.g. already
    /// written, for resuming).
    ///
    /// Returns the final progress. Like every run method, first checks the plan
    /// ([`RenderPlan::validate`]).
    ///
    /// # Errors
    ///
    /// Stops at the first consumer error ([`ExecError::Consumer`], the consumer's own value),
    /// kernel error, memory limit ([`EngineError::TooLarge`]), or when the cancel flag is raised
    /// ([`EngineError::Cancelled`]).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use zoomstack_engine::{Executor, ZoomStack};
    /// let plan = ZoomStack::default().array().select("[:3, ::8, ::8]").unwrap()
    ///     .rechunk([1, 32, 32]).unwrap().optimize().unwrap();
    /// let sum = AtomicU64::new(0);
    /// let p = Executor::new(2).for_each_tile(&plan, |_| true, |tile| {
    ///     sum.fetch_add(tile.data.iter().map(|&v| v as u64).sum(), Ordering::Relaxed);
    ///     Ok::<(), std::io::Error>(())
    /// }).unwrap();
    /// assert_eq!((p.tiles_done, p.tiles_total), (12, 12));
    /// ```
    pub fn for_each_tile<F, C, E>(
        &self,
        plan: &RenderPlan,
        filter: F,
        consumer: C,
    ) -> std::result::Result<Progress, ExecError<E>>
    where
        F: Fn(&TileSpec) -> bool + Sync,
        C: Fn(Tile) -> std::result::Result<(), E> + Sync,
        E: Send,
    {
        self.for_each_tile_of::<u16, F, C, E>(plan, filter, consumer)
    }

    /// [`Executor::for_each_tile`] for values of type `T` (`u16` counts, `f32` smooth values).
    ///
    /// # Errors
    ///
    /// As [`Executor::for_each_tile`].
    pub fn for_each_tile_of<T, F, C, E>(
        &self,
        plan: &RenderPlan,
        filter: F,
        consumer: C,
    ) -> std::result::Result<Progress, ExecError<E>>
    where
        T: Sample,
        F: Fn(&TileSpec) -> bool + Sync,
        C: Fn(Tile<T>) -> std::result::Result<(), E> + Sync,
        E: Send,
    {
        self.check_tiles_of::<T>(plan)?;
        let threads = self.effective_threads();
        let run = Run::new(plan, self);
        if run.total > 0 {
            let pool = self.pool()?;
            let worker = || {
                while !run.should_stop() {
                    let i = run.next.fetch_add(1, Ordering::Relaxed);
                    if i >= run.total {
                        break;
                    }
                    let spec = plan.tile(i);
                    if !filter(&spec) {
                        run.finished(&spec, true, 0);
                        continue;
                    }
                    let Some((data, rendered)) = run.render(&spec) else {
                        break;
                    };
                    if let Err(e) = consumer(Tile { spec, data }) {
                        run.fail(ExecError::Consumer(e));
                        break;
                    }
                    run.finished(&spec, false, rendered);
                }
            };
            pool.scope(|s| {
                for _ in 0..threads {
                    s.spawn(|_| worker());
                }
            });
        }
        run.result()
    }

    /// Renders `plan` into memory. Refuses ([`EngineError::TooLarge`]) a result above
    /// `memory_limit` bytes before allocating anything.
    ///
    /// ```
    /// use zoomstack_engine::{Executor, ZoomStack};
    /// let plan = ZoomStack::default().array().optimize().unwrap();
    /// let err = Executor::new(1).compute(&plan).unwrap_err().to_string();
    /// assert!(err.contains("58.59 GiB"), "{err}");
    /// ```
    ///
    /// # Errors
    ///
    /// The errors of [`RenderPlan::validate`], [`EngineError::TooLarge`] for a result above the
    /// limit, and the errors of the run ([`Executor::for_each_tile`]): [`EngineError::Cancelled`],
    /// [`EngineError::ThreadPool`] or [`EngineError::Kernel`].
    pub fn compute(&self, plan: &RenderPlan) -> Result<Array3<u16>> {
        self.compute_values(plan)
    }

    /// [`Executor::compute`] for values of type `T`: `u16` counts or `f32` smooth values.
    ///
    /// ```
    /// use zoomstack_engine::{Executor, ZoomStack};
    /// let plan = ZoomStack::default().array().select("[:2, ::64, ::64]").unwrap().optimize().unwrap();
    /// let counts = Executor::new(2).compute_values::<u16>(&plan).unwrap();
    /// assert_eq!(counts.shape(), &[2, 8, 8]);
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Executor::compute`].
    pub fn compute_values<T: Sample>(&self, plan: &RenderPlan) -> Result<Array3<T>> {
        plan.validate()?;
        let shape = plan.shape();
        let bytes = plan.len().saturating_mul(T::BYTES);
        self.check_memory("result", shape.to_vec(), bytes)?;
        let dims = shape.map(|v| v as usize);
        let out = Mutex::new(Array3::<T>::from_elem(dims, T::default()));
        self.for_each_tile_of(
            plan,
            |_| true,
            |tile: Tile<T>| {
                let [l0, y0, x0] = tile.spec.origin.map(|v| v as usize);
                let [tl, ty, tx] = tile.spec.shape;
                let mut a = out
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                a.slice_mut(s![l0..l0 + tl, y0..y0 + ty, x0..x0 + tx])
                    .assign(&tile.view());
                Ok::<(), std::convert::Infallible>(())
            },
        )
        .map_err(ExecError::into_engine)?;
        Ok(out
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ZoomStack;
    use std::sync::atomic::AtomicU64;
    use std::time::Duration;
    use zoomstack_kernel::StackParams;

    fn small() -> ZoomStack {
        ZoomStack::new(
            7,
            StackParams {
                height: 20,
                width: 28,
                ..Default::default()
            },
        )
        .unwrap()
    }

    #[test]
    fn threads_do_not_change_the_result() {
        let plan = small()
            .array()
            .rechunk([2, 7, 5])
            .unwrap()
            .optimize()
            .unwrap();
        let one = Executor::new(1).compute(&plan).unwrap();
        for t in [2, 3, 5] {
            assert_eq!(Executor::new(t).compute(&plan).unwrap(), one);
        }
        let mut frames = vec![];
        let p = Executor::new(3)
            .for_each_frame(&plan, |k, l, f| {
                assert_eq!(k, l);
                frames.push(f.to_owned());
                Ok::<(), EngineError>(())
            })
            .unwrap();
        assert_eq!(p.tiles_done, plan.num_tiles());
        assert_eq!(frames.len(), 7);
        for (k, f) in frames.iter().enumerate() {
            assert_eq!(f, &one.index_axis(ndarray::Axis(0), k));
        }
    }

    #[test]
    fn cancel_stops_with_a_typed_error() {
        let plan = small()
            .array()
            .rechunk([1, 4, 4])
            .unwrap()
            .optimize()
            .unwrap();
        let flag = Arc::new(AtomicBool::new(false));
        let f2 = flag.clone();
        let exec = Executor::new(2)
            .with_cancel(flag.clone())
            .with_progress(move |p| {
                if p.tiles_done >= 3 {
                    f2.store(true, Ordering::Relaxed);
                }
            });
        let e = exec.compute(&plan).unwrap_err();
        assert!(
            matches!(
                e,
                EngineError::Cancelled {
                    tiles_total: 245,
                    ..
                }
            ),
            "{e}"
        );
        flag.store(true, Ordering::Relaxed);
        let e = exec
            .for_each_frame(&plan, |_, _, _| Ok::<(), EngineError>(()))
            .unwrap_err();
        assert!(
            matches!(e, ExecError::Engine(EngineError::Cancelled { .. })),
            "{e}"
        );
    }

    #[test]
    fn consumer_errors_stop_the_run() {
        let plan = small()
            .array()
            .rechunk([1, 4, 4])
            .unwrap()
            .optimize()
            .unwrap();
        let e = Executor::new(2)
            .for_each_tile(
                &plan,
                |_| true,
                |t| {
                    if t.spec.index[0] == 2 {
                        Err(std::io::Error::other("disk full"))
                    } else {
                        Ok(())
                    }
                },
            )
            .unwrap_err();
        assert!(e.to_string().contains("disk full"), "{e}");
        let mut n = 0;
        let e = Executor::new(2)
            .for_each_frame(&plan, |_, _, _| {
                n += 1;
                if n == 3 {
                    Err("png encoder failed")
                } else {
                    Ok(())
                }
            })
            .unwrap_err();
        assert!(e.to_string().contains("png encoder failed"), "{e}");
        assert_eq!(n, 3);
    }

    #[test]
    fn filter_skips_and_progress_counts() {
        let plan = small()
            .array()
            .rechunk([1, 10, 14])
            .unwrap()
            .optimize()
            .unwrap();
        let seen = Mutex::new(vec![]);
        let last = Arc::new(Mutex::new(Progress::default()));
        let l2 = last.clone();
        let p = Executor::new(2)
            .with_progress(move |p| {
                let mut l = l2.lock().unwrap();
                if p.tiles_done > l.tiles_done {
                    *l = p;
                }
            })
            .for_each_tile(
                &plan,
                |t| t.index[2] == 0,
                |t| {
                    seen.lock().unwrap().push(t.spec.index);
                    Ok::<(), EngineError>(())
                },
            )
            .unwrap();
        assert_eq!(p.tiles_total, 28);
        assert_eq!(p.tiles_done, 28);
        assert_eq!(p.tiles_skipped, 14);
        assert_eq!(p.pixels_done, 7 * 20 * 28);
        assert_eq!(p.pixels_rendered, 7 * 20 * 14);
        assert_eq!(*last.lock().unwrap(), p);
        assert_eq!(seen.into_inner().unwrap().len(), 14);
    }

    #[test]
    fn memory_limits_are_typed_errors() {
        let plan = small().array().optimize().unwrap();
        let e = Executor::new(1)
            .with_memory_limit(1000)
            .compute(&plan)
            .unwrap_err();
        assert!(
            matches!(
                e,
                EngineError::TooLarge {
                    what: "result",
                    bytes: 7840,
                    ..
                }
            ),
            "{e}"
        );
        let e = Executor::new(1)
            .with_memory_limit(1000)
            .for_each_tile(&plan, |_| true, |_| Ok::<(), EngineError>(()))
            .unwrap_err();
        assert!(e.to_string().contains("tiles in flight"), "{e}");
    }

    #[test]
    fn frames_are_rendered_only_a_window_ahead() {
        // 7 levels, 4 tiles per frame, 2 threads: a window of 2 level-chunks (8 tiles).
        let plan = small()
            .array()
            .rechunk([1, 10, 14])
            .unwrap()
            .optimize()
            .unwrap();
        let rendered = Arc::new(AtomicU64::new(0));
        let r2 = rendered.clone();
        let exec = Executor::new(2).with_progress(move |p| {
            r2.fetch_max(p.tiles_done, Ordering::SeqCst);
        });
        let mut frames = 0u64;
        exec.for_each_frame(&plan, |k, _, _| {
            // A slow consumer: workers must wait for it instead of racing ahead.
            std::thread::sleep(Duration::from_millis(5));
            let ahead = rendered.load(Ordering::SeqCst);
            assert!(
                ahead <= (k + 1 + 2) * 4,
                "frame {k}: {ahead} tiles rendered"
            );
            frames += 1;
            Ok::<(), EngineError>(())
        })
        .unwrap();
        assert_eq!(frames, 7);
    }

    #[test]
    fn huge_factors_reduce_to_one_pixel() {
        let full = Executor::new(1)
            .compute(&small().array().optimize().unwrap())
            .unwrap();
        for mode in [crate::DownsampleMode::Stride, crate::DownsampleMode::Mean] {
            let plan = small()
                .array()
                .downsample(u64::MAX, u64::MAX, mode)
                .unwrap()
                .optimize()
                .unwrap();
            let a = Executor::new(2).compute(&plan).unwrap();
            assert_eq!(a.shape(), &[7, 1, 1]);
            for l in 0..7 {
                let frame = full.index_axis(ndarray::Axis(0), l);
                let want = match mode {
                    crate::DownsampleMode::Stride => frame[[0, 0]],
                    crate::DownsampleMode::Mean => {
                        let sum: u64 = frame.iter().map(|&v| u64::from(v)).sum();
                        crate::sample::mean_half_even(sum, frame.len() as u64)
                    }
                };
                assert_eq!(a[[l, 0, 0]], want, "{mode} level {l}");
            }
        }
    }

    #[test]
    fn empty_plans_finish_at_once() {
        let plan = small().array().select("[3:3]").unwrap().optimize().unwrap();
        let a = Executor::new(2).compute(&plan).unwrap();
        assert_eq!(a.shape(), &[0, 20, 28]);
        let p = Executor::new(2)
            .for_each_frame(&plan, |_, _, _| Ok::<(), EngineError>(()))
            .unwrap();
        assert_eq!(p.tiles_total, 0);
    }
}
