//! Exact mode against numpy mode on the same deep levels of the notebook's stack: whole
//! 512 x 512 levels 100000, 110000, 120000, 130000 and 140000 (`max_iter` 256), in
//! pixel-iterations per CPU-second (a pixel with count `n` costs `min(n + 1, max_iter)`
//! updates, counted from each mode's own counts, as in `kernel.rs`).
//!
//! `cargo bench -p zoomstack-benches --bench exact`
//!
//! Groups `exact_vs_numpy/level_<L>`: `numpy_<fastest backend>` (`render_block`) and
//! `exact_<backend>` for every backend (`render_block_exact`, the level's orbit computed once
//! beforehand, as the engine shares it). After criterion's report, a table gives each
//! variant's median rate over all its timed renders and the exact/numpy ratios.
//! `cargo run --release -p zoomstack-kernel --example exact_speed` interleaves the variants
//! instead (fairer on a loaded machine) for quick tuning.
//!
//! Group `reference_orbit`: the reference orbit's cost per iteration (`ReferenceOrbit::compute`,
//! big-float `Z <- Z^2 + C` plus the f64 table and step bounds) at 256, 1024 and 4000 bits, on
//! the 1103-digit centre of Kalles Fraktaler 2's `1e1086` benchmark location
//! (`kernel/tests/data/locations/`), 2000 iterations per sample.
//!
//! Group `deep_frame/kf2_5e113`: Kalles Fraktaler 2's `5e113` location (177-digit centre,
//! frame height 8e-114, `max_iter` 35494) as one 512 x 512 frame on one thread: the plain delta
//! loop and BLA (`ExactStack::bla`) in the fastest backend, each with the orbit and table built
//! beforehand (what every further frame of a stack costs), and the reference orbit and the BLA
//! table alone (what the first frame adds).

use cpu_time::ThreadTime;
use criterion::{BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use std::time::Duration;
use zoomstack_benches::ThreadCpuTime;
use zoomstack_kernel::exact::{
    ExactReal, ExactStack, OrbitCache, ReferenceOrbit, render_block_exact,
};
use zoomstack_kernel::{Backend, IndexRange, StackParams, pixel_iterations, render_block};

const LEVELS: [u64; 5] = [100000, 110000, 120000, 130000, 140000];

/// One variant at one level: its work per render and the CPU time of each timed render.
struct Timings {
    level: u64,
    name: String,
    work: u64,
    renders: Vec<Duration>,
}

impl Timings {
    fn median_rate(&self) -> f64 {
        let mut t: Vec<f64> = self.renders.iter().map(Duration::as_secs_f64).collect();
        t.sort_by(f64::total_cmp);
        self.work as f64 / t[t.len() / 2]
    }
}

fn exact_vs_numpy(c: &mut Criterion<ThreadCpuTime>) -> Vec<Timings> {
    let (p, s) = (StackParams::default(), ExactStack::default());
    let full = IndexRange::full(512);
    let mut out = vec![0u16; 512 * 512];
    let mut table = Vec::new();
    for level in LEVELS {
        let orbit = OrbitCache::global().for_level(&s, level).unwrap();
        let numpy = Backend::fastest();
        let mut variants: Vec<(String, Option<Backend>)> =
            vec![(format!("numpy_{}", numpy.name()), None)];
        variants.extend(Backend::ALL.map(|b| (format!("exact_{}", b.name()), Some(b))));
        let mut group = c.benchmark_group(format!("exact_vs_numpy/level_{level}"));
        group.sample_size(10);
        group.warm_up_time(Duration::from_secs(1));
        group.measurement_time(Duration::from_secs(4));
        for (name, exact) in variants {
            let render = |out: &mut [u16]| match exact {
                None => render_block(&p, level, full, full, numpy, out).unwrap(),
                Some(b) => render_block_exact(&s, &orbit, level, full, full, b, out).unwrap(),
            };
            render(&mut out);
            let work = pixel_iterations(&out, p.max_iter);
            let mut renders = Vec::new();
            group.throughput(Throughput::Elements(work));
            group.bench_function(BenchmarkId::from_parameter(&name), |bench| {
                bench.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let t = ThreadTime::now();
                        render(&mut out);
                        black_box(&out);
                        let dt = t.elapsed();
                        renders.push(dt);
                        total += dt;
                    }
                    total
                });
            });
            table.push(Timings {
                level,
                name,
                work,
                renders,
            });
        }
        group.finish();
    }
    table
}

fn print_table(table: &[Timings]) {
    let names: Vec<&str> = table
        .iter()
        .filter(|t| t.level == LEVELS[0])
        .map(|t| t.name.as_str())
        .collect();
    println!(
        "\nmedian pixel-iterations per CPU-second ({})",
        Backend::fastest().describe()
    );
    print!("{:>7}", "level");
    for n in &names {
        print!(" {n:>13}");
    }
    println!("   exact / numpy");
    for level in LEVELS {
        let row: Vec<&Timings> = table.iter().filter(|t| t.level == level).collect();
        if row.iter().any(|t| t.renders.is_empty()) {
            continue; // filtered out on the command line
        }
        let rates: Vec<f64> = row.iter().map(|t| t.median_rate()).collect();
        print!("{level:>7}");
        for r in &rates {
            print!(" {r:>13.3e}");
        }
        print!("  ");
        for r in &rates[1..] {
            print!(" {:>6.3}", r / rates[0]);
        }
        println!();
    }
}

/// Iterations per `reference_orbit` sample.
const ORBIT_ITERATIONS: u32 = 2000;

fn reference_orbit(c: &mut Criterion<ThreadCpuTime>) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../kernel/tests/data/locations/kf2-1e1086.json"
    );
    let text = std::fs::read_to_string(path).expect("read the 1e1086 location");
    let location: serde_json::Value = serde_json::from_str(&text).expect("location JSON");
    let coordinate = |key: &'static str| {
        let digits = location[key].as_str().expect("a decimal string");
        ExactReal::parse(key, digits).expect("a decimal centre")
    };
    let (re, im) = (coordinate("center_re"), coordinate("center_im"));
    let mut g = c.benchmark_group("reference_orbit");
    g.sample_size(10);
    g.throughput(Throughput::Elements(u64::from(ORBIT_ITERATIONS)));
    for bits in [256, 1024, 4000] {
        g.bench_function(BenchmarkId::new("kf2_1e1086_bits", bits), |b| {
            b.iter(|| {
                let orbit =
                    ReferenceOrbit::compute(&re, &im, ORBIT_ITERATIONS, bits).expect("orbit");
                // The centre of a deep zoom does not escape this early.
                assert_eq!(orbit.points().len(), ORBIT_ITERATIONS as usize + 1);
                black_box(orbit)
            });
        });
    }
    g.finish();
}

/// A location file of `kernel/tests/data/locations/`.
fn location(name: &str) -> serde_json::Value {
    let path = format!(
        "{}/../kernel/tests/data/locations/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("read the location");
    serde_json::from_str(&text).expect("location JSON")
}

fn deep_frame(c: &mut Criterion<ThreadCpuTime>) {
    let loc = location("kf2-5e113");
    let text = |k: &str| ExactReal::parse("location", loc[k].as_str().unwrap()).unwrap();
    let stack = ExactStack {
        height: 512,
        width: 512,
        center_re: text("center_re"),
        center_im: text("center_im"),
        scale0: text("scale"),
        zoom_per_level: ExactReal::parse("zoom", "2").unwrap(),
        max_iter: 35494,
        bla: false,
    };
    let orbit = OrbitCache::global().for_level(&stack, 0).unwrap();
    let dc_max = stack.frame_dc_max(0).unwrap();
    let full = IndexRange::full(512);
    let mut out = vec![0u16; 512 * 512];
    let mut g = c.benchmark_group("deep_frame/kf2_5e113");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    let fastest = Backend::fastest();
    for bla in [false, true] {
        let s = ExactStack {
            bla,
            ..stack.clone()
        };
        let name = format!("{}_{}", if bla { "bla" } else { "plain" }, fastest.name());
        g.bench_function(name, |b| {
            b.iter(|| {
                render_block_exact(&s, &orbit, 0, full, full, fastest, &mut out).unwrap();
                black_box(&out);
            });
        });
    }
    g.bench_function("reference_orbit", |b| {
        b.iter(|| black_box(ReferenceOrbit::for_level(&stack, 0).unwrap()));
    });
    g.bench_function("bla_table", |b| {
        b.iter(|| black_box(zoomstack_kernel::exact::BlaTable::build(&orbit, dc_max)));
    });
    g.finish();
}

fn main() {
    let mut c = Criterion::default()
        .with_measurement(ThreadCpuTime)
        .configure_from_args();
    let table = exact_vs_numpy(&mut c);
    reference_orbit(&mut c);
    deep_frame(&mut c);
    c.final_summary();
    print_table(&table);
}
