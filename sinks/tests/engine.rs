//! The sinks driven by the real engine: what is stored equals `Executor::compute` of the plan.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use ndarray::{Array3, ArrayD, Axis};
use zarrs::array::Array;
use zarrs::filesystem::FilesystemStore;
use zoomstack_engine::kernel::StackParams;
use zoomstack_engine::{DownsampleMode, Executor, RenderPlan, ZoomStack};
use zoomstack_sinks::*;

fn small_stack() -> ZoomStack {
    let params = StackParams {
        height: 48,
        width: 40,
        ..StackParams::default()
    };
    ZoomStack::new(120_000, params).unwrap()
}

fn plan(select: &str, chunks: [usize; 3]) -> RenderPlan {
    small_stack()
        .array()
        .select(select)
        .unwrap()
        .rechunk(chunks)
        .unwrap()
        .optimize()
        .unwrap()
}

fn read_back(store: &Path, array_path: &str) -> Array3<u16> {
    let s = Arc::new(FilesystemStore::new(store).unwrap());
    let a = Array::open(s, &format!("/{array_path}")).unwrap();
    let d: ArrayD<u16> = a.retrieve_array_subset(&a.subset_all()).unwrap();
    d.into_dimensionality().unwrap()
}

#[test]
fn zarr_equals_compute_unsharded_and_sharded() {
    let exec = Executor::new(2);
    let p = plan("[0:20000:997, ::1, 3::2]", [1, 16, 16]);
    let want = exec.compute(&p).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (name, shard) in [
        ("plain", None),
        ("sharded", Some([4, 32, 32])),
        ("one-shard", Some([32, 48, 32])),
    ] {
        let store = dir.path().join(name);
        let opts = ZarrOptions {
            shard,
            ..ZarrOptions::default()
        };
        let report = write_zarr(&p, &exec, &store, opts).unwrap();
        assert!(report.complete, "{name}: {report:?}");
        assert_eq!(report.units_written, report.units_total, "{name}");
        assert_eq!(read_back(&store, ""), want, "{name}");
        let st = store_status(&store, "").unwrap();
        assert_eq!(st.attributes["select"], p.select_string());
        assert!(st.complete);
    }
}

#[test]
fn mean_downsample_is_recorded() {
    let exec = Executor::new(2);
    let p = small_stack()
        .array()
        .select("[100:110]")
        .unwrap()
        .downsample(2, 4, DownsampleMode::Mean)
        .unwrap()
        .rechunk([2, 24, 10])
        .unwrap()
        .optimize()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("mean.zarr");
    let report = write_zarr(&p, &exec, &store, ZarrOptions::default()).unwrap();
    assert!(report.complete);
    assert_eq!(read_back(&store, ""), exec.compute(&p).unwrap());
    let st = store_status(&store, "").unwrap();
    assert_eq!(
        st.attributes["downsample"],
        serde_json::json!({"factors": [2, 4], "mode": "mean"})
    );
    // Resuming with a stride instead of a mean is refused, naming the field.
    let stride = small_stack()
        .array()
        .select("[100:110]")
        .unwrap()
        .downsample(2, 4, DownsampleMode::Stride)
        .unwrap()
        .rechunk([2, 24, 10])
        .unwrap()
        .optimize()
        .unwrap();
    let err = write_zarr(&stride, &exec, &store, ZarrOptions::default()).unwrap_err();
    match err {
        SinkError::ParameterMismatch { field, .. } => assert_eq!(field, "select"),
        other => panic!("{other}"),
    }
}

#[test]
fn cancelled_write_is_incomplete_then_resumes() {
    let p = plan("[0:60000:1000]", [1, 48, 40]);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("c.zarr");
    let flag = Arc::new(AtomicBool::new(true));
    let cancelled = Executor::new(2).with_cancel(flag);
    let report = write_zarr(&p, &cancelled, &store, ZarrOptions::default()).unwrap();
    assert!(!report.complete);
    assert!(!store_status(&store, "").unwrap().complete);
    let exec = Executor::new(2);
    let report = write_zarr(&p, &exec, &store, ZarrOptions::default()).unwrap();
    assert!(report.complete);
    assert_eq!(
        report.units_skipped + report.units_written,
        report.units_total
    );
    assert_eq!(read_back(&store, ""), exec.compute(&p).unwrap());
}

#[test]
fn pyramid_levels_are_rendered_strides() {
    let exec = Executor::new(2);
    let base = plan("[5000:5008]", [2, 16, 16]);
    let plans = pyramid_plans(&base, 3);
    assert_eq!(plans.len(), 3);
    assert_eq!(plans[2].shape(), [8, 12, 10]);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("p.ome.zarr");
    let opts = ZarrOptions {
        shard: Some([4, 32, 32]),
        ..ZarrOptions::default()
    };
    let reports = write_pyramid(&plans, &exec, &store, opts).unwrap();
    assert!(reports.iter().all(|r| r.complete));
    let full = exec.compute(&base).unwrap();
    for (k, p) in plans.iter().enumerate() {
        let got = read_back(&store, &k.to_string());
        assert_eq!(got, exec.compute(p).unwrap());
        let s = 1usize << k;
        let strided = full.slice(ndarray::s![.., ..;s, ..;s]).to_owned();
        assert_eq!(got, strided, "level {k} is the base at stride {s}");
    }
    // Every level's shard keeps 2x2x2 chunks per shard... clamped where the level is smaller.
    let st = store_status(&store, "2").unwrap();
    assert_eq!(st.write_unit, vec![4, 24, 20]);
}

#[test]
fn frames_feed_several_sinks() {
    let exec = Executor::new(2);
    let p = plan("[0:20000:5000, ::2, ::2]", [1, 24, 20]);
    let want = exec.compute(&p).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (h, w) = (24, 20);
    let sinks: Vec<Box<dyn FrameSink>> = vec![
        Box::new(
            PngFrameWriter::new(
                d.join("png"),
                PngFrameOptions::preview(120_000, 256, Colormap::Rainbow),
            )
            .unwrap(),
        ),
        Box::new(PngFrameWriter::new(d.join("raw"), PngFrameOptions::counts16(120_000)).unwrap()),
        Box::new(GifWriter::create(d.join("a.gif"), w, h, AnimationOptions::default()).unwrap()),
        Box::new(
            ApngWriter::create(d.join("a.png"), w, h, 4, AnimationOptions::default()).unwrap(),
        ),
        Box::new(ContactSheet::new(d.join("sheet.png"), ContactSheetOptions::default()).unwrap()),
    ];
    let files = write_frames(&p, &exec, sinks).unwrap();
    let names: Vec<String> = files
        .iter()
        .map(|f| f.strip_prefix(d).unwrap().display().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "png/level-000000.png",
            "png/level-005000.png",
            "png/level-010000.png",
            "png/level-015000.png",
            "raw/level-000000-raw.png",
            "raw/level-005000-raw.png",
            "raw/level-010000-raw.png",
            "raw/level-015000-raw.png",
            "a.gif",
            "a.png",
            "sheet.png",
        ]
    );
    // The raw PNG of level 10000 holds exactly the counts.
    let dec = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(d.join("raw/level-010000-raw.png")).unwrap(),
    ));
    let mut r = dec.read_info().unwrap();
    let mut buf = vec![0; r.output_buffer_size().unwrap()];
    r.next_frame(&mut buf).unwrap();
    let counts: Vec<u16> = buf
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect();
    let frame = want.index_axis(Axis(0), 2);
    assert_eq!(counts, frame.iter().copied().collect::<Vec<_>>());
}

#[test]
fn sink_errors_come_back_unwrapped() {
    let exec = Executor::new(2);
    let p = plan("[0:4]", [1, 48, 40]);
    let dir = tempfile::tempdir().unwrap();
    // An APNG declared with fewer frames than the plan has.
    let sinks: Vec<Box<dyn FrameSink>> = vec![Box::new(
        ApngWriter::create(
            dir.path().join("x.png"),
            40,
            48,
            2,
            AnimationOptions::default(),
        )
        .unwrap(),
    )];
    let err = write_frames(&p, &exec, sinks).unwrap_err();
    assert!(matches!(err, SinkError::FrameCount { .. }), "{err:?}");
    assert!(!dir.path().join("x.png").exists());
}
