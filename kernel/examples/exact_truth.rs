//! Writes the exact mode's truth sets, `kernel/tests/data/exact_truth.json`:
//!
//! ```text
//! cargo run --release -p zoomstack-kernel --example exact_truth [OUT.json]
//! ```
//!
//! For each stack and level it samples pixels (the 4 corners, the two pixels nearest the
//! centre, 100 pseudo-random ones, up to 24 on count edges of the exact render and, on the
//! notebook's stack, up to 24 where the notebook's f64 (numpy-mode) count differs from the
//! exact render) and asks the big-precision oracle for each
//! ([`zoomstack_kernel::exact::oracle::confirmed_count`]). Only the oracle's counts are written;
//! the exact render only chooses which pixels are interesting. It prints how exact mode and
//! numpy mode compare with the oracle on the samples. Deterministic: a rerun writes the same
//! file. About two minutes on one core (the second stack has `max_iter` 5000, the third 35494). It
//! also renders each level with BLA ([`ExactStack::bla`]) and reports where that differs from
//! the oracle.

use std::fmt::Write as _;
use zoomstack_kernel::exact::oracle::{Verdict, confirmed_count, oracle_precision};
use zoomstack_kernel::exact::{ExactReal, ExactStack, OrbitCache, render_block_exact};
use zoomstack_kernel::{Backend, IndexRange, StackParams, render_block};

/// A parameter as the file writes it: a JSON number means the f64's exact binary value, a
/// string the decimal exactly as written.
#[derive(Clone, Copy)]
enum Param {
    F64(f64),
    Decimal(&'static str),
}

impl Param {
    fn exact(self) -> ExactReal {
        match self {
            Param::F64(v) => ExactReal::from_f64(v).unwrap(),
            Param::Decimal(s) => s.parse().unwrap(),
        }
    }
    fn json(self) -> String {
        match self {
            Param::F64(v) => serde_json::to_string(&v).unwrap(),
            Param::Decimal(s) => serde_json::to_string(s).unwrap(),
        }
    }
}

struct StackDef {
    name: &'static str,
    about: &'static str,
    center: (Param, Param),
    scale0: Param,
    zoom_per_level: Param,
    max_iter: u32,
    levels: &'static [u64],
    numpy: bool,
}

const SIZE: usize = 512;

fn stacks() -> [StackDef; 3] {
    [
        StackDef {
            name: "notebook",
            about: "the notebook's stack, its f64 parameters taken as their exact binary values",
            center: (Param::F64(-0.743645857047151), Param::F64(0.13182592380533)),
            scale0: Param::F64(3.0),
            zoom_per_level: Param::F64(1.00025),
            max_iter: 256,
            levels: &[
                0, 10000, 20000, 30000, 40000, 50000, 60000, 80000, 100000, 110000, 120000, 126000,
                130000, 135000, 139000, 140000, 145000, 150000,
            ],
            numpy: true,
        },
        StackDef {
            name: "seahorse-deep",
            about: "a deep seahorse-valley point (Wikipedia's zoom sequence), every parameter \
                    a decimal string; max_iter 5000 keeps structure to about level 140000",
            center: (
                Param::Decimal("-0.743643887037158704752191506114774"),
                Param::Decimal("0.131825904205311970493132056385139"),
            ),
            scale0: Param::Decimal("3"),
            zoom_per_level: Param::Decimal("1.00025"),
            max_iter: 5000,
            levels: &[
                0, 30000, 60000, 80000, 100000, 110000, 120000, 130000, 135000, 140000,
            ],
            numpy: false,
        },
        StackDef {
            name: "kf2-5e113",
            about: "Kalles Fraktaler 2's benchmark location 5e113 (smurfix/kf2, \
                    benchmarks/5e113.kfr; tests/data/locations/kf2-5e113.json): frame height \
                    4/Zoom = 8e-114, its 35494 iterations",
            center: (
                Param::Decimal(
                    "-1.47981577613247326072298452597877854692240725774045369689878510139864920741002293820250517329282011227363313053159203914640783415609608168660705123082446357179491909705403381200",
                ),
                Param::Decimal(
                    "-0.00063911193261361727152139632255671572957303918943984736047394936471220951961813321928573067036466151147195436388486168819318341208023229522609015461543581599807510715681229605",
                ),
            ),
            scale0: Param::Decimal("8e-114"),
            zoom_per_level: Param::Decimal("2"),
            max_iter: 35494,
            levels: &[0],
            numpy: false,
        },
    ]
}

/// splitmix64: a fixed pseudo-random sequence.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn samples(level: u64, exact: &[u16], numpy: Option<&[u16]>) -> Vec<(usize, usize, &'static str)> {
    let n = SIZE;
    let mut out: Vec<(usize, usize, &'static str)> = vec![
        (0, 0, "corner"),
        (0, n - 1, "corner"),
        (n - 1, 0, "corner"),
        (n - 1, n - 1, "corner"),
        (n / 2 - 1, n / 2 - 1, "centre"),
        (n / 2, n / 2, "centre"),
    ];
    let mut seed = level;
    for _ in 0..100 {
        let p = (splitmix(&mut seed) % (n * n) as u64) as usize;
        out.push((p / n, p % n, "random"));
    }
    // Pixels on count edges (count differs from the right neighbour), evenly over the frame.
    let edges: Vec<usize> = (0..n * n)
        .filter(|&p| p % n + 1 < n && exact[p] != exact[p + 1])
        .collect();
    for k in 0..edges.len().min(24) {
        let p = edges[k * edges.len() / edges.len().min(24)];
        out.push((p / n, p % n, "edge"));
    }
    if let Some(np) = numpy {
        let diff: Vec<usize> = (0..n * n).filter(|&p| np[p] != exact[p]).collect();
        for k in 0..diff.len().min(24) {
            let p = diff[k * diff.len() / diff.len().min(24)];
            out.push((p / n, p % n, "numpy"));
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|&(r, j, _)| seen.insert((r, j)));
    out
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| format!("{}/tests/data/exact_truth.json", env!("CARGO_MANIFEST_DIR")));
    let mut json = String::new();
    json.push_str("{\n");
    json.push_str("  \"about\": \"Oracle counts (direct big-precision iteration, confirmed at twice the precision) of sampled pixels; a number parameter is that f64's exact binary value, a string parameter the decimal exactly as written. Pixels: [row, col, count, |z|^2 at the deciding update, kind]; count null = the two precisions disagreed.\",\n");
    json.push_str(
        "  \"generator\": \"cargo run --release -p zoomstack-kernel --example exact_truth\",\n",
    );
    json.push_str("  \"stacks\": [\n");
    let defs = stacks();
    for (si, d) in defs.iter().enumerate() {
        let stack = ExactStack {
            height: SIZE,
            width: SIZE,
            center_re: d.center.0.exact(),
            center_im: d.center.1.exact(),
            scale0: d.scale0.exact(),
            zoom_per_level: d.zoom_per_level.exact(),
            max_iter: d.max_iter,
            bla: false,
        };
        let _ = writeln!(
            json,
            "    {{\"name\": \"{}\", \"about\": \"{}\", \"height\": {SIZE}, \"width\": {SIZE}, \"center_re\": {}, \"center_im\": {}, \"scale0\": {}, \"zoom_per_level\": {}, \"max_iter\": {}, \"levels\": [",
            d.name,
            d.about,
            d.center.0.json(),
            d.center.1.json(),
            d.scale0.json(),
            d.zoom_per_level.json(),
            d.max_iter
        );
        for (li, &level) in d.levels.iter().enumerate() {
            let full = IndexRange::full(SIZE as u64);
            let orbit = OrbitCache::global().for_level(&stack, level).unwrap();
            let mut exact = vec![0u16; SIZE * SIZE];
            render_block_exact(
                &stack,
                &orbit,
                level,
                full,
                full,
                Backend::fastest(),
                &mut exact,
            )
            .unwrap();
            let bla_stack = ExactStack {
                bla: true,
                ..stack.clone()
            };
            let mut bla = vec![0u16; SIZE * SIZE];
            render_block_exact(
                &bla_stack,
                &orbit,
                level,
                full,
                full,
                Backend::fastest(),
                &mut bla,
            )
            .unwrap();
            let numpy = d.numpy.then(|| {
                let Param::F64(cr) = d.center.0 else {
                    unreachable!()
                };
                let Param::F64(ci) = d.center.1 else {
                    unreachable!()
                };
                let params = StackParams {
                    center_re: cr,
                    center_im: ci,
                    max_iter: d.max_iter,
                    ..StackParams::default()
                };
                let mut np = vec![0u16; SIZE * SIZE];
                render_block(&params, level, full, full, Backend::fastest(), &mut np).unwrap();
                np
            });
            let picks = samples(level, &exact, numpy.as_deref());
            let q = oracle_precision(&stack, level).unwrap();
            let (mut exact_bad, mut bla_bad, mut numpy_bad, mut undecided) = (0, 0, 0, 0);
            let mut rows = Vec::new();
            for &(r, j, kind) in &picks {
                let v = confirmed_count(&stack, level, r as u64, j as u64).unwrap();
                let p = r * SIZE + j;
                match v {
                    Verdict::Decided(c) => {
                        if exact[p] != c.count {
                            exact_bad += 1;
                            println!(
                                "  MISMATCH {} level {level} ({r}, {j}): exact {} oracle {} (|z|^2 {})",
                                d.name, exact[p], c.count, c.norm
                            );
                        }
                        if bla[p] != c.count {
                            bla_bad += 1;
                            println!(
                                "  BLA MISMATCH {} level {level} ({r}, {j}): BLA {} oracle {} (|z|^2 {})",
                                d.name, bla[p], c.count, c.norm
                            );
                        }
                        if numpy.as_ref().is_some_and(|np| np[p] != c.count) {
                            numpy_bad += 1;
                        }
                        rows.push(format!(
                            "[{r}, {j}, {}, {}, \"{kind}\"]",
                            c.count,
                            serde_json::to_string(&c.norm).unwrap()
                        ));
                    }
                    Verdict::Undecided { low, high } => {
                        undecided += 1;
                        println!(
                            "  undecided {} level {level} ({r}, {j}): {} at {} bits, {} at {} bits",
                            d.name, low.count, low.precision, high.count, high.precision
                        );
                        rows.push(format!(
                            "[{r}, {j}, null, {}, \"{kind}\"]",
                            serde_json::to_string(&high.norm).unwrap()
                        ));
                    }
                }
            }
            println!(
                "{} level {level}: {} pixels at {q}/{} bits: exact != oracle on {exact_bad}, BLA != oracle on {bla_bad}, numpy != oracle on {numpy_bad}, undecided {undecided}",
                d.name,
                picks.len(),
                2 * q
            );
            let _ = writeln!(
                json,
                "      {{\"level\": {level}, \"oracle_bits\": [{q}, {}], \"pixels\": [",
                2 * q
            );
            let _ = writeln!(json, "        {}", rows.join(",\n        "));
            let _ = writeln!(
                json,
                "      ]}}{}",
                if li + 1 < d.levels.len() { "," } else { "" }
            );
        }
        let _ = writeln!(
            json,
            "    ]}}{}",
            if si + 1 < defs.len() { "," } else { "" }
        );
    }
    json.push_str("  ]\n}\n");
    std::fs::create_dir_all(std::path::Path::new(&path).parent().unwrap()).unwrap();
    std::fs::write(&path, json).unwrap();
    println!("wrote {path}");
}
