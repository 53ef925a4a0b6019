//! Kernel throughput in pixel-iterations per second (a pixel with count `n` costs
//! `min(n + 1, max_iter)` updates), on a fixed mix of the notebook's levels at 512 x 512.
//!
//! `cargo bench -p zoomstack-benches --bench kernel`
//!
//! `kernel/counts_vs_smooth` compares counts with smooth values ([`render_block_smooth`]) on the
//! same mix and backend ([`Backend::fastest`]), in the same run.
//!
//! The single-threaded groups measure CPU time (rates per core-second, see
//! [`zoomstack_benches::ThreadCpuTime`]); the thread-scaling group measures wall time.

use criterion::measurement::WallTime;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use zoomstack_benches::ThreadCpuTime;
use zoomstack_kernel::spec::escape_scalar;
use zoomstack_kernel::{
    Backend, IndexRange, StackParams, pixel_iterations, render_block, render_block_smooth,
    update_limit,
};

const LEVEL_MIX: [u64; 5] = [0, 3000, 20000, 60000, 119999];

fn level_mix_work(p: &StackParams) -> u64 {
    let mut out = vec![0u16; p.height * p.width];
    LEVEL_MIX
        .iter()
        .map(|&l| {
            render_block(
                p,
                l,
                IndexRange::full(p.height as u64),
                IndexRange::full(p.width as u64),
                Backend::fastest(),
                &mut out,
            )
            .unwrap();
            pixel_iterations(&out, p.max_iter)
        })
        .sum()
}

/// The scalar reference, one pixel at a time, exactly as the tests use it.
fn reference_level(p: &StackParams, level: u64, out: &mut [u16]) {
    let g = p.level_grid(level).unwrap();
    for r in 0..p.height {
        let y = g.rows.at(r);
        for c in 0..p.width {
            out[r * p.width + c] = escape_scalar(g.cols.at(c), y, p.max_iter);
        }
    }
}

fn backends(c: &mut Criterion<ThreadCpuTime>) {
    let p = StackParams::default();
    let work = level_mix_work(&p);
    let mut group = c.benchmark_group("kernel/level_mix");
    group.throughput(Throughput::Elements(work));
    group.sample_size(10);
    let mut out = vec![0u16; p.height * p.width];
    group.bench_function("reference", |b| {
        b.iter(|| {
            for &l in &LEVEL_MIX {
                reference_level(&p, l, &mut out);
            }
            black_box(&out);
        });
    });
    for backend in Backend::ALL {
        group.bench_function(BenchmarkId::from_parameter(backend.name()), |b| {
            b.iter(|| {
                for &l in &LEVEL_MIX {
                    render_block(
                        &p,
                        l,
                        IndexRange::full(512),
                        IndexRange::full(512),
                        backend,
                        &mut out,
                    )
                    .unwrap();
                }
                black_box(&out);
            });
        });
    }
    group.finish();
}

/// Each level of the mix alone, fastest backend (CPU time): the README's per-level rates.
fn levels(c: &mut Criterion<ThreadCpuTime>) {
    let p = StackParams::default();
    let (all, backend) = (IndexRange::full(512), Backend::fastest());
    let mut out = vec![0u16; 512 * 512];
    let mut group = c.benchmark_group("kernel/level");
    group.sample_size(10);
    for level in LEVEL_MIX {
        render_block(&p, level, all, all, backend, &mut out).unwrap();
        group.throughput(Throughput::Elements(pixel_iterations(&out, p.max_iter)));
        group.bench_function(BenchmarkId::from_parameter(level), |b| {
            b.iter(|| {
                render_block(&p, level, all, all, backend, &mut out).unwrap();
                black_box(&out);
            });
        });
    }
    group.finish();
}

/// The limit the kernel is measured against, in the same run: `chains` independent vectors of
/// the fastest backend iterating the escape loop's update on a point that never escapes, with
/// no escape test (`update`) and with `|z|^2`, a compare and a count every iteration
/// (`update+test`), CPU time.
fn limit(c: &mut Criterion<ThreadCpuTime>) {
    const ITERS: u64 = 1 << 16;
    let backend = Backend::fastest();
    let lanes = match backend {
        Backend::Scalar => 1,
        Backend::F64x4 => 4,
        Backend::F64x8 => 8,
    };
    let mut group = c.benchmark_group("kernel/limit");
    group.sample_size(10);
    macro_rules! chains {
        ($($v:literal),*) => {$(
            group.throughput(Throughput::Elements($v * lanes * ITERS));
            group.bench_function(BenchmarkId::new("update", $v), |b| {
                b.iter(|| black_box(update_limit::<$v>(backend, black_box(ITERS), false)));
            });
            group.bench_function(BenchmarkId::new("update+test", $v), |b| {
                b.iter(|| black_box(update_limit::<$v>(backend, black_box(ITERS), true)));
            });
        )*};
    }
    chains!(4, 6, 8, 12, 16);
    group.finish();
}

/// Counts against smooth values on the level mix, same backend, same run (CPU time).
fn counts_vs_smooth(c: &mut Criterion<ThreadCpuTime>) {
    let p = StackParams::default();
    let backend = Backend::fastest();
    let all = IndexRange::full(512);
    let mut group = c.benchmark_group("kernel/counts_vs_smooth");
    group.throughput(Throughput::Elements(level_mix_work(&p)));
    group.sample_size(10);
    let mut counts = vec![0u16; 512 * 512];
    let mut smooth = vec![0f32; 512 * 512];
    group.bench_function("counts", |b| {
        b.iter(|| {
            for &l in &LEVEL_MIX {
                render_block(&p, l, all, all, backend, &mut counts).unwrap();
            }
            black_box(&counts);
        });
    });
    group.bench_function("smooth", |b| {
        b.iter(|| {
            for &l in &LEVEL_MIX {
                render_block_smooth(&p, l, all, all, backend, &mut smooth).unwrap();
            }
            black_box(&smooth);
        });
    });
    group.finish();
}

/// A whole level split into row bands on a pool of 1 or 2 threads.
fn threads(c: &mut Criterion<WallTime>) {
    let p = StackParams::default();
    let level = 119999;
    let band = 16;
    let mut out = vec![0u16; 512 * 512];
    render_block(
        &p,
        level,
        IndexRange::full(512),
        IndexRange::full(512),
        Backend::fastest(),
        &mut out,
    )
    .unwrap();
    let mut group = c.benchmark_group("kernel/whole_level_119999");
    group.throughput(Throughput::Elements(pixel_iterations(&out, p.max_iter)));
    group.sample_size(20);
    for n in [1usize, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap();
        group.bench_function(BenchmarkId::new("threads", n), |b| {
            b.iter(|| {
                pool.install(|| {
                    use rayon::prelude::*;
                    out.par_chunks_mut(band * 512)
                        .enumerate()
                        .for_each(|(i, chunk)| {
                            let rows = IndexRange::new((i * band) as u64, 1, band as u64);
                            render_block(
                                &p,
                                level,
                                rows,
                                IndexRange::full(512),
                                Backend::fastest(),
                                chunk,
                            )
                            .unwrap();
                        });
                });
                black_box(&out);
            });
        });
    }
    group.finish();
}

criterion_group! {
    name = cpu_time;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = backends, levels, limit, counts_vs_smooth
}
criterion_group!(wall_time, threads);
criterion_main!(cpu_time, wall_time);
