//! The `zoomstack` default command, in process: the notebook's preview
//! `stack[0:20000:500, ::2, ::2]` parsed from the built-in spec, rendered once and written as
//! 40 PNG frames, an animated GIF and a contact sheet (exactly what `zoomstack` with no
//! arguments does, minus process start-up), plus `zoomstack bench`'s measurement.
//!
//! The whole process (start-up included) is measured with hyperfine by
//! `scripts/bench-cli.sh`; the README's table comes from both.
//!
//! ```text
//! cargo bench -p zoomstack-benches --bench cli -- --sample-size 20
//! ```

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use zoomstack_cli::bench;
use zoomstack_kernel::Backend;
use zoomstack_pipeline::diag::Source;
use zoomstack_pipeline::{
    Limits, Observer, PREVIEW_SPEC, Pipeline, RunOptions, Share, Silent, spec,
};

fn preview(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut g = c.benchmark_group("cli");
    g.sample_size(20);
    // 40 frames of 256 x 256.
    g.throughput(Throughput::Elements(40 * 256 * 256));
    g.bench_function("preview (parse + render + PNG/GIF/sheet)", |b| {
        b.iter(|| {
            let source = Source::new("<built-in preview>", PREVIEW_SPEC, &[]);
            let spec = spec::parse(&source).expect("preview spec");
            let p = Pipeline::new(spec).expect("jobs");
            let opts = RunOptions {
                threads: 0,
                backend: Backend::fastest(),
                out_dir: dir.path().to_path_buf(),
                share: Share::ALL,
                cancel: Arc::new(AtomicBool::new(false)),
                verify: false,
                // As the binary runs it: under the guard.
                guard: Some(Limits::default()),
                memory_limit: zoomstack_engine::DEFAULT_MEMORY_LIMIT,
            };
            let observer: Arc<dyn Observer> = Arc::new(Silent);
            p.run(&opts, &observer).expect("preview run")
        });
    });
    g.finish();
    let mut g = c.benchmark_group("cli plan");
    g.bench_function("preview spec parse + plan only", |b| {
        b.iter(|| {
            let source = Source::new("<built-in preview>", PREVIEW_SPEC, &[]);
            let spec = spec::parse(&source).expect("preview spec");
            Pipeline::new(spec).expect("jobs")
        });
    });
    g.finish();

    let mut g = c.benchmark_group("cli bench");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.bench_function("zoomstack bench (standard mix)", |b| {
        b.iter(|| bench::run(&bench::BenchConfig::default()).expect("bench"));
    });
    g.finish();
}

criterion_group!(benches, preview);
criterion_main!(benches);
