//! Zarr stores for the Python package, written through `zoomstack_sinks::ZarrSink`: the same
//! layout, attributes, completion markers and resume checks as the CLI (docs/contracts.md), so
//! there is one implementation of the store contract.
//!
//! A store is written in three steps, which may run in different processes:
//!
//! 1. [`init_store`] (the driver): creates the array or checks that an existing one has the same
//!    parameters (the sink's resume check), and lists the write units without a marker;
//! 2. [`write_units`] (Dask tasks, any number at once, each with its own units): joins the
//!    existing store, renders each unit through the engine (the plan the CLI renders, cut to
//!    the unit), writes it and its marker, and never rewrites the store's metadata;
//! 3. [`finish_store`] (the driver): sets `complete: true` once every unit has its marker.
//!
//! Every step is given the same [`StoreSpec`] (a dict on the Python side), like the processes
//! of a CLI job array, which all run the same spec file.

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use serde_json::Value;
use zoomstack_engine::{
    ExecError, Executor, LazyArray, RenderPlan, SliceSpec, StoreLayout, TileSpec,
};
use zoomstack_kernel::Backend;
use zoomstack_sinks::{
    ArrayDescription, Compression, IfExists, SinkError, Writers, ZarrOptions, ZarrSink,
    store_status,
};

use crate::errors::{
    InvalidParameterError, InvalidSelectionError, StoreMismatchError, engine_err, exec_err,
    sink_err,
};
use crate::{Real, backend_from, zoom_stack};

/// What a store holds, as the Python package passes it (a dict with exactly these keys).
#[derive(Debug, Clone, FromPyObject)]
#[pyo3(from_item_all)]
pub(crate) struct StoreSpec {
    /// The store directory.
    store: PathBuf,
    /// The array's path inside the store (`""`: the store root).
    path: String,
    levels: i64,
    height: i64,
    width: i64,
    center: (Real, Real),
    scale0: Real,
    zoom_per_level: Real,
    max_iter: i64,
    /// `"numpy"` or `"exact"`.
    arithmetic: String,
    /// Exact arithmetic's BLA method.
    bla: bool,
    /// Per axis (level, y, x), `range(start, stop, step)` of stack indices.
    select: [(i64, i64, i64); 3],
    /// Chunk shape (clamped to the selection's shape here).
    chunks: [usize; 3],
    /// Shard shape, or `None` for no sharding.
    shards: Option<[usize; 3]>,
    /// `"zstd"` or `"none"`.
    compression: String,
    /// The zstd level.
    compression_level: i32,
}

/// A checked [`StoreSpec`]: the engine's plan of the selection and the sink's description.
struct Layout {
    store: PathBuf,
    path: String,
    /// The selection, tiled by chunks.
    array: LazyArray,
    /// The selection, tiled by write units: its tiles are the store's units.
    units: RenderPlan,
    desc: ArrayDescription,
    compression: Compression,
}

impl StoreSpec {
    fn layout(&self) -> PyResult<Layout> {
        let levels = u64::try_from(self.levels)
            .ok()
            .filter(|&n| n >= 1)
            .ok_or_else(|| {
                InvalidParameterError::new_err(format!(
                    "levels must be at least 1, got {}",
                    self.levels
                ))
            })?;
        let stack = zoom_stack(
            levels,
            self.height,
            self.width,
            &self.center,
            &self.scale0,
            &self.zoom_per_level,
            self.max_iter,
            &self.arithmetic,
            self.bla,
        )?;
        let select = self.select.map(|(a, b, s)| SliceSpec::range(a, b, s));
        let array = stack
            .array()
            .select_slices(select)
            .and_then(|a| a.rechunk(self.chunks))
            .map_err(engine_err)?;
        let plan = array.optimize().map_err(engine_err)?;
        // The engine's layout rule, as for the CLI's stores (a shard covering a whole axis is
        // that axis rounded up to whole chunks).
        let store_layout =
            StoreLayout::new(plan.shape(), plan.chunks(), self.shards).map_err(engine_err)?;
        let units = plan.for_store(&store_layout);
        let compression = match self.compression.as_str() {
            "zstd" => Compression::Zstd {
                level: self.compression_level,
            },
            "none" => Compression::None,
            other => {
                return Err(InvalidParameterError::new_err(format!(
                    "unknown compression {other:?}: expected \"zstd\" or \"none\""
                )));
            }
        };
        Ok(Layout {
            store: self.store.clone(),
            path: self.path.clone(),
            array,
            units,
            desc: ArrayDescription::of_plan(&plan, store_layout),
            compression,
        })
    }
}

impl Layout {
    /// The driver (`init_store`, `finish_store`) is the store's sole writer while it runs; the
    /// Dask tasks (`write_units`) are shared writers of disjoint units.
    fn options(&self, if_exists: IfExists, writers: Writers) -> ZarrOptions {
        ZarrOptions {
            array_path: self.path.clone(),
            compression: self.compression,
            if_exists,
            writers,
            verify: false,
        }
    }

    fn open(&self, if_exists: IfExists, writers: Writers) -> Result<ZarrSink, SinkError> {
        ZarrSink::open(
            &self.store,
            self.desc.clone(),
            self.options(if_exists, writers),
        )
    }

    /// Renders write unit `t` (a tile of [`Layout::units`]) and writes it, unless it has a
    /// marker. The unit is rendered as the engine renders the whole selection: the plan of the
    /// selection, selected down to the unit (the optimizer folds the selects, and the kernel
    /// computes coordinates from global indices, so the pixels are those of the full plan).
    fn write_unit(
        &self,
        exec: &Executor,
        sink: &ZarrSink,
        t: &TileSpec,
    ) -> Result<(), ExecError<SinkError>> {
        if !sink.needs_tile(t.origin, t.shape) {
            return Ok(());
        }
        let range = |k: usize| {
            let start = i64::try_from(t.origin[k]).unwrap_or(i64::MAX);
            SliceSpec::range(start, start.saturating_add(t.shape[k] as i64), 1)
        };
        let plan = self
            .array
            .select_slices([range(0), range(1), range(2)])?
            .rechunk(t.shape)?
            .optimize()?;
        exec.for_each_tile(
            &plan,
            |_| true,
            |tile| {
                let origin = [0, 1, 2].map(|k| t.origin[k] + tile.spec.origin[k]);
                sink.write_tile(origin, tile.spec.shape, &tile.data)
            },
        )?;
        Ok(())
    }
}

fn if_exists_from(name: &str) -> PyResult<IfExists> {
    name.parse().map_err(InvalidParameterError::new_err)
}

/// A `serde_json` value as the equal Python object (dicts, lists, str, int, float, bool, None).
fn json_to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => u.into_pyobject(py)?.into_any(),
            (None, Some(i)) => i.into_pyobject(py)?.into_any(),
            _ => n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any(),
        },
        Value::String(s) => s.into_pyobject(py)?.into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(json_to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, item) in map {
                dict.set_item(k, json_to_py(py, item)?)?;
            }
            dict.into_any()
        }
    })
}

fn index_of(t: &TileSpec) -> (u64, u64, u64) {
    (t.index[0], t.index[1], t.index[2])
}

/// Creates the store of `spec`, or checks an existing one (the driver's step, before any unit
/// is written), and returns its unit grid and the units still to write.
///
/// `if_exists`: `"resume"` (an existing store must have the same parameters, else
/// `StoreMismatchError` naming the first differing field), `"fail"` or `"replace"` (delete an
/// existing zoomstack array and start afresh; anything else at the path is never touched).
/// A resumed store that says `complete` although markers are missing is marked incomplete.
///
/// Returns a dict: `array_dir` (str), `shape`, `write_unit` and `grid` (tuples of 3 ints),
/// `units_total` (int) and `missing` (list of `(i, j, k)` unit indices without a marker, in C
/// order).
#[pyfunction]
#[pyo3(signature = (spec, *, if_exists = "resume"))]
// pyo3 extracts the arguments of a `#[pyfunction]` as owned values.
#[allow(clippy::needless_pass_by_value)]
pub(crate) fn init_store<'py>(
    py: Python<'py>,
    spec: StoreSpec,
    if_exists: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let layout = spec.layout()?;
    let if_exists = if_exists_from(if_exists)?;
    let (array_dir, missing) = py
        .detach(|| -> Result<_, SinkError> {
            let sink = layout.open(if_exists, Writers::Sole)?;
            let missing: Vec<(u64, u64, u64)> = layout
                .units
                .tiles()
                .filter(|t| sink.needs_tile(t.origin, t.shape))
                .map(|t| index_of(&t))
                .collect();
            let dir = sink.array_dir().to_path_buf();
            sink.close()?;
            Ok((dir, missing))
        })
        .map_err(sink_err)?;
    let d = PyDict::new(py);
    d.set_item("array_dir", array_dir)?;
    let s = layout.units.shape();
    d.set_item("shape", (s[0], s[1], s[2]))?;
    let u = layout.units.chunks();
    d.set_item("write_unit", (u[0], u[1], u[2]))?;
    let g = layout.units.chunk_grid();
    d.set_item("grid", (g[0], g[1], g[2]))?;
    d.set_item("units_total", layout.units.num_tiles())?;
    d.set_item("missing", missing)?;
    Ok(d)
}

/// Writes write units `units` (`(i, j, k)` indices in the unit grid) of the existing store of
/// `spec` (a Dask task's step; any number of tasks may run at once on disjoint units, in any
/// processes that see the store's file system). Each unit without a marker is rendered with the
/// kernel exactly as the CLI renders it, encoded, stored as one object (its shard, or its chunk
/// when unsharded) and then marked; units with a marker are skipped. The store's metadata
/// (`zarr.json`) is never rewritten here. The GIL is released while rendering and writing.
///
/// Returns the number of units this call wrote (and marked). Raises `StoreMismatchError` when
/// the store is missing, has other parameters, or says `complete` while markers are missing
/// (run `init_store` on it first), `InvalidSelectionError` for a unit outside the grid,
/// `OSError` for file-system failures.
#[pyfunction]
#[pyo3(signature = (spec, units, *, backend = None))]
// pyo3 extracts the arguments of a `#[pyfunction]` as owned values.
#[allow(clippy::needless_pass_by_value)]
pub(crate) fn write_units(
    py: Python<'_>,
    spec: StoreSpec,
    units: Vec<(u64, u64, u64)>,
    backend: Option<&str>,
) -> PyResult<u64> {
    let layout = spec.layout()?;
    let backend: Backend = backend_from(backend)?;
    let grid = layout.units.chunk_grid();
    let tiles = units
        .iter()
        .map(|&(i, j, k)| {
            layout.units.tile_at([i, j, k]).ok_or_else(|| {
                InvalidSelectionError::new_err(format!(
                    "write unit ({i}, {j}, {k}) is outside the store's unit grid {grid:?}"
                ))
            })
        })
        .collect::<PyResult<Vec<TileSpec>>>()?;
    if tiles.is_empty() {
        return Ok(0);
    }
    // Join the store without touching its metadata: it must exist (a worker must not create a
    // store of its own, e.g. on a file system the driver does not see), and opening it must not
    // have to reset a stale `complete` flag (the sink would rewrite zarr.json).
    let status = py.detach(|| store_status(&layout.store, &layout.path));
    let status = status.map_err(|e| match e {
        SinkError::NotAZoomstackStore { .. } => StoreMismatchError::new_err(format!(
            "{e}; create the store first (init_store / to_zarr), on a file system every worker sees"
        )),
        other => sink_err(other),
    })?;
    if status.complete && status.units_done < status.units_total {
        return Err(StoreMismatchError::new_err(format!(
            "{} says complete, but {} of its {} write units have no marker: open it with \
             init_store (to_zarr) first, which marks it incomplete",
            layout.store.display(),
            status.units_total - status.units_done,
            status.units_total
        )));
    }
    let sink = py
        .detach(|| layout.open(IfExists::Resume, Writers::Shared))
        .map_err(sink_err)?;
    let exec = Executor::new(1).with_backend(backend);
    for t in &tiles {
        let result = py.detach(|| layout.write_unit(&exec, &sink, t));
        let result = result.map_err(exec_err).and_then(|()| py.check_signals());
        if let Err(e) = result {
            // Units already stored still get their markers (the sink's Drop syncs them).
            py.detach(move || drop(sink));
            return Err(e);
        }
    }
    let progress = py.detach(move || sink.close()).map_err(sink_err)?;
    Ok(progress.units_written)
}

/// Finishes the store of `spec` (the driver's step, after every `write_units` call returned):
/// if every unit has its marker (whoever wrote it), sets `complete: true` durably. A store that
/// already says complete, with every marker, is left as it is.
///
/// Returns a dict: `array_dir`, `units_total`, `units_done` (units with a marker) and
/// `complete` (bool). Raises `StoreMismatchError` for a missing store or other parameters.
#[pyfunction]
// pyo3 extracts the arguments of a `#[pyfunction]` as owned values.
#[allow(clippy::needless_pass_by_value)]
pub(crate) fn finish_store(py: Python<'_>, spec: StoreSpec) -> PyResult<Bound<'_, PyDict>> {
    let layout = spec.layout()?;
    let report = py
        .detach(|| -> Result<_, SinkError> {
            // Refuse to create a store here: the driver created it with init_store.
            store_status(&layout.store, &layout.path)?;
            let sink = layout.open(IfExists::Resume, Writers::Sole)?;
            let status = store_status(&layout.store, &layout.path)?;
            if status.complete && status.units_done == status.units_total {
                let dir = sink.array_dir().to_path_buf();
                sink.close()?;
                return Ok((dir, status.units_total, status.units_done, true));
            }
            let r = sink.finish()?;
            Ok((r.array_dir, r.units_total, r.units_done, r.complete))
        })
        .map_err(sink_err)?;
    let d = PyDict::new(py);
    d.set_item("array_dir", report.0)?;
    d.set_item("units_total", report.1)?;
    d.set_item("units_done", report.2)?;
    d.set_item("complete", report.3)?;
    Ok(d)
}

/// The state of the zoomstack array at `store`/`path`, read-only: a dict with `attributes`
/// (the `zoomstack` attribute object), `array_path` (where the array is: `"counts"` for a
/// store's own array), `shape`, `write_unit` (lists), `units_total`,
/// `units_done` (units with a marker) and `complete` (the attribute's flag).
#[pyfunction]
#[pyo3(signature = (store, path = ""))]
// pyo3 extracts the arguments of a `#[pyfunction]` as owned values.
#[allow(clippy::needless_pass_by_value)]
pub(crate) fn store_info<'py>(
    py: Python<'py>,
    store: PathBuf,
    path: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let st = py.detach(|| store_status(&store, path)).map_err(sink_err)?;
    let d = PyDict::new(py);
    d.set_item("attributes", json_to_py(py, &st.attributes)?)?;
    d.set_item("array_path", &st.array_path)?;
    d.set_item("shape", st.shape)?;
    d.set_item("write_unit", st.write_unit)?;
    d.set_item("units_total", st.units_total)?;
    d.set_item("units_done", st.units_done)?;
    d.set_item("units_damaged", st.units_damaged)?;
    d.set_item("complete", st.complete)?;
    Ok(d)
}

/// Re-reads every write unit of the store (of each level of an OME-Zarr pyramid) as
/// `zoomstack verify` does, on `threads` threads (0: one per core); read-only. Returns one dict
/// per array: `array_dir`, `units_total`, `units_intact`, `missing` (list of `(i, j, k)`),
/// `damaged` (list of `((i, j, k), reason)`), `units_checksummed`, `raw_bytes`,
/// `stored_bytes`, `seconds`, `intact` (bool).
#[pyfunction]
#[pyo3(signature = (store, path = "", *, threads = 0))]
// pyo3 extracts the arguments of a `#[pyfunction]` as owned values.
#[allow(clippy::needless_pass_by_value)]
pub(crate) fn verify_store<'py>(
    py: Python<'py>,
    store: PathBuf,
    path: &str,
    threads: usize,
) -> PyResult<Vec<Bound<'py, PyDict>>> {
    let reports = py
        .detach(|| zoomstack_sinks::verify_store(&store, path, threads))
        .map_err(sink_err)?;
    let triple = |u: [u64; 3]| (u[0], u[1], u[2]);
    reports
        .iter()
        .map(|r| {
            let d = PyDict::new(py);
            d.set_item("array_dir", &r.array_dir)?;
            d.set_item("units_total", r.units_total)?;
            d.set_item("units_intact", r.units_intact)?;
            d.set_item(
                "missing",
                r.missing.iter().map(|&u| triple(u)).collect::<Vec<_>>(),
            )?;
            let damaged: Vec<_> = r
                .damaged
                .iter()
                .map(|x| (triple(x.unit), x.reason.clone()))
                .collect();
            d.set_item("damaged", damaged)?;
            d.set_item("units_checksummed", r.units_checksummed)?;
            d.set_item("raw_bytes", r.raw_bytes)?;
            d.set_item("stored_bytes", r.stored_bytes)?;
            d.set_item("seconds", r.seconds)?;
            d.set_item("intact", r.is_intact())?;
            Ok(d)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use super::*;

    /// The CLI's run path: `spec` as a spec file run by `Pipeline` (what `zoomstack run` does).
    fn cli_write(spec: &StoreSpec, store: &Path) -> bool {
        let sel = spec.select.map(|(a, b, c)| format!("{a}:{b}:{c}"));
        let shards = spec
            .shards
            .map(|s| format!("shards = [{}, {}, {}]\n", s[0], s[1], s[2]))
            .unwrap_or_default();
        let text = format!(
            "[stack]\nlevels = {}\nheight = {}\nwidth = {}\ncenter = [{}, {}]\nscale0 = {}\n\
             zoom_per_level = {}\nmax_iter = {}\narithmetic = {:?}\nbla = {}\n[[sink]]\nkind = \"zarr\"\npath = {:?}\n\
             array = {:?}\nselect = \"[{}]\"\nchunks = [{}, {}, {}]\n{shards}\
             compression_level = {}\nif_exists = \"replace\"\n",
            spec.levels,
            spec.height,
            spec.width,
            spec.center.0.toml(),
            spec.center.1.toml(),
            spec.scale0.toml(),
            spec.zoom_per_level.toml(),
            spec.max_iter,
            spec.arithmetic,
            spec.bla,
            store.display().to_string(),
            spec.path,
            sel.join(", "),
            spec.chunks[0],
            spec.chunks[1],
            spec.chunks[2],
            spec.compression_level,
        );
        let spec = zoomstack_pipeline::spec::parse_str("cli.toml", &text).unwrap();
        let opts = zoomstack_pipeline::RunOptions {
            threads: 2,
            backend: Backend::Scalar,
            ..zoomstack_pipeline::RunOptions::default()
        };
        let silent: std::sync::Arc<dyn zoomstack_pipeline::Observer> =
            std::sync::Arc::new(zoomstack_pipeline::Silent);
        let report = zoomstack_pipeline::Pipeline::new(spec)
            .unwrap()
            .run(&opts, &silent)
            .unwrap();
        report.sinks[0].zarr.iter().all(|r| r.complete)
    }

    fn spec(store: &Path, shards: Option<[usize; 3]>) -> StoreSpec {
        StoreSpec {
            store: store.to_path_buf(),
            path: "a/b".to_string(),
            levels: 40,
            height: 24,
            width: 20,
            center: (
                Real::Float(-0.743645857047151),
                Real::Float(0.13182592380533),
            ),
            scale0: Real::Float(3.0),
            zoom_per_level: Real::Float(1.00025f64.powi(1000)),
            max_iter: 300,
            arithmetic: "numpy".to_string(),
            bla: false,
            select: [(1, 40, 5), (0, 24, 3), (2, 20, 1)],
            chunks: [1, 4, 8],
            shards,
            compression: "zstd".to_string(),
            compression_level: 3,
        }
    }

    /// Every file under `dir`, by relative path.
    fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
        fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(root, &p, out);
                } else {
                    let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                    out.insert(rel, std::fs::read(&p).unwrap());
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(dir, dir, &mut out);
        out
    }

    /// Units written one at a time, in any order, by separate sinks (as Dask tasks write them)
    /// give the store the CLI's run path (a spec run by `Pipeline`) gives, file for file.
    #[test]
    fn units_written_one_by_one_equal_the_cli_store() {
        let dir = tempfile::tempdir().unwrap();
        for shards in [None, Some([2, 8, 16])] {
            let (py_store, cli_store) = (dir.path().join("py.zarr"), dir.path().join("cli.zarr"));
            let layout = spec(&py_store, shards).layout().unwrap();
            assert_eq!(
                layout.desc.selection.select_text(),
                "[1:41:5, 0:24:3, 2:20:1]"
            );
            layout
                .open(IfExists::Replace, Writers::Sole)
                .unwrap()
                .close()
                .unwrap();
            let exec = Executor::new(1).with_backend(Backend::Scalar);
            let units: Vec<TileSpec> = layout.units.tiles().collect();
            assert!(units.len() > 4);
            for t in units.iter().rev() {
                let sink = layout.open(IfExists::Resume, Writers::Shared).unwrap();
                layout.write_unit(&exec, &sink, t).unwrap();
                assert_eq!(sink.close().unwrap().units_written, 1);
            }
            let sink = layout.open(IfExists::Resume, Writers::Shared).unwrap();
            layout.write_unit(&exec, &sink, &units[0]).unwrap();
            assert_eq!(
                sink.close().unwrap().units_written,
                0,
                "a marked unit was rewritten"
            );
            assert!(
                layout
                    .open(IfExists::Resume, Writers::Shared)
                    .unwrap()
                    .finish()
                    .unwrap()
                    .complete
            );

            assert!(cli_write(&spec(&py_store, shards), &cli_store));
            let (a, b) = (files(&py_store), files(&cli_store));
            assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
            for (k, v) in &a {
                if b.get(k) != Some(v) {
                    eprintln!(
                        "{k}:\n{}\n{}",
                        String::from_utf8_lossy(v),
                        String::from_utf8_lossy(&b[k])
                    );
                }
            }
            assert!(a == b, "the stores differ (shards {shards:?})");
        }
    }
}
