//! [`store_status`]: what a store says about itself, read-only.

use std::path::Path;
use std::sync::atomic::Ordering;

use serde_json::Value;

use super::attrs::{ExistingArray, Node};
use super::markers::load_markers;
use super::paths::{array_components, read_node};
use super::units::UnitGrid;
use super::{MARKER_DIR, MAX_UNITS, StoreValues};
use crate::SinkError;

/// State of a store on disk, as recorded by its attribute and markers.
#[derive(Clone, Debug, PartialEq)]
pub struct StoreStatus {
    /// The array's path inside the store (`"counts"` or `"smooth"` for a store's own array, `""` for a store
    /// whose root is the array).
    pub array_path: String,
    /// The `zoomstack` attribute object.
    pub attributes: Value,
    /// The array's Zarr data type (`"uint16"` counts or `"float32"` smooth values).
    pub data_type: String,
    /// Output shape.
    pub shape: Vec<u64>,
    /// Write unit shape.
    pub write_unit: Vec<u64>,
    /// Write units in total.
    pub units_total: u64,
    /// Units with a marker whose record matches the unit file's length.
    pub units_done: u64,
    /// Units with a marker that does not match (file missing or of another length; see
    /// [`super::verify_store`] for a check of every byte).
    pub units_damaged: u64,
    /// The attribute's `complete` flag.
    pub complete: bool,
}

/// Inspect the zoomstack array at `store`/`array_path` without modifying it.
///
/// # Errors
///
/// [`SinkError::InvalidParameter`] for an invalid `array_path`, [`SinkError::NotAZoomstackStore`]
/// when no zoomstack array is there, [`SinkError::InvalidMetadata`] for a `zarr.json` or marker
/// directory the sinks cannot use, [`SinkError::Io`] or [`SinkError::PermissionDenied`] when
/// reading fails.
pub fn store_status(store: impl AsRef<Path>, array_path: &str) -> Result<StoreStatus, SinkError> {
    let store = store.as_ref();
    let comps = array_components(store, array_path, StoreValues::Counts)?;
    let array_dir = comps.iter().fold(store.to_path_buf(), |p, c| p.join(c));
    let existing: Box<ExistingArray> = match read_node(&array_dir)? {
        Some(Node::ZoomstackArray(a)) => a,
        Some(Node::Foreign(reason)) => {
            return Err(SinkError::NotAZoomstackStore {
                path: store.to_path_buf(),
                reason,
            });
        }
        _ => {
            return Err(SinkError::NotAZoomstackStore {
                path: store.to_path_buf(),
                reason: format!("no zoomstack array at {}", array_dir.display()),
            });
        }
    };
    let unit = existing.shard.clone().unwrap_or(existing.chunks.clone());
    let (shape, unit3) = match (&existing.shape[..], &unit[..]) {
        ([a, b, c], [x, y, z]) if *x > 0 && *y > 0 && *z > 0 => {
            ([*a, *b, *c], [*x as usize, *y as usize, *z as usize])
        }
        _ => {
            return Err(SinkError::InvalidMetadata {
                path: array_dir.join("zarr.json"),
                reason: "expected a 3-D array with non-zero chunks".to_string(),
            });
        }
    };
    let units = UnitGrid::new(shape, unit3);
    if units.total() > MAX_UNITS {
        return Err(SinkError::InvalidMetadata {
            path: array_dir.join("zarr.json"),
            reason: format!(
                "{} write units (at most {MAX_UNITS} supported)",
                units.total()
            ),
        });
    }
    let mut damaged = Vec::new();
    let done = load_markers(
        &array_dir,
        &array_dir.join(MARKER_DIR),
        &units,
        &mut damaged,
    )?;
    Ok(StoreStatus {
        array_path: comps.join("/"),
        complete: existing.zoomstack["complete"] == Value::Bool(true),
        attributes: existing.zoomstack.clone(),
        data_type: existing.data_type.clone(),
        shape: existing.shape.clone(),
        write_unit: unit,
        units_total: units.total(),
        units_done: done.iter().filter(|d| d.load(Ordering::Relaxed)).count() as u64,
        units_damaged: damaged.len() as u64,
    })
}
