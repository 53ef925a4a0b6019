//! Renders one frame of a deep location (a JSON file as in `tests/data/locations/`) in the exact
//! contract, with the plain delta loop and with BLA, and prints their times and how their
//! counts compare (pixels where they differ are asked of the oracle):
//!
//! ```text
//! cargo run --release -p zoomstack-kernel --example deep_frame -- \
//!     kernel/tests/data/locations/kf2-5e113.json [SIZE] [--bla-only] [--save DIR] \
//!     [--oracle-sample N]
//! ```
//!
//! `--save DIR` writes the frames as raw little-endian u16 (`DIR/plain.u16`, `DIR/bla.u16`, row 0
//! the lowest imaginary part); `--oracle-sample N` asks the oracle for N pseudo-random pixels
//! and writes `DIR/oracle.json` (`[[row, col, count or null], ...]`, null: undecided), printing
//! how many each method gets right.
//!
//! `--threads N` renders bands of 32 rows on N threads (default 1). Per-core rates come from the
//! criterion bench: `cargo bench -p zoomstack-benches --bench exact -- deep_frame`.

use std::time::Instant;
use zoomstack_kernel::exact::oracle::{Verdict, confirmed_count};
use zoomstack_kernel::exact::{ExactStack, OrbitCache, render_block_exact};
use zoomstack_kernel::{Backend, IndexRange};

/// Rows per band of the threaded render.
const BAND: usize = 32;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args
        .first()
        .expect("usage: deep_frame LOCATION.json [SIZE] [--bla-only]");
    let size: usize = args.get(1).map_or(512, |s| s.parse().expect("SIZE"));
    let bla_only = args.iter().any(|a| a == "--bla-only");
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .map(|i| args[i + 1].clone())
    };
    let save = value("--save");
    let threads: usize = value("--threads").map_or(1, |n| n.parse().expect("threads"));
    let sample: usize = value("--oracle-sample").map_or(0, |n| n.parse().expect("N"));
    let loc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json");
    let text = |k: &str| loc[k].as_str().expect(k).parse().expect(k);
    let stack = ExactStack {
        height: size,
        width: size,
        center_re: text("center_re"),
        center_im: text("center_im"),
        scale0: text("scale"),
        zoom_per_level: "2".parse().unwrap(),
        max_iter: loc["max_iter"].as_u64().expect("max_iter") as u32,
        bla: false,
    };
    let t = Instant::now();
    let orbit = OrbitCache::global().for_level(&stack, 0).expect("orbit");
    println!(
        "reference orbit: {} bits, {} points, escapes: {:?}, {:.3} s",
        orbit.precision(),
        orbit.points().len(),
        orbit.escape_count(),
        t.elapsed().as_secs_f64()
    );
    let full = IndexRange::full(size as u64);
    let render = |bla: bool| {
        let s = ExactStack {
            bla,
            ..stack.clone()
        };
        let mut out = vec![0u16; size * size];
        let t = Instant::now();
        // Bands of BAND rows, taken in turn by `threads` threads (as the engine's tiles are).
        let bands: Vec<(usize, &mut [u16])> = out.chunks_mut(BAND * size).enumerate().collect();
        let bands = std::sync::Mutex::new(bands);
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    loop {
                        let Some((k, band)) = bands.lock().unwrap().pop() else {
                            break;
                        };
                        let rows =
                            IndexRange::new((k * BAND) as u64, 1, (band.len() / size) as u64);
                        render_block_exact(&s, &orbit, 0, rows, full, Backend::fastest(), band)
                            .unwrap();
                    }
                });
            }
        });
        (out, t.elapsed().as_secs_f64())
    };
    let t = Instant::now();
    let table = orbit.bla_table(stack.frame_dc_max(0).unwrap());
    println!(
        "BLA table: {} steps ({:.1} MB), dc_max {:e}, {:.3} s",
        table.steps(),
        table.steps() as f64 * 48.0 / 1e6,
        table.dc_max(),
        t.elapsed().as_secs_f64()
    );
    let (bla, tb) = render(true);
    let hist = |c: &[u16]| {
        let (lo, hi) = (c.iter().min().unwrap(), c.iter().max().unwrap());
        let iters: u64 = c.iter().map(|&v| u64::from(v) + 1).sum();
        format!("counts {lo}..={hi}, {iters:.3e} updates")
    };
    println!("BLA: {tb:.3} s, {}", hist(&bla));
    let plain_run = (!bla_only).then(|| render(false));
    if let Some((plain, tp)) = &plain_run {
        let tp = *tp;
        let iters: u64 = plain.iter().map(|&v| u64::from(v) + 1).sum();
        let diff: Vec<usize> = (0..plain.len()).filter(|&p| plain[p] != bla[p]).collect();
        println!(
            "plain: {tp:.3} s ({:.3e} updates/s), {}; BLA {:.1}x faster; {} pixels differ",
            iters as f64 / tp,
            hist(plain),
            tp / tb,
            diff.len()
        );
        for &p in diff.iter().take(20) {
            let (r, j) = ((p / size) as u64, (p % size) as u64);
            let truth = match confirmed_count(&stack, 0, r, j).unwrap() {
                Verdict::Decided(c) => c.count.to_string(),
                Verdict::Undecided { low, high } => {
                    format!("undecided ({} / {})", low.count, high.count)
                }
            };
            println!(
                "  ({r}, {j}): plain {} BLA {}, oracle {truth}",
                plain[p], bla[p]
            );
        }
    }
    let plain = plain_run.map(|(p, _)| p);
    if let Some(dir) = &save {
        std::fs::create_dir_all(dir).unwrap();
        let raw = |c: &[u16]| c.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>();
        std::fs::write(format!("{dir}/bla.u16"), raw(&bla)).unwrap();
        if let Some(plain) = &plain {
            std::fs::write(format!("{dir}/plain.u16"), raw(plain)).unwrap();
        }
    }
    if sample > 0 {
        let dir = save.expect("--oracle-sample writes into --save DIR");
        let mut seed = 0x5e113u64;
        let mut rows = Vec::new();
        let (mut decided, mut bla_ok, mut plain_ok) = (0, 0, 0);
        for _ in 0..sample {
            let p = (splitmix(&mut seed) % (size * size) as u64) as usize;
            let (r, j) = ((p / size) as u64, (p % size) as u64);
            match confirmed_count(&stack, 0, r, j).unwrap() {
                Verdict::Decided(c) => {
                    decided += 1;
                    bla_ok += usize::from(bla[p] == c.count);
                    plain_ok += usize::from(plain.as_ref().is_some_and(|pl| pl[p] == c.count));
                    rows.push(format!("[{r}, {j}, {}]", c.count));
                }
                Verdict::Undecided { .. } => rows.push(format!("[{r}, {j}, null]")),
            }
        }
        std::fs::write(
            format!("{dir}/oracle.json"),
            format!("[{}]\n", rows.join(", ")),
        )
        .unwrap();
        println!(
            "oracle: {decided} of {sample} pixels decided; BLA right on {bla_ok}, plain on {plain_ok}"
        );
    }
}

/// splitmix64: a fixed pseudo-random sequence.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
