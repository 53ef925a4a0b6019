//! Escape-loop strategies side by side, interleaved round by round (thread CPU time, median
//! per level over the rounds): `cargo run --release -p zoomstack-kernel --example tuning`.
//! Every variant's counts are first checked against the default backend's.
//!
//! A variant is a backend and the loop's tuning constants: `V` vectors in flight, `K` updates
//! between escape tests, `G` lane-blocks finished lanes may idle before their replay (see
//! `escape.rs`). Environment: `LEVELS=0,3000` (default: the level mix), `ROUNDS=5`, `ONLY=i`
//! (one variant, for profiling), `INTERIOR=1` (a 64 x 64 frame inside the period-3 bulb at
//! `max_iter` 16384: the loop with almost no escapes), `HIST=1` (each level's counts).

use cpu_time::ThreadTime as Instant;
use zoomstack_kernel::{
    Backend, IndexRange, StackParams, pixel_iterations, render_block, render_level_tuned,
};

type Variant = (&'static str, fn(&StackParams, u64, &mut [u16]));

macro_rules! variant {
    ($b:ident $v:literal, $k:literal, $g:literal) => {
        (
            concat!(stringify!($b), " V", $v, " K", $k, " G", $g),
            |p: &StackParams, l: u64, out: &mut [u16]| {
                render_level_tuned::<$v, $k, $g>(p, l, Backend::$b, out).unwrap()
            },
        )
    };
}

fn main() {
    let mut p = StackParams::default();
    // `INTERIOR=1`: a frame inside the period-3 bulb, `max_iter` 16384: the hot loop alone.
    if std::env::var("INTERIOR").is_ok() {
        (p.center_re, p.center_im, p.scale0, p.max_iter) = (-0.1226, 0.7449, 1e-3, 16384);
        (p.height, p.width) = (64, 64);
    }
    let levels: Vec<u64> = match std::env::var("LEVELS") {
        Ok(list) => list.split(',').map(|l| l.trim().parse().unwrap()).collect(),
        Err(_) => vec![0, 3000, 20000, 60000, 119999],
    };
    let variants: Vec<Variant> = vec![
        variant!(F64x8 4, 16, 1),
        variant!(F64x8 4, 16, 128),
        variant!(F64x8 4, 16, 256),
        variant!(F64x8 4, 16, 512),
        variant!(F64x8 6, 16, 256),
        variant!(F64x8 4, 24, 256),
        variant!(F64x4 6, 16, 48),
        variant!(F64x4 6, 16, 96),
        variant!(F64x4 6, 16, 192),
        variant!(F64x4 8, 16, 128),
        variant!(Scalar 4, 16, 4),
        variant!(Scalar 4, 16, 8),
    ];
    // `ONLY=3`: just the variant with that index (for profiling).
    let variants: Vec<Variant> = match std::env::var("ONLY") {
        Ok(i) => vec![variants[i.parse::<usize>().unwrap()]],
        Err(_) => variants,
    };
    let rounds: usize = std::env::var("ROUNDS").map_or(5, |r| r.parse().unwrap());
    let mut out = vec![0u16; p.height * p.width];
    let mut want = vec![0u16; p.height * p.width];
    let mut work = vec![0u64; levels.len()];
    for (j, &l) in levels.iter().enumerate() {
        let all = (
            IndexRange::full(p.height as u64),
            IndexRange::full(p.width as u64),
        );
        render_block(&p, l, all.0, all.1, Backend::F64x8, &mut want).unwrap();
        work[j] = pixel_iterations(&want, p.max_iter);
        if std::env::var("HIST").is_ok() {
            let mut h = std::collections::BTreeMap::new();
            for &k in &want {
                *h.entry(k / 8 * 8).or_insert(0u32) += 1;
            }
            println!("level {l}: counts by 8s {h:?}");
        }
        for (name, f) in &variants {
            f(&p, l, &mut out);
            assert!(out == want, "{name} differs at level {l}");
        }
    }
    // times[variant][level] per round
    let mut times = vec![vec![Vec::new(); levels.len()]; variants.len()];
    for _ in 0..rounds {
        for (vi, (_, f)) in variants.iter().enumerate() {
            for (j, &l) in levels.iter().enumerate() {
                let t = Instant::now();
                f(&p, l, &mut out);
                times[vi][j].push(t.elapsed().as_secs_f64());
            }
        }
    }
    let median = |xs: &mut Vec<f64>| {
        xs.sort_by(f64::total_cmp);
        xs[xs.len() / 2]
    };
    print!("{:<20}", "variant");
    for l in &levels {
        print!(" {l:>9}");
    }
    println!("  {:>9}", "mix");
    for (vi, (name, _)) in variants.iter().enumerate() {
        print!("{name:<20}");
        let mut total = 0.0;
        for j in 0..levels.len() {
            let m = median(&mut times[vi][j]);
            total += m;
            print!(" {:>9.3e}", work[j] as f64 / m);
        }
        println!(
            "  {:>9.3e}  ({:.1} ms)",
            work.iter().sum::<u64>() as f64 / total,
            total * 1e3
        );
    }
}
