//! Rough cost of one reference-orbit step `Z <- Z^2 + C` in big precision (dashu-float), and of
//! the exact mode's delta loop, on this machine:
//!
//! ```text
//! cargo run --release -p zoomstack-kernel --example orbit_step
//! ```
//!
//! Thread CPU time, best of 5; not a benchmark (the machines are shared): kernel/README.md
//! quotes its numbers as rough.

use cpu_time::ThreadTime as Instant;
use zoomstack_kernel::exact::{ExactStack, ReferenceOrbit, render_block_exact};
use zoomstack_kernel::{Backend, IndexRange, pixel_iterations};

fn main() {
    let stack = ExactStack::default();
    println!("reference orbit of the notebook's centre, 250 updates (it escapes on the 251st):");
    for bits in [128usize, 256, 1024, 4096] {
        let mut best = f64::INFINITY;
        for _ in 0..5 {
            let t = Instant::now();
            let o = ReferenceOrbit::compute(&stack.center_re, &stack.center_im, 256, bits).unwrap();
            best = best.min(t.elapsed().as_secs_f64() / (o.points().len() - 1) as f64);
        }
        println!("  {bits:5} bits: {:6.2} us per step", best * 1e6);
    }
    let level = 130000;
    let orbit = ReferenceOrbit::for_level(&stack, level).unwrap();
    let full = IndexRange::full(512);
    let mut out = vec![0u16; 512 * 512];
    println!("delta loop, level {level}, 512 x 512:");
    for b in Backend::ALL {
        let mut best = f64::INFINITY;
        for _ in 0..3 {
            let t = Instant::now();
            render_block_exact(&stack, &orbit, level, full, full, b, &mut out).unwrap();
            best = best.min(t.elapsed().as_secs_f64());
        }
        let work = pixel_iterations(&out, stack.max_iter) as f64;
        println!(
            "  {:40} {:.2e} pixel-iterations per second",
            b.describe(),
            work / best
        );
    }
}
