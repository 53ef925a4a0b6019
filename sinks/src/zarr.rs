//! Zarr v3 stores (via zarrs): self-describing, resumable, crash-safe, optionally sharded.
//!
//! Layout (docs/contracts.md, shared with the Python package):
//!
//! - one `uint16` array (at the store root unless [`ZarrOptions::array_path`] says otherwise),
//!   `dimension_names = ["level", "y", "x"]`, fill value 0, chunk shape from the plan; with
//!   sharding, the shard shape is a multiple of the chunk shape;
//! - the attribute `zoomstack`: stack parameters, the normalized `select`, `downsample`, the scale
//!   rule, versions, `write_unit` and `complete`;
//! - `<array dir>/zoomstack.done/i.j.k`: an empty marker created after write unit `(i, j, k)`
//!   (a shard, or a chunk when unsharded) is durably written. zarrs does not store chunks equal to
//!   the fill value, so a missing chunk file proves nothing: the markers are the record.
//!
//! One writer per stored object: every write unit is encoded and stored exactly once, by one
//! thread, from complete data (tiles that cover only part of a unit are assembled in memory
//! first, so memory is bounded by the units in flight). The rendering thread encodes and writes
//! the unit's chunk (or shard) file; a syncer thread then `fsync`s it and only then creates the
//! marker, so rendering never waits for the disk. `complete: true` is set only after every
//! marker exists, by an atomic rename of `zarr.json`. A killed write is resumed by opening
//! the store again with the same parameters: units with a marker are skipped.
//!
//! Durability: a killed process (SIGKILL, panic, Ctrl-C) loses nothing that has a marker, since
//! written data is in the kernel's page cache. Against an OS crash or power loss, chunk files
//! are synced before their markers exist, and the marker directory and `zarr.json` are synced
//! before the store says complete; the ordering of directory entries (a marker never surviving
//! its chunk's entry) relies on a file system that journals metadata in order (ext4, xfs, btrfs).

mod attrs;
mod description;
mod markers;
mod ome;
mod options;
mod paths;
mod share;
mod status;
mod store;
mod units;

pub use attrs::stack_json;
pub use description::ArrayDescription;
pub use options::{Compression, IfExists, ZarrOptions, ZarrProgress, ZarrReport};
pub use status::{StoreStatus, store_status};

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
use self::markers::{Shared, SyncJob, load_markers, set_complete, spawn_syncers};
pub use self::ome::{OmeAxisScale, ZarrPyramid};
use self::paths::{check_free, path_components, read_node, write_group};
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
    desc: ArrayDescription,
    units: UnitGrid,
    shared: Arc<Shared>,
    pending: Mutex<HashMap<u64, Pending>>,
    skipped: u64,
    codec_options: CodecOptions,
    jobs: Option<mpsc::Sender<SyncJob>>,
    syncers: Vec<JoinHandle<()>>,
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
    ///   the units that have a marker; different parameters: [`SinkError::ParameterMismatch`]
    ///   naming the first differing field;
    /// - anything else (a file, a non-empty directory, a foreign Zarr array):
    ///   [`SinkError::NotAZoomstackStore`], and nothing is touched.
    ///
    /// On resume, the store's own codecs are kept (compression is not part of the data), so
    /// `options.compression` only applies to new stores.
    ///
    /// # Errors
    ///
    /// [`SinkError::InvalidParameter`] for an invalid description, array path or compression
    /// level, or too many write units. [`SinkError::NotAZoomstackStore`],
    /// [`SinkError::AlreadyExists`] or [`SinkError::ParameterMismatch`] for an existing store,
    /// as above, and [`SinkError::InvalidMetadata`] for an unreadable `zarr.json`.
    /// [`SinkError::Zarr`] when zarrs cannot open or create the array, and a file-system error
    /// ([`SinkError::Io`], [`SinkError::PermissionDenied`], [`SinkError::DiskFull`]) when
    /// reading or writing the store fails.
    // Documented (sinks/README.md) as taking its options by value; callers build them inline.
    #[allow(clippy::needless_pass_by_value)]
    pub fn open(
        store: impl AsRef<Path>,
        desc: ArrayDescription,
        options: ZarrOptions,
    ) -> Result<ZarrSink, SinkError> {
        let store = store.as_ref().to_path_buf();
        desc.validate()?;
        let unit = desc.layout.unit();
        let units = UnitGrid::new(desc.shape(), unit);
        if units.total() > MAX_UNITS {
            return Err(SinkError::invalid(
                "number of write units",
                units.total(),
                format!("expected at most {MAX_UNITS}; use larger chunks or shards"),
            ));
        }
        let comps = path_components(&options.array_path)?;
        let array_dir = comps.iter().fold(store.clone(), |p, c| p.join(c));

        // Parents: the store root and intermediate directories must be free or groups.
        let mut parent = store.clone();
        let mut parents = Vec::new();
        if !comps.is_empty() {
            parents.push(parent.clone());
            for c in &comps[..comps.len() - 1] {
                parent = parent.join(c);
                parents.push(parent.clone());
            }
        }
        let mut parent_nodes = Vec::new();
        for p in &parents {
            let node = check_free(&store, p, true)?;
            if let Some(Node::ZoomstackArray(_)) = node {
                return Err(SinkError::NotAZoomstackStore {
                    path: store.clone(),
                    reason: format!(
                        "{} is a zoomstack array; cannot create an array inside it",
                        p.display()
                    ),
                });
            }
            parent_nodes.push(node);
        }

        let existing = match check_free(&store, &array_dir, false)? {
            Some(Node::ZoomstackArray(a)) => Some(a),
            _ => None,
        };
        let existing = match (existing, options.if_exists) {
            (Some(_), IfExists::Fail) => {
                return Err(SinkError::AlreadyExists { path: array_dir });
            }
            (Some(_), IfExists::Replace) => {
                fs::remove_dir_all(&array_dir)
                    .map_err(|e| SinkError::io("remove old array", &array_dir, e))?;
                None
            }
            (e, _) => e,
        };
        let marker_dir = array_dir.join(MARKER_DIR);
        let fs_store = Arc::new(ChunkStore::new(&store).map_err(|message| SinkError::Zarr {
            op: "open store",
            path: store.clone(),
            message,
        })?);
        let node_path = format!("/{}", comps.join("/"));

        let (array, done, skipped) = if let Some(existing) = existing {
            attrs::check_resume(&array_dir, &existing, &desc)?;
            let array = Array::open(fs_store, &node_path)
                .map_err(|e| SinkError::zarr_create("open array", &array_dir, e))?;
            let done = load_markers(&marker_dir, &units)?;
            let n = done.iter().filter(|d| d.load(Ordering::Relaxed)).count() as u64;
            create_dir_all(&marker_dir)?;
            if n < units.total() && existing.zoomstack["complete"] == Value::Bool(true) {
                // Markers lost (e.g. edited by hand): the store must not claim completeness.
                set_complete(&array_dir, false)?;
            }
            (array, done, n)
        } else {
            for (p, node) in parents.iter().zip(&parent_nodes) {
                if node.is_none() {
                    write_group(p, &Value::Object(serde_json::Map::new()))?;
                }
            }
            create_dir_all(&array_dir)?;
            let mut builder = ArrayBuilder::new(
                desc.shape().to_vec(),
                unit.map(|u| u as u64).to_vec(),
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
                .insert("zoomstack".to_string(), attrs::zoomstack_json(&desc));
            let array = builder
                .build(fs_store, &node_path)
                .map_err(|e| SinkError::zarr_create("create array", &array_dir, e))?;
            let meta = array
                .metadata_opt(&ArrayMetadataOptions::default().with_include_zarrs_metadata(false));
            let text = meta.to_string_pretty();
            let zarr_json = array_dir.join("zarr.json");
            write_atomic(&zarr_json, true, |w| {
                w.write_all(text.as_bytes())
                    .map_err(|e| SinkError::io("write", &zarr_json, e))
            })?;
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
            desc,
            units,
            shared,
            pending: Mutex::new(HashMap::new()),
            skipped,
            codec_options: CodecOptions::default(),
            jobs: Some(jobs),
            syncers,
        })
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

    /// Encode and store one whole write unit (padded to the full unit shape), then hand it to a
    /// syncer thread, which syncs the file and creates the marker.
    fn store_unit(&self, u: [u64; 3], data: &[u16]) -> Result<(), SinkError> {
        if self.shared.failed.load(Ordering::SeqCst) {
            return Err(self.shared.take_error(&self.array_dir));
        }
        let lin = self.units.linear(u) as usize;
        if self.shared.stored[lin].swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let idx = u.to_vec();
        if let Err(e) = self.array.store_chunk_opt(&idx, data, &self.codec_options) {
            self.shared.stored[lin].store(false, Ordering::Release);
            return Err(SinkError::zarr("write chunk of", &self.array_dir, e));
        }
        // zarrs erases instead of writing a unit equal to the fill value (0).
        let file = data
            .iter()
            .any(|&v| v != 0)
            .then(|| self.store_path.join(self.array.chunk_key(&idx).as_str()));
        let job = SyncJob {
            unit: u,
            file,
            raw_bytes: data.len() as u64 * 2,
        };
        let sent = self.jobs.as_ref().is_some_and(|tx| tx.send(job).is_ok());
        if !sent {
            return Err(self.shared.take_error(&self.array_dir));
        }
        Ok(())
    }

    /// Stop the syncer threads after they have synced and marked every queued unit.
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
            let on_disk = load_markers(&self.shared.marker_dir, &self.units)?;
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
            raw_bytes_written: self.shared.raw_bytes.load(Ordering::Relaxed),
            complete,
        })
    }
}

impl Drop for ZarrSink {
    /// Without `finish` (an error elsewhere, a cancelled run): still sync and mark every unit
    /// that was written, so a resume skips it. The store stays incomplete.
    fn drop(&mut self) {
        self.shutdown();
    }
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
