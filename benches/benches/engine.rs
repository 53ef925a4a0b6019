//! Engine workloads on the notebook's stack (120000 levels of 512 x 512, `max_iter` 256).
//!
//! * `engine/plan`: define the stack and plan the preview `[0:20000:500, ::2, ::2]`
//!   (allocations are measured by `engine/tests/plan_alloc.rs`);
//! * `engine/preview`: the preview computed into memory by the executor at 1 and 2 threads,
//!   against `kernel_direct`: the same pixels rendered by calling `render_block` in a loop
//!   (one call per level, one thread) - the executor's overhead is `executor/1 - kernel_direct`;
//! * `engine/stream`: levels streamed to a consumer that discards them (peak memory of the
//!   full 2000 levels: `cargo run --release -p zoomstack-engine --example stream_rss`).
//!
//! `cargo bench -p zoomstack-benches --bench engine`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use zoomstack_engine::{EngineError, Executor, ZoomStack};
use zoomstack_kernel::{Backend, IndexRange, StackParams, render_block};

const PREVIEW: &str = "[0:20000:500, ::2, ::2]";

fn plan(c: &mut Criterion) {
    c.bench_function("engine/plan/define_stack_and_plan_preview", |b| {
        b.iter(|| {
            let a = ZoomStack::default().array();
            black_box(a.select(black_box(PREVIEW)).unwrap().optimize().unwrap())
        });
    });
}

fn preview(c: &mut Criterion) {
    let plan = ZoomStack::default()
        .array()
        .select(PREVIEW)
        .unwrap()
        .optimize()
        .unwrap();
    let backend = Backend::fastest();
    let mut group = c.benchmark_group("engine/preview");
    group.throughput(Throughput::Elements(plan.len()));
    group.sample_size(20);
    let p = StackParams::default();
    let mut out = vec![0u16; 256 * 256];
    group.bench_function("kernel_direct", |b| {
        b.iter(|| {
            for k in 0..40 {
                let (rows, cols) = (IndexRange::new(0, 2, 256), IndexRange::new(0, 2, 256));
                render_block(&p, k * 500, rows, cols, backend, &mut out).unwrap();
                black_box(&out);
            }
        });
    });
    for threads in [1, 2] {
        let exec = Executor::new(threads).with_backend(backend);
        group.bench_with_input(BenchmarkId::new("executor", threads), &plan, |b, plan| {
            b.iter(|| black_box(exec.compute(plan).unwrap()));
        });
    }
    group.finish();
}

fn stream(c: &mut Criterion) {
    // 200 levels spread over the first 2000 (every 10th), full frames, notebook chunks.
    let plan = ZoomStack::default()
        .array()
        .select("[0:2000:10]")
        .unwrap()
        .optimize()
        .unwrap();
    let mut group = c.benchmark_group("engine/stream");
    group.throughput(Throughput::Elements(plan.len()));
    group.sample_size(10);
    for threads in [1, 2] {
        let exec = Executor::new(threads);
        group.bench_with_input(
            BenchmarkId::new("discard_200_levels", threads),
            &plan,
            |b, plan| {
                b.iter(|| {
                    exec.for_each_tile(
                        plan,
                        |_| true,
                        |t| {
                            black_box(t);
                            Ok::<(), EngineError>(())
                        },
                    )
                    .unwrap()
                });
            },
        );
    }
    group.finish();
}

criterion_group!(benches, plan, preview, stream);
criterion_main!(benches);
