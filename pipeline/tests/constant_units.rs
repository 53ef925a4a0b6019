//! Write units proven constant (exact contract) through the run path: stored without rendering,
//! reported apart from the pixel progress, counted as done when a run is interrupted, and
//! estimated at the size the store gives them.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use ndarray::{Array3, ArrayD};
use zarrs::array::Array;
use zarrs::filesystem::FilesystemStore;
use zoomstack_engine::Executor;
use zoomstack_pipeline::spec::parse_str;
use zoomstack_pipeline::{Job, Observer, Pipeline, RunError, RunOptions, Share};
use zoomstack_sinks::{Compression, ZarrSink};

/// Levels 139700..140340 of the notebook's 120 million levels (exact) at 16 x 16, in shards of
/// 64 levels: shards 0..=2 hold levels below 139845, the first proven constant level at this
/// size (rendered); shards 3..=9 only proven levels (250 everywhere, stored without rendering).
fn pipeline() -> Pipeline {
    let text = "[stack]\nlevels = 120_000_000\nheight = 16\nwidth = 16\narithmetic = \"exact\"\n\
                [[sink]]\nkind = \"zarr\"\npath = \"c.zarr\"\nselect = \"[139700:140340]\"\n\
                chunks = [1, 16, 16]\nshards = [64, 16, 16]\n";
    Pipeline::new(parse_str("c.toml", text).unwrap()).unwrap()
}

/// Pixels of one shard.
const SHARD: u64 = 64 * 16 * 16;

/// When the observer raises the cancel flag.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Stop {
    Never,
    /// When this many proven-constant units are stored.
    AfterConstant(u64),
    /// At the first pixel progress.
    AtFirstPixels,
}

/// Records what a run reports and raises `cancel` as `stop` says.
struct Recorder {
    stop: Stop,
    cancel: Arc<AtomicBool>,
    total: Mutex<Option<u64>>,
    advances: Mutex<Vec<u64>>,
    constant: Mutex<Vec<(u64, u64)>>,
}

impl Recorder {
    fn new(stop: Stop) -> Arc<Recorder> {
        Arc::new(Recorder {
            stop,
            cancel: Arc::default(),
            total: Mutex::default(),
            advances: Mutex::default(),
            constant: Mutex::default(),
        })
    }
}

impl Observer for Recorder {
    fn start(&self, total: u64) {
        *self.total.lock().unwrap() = Some(total);
    }
    fn advance(&self, done: u64) {
        self.advances.lock().unwrap().push(done);
        if self.stop == Stop::AtFirstPixels {
            self.cancel.store(true, Ordering::SeqCst);
        }
    }
    fn constant_units(&self, stored: u64, total: u64) {
        self.constant.lock().unwrap().push((stored, total));
        if self.stop == Stop::AfterConstant(stored) {
            self.cancel.store(true, Ordering::SeqCst);
        }
    }
}

fn run(p: &Pipeline, dir: &Path, rec: &Arc<Recorder>) -> Result<(), RunError> {
    let opts = RunOptions {
        threads: 1,
        out_dir: dir.to_path_buf(),
        cancel: rec.cancel.clone(),
        ..RunOptions::default()
    };
    let observer: Arc<dyn Observer> = rec.clone();
    p.run(&opts, &observer).map(|_| ())
}

fn read_back(store: &Path) -> Array3<u16> {
    let s = Arc::new(FilesystemStore::new(store).unwrap());
    let a = Array::open(s, "/counts").unwrap();
    let d: ArrayD<u16> = a.retrieve_array_subset(&a.subset_all()).unwrap();
    d.into_dimensionality().unwrap()
}

/// The bytes the sink stores for one constant shard of the pipeline's store.
fn constant_shard_bytes(p: &Pipeline) -> u64 {
    let Job::Zarr(z) = &p.jobs()[0] else {
        panic!("a zarr job")
    };
    ZarrSink::constant_unit_bytes(&z.datasets[0].desc, Compression::default(), 250).unwrap()
}

#[test]
fn constant_units_are_estimated_at_their_stored_size_and_progress_apart() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline();
    let each = constant_shard_bytes(&p);
    // One encoded chunk (zstd of 256 equal counts, a few dozen bytes) and the index.
    assert!(each > 64 * 16 + 4 && each < 64 * 16 + 4 + 200, "{each}");

    let e = p.estimate(Share::ALL);
    let s = &e.sinks[0];
    assert_eq!((s.files, s.constant_units), (20, 7));
    assert_eq!(s.bytes, 3 * SHARD * 2 + 7 * each);
    let text = e.to_string();
    assert!(
        text.contains("7 write units proven constant, stored without rendering"),
        "{text}"
    );
    assert!(
        text.contains("proven-constant write units at their stored size"),
        "{text}"
    );
    // Share 1 of 2: units 1, 3, 5, 7, 9; all but unit 1 constant.
    let s = &p.estimate(Share { index: 1, count: 2 }).sinks[0];
    assert_eq!((s.files, s.constant_units), (10, 4));
    assert_eq!(s.bytes, SHARD * 2 + 4 * each);
    assert_eq!(p.total_pixels(), 3 * SHARD);
    let described = p.describe(dir.path());
    assert!(
        described.contains("10 write units (7 proven constant: stored without rendering)"),
        "{described}"
    );
    assert!(
        described.contains(&format!("Total: {} pixels rendered", 3 * SHARD)),
        "{described}"
    );

    let rec = Recorder::new(Stop::Never);
    run(&p, dir.path(), &rec).unwrap();
    // The pixel progress covers the rendered units only; the constant ones come apart.
    assert_eq!(*rec.total.lock().unwrap(), Some(3 * SHARD));
    let advances = rec.advances.lock().unwrap().clone();
    assert_eq!(advances.iter().max(), Some(&(3 * SHARD)), "{advances:?}");
    assert_eq!(advances.last(), Some(&(3 * SHARD)), "{advances:?}");
    let constant = rec.constant.lock().unwrap().clone();
    assert_eq!(constant, (1..=7).map(|k| (k, 7)).collect::<Vec<_>>());
    // What the estimate counted is what the constant shards take on disk.
    let store = dir.path().join("c.zarr");
    for u in 3..10 {
        let file = store.join(format!("counts/c/{u}/0/0"));
        assert_eq!(std::fs::metadata(&file).unwrap().len(), each, "shard {u}");
    }
    let shard0 = std::fs::metadata(store.join("counts/c/0/0/0")).unwrap();
    assert!(shard0.len() > each, "a rendered shard: {}", shard0.len());
}

#[test]
fn an_interrupted_run_counts_the_constant_units_it_stored() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline();
    // Stopped while storing the constant units: two of them are done.
    let err = run(&p, dir.path(), &Recorder::new(Stop::AfterConstant(2))).unwrap_err();
    match &err {
        RunError::Cancelled {
            tiles_done,
            tiles_total,
            tiles_constant,
            ..
        } => assert_eq!((*tiles_done, *tiles_total, *tiles_constant), (2, 10, 2)),
        other => panic!("{other}"),
    }
    assert!(
        err.to_string().starts_with(
            "interrupted after 2 of 10 tiles of sink 1 (zarr -> c.zarr) (2 of them proven \
             constant, stored without rendering)"
        ),
        "{err}"
    );
    // Resumed, then stopped after the first rendered unit: the other five constant units are
    // stored first, so 7 constant and 1 rendered are done.
    let rec = Recorder::new(Stop::AtFirstPixels);
    let err = run(&p, dir.path(), &rec).unwrap_err();
    assert!(
        err.to_string().starts_with(
            "interrupted after 8 of 10 tiles of sink 1 (zarr -> c.zarr) (7 of them proven \
             constant"
        ),
        "{err}"
    );
    assert_eq!(*rec.advances.lock().unwrap(), [SHARD]);
    assert_eq!(rec.constant.lock().unwrap().last(), Some(&(7, 7)));
    // The last resume renders the two missing units; the store equals the plan's counts.
    let rec = Recorder::new(Stop::Never);
    run(&p, dir.path(), &rec).unwrap();
    let advances = rec.advances.lock().unwrap().clone();
    assert_eq!(advances.last(), Some(&(3 * SHARD)), "{advances:?}");
    let Job::Zarr(z) = &p.jobs()[0] else {
        panic!("a zarr job")
    };
    let want = Executor::new(2).compute(&z.datasets[0].plan).unwrap();
    assert_eq!(read_back(&dir.path().join("c.zarr")), want);
}
