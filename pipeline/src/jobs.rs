//! From a validated [`Spec`] to render jobs: which renders the sinks share and, for Zarr sinks,
//! what each dataset stores and how it is tiled.
//!
//! Sinks that consume whole frames (PNG, 16-bit PNG, animation, contact sheet) and whose
//! optimized plans select the same levels, rows and columns (and the same mean, if any) share one
//! render: one frame stream fans out to all of them. A Zarr sink renders on its own, with the
//! executor's tiles equal to its write units (shards, or chunks when unsharded), so each
//! rendered tile is exactly one stored object and the job-array filter and the resume filter
//! work per write unit. Overlapping-but-different selections are not merged (README).

use std::collections::HashMap;
use std::path::PathBuf;

use zoomstack_engine::{DownsampleMode, LazyArray, RenderPlan, Selection, StoreLayout, Timeline};
use zoomstack_sinks::ArrayDescription;

use crate::error::RunError;
use crate::spec::{FrameKind, SinkKind, SinkSpec, Spec, ZarrSpec};
use crate::store::constant_units;

/// One render job: a plan and the sinks fed from it.
#[derive(Debug, Clone)]
pub enum Job {
    /// Frame sinks sharing one frame stream.
    Frames(FrameJob),
    /// One Zarr sink: one dataset, or several for an OME-Zarr pyramid.
    Zarr(ZarrJob),
}

/// Frame sinks sharing one render.
#[derive(Debug, Clone)]
pub struct FrameJob {
    /// The plan rendered (the first sink's).
    pub plan: RenderPlan,
    /// `true`: the plan renders smooth values (`f32`) for sinks that colour them; else counts.
    pub smooth: bool,
    /// The sinks fed, in spec order.
    pub sinks: Vec<FrameTarget>,
}

/// One frame sink of a [`FrameJob`].
#[derive(Debug, Clone)]
pub struct FrameTarget {
    /// Where the sink is in the spec.
    pub who: SinkName,
    /// Output path as written in the spec.
    pub path: PathBuf,
    /// What it writes.
    pub kind: FrameKind,
}

/// A sink's position and labels, for reports and messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkName {
    /// Position in the spec (0-based).
    pub index: usize,
    /// `sink 2 (png -> frames)`.
    pub label: String,
    /// `png frames` (progress bar).
    pub short: String,
}

impl SinkName {
    fn of(s: &SinkSpec) -> SinkName {
        SinkName {
            index: s.index,
            label: s.label(),
            short: s.short_label(),
        }
    }
}

/// A Zarr sink's job.
#[derive(Debug, Clone)]
pub struct ZarrJob {
    /// Where the sink is in the spec.
    pub who: SinkName,
    /// Store path as written in the spec.
    pub path: PathBuf,
    /// The sink's options.
    pub spec: ZarrSpec,
    /// One entry per dataset (pyramid level).
    pub datasets: Vec<Dataset>,
}

/// One Zarr array to write: what it holds and how it is rendered.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The lazy array (for `describe`).
    pub array: LazyArray,
    /// The plan rendered, tiled by the store's write units.
    pub plan: RenderPlan,
    /// The store's description (selection, chunks, shards).
    pub desc: ArrayDescription,
}

/// Key of frame sinks that can share a render: the same pixels of the same levels (the
/// timeline as bits), rendered as the same values.
#[derive(PartialEq, Eq, Hash)]
struct FrameKey(Selection, [u64; 3], bool);

impl FrameKey {
    fn of(s: &SinkSpec, kind: &FrameKind) -> FrameKey {
        let stack = s.plan.stack();
        let timeline = match stack.timeline {
            Timeline::Levels => [0, 0, 0],
            Timeline::Span { first, last } => [stack.levels, first.to_bits(), last.to_bits()],
        };
        FrameKey(*s.plan.selection(), timeline, kind.smooth())
    }
}

impl ZarrJob {
    /// Builds the Zarr job of one sink: dataset 0 is the sink's array; an OME pyramid adds
    /// `[:, ::2, ::2]`, `[:, ::4, ::4]`, ... rechunked like it. Layouts follow the engine's
    /// [`StoreLayout`] rule (pyramid levels keep the chunks per shard).
    fn new(s: &SinkSpec, z: &ZarrSpec) -> Result<ZarrJob, RunError> {
        let who = SinkName::of(s);
        let err = |e| RunError::Engine {
            sink: who.label.clone(),
            error: e,
        };
        let mut arrays = vec![s.array.clone()];
        for k in 1..=z.pyramid_levels {
            let f = 1u64 << k;
            arrays.push(
                s.array
                    .downsample(f, f, DownsampleMode::Stride)
                    .and_then(|a| a.rechunk(s.chunks))
                    .map_err(err)?,
            );
        }
        let mut datasets = Vec::with_capacity(arrays.len());
        let mut base: Option<StoreLayout> = None;
        for array in arrays {
            let plan = array.optimize().map_err(err)?;
            let layout = match base {
                None => StoreLayout::new(plan.shape(), plan.chunks(), z.shards).map_err(err)?,
                Some(b) => b.pyramid_level(plan.shape(), plan.chunks()),
            };
            base.get_or_insert(layout);
            datasets.push(Dataset {
                desc: ArrayDescription::of_plan(&plan, layout).with_values(z.values),
                plan: plan.for_store(&layout),
                array,
            });
        }
        Ok(ZarrJob {
            who,
            path: s.path.clone(),
            spec: z.clone(),
            datasets,
        })
    }
}

/// Groups the spec's sinks into render jobs (frame sinks with equal selections share one).
///
/// # Errors
///
/// [`RunError::Engine`] when a pyramid level or a store layout cannot be planned.
pub(crate) fn jobs(spec: &Spec) -> Result<Vec<Job>, RunError> {
    let mut jobs = Vec::new();
    let mut frame_groups: HashMap<FrameKey, usize> = HashMap::new();
    for s in &spec.sinks {
        match &s.kind {
            SinkKind::Zarr(z) => jobs.push(Job::Zarr(ZarrJob::new(s, z)?)),
            SinkKind::Frames(kind) => {
                let target = FrameTarget {
                    who: SinkName::of(s),
                    path: s.path.clone(),
                    kind: kind.clone(),
                };
                let key = FrameKey::of(s, kind);
                if let Some(&j) = frame_groups.get(&key) {
                    if let Job::Frames(f) = &mut jobs[j] {
                        f.sinks.push(target);
                    }
                } else {
                    frame_groups.insert(key, jobs.len());
                    jobs.push(Job::Frames(FrameJob {
                        plan: s.plan.clone(),
                        smooth: kind.smooth(),
                        sinks: vec![target],
                    }));
                }
            }
        }
    }
    Ok(jobs)
}

impl Job {
    /// Output pixels of the job (for progress).
    #[must_use]
    pub fn pixels(&self) -> u64 {
        match self {
            Job::Frames(f) => f.plan.len(),
            Job::Zarr(z) => z
                .datasets
                .iter()
                .map(|d| d.plan.len())
                .fold(0, u64::saturating_add),
        }
    }

    /// Grid pixels the job renders in full: for a Zarr job, none of its write units proven
    /// constant (stored without rendering).
    #[must_use]
    pub fn rendered_pixels(&self) -> u64 {
        match self {
            Job::Frames(f) => f.plan.rendered_pixels(),
            Job::Zarr(z) => z
                .datasets
                .iter()
                .map(|d| {
                    let constant = constant_units(d).map_or(0, |c| {
                        let sel = d.plan.selection();
                        c.num_levels()
                            .saturating_mul(sel.rows.rendered())
                            .saturating_mul(sel.cols.rendered())
                    });
                    d.plan.rendered_pixels().saturating_sub(constant)
                })
                .fold(0, u64::saturating_add),
        }
    }
}
