//! Peak memory while streaming levels of the notebook's stack to a consumer that discards them.
//!
//! `cargo run --release -p zoomstack-engine --example stream_rss -- [LEVELS] [THREADS] [tile|frame]`
//! (defaults: 2000 levels, all cores, `tile`). Prints wall time, throughput and the process's
//! peak resident set size (`VmHWM` from `/proc/self/status`, Linux only).

use std::time::Instant;
use zoomstack_engine::{EngineError, Executor, ZoomStack};

fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let levels: u64 = args.next().map_or(Ok(2000), |s| s.parse())?;
    let threads: usize = args.next().map_or(Ok(0), |s| s.parse())?;
    let mode = args.next().unwrap_or_else(|| "tile".to_string());
    let before = vm_hwm_kib();
    let plan = ZoomStack::default()
        .array()
        .select(&format!("[:{levels}]"))?
        .optimize()?;
    let exec = Executor::new(threads);
    let t = Instant::now();
    let progress = match mode.as_str() {
        "frame" => exec.for_each_frame(&plan, |_, _, frame| {
            std::hint::black_box(frame);
            Ok::<(), EngineError>(())
        })?,
        _ => exec.for_each_tile(
            &plan,
            |_| true,
            |tile| {
                std::hint::black_box(tile);
                Ok::<(), EngineError>(())
            },
        )?,
    };
    let secs = t.elapsed().as_secs_f64();
    println!(
        "streamed {} levels ({} tiles, {} pixels, {} mode) with {} threads in {secs:.2} s ({:.1} Mpixel/s)",
        levels,
        progress.tiles_done,
        progress.pixels_done,
        mode,
        exec.effective_threads(),
        progress.pixels_done as f64 / secs / 1e6
    );
    match (before, vm_hwm_kib()) {
        (Some(b), Some(a)) => println!(
            "peak RSS (VmHWM): {:.1} MiB (before planning: {:.1} MiB)",
            a as f64 / 1024.0,
            b as f64 / 1024.0
        ),
        _ => println!("peak RSS: /proc/self/status not available"),
    }
    Ok(())
}
