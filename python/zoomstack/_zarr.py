"""Writing (and resuming) Zarr v3 stores with the layout of docs/contracts.md.

The store contract (attributes, completion markers, resume checks, refusals) is implemented
once, in Rust (``zoomstack_sinks::ZarrSink``, which the CLI uses too); this module only turns
the arguments into a store spec and runs one Dask task per write unit, each calling
``_zoomstack.write_units``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import dask.array as da
import numpy as np
import zarr
from dask.base import tokenize

from . import _zoomstack
from ._array import AXIS_NAMES, ZoomStackArray, _is_int
from ._params import StackParams
from ._zoomstack import (
    MARKER_DIR,
    IncompleteStoreError,
    InvalidParameterError,
    InvalidSelectionError,
    StoreMismatchError,
    ZoomstackError,
)

__all__ = [
    "to_zarr",
    "StoreMismatchError",
    "IncompleteStoreError",
    "store_info",
    "DONE_DIR",
]

#: Directory (inside the array's directory) holding one empty marker file per finished unit.
DONE_DIR: str = MARKER_DIR


def store_info(store: str | os.PathLike[str], path: str | None = None) -> dict[str, Any]:
    """The ``zoomstack`` attribute of a store plus its progress.

    Returns the attribute object with four more keys: ``array_path`` (the counts array's path
    inside the store: ``"counts"`` for a store's own array), ``units`` (the number of write units),
    ``missing_units`` (units a resume writes: without a completion marker, or whose file does
    not have the length its marker records) and ``damaged_units`` (those of the latter kind).
    """
    st = _zoomstack.store_info(os.fspath(store), path or "")
    return {
        **st["attributes"],
        "array_path": st["array_path"],
        "units": st["units_total"],
        "missing_units": st["units_total"] - st["units_done"],
        "damaged_units": st["units_damaged"],
    }


def verify(store: str | os.PathLike[str], path: str | None = None) -> list[dict[str, Any]]:
    """Re-reads every write unit of a store, as ``zoomstack verify`` does (read-only).

    A unit is intact when its completion marker exists, its file holds exactly the bytes the
    marker records (length and CRC-32C) and it decodes. Returns one report per array (each level
    of an OME-Zarr pyramid): ``intact`` (bool), ``units_total``, ``units_intact``, ``missing``
    (unit indices without a marker), ``damaged`` (``((i, j, k), reason)`` pairs),
    ``raw_bytes``, ``stored_bytes``, ``seconds``. ``to_zarr`` on the same store rewrites what a
    resume detects (missing markers, wrong lengths); rewrite units damaged in other ways with
    ``zoomstack run ... --verify`` or by deleting their markers.
    """
    return _zoomstack.verify_store(os.fspath(store), path or "")


def _shape3(name: str, value: Any) -> tuple[int, int, int]:
    try:
        items = tuple(value)
    except TypeError:
        items = ()
    if len(items) != 3 or not all(_is_int(v) and v >= 1 for v in items):
        raise InvalidParameterError(f"{name} must be 3 integers >= 1, got {value!r}")
    return tuple(int(v) for v in items)  # type: ignore[return-value]


def _write_block(units: np.ndarray, spec: dict[str, Any]) -> np.ndarray:
    """One Dask task: writes the write units ``units`` (rows of ``(i, j, k)``) of the store.

    Returns how many of them this task wrote (units with a marker are skipped, so a task that
    Dask reruns, e.g. after losing the worker that held its result, does nothing).
    """
    todo = [tuple(int(v) for v in row) for row in units]
    return np.array([_zoomstack.write_units(spec, todo)], dtype=np.int64)


def _store_spec(
    source: ZoomStackArray | StackParams,
    store: str | os.PathLike[str],
    path: str | None,
    chunks: Sequence[int] | None,
    shards: Sequence[int] | None,
) -> dict[str, Any]:
    """The arguments of :func:`to_zarr` as the Rust store functions' spec (checked here only as
    far as Python types go; the store rules are checked in Rust)."""
    if isinstance(source, StackParams):
        source = ZoomStackArray.from_params(source)
    if not isinstance(source, ZoomStackArray):
        raise TypeError(
            f"source must be a zoomstack.ZoomStackArray or StackParams, got {type(source).__name__}"
        )
    for ax, name in zip(source._zs_axes, AXIS_NAMES):
        if ax.drop:
            raise InvalidSelectionError(
                f"a store is 3-D (level, y, x), but axis {name!r} was removed by an integer index "
                f"{ax.start}; index with a slice instead (e.g. {ax.start}:{ax.start + 1})"
            )
        if ax.count == 0:
            raise InvalidSelectionError(f"nothing to write: axis {name!r} is empty")
        if ax.count > 1 and ax.step < 0:
            raise InvalidSelectionError(
                f"a store's select needs positive steps; axis {name!r} has step {ax.step}"
            )
    store_s = os.fspath(store)
    if "://" in store_s:
        raise InvalidParameterError(
            f"to_zarr writes to a filesystem path (completion markers are files), got {store_s!r}"
        )
    chunk_shape = _shape3("chunks", chunks if chunks is not None else source.block_shape())
    shard_shape = None if shards is None else _shape3("shards", shards)
    p = source.params
    return {
        "store": store_s,
        "path": path or "",
        "levels": p.levels,
        "height": p.height,
        "width": p.width,
        "center": p.center,
        "scale0": p.scale0,
        "zoom_per_level": p.zoom_per_level,
        "max_iter": p.max_iter,
        "arithmetic": p.arithmetic,
        "bla": p.bla,
        "select": tuple(ax.triple(0, ax.count) for ax in source._zs_axes),
        "chunks": chunk_shape,
        "shards": shard_shape,
        "compression": "zstd",
        "compression_level": 3,
    }


def to_zarr(
    source: ZoomStackArray | StackParams,
    store: str | os.PathLike[str],
    *,
    path: str | None = None,
    chunks: Sequence[int] | None = None,
    shards: Sequence[int] | None = None,
    overwrite: bool = False,
    **compute_kwargs: Any,
) -> zarr.Array:
    """Writes a zoom stack (or a strided selection of it) to a Zarr v3 store, resumably.

    The store is written by zoomstack's Rust Zarr sink, the one the ``zoomstack`` CLI uses:
    same layout, attributes, completion markers and resume rules (``docs/contracts.md``), so
    either tool can resume a store the other one started. The driver creates (or checks) the
    store first; then one Dask task per write unit (shard, or chunk when unsharded) that has no
    completion marker yet renders the unit with the Rust kernel and stores it as one object, so
    exactly one task writes each stored object and no lock is needed; after a unit is written,
    its empty marker ``<array dir>/zoomstack.done/i.j.k`` is created. When every unit has its
    marker, the attribute ``zoomstack.complete`` becomes ``true``.

    Parameters
    ----------
    source
        A :class:`ZoomStackArray` (e.g. ``zoomstack.stack()[0:20000:500]``; positive steps,
        no integer-indexed axes) or :class:`StackParams` (the whole stack).
    store
        A local (or shared network) filesystem directory; every worker must see it.
    path
        The array's path inside the store. By default the store is a Zarr group holding the
        counts as ``counts`` beside the coordinate arrays ``level``, ``scale``, ``log10_scale``,
        ``y`` and ``x``, so that ``xarray.open_zarr(store)`` opens it and ``.sel(level=L)`` is
        stack level ``L``. A given path puts the counts there, with the coordinates in its
        parent group. (A store written before groups, with the array at its root, is resumed
        there.)
    chunks
        Zarr chunk shape (default: the source's Dask block shape).
    shards
        Zarr shard shape, a multiple of ``chunks`` per axis (default: unsharded). Keep write
        units large (e.g. ``(8, 512, 512)``): each one is one Dask task.
    overwrite
        Start over even if a zoomstack store exists (a path holding anything else is never
        deleted). Otherwise an existing store is *resumed*: units with markers are skipped;
        the stack parameters, ``select``, ``downsample``, chunk and shard shape must match,
        else :class:`StoreMismatchError` names the differing field.
    compute_kwargs
        Passed to ``dask.compute`` (e.g. ``scheduler="threads"``); by default the active
        ``distributed.Client``, else Dask's default scheduler.

    Returns the written array, opened read-only (zarr-python).
    """
    spec = _store_spec(source, store, path, chunks, shards)
    try:
        layout = _zoomstack.init_store(spec, if_exists="replace" if overwrite else "resume")
    except StoreMismatchError as e:
        try:
            _zoomstack.store_info(spec["store"], spec["path"])
        except ZoomstackError:
            raise e from None  # not a zoomstack store: overwrite=True would not delete it
        raise StoreMismatchError(f"{e}; pass overwrite=True to start over") from None

    missing = layout["missing"]
    if missing:
        units = da.from_array(
            np.asarray(missing, dtype=np.int64).reshape(-1, 3),
            chunks=(1, 3),
            name="zoomstack-units-" + tokenize(spec, missing),
        )
        written = units.map_blocks(
            _write_block,
            spec=spec,
            drop_axis=1,
            chunks=((1,) * len(missing),),
            dtype=np.int64,
            meta=np.empty((0,), np.int64),
            name="zoomstack-write-" + tokenize(spec, missing),
        )
        written.sum().compute(**compute_kwargs)
    report = _zoomstack.finish_store(spec)
    if not report["complete"]:
        raise IncompleteStoreError(
            f"{report['units_total'] - report['units_done']} of {report['units_total']} write units "
            f"of {report['array_dir']} have no completion marker after the write; run to_zarr "
            f"again to resume"
        )
    array_path = _zoomstack.store_info(spec["store"], spec["path"])["array_path"]
    return zarr.open_array(spec["store"], path=array_path, mode="r", zarr_format=3)


def _offset(index: np.ndarray, n: int) -> np.ndarray:
    """Offsets ``i / (n - 1) - 1/2`` from the centre of full-resolution indices on an axis of ``n``."""
    return index / (n - 1) - 0.5 if n > 1 else np.full(index.shape, -0.5)


def open_pyramid(store: str | os.PathLike[str]) -> Any:
    """Opens an OME-Zarr pyramid written by zoomstack as an :class:`xarray.DataTree` (lazy).

    ``xarray.open_zarr`` opens a zoomstack store (a group of ``counts`` and its coordinates),
    but not a pyramid: OME-Zarr keeps every resolution in one group under the same dimension
    names (``level``, ``y``, ``x``), which one xarray dataset cannot hold. This returns one
    child per dataset (``"0"``, ``"1"``, ...), each a dataset of ``counts`` (a Dask array of the
    stored array) with the coordinates a plain store carries: ``level`` (the stack level),
    ``scale``, ``log10_scale``, ``y`` and ``x`` (offsets from the centre in units of the
    level's scale), placed by the datasets' OME ``scale`` and ``translation``.
    Needs ``xarray``.
    """
    import xarray as xr

    group = zarr.open_group(os.fspath(store), mode="r")
    try:
        datasets = group.attrs["ome"]["multiscales"][0]["datasets"]
    except (KeyError, IndexError, TypeError):
        raise ZoomstackError(f"{os.fspath(store)} is not an OME-Zarr pyramid") from None
    children = {}
    for d in datasets:
        array = group[d["path"]]
        stack = array.attrs["zoomstack"]["stack"]
        transforms = {t["type"]: t for t in d["coordinateTransformations"]}
        scale = transforms["scale"]["scale"]
        shift = transforms.get("translation", {"translation": [0.0, 0.0, 0.0]})["translation"]
        # Full-resolution indices of each output index, as OME places them.
        index = [shift[k] + scale[k] * np.arange(n) for k, n in enumerate(array.shape)]
        height, width = stack["height"], stack["width"]
        level = index[0].astype(np.int64)
        scale0, zoom = float(stack["scale0"]), float(stack["zoom_per_level"])
        log10_scale = np.log10(scale0) - level * np.log10(zoom)

        unit = {"units": "1"}
        coords = {
            "level": ("level", level, {**unit, "long_name": "zoom level (index into the stack)"}),
            "scale": (
                "level",
                np.array([scale0 / zoom ** int(v) for v in level], dtype=np.float64),
                {**unit, "long_name": "height of the frame in the complex plane"},
            ),
            "log10_scale": ("level", log10_scale, {**unit, "long_name": "log10 of the height"}),
            "y": ("y", _offset(index[1], height), {**unit, "long_name": "imaginary offset"}),
            "x": ("x", _offset(index[2], width) * width / height, {**unit, "long_name": "real offset"}),
        }
        counts = xr.DataArray(
            da.from_zarr(array),
            dims=("level", "y", "x"),
            attrs={"long_name": "escape count", "units": "1", **dict(array.attrs)},
        )
        children[d["path"]] = xr.Dataset({"counts": counts}, coords=coords)
    return xr.DataTree.from_dict(children)
