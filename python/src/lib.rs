//! # zoomstack-python (`zoomstack._zoomstack`)
//!
//! The Python extension module of zoomstack: renders strided blocks of the zoom stack with the
//! exact Rust kernel ([`zoomstack_kernel::render_block`]) into numpy `uint16` arrays, with the
//! GIL released while rendering, and writes Zarr stores through the sinks crate's `ZarrSink`
//! (the `store` module: `init_store`, `write_units`, `finish_store`, `store_info`,
//! `verify_store`), so the CLI
//! and the Python package share one implementation of the store contract (layout, attributes,
//! markers, resume). The Python package `zoomstack` (in `python/zoomstack/`) builds its Dask
//! arrays on top of [`render_block`] and its Zarr writer's Dask graph on top of `write_units`.
//!
//! A block is three Python-style ranges `(start, stop, step)` (levels, rows, columns) over the
//! full stack; steps may be negative, exactly like `range`. Every pixel is bit-identical to the
//! same pixel of the full level (the kernel computes coordinates from global indices).
//!
//! Building: `maturin develop --release` in `python/` (see `python/run_tests.sh`).

// pyo3's `#[pymodule]`/`#[pyfunction]` and `create_exception!` expand to `unsafe` FFI glue
// (type objects, argument parsing). The workspace denies `unsafe_code`; this crate allows it
// for the macro expansions only: no hand-written `unsafe` block exists in this crate.
#![allow(unsafe_code)]

mod errors;
mod store;

use numpy::ndarray::Array3;
use numpy::{IntoPyArray, PyArray3};
use pyo3::exceptions::PyMemoryError;
use pyo3::prelude::*;
use zoomstack_engine::ZoomStack;
use zoomstack_kernel::exact::{ExactReal, ExactStack};
use zoomstack_kernel::{Backend, IndexRange, StackParams};

use crate::errors::{
    IncompleteStoreError, InvalidParameterError, InvalidSelectionError, StoreMismatchError,
    UnknownBackendError, ZoomstackError, engine_err, kernel_err,
};

/// A real parameter from Python: a float (its exact binary value) or a decimal string (taken
/// exactly as written in the exact contract; rounded to the nearest f64 in the numpy one).
#[derive(Debug, Clone, FromPyObject)]
pub(crate) enum Real {
    Float(f64),
    Text(String),
}

impl Real {
    fn exact(&self, what: &'static str) -> PyResult<ExactReal> {
        match self {
            Real::Float(x) => ExactReal::from_f64(*x).map_err(|_| {
                InvalidParameterError::new_err(format!("{what} must be a finite number, got {x}"))
            }),
            Real::Text(t) => {
                ExactReal::parse(what, t).map_err(|e| InvalidParameterError::new_err(e.to_string()))
            }
        }
    }

    /// As Python spells it, for the CLI spec text the tests compare with.
    #[cfg(test)]
    pub(crate) fn toml(&self) -> String {
        match self {
            Real::Float(x) => format!("{x:?}"),
            Real::Text(t) => format!("{t:?}"),
        }
    }
}

/// Python-side stack parameters -> a validated [`ZoomStack`] under `arithmetic`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn zoom_stack(
    levels: u64,
    height: i64,
    width: i64,
    center: &(Real, Real),
    scale0: &Real,
    zoom_per_level: &Real,
    max_iter: i64,
    arithmetic: &str,
    bla: bool,
) -> PyResult<ZoomStack> {
    let size = |what: &str, v: i64| -> PyResult<usize> {
        usize::try_from(v).ok().filter(|&n| n >= 1).ok_or_else(|| {
            InvalidParameterError::new_err(format!("{what} must be at least 1 pixel, got {v}"))
        })
    };
    let max_iter = u32::try_from(max_iter)
        .ok()
        .filter(|m| (1..=zoomstack_kernel::MAX_ITER_LIMIT).contains(m))
        .ok_or_else(|| {
            InvalidParameterError::new_err(format!(
                "max_iter must be in 1..={} (counts are u16), got {max_iter}",
                zoomstack_kernel::MAX_ITER_LIMIT
            ))
        })?;
    let exact = ExactStack {
        height: size("height", height)?,
        width: size("width", width)?,
        center_re: center.0.exact("center_re")?,
        center_im: center.1.exact("center_im")?,
        scale0: scale0.exact("scale0")?,
        zoom_per_level: zoom_per_level.exact("zoom_per_level")?,
        max_iter,
        bla,
    };
    let stack = match arithmetic {
        "exact" => ZoomStack::exact(levels, exact).map_err(engine_err)?,
        "numpy" if bla => {
            return Err(InvalidParameterError::new_err(
                "bla=True needs arithmetic=\"exact\" (BLA skips updates of the exact mode's \
                 delta loop; the numpy contract iterates every pixel as the notebook does)",
            ));
        }
        "numpy" => {
            let p = StackParams {
                height: exact.height,
                width: exact.width,
                center_re: exact.center_re.to_f64(),
                center_im: exact.center_im.to_f64(),
                scale0: exact.scale0.to_f64(),
                zoom_per_level: exact.zoom_per_level.to_f64(),
                max_iter,
            };
            p.validate().map_err(kernel_err)?;
            ZoomStack::new(levels, p).map_err(engine_err)?
        }
        other => {
            return Err(InvalidParameterError::new_err(format!(
                "arithmetic must be \"numpy\" (the notebook's f64 counts, bit for bit) or \
                 \"exact\" (the true counts), got {other:?}"
            )));
        }
    };
    Ok(stack)
}

/// The indices of Python's `range(start, stop, step)` on one axis, as the kernel's
/// [`IndexRange`], each checked against `0..len` (`len = None`: no upper bound, for levels).
fn python_range(
    axis: &str,
    (start, stop, step): (i64, i64, i64),
    len: Option<usize>,
) -> PyResult<IndexRange> {
    let desc = || format!("{axis} range(start={start}, stop={stop}, step={step})");
    if step == 0 {
        return Err(InvalidSelectionError::new_err(format!(
            "{}: step must be non-zero, got 0",
            desc()
        )));
    }
    // len(range(start, stop, step)), in i128 so that no input overflows.
    let (s, e, d) = (i128::from(start), i128::from(stop), i128::from(step));
    let count = if d > 0 {
        if e > s { (e - s + d - 1) / d } else { 0 }
    } else if s > e {
        (s - e + (-d) - 1) / (-d)
    } else {
        0
    };
    if count == 0 {
        return Ok(IndexRange::EMPTY);
    }
    let last = s + (count - 1) * d;
    let (lo, hi) = (s.min(last), s.max(last));
    if lo < 0 {
        return Err(InvalidSelectionError::new_err(format!(
            "{}: reaches index {lo}, but indices must be >= 0",
            desc()
        )));
    }
    if let Some(len) = len
        && hi >= len as i128
    {
        return Err(InvalidSelectionError::new_err(format!(
            "{}: reaches index {hi}, but the axis has {len} pixels (indices 0..{len})",
            desc()
        )));
    }
    let count = u64::try_from(count)
        .ok()
        .filter(|&n| usize::try_from(n).is_ok())
        .ok_or_else(|| {
            InvalidSelectionError::new_err(format!("{}: too many indices ({count})", desc()))
        })?;
    // start >= 0 here (lo >= 0 and start is one of the ends).
    Ok(IndexRange::new(start as u64, step, count))
}

pub(crate) fn backend_from(name: Option<&str>) -> PyResult<Backend> {
    match name {
        Some(n) => n.parse().map_err(kernel_err),
        None => Backend::from_env().map_err(kernel_err),
    }
}

/// Renders a strided block of the zoom stack into a new numpy `uint16` array of shape
/// `(levels, rows, cols)`.
///
/// `levels`, `rows` and `cols` are `(start, stop, step)` with the meaning of Python's
/// `range(start, stop, step)` over the full stack (steps may be negative). Each pixel equals the
/// same pixel of the full level, bit for bit (the notebook's `mandelbrot_array` on a machine
/// with FMA). The GIL is released while rendering; the result is allocated once (a Rust `Vec`
/// handed to numpy without copying). `backend`: `"auto"`, `"scalar"`, `"f64x4"`, `"f64x8"`;
/// `None` reads `ZOOMSTACK_KERNEL` (default: the fastest for this build). `arithmetic`:
/// `"numpy"` (the notebook's counts) or `"exact"` (the true counts; `center`, `scale0` and
/// `zoom_per_level` may then be decimal strings, taken exactly). `bla`: exact arithmetic only,
/// skip runs of updates with bivariate linear approximation (deep locations).
///
/// Raises `InvalidParameterError` / `InvalidSelectionError` / `UnknownBackendError` (all
/// `ZoomstackError`, a `ValueError`) with a message naming the bad value, `MemoryError` when
/// the block cannot be allocated, `KeyboardInterrupt` between levels on Ctrl-C.
#[pyfunction]
#[pyo3(signature = (
    levels, rows, cols, *, height = 512, width = 512,
    center = (Real::Float(-0.743645857047151), Real::Float(0.13182592380533)),
    scale0 = Real::Float(3.0), zoom_per_level = Real::Float(1.00025),
    max_iter = 256, backend = None, arithmetic = "numpy", bla = false
))]
#[allow(clippy::too_many_arguments, clippy::needless_pass_by_value)] // pyo3 extracts by value
fn render_block<'py>(
    py: Python<'py>,
    levels: (i64, i64, i64),
    rows: (i64, i64, i64),
    cols: (i64, i64, i64),
    height: i64,
    width: i64,
    center: (Real, Real),
    scale0: Real,
    zoom_per_level: Real,
    max_iter: i64,
    backend: Option<&str>,
    arithmetic: &str,
    bla: bool,
) -> PyResult<Bound<'py, PyArray3<u16>>> {
    let lv = python_range("levels", levels, None)?;
    // The stack needs a level count: the deepest level asked for.
    let deepest = (0..lv.count).map(|k| lv.at(k)).max().unwrap_or(0);
    let stack = zoom_stack(
        deepest + 1,
        height,
        width,
        &center,
        &scale0,
        &zoom_per_level,
        max_iter,
        arithmetic,
        bla,
    )?;
    let p = stack.params;
    let backend = backend_from(backend)?;
    let rs = python_range("rows", rows, Some(p.height))?;
    let cs = python_range("cols", cols, Some(p.width))?;
    // Counts fit usize (checked by python_range).
    let (nl, nr, nc) = (lv.count as usize, rs.count as usize, cs.count as usize);
    let frame = nr * nc;
    let total = nl
        .checked_mul(frame)
        .filter(|&n| n <= isize::MAX as usize / 2)
        .ok_or_else(|| {
            PyMemoryError::new_err(format!("a block of {nl} x {nr} x {nc} counts is too large"))
        })?;
    let mut data: Vec<u16> = Vec::new();
    data.try_reserve_exact(total).map_err(|_| {
        PyMemoryError::new_err(format!(
            "cannot allocate a block of {nl} x {nr} x {nc} uint16 counts ({} bytes)",
            total * 2
        ))
    })?;
    data.resize(total, 0);
    if frame > 0 {
        for (k, out) in data.chunks_exact_mut(frame).enumerate() {
            let level = lv.at(k as u64);
            // The kernel takes negative steps: rows and columns come out in the ranges' order.
            py.detach(|| stack.render_block(level, rs, cs, backend, out))
                .map_err(kernel_err)?;
            py.check_signals()?;
        }
    }
    let arr = Array3::from_shape_vec((nl, nr, nc), data)
        .map_err(|e| ZoomstackError::new_err(format!("internal shape error: {e}")))?;
    Ok(arr.into_pyarray(py))
}

/// Checks stack parameters, raising `InvalidParameterError` naming the bad value; also checks
/// that the deepest level `levels - 1` still has a positive, finite scale.
#[pyfunction]
#[pyo3(signature = (
    *, levels = 120000, height = 512, width = 512,
    center = (Real::Float(-0.743645857047151), Real::Float(0.13182592380533)),
    scale0 = Real::Float(3.0), zoom_per_level = Real::Float(1.00025),
    max_iter = 256, arithmetic = "numpy", bla = false
))]
#[allow(clippy::too_many_arguments, clippy::needless_pass_by_value)] // pyo3 extracts by value
fn validate_params(
    levels: i64,
    height: i64,
    width: i64,
    center: (Real, Real),
    scale0: Real,
    zoom_per_level: Real,
    max_iter: i64,
    arithmetic: &str,
    bla: bool,
) -> PyResult<()> {
    let levels = u64::try_from(levels)
        .ok()
        .filter(|&n| n >= 1)
        .ok_or_else(|| {
            InvalidParameterError::new_err(format!("levels must be at least 1, got {levels}"))
        })?;
    let stack = zoom_stack(
        levels,
        height,
        width,
        &center,
        &scale0,
        &zoom_per_level,
        max_iter,
        arithmetic,
        bla,
    )?;
    stack.check_level(levels - 1).map_err(|e| {
        InvalidParameterError::new_err(format!("the deepest level {}: {e}", levels - 1))
    })?;
    Ok(())
}

/// What a kernel backend runs as (instruction set chosen at run time), e.g.
/// `"f64x8 on AVX-512F (1 x 512-bit), fused FMA"`. `None` reads `ZOOMSTACK_KERNEL`.
#[pyfunction]
#[pyo3(signature = (backend = None))]
fn backend_description(backend: Option<&str>) -> PyResult<String> {
    let b = backend_from(backend)?;
    Ok(format!("{}: {}", b.name(), b.describe()))
}

/// The extension module `zoomstack._zoomstack`.
#[pymodule]
fn _zoomstack(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_function(wrap_pyfunction!(render_block, m)?)?;
    m.add_function(wrap_pyfunction!(validate_params, m)?)?;
    m.add_function(wrap_pyfunction!(backend_description, m)?)?;
    m.add_function(wrap_pyfunction!(store::init_store, m)?)?;
    m.add_function(wrap_pyfunction!(store::write_units, m)?)?;
    m.add_function(wrap_pyfunction!(store::finish_store, m)?)?;
    m.add_function(wrap_pyfunction!(store::store_info, m)?)?;
    m.add_function(wrap_pyfunction!(store::verify_store, m)?)?;
    m.add("ZoomstackError", py.get_type::<ZoomstackError>())?;
    m.add(
        "InvalidParameterError",
        py.get_type::<InvalidParameterError>(),
    )?;
    m.add(
        "InvalidSelectionError",
        py.get_type::<InvalidSelectionError>(),
    )?;
    m.add("UnknownBackendError", py.get_type::<UnknownBackendError>())?;
    m.add("StoreMismatchError", py.get_type::<StoreMismatchError>())?;
    m.add(
        "IncompleteStoreError",
        py.get_type::<IncompleteStoreError>(),
    )?;
    m.add("MARKER_DIR", zoomstack_sinks::MARKER_DIR)?;
    m.add("CONTRACT_VERSION", zoomstack_kernel::CONTRACT_VERSION)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("FUSED_FMA", zoomstack_kernel::fused_fma())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(start: i64, stop: i64, step: i64) -> (i64, i64, i64) {
        (start, stop, step)
    }

    #[test]
    fn range_counts_match_python() {
        let cases = [
            (r(0, 10, 1), 10),
            (r(0, 10, 3), 4),
            (r(9, -1, -1), 10),
            (r(9, -1, -4), 3),
            (r(5, 5, 1), 0),
            (r(5, 2, 1), 0),
            (r(2, 5, -1), 0),
        ];
        for (t, n) in cases {
            assert_eq!(python_range("rows", t, Some(10)).unwrap().count, n, "{t:?}");
        }
        assert_eq!(
            python_range("rows", r(9, -1, -4), Some(10))
                .unwrap()
                .to_vec(),
            [9, 5, 1]
        );
        assert!(python_range("rows", r(0, 11, 1), Some(10)).is_err());
        assert!(python_range("rows", r(3, -2, -1), Some(10)).is_err());
        assert!(python_range("rows", r(0, 3, 0), Some(10)).is_err());
    }

    #[test]
    fn negative_steps_reverse_rows_and_cols() {
        let p = StackParams {
            height: 6,
            width: 5,
            ..StackParams::default()
        };
        let fwd = (
            python_range("rows", r(0, 6, 1), Some(6)).unwrap(),
            python_range("cols", r(0, 5, 1), Some(5)).unwrap(),
        );
        let rev = (
            python_range("rows", r(5, -1, -1), Some(6)).unwrap(),
            python_range("cols", r(4, -1, -1), Some(5)).unwrap(),
        );
        let mut a = vec![0u16; 30];
        let mut b = vec![0u16; 30];
        zoomstack_kernel::render_block(&p, 7000, fwd.0, fwd.1, Backend::Scalar, &mut a).unwrap();
        zoomstack_kernel::render_block(&p, 7000, rev.0, rev.1, Backend::Scalar, &mut b).unwrap();
        a.reverse();
        assert_eq!(a, b);
    }
}
