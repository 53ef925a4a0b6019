//! Where an array may be created: node paths, and what already sits at a directory.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::attrs::{self, Node};
use super::{MARKER_DIR, StoreValues};
use crate::SinkError;
use crate::fsutil::{create_dir_all, write_atomic};

/// Validate a user array path; returns its components.
pub(super) fn path_components(array_path: &str) -> Result<Vec<String>, SinkError> {
    let trimmed = array_path.trim_matches('/');
    if trimmed.is_empty() {
        return Ok(vec![]);
    }
    trimmed
        .split('/')
        .map(|c| {
            let ok = !c.is_empty()
                && c != "."
                && c != ".."
                && !c.starts_with("__")
                && c != MARKER_DIR
                && c != "c"
                && c.chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '-'));
            if ok {
                Ok(c.to_string())
            } else {
                Err(SinkError::invalid(
                    "array path",
                    format!("{array_path:?}"),
                    "expected names of letters, digits, '.', '_' or '-' separated by '/' \
                     (not '.', '..', 'c', zoomstack.done or names starting with '__')",
                ))
            }
        })
        .collect()
}

/// The name of a new counts store's array in its root group (a smooth store's is
/// [`super::StoreValues::default_array`], `"smooth"`).
pub const DEFAULT_ARRAY: &str = "counts";

/// The names a store's own array may have in its root group, by the values it holds.
const DEFAULT_ARRAYS: [StoreValues; 2] = [StoreValues::Counts, StoreValues::Smooth];

/// The components of the node at `array_path` in `store`. The empty path means the store's own
/// array: the store root itself when it is a zoomstack array (a store written before stores
/// were groups, which still reads and resumes) or an OME-Zarr group (a pyramid), else the
/// array of `values`' default name in the root group or, when only the other default name
/// (`counts` or `smooth`) holds an array, that one (so a resume with other values is refused
/// naming `values`, and readers find either).
pub(super) fn array_components(
    store: &Path,
    array_path: &str,
    values: StoreValues,
) -> Result<Vec<String>, SinkError> {
    let comps = path_components(array_path)?;
    if !comps.is_empty() {
        return Ok(comps);
    }
    Ok(match read_node(store)? {
        Some(Node::ZoomstackArray(_)) => vec![],
        Some(Node::Group(a)) if a.get("ome").is_some() => vec![],
        _ => {
            let wanted = values.default_array();
            let other = DEFAULT_ARRAYS
                .iter()
                .map(|v| v.default_array())
                .find(|&n| n != wanted && store.join(n).join("zarr.json").is_file());
            let present = store.join(wanted).join("zarr.json").is_file();
            vec![other.filter(|_| !present).unwrap_or(wanted).to_string()]
        }
    })
}

/// `true` if `dir` holds nothing but our own leftover temporary files.
pub(super) fn dir_is_empty(dir: &Path) -> Result<bool, SinkError> {
    let entries = fs::read_dir(dir).map_err(|e| SinkError::io("list directory", dir, e))?;
    for e in entries {
        let e = e.map_err(|e| SinkError::io("list directory", dir, e))?;
        let name = e.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with(".zarr.json.tmp-")) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Read and classify `dir/zarr.json` if it exists.
pub(super) fn read_node(dir: &Path) -> Result<Option<Node>, SinkError> {
    let p = dir.join("zarr.json");
    match fs::read_to_string(&p) {
        Ok(text) => attrs::classify(&p, &text).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => Ok(None),
        Err(e) => Err(SinkError::io("read", &p, e)),
    }
}

/// Write an empty group `zarr.json` into `dir` (creating it).
pub(super) fn write_group(dir: &Path, attributes: &Value) -> Result<(), SinkError> {
    create_dir_all(dir)?;
    let doc = serde_json::json!({"zarr_format": 3, "node_type": "group", "attributes": attributes});
    let text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    write_atomic(&dir.join("zarr.json"), true, |w| {
        w.write_all(text.as_bytes())
            .map_err(|e| SinkError::io("write", &dir.join("zarr.json"), e))
    })
}

/// Check that `dir` is usable as (or as the parent group of) a new node: it does not exist, is an
/// empty directory, or is a Zarr group (when `group_ok`).
pub(super) fn check_free(
    store: &Path,
    dir: &Path,
    group_ok: bool,
) -> Result<Option<Node>, SinkError> {
    match fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(SinkError::io("inspect", dir, e)),
        Ok(m) if !m.is_dir() => {
            return Err(SinkError::NotAZoomstackStore {
                path: store.to_path_buf(),
                reason: format!("{} is a file, not a directory", dir.display()),
            });
        }
        Ok(_) => {}
    }
    match read_node(dir)? {
        Some(Node::Group(a)) if group_ok => Ok(Some(Node::Group(a))),
        Some(Node::ZoomstackArray(a)) => Ok(Some(Node::ZoomstackArray(a))),
        Some(Node::Group(_)) => Err(SinkError::NotAZoomstackStore {
            path: store.to_path_buf(),
            reason: format!("{} is a Zarr group, expected an array", dir.display()),
        }),
        Some(Node::Foreign(reason)) => Err(SinkError::NotAZoomstackStore {
            path: store.to_path_buf(),
            reason: format!("{}/zarr.json: {reason}", dir.display()),
        }),
        None if dir_is_empty(dir)? => Ok(None),
        None => Err(SinkError::NotAZoomstackStore {
            path: store.to_path_buf(),
            reason: format!(
                "{} is a non-empty directory without zarr.json",
                dir.display()
            ),
        }),
    }
}

/// The directories above an array at `comps` inside `store` (the store root, then intermediate
/// groups), each with what is there now: nothing, or a Zarr group. Anything else is refused.
pub(super) fn check_parents(
    store: &Path,
    comps: &[String],
) -> Result<Vec<(PathBuf, Option<Node>)>, SinkError> {
    let mut out = Vec::new();
    if comps.is_empty() {
        return Ok(out);
    }
    let mut dir = store.to_path_buf();
    for c in std::iter::once(None).chain(comps[..comps.len() - 1].iter().map(Some)) {
        if let Some(c) = c {
            dir = dir.join(c);
        }
        let node = check_free(store, &dir, true)?;
        if let Some(Node::ZoomstackArray(_)) = node {
            return Err(SinkError::NotAZoomstackStore {
                path: store.to_path_buf(),
                reason: format!(
                    "{} is a zoomstack array; cannot create an array inside it",
                    dir.display()
                ),
            });
        }
        out.push((dir.clone(), node));
    }
    Ok(out)
}

/// Deletes everything inside `dir` (a zoomstack array being replaced), keeping `dir` itself:
/// its lock is held on the directory.
pub(super) fn clear_dir(dir: &Path) -> Result<(), SinkError> {
    let entries = fs::read_dir(dir).map_err(|e| SinkError::io("list directory", dir, e))?;
    for e in entries {
        let e = e.map_err(|e| SinkError::io("list directory", dir, e))?;
        let p = e.path();
        let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
        let removed = if is_dir {
            fs::remove_dir_all(&p)
        } else {
            fs::remove_file(&p)
        };
        removed.map_err(|e| SinkError::io("remove old array", &p, e))?;
    }
    Ok(())
}
