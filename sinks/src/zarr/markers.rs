//! Completion markers: what each one certifies, creating them as units are stored, loading
//! (and checking) them on resume, the syncer threads that make units durable, and the
//! `complete` flag.
//!
//! A marker `zoomstack.done/i.j.k` is created right after unit `(i, j, k)` is stored, by the
//! thread that stored it, so markers never lag behind finished units. It records the unit
//! file's length and CRC-32C (`{"bytes": N, "crc32c": C}`; `bytes` 0: the unit equals the fill
//! value and has no file), so a resume can check lengths with one `stat` and `verify` can check
//! every byte. Markers of stores written before records existed are empty and certify presence
//! only. Durability: the syncer threads `fsync` every stored unit file; `complete` is set only
//! after they are done and the marker directory is synced. After a power loss a marker may
//! outlive its unit's data; its record is what detects that.

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

/// Number of threads that `fsync` stored unit files.
pub(super) const SYNCER_THREADS: usize = 2;

/// What a stored unit file holds, as its marker records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct UnitRecord {
    /// Length of the file (0: no file, the unit equals the fill value).
    pub(super) bytes: u64,
    /// CRC-32C (Castagnoli) of the file's bytes (0 when there is no file).
    pub(super) crc32c: u32,
}

impl UnitRecord {
    /// The record of a unit file's bytes (`None`: no file).
    pub(super) fn of(bytes: Option<&[u8]>) -> UnitRecord {
        match bytes {
            Some(b) => UnitRecord {
                bytes: b.len() as u64,
                crc32c: crc32c::crc32c(b),
            },
            None => UnitRecord {
                bytes: 0,
                crc32c: 0,
            },
        }
    }

    fn to_json(self) -> String {
        format!(
            "{{\"bytes\": {}, \"crc32c\": {}}}\n",
            self.bytes, self.crc32c
        )
    }
}

/// A unit's marker as found on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Marker {
    /// No marker: the unit is not written.
    Absent,
    /// An empty marker (stores written before records existed): presence only.
    Legacy,
    /// A marker with its record.
    Record(UnitRecord),
    /// A marker whose content is not a record (damaged): the unit must be written again.
    Unreadable,
}

impl Marker {
    fn parse(content: &[u8]) -> Marker {
        if content.is_empty() {
            return Marker::Legacy;
        }
        let Ok(v) = serde_json::from_slice::<Value>(content) else {
            return Marker::Unreadable;
        };
        match (
            v["bytes"].as_u64(),
            v["crc32c"].as_u64().and_then(|c| u32::try_from(c).ok()),
        ) {
            (Some(bytes), Some(crc32c)) => Marker::Record(UnitRecord { bytes, crc32c }),
            _ => Marker::Unreadable,
        }
    }
}

/// The marker file of unit `u`.
pub(super) fn marker_path(marker_dir: &Path, u: [u64; 3]) -> PathBuf {
    marker_dir.join(format!("{}.{}.{}", u[0], u[1], u[2]))
}

/// The file of unit `u` inside the array directory (zarrs' default `c/i/j/k` chunk keys, which
/// every zoomstack store uses).
pub(super) fn unit_file(array_dir: &Path, u: [u64; 3]) -> PathBuf {
    array_dir.join(format!("c/{}/{}/{}", u[0], u[1], u[2]))
}

/// Creates (atomically: a marker is either absent or complete) the marker of unit `u`.
pub(super) fn write_marker(
    marker_dir: &Path,
    u: [u64; 3],
    record: UnitRecord,
) -> Result<(), SinkError> {
    let p = marker_path(marker_dir, u);
    write_atomic(&p, false, |w| {
        w.write_all(record.to_json().as_bytes())
            .map_err(|e| SinkError::io("write marker", &p, e))
    })
}

/// Calls `each(lin, marker)` for every unit that has a marker in `marker_dir` (unknown names
/// are ignored), without holding more than one marker in memory.
fn for_each_marker(
    marker_dir: &Path,
    units: &UnitGrid,
    mut each: impl FnMut(u64, Marker) -> Result<(), SinkError>,
) -> Result<(), SinkError> {
    let entries = match fs::read_dir(marker_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
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
            let content = match fs::read(e.path()) {
                Ok(c) => c,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(err) => return Err(SinkError::io("read marker", &e.path(), err)),
            };
            each(units.linear([i, j, k]), Marker::parse(&content))?;
        }
    }
    Ok(())
}

/// Every unit's marker, read from `marker_dir` (for [`super::verify`], which checks them all).
pub(super) fn read_markers(marker_dir: &Path, units: &UnitGrid) -> Result<Vec<Marker>, SinkError> {
    let mut markers = vec![Marker::Absent; usize::try_from(units.total()).unwrap_or(usize::MAX)];
    for_each_marker(marker_dir, units, |lin, m| {
        markers[lin as usize] = m;
        Ok(())
    })?;
    Ok(markers)
}

/// Why a unit with a marker does not hold what the marker certifies (`None`: it does, as far
/// as a `stat` can tell: the file exists exactly when the record says, with its length).
pub(super) fn length_problem(marker: Marker, file: &Path) -> Result<Option<String>, SinkError> {
    let record = match marker {
        Marker::Absent | Marker::Legacy => return Ok(None),
        Marker::Unreadable => return Ok(Some("its marker is not a valid record".to_string())),
        Marker::Record(r) => r,
    };
    let actual = match fs::metadata(file) {
        Ok(m) => Some(m.len()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(SinkError::io("inspect", file, e)),
    };
    Ok(describe_length(record.bytes, actual))
}

/// What is wrong when a marker records a file of `recorded` bytes (0: no file) and the file has
/// `actual` bytes (`None`: missing); `None` when they agree.
pub(super) fn describe_length(recorded: u64, actual: Option<u64>) -> Option<String> {
    match (recorded, actual) {
        (0, None) => None,
        (n, Some(a)) if n == a => None,
        (0, Some(a)) => Some(format!(
            "its marker records no file (fill value), but the file has {a} bytes"
        )),
        (n, None) => Some(format!("the file is missing; its marker records {n} bytes")),
        (n, Some(a)) => Some(format!("the file has {a} bytes; its marker records {n}")),
    }
}

/// Units whose marker certifies them, after a length check of each one (see
/// [`length_problem`]); `damaged` receives the others that have a marker, with the reason.
pub(super) fn load_markers(
    array_dir: &Path,
    marker_dir: &Path,
    units: &UnitGrid,
    damaged: &mut Vec<([u64; 3], String)>,
) -> Result<Vec<AtomicBool>, SinkError> {
    // One byte per unit (stores may have millions of units): markers are checked as read.
    let done: Vec<AtomicBool> = (0..units.total()).map(|_| AtomicBool::new(false)).collect();
    for_each_marker(marker_dir, units, |lin, m| {
        let u = units.unit_at(lin);
        match length_problem(m, &unit_file(array_dir, u))? {
            None => done[lin as usize].store(true, Ordering::Relaxed),
            Some(why) => damaged.push((u, why)),
        }
        Ok(())
    })?;
    damaged.sort_by_key(|d| d.0);
    Ok(done)
}

/// State shared by the writing threads and the syncer threads.
#[derive(Debug)]
pub(super) struct Shared {
    pub(super) marker_dir: PathBuf,
    pub(super) units: UnitGrid,
    /// Units with a valid marker (found at open, or created by this run).
    pub(super) done: Vec<AtomicBool>,
    /// Units whose data this run is storing or has stored.
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

    /// Record unit `u` as stored: its marker on disk, then the counters.
    pub(super) fn mark(
        &self,
        u: [u64; 3],
        record: UnitRecord,
        raw_bytes: u64,
    ) -> Result<(), SinkError> {
        write_marker(&self.marker_dir, u, record)?;
        self.done[self.units.linear(u) as usize].store(true, Ordering::Release);
        self.marked.fetch_add(1, Ordering::Relaxed);
        self.raw_bytes.fetch_add(raw_bytes, Ordering::Relaxed);
        Ok(())
    }
}

/// Starts the threads that `fsync` stored unit files (sent through the returned channel).
pub(super) fn spawn_syncers(shared: &Arc<Shared>) -> (mpsc::Sender<PathBuf>, Vec<JoinHandle<()>>) {
    let (tx, rx) = mpsc::channel::<PathBuf>();
    let rx = Arc::new(Mutex::new(rx));
    let handles = (0..SYNCER_THREADS)
        .map(|_| {
            let rx = Arc::clone(&rx);
            let shared = Arc::clone(shared);
            std::thread::spawn(move || {
                loop {
                    let file = match rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    let Ok(file) = file else { return };
                    if shared.failed.load(Ordering::SeqCst) {
                        continue;
                    }
                    let synced = fs::File::open(&file).and_then(|f| f.sync_all());
                    if let Err(e) = synced {
                        shared.fail(SinkError::io("sync unit file", &file, e));
                    }
                }
            })
        })
        .collect();
    (tx, handles)
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
    })?;
    // The group's consolidated copy of this zarr.json follows it.
    match (array_dir.parent(), array_dir.file_name()) {
        (Some(group), Some(name)) => super::coords::consolidate(group, &name.to_string_lossy()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip_and_lengths_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let array_dir = dir.path();
        let marker_dir = array_dir.join("zoomstack.done");
        fs::create_dir_all(&marker_dir).unwrap();
        let units = UnitGrid::new([4, 8, 8], [1, 8, 8]);
        let file = unit_file(array_dir, [1, 0, 0]);
        fs::create_dir_all(file.parent().unwrap()).unwrap();
        fs::write(&file, b"12345").unwrap();
        let rec = UnitRecord::of(Some(b"12345"));
        assert_eq!(rec.crc32c, crc32c::crc32c(b"12345"));
        write_marker(&marker_dir, [1, 0, 0], rec).unwrap();
        write_marker(&marker_dir, [2, 0, 0], UnitRecord::of(None)).unwrap();
        fs::write(marker_path(&marker_dir, [3, 0, 0]), b"").unwrap();
        let m = read_markers(&marker_dir, &units).unwrap();
        assert_eq!(m[0], Marker::Absent);
        assert_eq!(m[1], Marker::Record(rec));
        assert_eq!(m[2], Marker::Record(UnitRecord::of(None)));
        assert_eq!(m[3], Marker::Legacy);
        let mut damaged = vec![];
        let done = load_markers(array_dir, &marker_dir, &units, &mut damaged).unwrap();
        let done: Vec<bool> = done.iter().map(|d| d.load(Ordering::Relaxed)).collect();
        assert_eq!(done, [false, true, true, true]);
        assert!(damaged.is_empty());

        fs::write(&file, b"123").unwrap(); // truncated
        fs::write(marker_path(&marker_dir, [3, 0, 0]), b"{\"bytes\": 1").unwrap(); // torn
        let file2 = unit_file(array_dir, [2, 0, 0]);
        fs::create_dir_all(file2.parent().unwrap()).unwrap();
        fs::write(&file2, b"x").unwrap(); // a file where the record says none
        let done = load_markers(array_dir, &marker_dir, &units, &mut damaged).unwrap();
        assert!(done.iter().all(|d| !d.load(Ordering::Relaxed)));
        let why: Vec<String> = damaged.iter().map(|(_, w)| w.clone()).collect();
        assert_eq!(
            why,
            [
                "the file has 3 bytes; its marker records 5",
                "its marker records no file (fill value), but the file has 1 bytes",
                "its marker is not a valid record",
            ]
        );
        fs::remove_file(&file).unwrap();
        assert_eq!(
            length_problem(Marker::Record(rec), &file).unwrap().unwrap(),
            "the file is missing; its marker records 5 bytes"
        );
    }
}
