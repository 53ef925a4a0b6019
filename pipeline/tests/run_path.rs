//! The run path end to end: specs run by `Pipeline` (what the binary runs) write stores and
//! frames equal to `Executor::compute` of each sink's plan.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use ndarray::{Array3, ArrayD, Axis};
use zarrs::array::Array;
use zarrs::filesystem::FilesystemStore;
use zoomstack_engine::Executor;
use zoomstack_pipeline::spec::parse_str;
use zoomstack_pipeline::{Job, Observer, Pipeline, RunError, RunOptions, RunReport, Silent};
use zoomstack_sinks::{SinkError, store_status};

/// The notebook's 120000 levels at 48 x 40, then `sinks` (TOML `[[sink]]` tables).
fn pipeline(sinks: &str) -> Pipeline {
    let text = format!("[stack]\nheight = 48\nwidth = 40\n{sinks}");
    Pipeline::new(parse_str("t.toml", &text).unwrap()).unwrap()
}

fn run(p: &Pipeline, dir: &Path) -> Result<RunReport, RunError> {
    run_with(p, dir, Arc::default())
}

fn run_with(p: &Pipeline, dir: &Path, cancel: Arc<AtomicBool>) -> Result<RunReport, RunError> {
    let opts = RunOptions {
        threads: 2,
        out_dir: dir.to_path_buf(),
        cancel,
        ..RunOptions::default()
    };
    let silent: Arc<dyn Observer> = Arc::new(Silent);
    p.run(&opts, &silent)
}

/// The array at `array_path` (`""`: the store's own array, `counts` in its root group).
fn read_back(store: &Path, array_path: &str) -> Array3<u16> {
    let array_path = if array_path.is_empty() {
        "counts"
    } else {
        array_path
    };
    let s = Arc::new(FilesystemStore::new(store).unwrap());
    let a = Array::open(s, &format!("/{array_path}")).unwrap();
    let d: ArrayD<u16> = a.retrieve_array_subset(&a.subset_all()).unwrap();
    d.into_dimensionality().unwrap()
}

/// What the first sink's plan computes in memory.
fn expected(p: &Pipeline) -> Array3<u16> {
    Executor::new(2).compute(&p.spec().sinks[0].plan).unwrap()
}

#[test]
fn zarr_equals_compute_unsharded_and_sharded() {
    let dir = tempfile::tempdir().unwrap();
    for (name, shards) in [
        ("plain", ""),
        ("sharded", "shards = [4, 32, 32]"),
        ("one-shard", "shards = [32, 48, 32]"),
    ] {
        let p = pipeline(&format!(
            "[[sink]]\nkind = \"zarr\"\npath = \"{name}\"\nselect = \"[0:20000:997, ::1, 3::2]\"\nchunks = [1, 16, 16]\n{shards}\n"
        ));
        let report = run(&p, dir.path()).unwrap();
        let r = &report.sinks[0].zarr[0];
        assert!(r.complete, "{name}: {r:?}");
        assert_eq!(r.units_written, r.units_total, "{name}");
        let store = dir.path().join(name);
        assert_eq!(read_back(&store, ""), expected(&p), "{name}");
        let st = store_status(&store, "").unwrap();
        assert_eq!(
            st.attributes["select"],
            p.spec().sinks[0].plan.selection().select_text()
        );
        assert!(st.complete);
    }
}

#[test]
fn mean_downsample_is_recorded_and_a_stride_is_refused_on_resume() {
    let dir = tempfile::tempdir().unwrap();
    let sink = |mode: &str| {
        pipeline(&format!(
            "[[sink]]\nkind = \"zarr\"\npath = \"mean.zarr\"\nselect = \"[100:110]\"\ndownsample = {{ factors = [2, 4], mode = \"{mode}\" }}\nchunks = [2, 24, 10]\n"
        ))
    };
    let p = sink("mean");
    assert!(run(&p, dir.path()).unwrap().sinks[0].zarr[0].complete);
    let store = dir.path().join("mean.zarr");
    assert_eq!(read_back(&store, ""), expected(&p));
    let st = store_status(&store, "").unwrap();
    assert_eq!(
        st.attributes["downsample"],
        serde_json::json!({"factors": [2, 4], "mode": "mean"})
    );
    // Resuming with a stride instead of a mean is refused, naming the field.
    match run(&sink("stride"), dir.path()).unwrap_err() {
        RunError::Sink {
            error: SinkError::ParameterMismatch { field, .. },
            ..
        } => assert_eq!(field, "select"),
        other => panic!("{other}"),
    }
}

#[test]
fn cancelled_write_is_incomplete_then_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(
        "[[sink]]\nkind = \"zarr\"\npath = \"c.zarr\"\nselect = \"[0:60000:1000]\"\nchunks = [1, 48, 40]\n",
    );
    let err = run_with(&p, dir.path(), Arc::new(AtomicBool::new(true))).unwrap_err();
    assert!(matches!(err, RunError::Cancelled { .. }), "{err}");
    let store = dir.path().join("c.zarr");
    assert!(!store_status(&store, "").unwrap().complete);
    let report = run(&p, dir.path()).unwrap();
    let r = &report.sinks[0].zarr[0];
    assert!(r.complete);
    assert_eq!(r.units_skipped + r.units_written, r.units_total);
    assert_eq!(read_back(&store, ""), expected(&p));
}

#[test]
fn pyramid_levels_are_rendered_strides() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(
        "[[sink]]\nkind = \"zarr\"\npath = \"p.ome.zarr\"\nselect = \"[5000:5008]\"\nchunks = [2, 16, 16]\nshards = [4, 32, 32]\nome = true\npyramid_levels = 2\n",
    );
    let report = run(&p, dir.path()).unwrap();
    assert!(report.sinks[0].zarr.iter().all(|r| r.complete));
    let Job::Zarr(z) = &p.jobs()[0] else {
        panic!("a zarr job")
    };
    assert_eq!(z.datasets.len(), 3);
    assert_eq!(z.datasets[2].plan.shape(), [8, 12, 10]);
    let store = dir.path().join("p.ome.zarr");
    let full = expected(&p);
    for k in 0..3 {
        let got = read_back(&store, &k.to_string());
        let s = 1usize << k;
        let strided = full.slice(ndarray::s![.., ..;s, ..;s]).to_owned();
        assert_eq!(got, strided, "level {k} is the base at stride {s}");
    }
    // Every level keeps 2x2x2 chunks per shard, clamped where the level is smaller.
    let st = store_status(&store, "2").unwrap();
    assert_eq!(st.write_unit, vec![4, 24, 20]);
}

#[test]
fn frames_feed_several_sinks_from_one_render() {
    let dir = tempfile::tempdir().unwrap();
    let select = "select = \"[0:20000:5000, ::2, ::2]\"";
    let p = pipeline(&format!(
        "[[sink]]\nkind = \"png\"\npath = \"png\"\ncolormap = \"rainbow\"\n{select}\n\
         [[sink]]\nkind = \"png16\"\npath = \"raw\"\n{select}\n\
         [[sink]]\nkind = \"animation\"\npath = \"a.gif\"\n{select}\n\
         [[sink]]\nkind = \"animation\"\npath = \"a.png\"\n{select}\n\
         [[sink]]\nkind = \"contact-sheet\"\npath = \"sheet.png\"\n{select}\n"
    ));
    assert_eq!(p.jobs().len(), 1, "one shared render");
    let report = run(&p, dir.path()).unwrap();
    let d = dir.path();
    let names: Vec<String> = report
        .sinks
        .iter()
        .flat_map(|o| o.paths.iter())
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
    let want = expected(&p);
    let frame = want.index_axis(Axis(0), 2);
    assert_eq!(counts, frame.iter().copied().collect::<Vec<_>>());
}

/// Every frame of a (possibly animated) PNG file as RGB triples (gray expanded).
fn png_rgb_frames(path: &Path) -> Vec<Vec<u8>> {
    let mut dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    dec.set_transformations(png::Transformations::EXPAND);
    let mut r = dec.read_info().unwrap();
    let n = r.info().animation_control.map_or(1, |a| a.num_frames);
    (0..n)
        .map(|_| {
            let mut buf = vec![0; r.output_buffer_size().unwrap()];
            let info = r.next_frame(&mut buf).unwrap();
            buf.truncate(info.buffer_size());
            match info.color_type {
                png::ColorType::Rgb => buf,
                png::ColorType::Grayscale => buf.iter().flat_map(|&g| [g, g, g]).collect(),
                other => panic!("{other:?}"),
            }
        })
        .collect()
}

#[test]
fn smooth_frames_feed_png_animations_and_a_sheet_from_one_render() {
    let dir = tempfile::tempdir().unwrap();
    let select = "select = \"[0:20000:5000, ::2, ::2]\"";
    let smooth = "colour = \"smooth\"\ncolormap = \"twilight\"\ncycle = 24";
    let p = pipeline(&format!(
        "[[sink]]\nkind = \"png\"\npath = \"png\"\n{smooth}\n{select}\n\
         [[sink]]\nkind = \"animation\"\npath = \"a.png\"\n{smooth}\n{select}\n\
         [[sink]]\nkind = \"animation\"\npath = \"a.gif\"\n{smooth}\n{select}\n\
         [[sink]]\nkind = \"contact-sheet\"\npath = \"sheet.png\"\n{smooth}\n{select}\n\
         [[sink]]\nkind = \"contact-sheet\"\npath = \"counts.png\"\n{select}\n"
    ));
    // The smooth sinks share one render of smooth values; the sheet of counts has its own.
    let smooth_jobs: Vec<(bool, usize)> = p
        .jobs()
        .iter()
        .map(|j| match j {
            Job::Frames(f) => (f.smooth, f.sinks.len()),
            Job::Zarr(_) => panic!("no store"),
        })
        .collect();
    assert_eq!(smooth_jobs, [(true, 4), (false, 1)]);
    run(&p, dir.path()).unwrap();
    let d = dir.path();
    let levels = ["000000", "005000", "010000", "015000"];
    let pngs: Vec<Vec<u8>> = levels
        .iter()
        .map(|l| png_rgb_frames(&d.join(format!("png/level-{l}.png"))).remove(0))
        .collect();
    // The PNG sink's frames are SmoothColours::apply of the plan's smooth values.
    let values = Executor::new(2)
        .compute_values::<f32>(&p.spec().sinks[0].plan)
        .unwrap();
    let colours = zoomstack_sinks::SmoothColours {
        colormap: zoomstack_sinks::Colormap::Twilight,
        scaling: zoomstack_sinks::Scaling::notebook(256),
        cycle: Some(24.0),
    };
    for (k, png) in pngs.iter().enumerate() {
        let mut rgb = Vec::new();
        colours
            .apply(values.index_axis(Axis(0), k), &mut rgb)
            .unwrap();
        assert_eq!(png, &rgb, "frame {k}");
    }
    // The APNG's frames are the PNG sink's.
    assert_eq!(png_rgb_frames(&d.join("a.png")), pngs);
    // The sheet's tiles too: 2 x 2 tiles of 24 x 20, 4 px gaps, no labels (too narrow).
    let sheet = png_rgb_frames(&d.join("sheet.png")).remove(0);
    let sheet_w = 2 * 20 + 3 * 4;
    assert_eq!(sheet.len(), 3 * sheet_w * (2 * 24 + 3 * 4));
    for (k, png) in pngs.iter().enumerate() {
        let (x0, y0) = (4 + (k % 2) * 24, 4 + (k / 2) * 28);
        for y in 0..24 {
            let i = 3 * ((y0 + y) * sheet_w + x0);
            assert_eq!(
                &sheet[i..i + 60],
                &png[60 * y..60 * (y + 1)],
                "tile {k}, row {y}"
            );
        }
    }
    // The GIF exists and holds the colormap's colours (decoded in the sinks' tests).
    assert!(std::fs::metadata(d.join("a.gif")).unwrap().len() > 100);
    assert_ne!(png_rgb_frames(&d.join("counts.png")), vec![sheet]);
}

#[test]
fn a_sink_error_keeps_its_type_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    // The animation's directory is a file: opening the writer fails with the sink's own error.
    std::fs::write(dir.path().join("blocker"), b"x").unwrap();
    let p =
        pipeline("[[sink]]\nkind = \"animation\"\npath = \"blocker/x.gif\"\nselect = \"[0:4]\"\n");
    let err = run(&p, dir.path()).unwrap_err();
    assert!(
        matches!(err, RunError::Sink { ref sink, .. } if sink.contains("animation")),
        "{err:?}"
    );
    assert!(err.is_user_error() || matches!(err, RunError::Sink { .. }));
    assert!(!dir.path().join("blocker").is_dir());
}

/// Make the chunk file of unit (0, 0, 0) a symlink to `/dev/full`: writing it fails with
/// `ENOSPC`, exactly like a full disk.
fn full_disk_at_first_chunk(store: &Path) {
    let c = store.join("counts/c/0/0");
    std::fs::create_dir_all(&c).unwrap();
    std::os::unix::fs::symlink("/dev/full", c.join("0")).unwrap();
}

#[test]
fn disk_full_through_the_executor_comes_back_as_disk_full() {
    let dir = tempfile::tempdir().unwrap();
    let p = Pipeline::new(
        parse_str(
            "t.toml",
            "[stack]\nheight = 16\nwidth = 16\n[[sink]]\nkind = \"zarr\"\npath = \"full2.zarr\"\nselect = \"[0:8]\"\nchunks = [1, 16, 16]\n",
        )
        .unwrap(),
    )
    .unwrap();
    let opts = RunOptions {
        out_dir: dir.path().to_path_buf(),
        ..RunOptions::default()
    };
    p.init(&opts).unwrap();
    let store = dir.path().join("full2.zarr");
    full_disk_at_first_chunk(&store);
    match run(&p, dir.path()).unwrap_err() {
        RunError::Sink {
            error: SinkError::DiskFull { .. },
            ..
        } => {}
        other => panic!("{other:?}"),
    }
    assert!(!store_status(&store, "").unwrap().complete);
}
