"""The zoom stack as a lazy Dask array whose slices render only the selected pixels."""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Union

import dask.array as da
import numpy as np
from dask.array.core import normalize_chunks
from dask.base import tokenize

from . import _zoomstack
from ._params import NOTEBOOK_CENTER, StackParams
from ._zoomstack import InvalidParameterError, InvalidSelectionError

__all__ = ["ZoomStackArray", "stack", "render_block", "AXIS_NAMES"]

#: Names of the stack's axes (also the Zarr ``dimension_names``).
AXIS_NAMES: tuple[str, str, str] = ("level", "y", "x")

#: What :func:`render_block` accepts for one axis.
AxisKey = Union[int, slice, range, tuple[int, int, int], None]


def _is_int(k: Any) -> bool:
    return isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_))


@dataclass(frozen=True)
class _Axis:
    """Indices ``start + k * step`` (``k < count``) of one stack axis, in full-stack space.

    ``drop``: the axis was indexed with an integer (``count == 1``) and is not an output axis.
    """

    start: int
    step: int
    count: int
    drop: bool = False

    def sliced(self, s: slice) -> _Axis:
        a, b, k = s.indices(self.count)
        n = len(range(a, b, k))
        if n == 0:
            return _Axis(0, 1, 0)
        return _Axis(self.start + a * self.step, self.step * k if n > 1 else 1, n)

    def indexed(self, i: int, name: str) -> _Axis:
        if not -self.count <= i < self.count:
            raise IndexError(f"index {i} is out of bounds for axis {name!r} with size {self.count}")
        if i < 0:
            i += self.count
        return _Axis(self.start + i * self.step, 1, 1, drop=True)

    def triple(self, a: int, b: int) -> tuple[int, int, int]:
        """Local indices ``a..b`` as a ``range(start, stop, step)`` triple of stack indices."""
        return (self.start + a * self.step, self.start + b * self.step, self.step)

    def as_range(self) -> range:
        return range(*self.triple(0, self.count))


def _render_task(
    block_id: tuple[int, ...] | None = None,
    *,
    zs_params: StackParams,
    zs_axes: tuple[_Axis, _Axis, _Axis],
    zs_block: tuple[int, ...],
) -> np.ndarray:
    """Renders one Dask block (``block_id`` in the output's block grid)."""
    block_id = block_id or ()
    triples = []
    shape = []
    k = 0
    for ax in zs_axes:
        if ax.drop:
            triples.append(ax.triple(0, 1))
            continue
        a = block_id[k] * zs_block[k]
        b = min(a + zs_block[k], ax.count)
        triples.append(ax.triple(a, b))
        shape.append(b - a)
        k += 1
    out = _zoomstack.render_block(*triples, **zs_params.kernel_kwargs())
    return out.reshape(shape)


def _rebuild(
    params: StackParams,
    axes: tuple[_Axis, _Axis, _Axis],
    chunks: tuple[int, int, int],
) -> ZoomStackArray:
    return ZoomStackArray(params, axes, chunks)


class ZoomStackArray(da.Array):
    """A Dask array of (a strided selection of) the zoom stack, in ONE graph layer.

    It is a :class:`dask.array.Array` (every Dask operation works on it) with two additions:

    * **Basic indexing fuses.** ``a[key]`` with integers, slices (any step, also negative) and
      ``...`` returns a new ``ZoomStackArray`` over the selected sub-grid: its blocks render only
      the selected pixels, bit-identical to the same pixels of the full levels. (Plain Dask
      slicing of a ``map_blocks`` array would render whole blocks and discard the rest.)
      Other keys (``None``, lists, boolean or integer arrays) fall back to Dask's own indexing:
      correct, but whole blocks are rendered.
    * **Regular rechunking fuses.** ``a.rechunk((8, 512, 512))`` (ints, ``-1`` or ``None`` per
      axis, or a dict) returns a new single-layer array with that block shape; other forms fall
      back to Dask's rechunk.

    Chunks given at creation (``stack(chunks=...)``) are kept by slices, clipped to each axis.
    Results of any other operation (arithmetic, ``persist``, ...) are plain Dask arrays.
    Create one with :func:`stack` or :meth:`from_params`.
    """

    _zs_params: StackParams
    _zs_axes: tuple[_Axis, _Axis, _Axis]
    _zs_chunks: tuple[int, int, int]

    def __new__(
        cls,
        params: StackParams,
        axes: tuple[_Axis, _Axis, _Axis],
        chunks: tuple[int, int, int],
    ) -> ZoomStackArray:
        kept = [(ax, c) for ax, c in zip(axes, chunks) if not ax.drop]
        shape = tuple(ax.count for ax, _ in kept)
        block = tuple(max(1, min(c, ax.count)) for ax, c in kept)
        for n, b in zip(shape, block):
            if -(-n // b) > MAX_BLOCKS_PER_AXIS:
                raise InvalidParameterError(
                    f"chunks {block} cut an axis of {n} into {-(-n // b)} blocks; Dask keeps a "
                    f"Python entry per block, so at most {MAX_BLOCKS_PER_AXIS} are allowed "
                    f"per axis (a chunk of {-(-n // MAX_BLOCKS_PER_AXIS)} or more there)"
                )
        name = "zoomstack-" + tokenize(params, axes, block)
        layer = da.map_blocks(
            _render_task,
            chunks=normalize_chunks(block, shape),
            dtype=np.uint16,
            meta=np.empty((0,) * len(shape), np.uint16),
            name=name,
            zs_params=params,
            zs_axes=axes,
            zs_block=block,
        )
        self = super().__new__(cls, layer.dask, layer.name, layer.chunks, meta=layer._meta)
        self._zs_params = params
        self._zs_axes = axes
        self._zs_chunks = chunks
        return self

    @classmethod
    def from_params(
        cls, params: StackParams, chunks: int | Sequence[int] | None = None
    ) -> ZoomStackArray:
        """The whole stack of ``params`` with Dask blocks of ``chunks`` (``-1``: whole axis;
        ``None``: :func:`default_chunks`)."""
        if not isinstance(params, StackParams):
            raise TypeError(f"params must be a zoomstack.StackParams, got {type(params).__name__}")
        if chunks is None:
            chunks = default_chunks(params.shape[0])
        sizes = _check_chunks(chunks, params.shape)
        axes = tuple(_Axis(0, 1, n) for n in params.shape)
        return cls(params, axes, sizes)  # type: ignore[arg-type]

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self._zs_params, self._zs_axes, self._zs_chunks))

    @property
    def params(self) -> StackParams:
        """The parameters of the underlying stack."""
        return self._zs_params

    @property
    def selection(self) -> tuple[range | int, range | int, range | int]:
        """Which stack indices this array holds, per stack axis (level, y, x): a ``range`` for
        each output axis, an ``int`` for an axis removed by integer indexing."""
        return tuple(ax.start if ax.drop else ax.as_range() for ax in self._zs_axes)  # type: ignore[return-value]

    def __getitem__(self, key: Any) -> Any:
        axes = self._fused_axes(key)
        if axes is None:
            return super().__getitem__(key)
        return ZoomStackArray(self._zs_params, axes, self._zs_chunks)

    def _fused_axes(self, key: Any) -> tuple[_Axis, _Axis, _Axis] | None:
        """The axes after basic indexing with ``key``, or ``None`` if ``key`` is not basic."""
        if not isinstance(key, tuple):
            key = (key,)
        kept = [i for i, ax in enumerate(self._zs_axes) if not ax.drop]
        items: list[Any] = []
        for k in key:
            if k is Ellipsis:
                items.append(k)
            elif isinstance(k, slice):
                parts = (k.start, k.stop, k.step)
                if not all(v is None or _is_int(v) for v in parts) or k.step == 0:
                    return None
                items.append(k)
            elif _is_int(k):
                items.append(operator.index(k))
            else:
                return None
        n_ell = sum(k is Ellipsis for k in items)
        if n_ell > 1 or len(items) - n_ell > len(kept):
            return None
        if n_ell:
            at = next(i for i, k in enumerate(items) if k is Ellipsis)
            fill = [slice(None)] * (len(kept) - (len(items) - 1))
            items = items[:at] + fill + items[at + 1 :]
        else:
            items += [slice(None)] * (len(kept) - len(items))
        axes = list(self._zs_axes)
        for i, item in zip(kept, items):
            if isinstance(item, slice):
                axes[i] = axes[i].sliced(item)
            else:
                axes[i] = axes[i].indexed(item, AXIS_NAMES[i])
        return tuple(axes)  # type: ignore[return-value]

    def to_zarr(  # type: ignore[override]
        self,
        url: Any,
        component: str | None = None,
        overwrite: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Writes this selection with :func:`zoomstack.to_zarr` (not Dask's writer).

        ``stack[...].to_zarr(path)`` therefore writes a proper zoomstack store: a group with the
        ``counts`` array (dimension names, the ``zoomstack`` attribute), the coordinate arrays
        xarray labels ``level`` with, completion markers and resume. ``component`` is the
        array's path inside the store; ``chunks``, ``shards`` and Dask compute arguments pass
        through. Dask's own options for arbitrary arrays (``storage_options``, ``region``,
        ``compute=False``, ``return_stored``) are refused: for a plain array without zoomstack
        metadata, call ``dask.array.to_zarr(arr, url)`` on purpose.
        """
        from ._zarr import to_zarr

        dask_only = {"storage_options", "region", "return_stored", "compute", "zarr_format"}
        given = sorted(k for k in dask_only if k in kwargs)
        if given:
            raise TypeError(
                f"ZoomStackArray.to_zarr writes a zoomstack store (zoomstack.to_zarr) and does "
                f"not take Dask's {', '.join(given)}; call dask.array.to_zarr(array, url, ...) "
                f"for a plain Zarr array without zoomstack metadata"
            )
        return to_zarr(self, url, path=component, overwrite=overwrite, **kwargs)

    def rechunk(  # type: ignore[override]
        self,
        chunks: Any = "auto",
        threshold: Any = None,
        block_size_limit: Any = None,
        balance: bool = False,
        method: Any = None,
    ) -> da.Array:
        """Like :meth:`dask.array.Array.rechunk`; regular block shapes stay one fused layer."""
        sizes = None
        if (threshold, block_size_limit, balance, method) == (None, None, False, None):
            sizes = self._regular_chunks(chunks)
        if sizes is None:
            return super().rechunk(chunks, threshold, block_size_limit, balance, method)
        return ZoomStackArray(self._zs_params, self._zs_axes, sizes)

    def _regular_chunks(self, chunks: Any) -> tuple[int, int, int] | None:
        kept = [i for i, ax in enumerate(self._zs_axes) if not ax.drop]
        if _is_int(chunks):
            chunks = (chunks,) * len(kept)
        if isinstance(chunks, Mapping):
            chunks = tuple(chunks.get(j) for j in range(len(kept)))
        if not isinstance(chunks, tuple) or len(chunks) != len(kept):
            return None
        sizes = list(self._zs_chunks)
        for i, c in zip(kept, chunks):
            if c is None:
                continue
            if not _is_int(c) or (c < 1 and c != -1):
                return None
            sizes[i] = max(1, self._zs_axes[i].count) if c == -1 else int(c)
        return tuple(sizes)  # type: ignore[return-value]

    def block_shape(self) -> tuple[int, ...]:
        """The regular block shape of this array (its ``chunksize``)."""
        return tuple(
            max(1, min(c, ax.count)) for ax, c in zip(self._zs_axes, self._zs_chunks) if not ax.drop
        )


MAX_BLOCKS_PER_AXIS = 1 << 20
"""The most Dask blocks along one axis: Dask holds a tuple entry per block (and a task per
block computed), so 120 million one-level blocks would take gigabytes before any work."""


def default_chunks(levels: int) -> tuple[int, int, int]:
    """The notebook's ``(1, 256, 256)``, with as many levels per block as keep the level axis
    at :data:`MAX_BLOCKS_PER_AXIS` blocks or fewer (``(115, 256, 256)`` for 120 million).

    >>> default_chunks(120000), default_chunks(120_000_000)
    ((1, 256, 256), (115, 256, 256))
    """
    return (max(1, -(-levels // MAX_BLOCKS_PER_AXIS)), 256, 256)


def _check_chunks(chunks: Any, shape: tuple[int, int, int]) -> tuple[int, int, int]:
    if _is_int(chunks):
        chunks = (chunks,) * 3
    try:
        items = tuple(chunks)
    except TypeError:
        items = ()
    if len(items) != 3 or not all(_is_int(c) and (c >= 1 or c == -1) for c in items):
        raise InvalidParameterError(
            f"chunks must be 3 integers >= 1 (or -1 for a whole axis), got {chunks!r}"
        )
    return tuple(n if c == -1 else int(c) for c, n in zip(items, shape))  # type: ignore[return-value]


def stack(
    levels: int = 120000,
    height: int = 512,
    width: int = 512,
    center: tuple[float | str, float | str] = NOTEBOOK_CENTER,
    scale0: float | str = 3.0,
    zoom_per_level: float | str = 1.00025,
    max_iter: int = 256,
    chunks: int | Sequence[int] | None = None,
    arithmetic: str = "numpy",
    bla: bool = False,
) -> ZoomStackArray:
    """The notebook's zoom stack as a lazy ``(levels, height, width)`` ``uint16`` Dask array.

    Defined in one graph layer (``map_blocks`` over the Rust block renderer), so even 120000
    levels take milliseconds to define. Slicing fuses: ``stack()[0:20000:500, ::2, ::2]``
    renders only the selected pixels (see :class:`ZoomStackArray`). Blocks render with the
    backend named by ``ZOOMSTACK_KERNEL`` on the worker (default: the fastest one).
    ``arithmetic="exact"`` gives the true counts at any depth, ``bla=True`` with it renders
    deep locations faster (see :class:`StackParams`). ``chunks`` defaults to the notebook's ``(1, 256, 256)`` up to 2**20 levels and to more
    levels per block beyond (:func:`default_chunks`), so 120 million levels define in
    milliseconds too.

    Raises :class:`zoomstack.InvalidParameterError` (a ``ValueError``) naming a bad value.

    >>> import zoomstack
    >>> s = zoomstack.stack()
    >>> s.shape, s.chunksize
    ((120000, 512, 512), (1, 256, 256))
    >>> s[0:20000:500, ::2, ::2].shape
    (40, 256, 256)
    """
    params = StackParams(
        levels=levels,
        height=height,
        width=width,
        center=center,
        scale0=scale0,
        zoom_per_level=zoom_per_level,
        max_iter=max_iter,
        arithmetic=arithmetic,
        bla=bla,
    )
    return ZoomStackArray.from_params(params, chunks)


def _axis_triple(key: AxisKey, n: int, name: str) -> tuple[int, int, int]:
    if key is None:
        return (0, n, 1)
    if _is_int(key):
        i = operator.index(key)  # type: ignore[arg-type]
        return (i, i + 1, 1)
    if isinstance(key, slice):
        if key.step == 0:
            raise InvalidSelectionError(f"{name} slice step must be non-zero, got {key!r}")
        return key.indices(n)
    if isinstance(key, range):
        return (key.start, key.stop, key.step)
    if isinstance(key, tuple) and len(key) == 3 and all(_is_int(v) for v in key):
        return tuple(int(v) for v in key)  # type: ignore[return-value]
    raise InvalidSelectionError(
        f"{name} must be an int, slice, range or (start, stop, step) tuple, got {key!r}"
    )


def render_block(
    levels: AxisKey,
    rows: AxisKey = None,
    cols: AxisKey = None,
    params: StackParams | None = None,
    *,
    backend: str | None = None,
) -> np.ndarray:
    """Renders a strided block of the stack now, as a ``(levels, rows, cols)`` ``uint16`` array.

    Each axis is an ``int`` (one index), a ``slice`` (resolved against the axis length; levels
    against ``params.levels``), a ``range`` or a ``(start, stop, step)`` triple with ``range``
    semantics, or ``None`` (the whole axis). Every pixel equals the same pixel of the full level
    (and the notebook's ``mandelbrot_array``), bit for bit. ``params`` defaults to the notebook's
    stack; ``backend`` (``"auto"``, ``"scalar"``, ``"f64x4"``, ``"f64x8"``) defaults to
    ``ZOOMSTACK_KERNEL`` or the fastest. The GIL is released while rendering.

    >>> import zoomstack
    >>> zoomstack.render_block(3000, slice(0, 512, 64), slice(0, 512, 64)).shape
    (1, 8, 8)
    """
    p = params if params is not None else StackParams()
    return _zoomstack.render_block(
        _axis_triple(levels, p.levels, "levels"),
        _axis_triple(rows, p.height, "rows"),
        _axis_triple(cols, p.width, "cols"),
        backend=backend,
        **p.kernel_kwargs(),
    )
