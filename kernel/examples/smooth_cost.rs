//! Smooth values' cost over counts alone, the two alternating round by round on the level mix
//! (thread CPU time; prints the median of the per-round ratios and each side's median):
//! `cargo run --release -p zoomstack-kernel --example smooth_cost`. `ROUNDS=40` by default.

use cpu_time::ThreadTime as Instant;
use zoomstack_kernel::{Backend, IndexRange, StackParams, render_block, render_block_smooth};

fn main() {
    let p = StackParams::default();
    let levels = [0, 3000, 20000, 60000, 119999];
    let rounds: usize = std::env::var("ROUNDS").map_or(40, |r| r.parse().unwrap());
    let (all, backend) = (IndexRange::full(512), Backend::fastest());
    let (mut counts, mut smooth) = (vec![0u16; 512 * 512], vec![0f32; 512 * 512]);
    let (mut tc, mut ts, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = Instant::now();
        for &l in &levels {
            render_block(&p, l, all, all, backend, &mut counts).unwrap();
        }
        let c = t.elapsed().as_secs_f64();
        let t = Instant::now();
        for &l in &levels {
            render_block_smooth(&p, l, all, all, backend, &mut smooth).unwrap();
        }
        let s = t.elapsed().as_secs_f64();
        tc.push(c);
        ts.push(s);
        ratio.push(s / c);
    }
    let median = |xs: &mut Vec<f64>| {
        xs.sort_by(f64::total_cmp);
        xs[xs.len() / 2]
    };
    println!(
        "{backend}: smooth / counts {:.3} (median of {rounds} rounds); counts {:.2} ms, smooth {:.2} ms (medians)",
        median(&mut ratio),
        median(&mut tc) * 1e3,
        median(&mut ts) * 1e3
    );
}
