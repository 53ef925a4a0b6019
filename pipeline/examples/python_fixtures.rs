//! Writes every kind of sink output through the one run path (a spec run by `Pipeline`, as
//! the binary does), plus the engine's in-memory results, into a directory for
//! the Python reader checks (`sinks/tests/python`, run by `sinks/tests/run_python_checks.sh`).
//!
//! ```text
//! cargo run -p zoomstack-pipeline --example python_fixtures -- OUT_DIR
//! ```
//!
//! `OUT_DIR/manifest.json` lists each output with what a reader must find in it; `*.u16` files
//! hold the expected arrays (little-endian `uint16`, C order).

use std::fs;
use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};
use zoomstack_engine::{Executor, RenderPlan};
use zoomstack_pipeline::spec::{Spec, parse_str};
use zoomstack_pipeline::{Job, Pipeline, RunOptions, Silent};
use zoomstack_sinks::{stretch, to_uint8};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// Every output of the fixtures, as one spec (the binary would run the same file).
const SPEC: &str = r#"
[[sink]]
kind = "zarr"
path = "unsharded.zarr"
select = "[0:20000:1000, ::8, ::8]"
chunks = [1, 32, 32]

[[sink]]
kind = "zarr"
path = "sharded.zarr"
select = "[0:30000:1000, 1::7, 2::9]"
chunks = [2, 16, 16]
shards = [4, 32, 32]
compression_level = 5

[[sink]]
kind = "zarr"
path = "uncompressed.zarr"
select = "[0:20000:1000, ::8, ::8]"
chunks = [1, 32, 32]
compression = "none"

[[sink]]
kind = "zarr"
path = "mean.zarr"
select = "[0:10]"
downsample = { factors = [4, 4], mode = "mean" }
chunks = [1, 64, 64]

[[sink]]
kind = "zarr"
path = "pyramid.ome.zarr"
select = "[1000:9000:1000, ::4, ::4]"
chunks = [1, 32, 32]
shards = [4, 64, 64]
ome = true
pyramid_levels = 2

[[sink]]
kind = "png"
path = "png_viridis"
select = "[0:20000:5000, ::4, ::4]"
colormap = "viridis"

[[sink]]
kind = "png"
path = "png_gray"
select = "[0:20000:5000, ::4, ::4]"

[[sink]]
kind = "png16"
path = "png_raw"
select = "[0:20000:5000, ::4, ::4]"

[[sink]]
kind = "animation"
path = "gray.gif"
select = "[0:20000:5000, ::4, ::4]"

[[sink]]
kind = "animation"
path = "magma.gif"
select = "[0:20000:5000, ::4, ::4]"
colormap = "magma"
delay_ms = 80
loop = 3

[[sink]]
kind = "animation"
path = "viridis.apng.png"
format = "apng"
select = "[0:20000:5000, ::4, ::4]"
colormap = "viridis"
scaling = "fixed"
delay_ms = 100
loop = 2

[[sink]]
kind = "contact-sheet"
path = "sheet.png"
select = "[0:20000:5000, ::4, ::4]"
colormap = "rainbow"
columns = 3
"#;

/// Write `plan`'s in-memory result as raw little-endian u16; returns its manifest entry.
fn expected(exec: &Executor, plan: &RenderPlan, out: &Path, name: &str) -> Res<Value> {
    let a = exec.compute(plan)?;
    let bytes: Vec<u8> = a.iter().flat_map(|v| v.to_le_bytes()).collect();
    fs::write(out.join(name), bytes)?;
    Ok(json!({"file": name, "shape": plan.shape()}))
}

fn main() -> Res<()> {
    let out = std::env::args()
        .nth(1)
        .ok_or("usage: python_fixtures OUT_DIR")?;
    let out = Path::new(&out);
    fs::create_dir_all(out)?;
    let spec: Spec = parse_str("python_fixtures.toml", SPEC)?;
    let pipeline = Pipeline::new(spec)?;
    let opts = RunOptions {
        threads: 2,
        out_dir: out.to_path_buf(),
        ..RunOptions::default()
    };
    let silent: Arc<dyn zoomstack_pipeline::Observer> = Arc::new(Silent);
    let report = pipeline.run(&opts, &silent)?;
    let exec = Executor::new(2);
    let mut manifest = serde_json::Map::new();

    // Zarr stores (single arrays, then the pyramid), from the jobs that wrote them.
    let mut zarr = Vec::new();
    for job in pipeline.jobs() {
        let Job::Zarr(z) = job else { continue };
        let o = &report.sinks[z.who.index];
        assert!(o.zarr.iter().all(|r| r.complete), "{}", o.sink);
        let name = z.path.display().to_string();
        if z.spec.ome {
            let levels = z
                .datasets
                .iter()
                .enumerate()
                .map(|(k, d)| expected(&exec, &d.plan, out, &format!("pyramid.{k}.u16")))
                .collect::<Res<Vec<_>>>()?;
            manifest.insert("pyramid".into(), json!({"path": name, "levels": levels}));
        } else {
            let d = &z.datasets[0];
            zarr.push(json!({
                "path": name,
                "expected": expected(&exec, &d.plan, out, &format!("{name}.u16"))?,
                "chunks": d.desc.chunks(),
                "shards": d.desc.layout.shard(),
                "units": o.zarr[0].units_total,
                "select": d.desc.selection.select_text(),
            }));
        }
    }
    manifest.insert("zarr".into(), Value::Array(zarr));

    // Images: one frame stream fed every image sink.
    let frame_jobs: Vec<_> = pipeline
        .jobs()
        .iter()
        .filter_map(|j| match j {
            Job::Frames(f) => Some(f),
            Job::Zarr(_) => None,
        })
        .collect();
    assert_eq!(frame_jobs.len(), 1, "the image sinks share one render");
    let frames = &frame_jobs[0].plan;
    let mut files = Vec::new();
    for t in &frame_jobs[0].sinks {
        for f in &report.sinks[t.who.index].paths {
            files.push(f.strip_prefix(out).unwrap_or(f).display().to_string());
        }
    }
    let levels: Vec<u64> = (0..frames.shape()[0])
        .map(|k| frames.stack_level(k))
        .collect();
    manifest.insert(
        "images".into(),
        json!({
            "frames": expected(&exec, frames, out, "frames.u16")?,
            "levels": levels,
            "files": files,
            "gray_gif": {"path": "gray.gif", "delay_ms": 150, "loop": 0},
            "magma_gif": {"path": "magma.gif", "delay_ms": 80, "loop": 2, "colormap": "magma"},
            "apng": {"path": "viridis.apng.png", "delay_ms": 100, "plays": 2, "colormap": "viridis"},
            "sheet": {"path": "sheet.png", "columns": 3, "gap": 4, "colormap": "rainbow",
                      "background": [24, 24, 24]},
        }),
    );

    // Scalar functions, for exhaustive comparison with numpy.
    let maxes = [256u32, 100, 1000, 1];
    let mut t = Vec::new();
    for &m in &maxes {
        t.extend((0..=u16::MAX).map(|v| to_uint8(v, m)));
    }
    fs::write(out.join("to_uint8.u8"), t)?;
    let ranges = [(0u16, 256u16), (3, 200), (7, 7), (0, 65535), (17, 18)];
    let mut st = Vec::new();
    for &(lo, hi) in &ranges {
        st.extend((lo..=hi).map(|v| stretch(v, lo, hi)));
    }
    fs::write(out.join("stretch.u8"), st)?;
    manifest.insert(
        "scalars".into(),
        json!({"to_uint8": {"file": "to_uint8.u8", "maxes": maxes},
               "stretch": {"file": "stretch.u8", "ranges": ranges}}),
    );

    fs::write(
        out.join("manifest.json"),
        serde_json::to_string_pretty(&Value::Object(manifest))?,
    )?;
    println!("wrote fixtures to {}", out.display());
    Ok(())
}
