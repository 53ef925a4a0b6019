//! Sink benchmarks: streaming full 512x512 levels into a Zarr store (zstd) versus rendering the
//! same tiles into a consumer that discards them.
//!
//! The levels are `ZOOMSTACK_BENCH_SELECT` (default `[0:120000:60]`: 2000 levels spread evenly
//! over the notebook's 120000, so the per-level cost is the whole stack's average and the
//! numbers extrapolate to the full stack). For each configuration, `ZOOMSTACK_BENCH_PAIRS`
//! (default 3) alternating discard/zarr runs are timed first (alternating cancels the drift of
//! a shared machine) and the bench prints the medians, the median per-pair overhead, raw MB/s,
//! compression ratio, store size, peak RSS (Linux `VmHWM`, reset before each run) and the
//! extrapolation to all 120000 levels. Then criterion times both sides on its own.
//!
//! ```text
//! cargo bench -p zoomstack-benches --bench sinks -- --sample-size 10 --warm-up-time 1 --measurement-time 1
//! # only the paired comparison (a filter that matches no criterion benchmark):
//! cargo bench -p zoomstack-benches --bench sinks -- paired-only
//! ZOOMSTACK_BENCH_SELECT="[0:2000]" ZOOMSTACK_BENCH_PAIRS=5 cargo bench -p zoomstack-benches --bench sinks -- paired-only
//! ```

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use zoomstack_engine::{Executor, RenderPlan};
use zoomstack_pipeline::spec::parse_str;
use zoomstack_pipeline::{Job, Observer, Pipeline, RunOptions, Silent};

/// Peak resident set size since the last reset, in bytes (Linux; 0 elsewhere).
fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// CPU time (user + system, all threads) of this process so far, in seconds (Linux; 0 elsewhere).
/// Unlike wall time, it does not depend on what else the (shared) machine is running.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the parenthesized command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // Clock ticks are 100 per second on Linux (USER_HZ).
    (ticks(11) + ticks(12)) / 100.0
}

/// Reset the peak RSS counter (Linux `clear_refs` value 5).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        s[n / 2]
    } else {
        f64::midpoint(s[n / 2 - 1], s[n / 2])
    }
}

fn dir_bytes(p: &Path) -> u64 {
    let mut total = 0;
    if let Ok(entries) = std::fs::read_dir(p) {
        for e in entries.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => total += dir_bytes(&e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

struct Config {
    name: &'static str,
    /// The `[[sink]]` keys beside kind, path and select.
    keys: &'static str,
}

/// The Zarr sink of `cfg` writing `select` of the notebook's stack to `dir`, as a spec: the
/// bench runs exactly what `zoomstack run` runs.
fn zarr_pipeline(select: &str, cfg: &Config, dir: &Path) -> Pipeline {
    let text = format!(
        "[[sink]]\nkind = \"zarr\"\npath = {:?}\nselect = \"{select}\"\n{}\n",
        dir.display().to_string(),
        cfg.keys
    );
    Pipeline::new(parse_str("bench.toml", &text).expect("bench spec")).expect("bench pipeline")
}

fn zarr_run(p: &Pipeline, threads: usize) -> u64 {
    let opts = RunOptions {
        threads,
        ..RunOptions::default()
    };
    let silent: Arc<dyn Observer> = Arc::new(Silent);
    let report = p.run(&opts, &silent).expect("write");
    let r = &report.sinks[0].zarr[0];
    assert!(r.complete);
    r.raw_bytes_written
}

fn discard_run(plan: &RenderPlan, exec: &Executor) -> u64 {
    exec.for_each_tile(
        plan,
        |_| true,
        |tile| {
            black_box(&tile.data);
            Ok::<(), std::io::Error>(())
        },
    )
    .expect("render")
    .pixels_done
}

fn sinks(c: &mut Criterion) {
    let select =
        std::env::var("ZOOMSTACK_BENCH_SELECT").unwrap_or_else(|_| "[0:120000:60]".to_string());
    let out_root = std::env::var("ZOOMSTACK_BENCH_DIR").unwrap_or_else(|_| {
        std::env::temp_dir()
            .join("zoomstack-sinks-bench")
            .display()
            .to_string()
    });
    std::fs::create_dir_all(&out_root).expect("bench output directory");
    let pairs: usize = std::env::var("ZOOMSTACK_BENCH_PAIRS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let threads = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let exec = Executor::new(threads);
    let configs = [
        Config {
            name: "zstd3_chunks_1x256x256",
            keys: "chunks = [1, 256, 256]\ncompression_level = 3",
        },
        Config {
            name: "zstd3_shard_8x512x512_chunks_1x256x256",
            keys: "chunks = [1, 256, 256]\nshards = [8, 512, 512]\ncompression_level = 3",
        },
    ];

    let mut group = c.benchmark_group("sinks");
    group.sample_size(10);
    for cfg in &configs {
        let store = Path::new(&out_root).join(cfg.name);
        let _ = std::fs::remove_dir_all(&store);
        let p = zarr_pipeline(&select, cfg, &store);
        // The discarding consumer renders exactly the sink's tiles (its write units).
        let Job::Zarr(job) = &p.jobs()[0] else {
            panic!("a zarr job")
        };
        let tiled: RenderPlan = job.datasets[0].plan.clone();
        let raw = tiled.bytes();
        group.throughput(Throughput::Bytes(raw));
        let levels = tiled.shape()[0];

        // Alternate discard and zarr runs (the machine is shared: drift hits both sides alike)
        // and compare medians and the median of the per-pair ratios.
        let mut discard_s = Vec::new();
        let mut zarr_s = Vec::new();
        let (mut discard_cpu, mut zarr_cpu) = (Vec::new(), Vec::new());
        let (mut discard_rss, mut zarr_rss, mut stored) = (0u64, 0u64, 0u64);
        for _ in 0..pairs {
            reset_peak_rss();
            let (t, c) = (Instant::now(), cpu_seconds());
            discard_run(&tiled, &exec);
            discard_s.push(t.elapsed().as_secs_f64());
            discard_cpu.push(cpu_seconds() - c);
            discard_rss = discard_rss.max(peak_rss());
            reset_peak_rss();
            let (t, c) = (Instant::now(), cpu_seconds());
            zarr_run(&p, threads);
            zarr_s.push(t.elapsed().as_secs_f64());
            zarr_cpu.push(cpu_seconds() - c);
            zarr_rss = zarr_rss.max(peak_rss());
            stored = dir_bytes(&store);
            let _ = std::fs::remove_dir_all(&store);
        }
        let ratios: Vec<f64> = zarr_s.iter().zip(&discard_s).map(|(z, d)| z / d).collect();
        let (d_med, z_med, r_med) = (median(&discard_s), median(&zarr_s), median(&ratios));
        let cpu_ratios: Vec<f64> = zarr_cpu
            .iter()
            .zip(&discard_cpu)
            .map(|(z, d)| z / d)
            .collect();
        let scale = 120_000.0 / levels as f64;
        eprintln!(
            "sinks/{name}: {levels} levels {select}, raw {raw_mb:.1} MB, tiles {tile:?}, {pairs} pairs\n  \
             discard: median {d_med:.2} s ({dmb:.0} MB/s) {discard_s:.2?}, peak RSS {drss:.0} MiB\n  \
             zarr:    median {z_med:.2} s ({zmb:.0} MB/s) {zarr_s:.2?}, peak RSS {zrss:.0} MiB\n  \
             stored {st_mb:.1} MB, compression {ratio:.2}x; zarr/discard per pair {ratios:.3?}, \
             median overhead {over:+.1}%\n  \
             CPU time: discard {discard_cpu:.1?} s, zarr {zarr_cpu:.1?} s, median overhead {cpu_over:+.1}%\n  \
             120000 levels (x{scale:.0}): zarr {tt:.1} min at this rate, {size:.2} GiB stored (raw {rawg:.2} GiB)",
            name = cfg.name,
            raw_mb = raw as f64 / 1e6,
            tile = tiled.chunks(),
            dmb = raw as f64 / 1e6 / d_med,
            drss = discard_rss as f64 / f64::from(1 << 20),
            zmb = raw as f64 / 1e6 / z_med,
            zrss = zarr_rss as f64 / f64::from(1 << 20),
            st_mb = stored as f64 / 1e6,
            ratio = raw as f64 / stored.max(1) as f64,
            over = 100.0 * (r_med - 1.0),
            cpu_over = 100.0 * (median(&cpu_ratios) - 1.0),
            tt = z_med * scale / 60.0,
            size = stored as f64 * scale / (1u64 << 30) as f64,
            rawg = raw as f64 * scale / (1u64 << 30) as f64,
        );

        group.bench_function(format!("discard/{}", cfg.name), |b| {
            b.iter(|| discard_run(&tiled, &exec));
        });
        group.bench_function(format!("zarr/{}", cfg.name), |b| {
            b.iter_batched(
                || {
                    let _ = std::fs::remove_dir_all(&store);
                    store.clone()
                },
                |_| zarr_run(&p, threads),
                BatchSize::PerIteration,
            );
        });
        let _ = std::fs::remove_dir_all(&store);
    }
    group.finish();
}

criterion_group!(benches, sinks);
criterion_main!(benches);
