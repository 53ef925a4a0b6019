//! [`verify_store`]: re-read every write unit of a store and report the missing and damaged
//! ones. A unit is intact when its marker exists, its file holds exactly the bytes the marker
//! records (length and CRC-32C; empty markers of older stores record nothing) and zarrs decodes
//! it (which checks each chunk's `crc32c` codec, where the store has one, and the compression).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use zarrs::array::{Array, ArrayBytes};
use zarrs::filesystem::FilesystemStore;
use zarrs::storage::ReadableStorageTraits;

use super::attrs::Node;
use super::markers::{Marker, UnitRecord, describe_length, read_markers, unit_file};
use super::paths::{array_components, path_components, read_node};
use super::units::UnitGrid;
use super::{MARKER_DIR, StoreValues};
use crate::SinkError;

/// A write unit that has a marker but does not hold what the marker certifies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DamagedUnit {
    /// The unit's index in the write-unit grid (level, y, x).
    pub unit: [u64; 3],
    /// What is wrong, e.g. "the file has 1200 bytes; its marker records 1885".
    pub reason: String,
}

/// What [`verify_store`] found in one array.
#[derive(Clone, Debug, PartialEq)]
pub struct VerifyReport {
    /// The array directory.
    pub array_dir: PathBuf,
    /// Write units of the array.
    pub units_total: u64,
    /// Units with a marker whose file is intact.
    pub units_intact: u64,
    /// The array's Zarr data type (`"uint16"` counts or `"float32"` smooth values).
    pub data_type: String,
    /// Units without a marker (not written yet), in C order.
    pub missing: Vec<[u64; 3]>,
    /// Units with a marker whose file is damaged, in C order.
    pub damaged: Vec<DamagedUnit>,
    /// Units whose bytes were compared with a checksum recorded by their marker (the others
    /// have the empty markers of older stores: decoded only).
    pub units_checksummed: u64,
    /// Decoded bytes of the units read (2 per count, 4 per smooth value, including edge
    /// padding).
    pub raw_bytes: u64,
    /// Bytes of the unit files read.
    pub stored_bytes: u64,
    /// Wall time of the check in seconds.
    pub seconds: f64,
}

impl VerifyReport {
    /// `true` when every unit is written and intact.
    #[must_use]
    pub fn is_intact(&self) -> bool {
        self.missing.is_empty() && self.damaged.is_empty()
    }
}

/// Checks every unit of the zoomstack array at `store`/`array_path` (or, when that is an
/// OME-Zarr pyramid written by zoomstack, of each of its levels) on `threads` threads
/// (0: one per core), without modifying anything. One report per array.
///
/// # Errors
///
/// [`SinkError::InvalidParameter`] for an invalid `array_path`, [`SinkError::NotAZoomstackStore`]
/// when no zoomstack array or pyramid is there, [`SinkError::InvalidMetadata`] for a
/// `zarr.json` the sinks cannot use, [`SinkError::Zarr`] when zarrs cannot open the array, and
/// a file-system error when reading fails for another reason than damage (e.g. permissions).
pub fn verify_store(
    store: impl AsRef<Path>,
    array_path: &str,
    threads: usize,
) -> Result<Vec<VerifyReport>, SinkError> {
    let store = store.as_ref();
    let comps = array_components(store, array_path, StoreValues::Counts)?;
    let dir = comps.iter().fold(store.to_path_buf(), |p, c| p.join(c));
    let not_ours = |reason: String| SinkError::NotAZoomstackStore {
        path: store.to_path_buf(),
        reason,
    };
    match read_node(&dir)? {
        Some(Node::ZoomstackArray(_)) => Ok(vec![verify_array(store, &comps, threads)?]),
        Some(Node::Group(attrs)) => {
            let datasets = attrs["ome"]["multiscales"][0]["datasets"]
                .as_array()
                .filter(|d| !d.is_empty())
                .ok_or_else(|| {
                    not_ours(format!(
                        "{} is a Zarr group without an OME-Zarr pyramid",
                        dir.display()
                    ))
                })?;
            let mut reports = Vec::new();
            for d in datasets {
                let name = d["path"].as_str().ok_or_else(|| {
                    not_ours(format!("{}: a dataset without a path", dir.display()))
                })?;
                let mut c = comps.clone();
                c.extend(path_components(name)?);
                reports.push(verify_array(store, &c, threads)?);
            }
            Ok(reports)
        }
        Some(Node::Foreign(reason)) => Err(not_ours(reason)),
        None => Err(not_ours(format!("no zoomstack array at {}", dir.display()))),
    }
}

fn verify_array(store: &Path, comps: &[String], threads: usize) -> Result<VerifyReport, SinkError> {
    let t0 = Instant::now();
    let array_dir = comps.iter().fold(store.to_path_buf(), |p, c| p.join(c));
    let Some(Node::ZoomstackArray(existing)) = read_node(&array_dir)? else {
        return Err(SinkError::NotAZoomstackStore {
            path: store.to_path_buf(),
            reason: format!("no zoomstack array at {}", array_dir.display()),
        });
    };
    let bad_meta = || SinkError::InvalidMetadata {
        path: array_dir.join("zarr.json"),
        reason: "expected a 3-D array with non-zero chunks".to_string(),
    };
    let unit = existing.shard.clone().unwrap_or(existing.chunks.clone());
    let (shape, unit) = match (&existing.shape[..], &unit[..]) {
        ([a, b, c], [x, y, z]) if *x > 0 && *y > 0 && *z > 0 => {
            ([*a, *b, *c], [*x as usize, *y as usize, *z as usize])
        }
        _ => return Err(bad_meta()),
    };
    let units = UnitGrid::new(shape, unit);
    if units.total() > super::MAX_UNITS {
        return Err(bad_meta());
    }
    let values = StoreValues::of_data_type(&existing.data_type).ok_or_else(|| {
        SinkError::InvalidMetadata {
            path: array_dir.join("zarr.json"),
            reason: format!(
                "data type {:?}: expected \"uint16\" (counts) or \"float32\" (smooth values)",
                existing.data_type
            ),
        }
    })?;
    let fs_store = Arc::new(FilesystemStore::new(store).map_err(|e| SinkError::Zarr {
        op: "open store",
        path: store.to_path_buf(),
        message: e.to_string(),
    })?);
    let array = Array::open(fs_store, &format!("/{}", comps.join("/")))
        .map_err(|e| SinkError::zarr_create("open array", &array_dir, e))?;
    let markers = read_markers(&array_dir.join(MARKER_DIR), &units)?;
    let mut damaged = Vec::new();
    let stats = Stats::default();
    let done = check_units_with(
        &array,
        &array_dir,
        (&units, values),
        &markers,
        threads,
        &stats,
        &mut damaged,
    )?;
    let missing = markers
        .iter()
        .enumerate()
        .filter(|(_, m)| **m == Marker::Absent)
        .map(|(lin, _)| units.unit_at(lin as u64))
        .collect();
    Ok(VerifyReport {
        array_dir,
        units_total: units.total(),
        units_intact: done.iter().filter(|d| d.load(Ordering::Relaxed)).count() as u64,
        data_type: values.data_type().to_string(),
        missing,
        damaged,
        units_checksummed: stats.checksummed.load(Ordering::Relaxed),
        raw_bytes: stats.raw.load(Ordering::Relaxed),
        stored_bytes: stats.stored.load(Ordering::Relaxed),
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// Counters of a check.
#[derive(Default)]
struct Stats {
    checksummed: AtomicU64,
    raw: AtomicU64,
    stored: AtomicU64,
}

/// Checks every unit that has a marker (as [`verify_store`] does) on one thread per core;
/// returns which units are intact and appends the damaged ones to `damaged`.
pub(super) fn check_units<S: ?Sized + ReadableStorageTraits + 'static>(
    array: &Array<S>,
    array_dir: &Path,
    (units, values): (&UnitGrid, StoreValues),
    markers: &[Marker],
    damaged: &mut Vec<DamagedUnit>,
) -> Result<Vec<AtomicBool>, SinkError> {
    check_units_with(
        array,
        array_dir,
        (units, values),
        markers,
        0,
        &Stats::default(),
        damaged,
    )
}

fn check_units_with<S: ?Sized + ReadableStorageTraits + 'static>(
    array: &Array<S>,
    array_dir: &Path,
    (units, values): (&UnitGrid, StoreValues),
    markers: &[Marker],
    threads: usize,
    stats: &Stats,
    damaged: &mut Vec<DamagedUnit>,
) -> Result<Vec<AtomicBool>, SinkError> {
    let threads = if threads == 0 {
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
    } else {
        threads
    };
    let done: Vec<AtomicBool> = markers.iter().map(|_| AtomicBool::new(false)).collect();
    let next = AtomicU64::new(0);
    let found = Mutex::new(Vec::new());
    let first_error = Mutex::new(None);
    let raw_per_unit = units.unit_len() as u64 * values.bytes();
    std::thread::scope(|s| {
        for _ in 0..threads.min(markers.len().max(1)) {
            s.spawn(|| {
                loop {
                    let lin = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&marker) = markers.get(lin as usize) else {
                        return;
                    };
                    if marker == Marker::Absent {
                        continue;
                    }
                    let u = units.unit_at(lin);
                    match check_unit(array, array_dir, u, marker) {
                        Ok((None, stored)) => {
                            done[lin as usize].store(true, Ordering::Relaxed);
                            stats.raw.fetch_add(raw_per_unit, Ordering::Relaxed);
                            stats.stored.fetch_add(stored, Ordering::Relaxed);
                            if matches!(marker, Marker::Record(_)) {
                                stats.checksummed.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        Ok((Some(reason), _)) => {
                            found
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner)
                                .push(DamagedUnit { unit: u, reason });
                        }
                        Err(e) => {
                            first_error
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner)
                                .get_or_insert(e);
                            return;
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = first_error
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
    {
        return Err(e);
    }
    let mut found = found
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    found.sort_by_key(|d| d.unit);
    damaged.extend(found);
    Ok(done)
}

/// Why unit `u` does not hold what `marker` certifies (`None`: intact), and the bytes read.
fn check_unit<S: ?Sized + ReadableStorageTraits + 'static>(
    array: &Array<S>,
    array_dir: &Path,
    u: [u64; 3],
    marker: Marker,
) -> Result<(Option<String>, u64), SinkError> {
    let file = unit_file(array_dir, u);
    let bytes = match fs::read(&file) {
        Ok(b) => Some(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) if e.kind() == std::io::ErrorKind::IsADirectory => {
            return Ok((Some("the unit's file is a directory".to_string()), 0));
        }
        Err(e) => return Err(SinkError::io("read", &file, e)),
    };
    let stored = bytes.as_ref().map_or(0, |b| b.len() as u64);
    let actual = UnitRecord::of(bytes.as_deref());
    match marker {
        Marker::Unreadable => {
            return Ok((Some("its marker is not a valid record".to_string()), stored));
        }
        Marker::Record(r) => {
            if let Some(why) = describe_length(r.bytes, bytes.as_ref().map(|b| b.len() as u64)) {
                return Ok((Some(why), stored));
            }
            if r.crc32c != actual.crc32c {
                return Ok((
                    Some(format!(
                        "its bytes differ from what its marker records (CRC-32C {:08x}, recorded {:08x})",
                        actual.crc32c, r.crc32c
                    )),
                    stored,
                ));
            }
        }
        Marker::Legacy | Marker::Absent => {}
    }
    if bytes.is_some()
        && let Err(e) = array.retrieve_chunk::<ArrayBytes<'static>>(&u)
    {
        return Ok((Some(format!("it cannot be decoded: {e}")), stored));
    }
    Ok((None, stored))
}
