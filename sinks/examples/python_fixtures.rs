//! Writes every kind of sink output, plus the engine's in-memory results, into a directory for
//! the Python reader checks (`sinks/tests/python`, run by `sinks/tests/run_python_checks.sh`).
//!
//! ```text
//! cargo run -p zoomstack-sinks --example python_fixtures -- OUT_DIR
//! ```
//!
//! `OUT_DIR/manifest.json` lists each output with what a reader must find in it; `*.u16` files
//! hold the expected arrays (little-endian `uint16`, C order).

use std::fs;
use std::path::Path;

use serde_json::{Value, json};
use zoomstack_engine::{DownsampleMode, Executor, RenderPlan, ZoomStack};
use zoomstack_sinks::{
    AnimationOptions, ApngWriter, Colormap, Compression, ContactSheet, ContactSheetOptions,
    FrameSink, GifWriter, Playback, PngFrameOptions, PngFrameWriter, Scaling, ZarrOptions,
    pyramid_plans, stretch, to_uint8, write_frames, write_pyramid, write_zarr,
};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn plan(select: &str, chunks: [usize; 3]) -> Res<RenderPlan> {
    Ok(ZoomStack::default()
        .array()
        .select(select)?
        .rechunk(chunks)?
        .optimize()?)
}

/// Write `plan`'s in-memory result as raw little-endian u16; returns its manifest entry.
fn expected(exec: &Executor, plan: &RenderPlan, out: &Path, name: &str) -> Res<Value> {
    let a = exec.compute(plan)?;
    let bytes: Vec<u8> = a.iter().flat_map(|v| v.to_le_bytes()).collect();
    fs::write(out.join(name), bytes)?;
    Ok(json!({"file": name, "shape": plan.shape()}))
}

fn zarr_entry(
    exec: &Executor,
    out: &Path,
    name: &str,
    p: &RenderPlan,
    options: ZarrOptions,
) -> Res<Value> {
    let shard = options.shard;
    let report = write_zarr(p, exec, out.join(name), options)?;
    assert!(report.complete, "{name}");
    Ok(json!({
        "path": name,
        "expected": expected(exec, p, out, &format!("{name}.u16"))?,
        "chunks": p.chunks(),
        "shards": shard,
        "units": report.units_total,
        "select": p.select_string(),
    }))
}

fn main() -> Res<()> {
    let out = std::env::args()
        .nth(1)
        .ok_or("usage: python_fixtures OUT_DIR")?;
    let out = Path::new(&out);
    fs::create_dir_all(out)?;
    let exec = Executor::new(2);
    let mut manifest = serde_json::Map::new();

    // Zarr stores.
    let unsharded = plan("[0:20000:1000, ::8, ::8]", [1, 32, 32])?;
    let sharded = plan("[0:30000:1000, 1::7, 2::9]", [2, 16, 16])?;
    let mean = ZoomStack::default()
        .array()
        .select("[0:10]")?
        .downsample(4, 4, DownsampleMode::Mean)?
        .rechunk([1, 64, 64])?
        .optimize()?;
    manifest.insert(
        "zarr".into(),
        json!([
            zarr_entry(
                &exec,
                out,
                "unsharded.zarr",
                &unsharded,
                ZarrOptions::default()
            )?,
            zarr_entry(
                &exec,
                out,
                "sharded.zarr",
                &sharded,
                ZarrOptions {
                    shard: Some([4, 32, 32]),
                    compression: Compression::Zstd { level: 5 },
                    ..ZarrOptions::default()
                },
            )?,
            zarr_entry(
                &exec,
                out,
                "uncompressed.zarr",
                &unsharded,
                ZarrOptions {
                    compression: Compression::None,
                    ..ZarrOptions::default()
                },
            )?,
            zarr_entry(&exec, out, "mean.zarr", &mean, ZarrOptions::default())?,
        ]),
    );

    // OME-Zarr pyramid.
    let base = plan("[1000:9000:1000, ::4, ::4]", [1, 32, 32])?;
    let plans = pyramid_plans(&base, 3);
    let reports = write_pyramid(
        &plans,
        &exec,
        out.join("pyramid.ome.zarr"),
        ZarrOptions {
            shard: Some([4, 64, 64]),
            ..ZarrOptions::default()
        },
    )?;
    assert!(reports.iter().all(|r| r.complete));
    let levels = plans
        .iter()
        .enumerate()
        .map(|(k, p)| expected(&exec, p, out, &format!("pyramid.{k}.u16")))
        .collect::<Res<Vec<_>>>()?;
    manifest.insert(
        "pyramid".into(),
        json!({"path": "pyramid.ome.zarr", "levels": levels}),
    );

    // Images.
    let frames = plan("[0:20000:5000, ::4, ::4]", [1, 128, 128])?;
    let [n, h, w] = frames.shape().map(|v| v as usize);
    let magma_gif = AnimationOptions {
        colormap: Colormap::Magma,
        frame_delay_ms: 80,
        playback: Playback::Times(3),
        ..AnimationOptions::default()
    };
    let apng = AnimationOptions {
        colormap: Colormap::Viridis,
        scaling: Scaling::notebook(256),
        frame_delay_ms: 100,
        playback: Playback::Times(2),
    };
    let sheet = ContactSheetOptions {
        columns: Some(3),
        colormap: Colormap::Rainbow,
        ..ContactSheetOptions::default()
    };
    let sinks: Vec<Box<dyn FrameSink>> = vec![
        Box::new(PngFrameWriter::new(
            out.join("png_viridis"),
            PngFrameOptions::preview(120_000, 256, Colormap::Viridis),
        )?),
        Box::new(PngFrameWriter::new(
            out.join("png_gray"),
            PngFrameOptions::preview(120_000, 256, Colormap::Gray),
        )?),
        Box::new(PngFrameWriter::new(
            out.join("png_raw"),
            PngFrameOptions::counts16(120_000),
        )?),
        Box::new(GifWriter::create(
            out.join("gray.gif"),
            w,
            h,
            AnimationOptions::default(),
        )?),
        Box::new(GifWriter::create(out.join("magma.gif"), w, h, magma_gif)?),
        Box::new(ApngWriter::create(
            out.join("viridis.apng.png"),
            w,
            h,
            n as u64,
            apng,
        )?),
        Box::new(ContactSheet::new(out.join("sheet.png"), sheet)?),
    ];
    let files = write_frames(&frames, &exec, sinks)?;
    let files: Vec<String> = files
        .iter()
        .map(|f| f.strip_prefix(out).unwrap_or(f).display().to_string())
        .collect();
    let levels: Vec<u64> = (0..n as u64).map(|k| frames.stack_level(k)).collect();
    manifest.insert(
        "images".into(),
        json!({
            "frames": expected(&exec, &frames, out, "frames.u16")?,
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
