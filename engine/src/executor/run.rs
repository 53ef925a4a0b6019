//! The shared state of one executor run: the tile counter, progress counters, the first
//! error, and the stop flag every worker polls.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::{Executor, Progress};
use crate::error::{EngineError, ExecError};
use crate::plan::{RenderPlan, TileSpec};
use crate::render::render_tile;
use crate::sample::Sample;

/// Shared state of one run whose consumer fails with `E`.
pub(super) struct Run<'a, E, T> {
    pub(super) plan: &'a RenderPlan,
    exec: &'a Executor,
    pub(super) next: AtomicU64,
    pub(super) total: u64,
    stop: AtomicBool,
    error: Mutex<Option<ExecError<E>>>,
    done: AtomicU64,
    skipped: AtomicU64,
    pixels_done: AtomicU64,
    pixels_rendered: AtomicU64,
    values: std::marker::PhantomData<fn() -> T>,
}

impl<'a, E, T: Sample> Run<'a, E, T> {
    pub(super) fn new(plan: &'a RenderPlan, exec: &'a Executor) -> Self {
        Run {
            plan,
            exec,
            next: AtomicU64::new(0),
            total: plan.num_tiles(),
            stop: AtomicBool::new(false),
            error: Mutex::new(None),
            done: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            pixels_done: AtomicU64::new(0),
            pixels_rendered: AtomicU64::new(0),
            values: std::marker::PhantomData,
        }
    }

    pub(super) fn cancelled(&self) -> bool {
        self.exec
            .cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
    }

    pub(super) fn should_stop(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || self.cancelled()
    }

    pub(super) fn fail(&self, e: ExecError<E>) {
        let mut slot = self
            .error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        slot.get_or_insert(e);
        self.stop.store(true, Ordering::Relaxed);
    }

    pub(super) fn snapshot(&self) -> Progress {
        Progress {
            tiles_done: self.done.load(Ordering::Relaxed),
            tiles_skipped: self.skipped.load(Ordering::Relaxed),
            tiles_total: self.total,
            pixels_done: self.pixels_done.load(Ordering::Relaxed),
            pixels_total: self.plan.len(),
            pixels_rendered: self.pixels_rendered.load(Ordering::Relaxed),
        }
    }

    pub(super) fn finished(&self, spec: &TileSpec, skipped: bool, rendered: u64) {
        if skipped {
            self.skipped.fetch_add(1, Ordering::Relaxed);
        }
        self.pixels_rendered.fetch_add(rendered, Ordering::Relaxed);
        self.pixels_done
            .fetch_add(spec.len() as u64, Ordering::Relaxed);
        self.done.fetch_add(1, Ordering::Relaxed);
        if let Some(p) = &self.exec.progress {
            p(self.snapshot());
        }
    }

    /// Renders tile `i`; `None` when stopped (cancel or another worker's error).
    pub(super) fn render(&self, spec: &TileSpec) -> Option<(Vec<T>, u64)> {
        match render_tile(self.plan, spec, self.exec.backend, &|| self.should_stop()) {
            Ok(r) => r,
            Err(e) => {
                self.fail(ExecError::Engine(e));
                None
            }
        }
    }

    /// The result of the run once every worker has returned.
    pub(super) fn result(self) -> std::result::Result<Progress, ExecError<E>> {
        let progress = self.snapshot();
        if let Some(e) = self
            .error
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
        {
            return Err(e);
        }
        if progress.tiles_done < progress.tiles_total {
            return Err(ExecError::Engine(EngineError::Cancelled {
                tiles_done: progress.tiles_done,
                tiles_total: progress.tiles_total,
            }));
        }
        Ok(progress)
    }
}
