//! Exact mode vs numpy mode, side by side, on the same levels of the notebook's stack:
//! `cargo run --release -p zoomstack-kernel --example exact_speed [-- ROUNDS]`.
//!
//! Each round renders every level once per variant (numpy mode with the fastest backend, exact
//! mode with each backend), interleaved, timing this thread's CPU time; the table gives the
//! median rate per variant and level, in pixel-iterations per CPU-second, and exact/numpy
//! ratios. Interleaving keeps the ratios fair on a loaded machine; single figures are noisy.
//! `LEVELS=100000,120000` picks the levels.

use cpu_time::ThreadTime as Instant;
use zoomstack_kernel::exact::{ExactStack, OrbitCache, render_block_exact};
use zoomstack_kernel::{Backend, IndexRange, StackParams, pixel_iterations, render_block};

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .map_or(5, |r| r.parse().expect("rounds"));
    let levels: Vec<u64> = match std::env::var("LEVELS") {
        Ok(list) => list.split(',').map(|l| l.trim().parse().unwrap()).collect(),
        Err(_) => vec![100000, 110000, 120000, 130000, 140000],
    };
    let (p, s) = (StackParams::default(), ExactStack::default());
    let full = (IndexRange::full(512), IndexRange::full(512));
    let mut out = vec![0u16; 512 * 512];
    let orbits: Vec<_> = levels
        .iter()
        .map(|&l| OrbitCache::global().for_level(&s, l).unwrap())
        .collect();
    let names = ["numpy", "scalar", "f64x4", "f64x8"];
    // rates[variant][level][round]
    let mut rates = vec![vec![Vec::new(); levels.len()]; names.len()];
    for _ in 0..rounds {
        for (li, &level) in levels.iter().enumerate() {
            for (vi, rate) in rates.iter_mut().enumerate() {
                let t = Instant::now();
                if vi == 0 {
                    render_block(&p, level, full.0, full.1, Backend::fastest(), &mut out).unwrap();
                } else {
                    let b = Backend::ALL[vi - 1];
                    render_block_exact(&s, &orbits[li], level, full.0, full.1, b, &mut out)
                        .unwrap();
                }
                let dt = t.elapsed().as_secs_f64();
                rate[li].push(pixel_iterations(&out, p.max_iter) as f64 / dt);
            }
        }
    }
    println!(
        "px-it per CPU-second, median of {rounds} rounds; numpy = {}",
        Backend::fastest().describe()
    );
    print!("{:>7}", "level");
    for n in names {
        print!(" {n:>9}");
    }
    println!("   ratios to numpy");
    let mut sums = vec![0.0; names.len()];
    for (li, &level) in levels.iter().enumerate() {
        let med: Vec<f64> = rates.iter().map(|r| median(&r[li])).collect();
        print!("{level:>7}");
        for m in &med {
            print!(" {m:>9.3e}");
        }
        print!("  ");
        for m in &med[1..] {
            print!(" {:>6.3}", m / med[0]);
        }
        println!();
        for (s, m) in sums.iter_mut().zip(&med) {
            *s += m.ln();
        }
    }
    let geo: Vec<f64> = sums
        .iter()
        .map(|s| (s / levels.len() as f64).exp())
        .collect();
    print!("{:>7}", "geomean");
    for g in &geo {
        print!(" {g:>9.3e}");
    }
    print!("  ");
    for g in &geo[1..] {
        print!(" {:>6.3}", g / geo[0]);
    }
    println!();
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
