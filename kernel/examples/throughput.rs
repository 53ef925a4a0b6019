//! Quick kernel throughput check: `cargo run --release -p zoomstack-kernel --example throughput`.
//! Times are this thread's CPU time, so other load on the machine disturbs them less.
//! (The numbers we publish come from the criterion benches in `benches/`.)

use cpu_time::ThreadTime as Instant;
use zoomstack_kernel::{Backend, IndexRange, StackParams, pixel_iterations, render_block};

fn main() {
    let p = StackParams::default();
    let levels: Vec<u64> = match std::env::var("LEVELS") {
        Ok(list) => list.split(',').map(|l| l.trim().parse().unwrap()).collect(),
        Err(_) => vec![0, 3000, 20000, 60000, 119999],
    };
    let mut out = vec![0u16; 512 * 512];
    // `ZOOMSTACK_KERNEL=f64x8` measures one backend only.
    let only = std::env::var("ZOOMSTACK_KERNEL")
        .ok()
        .map(|_| Backend::from_env().unwrap());
    for backend in Backend::ALL
        .into_iter()
        .filter(|b| only.is_none_or(|o| o == *b))
    {
        let mut work = 0u64;
        let mut best = f64::INFINITY;
        for _ in 0..3 {
            let t = Instant::now();
            work = 0;
            for &l in &levels {
                render_level(&p, l, backend, &mut out);
                work += pixel_iterations(&out, p.max_iter);
            }
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!(
            "{:<8} {:>8.3e} pixel-iterations/s  ({})",
            backend.name(),
            work as f64 / best,
            backend.describe()
        );
        if std::env::args().any(|a| a == "--per-level") {
            for &l in &levels {
                let t = Instant::now();
                render_level(&p, l, backend, &mut out);
                let dt = t.elapsed().as_secs_f64();
                println!(
                    "    level {l:>6}: {:>8.3e} /s, {:.2} ms",
                    pixel_iterations(&out, p.max_iter) as f64 / dt,
                    dt * 1e3
                );
            }
        }
    }
}

/// Renders the whole 512 x 512 level `level` into `out`.
fn render_level(p: &StackParams, level: u64, backend: Backend, out: &mut [u16]) {
    render_block(
        p,
        level,
        IndexRange::full(512),
        IndexRange::full(512),
        backend,
        out,
    )
    .unwrap();
}
