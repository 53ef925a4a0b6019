"""Stack parameters: the notebook's defaults, validated by the Rust kernel."""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any

from . import _zoomstack
from ._zoomstack import InvalidParameterError

__all__ = ["StackParams", "NOTEBOOK_CENTER"]

#: The notebook's zoom center ``(re, im)``.
NOTEBOOK_CENTER: tuple[float, float] = (-0.743645857047151, 0.13182592380533)


def _as_int(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise InvalidParameterError(f"{name} must be an integer, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise InvalidParameterError(f"{name} must be an integer, got {value!r}") from None


def _as_real(name: str, value: Any) -> float | str:
    """A float, or a decimal string kept as written (the kernel parses it exactly)."""
    if isinstance(value, str):
        return value
    return _as_float(name, value)


def _as_float(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise InvalidParameterError(f"{name} must be a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidParameterError(f"{name} must be a number, got {value!r}") from None


@dataclass(frozen=True)
class StackParams:
    """Parameters that fix every pixel of a zoom stack (defaults: the notebook's stack).

    Level ``i`` has ``scale = scale0 / zoom_per_level ** i``; its pixel grid is the notebook's
    ``np.linspace`` grid around ``center`` (row 0 is the *lowest* imaginary part, so images are
    flipped vertically against the usual mathematical picture, exactly as in the notebook).

    ``arithmetic`` is ``"numpy"`` (the default: the notebook's f64 counts, bit for bit) or
    ``"exact"`` (the true escape count of each exactly placed pixel, at any depth f64 deltas
    cover, and constant deep frames proven). ``center``, ``scale0`` and ``zoom_per_level`` may
    be decimal strings with any number of digits: the exact contract takes them exactly as
    written, the numpy contract rounds them to the nearest float, as ``float()`` does.
    ``bla=True`` (exact arithmetic only) skips runs of delta updates with bivariate linear
    approximation: deep locations with large ``max_iter`` render several times faster; the
    counts are checked against the same oracle (a store records the method).

    Raises :class:`zoomstack.InvalidParameterError` (a ``ValueError``) naming the bad value.
    """

    levels: int = 120000
    height: int = 512
    width: int = 512
    center: tuple[float | str, float | str] = NOTEBOOK_CENTER
    scale0: float | str = 3.0
    zoom_per_level: float | str = 1.00025
    max_iter: int = 256
    arithmetic: str = "numpy"
    bla: bool = False

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        for name in ("levels", "height", "width", "max_iter"):
            set_(self, name, _as_int(name, getattr(self, name)))
        for name in ("scale0", "zoom_per_level"):
            set_(self, name, _as_real(name, getattr(self, name)))
        if self.arithmetic not in ("numpy", "exact"):
            raise InvalidParameterError(
                f'arithmetic must be "numpy" or "exact", got {self.arithmetic!r}'
            )
        if not isinstance(self.bla, bool):
            raise InvalidParameterError(f"bla must be True or False, got {self.bla!r}")
        if self.bla and self.arithmetic != "exact":
            raise InvalidParameterError('bla=True needs arithmetic="exact"')
        try:
            re, im = self.center
        except (TypeError, ValueError):
            raise InvalidParameterError(
                f"center must be a pair (re, im), got {self.center!r}"
            ) from None
        set_(self, "center", (_as_real("center_re", re), _as_real("center_im", im)))
        _zoomstack.validate_params(levels=self.levels, **self.kernel_kwargs())

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(levels, height, width)`` of the whole stack."""
        return (self.levels, self.height, self.width)

    def scale(self, level: int) -> float:
        """The notebook's scale of ``level``: ``scale0 / zoom_per_level ** level`` (in floats)."""
        return float(self.scale0) / (float(self.zoom_per_level) ** level)

    def kernel_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`zoomstack.render_block` (everything but ``levels``)."""
        return {
            "height": self.height,
            "width": self.width,
            "center": self.center,
            "scale0": self.scale0,
            "zoom_per_level": self.zoom_per_level,
            "max_iter": self.max_iter,
            "arithmetic": self.arithmetic,
            "bla": self.bla,
        }
