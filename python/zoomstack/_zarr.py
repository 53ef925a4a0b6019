"""Writing (and resuming) Zarr v3 stores with the layout of docs/contracts.md."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import dask.array as da
import zarr

from . import _zoomstack
from ._array import AXIS_NAMES, ZoomStackArray, _Axis, _is_int
from ._params import StackParams
from ._zoomstack import InvalidParameterError, InvalidSelectionError, ZoomstackError

__all__ = [
    "to_zarr",
    "StoreMismatchError",
    "IncompleteStoreError",
    "store_info",
    "FORMAT",
    "FORMAT_VERSION",
    "DONE_DIR",
]

#: ``zoomstack.format`` of a store.
FORMAT = "zoomstack-stack"
#: ``zoomstack.format_version`` of a store.
FORMAT_VERSION = 1
#: Directory (inside the array's directory) holding one empty marker file per finished unit.
DONE_DIR = "zoomstack.done"
#: The human-readable rule stored as ``zoomstack.scale_rule``.
SCALE_RULE = (
    "scale(level) = scale0 / zoom_per_level ** level; "
    "rows = linspace(center_im - scale/2, center_im + scale/2, height) (row 0 is the lowest imaginary part); "
    "cols = linspace(center_re - scale*aspect/2, center_re + scale*aspect/2, width) with aspect = width/height; "
    "count = first k in 0..max_iter with |z_(k+1)| > 2 for z_0 = 0, z_(k+1) = z_k^2 + c, else max_iter"
)


class StoreMismatchError(ZoomstackError):
    """An existing store was written with other parameters: it cannot be resumed."""


class IncompleteStoreError(ZoomstackError):
    """A write finished without every unit's completion marker (should not happen)."""


def _select_string(axes: Sequence[_Axis]) -> str:
    """The contract's normalized ``select``: ``start:stop:step`` per axis with
    ``stop = start + count * step`` (``start:start+1:1`` for one index), as the CLI writes it."""
    parts = []
    for ax in axes:
        step = ax.step if ax.count > 1 else 1
        parts.append(f"{ax.start}:{ax.start + ax.count * step}:{step}")
    return "[" + ", ".join(parts) + "]"


_SELECT_RE = re.compile(r"^\[\s*(\d+):(\d+):(\d+)\s*,\s*(\d+):(\d+):(\d+)\s*,\s*(\d+):(\d+):(\d+)\s*\]$")


def _parse_select(s: Any) -> list[tuple[int, int, int]] | None:
    """``select`` -> per axis ``(start, step, count)`` (``step`` is 1 when ``count <= 1``)."""
    m = _SELECT_RE.match(s) if isinstance(s, str) else None
    if m is None:
        return None
    v = [int(x) for x in m.groups()]
    out = []
    for start, stop, step in (v[0:3], v[3:6], v[6:9]):
        if step == 0:
            return None
        n = len(range(start, stop, step))
        out.append((start if n else 0, step if n > 1 else 1, n))
    return out


def _attrs(source: ZoomStackArray, unit: tuple[int, ...]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "zoomstack_version": _zoomstack.__version__,
        "kernel_contract_version": _zoomstack.CONTRACT_VERSION,
        "stack": source.params.to_attrs(),
        "select": _select_string(source._zs_axes),
        "downsample": None,
        "scale_rule": SCALE_RULE,
        "write_unit": list(unit),
        "complete": False,
    }


def _units(shape: Sequence[int], unit: Sequence[int]) -> Iterator[tuple[int, ...]]:
    grid = [-(-n // u) for n, u in zip(shape, unit)]
    for i in range(grid[0]):
        for j in range(grid[1]):
            for k in range(grid[2]):
                yield (i, j, k)


def _marker_name(idx: Sequence[int]) -> str:
    return ".".join(str(i) for i in idx)


def _missing_units(done_dir: Path, shape: Sequence[int], unit: Sequence[int]) -> list[tuple[int, ...]]:
    try:
        done = set(os.listdir(done_dir))
    except FileNotFoundError:
        done = set()
    return [u for u in _units(shape, unit) if _marker_name(u) not in done]


def _mismatches(
    meta: dict[str, Any],
    source: ZoomStackArray,
    chunks: tuple[int, ...],
    shards: tuple[int, ...] | None,
    z: zarr.Array,
) -> list[str]:
    """The fields that differ between an existing store and a requested write."""
    if meta.get("format") != FORMAT:
        return [f"format ({meta.get('format')!r} vs {FORMAT!r})"]
    if meta.get("format_version") != FORMAT_VERSION:
        return [f"format_version ({meta.get('format_version')!r} vs {FORMAT_VERSION})"]
    out = []
    if meta.get("kernel_contract_version") != _zoomstack.CONTRACT_VERSION:
        out.append(
            f"kernel_contract_version ({meta.get('kernel_contract_version')!r} vs "
            f"{_zoomstack.CONTRACT_VERSION})"
        )
    try:
        stored = StackParams.from_attrs(meta["stack"])
    except (KeyError, TypeError, ValueError) as e:
        out.append(f"stack (unreadable: {e})")
    else:
        out += stored.differences(source.params)
    ours = [(ax.start, ax.step if ax.count > 1 else 1, ax.count) for ax in source._zs_axes]
    theirs = _parse_select(meta.get("select"))
    if theirs != ours:
        out.append(f"select ({meta.get('select')!r} vs {_select_string(source._zs_axes)!r})")
    if meta.get("downsample") is not None:
        out.append(f"downsample ({meta.get('downsample')!r} vs None)")
    if tuple(z.shape) != tuple(source.shape):
        out.append(f"shape ({tuple(z.shape)} vs {tuple(source.shape)})")
    if tuple(z.chunks) != tuple(chunks):
        out.append(f"chunk shape ({tuple(z.chunks)} vs {tuple(chunks)})")
    stored_shards = None if z.shards is None else tuple(z.shards)
    if stored_shards != shards:
        out.append(f"shard shape ({stored_shards} vs {shards})")
    return out


class _UnitWriter:
    """``da.store`` target: writes one whole write unit per ``__setitem__``, then its marker.

    Exactly one task writes a given unit (Dask blocks = units), so no lock is needed. A unit
    that already has a marker is skipped. A stored object left by a writer that died before
    its marker (a torn shard) is deleted before rewriting, so it is never read back.
    """

    def __init__(self, store: str, path: str | None, shape: tuple[int, ...], unit: tuple[int, ...]):
        self.store = store
        self.path = path
        self.shape = shape
        self.unit = unit
        self.array_dir = os.path.join(store, path) if path else store
        self.done_dir = os.path.join(self.array_dir, DONE_DIR)
        self._z: zarr.Array | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_z"] = None
        return state

    def _array(self) -> zarr.Array:
        if self._z is None:
            self._z = zarr.open_array(self.store, path=self.path or "", mode="r+", zarr_format=3)
        return self._z

    def __setitem__(self, region: tuple[slice, ...], block: Any) -> None:
        idx = tuple(s.start // u for s, u in zip(region, self.unit))
        for s, u, n, i in zip(region, self.unit, self.shape, idx):
            if s.start != i * u or s.stop != min((i + 1) * u, n):
                raise ZoomstackError(f"internal: block {region} is not write unit {idx} of {self.unit}")
        marker = os.path.join(self.done_dir, _marker_name(idx))
        if os.path.exists(marker):
            return
        z = self._array()
        key = z.metadata.encode_chunk_key(idx)
        try:
            os.remove(os.path.join(self.array_dir, *key.split("/")))
        except FileNotFoundError:
            pass
        z[region] = block
        with open(marker, "a"):
            pass


def store_info(store: str | os.PathLike[str], path: str | None = None) -> dict[str, Any]:
    """The ``zoomstack`` attribute of a store plus its progress.

    Returns the attribute object with two more keys: ``units`` (the number of write units) and
    ``missing_units`` (units without a completion marker).
    """
    z = zarr.open_array(os.fspath(store), path=path or "", mode="r", zarr_format=3)
    meta = dict(z.attrs.get("zoomstack") or {})
    unit = tuple(meta.get("write_unit") or (z.shards or z.chunks))
    array_dir = Path(os.fspath(store), path) if path else Path(os.fspath(store))
    meta["units"] = len(list(_units(z.shape, unit)))
    meta["missing_units"] = len(_missing_units(array_dir / DONE_DIR, z.shape, unit))
    return meta


def _shape3(name: str, value: Any) -> tuple[int, int, int]:
    try:
        items = tuple(value)
    except TypeError:
        items = ()
    if len(items) != 3 or not all(_is_int(v) and v >= 1 for v in items):
        raise InvalidParameterError(f"{name} must be 3 integers >= 1, got {value!r}")
    return tuple(int(v) for v in items)  # type: ignore[return-value]


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

    The safe way, for a cluster: the array is created first (zarr-python 3), Dask blocks are
    the write units (shards, or chunks when unsharded), so exactly one task writes each stored
    object, and ``da.store(..., lock=False)`` writes them in parallel. After a unit is fully
    written an empty marker ``<array dir>/zoomstack.done/i.j.k`` is created; when every unit has
    its marker, the attribute ``zoomstack.complete`` becomes ``true``. Layout and attributes are
    those of ``docs/contracts.md``, shared with the ``zoomstack`` CLI, so either tool can resume
    a store the other one started.

    Parameters
    ----------
    source
        A :class:`ZoomStackArray` (e.g. ``zoomstack.stack()[0:20000:500]``; positive steps,
        no integer-indexed axes) or :class:`StackParams` (the whole stack).
    store
        A local (or shared network) filesystem directory; every worker must see it.
    path
        The array's path inside the store (default: the store root).
    chunks
        Zarr chunk shape (default: the source's Dask block shape).
    shards
        Zarr shard shape, a multiple of ``chunks`` per axis (default: unsharded). Keep write
        units large (e.g. ``(8, 512, 512)``): each one is one Dask task.
    overwrite
        Start over even if a store exists. Otherwise an existing store is *resumed*: units
        with markers are skipped; the stack parameters, ``select``, ``downsample``, chunk and
        shard shape must match, else :class:`StoreMismatchError` names the differing field.
    compute_kwargs
        Passed to ``dask.compute`` (e.g. ``scheduler="threads"``); by default the active
        ``distributed.Client``, else Dask's default scheduler.

    Returns the written array, opened read-only.
    """
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
    shape = tuple(source.shape)
    chunk_shape = _shape3("chunks", chunks if chunks is not None else source.block_shape())
    chunk_shape = tuple(min(c, n) for c, n in zip(chunk_shape, shape))
    shard_shape = None
    if shards is not None:
        shard_shape = _shape3("shards", shards)
        if any(s % c for s, c in zip(shard_shape, chunk_shape)):
            raise InvalidParameterError(
                f"shards must be a multiple of chunks {chunk_shape} on every axis, got {shard_shape}"
            )
    unit = shard_shape or chunk_shape

    array_dir = Path(store_s, path) if path else Path(store_s)
    done_dir = array_dir / DONE_DIR
    exists = (array_dir / "zarr.json").exists()
    if exists and not overwrite:
        z = zarr.open_array(store_s, path=path or "", mode="r+", zarr_format=3)
        meta = z.attrs.get("zoomstack")
        if not isinstance(meta, dict):
            raise StoreMismatchError(
                f"{array_dir} holds a Zarr array without a 'zoomstack' attribute: not a zoomstack "
                f"store; pass overwrite=True to replace it"
            )
        diff = _mismatches(meta, source, chunk_shape, shard_shape, z)
        if diff:
            raise StoreMismatchError(
                f"cannot resume {array_dir}: it differs in " + "; ".join(diff)
                + " (stored vs requested); pass overwrite=True to start over"
            )
    else:
        # Markers first: a marker must never outlive the data it vouches for.
        shutil.rmtree(done_dir, ignore_errors=True)
        z = zarr.create_array(
            store=store_s,
            name=path,
            shape=shape,
            chunks=chunk_shape,
            shards=shard_shape,
            dtype="uint16",
            fill_value=0,
            dimension_names=AXIS_NAMES,
            attributes={"zoomstack": _attrs(source, unit)},
            zarr_format=3,
            overwrite=True,
        )
        meta = z.attrs["zoomstack"]
    done_dir.mkdir(parents=True, exist_ok=True)

    if _missing_units(done_dir, shape, unit):
        if meta.get("complete") is True:
            # Markers were lost (e.g. removed by hand): the store must not claim completeness.
            meta = {**meta, "complete": False}
            z.update_attributes({"zoomstack": meta})
        src = ZoomStackArray(source._zs_params, source._zs_axes, unit, _skip=str(done_dir))
        target = _UnitWriter(store_s, path, shape, unit)
        da.store(src, target, lock=False, **compute_kwargs)
        missing = _missing_units(done_dir, shape, unit)
        if missing:
            raise IncompleteStoreError(
                f"{len(missing)} write units of {array_dir} have no completion marker after the "
                f"write (first: {missing[0]}); run to_zarr again to resume"
            )
    if meta.get("complete") is not True:
        z.update_attributes({"zoomstack": {**meta, "complete": True}})
    return zarr.open_array(store_s, path=path or "", mode="r", zarr_format=3)
