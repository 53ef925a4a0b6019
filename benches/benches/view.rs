//! `zoomstack view`: what one slider move costs on the server side, over real HTTP on loopback.
//!
//! * `view/deep_level/kernel_direct_2_threads`: level 119999 (512 x 512) rendered by
//!   `render_block` over row bands on a 2-thread rayon pool - the floor;
//! * `view/deep_level/http_uncached`: `GET /api/level/119999/counts` from a server whose cache
//!   is off, so every request renders (2 render threads): kernel + HTTP + transfer;
//! * `view/deep_level/http_cached`: the same request answered from the cache (transfer only);
//! * `view/deep_level/http_png`: `image.png` (8-bit rainbow PNG) from the cache (PNG encoding).
//!
//! The browser side (slider move -> frame on screen) is measured by
//! `view/bench/slider_latency.py` in real Chromium.
//!
//! `cargo bench -p zoomstack-benches --bench view`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rayon::prelude::*;
use std::hint::black_box;
use zoomstack_engine::ZoomStack;
use zoomstack_kernel::{Backend, IndexRange, StackParams, render_block};
use zoomstack_view::{Limits, ServerOptions, View, ViewServer};

const LEVEL: u64 = 119_999;

fn server(cache_bytes: usize) -> ViewServer {
    let options = ServerOptions {
        port: 0,
        threads: 2,
        limits: Limits {
            cache_bytes,
            ..Limits::default()
        },
        ..ServerOptions::default()
    };
    ViewServer::start(View::whole(ZoomStack::default()), options).unwrap()
}

fn get(agent: &ureq::Agent, url: &str) -> Vec<u8> {
    let mut r = agent.get(url).call().unwrap();
    r.body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_vec()
        .unwrap()
}

fn deep_level(c: &mut Criterion) {
    let mut group = c.benchmark_group("view/deep_level");
    group.throughput(Throughput::Elements(512 * 512));
    group.sample_size(50);

    let p = StackParams::default();
    let backend = Backend::fastest();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let mut out = vec![0u16; 512 * 512];
    group.bench_function("kernel_direct_2_threads", |b| {
        b.iter(|| {
            pool.install(|| {
                out.par_chunks_mut(64 * 512)
                    .enumerate()
                    .for_each(|(i, band)| {
                        let rows = IndexRange::new((i * 64) as u64, 1, 64);
                        render_block(&p, LEVEL, rows, IndexRange::full(512), backend, band)
                            .unwrap();
                    });
            });
            black_box(&out);
        });
    });

    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
    let uncached = server(0);
    let url = format!("http://{}/api/level/{LEVEL}/counts", uncached.addr());
    group.bench_function("http_uncached", |b| b.iter(|| black_box(get(&agent, &url))));
    assert_eq!(uncached.stats().hits, 0);
    uncached.shutdown();

    let cached = server(Limits::default().cache_bytes);
    let url = format!("http://{}/api/level/{LEVEL}/counts", cached.addr());
    get(&agent, &url);
    group.bench_function("http_cached", |b| b.iter(|| black_box(get(&agent, &url))));
    let png = format!(
        "http://{}/api/level/{LEVEL}/image.png?colormap=rainbow",
        cached.addr()
    );
    group.bench_function("http_png", |b| b.iter(|| black_box(get(&agent, &png))));
    assert_eq!(cached.stats().renders, 1);
    cached.shutdown();
    group.finish();
}

criterion_group!(benches, deep_level);
criterion_main!(benches);
