//! Zarr v3 stores (via zarrs): self-describing, resumable, crash-safe, checksummed, optionally
//! sharded.
//!
//! Layout (docs/contracts.md, shared with the Python package):
//!
//! - one array of counts (`uint16`, fill value 65535) or smooth values (`float32`, fill value
//!   NaN; [`StoreValues`]), named `counts` or `smooth` in the store's root group unless
//!   [`ZarrOptions::array_path`] says otherwise, `dimension_names = ["level", "y", "x"]`,
//!   chunk shape from the plan; with
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
mod constant;
mod coords;
mod description;
mod lock;
mod markers;
mod ome;
mod open;
mod options;
mod paths;
mod share;
mod status;
mod store;
mod units;
mod values;
mod verify;

pub use attrs::stack_json;
pub use coords::COORDINATE_NAMES;
pub use description::ArrayDescription;
pub use options::{Compression, IfExists, Writers, ZarrOptions, ZarrProgress, ZarrReport};
pub use paths::DEFAULT_ARRAY;
pub use status::{StoreStatus, store_status};
pub use values::{StoreValues, StoredElement};
pub use verify::{DamagedUnit, VerifyReport, verify_store};

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;

use zarrs::array::{Array, CodecOptions};

use self::lock::StoreLock;
use self::markers::{Shared, UnitRecord, load_markers, set_complete};
pub use self::ome::{OmeAxisScale, ZarrPyramid};
use self::paths::{check_free, path_components, read_node, write_group};
use self::store::ChunkStore;
use self::units::UnitGrid;
use crate::SinkError;
use crate::fsutil::sync_dir;

/// Name of the directory of completion markers inside the array directory.
pub const MARKER_DIR: &str = "zoomstack.done";

/// The counts array's fill value: what a reader sees where no unit was written. It is `u16::MAX`,
/// never a count unless `max_iter` is 65535 (the largest limit, where it equals the count of
/// pixels that never escape): the markers remain the record of what was written.
pub const FILL_VALUE: u16 = u16::MAX;

/// Largest number of write units a store may have (the in-memory record is one byte per unit).
pub const MAX_UNITS: u64 = 1 << 32;

/// A unit whose tiles are still arriving.
#[derive(Debug)]
struct Pending<T> {
    buf: Vec<T>,
    filled: u64,
}

/// A Zarr v3 array being written (or resumed) tile by tile, from any number of threads, of
/// elements `T`: `u16` counts ([`ZarrSink::open`]) or `f32` smooth values
/// ([`ZarrSink::open_of`] with a description of [`StoreValues::Smooth`]).
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
pub struct ZarrSink<T: StoredElement = u16> {
    store_path: PathBuf,
    array_dir: PathBuf,
    array: Array<ChunkStore>,
    /// Encoder of constant shards (sharded arrays with the sink's own codecs).
    constant: Option<self::constant::ConstantShards>,
    desc: ArrayDescription,
    units: UnitGrid,
    shared: Arc<Shared>,
    pending: Mutex<HashMap<u64, Pending<T>>>,
    skipped: u64,
    damaged: Vec<DamagedUnit>,
    codec_options: CodecOptions,
    jobs: Option<mpsc::Sender<PathBuf>>,
    syncers: Vec<JoinHandle<()>>,
    _lock: Option<StoreLock>,
}

impl<T: StoredElement> std::fmt::Debug for ZarrSink<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZarrSink")
            .field("array_dir", &self.array_dir)
            .field("shape", &self.desc.shape())
            .field("values", &self.desc.values)
            .field("write_unit", &self.units.unit)
            .field("progress", &self.progress())
            .finish_non_exhaustive()
    }
}

impl<T: StoredElement> ZarrSink<T> {
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
        data: &[T],
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

    /// Writes the tile `origin`/`shape` as all `value` (a frame range proven constant; only
    /// counts have such ranges, see [`StoredElement::of_proven_count`]). When
    /// the tile is exactly one unit's box of a sharded store, the shard is stored as one
    /// encoded chunk shared by its whole index (see `constant`), without building the data;
    /// otherwise this is [`ZarrSink::write_tile`] of the filled tile.
    ///
    /// # Errors
    ///
    /// Those of [`ZarrSink::write_tile`].
    pub fn write_constant_tile(
        &self,
        origin: [u64; 3],
        shape: [usize; 3],
        value: T,
    ) -> Result<(), SinkError> {
        self.check_box(origin, shape)?;
        let unit = self.units.unit;
        let u = [0, 1, 2].map(|k| origin[k] / unit[k] as u64);
        let (lo, ext) = self.units.bounds(u);
        let whole_unit = origin == lo && (0..3).all(|k| shape[k] as u64 == ext[k]);
        if let (Some(enc), true) = (&self.constant, whole_unit) {
            if self.unit_handled(self.units.linear(u)) {
                return Ok(());
            }
            let bytes = enc.encode(value, &self.codec_options)?;
            let raw = self.units.unit_len() as u64 * T::BYTES;
            return self.store_unit_with(u, raw, |key| {
                use zarrs::storage::WritableStorageTraits as _;
                self.array.storage().set(key, bytes.into()).map_err(|e| {
                    let e = zarrs::array::ArrayError::StorageError(e);
                    SinkError::zarr("write constant shard of", &self.array_dir, e)
                })
            });
        }
        let n: usize = shape.iter().product();
        self.write_tile(origin, shape, &vec![value; n])
    }

    /// The bytes [`ZarrSink::write_constant_tile`] stores for one whole write unit of `value`s
    /// in a new store of `desc` compressed with `compression`, computed without creating
    /// anything: for a sharded store the shard's one encoded chunk and its index, for an
    /// unsharded one the unit's encoded chunk (markers not included). What a run's estimate
    /// counts for a unit of levels proven constant; a unit the sink cannot store that way
    /// counts its raw size.
    ///
    /// ```
    /// use zoomstack_engine::StoreLayout;
    /// use zoomstack_kernel::StackParams;
    /// use zoomstack_sinks::{ArrayDescription, Compression, ZarrSink};
    /// let params = StackParams { height: 512, width: 512, ..StackParams::default() };
    /// let layout = StoreLayout::new([4096, 512, 512], [1, 512, 512], Some([2048, 512, 512])).unwrap();
    /// let desc = ArrayDescription::full_stack(4096, params, layout);
    /// let bytes = ZarrSink::constant_unit_bytes(&desc, Compression::default(), 250u16).unwrap();
    /// // The index (16 bytes per chunk and a checksum) and one small zstd chunk.
    /// assert!(bytes > 2048 * 16 + 4 && bytes < 2048 * 16 + 4 + 200, "{bytes}");
    /// ```
    ///
    /// # Errors
    ///
    /// [`SinkError::InvalidParameter`] for an invalid description or compression level;
    /// [`SinkError::Zarr`] when zarrs refuses the array's metadata.
    pub fn constant_unit_bytes(
        desc: &ArrayDescription,
        compression: Compression,
        value: T,
    ) -> Result<u64, SinkError> {
        desc.validate()?;
        let meta = open::array_builder::<T>(desc, compression)?
            .build_metadata()
            .map_err(|e| SinkError::zarr_create("describe array", Path::new(""), e))?;
        let meta = serde_json::to_value(meta)
            .map_err(|e| SinkError::invalid("array metadata", e, "metadata that serializes"))?;
        let unit = desc.layout.unit();
        let sharded = desc.layout.shard().is_some();
        let options = CodecOptions::default();
        match constant::constant_unit_len(&meta, unit, sharded, value, &options) {
            Some(bytes) => bytes,
            None => Ok(unit
                .iter()
                .fold(T::BYTES, |b, &n| b.saturating_mul(n as u64))),
        }
    }

    /// Handle the part of a tile that falls into unit `u`.
    fn write_part(
        &self,
        u: [u64; 3],
        origin: [u64; 3],
        shape: [usize; 3],
        data: &[T],
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
            let mut buf = vec![T::default(); self.units.unit_len()];
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
                buf: vec![T::default(); self.units.unit_len()],
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
    fn store_unit(&self, u: [u64; 3], data: &[T]) -> Result<(), SinkError> {
        let idx = u.to_vec();
        self.store_unit_with(u, data.len() as u64 * T::BYTES, |_| {
            self.array
                .store_chunk_opt(&idx, data, &self.codec_options)
                .map_err(|e| SinkError::zarr("write chunk of", &self.array_dir, e))
        })
    }

    /// [`ZarrSink::store_unit`] with the unit's file written by `write` (given its key).
    fn store_unit_with(
        &self,
        u: [u64; 3],
        raw_bytes: u64,
        write: impl FnOnce(&zarrs::storage::StoreKey) -> Result<(), SinkError>,
    ) -> Result<(), SinkError> {
        if self.shared.failed.load(Ordering::SeqCst) {
            return Err(self.shared.take_error(&self.array_dir));
        }
        let lin = self.units.linear(u) as usize;
        if self.shared.stored[lin].swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let key = self.array.chunk_key(&u);
        let files = self.array.storage();
        let _ = files.take_record(&key);
        if let Err(e) = write(&key) {
            self.shared.stored[lin].store(false, Ordering::Release);
            return Err(e);
        }
        // zarrs erases instead of writing a unit equal to the fill value: no record.
        let written = files.take_record(&key);
        let record = written.unwrap_or(UnitRecord::of(None));
        if let Err(e) = self.shared.mark(u, record, raw_bytes) {
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

impl<T: StoredElement> Drop for ZarrSink<T> {
    /// Without `finish` (an error elsewhere, a cancelled run): still sync every unit file that
    /// was written (each already has its marker). The store stays incomplete.
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Copy the box `a..b` (output coordinates) from a tile into a unit buffer.
#[allow(clippy::too_many_arguments)]
fn copy_box<T: Copy>(
    dst: &mut [T],
    unit: [usize; 3],
    unit_origin: [u64; 3],
    src: &[T],
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
