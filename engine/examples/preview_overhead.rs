//! The executor's overhead on the notebook's preview `[0:20000:500, ::2, ::2]`, measured in
//! both wall time (min and median of N runs) and process CPU time, which is steadier than wall
//! time on a shared machine:
//!
//! * `direct`: `render_block` called in a loop for the same pixels (one thread, no executor);
//! * `compute/T`: `Executor::compute` with T threads (includes the result array);
//! * `discard/T`: `Executor::for_each_tile` with T threads and a consumer that drops tiles.
//!
//! `cargo run --release -p zoomstack-engine --example preview_overhead -- [RUNS]` (default 20).
//! CPU time comes from `/proc/self/stat` (Linux, 10 ms ticks summed over all runs).

use std::time::{Duration, Instant};
use zoomstack_engine::{EngineError, Executor, ZoomStack};
use zoomstack_kernel::{Backend, IndexRange, StackParams, render_block};

/// Process CPU time (user + system) in seconds, if `/proc` has it.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runs: usize = std::env::args().nth(1).map_or(Ok(20), |s| s.parse())?;
    let plan = ZoomStack::default()
        .array()
        .select("[0:20000:500, ::2, ::2]")?
        .optimize()?;
    let p = StackParams::default();
    let backend = Backend::fastest();
    let mut out = vec![0u16; 256 * 256];
    let names = ["direct", "compute/1", "compute/2", "discard/1", "discard/2"];
    let mut wall: Vec<Vec<Duration>> = vec![vec![]; names.len()];
    let mut cpu = vec![0.0f64; names.len()];
    for _ in 0..runs {
        for (i, name) in names.iter().enumerate() {
            let (t, c) = (Instant::now(), cpu_seconds().unwrap_or(0.0));
            if *name == "direct" {
                for k in 0..40 {
                    let (rows, cols) = (IndexRange::new(0, 2, 256), IndexRange::new(0, 2, 256));
                    render_block(&p, k * 500, rows, cols, backend, &mut out)?;
                    std::hint::black_box(&out);
                }
            } else {
                let threads = if name.ends_with('1') { 1 } else { 2 };
                let exec = Executor::new(threads).with_backend(backend);
                if name.starts_with("compute") {
                    std::hint::black_box(exec.compute(&plan)?);
                } else {
                    exec.for_each_tile(
                        &plan,
                        |_| true,
                        |t| {
                            std::hint::black_box(t);
                            Ok::<(), EngineError>(())
                        },
                    )?;
                }
            }
            wall[i].push(t.elapsed());
            cpu[i] += cpu_seconds().unwrap_or(0.0) - c;
        }
    }
    println!("{runs} runs, backend {}", backend.describe());
    for (i, name) in names.iter().enumerate() {
        wall[i].sort();
        println!(
            "{name:>10}: wall min {:7.2} ms, median {:7.2} ms; CPU {:7.2} ms per run",
            wall[i][0].as_secs_f64() * 1e3,
            wall[i][runs / 2].as_secs_f64() * 1e3,
            cpu[i] / runs as f64 * 1e3
        );
    }
    Ok(())
}
