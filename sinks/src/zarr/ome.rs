//! OME-Zarr 0.5 multiscale pyramids: one zoomstack array per resolution level.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::attrs::Node;
use super::lock::{LockRefused, StoreLock, lock_dir};
use super::{
    ArrayDescription, IfExists, StoredElement, Writers, ZarrOptions, ZarrReport, ZarrSink,
    path_components,
};
use crate::SinkError;

/// Where the pixels of one dataset sit in the full stack's index space: OME-Zarr `scale` and
/// `translation` per axis `(level, y, x)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OmeAxisScale {
    /// Distance between consecutive output indices, in full-resolution indices.
    pub scale: [f64; 3],
    /// Full-resolution index of output index 0 (the centre of the block for a mean).
    pub translation: [f64; 3],
}

impl OmeAxisScale {
    /// Derive the placement from a description's selection.
    ///
    /// # Errors
    ///
    /// [`SinkError::InvalidParameter`] for a selection OME scale/translation cannot describe: a
    /// select after a mean, or a decreasing axis.
    pub fn of(desc: &ArrayDescription) -> Result<OmeAxisScale, SinkError> {
        let sel = &desc.selection;
        let bad = |why: &str| SinkError::invalid("OME-Zarr dataset select", sel.select_text(), why);
        if sel.post_select().is_some() {
            return Err(bad(
                "a select after a mean cannot be described by OME scale/translation",
            ));
        }
        let mut scale = [1.0; 3];
        let mut translation = [0.0; 3];
        let factors = sel.mean_factors().unwrap_or([1, 1]);
        for (k, r) in sel.source().iter().enumerate() {
            if r.step < 1 {
                return Err(bad("OME-Zarr axes must increase (positive steps)"));
            }
            let m = if k == 0 { 1 } else { factors[k - 1] } as f64;
            scale[k] = r.step as f64 * m;
            translation[k] = r.start as f64 + r.step as f64 * (m - 1.0) / 2.0;
        }
        Ok(OmeAxisScale { scale, translation })
    }
}

/// The `ome` attribute of the pyramid group.
fn ome_json(placements: &[OmeAxisScale]) -> Value {
    let translate = placements
        .iter()
        .any(|p| p.translation.iter().any(|&t| t != 0.0));
    let datasets: Vec<Value> = placements
        .iter()
        .enumerate()
        .map(|(k, p)| {
            let mut t = vec![json!({"type": "scale", "scale": p.scale})];
            if translate {
                t.push(json!({"type": "translation", "translation": p.translation}));
            }
            json!({"path": k.to_string(), "coordinateTransformations": t})
        })
        .collect();
    json!({
        "version": "0.5",
        "multiscales": [{
            "name": "zoomstack",
            "axes": [
                {"name": "level"},
                {"name": "y", "type": "space"},
                {"name": "x", "type": "space"},
            ],
            "datasets": datasets,
            "type": "stride",
            "metadata": {
                "description": "each dataset is rendered directly from the escape-time kernel \
                                at its own stride (no averaging, no reading back)",
            },
        }],
    })
}

/// An OME-Zarr 0.5 pyramid: a group whose `ome` attribute lists datasets `"0"`, `"1"`, ...,
/// each a zoomstack array written by its own [`ZarrSink`] (one description per resolution
/// level, e.g. the base selection and the same with `::2`, `::4`, ... on y and x). Each level
/// is resumable on its own, exactly like a single store. Its elements are `T`: `u16` counts
/// ([`ZarrPyramid::open`]) or `f32` smooth values ([`ZarrPyramid::open_of`]).
#[derive(Debug)]
pub struct ZarrPyramid<T: StoredElement = u16> {
    group_dir: PathBuf,
    levels: Vec<ZarrSink<T>>,
    /// The group's lock (each level's sink also holds its own array's).
    _lock: Option<StoreLock>,
}

/// Takes the pyramid group's lock (the same rule as an array's, see [`super::Writers`]).
fn lock_group(group_dir: &Path, writers: Writers) -> Result<Option<StoreLock>, SinkError> {
    match lock_dir(group_dir, writers) {
        Ok(lock) => Ok(lock),
        Err(LockRefused::Busy) => Err(SinkError::StoreBusy {
            path: group_dir.to_path_buf(),
        }),
        Err(LockRefused::Error(e)) => Err(e),
    }
}

impl ZarrPyramid {
    /// [`ZarrPyramid::open_of`] with `u16` elements (counts).
    ///
    /// # Errors
    ///
    /// Those of [`ZarrPyramid::open_of`].
    // Documented (sinks/README.md) as taking its options by value, as `ZarrSink::open` does.
    #[allow(clippy::needless_pass_by_value)]
    pub fn open(
        store: impl AsRef<Path>,
        descs: Vec<ArrayDescription>,
        options: ZarrOptions,
    ) -> Result<ZarrPyramid, SinkError> {
        ZarrPyramid::open_of(store, descs, options)
    }
}

impl<T: StoredElement> ZarrPyramid<T> {
    /// Create (or resume) the pyramid group at `store`/`options.array_path` with one dataset
    /// per description. The descriptions must share the stack and the level axis, and their
    /// y/x scales must not decrease. `options` (compression, `if_exists`) applies to every
    /// dataset; each description carries its own layout (the engine's
    /// [`zoomstack_engine::StoreLayout::pyramid_level`] keeps the chunks per shard).
    ///
    /// # Errors
    ///
    /// [`SinkError::InvalidParameter`] for no descriptions, descriptions from different stacks
    /// or levels, decreasing y/x scales, or a selection OME cannot describe
    /// ([`OmeAxisScale::of`]). [`SinkError::NotAZoomstackStore`], [`SinkError::AlreadyExists`]
    /// or [`SinkError::ParameterMismatch`] for an existing group that cannot be used, a
    /// file-system error when the group cannot be written, and the errors of
    /// [`ZarrSink::open_of`] for each dataset.
    #[allow(clippy::needless_pass_by_value)]
    pub fn open_of(
        store: impl AsRef<Path>,
        descs: Vec<ArrayDescription>,
        options: ZarrOptions,
    ) -> Result<ZarrPyramid<T>, SinkError> {
        let store = store.as_ref().to_path_buf();
        let Some(first) = descs.first() else {
            return Err(SinkError::invalid(
                "pyramid levels",
                0,
                "expected at least one description",
            ));
        };
        let placements = descs
            .iter()
            .map(OmeAxisScale::of)
            .collect::<Result<Vec<_>, _>>()?;
        for (k, d) in descs.iter().enumerate() {
            if d.levels != first.levels || d.params != first.params {
                return Err(SinkError::invalid(
                    "pyramid level stack",
                    format!("dataset {k}"),
                    "expected every dataset to come from the same stack",
                ));
            }
            // Exact: the level axis is never averaged, so its scale and translation are the
            // integers step and start, as f64.
            #[allow(clippy::float_cmp)]
            let same_levels = d.shape()[0] == first.shape()[0]
                && placements[k].scale[0] == placements[0].scale[0]
                && placements[k].translation[0] == placements[0].translation[0];
            if !same_levels {
                return Err(SinkError::invalid(
                    "pyramid level axis",
                    format!("dataset {k}: {}", d.selection.select_text()),
                    format!(
                        "expected the same levels as dataset 0 ({})",
                        first.selection.select_text()
                    ),
                ));
            }
            if k > 0
                && (placements[k].scale[1] < placements[k - 1].scale[1]
                    || placements[k].scale[2] < placements[k - 1].scale[2])
            {
                return Err(SinkError::invalid(
                    "pyramid order",
                    format!("dataset {k}: {}", d.selection.select_text()),
                    "expected y/x scales that do not decrease from one dataset to the next",
                ));
            }
        }
        let comps = path_components(&options.array_path)?;
        let group_dir = comps.iter().fold(store.clone(), |p, c| p.join(c));
        let ome = ome_json(&placements);

        let found = super::check_free(&store, &group_dir, true)?;
        // An existing group is locked before anything in it changes; a new one once created.
        let mut lock = match found {
            Some(_) => lock_group(&group_dir, options.writers)?,
            None => None,
        };
        match found {
            Some(Node::Group(a)) => {
                let have = a.get("ome").cloned().unwrap_or(Value::Null);
                if have.is_null() {
                    return Err(SinkError::NotAZoomstackStore {
                        path: store.clone(),
                        reason: format!(
                            "{} is a Zarr group without OME metadata",
                            group_dir.display()
                        ),
                    });
                }
                if options.if_exists == IfExists::Fail {
                    return Err(SinkError::AlreadyExists { path: group_dir });
                }
                if have != ome && options.if_exists == IfExists::Resume {
                    return Err(SinkError::ParameterMismatch {
                        path: group_dir,
                        field: "ome.multiscales".to_string(),
                        existing: have.to_string(),
                        requested: ome.to_string(),
                    });
                }
                if have != ome {
                    // Replace: rewrite the group; datasets are replaced one by one below, and
                    // zoomstack datasets beyond the new count are removed.
                    super::write_group(&group_dir, &json!({"ome": ome}))?;
                    for k in descs.len().. {
                        let old = group_dir.join(k.to_string());
                        match super::read_node(&old)? {
                            Some(Node::ZoomstackArray(_)) => std::fs::remove_dir_all(&old)
                                .map_err(|e| SinkError::io("remove old dataset", &old, e))?,
                            _ => break,
                        }
                    }
                }
            }
            Some(Node::ZoomstackArray(_)) => {
                return Err(SinkError::NotAZoomstackStore {
                    path: store.clone(),
                    reason: format!(
                        "{} is a single zoomstack array, not an OME-Zarr pyramid",
                        group_dir.display()
                    ),
                });
            }
            Some(Node::Foreign(reason)) => {
                return Err(SinkError::NotAZoomstackStore {
                    path: store.clone(),
                    reason,
                });
            }
            None => {
                // Parents of the group must be free or groups.
                let mut p = store.clone();
                if !comps.is_empty() {
                    for c in std::iter::once(None).chain(comps[..comps.len() - 1].iter().map(Some))
                    {
                        if let Some(c) = c {
                            p = p.join(c);
                        }
                        match super::check_free(&store, &p, true)? {
                            None => super::write_group(&p, &json!({}))?,
                            Some(Node::Group(_)) => {}
                            Some(_) => {
                                return Err(SinkError::NotAZoomstackStore {
                                    path: store.clone(),
                                    reason: format!("{} is not a Zarr group", p.display()),
                                });
                            }
                        }
                    }
                }
                super::write_group(&group_dir, &json!({"ome": ome}))?;
            }
        }

        if lock.is_none() {
            lock = lock_group(&group_dir, options.writers)?;
        }
        let mut levels = Vec::with_capacity(descs.len());
        for (k, d) in descs.into_iter().enumerate() {
            let path = if comps.is_empty() {
                k.to_string()
            } else {
                format!("{}/{k}", comps.join("/"))
            };
            let opts = ZarrOptions {
                array_path: path,
                ..options.clone()
            };
            levels.push(ZarrSink::open_with(
                &store,
                d,
                &opts,
                super::open::Coordinates::None,
            )?);
        }
        Ok(ZarrPyramid {
            group_dir,
            levels,
            _lock: lock,
        })
    }

    /// The group directory.
    pub fn group_dir(&self) -> &Path {
        &self.group_dir
    }

    /// The sink of each resolution level (`"0"` is the first description).
    pub fn levels(&self) -> &[ZarrSink<T>] {
        &self.levels
    }

    /// The sinks of the levels, by value (to hand each to a renderer).
    pub fn into_levels(self) -> Vec<ZarrSink<T>> {
        self.levels
    }

    /// Finish every level; the pyramid is complete when every report is.
    ///
    /// # Errors
    ///
    /// The first error of [`ZarrSink::finish`].
    pub fn finish(self) -> Result<Vec<ZarrReport>, SinkError> {
        self.levels.into_iter().map(ZarrSink::finish).collect()
    }
}
