//! Completion markers: the syncer threads that `fsync` a unit and then mark it, loading markers
//! on resume, and the `complete` flag.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;

use serde_json::Value;

use super::units::UnitGrid;
use crate::SinkError;
use crate::fsutil::write_atomic;

/// Number of threads that sync written units and create their markers.
pub(super) const SYNCER_THREADS: usize = 2;

/// State shared by the writing threads and the syncer threads.
#[derive(Debug)]
pub(super) struct Shared {
    pub(super) marker_dir: PathBuf,
    pub(super) units: UnitGrid,
    /// Units with a marker (found at open, or created by this run).
    pub(super) done: Vec<AtomicBool>,
    /// Units whose data this run has handed to the syncer (not yet necessarily marked).
    pub(super) stored: Vec<AtomicBool>,
    pub(super) marked: AtomicU64,
    pub(super) raw_bytes: AtomicU64,
    pub(super) failed: AtomicBool,
    pub(super) error: Mutex<Option<SinkError>>,
}

impl Shared {
    pub(super) fn fail(&self, e: SinkError) {
        let mut slot = self
            .error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if slot.is_none() {
            *slot = Some(e);
        }
        self.failed.store(true, Ordering::SeqCst);
    }

    /// The first error of the syncer threads (once), afterwards a generic one.
    pub(super) fn take_error(&self, array_dir: &Path) -> SinkError {
        let mut slot = self
            .error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        slot.take().unwrap_or_else(|| SinkError::Zarr {
            op: "write",
            path: array_dir.to_path_buf(),
            message: "an earlier write to this store failed (see the first error)".to_string(),
        })
    }

    /// Sync a written unit's file, then create its marker.
    pub(super) fn sync_and_mark(&self, job: &SyncJob) -> Result<(), SinkError> {
        if let Some(file) = &job.file {
            fs::File::open(file)
                .and_then(|f| f.sync_all())
                .map_err(|e| SinkError::io("sync chunk file", file, e))?;
        }
        let u = job.unit;
        let marker = self.marker_dir.join(format!("{}.{}.{}", u[0], u[1], u[2]));
        fs::File::create(&marker).map_err(|e| SinkError::io("create marker", &marker, e))?;
        self.done[self.units.linear(u) as usize].store(true, Ordering::Release);
        self.marked.fetch_add(1, Ordering::Relaxed);
        self.raw_bytes.fetch_add(job.raw_bytes, Ordering::Relaxed);
        Ok(())
    }
}

/// A unit written by a rendering thread, waiting to be synced and marked.
#[derive(Debug)]
pub(super) struct SyncJob {
    pub(super) unit: [u64; 3],
    /// The chunk/shard file (`None` when the unit equals the fill value and has no file).
    pub(super) file: Option<PathBuf>,
    pub(super) raw_bytes: u64,
}

pub(super) fn spawn_syncers(shared: &Arc<Shared>) -> (mpsc::Sender<SyncJob>, Vec<JoinHandle<()>>) {
    let (tx, rx) = mpsc::channel::<SyncJob>();
    let rx = Arc::new(Mutex::new(rx));
    let handles = (0..SYNCER_THREADS)
        .map(|_| {
            let rx = Arc::clone(&rx);
            let shared = Arc::clone(shared);
            std::thread::spawn(move || {
                loop {
                    let job = match rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = job else { return };
                    if shared.failed.load(Ordering::SeqCst) {
                        continue;
                    }
                    if let Err(e) = shared.sync_and_mark(&job) {
                        shared.fail(e);
                    }
                }
            })
        })
        .collect();
    (tx, handles)
}

/// Read the marker directory into a done-bitmap (unknown names are ignored).
pub(super) fn load_markers(
    marker_dir: &Path,
    units: &UnitGrid,
) -> Result<Vec<AtomicBool>, SinkError> {
    let done: Vec<AtomicBool> = (0..units.total()).map(|_| AtomicBool::new(false)).collect();
    let entries = match fs::read_dir(marker_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(done),
        Err(e) => return Err(SinkError::io("list markers in", marker_dir, e)),
    };
    for e in entries {
        let e = e.map_err(|e| SinkError::io("list markers in", marker_dir, e))?;
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let parts: Vec<Option<u64>> = name.split('.').map(|p| p.parse().ok()).collect();
        if let [Some(i), Some(j), Some(k)] = parts[..]
            && i < units.grid[0]
            && j < units.grid[1]
            && k < units.grid[2]
        {
            done[units.linear([i, j, k]) as usize].store(true, Ordering::Relaxed);
        }
    }
    Ok(done)
}

/// Rewrite `zarr.json` (atomically, durably) with `zoomstack.complete` set, keeping the rest.
pub(super) fn set_complete(array_dir: &Path, complete: bool) -> Result<(), SinkError> {
    let p = array_dir.join("zarr.json");
    let text = fs::read_to_string(&p).map_err(|e| SinkError::io("read", &p, e))?;
    let mut v: Value = serde_json::from_str(&text).map_err(|e| SinkError::InvalidMetadata {
        path: p.clone(),
        reason: format!("not valid JSON: {e}"),
    })?;
    let zs = v
        .get_mut("attributes")
        .and_then(|a| a.get_mut("zoomstack"))
        .and_then(Value::as_object_mut)
        .ok_or_else(|| SinkError::InvalidMetadata {
            path: p.clone(),
            reason: "no `attributes.zoomstack` object".to_string(),
        })?;
    zs.insert("complete".to_string(), Value::Bool(complete));
    let text = serde_json::to_string_pretty(&v).unwrap_or_default();
    write_atomic(&p, true, |w| {
        w.write_all(text.as_bytes())
            .map_err(|e| SinkError::io("write", &p, e))
    })
}
