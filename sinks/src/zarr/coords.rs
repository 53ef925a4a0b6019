//! The coordinate arrays written beside a store's counts, so that xarray opens the group as a
//! dataset whose `level` axis is labelled by stack level (`.sel(level=4000)` is stack level
//! 4000 whatever the select's step).
//!
//! Written into the counts array's parent group, each 1-D, named by its dimension, with CF-style
//! `long_name` and `units`:
//!
//! - `level` (`int64`): the stack level of each output level;
//! - `scale` (`float64`, along `level`): the level's height in the complex plane,
//!   `scale0 / zoom_per_level ** level` (numpy: the notebook's f64 value; exact: the exact value
//!   rounded to f64, 0 where it is below f64's range); `log10_scale` (`float64`) never underflows;
//! - `y`, `x` (`float64`): each pixel's offset from the centre in units of the level's scale,
//!   `r / (H - 1) - 1/2` and `(j / (W - 1) - 1/2) · W / H` (a mean-downsampled pixel: the mean of
//!   its block).
//!
//! They are a function of the description alone and are written before the counts array's
//! `zarr.json`, so an array that exists has its coordinates.

use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};
use zarrs::array::{Array, ArrayBuilder, ArrayMetadataOptions, DataType, data_type};
use zarrs::filesystem::FilesystemStore;
use zoomstack_engine::{Arithmetic, AxisMap};
use zoomstack_kernel::exact::axis_fraction;

use super::attrs::Node;
use super::options::Compression;
use super::paths::read_node;
use super::{ArrayDescription, StoreValues};
use crate::SinkError;

/// Values per chunk of a coordinate array (8 MiB of f64).
const COORD_CHUNK: u64 = 1 << 20;

/// The names of the coordinate arrays, in the order they are written.
pub const COORDINATE_NAMES: [&str; 5] = ["level", "scale", "log10_scale", "y", "x"];

/// The attribute marking an array as a zoomstack coordinate: the name of the counts array it
/// belongs to.
const MARK: &str = "zoomstack_coordinate";

/// One coordinate array: its name, dimension, attributes and values.
struct Coordinate<'a> {
    name: &'static str,
    dim: &'static str,
    long_name: &'static str,
    len: u64,
    values: Values<'a>,
}

enum Values<'a> {
    I64(Box<dyn Fn(u64) -> i64 + 'a>),
    F64(Box<dyn Fn(u64) -> f64 + 'a>),
}

/// The `long_name`, `units` and `coordinates` attributes of the stack array (counts or smooth
/// values), which xarray reads (`coordinates` names the non-dimension coordinates).
pub(super) fn array_attributes(values: StoreValues) -> [(String, Value); 3] {
    let [long_name, units] = values.cf_attributes();
    [
        long_name,
        units,
        ("coordinates".into(), json!("scale log10_scale")),
    ]
}

/// Refuses a group where the coordinates of the array `name` cannot go: an array or directory
/// of a coordinate's name that zoomstack did not write, or coordinates of another zoomstack
/// array that is still there (a group's arrays share its coordinates). Read-only.
pub(super) fn check_coordinates_free(group_dir: &Path, name: &str) -> Result<(), SinkError> {
    for coord in COORDINATE_NAMES {
        let dir = group_dir.join(coord);
        if !dir.exists() {
            continue;
        }
        let v = read_json(&dir.join("zarr.json"))?;
        if v.is_null() {
            return Err(taken(&dir, "a directory without zarr.json"));
        }
        match v["attributes"][MARK].as_str() {
            Some(owner) if owner == name => {}
            Some(owner) => {
                let sibling = group_dir.join(owner);
                if let Ok(Some(Node::ZoomstackArray(_))) = read_node(&sibling) {
                    return Err(taken(
                        &dir,
                        &format!(
                            "the coordinates of the zoomstack array {}",
                            sibling.display()
                        ),
                    ));
                }
            }
            None => return Err(taken(&dir, "an array that zoomstack did not write")),
        }
    }
    Ok(())
}

fn taken(dir: &Path, what: &str) -> SinkError {
    SinkError::NotAZoomstackStore {
        path: dir.to_path_buf(),
        reason: format!(
            "the group already holds {what} under this coordinate's name (a store's coordinate \
             arrays are level, scale, log10_scale, y and x, shared by the arrays of a group): \
             give the counts a group of their own, e.g. array = \"stack2/counts\""
        ),
    }
}

/// Writes (or rewrites) the coordinate arrays of `desc`, the array `name`, into `group_dir`
/// (checked by [`check_coordinates_free`] first).
pub(super) fn write_coordinates(
    group_dir: &Path,
    name: &str,
    desc: &ArrayDescription,
    compression: Compression,
) -> Result<(), SinkError> {
    check_coordinates_free(group_dir, name)?;
    for coord in COORDINATE_NAMES {
        let dir = group_dir.join(coord);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .map_err(|e| SinkError::io("remove old coordinate", &dir, e))?;
        }
    }
    let store = Arc::new(
        FilesystemStore::new(group_dir).map_err(|e| SinkError::Zarr {
            op: "open store",
            path: group_dir.to_path_buf(),
            message: e.to_string(),
        })?,
    );
    for c in coordinates(desc) {
        write_one(&store, group_dir, name, &c, compression)?;
    }
    Ok(())
}

fn coordinates(desc: &ArrayDescription) -> Vec<Coordinate<'_>> {
    let sel = &desc.selection;
    let p = &desc.params;
    let aspect = p.width as f64 / p.height as f64;
    let log10_scale = move |level: u64| match &desc.arithmetic {
        Arithmetic::Exact(x) => x.scale_log10(level),
        Arithmetic::Numpy => {
            let s = p.scale(level);
            if s > 0.0 && s.is_finite() {
                s.log10()
            } else {
                p.scale0.log10() - level as f64 * p.zoom_per_level.log10()
            }
        }
    };
    let scale = move |level: u64| match &desc.arithmetic {
        Arithmetic::Exact(x) => 10f64.powf(x.scale_log10(level)),
        Arithmetic::Numpy => p.scale(level),
    };
    let levels = sel.levels;
    vec![
        Coordinate {
            name: "level",
            dim: "level",
            long_name: "zoom level (index into the stack)",
            len: levels.count,
            values: Values::I64(Box::new(move |k| {
                i64::try_from(levels.at(k)).unwrap_or(i64::MAX)
            })),
        },
        Coordinate {
            name: "scale",
            dim: "level",
            long_name: "height of the frame in the complex plane (scale0 / zoom_per_level ** level; 0 below f64's range)",
            len: levels.count,
            values: Values::F64(Box::new(move |k| scale(levels.at(k)))),
        },
        Coordinate {
            name: "log10_scale",
            dim: "level",
            long_name: "log10 of the height of the frame in the complex plane",
            len: levels.count,
            values: Values::F64(Box::new(move |k| log10_scale(levels.at(k)))),
        },
        Coordinate {
            name: "y",
            dim: "y",
            long_name: "imaginary offset from the centre, in units of the level's scale",
            len: sel.rows.len(),
            values: Values::F64(Box::new(move |k| block_offset(&sel.rows, k, p.height))),
        },
        Coordinate {
            name: "x",
            dim: "x",
            long_name: "real offset from the centre, in units of the level's scale",
            len: sel.cols.len(),
            values: Values::F64(Box::new(move |k| {
                block_offset(&sel.cols, k, p.width) * aspect
            })),
        },
    ]
}

/// The offset `i / (n - 1) - 1/2` of output pixel `k` of an axis (the mean over its block).
fn block_offset(axis: &AxisMap, k: u64, n: usize) -> f64 {
    let (lo, hi) = axis.block(axis.blocks.at(k));
    let sum: f64 = (lo..hi)
        .map(|pos| {
            let (num, den) = axis_fraction(axis.source.at(pos), n);
            num as f64 / den as f64
        })
        .sum();
    sum / (hi - lo).max(1) as f64
}

fn write_one(
    store: &Arc<FilesystemStore>,
    group_dir: &Path,
    owner: &str,
    c: &Coordinate<'_>,
    compression: Compression,
) -> Result<(), SinkError> {
    let chunk = c.len.clamp(1, COORD_CHUNK);
    let (dtype, fill): (DataType, zarrs::array::FillValue) = match c.values {
        Values::I64(_) => (data_type::int64(), 0i64.into()),
        Values::F64(_) => (data_type::float64(), f64::NAN.into()),
    };
    let mut builder = ArrayBuilder::new(vec![c.len], vec![chunk], dtype, fill);
    builder
        .bytes_to_bytes_codecs(compression.codecs()?)
        .dimension_names(Some([c.dim]));
    let attrs = builder.attributes_mut();
    attrs.insert("long_name".into(), json!(c.long_name));
    attrs.insert("units".into(), json!("1"));
    attrs.insert(MARK.into(), json!(owner));
    let dir = group_dir.join(c.name);
    let array: Array<FilesystemStore> =
        builder
            .build(Arc::clone(store), &format!("/{}", c.name))
            .map_err(|e| SinkError::zarr_create("create coordinate array", &dir, e))?;
    // Metadata first: a killed write leaves a marked array that the next open replaces.
    array
        .store_metadata_opt(&ArrayMetadataOptions::default().with_include_zarrs_metadata(false))
        .map_err(|e| SinkError::Zarr {
            op: "write coordinate metadata",
            path: dir.clone(),
            message: e.to_string(),
        })?;
    for i in 0..c.len.div_ceil(chunk) {
        let range = i * chunk..((i + 1) * chunk).min(c.len);
        let stored = match &c.values {
            Values::I64(f) => {
                let mut v: Vec<i64> = range.map(f).collect();
                v.resize(chunk as usize, 0);
                array.store_chunk(&[i], v)
            }
            Values::F64(f) => {
                let mut v: Vec<f64> = range.map(f).collect();
                v.resize(chunk as usize, f64::NAN);
                array.store_chunk(&[i], v)
            }
        };
        stored.map_err(|e| SinkError::zarr("write coordinate", &dir, e))?;
    }
    Ok(())
}

/// Rewrites `group_dir/zarr.json` with inline consolidated metadata (zarr-python's
/// `consolidated_metadata`: every node below the group) when the group holds the coordinates
/// of the array `name`, so that xarray opens it in one read and without a warning. Called
/// whenever the array's `zarr.json` changes (creation, `complete`), so it is never stale.
pub(super) fn consolidate(group_dir: &Path, name: &str) -> Result<(), SinkError> {
    let owner = read_json(&group_dir.join("level").join("zarr.json"))?;
    if owner["attributes"][MARK].as_str() != Some(name) {
        return Ok(());
    }
    let path = group_dir.join("zarr.json");
    let mut group = read_json(&path)?;
    if group["node_type"] != "group" {
        return Ok(());
    }
    let mut nodes = serde_json::Map::new();
    collect_nodes(group_dir, "", &mut nodes)?;
    group["consolidated_metadata"] = json!({
        "kind": "inline",
        "must_understand": false,
        "metadata": nodes,
    });
    let text = serde_json::to_string_pretty(&group).unwrap_or_default();
    crate::fsutil::write_atomic(&path, true, |w| {
        std::io::Write::write_all(w, text.as_bytes()).map_err(|e| SinkError::io("write", &path, e))
    })
}

/// The metadata of every node below `dir`, keyed by its path relative to the group (arrays are
/// not descended into: their chunks and markers are not nodes).
fn collect_nodes(
    dir: &Path,
    prefix: &str,
    out: &mut serde_json::Map<String, Value>,
) -> Result<(), SinkError> {
    let entries = std::fs::read_dir(dir).map_err(|e| SinkError::io("list directory", dir, e))?;
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for n in names {
        let meta = dir.join(&n).join("zarr.json");
        if !meta.exists() {
            continue;
        }
        let mut v = read_json(&meta)?;
        let key = format!("{prefix}{n}");
        if v["node_type"] == "group" {
            if let Some(o) = v.as_object_mut() {
                o.remove("consolidated_metadata");
            }
            collect_nodes(&dir.join(&n), &format!("{key}/"), out)?;
        }
        out.insert(key, v);
    }
    Ok(())
}

/// The JSON document at `path`, or `Null` when there is none.
fn read_json(path: &Path) -> Result<Value, SinkError> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| SinkError::InvalidMetadata {
            path: path.to_path_buf(),
            reason: format!("not valid JSON: {e}"),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Value::Null),
        Err(e) => Err(SinkError::io("read", path, e)),
    }
}
