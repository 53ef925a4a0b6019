//! Rendering levels on demand, and the small cache of recent levels that the server answers from.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use ndarray::ArrayView2;
use serde::Serialize;
use zoomstack_engine::{EngineError, Executor, IndexRange, RenderPlan, Selection, ZoomStack};
use zoomstack_kernel::Backend;

/// What a frame holds: the kernel's escape counts or its smooth escape values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Values {
    /// `u16` counts.
    Counts,
    /// `f32` smooth values (numpy contract only).
    Smooth,
}

impl Values {
    /// The name in requests and headers (`counts`, `smooth`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Values::Counts => "counts",
            Values::Smooth => "smooth",
        }
    }
}

/// The pixels of a frame, row-major, row 0 first, with their range.
#[derive(Debug)]
pub(crate) enum Pixels {
    /// Escape counts.
    Counts {
        counts: Vec<u16>,
        min: u16,
        max: u16,
    },
    /// Smooth escape values; `min`/`max` over the finite ones.
    Smooth {
        values: Vec<f32>,
        min: f32,
        max: f32,
    },
}

/// One rendered level.
#[derive(Debug)]
pub(crate) struct Frame {
    pub level: u64,
    pub rows: IndexRange,
    pub cols: IndexRange,
    pub pixels: Pixels,
}

impl Frame {
    /// The counts as a 2-D view, `None` for a frame of smooth values.
    pub(crate) fn counts(&self) -> Option<ArrayView2<'_, u16>> {
        match &self.pixels {
            Pixels::Counts { counts, .. } => ArrayView2::from_shape(self.shape(), counts).ok(),
            Pixels::Smooth { .. } => None,
        }
    }

    /// The smooth values as a 2-D view, `None` for a frame of counts.
    pub(crate) fn smooth(&self) -> Option<ArrayView2<'_, f32>> {
        match &self.pixels {
            Pixels::Smooth { values, .. } => ArrayView2::from_shape(self.shape(), values).ok(),
            Pixels::Counts { .. } => None,
        }
    }

    /// What the frame holds.
    pub(crate) fn values(&self) -> Values {
        match self.pixels {
            Pixels::Counts { .. } => Values::Counts,
            Pixels::Smooth { .. } => Values::Smooth,
        }
    }

    fn shape(&self) -> (usize, usize) {
        (self.height(), self.width())
    }

    /// Rows of the frame.
    pub(crate) fn height(&self) -> usize {
        usize::try_from(self.rows.count).unwrap_or(usize::MAX)
    }

    /// Columns of the frame.
    pub(crate) fn width(&self) -> usize {
        usize::try_from(self.cols.count).unwrap_or(usize::MAX)
    }

    /// Bytes of pixels (what the cache counts).
    fn bytes(&self) -> usize {
        match &self.pixels {
            Pixels::Counts { counts, .. } => counts.len() * 2,
            Pixels::Smooth { values, .. } => values.len() * 4,
        }
    }
}

/// Renders levels through the engine's executor (its pool lives as long as the viewer), a
/// level split into row bands so that one deep level uses every core.
pub(crate) struct Renderer {
    stack: ZoomStack,
    executor: Executor,
}

impl Renderer {
    pub(crate) fn new(stack: ZoomStack, executor: Executor) -> Self {
        Renderer { stack, executor }
    }

    pub(crate) fn backend(&self) -> Backend {
        self.executor.backend
    }

    pub(crate) fn threads(&self) -> usize {
        self.executor.effective_threads()
    }

    /// Renders `values` of `level` (smooth values only where the stack's contract has them:
    /// the engine refuses them otherwise).
    pub(crate) fn render(
        &self,
        level: u64,
        rows: IndexRange,
        cols: IndexRange,
        values: Values,
    ) -> Result<Frame, EngineError> {
        // A few bands per thread keep the threads busy when some bands escape faster.
        let bands = (self.threads() * 4).max(1) as u64;
        let band_rows = usize::try_from(rows.count.div_ceil(bands).max(1)).unwrap_or(usize::MAX);
        let width = usize::try_from(cols.count).unwrap_or(usize::MAX);
        let selection = Selection::strided([IndexRange::new(level, 1, 1), rows, cols]);
        let plan = RenderPlan::new(self.stack.clone(), selection, [1, band_rows, width])?;
        let pixels = match values {
            Values::Counts => {
                let counts = self.executor.compute(&plan)?.into_raw_vec_and_offset().0;
                let (min, max) = counts
                    .iter()
                    .fold((u16::MAX, u16::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
                Pixels::Counts { counts, min, max }
            }
            Values::Smooth => {
                let values = self
                    .executor
                    .compute_values::<f32>(&plan)?
                    .into_raw_vec_and_offset()
                    .0;
                let (min, max) = values
                    .iter()
                    .filter(|v| v.is_finite())
                    .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
                        (lo.min(v), hi.max(v))
                    });
                Pixels::Smooth { values, min, max }
            }
        };
        Ok(Frame {
            level,
            rows,
            cols,
            pixels,
        })
    }
}

/// A frame is known by its level, its stride and what it holds (counts and smooth values of
/// the same level are different frames).
pub(crate) type FrameKey = (u64, usize, Values);

/// Why a frame was not produced.
#[derive(Debug)]
pub(crate) enum FrameError {
    /// Too many renders are running or waiting.
    Busy { limit: usize },
    /// The engine refused the level (e.g. its scale underflows).
    Engine(EngineError),
}

/// Counters the server reports at `/api/stats`.
#[derive(Debug, Default, Serialize)]
pub struct CacheStats {
    /// Levels rendered.
    pub renders: u64,
    /// Requests answered from the cache.
    pub hits: u64,
    /// Requests that waited for a render another request had started.
    pub coalesced: u64,
    /// Requests refused because too many renders were running or waiting.
    pub busy: u64,
    /// Frames in the cache now.
    pub cached_frames: usize,
    /// Bytes of frames (counts or smooth values) in the cache now.
    pub cached_bytes: usize,
    /// Requests rendering or waiting for a render now.
    pub active: usize,
}

struct Entry {
    frame: Arc<Frame>,
    last_used: u64,
}

#[derive(Default)]
struct State {
    frames: HashMap<FrameKey, Entry>,
    bytes: usize,
    tick: u64,
    /// Frames being rendered now.
    in_flight: HashSet<FrameKey>,
    /// Requests rendering or waiting for a render.
    active: usize,
}

/// The most recently used frames up to a byte budget, with concurrent requests for the same
/// frame sharing one render and a cap on requests rendering or waiting at once (the rest are
/// refused as busy, so cheap requests always find a free HTTP worker).
pub(crate) struct FrameCache {
    state: Mutex<State>,
    rendered: Condvar,
    capacity_bytes: usize,
    max_active: usize,
    renders: AtomicU64,
    hits: AtomicU64,
    coalesced: AtomicU64,
    busy: AtomicU64,
}

impl FrameCache {
    pub(crate) fn new(capacity_bytes: usize, max_active: usize) -> Self {
        FrameCache {
            state: Mutex::new(State::default()),
            rendered: Condvar::new(),
            capacity_bytes,
            max_active,
            renders: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            coalesced: AtomicU64::new(0),
            busy: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the map inconsistent (every update is a
        // single insert/remove), so a poisoned lock is still usable.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The frame for `key`, from the cache or rendered by `render` (once, however many requests
    /// ask for it at the same time).
    pub(crate) fn get_or_render(
        &self,
        key: FrameKey,
        render: impl FnOnce() -> Result<Frame, EngineError>,
    ) -> Result<Arc<Frame>, FrameError> {
        let mut st = self.lock();
        if let Some(f) = Self::touch(&mut st, key) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(f);
        }
        if st.active >= self.max_active {
            self.busy.fetch_add(1, Ordering::Relaxed);
            return Err(FrameError::Busy {
                limit: self.max_active,
            });
        }
        st.active += 1;
        if st.in_flight.contains(&key) {
            self.coalesced.fetch_add(1, Ordering::Relaxed);
            while st.in_flight.contains(&key) {
                st = self
                    .rendered
                    .wait(st)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
            if let Some(f) = Self::touch(&mut st, key) {
                st.active -= 1;
                return Ok(f);
            }
            // The other render failed (or its frame was evicted at once): render it here.
        }
        st.in_flight.insert(key);
        drop(st);

        let result = render();
        self.renders.fetch_add(1, Ordering::Relaxed);

        let mut st = self.lock();
        st.in_flight.remove(&key);
        st.active -= 1;
        let out = match result {
            Ok(frame) => {
                let frame = Arc::new(frame);
                self.insert(&mut st, key, frame.clone());
                Ok(frame)
            }
            Err(e) => Err(FrameError::Engine(e)),
        };
        drop(st);
        self.rendered.notify_all();
        out
    }

    fn touch(st: &mut State, key: FrameKey) -> Option<Arc<Frame>> {
        st.tick += 1;
        let tick = st.tick;
        st.frames.get_mut(&key).map(|e| {
            e.last_used = tick;
            e.frame.clone()
        })
    }

    fn insert(&self, st: &mut State, key: FrameKey, frame: Arc<Frame>) {
        let bytes = frame.bytes();
        if bytes > self.capacity_bytes {
            return;
        }
        while st.bytes + bytes > self.capacity_bytes {
            // Evict the least recently used frame (the cache holds at most a few hundred).
            let Some(oldest) = st
                .frames
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| *k)
            else {
                break;
            };
            if let Some(e) = st.frames.remove(&oldest) {
                st.bytes -= e.frame.bytes();
            }
        }
        st.tick += 1;
        let last_used = st.tick;
        if let Some(old) = st.frames.insert(key, Entry { frame, last_used }) {
            st.bytes -= old.frame.bytes();
        }
        st.bytes += bytes;
    }

    pub(crate) fn stats(&self) -> CacheStats {
        let st = self.lock();
        CacheStats {
            renders: self.renders.load(Ordering::Relaxed),
            hits: self.hits.load(Ordering::Relaxed),
            coalesced: self.coalesced.load(Ordering::Relaxed),
            busy: self.busy.load(Ordering::Relaxed),
            cached_frames: st.frames.len(),
            cached_bytes: st.bytes,
            active: st.active,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;
    use std::time::Duration;

    fn frame(level: u64, n: usize) -> Frame {
        Frame {
            level,
            rows: IndexRange::full(1),
            cols: IndexRange::full(n as u64),
            pixels: Pixels::Counts {
                counts: vec![level as u16; n],
                min: level as u16,
                max: level as u16,
            },
        }
    }

    fn smooth_frame(level: u64, n: usize) -> Frame {
        Frame {
            level,
            rows: IndexRange::full(1),
            cols: IndexRange::full(n as u64),
            pixels: Pixels::Smooth {
                values: vec![level as f32 + 0.5; n],
                min: level as f32 + 0.5,
                max: level as f32 + 0.5,
            },
        }
    }

    fn counts_of(f: &Frame) -> Vec<u16> {
        f.counts().unwrap().iter().copied().collect()
    }

    #[test]
    fn counts_and_smooth_values_of_a_level_are_cached_apart() {
        let cache = FrameCache::new(1 << 20, 4);
        let c = cache
            .get_or_render((5, 2, Values::Counts), || Ok(frame(5, 10)))
            .unwrap();
        // The same level and stride as smooth values is another frame: rendered, not the
        // cached counts.
        let mut rendered = false;
        let s = cache
            .get_or_render((5, 2, Values::Smooth), || {
                rendered = true;
                Ok(smooth_frame(5, 10))
            })
            .unwrap();
        assert!(rendered);
        assert_eq!((c.values(), s.values()), (Values::Counts, Values::Smooth));
        assert!(c.smooth().is_none() && s.counts().is_none());
        assert_eq!(s.smooth().unwrap()[(0, 3)].to_bits(), 5.5f32.to_bits());
        // Both are cached now, a smooth value 4 bytes, a count 2.
        let again = cache
            .get_or_render((5, 2, Values::Smooth), || panic!("cached"))
            .unwrap();
        assert_eq!(again.values(), Values::Smooth);
        cache
            .get_or_render((5, 2, Values::Counts), || panic!("cached"))
            .unwrap();
        let st = cache.stats();
        assert_eq!(
            (st.cached_frames, st.cached_bytes, st.renders, st.hits),
            (2, 60, 2, 2)
        );
    }

    #[test]
    fn evicts_least_recently_used() {
        let cache = FrameCache::new(3 * 200, 4);
        for level in 0..3 {
            cache
                .get_or_render((level, 1, Values::Counts), || Ok(frame(level, 100)))
                .unwrap();
        }
        // Use level 0 again, then add level 3: level 1 is the oldest and goes.
        cache
            .get_or_render((0, 1, Values::Counts), || panic!("cached"))
            .unwrap();
        cache
            .get_or_render((3, 1, Values::Counts), || Ok(frame(3, 100)))
            .unwrap();
        let s = cache.stats();
        assert_eq!(
            (s.cached_frames, s.cached_bytes, s.renders, s.hits),
            (3, 600, 4, 1)
        );
        cache
            .get_or_render((0, 1, Values::Counts), || panic!("cached"))
            .unwrap();
        let mut rendered = false;
        cache
            .get_or_render((1, 1, Values::Counts), || {
                rendered = true;
                Ok(frame(1, 100))
            })
            .unwrap();
        assert!(rendered, "level 1 should have been evicted");
        // A frame larger than the whole cache is served but not kept.
        cache
            .get_or_render((9, 1, Values::Counts), || Ok(frame(9, 1000)))
            .unwrap();
        assert_eq!(cache.stats().cached_bytes, 600);
    }

    #[test]
    fn concurrent_requests_share_one_render_and_busy_is_refused() {
        let cache = Arc::new(FrameCache::new(1 << 20, 3));
        let start = Arc::new(Barrier::new(3));
        let release = Arc::new(Barrier::new(2));
        let leader = {
            let (cache, start, release) = (cache.clone(), start.clone(), release.clone());
            std::thread::spawn(move || {
                cache
                    .get_or_render((7, 1, Values::Counts), || {
                        start.wait();
                        release.wait();
                        Ok(frame(7, 10))
                    })
                    .unwrap()
            })
        };
        let follower = {
            let (cache, start) = (cache.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                cache
                    .get_or_render((7, 1, Values::Counts), || panic!("must share the render"))
                    .unwrap()
            })
        };
        start.wait();
        // Wait until the follower is waiting (active == 2), then fill the last slot.
        while cache.lock().active < 2 {
            std::thread::sleep(Duration::from_millis(1));
        }
        let other_started = Arc::new(Barrier::new(2));
        let other_release = Arc::new(Barrier::new(2));
        let other = {
            let (cache, started, release) =
                (cache.clone(), other_started.clone(), other_release.clone());
            std::thread::spawn(move || {
                cache.get_or_render((8, 1, Values::Counts), || {
                    started.wait();
                    release.wait();
                    Ok(frame(8, 10))
                })
            })
        };
        other_started.wait();
        // Three requests are rendering or waiting: a fourth is refused, a cached one is not.
        match cache.get_or_render((5, 1, Values::Counts), || panic!("must be refused")) {
            Err(FrameError::Busy { limit }) => assert_eq!(limit, 3),
            other => panic!("expected busy, got {other:?}"),
        }
        release.wait();
        other_release.wait();
        assert_eq!(counts_of(&leader.join().unwrap()), vec![7; 10]);
        assert_eq!(counts_of(&follower.join().unwrap()), vec![7; 10]);
        other.join().unwrap().unwrap();
        cache
            .get_or_render((7, 1, Values::Counts), || panic!("cached"))
            .unwrap();
        let s = cache.stats();
        assert_eq!((s.coalesced, s.busy, s.renders, s.hits), (1, 1, 2, 1));
        assert_eq!(cache.lock().active, 0);
    }
}
