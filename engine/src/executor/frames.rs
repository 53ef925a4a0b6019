//! [`Executor::for_each_frame`]: tiles rendered in parallel, whole frames handed to the consumer
//! in level order, within a bounded window of level-chunks ([`FrameWindow`]).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use ndarray::{ArrayView2, ArrayView3, ArrayViewMut3, s};

use super::Executor;
use super::run::Run;
use crate::error::{EngineError, ExecError};
use crate::executor::Progress;
use crate::plan::{RenderPlan, TileSpec};
use crate::sample::Sample;

/// Longest sleep of a waiting thread before it re-checks the cancel flag.
const WAKE: Duration = Duration::from_millis(20);

/// The frames of one level-chunk (a row of the chunk grid's level axis), being assembled.
struct Group<T> {
    data: Vec<T>,
    /// Tiles of the group not yet rendered.
    remaining: u64,
}

struct State<T> {
    /// Next group the consumer takes.
    consumed: u64,
    groups: HashMap<u64, Group<T>>,
}

/// Level-chunks in flight between the workers and the consumer: workers claim tiles at most
/// `window` groups ahead of the consumer and copy them into their group; the consumer takes
/// complete groups in order.
struct FrameWindow<'a, E, T> {
    run: &'a Run<'a, E, T>,
    /// Tiles per group.
    per_group: u64,
    /// Levels per group (the plan's level chunk).
    group_levels: u64,
    /// Groups that may be rendered ahead of the consumer.
    window: u64,
    /// `[levels, height, width]` of the output.
    shape: [u64; 3],
    state: Mutex<State<T>>,
    cv: Condvar,
}

impl<E, T: Sample> FrameWindow<'_, E, T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn frame_len(&self) -> usize {
        (self.shape[1] * self.shape[2]) as usize
    }

    /// The next tile to render, waiting while it is too far ahead of the consumer; `None` when
    /// every tile is claimed or the run stops.
    fn claim(&self) -> Option<TileSpec> {
        let mut st = self.lock();
        loop {
            if self.run.should_stop() {
                self.cv.notify_all();
                return None;
            }
            let i = self.run.next.load(Ordering::Relaxed);
            if i >= self.run.total {
                return None;
            }
            if i / self.per_group < st.consumed + self.window {
                self.run.next.store(i + 1, Ordering::Relaxed);
                return Some(self.run.plan.tile(i));
            }
            st = self
                .cv
                .wait_timeout(st, WAKE)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }

    /// Copies a rendered tile into its group.
    fn deposit(&self, spec: &TileSpec, data: &[T], rendered: u64) {
        let g = spec.index[0];
        let [nl, ny, nx] = self.shape;
        let levels = (nl - g * self.group_levels).min(self.group_levels) as usize;
        let frame_len = self.frame_len();
        let mut st = self.lock();
        let group = st.groups.entry(g).or_insert_with(|| Group {
            data: vec![T::default(); levels * frame_len],
            remaining: self.per_group,
        });
        let mut dst =
            ArrayViewMut3::from_shape((levels, ny as usize, nx as usize), &mut group.data)
                .expect("group buffer has the group's shape");
        let [_, y0, x0] = spec.origin.map(|v| v as usize);
        let [tl, ty, tx] = spec.shape;
        let src = ArrayView3::from_shape(spec.shape, data).expect("tile data has the tile's shape");
        dst.slice_mut(s![..tl, y0..y0 + ty, x0..x0 + tx])
            .assign(&src);
        group.remaining -= 1;
        let complete = group.remaining == 0;
        drop(st);
        self.run.finished(spec, false, rendered);
        if complete {
            self.cv.notify_all();
        }
    }

    /// Group `g` once it is complete; `None` when the run stops first.
    fn take(&self, g: u64) -> Option<Group<T>> {
        let mut st = self.lock();
        loop {
            if self.run.should_stop() {
                drop(st);
                self.cv.notify_all();
                return None;
            }
            if st.groups.get(&g).is_some_and(|gr| gr.remaining == 0) {
                let group = st.groups.remove(&g);
                st.consumed = g + 1;
                drop(st);
                self.cv.notify_all();
                return group;
            }
            st = self
                .cv
                .wait_timeout(st, WAKE)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }

    /// A worker: claim, render, deposit, until nothing is left or the run stops.
    fn work(&self) {
        while let Some(spec) = self.claim() {
            let Some((data, rendered)) = self.run.render(&spec) else {
                self.cv.notify_all();
                return;
            };
            self.deposit(&spec, &data, rendered);
        }
    }
}

impl Executor {
    /// Tiles per level-chunk, levels per level-chunk, and level-chunks rendered ahead.
    fn frame_window(&self, plan: &RenderPlan) -> (u64, u64, u64) {
        let grid = plan.chunk_grid();
        let per_group = grid[1].saturating_mul(grid[2]).max(1);
        let group_levels = plan.chunks()[0] as u64;
        let window = (2 * self.effective_threads() as u64)
            .div_ceil(per_group)
            .max(2);
        (per_group, group_levels, window)
    }

    /// What [`Executor::for_each_frame`] checks before rendering anything: the plan is valid
    /// ([`RenderPlan::validate`]) and its frames and tiles in flight fit the memory limit. A
    /// caller runs it over all its plans before creating any output, so a refused run leaves
    /// nothing behind.
    ///
    /// ```
    /// use zoomstack_engine::{Executor, ZoomStack};
    /// let plan = ZoomStack::default().array().select("[:40]").unwrap().optimize().unwrap();
    /// assert!(Executor::new(2).check_frames(&plan).is_ok());
    /// let err = Executor::new(2).with_memory_limit(1 << 20).check_frames(&plan).unwrap_err();
    /// assert!(err.to_string().contains("frames in flight"), "{err}");
    /// ```
    ///
    /// # Errors
    ///
    /// The errors of [`RenderPlan::validate`], [`EngineError::TooLarge`] above the limit.
    pub fn check_frames(&self, plan: &RenderPlan) -> crate::error::Result<()> {
        self.check_frames_of::<u16>(plan)
    }

    /// [`Executor::check_frames`] for values of type `T`.
    ///
    /// # Errors
    ///
    /// As [`Executor::check_frames`].
    pub fn check_frames_of<T: Sample>(&self, plan: &RenderPlan) -> crate::error::Result<()> {
        plan.validate()?;
        let [_, ny, nx] = plan.shape();
        let (_, group_levels, window) = self.frame_window(plan);
        let group_bytes = group_levels
            .saturating_mul(ny)
            .saturating_mul(nx)
            .saturating_mul(T::BYTES);
        self.check_memory(
            "frames in flight",
            vec![window.saturating_mul(group_levels), ny, nx],
            group_bytes.saturating_mul(window + 1).saturating_add(
                Self::tile_bytes::<T>(plan).saturating_mul(self.effective_threads() as u64),
            ),
        )
    }

    /// Renders `plan` and hands whole output frames to `consumer` in level order:
    /// `consumer(output_level, stack_level, frame)`, on the calling thread (for image sinks).
    ///
    /// An output with an empty y or x axis still has one (empty) frame per output level.
    /// Tiles are rendered in parallel ahead of the consumer, within a window of a few
    /// level-chunks, so memory stays bounded (about `max(2, 2 * threads / tiles per frame)`
    /// level-chunks of whole frames).
    ///
    /// ```
    /// use zoomstack_engine::{Executor, ZoomStack};
    /// let plan = ZoomStack::default().array().select("[10:13, ::16, ::16]").unwrap().optimize().unwrap();
    /// let mut seen = vec![];
    /// Executor::new(2).for_each_frame(&plan, |k, level, frame| {
    ///     seen.push((k, level, frame.dim()));
    ///     Ok::<(), std::io::Error>(())
    /// }).unwrap();
    /// assert_eq!(seen, vec![(0, 10, (32, 32)), (1, 11, (32, 32)), (2, 12, (32, 32))]);
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Executor::for_each_tile`].
    ///
    /// # Panics
    ///
    /// Never in practice: buffer shapes are computed from the plan (the `expect`s state it).
    pub fn for_each_frame<C, E>(
        &self,
        plan: &RenderPlan,
        consumer: C,
    ) -> std::result::Result<Progress, ExecError<E>>
    where
        C: FnMut(u64, u64, ArrayView2<'_, u16>) -> std::result::Result<(), E>,
        E: Send,
    {
        self.for_each_frame_of::<u16, C, E>(plan, consumer)
    }

    /// [`Executor::for_each_frame`] for values of type `T` (`u16` counts, `f32` smooth values).
    ///
    /// # Errors
    ///
    /// As [`Executor::for_each_frame`].
    ///
    /// # Panics
    ///
    /// As [`Executor::for_each_frame`].
    pub fn for_each_frame_of<T, C, E>(
        &self,
        plan: &RenderPlan,
        mut consumer: C,
    ) -> std::result::Result<Progress, ExecError<E>>
    where
        T: Sample,
        C: FnMut(u64, u64, ArrayView2<'_, T>) -> std::result::Result<(), E>,
        E: Send,
    {
        self.check_frames_of::<T>(plan)?;
        let threads = self.effective_threads();
        let shape = plan.shape();
        let [nl, ny, nx] = shape;
        let grid = plan.chunk_grid();
        let (per_group, group_levels, window) = self.frame_window(plan);
        let run = Run::new(plan, self);
        if run.total == 0 {
            if nl == 0 || ny.saturating_mul(nx) > 0 {
                return run.result();
            }
            // Frames with no pixel (a y or x axis of length 0): still one per output level.
            let empty = ArrayView2::from_shape((ny as usize, nx as usize), &[])
                .expect("a frame with an empty axis has no element");
            for k in 0..nl {
                if run.cancelled() {
                    return Err(ExecError::Engine(EngineError::Cancelled {
                        tiles_done: 0,
                        tiles_total: 0,
                    }));
                }
                consumer(k, plan.stack_level(k), empty).map_err(ExecError::Consumer)?;
            }
            return run.result();
        }
        let w = FrameWindow {
            run: &run,
            per_group,
            group_levels,
            window,
            shape,
            state: Mutex::new(State {
                consumed: 0,
                groups: HashMap::new(),
            }),
            cv: Condvar::new(),
        };
        // Hands every group's frames to the consumer; false when the run stopped first.
        let mut consume = || {
            for g in 0..grid[0] {
                let Some(group) = w.take(g) else {
                    return false;
                };
                for (k, frame) in group.data.chunks_exact(w.frame_len().max(1)).enumerate() {
                    let out_level = g * group_levels + k as u64;
                    let view = ArrayView2::from_shape((ny as usize, nx as usize), frame)
                        .expect("frame has the frame's shape");
                    if let Err(e) = consumer(out_level, plan.stack_level(out_level), view) {
                        run.fail(ExecError::Consumer(e));
                        w.cv.notify_all();
                        return false;
                    }
                }
            }
            true
        };
        let pool = self.pool()?;
        let complete = pool.in_place_scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|_| w.work());
            }
            consume()
        });
        let progress = run.result()?;
        if !complete {
            return Err(ExecError::Engine(EngineError::Cancelled {
                tiles_done: progress.tiles_done,
                tiles_total: progress.tiles_total,
            }));
        }
        Ok(progress)
    }
}
