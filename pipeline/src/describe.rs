//! `zoomstack describe`: the stack, each sink's plan before and after optimization with its
//! dask-style table, store layouts, and how sinks share renders. Renders nothing.

use std::fmt::Write as _;
use std::path::Path;

use zoomstack_engine::{Arithmetic, format_bytes, format_real};
use zoomstack_kernel::SPACING_ULPS;
use zoomstack_kernel::exact::{ExactStack, OrbitCache, ReferenceOrbit, proof};
use zoomstack_sinks::{Compression, StoreValues};

use crate::jobs::Job;
use crate::run::{Pipeline, resolve};
use crate::spec::FrameKind;
use crate::spec::SinkKind;
use crate::store::constant_units;

fn tuple(v: &[u64]) -> String {
    let parts: Vec<String> = v.iter().map(u64::to_string).collect();
    format!("({})", parts.join(", "))
}

impl Pipeline {
    /// Where the notebook's f64 arithmetic stops resolving this stack, in one sentence.
    #[must_use]
    pub fn f64_limits_text(&self) -> String {
        let stack = &self.spec().stack;
        if let Arithmetic::Exact(e) = &stack.arithmetic {
            return exact_text(e, stack.levels);
        }
        let l = stack.params.f64_limits(stack.levels);
        let at = |v: Option<u64>| match v {
            Some(level) => format!("from level {level}"),
            None => format!("beyond this stack's {} levels", stack.levels),
        };
        let hint = if l.coarse_from.is_some() {
            " (arithmetic = \"exact\" gives the true counts there)"
        } else {
            ""
        };
        format!(
            "f64 (numpy) arithmetic: pixel spacing below {SPACING_ULPS} ulp of the centre {}; \
             neighbouring columns or rows share one f64 coordinate {}{hint}",
            at(l.coarse_from),
            at(l.collapse_from)
        )
    }

    /// Warnings for sinks that render levels where f64 no longer resolves pixels (see
    /// [`Pipeline::f64_limits_text`]): there the counts are the notebook's f64 results, which
    /// differ from the mathematically true counts on more and more pixels.
    #[must_use]
    pub fn f64_warnings(&self) -> Vec<String> {
        let stack = &self.spec().stack;
        if stack.arithmetic != Arithmetic::Numpy {
            return Vec::new();
        }
        let l = stack.params.f64_limits(stack.levels);
        let mut out = Vec::new();
        for sink in &self.spec().sinks {
            let Some((_, deepest)) = sink.plan.selection().levels.bounds() else {
                continue;
            };
            let what = match (l.collapse_from, l.coarse_from) {
                (Some(c), _) if deepest >= c => format!(
                    "from level {c} neighbouring columns or rows share one f64 coordinate (the \
                     image collapses into stripes)"
                ),
                (_, Some(k)) if deepest >= k => format!(
                    "from level {k} the pixel spacing is below {SPACING_ULPS} ulp of the centre"
                ),
                _ => continue,
            };
            out.push(format!(
                "{}: renders levels up to {deepest}, and {what}; the counts there are the \
                 notebook's f64 (numpy) results, not the true escape counts of the pixels \
                 (set [stack] arithmetic = \"exact\" for those)",
                sink.label()
            ));
        }
        out
    }

    /// The description of the whole pipeline, as text.
    #[must_use]
    pub fn describe(&self, out_dir: &Path) -> String {
        let spec = self.spec();
        let mut s = String::new();
        let p = &spec.stack.params;
        let _ = writeln!(
            s,
            "Stack: {} levels of {} x {} (height x width), center [{}, {}], scale0 {}, zoom_per_level {}, max_iter {}, arithmetic {}",
            spec.stack.levels,
            p.height,
            p.width,
            format_real(p.center_re),
            format_real(p.center_im),
            format_real(p.scale0),
            format_real(p.zoom_per_level),
            p.max_iter,
            spec.stack.arithmetic.name()
        );
        let whole = spec.stack.array().describe();
        let _ = writeln!(
            s,
            "       {} uint16 in all, {} pixels",
            format_bytes(whole.bytes),
            whole.stack_pixels
        );
        let _ = writeln!(s, "       {}\n", self.f64_limits_text());
        for sink in &spec.sinks {
            let _ = writeln!(
                s,
                "== {}: {}",
                sink.label(),
                resolve(out_dir, &sink.path).display()
            );
            let _ = writeln!(s, "select {}", sink.select);
            s.push_str(&sink.array.explain());
            let _ = writeln!(s, "{}", sink.describe());
            if let SinkKind::Zarr(z) = &sink.kind
                && let Some(Job::Zarr(job)) = self
                    .jobs()
                    .iter()
                    .find(|j| matches!(j, Job::Zarr(z) if z.who.index == sink.index))
            {
                for (k, d) in job.datasets.iter().enumerate() {
                    let unit = d.desc.layout.unit().map(|c| c as u64);
                    let constant = constant_units(d).map_or(0, |c| c.num_tiles());
                    let name = if z.ome {
                        format!("dataset {k}")
                    } else {
                        "array".to_string()
                    };
                    let _ = writeln!(
                        s,
                        "{name}: {} {}, shape {}, chunks {}, {} {}, {} write units{}, select {}{}",
                        d.desc.data_type(),
                        match d.desc.values {
                            StoreValues::Counts => "counts",
                            StoreValues::Smooth => "smooth values",
                        },
                        tuple(&d.desc.shape()),
                        tuple(&d.desc.chunks().map(|c| c as u64)),
                        if d.desc.layout.shard().is_some() {
                            "shards"
                        } else {
                            "unit"
                        },
                        tuple(&unit),
                        d.plan.num_tiles(),
                        if constant > 0 {
                            format!(" ({constant} proven constant: stored without rendering)")
                        } else {
                            String::new()
                        },
                        d.desc.selection.select_text(),
                        d.desc
                            .selection
                            .mean_factors()
                            .map(|m| format!(", mean {m:?}"))
                            .unwrap_or_default()
                    );
                }
                let codec = match z.compression {
                    Compression::None => "none".to_string(),
                    Compression::Zstd { level } => format!("zstd level {level}"),
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
        for (n, job) in self.jobs().iter().enumerate() {
            total = total.saturating_add(job.rendered_pixels());
            match job {
                Job::Frames(f) => {
                    let names: Vec<&str> = f.sinks.iter().map(|t| t.who.label.as_str()).collect();
                    let [l, h, w] = f.plan.shape();
                    let _ = writeln!(
                        s,
                        "  {}. one frame stream of {l} frames {h} x {w} ({}), {} pixels rendered -> {}",
                        n + 1,
                        if f.smooth { "smooth values" } else { "counts" },
                        f.plan.rendered_pixels(),
                        names.join(", ")
                    );
                    for t in &f.sinks {
                        if let FrameKind::Video(v) = &t.kind {
                            let _ = writeln!(s, "     video plan: {}", v.timing.summary());
                        }
                    }
                }
                Job::Zarr(z) => {
                    let units: u64 = z.datasets.iter().map(|d| d.plan.num_tiles()).sum();
                    let _ = writeln!(
                        s,
                        "  {}. {} write units, {} pixels rendered -> {}",
                        n + 1,
                        units,
                        job.rendered_pixels(),
                        z.who.label
                    );
                }
            }
        }
        let _ = writeln!(s, "Total: {total} pixels rendered");
        s
    }
}

/// What one reference-orbit point holds: `Z_m` and the delta loop's table entry, both f64.
const ORBIT_BYTES_PER_POINT: u64 = 16 + 64;
/// Updates `describe` times the reference orbit on.
const ORBIT_PROBE: u32 = 2000;

/// What the exact contract does for this stack: the reference orbit, its precision over the
/// stack's levels and how deep f64 deltas reach.
fn exact_text(e: &ExactStack, levels: u64) -> String {
    let last = levels - 1;
    let prec = |l: u64| match e.orbit_precision(l) {
        Ok(p) => format!("{p} bits"),
        Err(err) => format!("({err})"),
    };
    let too_deep = first_too_deep(e, last);
    let depth = if too_deep > last {
        "every level is within the 1e-300 pixel spacing f64 deltas cover".to_string()
    } else {
        format!(
            "levels from {too_deep} have a pixel spacing below the 1e-300 f64 deltas cover and \
             are rendered only where proven constant"
        )
    };
    let deepest = last.min(too_deep.saturating_sub(1));
    let orbit = match OrbitCache::global().for_level(e, 0) {
        Ok(o) => {
            let points = o.points().len();
            let ends = match o.escape_count() {
                Some(c) => format!("the centre escapes with count {c}"),
                None => format!("the centre does not escape within {}", e.max_iter),
            };
            // Its cost, timed on its first updates (the orbit itself may come from the cache).
            let probe = e.max_iter.min(ORBIT_PROBE);
            let t = std::time::Instant::now();
            let timed = ReferenceOrbit::compute(&e.center_re, &e.center_im, probe, o.precision())
                .map(|p| p.points().len() - 1);
            let cost = match timed {
                Ok(n) if n > 0 => format!(
                    ", about {:.2} s to compute ({:.2} us per update, timed on {n})",
                    t.elapsed().as_secs_f64() * (points - 1) as f64 / n as f64,
                    t.elapsed().as_secs_f64() * 1e6 / n as f64
                ),
                _ => String::new(),
            };
            format!(
                "; the reference orbit (level 0): {points} points, {ends}, {} in memory{cost}",
                format_bytes(points as u64 * ORBIT_BYTES_PER_POINT),
            )
        }
        Err(err) => format!("; the reference orbit failed: {err}"),
    };
    let proven = match proof::ConstantFrames::global().find(e, OrbitCache::global()) {
        Ok(Some(c)) if c.level <= last => format!(
            "; levels from {} on are proven constant (count {}) and cost no per-pixel work",
            c.level, c.count
        ),
        Ok(Some(c)) => format!(
            "; no level of this stack is proven constant (this centre's frames are from level {})",
            c.level
        ),
        Ok(None) => "; no level is proven constant".to_string(),
        Err(err) => format!("; the constant-frame proof failed: {err}"),
    };
    let method = if e.bla {
        "; BLA on: runs of delta updates are skipped by linear steps merged along the orbit \
         (one table per level and octave of frame size, built when first needed)"
    } else {
        ""
    };
    format!(
        "exact arithmetic: true escape counts (perturbation around one reference orbit of the \
         centre, {} at level 0 to {} at level {deepest}){orbit}; {depth}{proven}{method}",
        prec(0),
        prec(deepest)
    )
}

/// The first level past the depth f64 deltas cover (the spacing shrinks with the level), or
/// `last + 1` when every level is within it.
fn first_too_deep(e: &ExactStack, last: u64) -> u64 {
    if e.check_depth(last).is_ok() {
        return last + 1;
    }
    let (mut lo, mut hi) = (0u64, last);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if e.check_depth(mid).is_ok() {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}
