//! Zarr v3 stores (via zarrs): self-describing, resumable, crash-safe, checksummed, optionally
//! sharded.
//!
//! Layout (docs/contracts.md, shared with the Python package):
//!
//! - one `uint16` array (at the store root unless [`ZarrOptions::array_path`] says otherwise),
//!   `dimension_names = ["level", "y", "x"]`, fill value 0, chunk shape from the plan; with
//!   sharding, the shard shape is a multiple of the chunk shape; every chunk ends with a
//!   `crc32c` checksum that readers (zarrs, zarr-python) verify;
//! - the attribute `zoomstack`: stack parameters, the normalized `select`, `downsample`, the scale
//!   rule, versions, `write_unit` and `complete`;
//! - `<array dir>/zoomstack.done/i.j.k`: the marker of write unit `(i, j, k)` (a shard, or a
//!   chunk when unsharded), recording the unit file's length and CRC-32C (see `markers`). zarrs
//!   does not store chunks equal to the fill value, so a missing chunk file proves nothing: the
//!   markers are the record.
//!
//! One writer per store: a sink holds an OS lock on the array directory (`lock`; exclusive for
//! a [`Writers::Sole`] writer, shared among the [`Writers::Shared`] writers of a job array).
//! One writer per stored object: every write unit is encoded and stored exactly once, by one
//! thread, from complete data (tiles that cover only part of a unit are assembled in memory
//! first, so memory is bounded by the units in flight). The rendering thread encodes and writes
//! the unit's file and then its marker; syncer threads `fsync` the files, so rendering never
//! waits for the disk. `complete: true` is set only after every marker exists and every file
//! is synced, by an atomic rename of `zarr.json`. A killed write is resumed by opening the store
//! again with the same parameters: units with a marker whose record matches the file's length
//! are skipped, the others are written again ([`ZarrOptions::verify`] compares every byte).
//!
//! Durability: a killed process (SIGKILL, panic, Ctrl-C) loses nothing that has a marker, since
//! written data is in the kernel's page cache. After an OS crash or power loss a marker may
//! outlive its unit's data; the marker's record detects that (lengths on every resume, checksums
//! with `verify`).

mod attrs;
mod description;
mod lock;
mod markers;
mod ome;
mod options;
mod paths;
mod share;
mod status;
mod store;
mod units;
mod verify;

pub use attrs::stack_json;
pub use description::ArrayDescription;
pub use options::{Compression, IfExists, Writers, ZarrOptions, ZarrProgress, ZarrReport};
pub use status::{StoreStatus, store_status};
pub use verify::{DamagedUnit, VerifyReport, verify_store};

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;

use serde_json::Value;
use zarrs::array::codec::array_to_bytes::sharding::{ShardingCodecOptions, SubchunkWriteOrder};
use zarrs::array::{
    Array, ArrayBuilder, ArrayMetadataOptions, CodecOptions, CodecSpecificOptions, data_type,
};

use self::attrs::Node;
use self::lock::{LockRefused, StoreLock, lock_dir};
use self::markers::{
    Shared, UnitRecord, load_markers, marker_path, read_markers, set_complete, spawn_syncers,
};
pub use self::ome::{OmeAxisScale, ZarrPyramid};
use self::paths::{check_free, check_parents, clear_dir, path_components, read_node, write_group};
use self::store::ChunkStore;
use self::units::UnitGrid;
use crate::SinkError;
use crate::fsutil::{create_dir_all, sync_dir, write_atomic};

/// Name of the directory of completion markers inside the array directory.
pub const MARKER_DIR: &str = "zoomstack.done";

/// Largest number of write units a store may have (the in-memory record is one byte per unit).
pub const MAX_UNITS: u64 = 1 << 32;

/// A unit whose tiles are still arriving.
#[derive(Debug)]
struct Pending {
    buf: Vec<u16>,
    filled: u64,
}

/// A Zarr v3 array being written (or resumed) tile by tile, from any number of threads.
///
/// ```no_run
/// # fn main() -> Result<(), zoomstack_sinks::SinkError> {
/// use zoomstack_engine::StoreLayout;
/// use zoomstack_kernel::StackParams;
/// use zoomstack_sinks::{ArrayDescription, ZarrOptions, ZarrSink};
///
/// let params = StackParams { height: 64, width: 64, ..StackParams::default() };
/// let layout = StoreLayout::new([8, 64, 64], [1, 32, 32], None).expect("valid layout");
/// let desc = ArrayDescription::full_stack(8, params, layout);
/// let sink = ZarrSink::open("stack.zarr", desc, ZarrOptions::default())?;
/// let tile = vec![7u16; 32 * 32];
/// if sink.needs_tile([0, 0, 0], [1, 32, 32]) {
///     sink.write_tile([0, 0, 0], [1, 32, 32], &tile)?;
/// }
/// let report = sink.finish()?; // not complete: only one of 32 chunks was written
/// assert!(!report.complete);
/// # Ok(()) }
/// ```
pub struct ZarrSink {
    store_path: PathBuf,
    array_dir: PathBuf,
    array: Array<ChunkStore>,
    files: Arc<ChunkStore>,
    desc: ArrayDescription,
    units: UnitGrid,
    shared: Arc<Shared>,
    pending: Mutex<HashMap<u64, Pending>>,
    skipped: u64,
    damaged: Vec<DamagedUnit>,
    codec_options: CodecOptions,
    jobs: Option<mpsc::Sender<PathBuf>>,
    syncers: Vec<JoinHandle<()>>,
    _lock: Option<StoreLock>,
}

impl std::fmt::Debug for ZarrSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZarrSink")
            .field("array_dir", &self.array_dir)
            .field("shape", &self.desc.shape())
            .field("write_unit", &self.units.unit)
            .field("progress", &self.progress())
            .finish_non_exhaustive()
    }
}

impl ZarrSink {
    /// Create the array at `store` (a directory), or resume it.
    ///
    /// - nothing there, or an empty directory: create the store;
    /// - a zoomstack array with the same parameters: resume ([`IfExists::Resume`]), skipping
    ///   the units whose marker holds (see [`ZarrOptions::verify`]); different parameters:
    ///   [`SinkError::ParameterMismatch`] naming the first differing field;
    /// - anything else (a file, a non-empty directory, a foreign Zarr array):
    ///   [`SinkError::NotAZoomstackStore`], and nothing is touched.
    ///
    /// The sink holds the store's lock until it is finished or dropped ([`Writers`]). On
    /// resume, the store's own codecs are kept (compression is not part of the data), so
    /// `options.compression` only applies to new stores.
    ///
    /// # Errors
    ///
    /// [`SinkError::InvalidParameter`] for an invalid description, array path or compression
    /// level, too many write units, or `verify` with [`Writers::Shared`].
    /// [`SinkError::NotAZoomstackStore`], [`SinkError::AlreadyExists`] or
    /// [`SinkError::ParameterMismatch`] for an existing store, as above (also when another
    /// process holds a store of other parameters), [`SinkError::StoreBusy`] when another
    /// process holds the lock, [`SinkError::NoStore`] for a shared writer without a store, and
    /// [`SinkError::InvalidMetadata`] for an unreadable `zarr.json`. [`SinkError::Zarr`] when
    /// zarrs cannot open or create the array, and a file-system error ([`SinkError::Io`],
    /// [`SinkError::PermissionDenied`], [`SinkError::DiskFull`]) when reading or writing the
    /// store fails.
    // Documented (sinks/README.md) as taking its options by value; callers build them inline.
    #[allow(clippy::needless_pass_by_value)]
    pub fn open(
        store: impl AsRef<Path>,
        desc: ArrayDescription,
        options: ZarrOptions,
    ) -> Result<ZarrSink, SinkError> {
        let store = store.as_ref().to_path_buf();
        let Prechecked {
            units,
            comps,
            array_dir,
            parents,
        } = precheck(&store, &desc, &options)?;
        // Refused before anything is created; then lock, then look again: another writer may
        // have created (or finished) the store in between.
        for (p, node) in &parents {
            if node.is_none() {
                write_group(p, &Value::Object(serde_json::Map::new()))?;
            }
        }
        create_dir_all(&array_dir)?;
        let lock = match lock_dir(&array_dir, options.writers) {
            Ok(lock) => lock,
            Err(LockRefused::Busy) => {
                // Name the differing field when the other writer's store has other parameters.
                if let Ok(Some(Node::ZoomstackArray(a))) = read_node(&array_dir) {
                    attrs::check_resume(&array_dir, &a, &desc)?;
                }
                return Err(SinkError::StoreBusy { path: array_dir });
            }
            Err(LockRefused::Error(e)) => return Err(e),
        };
        let existing = match check_free(&store, &array_dir, false)? {
            Some(Node::ZoomstackArray(a)) => Some(a),
            _ => None,
        };
        let existing = match (existing, options.if_exists) {
            (Some(_), IfExists::Fail) => {
                return Err(SinkError::AlreadyExists { path: array_dir });
            }
            (Some(_), IfExists::Replace) => {
                clear_dir(&array_dir)?;
                None
            }
            (e, _) => e,
        };
        let marker_dir = array_dir.join(MARKER_DIR);
        let files = Arc::new(ChunkStore::new(&store).map_err(|message| SinkError::Zarr {
            op: "open store",
            path: store.clone(),
            message,
        })?);
        let node_path = format!("/{}", comps.join("/"));

        let mut damaged = Vec::new();
        let (array, done, skipped) = if let Some(existing) = existing {
            attrs::check_resume(&array_dir, &existing, &desc)?;
            let array = Array::open(Arc::clone(&files), &node_path)
                .map_err(|e| SinkError::zarr_create("open array", &array_dir, e))?;
            let done = if options.verify {
                let markers = read_markers(&marker_dir, &units)?;
                verify::check_units(&array, &array_dir, &units, &markers, &mut damaged)?
            } else {
                let mut found = Vec::new();
                let done = load_markers(&array_dir, &marker_dir, &units, &mut found)?;
                damaged.extend(
                    found
                        .into_iter()
                        .map(|(unit, reason)| DamagedUnit { unit, reason }),
                );
                done
            };
            if options.writers == Writers::Sole {
                remove_stale_temp_files(&marker_dir)?;
                // Under the exclusive lock: a damaged unit loses its marker until rewritten.
                for d in &damaged {
                    let m = marker_path(&marker_dir, d.unit);
                    fs::remove_file(&m)
                        .or_else(|e| {
                            if e.kind() == std::io::ErrorKind::NotFound {
                                Ok(())
                            } else {
                                Err(e)
                            }
                        })
                        .map_err(|e| SinkError::io("remove marker", &m, e))?;
                }
            }
            let n = done.iter().filter(|d| d.load(Ordering::Relaxed)).count() as u64;
            create_dir_all(&marker_dir)?;
            if n < units.total() && existing.zoomstack["complete"] == Value::Bool(true) {
                // Markers lost or damaged: the store must not claim completeness.
                set_complete(&array_dir, false)?;
            }
            (array, done, n)
        } else {
            let array = create_array(&files, &node_path, &array_dir, &desc, &options)?;
            create_dir_all(&marker_dir)?;
            sync_dir(&array_dir)?;
            let done = (0..units.total()).map(|_| AtomicBool::new(false)).collect();
            (array, done, 0)
        };
        // zarrs places a shard's chunks in the order its threads finish them; C order makes a
        // store's bytes a function of its parameters (the CLI and Python writers agree file for file).
        let array =
            array.with_codec_specific_options(&CodecSpecificOptions::default().with_option(
                ShardingCodecOptions::default().with_subchunk_write_order(SubchunkWriteOrder::C),
            ));
        let shared = Arc::new(Shared {
            marker_dir,
            units,
            stored: (0..units.total()).map(|_| AtomicBool::new(false)).collect(),
            done,
            marked: AtomicU64::new(0),
            raw_bytes: AtomicU64::new(0),
            failed: AtomicBool::new(false),
            error: Mutex::new(None),
        });
        let (jobs, syncers) = spawn_syncers(&shared);
        Ok(ZarrSink {
            store_path: store,
            array_dir,
            array,
            files,
            desc,
            units,
            shared,
            pending: Mutex::new(HashMap::new()),
            skipped,
            damaged,
            codec_options: CodecOptions::default(),
            jobs: Some(jobs),
            syncers,
            _lock: lock,
        })
    }

    /// What [`ZarrSink::open`] would refuse, checked without creating, locking or changing
    /// anything (a run's preflight): invalid descriptions and options, paths that are not
    /// zoomstack stores, an existing store with other parameters (the differing field), one
    /// that `if_exists = fail` refuses, a shared writer without a store, and a store another
    /// process is writing. Another process may still change the store between this check and
    /// `open`, which checks again.
    ///
    /// # Errors
    ///
    /// The errors of [`ZarrSink::open`] that need no writing.
    pub fn check(
        store: impl AsRef<Path>,
        desc: &ArrayDescription,
        options: &ZarrOptions,
    ) -> Result<(), SinkError> {
        let store = store.as_ref();
        let Prechecked { array_dir, .. } = precheck(store, desc, options)?;
        if array_dir.is_dir() {
            match lock_dir(&array_dir, options.writers) {
                Ok(probe) => drop(probe),
                Err(LockRefused::Busy) => return Err(SinkError::StoreBusy { path: array_dir }),
                Err(LockRefused::Error(e)) => return Err(e),
            }
        }
        Ok(())
    }

    /// Units that had a marker but were found damaged when the store was opened, with the
    /// reason (they are rendered again by this sink).
    pub fn damaged_units(&self) -> &[DamagedUnit] {
        &self.damaged
    }

    /// The store directory.
    pub fn store_path(&self) -> &Path {
        &self.store_path
    }

    /// The array directory (the store root for a root array).
    pub fn array_dir(&self) -> &Path {
        &self.array_dir
    }

    /// What is being written.
    pub fn description(&self) -> &ArrayDescription {
        &self.desc
    }

    /// The write unit: the shard shape when sharded, else the chunk shape. Tiles of exactly this
    /// shape (aligned to it) are stored without any copy or buffering.
    pub fn write_unit(&self) -> [usize; 3] {
        self.units.unit
    }

    /// Progress counters.
    pub fn progress(&self) -> ZarrProgress {
        ZarrProgress {
            units_total: self.units.total(),
            units_done: self
                .shared
                .done
                .iter()
                .filter(|d| d.load(Ordering::Relaxed))
                .count() as u64,
            units_written: self.shared.marked.load(Ordering::Relaxed),
        }
    }

    /// `true` if the tile `origin .. origin + shape` (output coordinates) touches a write unit
    /// that has no marker yet, i.e. it must be rendered. Use it as the executor's filter.
    pub fn needs_tile(&self, origin: [u64; 3], shape: [usize; 3]) -> bool {
        if self.check_box(origin, shape).is_err() {
            return true; // let write_tile report the error
        }
        let r = self.units.range(origin, shape);
        for i in r[0].0..=r[0].1 {
            for j in r[1].0..=r[1].1 {
                for k in r[2].0..=r[2].1 {
                    if !self.unit_handled(self.units.linear([i, j, k])) {
                        return true;
                    }
                }
            }
        }
        false
    }

    fn check_box(&self, origin: [u64; 3], shape: [usize; 3]) -> Result<(), SinkError> {
        let bad = |reason: String| SinkError::InvalidTile {
            origin,
            shape,
            reason,
        };
        if shape.contains(&0) {
            return Err(bad("empty tile".to_string()));
        }
        for k in 0..3 {
            let end = origin[k].checked_add(shape[k] as u64);
            if end.is_none_or(|e| e > self.desc.shape()[k]) {
                return Err(bad(format!(
                    "extends beyond the array shape {:?} on axis {k}",
                    self.desc.shape()
                )));
            }
        }
        Ok(())
    }

    /// Write a tile: `data` is row-major `(level, y, x)` of `shape`, placed at `origin` (output
    /// coordinates). Thread-safe; tiles must not overlap. Every write unit the tile completes is
    /// encoded, stored and marked; units already marked are skipped; parts of units are
    /// buffered until the rest of the unit arrives.
    ///
    /// # Errors
    ///
    /// [`SinkError::InvalidTile`] for a tile that is empty, extends beyond the array, has data
    /// of another length, or overlaps data already received. [`SinkError::Zarr`] or a
    /// file-system error when a unit cannot be stored, or when an earlier unit failed to sync.
    pub fn write_tile(
        &self,
        origin: [u64; 3],
        shape: [usize; 3],
        data: &[u16],
    ) -> Result<(), SinkError> {
        self.check_box(origin, shape)?;
        let expected: usize = shape.iter().product();
        if data.len() != expected {
            return Err(SinkError::InvalidTile {
                origin,
                shape,
                reason: format!("data has {} elements, expected {expected}", data.len()),
            });
        }
        let r = self.units.range(origin, shape);
        for i in r[0].0..=r[0].1 {
            for j in r[1].0..=r[1].1 {
                for k in r[2].0..=r[2].1 {
                    self.write_part([i, j, k], origin, shape, data)?;
                }
            }
        }
        Ok(())
    }

    /// Handle the part of a tile that falls into unit `u`.
    fn write_part(
        &self,
        u: [u64; 3],
        origin: [u64; 3],
        shape: [usize; 3],
        data: &[u16],
    ) -> Result<(), SinkError> {
        let lin = self.units.linear(u);
        if self.unit_handled(lin) {
            return Ok(());
        }
        let (lo, ext) = self.units.bounds(u);
        let unit = self.units.unit;
        let full_unit = (0..3).all(|k| ext[k] == unit[k] as u64);
        // Fast path: the tile is exactly this (full-size) unit.
        if full_unit && origin == lo && (0..3).all(|k| shape[k] == unit[k]) {
            return self.store_unit(u, data);
        }
        // Intersection of the tile with the unit's in-bounds box.
        let a = [0, 1, 2].map(|k| origin[k].max(lo[k]));
        let b = [0, 1, 2].map(|k| (origin[k] + shape[k] as u64).min(lo[k] + ext[k]));
        let covers = (0..3).all(|k| a[k] == lo[k] && b[k] == lo[k] + ext[k]);
        let n = (0..3).map(|k| b[k] - a[k]).product::<u64>();
        if covers {
            let mut buf = vec![0u16; self.units.unit_len()];
            copy_box(&mut buf, unit, lo, data, shape, origin, a, b);
            return self.store_unit(u, &buf);
        }
        let needed: u64 = ext.iter().product();
        let complete = {
            let mut pending = self
                .pending
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let entry = pending.entry(lin).or_insert_with(|| Pending {
                buf: vec![0u16; self.units.unit_len()],
                filled: 0,
            });
            copy_box(&mut entry.buf, unit, lo, data, shape, origin, a, b);
            entry.filled += n;
            if entry.filled > needed {
                return Err(SinkError::InvalidTile {
                    origin,
                    shape,
                    reason: format!(
                        "overlaps data already received for write unit {u:?} ({} of {needed} elements)",
                        entry.filled
                    ),
                });
            }
            if entry.filled == needed {
                pending.remove(&lin).map(|p| p.buf)
            } else {
                None
            }
        };
        match complete {
            Some(buf) => self.store_unit(u, &buf),
            None => Ok(()),
        }
    }

    /// `true` if unit `lin` has a marker or was already stored by this run.
    fn unit_handled(&self, lin: u64) -> bool {
        let i = lin as usize;
        self.shared.done[i].load(Ordering::Acquire) || self.shared.stored[i].load(Ordering::Acquire)
    }

    /// Encode and store one whole write unit (padded to the full unit shape), create its marker
    /// (recording what was stored), and hand the file to a syncer thread.
    fn store_unit(&self, u: [u64; 3], data: &[u16]) -> Result<(), SinkError> {
        if self.shared.failed.load(Ordering::SeqCst) {
            return Err(self.shared.take_error(&self.array_dir));
        }
        let lin = self.units.linear(u) as usize;
        if self.shared.stored[lin].swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let idx = u.to_vec();
        let key = self.array.chunk_key(&idx);
        let _ = self.files.take_record(&key);
        if let Err(e) = self.array.store_chunk_opt(&idx, data, &self.codec_options) {
            self.shared.stored[lin].store(false, Ordering::Release);
            return Err(SinkError::zarr("write chunk of", &self.array_dir, e));
        }
        // zarrs erases instead of writing a unit equal to the fill value (0): no record.
        let written = self.files.take_record(&key);
        let record = written.unwrap_or(UnitRecord::of(None));
        if let Err(e) = self.shared.mark(u, record, data.len() as u64 * 2) {
            self.shared.stored[lin].store(false, Ordering::Release);
            return Err(e);
        }
        if written.is_some() {
            let file = self.store_path.join(key.as_str());
            let sent = self.jobs.as_ref().is_some_and(|tx| tx.send(file).is_ok());
            if !sent {
                return Err(self.shared.take_error(&self.array_dir));
            }
        }
        Ok(())
    }

    /// Stop the syncer threads after they have synced every queued unit file.
    fn shutdown(&mut self) {
        drop(self.jobs.take());
        for h in self.syncers.drain(..) {
            let _ = h.join();
        }
    }

    /// Finish: wait until every written unit is synced and marked; if every unit has a marker
    /// (counting markers written meanwhile by other processes), sync the marker directory and
    /// set `complete: true`. Units whose tiles did not all arrive are not written (and not
    /// marked); the report says what is missing.
    ///
    /// # Errors
    ///
    /// The first error of syncing or marking a unit ([`SinkError::Zarr`] or a file-system
    /// error), [`SinkError::InvalidMetadata`] for an unreadable marker directory or
    /// `zarr.json`, or a file-system error when the markers or `complete` cannot be written.
    pub fn finish(mut self) -> Result<ZarrReport, SinkError> {
        self.shutdown();
        if self.shared.failed.load(Ordering::SeqCst) {
            return Err(self.shared.take_error(&self.array_dir));
        }
        let total = self.units.total();
        let mut done = self.progress().units_done;
        if done < total {
            // Other writers (job arrays) may have finished the rest.
            let on_disk = load_markers(
                &self.array_dir,
                &self.shared.marker_dir,
                &self.units,
                &mut Vec::new(),
            )?;
            done = on_disk.iter().filter(|d| d.load(Ordering::Relaxed)).count() as u64;
        }
        let complete = done == total;
        if complete {
            sync_dir(&self.shared.marker_dir)?;
            set_complete(&self.array_dir, true)?;
        }
        Ok(ZarrReport {
            array_dir: self.array_dir.clone(),
            units_total: total,
            units_done: done,
            units_skipped: self.skipped,
            units_written: self.shared.marked.load(Ordering::Relaxed),
            units_damaged: self.damaged.len() as u64,
            raw_bytes_written: self.shared.raw_bytes.load(Ordering::Relaxed),
            complete,
        })
    }
}

impl Drop for ZarrSink {
    /// Without `finish` (an error elsewhere, a cancelled run): still sync every unit file that
    /// was written (each already has its marker). The store stays incomplete.
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The read-only part of opening a store.
struct Prechecked {
    units: UnitGrid,
    comps: Vec<String>,
    array_dir: PathBuf,
    parents: Vec<(PathBuf, Option<Node>)>,
}

/// Checks everything [`ZarrSink::open`] checks before writing: the description, the options,
/// the parents, what is at the array directory now and, for an existing zoomstack array, that
/// it has the description's parameters (else the differing field). Creates nothing.
fn precheck(
    store: &Path,
    desc: &ArrayDescription,
    options: &ZarrOptions,
) -> Result<Prechecked, SinkError> {
    desc.validate()?;
    let units = UnitGrid::new(desc.shape(), desc.layout.unit());
    if units.total() > MAX_UNITS {
        return Err(SinkError::invalid(
            "number of write units",
            units.total(),
            format!("expected at most {MAX_UNITS}; use larger chunks or shards"),
        ));
    }
    if options.verify && options.writers == Writers::Shared {
        return Err(SinkError::invalid(
            "verify",
            "with a shared writer",
            "verify the store once with a sole writer (e.g. `zoomstack verify`, then one \
             `run --verify` without --count) before starting the shares",
        ));
    }
    let comps = path_components(&options.array_path)?;
    let array_dir = comps.iter().fold(store.to_path_buf(), |p, c| p.join(c));
    let parents = check_parents(store, &comps)?;
    match (
        check_free(store, &array_dir, false)?,
        options.if_exists,
        options.writers,
    ) {
        (Some(_), IfExists::Fail, _) => return Err(SinkError::AlreadyExists { path: array_dir }),
        (None, _, Writers::Shared) => return Err(SinkError::NoStore { path: array_dir }),
        (Some(Node::ZoomstackArray(a)), IfExists::Resume, _) => {
            attrs::check_resume(&array_dir, &a, desc)?;
        }
        _ => {}
    }
    Ok(Prechecked {
        units,
        comps,
        array_dir,
        parents,
    })
}

/// Removes the temporary files of markers a killed writer was creating (`.i.j.k.tmp-PID`).
fn remove_stale_temp_files(marker_dir: &Path) -> Result<(), SinkError> {
    let Ok(entries) = fs::read_dir(marker_dir) else {
        return Ok(());
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.contains(".tmp-") {
            let p = e.path();
            fs::remove_file(&p).map_err(|e| SinkError::io("remove stale temporary file", &p, e))?;
        }
    }
    Ok(())
}

/// Creates a new array (its `zarr.json`, durably) in the empty, locked `array_dir`.
fn create_array(
    files: &Arc<ChunkStore>,
    node_path: &str,
    array_dir: &Path,
    desc: &ArrayDescription,
    options: &ZarrOptions,
) -> Result<Array<ChunkStore>, SinkError> {
    let mut builder = ArrayBuilder::new(
        desc.shape().to_vec(),
        desc.layout.unit().map(|u| u as u64).to_vec(),
        data_type::uint16(),
        0u16,
    );
    builder
        .bytes_to_bytes_codecs(options.compression.codecs()?)
        .dimension_names(Some(["level", "y", "x"]));
    if desc.layout.shard().is_some() {
        builder.subchunk_shape(desc.chunks().map(|c| c as u64).to_vec());
    }
    builder
        .attributes_mut()
        .insert("zoomstack".to_string(), attrs::zoomstack_json(desc));
    let array = builder
        .build(Arc::clone(files), node_path)
        .map_err(|e| SinkError::zarr_create("create array", array_dir, e))?;
    let meta =
        array.metadata_opt(&ArrayMetadataOptions::default().with_include_zarrs_metadata(false));
    let text = meta.to_string_pretty();
    let zarr_json = array_dir.join("zarr.json");
    write_atomic(&zarr_json, true, |w| {
        w.write_all(text.as_bytes())
            .map_err(|e| SinkError::io("write", &zarr_json, e))
    })?;
    Ok(array)
}

/// Copy the box `a..b` (output coordinates) from a tile into a unit buffer.
#[allow(clippy::too_many_arguments)]
fn copy_box(
    dst: &mut [u16],
    unit: [usize; 3],
    unit_origin: [u64; 3],
    src: &[u16],
    shape: [usize; 3],
    origin: [u64; 3],
    a: [u64; 3],
    b: [u64; 3],
) {
    let w = (b[2] - a[2]) as usize;
    for l in a[0]..b[0] {
        for y in a[1]..b[1] {
            let s = (((l - origin[0]) as usize * shape[1] + (y - origin[1]) as usize) * shape[2])
                + (a[2] - origin[2]) as usize;
            let d = (((l - unit_origin[0]) as usize * unit[1] + (y - unit_origin[1]) as usize)
                * unit[2])
                + (a[2] - unit_origin[2]) as usize;
            dst[d..d + w].copy_from_slice(&src[s..s + w]);
        }
    }
}

#[cfg(test)]
mod tests;
