//! `zoomstack bench`: kernel throughput per backend on a standard level mix, in
//! pixel-iterations per second, against the scalar reference (`spec::escape_scalar`, one pixel
//! at a time) measured in the same run.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use zoomstack_kernel::{
    Backend, IndexRange, KernelError, StackParams, pixel_iterations, render_block,
};

/// The standard level mix: shallow (cardioid-heavy), middle, and the deepest notebook level.
pub const STANDARD_LEVELS: [u64; 5] = [0, 3000, 20000, 60000, 119999];

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Stack parameters (frame size, center, `max_iter`).
    pub params: StackParams,
    /// Levels rendered.
    pub levels: Vec<u64>,
    /// Every `stride`-th row and column of each level is rendered (a strided sub-grid, with the
    /// full grid's coordinates).
    pub stride: usize,
    /// Minimum measuring time per backend (repeats the pass until reached).
    pub min_time: Duration,
    /// Threads for the multi-threaded row (0: one per core; 1: no multi-threaded row).
    pub threads: usize,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            params: StackParams::default(),
            levels: STANDARD_LEVELS.to_vec(),
            stride: 2,
            min_time: Duration::from_millis(300),
            threads: 0,
        }
    }
}

/// One measured line.
#[derive(Debug, Clone)]
pub struct BenchRow {
    /// `reference`, or the backend's name.
    pub name: String,
    /// What ran (instruction set, FMA).
    pub describe: String,
    /// Threads used.
    pub threads: usize,
    /// Pixel-iterations per pass.
    pub work: u64,
    /// Passes measured.
    pub passes: u32,
    /// Seconds for all passes.
    pub seconds: f64,
    /// Pixel-iterations per second.
    pub rate: f64,
    /// `rate` over the reference's rate.
    pub ratio: f64,
    /// Counts equal the reference bit for bit.
    pub exact: bool,
}

/// The measurements and the pass they ran.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// The configuration.
    pub config: BenchConfig,
    /// Pixels per pass.
    pub pixels: u64,
    /// Rows, reference first.
    pub rows: Vec<BenchRow>,
}

struct PreparedLevel {
    level: u64,
    rows: IndexRange,
    cols: IndexRange,
    xs: Vec<f64>,
    ys: Vec<f64>,
}

fn prepare(cfg: &BenchConfig) -> Result<Vec<PreparedLevel>, KernelError> {
    let p = &cfg.params;
    let stride = cfg.stride.max(1);
    let step = i64::try_from(stride).unwrap_or(i64::MAX);
    let rows = IndexRange::new(0, step, p.height.div_ceil(stride) as u64);
    let cols = IndexRange::new(0, step, p.width.div_ceil(stride) as u64);
    cfg.levels
        .iter()
        .map(|&level| {
            let g = p.level_grid(level)?;
            Ok(PreparedLevel {
                level,
                rows,
                cols,
                xs: (0..cols.count)
                    .map(|k| g.cols.at(cols.at(k) as usize))
                    .collect(),
                ys: (0..rows.count)
                    .map(|k| g.rows.at(rows.at(k) as usize))
                    .collect(),
            })
        })
        .collect()
}

fn reference_pass(levels: &[PreparedLevel], max_iter: u32) -> Vec<Vec<u16>> {
    levels
        .iter()
        .map(|l| {
            let mut out = Vec::with_capacity(l.xs.len() * l.ys.len());
            for &ci in &l.ys {
                for &cr in &l.xs {
                    out.push(zoomstack_kernel::spec::escape_scalar(cr, ci, max_iter));
                }
            }
            out
        })
        .collect()
}

fn backend_pass(
    params: &StackParams,
    levels: &[PreparedLevel],
    backend: Backend,
) -> Result<Vec<Vec<u16>>, KernelError> {
    levels
        .iter()
        .map(|l| {
            let mut out = vec![0u16; l.xs.len() * l.ys.len()];
            render_block(params, l.level, l.rows, l.cols, backend, &mut out)?;
            Ok(out)
        })
        .collect()
}

/// One pass split over `threads` threads by bands of 8 rows.
fn threaded_pass(
    params: &StackParams,
    levels: &[PreparedLevel],
    backend: Backend,
    threads: usize,
) -> Result<Vec<Vec<u16>>, KernelError> {
    const BAND: u64 = 8;
    let tasks: Vec<(usize, u64)> = levels
        .iter()
        .enumerate()
        .flat_map(|(i, l)| (0..l.rows.count.div_ceil(BAND)).map(move |b| (i, b)))
        .collect();
    let next = AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::with_capacity(tasks.len()));
    let error = std::sync::Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let t = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(i, b)) = tasks.get(t) else { break };
                    let l = &levels[i];
                    let r0 = b * BAND;
                    let n = BAND.min(l.rows.count - r0);
                    let rows = l.rows.sub(r0, n);
                    let mut out = vec![0u16; (n * l.cols.count) as usize];
                    match render_block(params, l.level, rows, l.cols, backend, &mut out) {
                        Ok(()) => results
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .push((i, r0, out)),
                        Err(e) => {
                            *error
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(e);
                            break;
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = error
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
    {
        return Err(e);
    }
    let mut out: Vec<Vec<u16>> = levels
        .iter()
        .map(|l| vec![0u16; l.xs.len() * l.ys.len()])
        .collect();
    for (i, r0, band) in results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
    {
        let at = r0 as usize * levels[i].xs.len();
        out[i][at..at + band.len()].copy_from_slice(&band);
    }
    Ok(out)
}

/// Repeats `pass` until `min_time` has passed (at least once); returns (passes, seconds, counts).
fn measure<F>(min_time: Duration, mut pass: F) -> Result<(u32, f64, Vec<Vec<u16>>), KernelError>
where
    F: FnMut() -> Result<Vec<Vec<u16>>, KernelError>,
{
    let t0 = Instant::now();
    let mut passes = 0;
    let mut last;
    loop {
        last = pass()?;
        passes += 1;
        if t0.elapsed() >= min_time {
            break;
        }
    }
    Ok((passes, t0.elapsed().as_secs_f64(), last))
}

/// Runs the benchmark.
///
/// # Errors
///
/// The errors of [`StackParams::validate`], and [`KernelError::BadFloat`] for a level whose
/// scale underflows ([`StackParams::level_grid`]).
pub fn run(cfg: &BenchConfig) -> Result<BenchReport, KernelError> {
    cfg.params.validate()?;
    let levels = prepare(cfg)?;
    let max_iter = cfg.params.max_iter;
    let pixels: u64 = levels.iter().map(|l| l.rows.count * l.cols.count).sum();
    // The reference is slow: one pass.
    let (passes, seconds, reference) =
        measure(Duration::ZERO, || Ok(reference_pass(&levels, max_iter)))?;
    let work: u64 = reference
        .iter()
        .map(|c| pixel_iterations(c, max_iter))
        .sum();
    let ref_rate = work as f64 * f64::from(passes) / seconds.max(1e-9);
    let mut rows = vec![BenchRow {
        name: "reference".into(),
        describe: "spec::escape_scalar, one pixel at a time".into(),
        threads: 1,
        work,
        passes,
        seconds,
        rate: ref_rate,
        ratio: 1.0,
        exact: true,
    }];
    let mut row = |name: String, describe: String, threads: usize, m: (u32, f64, Vec<Vec<u16>>)| {
        let (passes, seconds, counts) = m;
        let rate = work as f64 * f64::from(passes) / seconds.max(1e-9);
        rows.push(BenchRow {
            name,
            describe,
            threads,
            work,
            passes,
            seconds,
            rate,
            ratio: rate / ref_rate,
            exact: counts == reference,
        });
    };
    for backend in Backend::ALL {
        let m = measure(cfg.min_time, || backend_pass(&cfg.params, &levels, backend))?;
        row(backend.name().into(), backend.describe(), 1, m);
    }
    let threads = if cfg.threads == 0 {
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
    } else {
        cfg.threads
    };
    if threads > 1 {
        let backend = Backend::fastest();
        let m = measure(cfg.min_time, || {
            threaded_pass(&cfg.params, &levels, backend, threads)
        })?;
        row(backend.name().into(), backend.describe(), threads, m);
    }
    Ok(BenchReport {
        config: cfg.clone(),
        pixels,
        rows,
    })
}

/// Formats a rate like `3.31e9`.
pub fn sci(v: f64) -> String {
    format!("{v:.2e}")
}

impl std::fmt::Display for BenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = &self.config;
        let p = &c.params;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "Kernel throughput: levels {:?} of the {}x{} stack, every {} row and column ({} pixels), max_iter {}",
            c.levels,
            p.height,
            p.width,
            match c.stride {
                1 => String::new(),
                2 => "2nd".to_string(),
                3 => "3rd".to_string(),
                k => format!("{k}th"),
            },
            self.pixels,
            p.max_iter
        );
        let work = self.rows.first().map_or(0, |r| r.work);
        let _ = writeln!(
            s,
            "{} pixel-iterations per pass; rates in pixel-iterations per second (wall)\n",
            sci(work as f64)
        );
        let _ = writeln!(
            s,
            "{:<10} {:>7} {:>10} {:>9} {:>6}  instruction set",
            "backend", "threads", "px-it/s", "vs ref", "exact"
        );
        for r in &self.rows {
            let _ = writeln!(
                s,
                "{:<10} {:>7} {:>10} {:>8.1}x {:>6}  {}",
                r.name,
                r.threads,
                sci(r.rate),
                r.ratio,
                if r.exact { "yes" } else { "NO" },
                r.describe
            );
        }
        f.write_str(s.trim_end())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_bench_is_exact() {
        let cfg = BenchConfig {
            params: StackParams {
                height: 32,
                width: 32,
                ..StackParams::default()
            },
            levels: vec![0, 119999],
            stride: 3,
            min_time: Duration::ZERO,
            threads: 2,
        };
        let r = run(&cfg).unwrap();
        assert_eq!(r.pixels, 2 * 11 * 11);
        assert_eq!(r.rows.len(), 5);
        assert!(r.rows.iter().all(|r| r.exact && r.work > 0), "{r}");
        let text = r.to_string();
        assert!(
            text.contains("reference") && text.contains("f64x8"),
            "{text}"
        );
    }
}
