//! Opening a store: [`ZarrSink::open`] (create, resume or refuse, under the store's lock) and
//! [`ZarrSink::check`], its read-only part (a run's preflight).

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::constant::ConstantShards;
use serde_json::Value;
use zarrs::array::codec::array_to_bytes::sharding::{ShardingCodecOptions, SubchunkWriteOrder};
use zarrs::array::{Array, ArrayBuilder, ArrayMetadataOptions, CodecOptions, CodecSpecificOptions};

use super::attrs::{self, Node};
use super::coords;
use super::lock::{LockRefused, lock_dir};
use super::markers::{
    Shared, load_markers, marker_path, read_markers, set_complete, spawn_syncers,
};
use super::paths::{
    array_components, check_free, check_parents, clear_dir, read_node, write_group,
};
use super::store::ChunkStore;
use super::units::UnitGrid;
use super::{
    ArrayDescription, Compression, DamagedUnit, IfExists, MARKER_DIR, MAX_UNITS, StoredElement,
    Writers, ZarrOptions, ZarrSink, verify,
};
use crate::SinkError;
use crate::fsutil::{create_dir_all, sync_dir, write_atomic};

impl ZarrSink {
    /// Create the counts array at `store` (a directory), or resume it: [`ZarrSink::open_of`]
    /// with `u16` elements (the description's values must be [`super::StoreValues::Counts`]).
    ///
    /// # Errors
    ///
    /// Those of [`ZarrSink::open_of`].
    // Documented (sinks/README.md) as taking its options by value; callers build them inline.
    #[allow(clippy::needless_pass_by_value)]
    pub fn open(
        store: impl AsRef<Path>,
        desc: ArrayDescription,
        options: ZarrOptions,
    ) -> Result<ZarrSink, SinkError> {
        ZarrSink::open_of(store, desc, options)
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
        let Prechecked { array_dir, .. } = precheck(store, desc, options, Coordinates::Beside)?;
        if array_dir.is_dir() {
            match lock_dir(&array_dir, options.writers) {
                Ok(probe) => drop(probe),
                Err(LockRefused::Busy) => return Err(SinkError::StoreBusy { path: array_dir }),
                Err(LockRefused::Error(e)) => return Err(e),
            }
        }
        Ok(())
    }
}

impl<T: StoredElement> ZarrSink<T> {
    /// Create the array of elements `T` at `store` (a directory), or resume it: the
    /// description's values must be `T`'s ([`StoredElement::VALUES`]).
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
    /// [`SinkError::InvalidParameter`] for an invalid description (or one of other values
    /// than `T`), array path or compression level, too many write units, or `verify` with
    /// [`Writers::Shared`].
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
    pub fn open_of(
        store: impl AsRef<Path>,
        desc: ArrayDescription,
        options: ZarrOptions,
    ) -> Result<ZarrSink<T>, SinkError> {
        Self::open_with(store.as_ref(), desc, &options, Coordinates::Beside)
    }

    /// [`ZarrSink::open`], with or without coordinate arrays beside a new array (a pyramid's
    /// datasets share one group, so they have none).
    pub(super) fn open_with(
        store: &Path,
        desc: ArrayDescription,
        options: &ZarrOptions,
        coordinates: Coordinates,
    ) -> Result<ZarrSink<T>, SinkError> {
        let store = store.to_path_buf();
        let Prechecked {
            units,
            comps,
            array_dir,
            parents,
        } = precheck(&store, &desc, options, coordinates)?;
        if desc.values != T::VALUES {
            return Err(SinkError::invalid(
                "array description",
                format!("values {:?}", desc.values.name()),
                format!(
                    "expected {:?} for a sink of {} elements",
                    T::VALUES.name(),
                    T::VALUES.data_type()
                ),
            ));
        }
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
                verify::check_units(
                    &array,
                    &array_dir,
                    (&units, desc.values),
                    &markers,
                    &mut damaged,
                )?
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
            // Coordinates first: an array whose zarr.json exists has its coordinates; the
            // group's consolidated metadata then includes the new array.
            let group = coordinate_group(&array_dir, &comps, coordinates);
            if let Some(group) = group {
                coords::write_coordinates(
                    group,
                    &comps[comps.len() - 1],
                    &desc,
                    options.compression,
                )?;
            }
            let array = create_array::<T>(&files, &node_path, &array_dir, &desc, options)?;
            if let Some(group) = group {
                coords::consolidate(group, &comps[comps.len() - 1])?;
            }
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
        let constant = desc.layout.shard().and_then(|shard| {
            let meta = serde_json::to_value(array.metadata()).ok()?;
            ConstantShards::for_array(&meta, shard)
        });
        Ok(ZarrSink {
            store_path: store,
            array_dir,
            constant,
            array,
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
    coordinates: Coordinates,
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
    let comps = array_components(store, &options.array_path, desc.values)?;
    let array_dir = comps.iter().fold(store.to_path_buf(), |p, c| p.join(c));
    let parents = check_parents(store, &comps)?;
    if let Some(group) = coordinate_group(&array_dir, &comps, coordinates) {
        coords::check_coordinates_free(group, &comps[comps.len() - 1])?;
    }
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

/// Whether a new array gets coordinate arrays in its parent group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Coordinates {
    /// `level`, `scale`, `log10_scale`, `y`, `x` beside the array (see `coords`).
    Beside,
    /// None (a pyramid's datasets).
    None,
}

/// The group a new array's coordinates go into: its parent, unless it is the store root itself
/// (a store written before groups) or coordinates are not wanted.
fn coordinate_group<'a>(
    array_dir: &'a Path,
    comps: &[String],
    coordinates: Coordinates,
) -> Option<&'a Path> {
    if comps.is_empty() || coordinates == Coordinates::None {
        None
    } else {
        array_dir.parent()
    }
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
/// The builder of a new array of `desc` compressed with `compression`: shape, write units,
/// element type, fill value, codecs (sharded when the layout is) and dimension names.
pub(super) fn array_builder<T: StoredElement>(
    desc: &ArrayDescription,
    compression: Compression,
) -> Result<ArrayBuilder, SinkError> {
    let mut builder = ArrayBuilder::new(
        desc.shape().to_vec(),
        desc.layout.unit().map(|u| u as u64).to_vec(),
        T::zarr_data_type(),
        T::fill_value(),
    );
    builder
        .bytes_to_bytes_codecs(compression.codecs()?)
        .dimension_names(Some(["level", "y", "x"]));
    if desc.layout.shard().is_some() {
        builder.subchunk_shape(desc.chunks().map(|c| c as u64).to_vec());
    }
    Ok(builder)
}

fn create_array<T: StoredElement>(
    files: &Arc<ChunkStore>,
    node_path: &str,
    array_dir: &Path,
    desc: &ArrayDescription,
    options: &ZarrOptions,
) -> Result<Array<ChunkStore>, SinkError> {
    let mut builder = array_builder::<T>(desc, options.compression)?;
    let attributes = builder.attributes_mut();
    attributes.insert("zoomstack".to_string(), attrs::zoomstack_json(desc));
    if !node_path.trim_matches('/').is_empty() {
        attributes.extend(coords::array_attributes(desc.values));
    }
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
