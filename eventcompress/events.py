"""The in-memory representation of one recording: a struct of arrays.

``Events`` holds ``x``, ``y`` (uint16), ``t`` (int64 microseconds), ``p`` (uint8, 1 = ON), the
``sensor_size`` as ``(width, height)`` (tonic's ``(width, height, n_polarities)`` is accepted and
stored as ``(width, height)``) and free-form ``metadata``. Arrays are 1-D, C-contiguous
and of equal length, which is what the Numba kernels take without copying.

Conversions to and from tonic's structured arrays (any field order, any integer or bool field
dtypes) are lossless for values that fit the destination dtype; a value that does not fit raises
instead of wrapping.

Polarity is 0 (OFF) or 1 (ON); bool arrays are taken as such. Any other value (a -1 or 2 from a
misread file) raises :class:`~eventcompress.errors.EventFieldError` naming ``p``, the value and
the event. Signed polarity (-1 = OFF, +1 = ON, as some tools store it) is never guessed: it is
converted only on request (``signed_polarity=True`` in the converters, or
:func:`polarity_from_signed`).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from .errors import EventFieldError, NonMonotonicTimestampWarning, TimestampOrderError

X_DTYPE = np.dtype(np.uint16)
Y_DTYPE = np.dtype(np.uint16)
T_DTYPE = np.dtype(np.int64)
P_DTYPE = np.dtype(np.uint8)

#: tonic's default event dtype (``tonic.io.events_struct``).
TONIC_DTYPE = np.dtype([("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", bool)])

OnUnsorted = Literal["warn", "sort", "error", "ignore"]

SIGNED_POLARITY_HINT = (
    "this looks like signed polarity (-1 = OFF, +1 = ON): convert it explicitly with "
    "signed_polarity=True or eventcompress.events.polarity_from_signed"
)


def first_bad_polarity(p: np.ndarray) -> tuple[int, int, bool] | None:
    """(index, value, looks signed) of the first polarity outside {0, 1}, or None.

    ``p`` is an integer array; "looks signed" means every value is -1 or +1.
    """
    if p.size == 0 or p.dtype.kind == "b":
        return None
    high = p.max() > 1
    if not high and (p.dtype.kind == "u" or p.min() >= 0):
        return None
    i = int(np.flatnonzero((p < 0) | (p > 1))[0])
    signed = not high and bool(np.all((p == -1) | (p == 1)))
    return i, int(p[i]), signed


def polarity_from_signed(p: Any) -> np.ndarray:
    """Signed polarity (-1 = OFF, +1 = ON) as our uint8 0/1. Any other value, 0 included (it
    would be ambiguous next to -1), raises EventFieldError."""
    arr = np.asarray(p)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"signed polarity must be an integer array, got dtype {arr.dtype}")
    bad = np.flatnonzero((arr != -1) & (arr != 1))
    if bad.size:
        i = int(bad[0])
        raise EventFieldError("p", i, int(arr[i]), "-1 (OFF) or +1 (ON) for signed polarity")
    return (arr > 0).astype(P_DTYPE)


def as_sensor_size(sensor_size: Any) -> tuple[int, int]:
    """``(width, height)`` from ``(width, height)`` or tonic's ``(width, height, n_polarities)``
    (the polarity count is dropped); ValueError for anything else or a size below 1."""
    try:
        size = tuple(int(v) for v in sensor_size)
    except (TypeError, ValueError):
        size = ()
    if len(size) not in (2, 3) or size[0] <= 0 or size[1] <= 0:
        raise ValueError("sensor_size must be (width, height) or tonic's (width, height, "
                         f"n_polarities) with positive sizes, got {sensor_size!r}")
    return size[0], size[1]


def _as_field(name: str, values: Any, dtype: np.dtype) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"Events.{name} must be 1-D, got shape {arr.shape}")
    if arr.dtype == dtype:
        return np.ascontiguousarray(arr)
    if arr.dtype.kind not in "biu":
        raise TypeError(f"Events.{name} must be integer or bool, got dtype {arr.dtype}")
    if arr.size and arr.dtype.kind != "b":
        info = np.iinfo(dtype)
        lo, hi = arr.min(), arr.max()
        if lo < info.min or hi > info.max:
            raise OverflowError(
                f"Events.{name} holds values in [{lo}, {hi}], outside {dtype} [{info.min}, {info.max}]"
            )
    return np.ascontiguousarray(arr.astype(dtype))


@dataclass(frozen=True, eq=False)
class Events:
    """One event stream. Construct with any integer arrays; they are cast (checked) to the
    canonical dtypes."""

    x: np.ndarray
    y: np.ndarray
    t: np.ndarray
    p: np.ndarray
    sensor_size: tuple[int, int]
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "x", _as_field("x", self.x, X_DTYPE))
        object.__setattr__(self, "y", _as_field("y", self.y, Y_DTYPE))
        object.__setattr__(self, "t", _as_field("t", self.t, T_DTYPE))
        p = np.asarray(self.p)
        if p.dtype.kind == "b":
            p = p.astype(P_DTYPE)
        elif p.dtype.kind in "iu" and p.ndim == 1:
            bad = first_bad_polarity(p)
            if bad is not None:
                i, value, signed = bad
                raise EventFieldError("p", i, value, "polarity 0 (OFF) or 1 (ON)",
                                      SIGNED_POLARITY_HINT if signed else "")
        object.__setattr__(self, "p", _as_field("p", p, P_DTYPE))
        n = len(self.x)
        if not (len(self.y) == len(self.t) == len(self.p) == n):
            raise ValueError(
                f"Events fields differ in length: x={n}, y={len(self.y)}, t={len(self.t)}, p={len(self.p)}"
            )
        object.__setattr__(self, "sensor_size", as_sensor_size(self.sensor_size))
        object.__setattr__(self, "metadata", dict(self.metadata))

    # -- basic protocol -------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.t.shape[0])

    def __getitem__(self, index: slice | np.ndarray) -> Events:
        """Slice or mask the stream; an integer index is rejected (an event is not a stream)."""
        if isinstance(index, (int, np.integer)):
            raise TypeError("index Events with a slice or mask; use .x[i], .t[i] for one event")
        return Events(
            self.x[index], self.y[index], self.t[index], self.p[index], self.sensor_size,
            self.metadata,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Events):
            return NotImplemented
        return (
            self.sensor_size == other.sensor_size
            and np.array_equal(self.x, other.x)
            and np.array_equal(self.y, other.y)
            and np.array_equal(self.t, other.t)
            and np.array_equal(self.p, other.p)
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        span = f", t=[{self.t[0]}, {self.t[-1]}] us" if len(self) else ""
        return f"Events(n={len(self)}, sensor_size={self.sensor_size}{span})"

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def _trusted(
        cls,
        x: np.ndarray,
        y: np.ndarray,
        t: np.ndarray,
        p: np.ndarray,
        sensor_size: tuple[int, int],
        metadata: dict[str, Any] | None = None,
    ) -> Events:
        """Build without checks, for readers whose kernels already emit canonical, equal-length,
        contiguous arrays. Skipping ``__post_init__`` saves microseconds per file, which is most
        of the cost of reading a small N-MNIST sample."""
        obj = object.__new__(cls)
        # The instance __dict__ set whole instead of six object.__setattr__ calls (the
        # dataclass is frozen but has no __slots__, so its fields live in that dict); a dict
        # literal costs 0.3 us less than a keyword update.
        object.__setattr__(obj, "__dict__", {
            "x": x, "y": y, "t": t, "p": p, "sensor_size": sensor_size,
            "metadata": {} if metadata is None else metadata})
        return obj

    @classmethod
    def empty(cls, sensor_size: tuple[int, int], metadata: Mapping[str, Any] | None = None) -> Events:
        z = np.zeros(0, np.int64)
        return cls(z, z, z, z, sensor_size, metadata or {})

    @classmethod
    def concatenate(cls, parts: list[Events]) -> Events:
        if not parts:
            raise ValueError("concatenate needs at least one Events")
        sizes = {e.sensor_size for e in parts}
        if len(sizes) != 1:
            raise ValueError(f"cannot concatenate streams of different sensor sizes: {sizes}")
        return cls(
            np.concatenate([e.x for e in parts]), np.concatenate([e.y for e in parts]),
            np.concatenate([e.t for e in parts]), np.concatenate([e.p for e in parts]),
            parts[0].sensor_size, parts[0].metadata,
        )

    @classmethod
    def from_structured(
        cls,
        array: np.ndarray,
        sensor_size: tuple[int, int] | None = None,
        metadata: Mapping[str, Any] | None = None,
        *,
        signed_polarity: bool = False,
    ) -> Events:
        """From a tonic-style structured array with fields x, y, t, p in any order.

        Without ``sensor_size`` the smallest sensor holding every event is used. p must be
        0/1 (or bool); with ``signed_polarity=True`` it must be -1/+1 instead and is mapped to
        0/1 (see :func:`polarity_from_signed`).
        """
        names = array.dtype.names or ()
        missing = {"x", "y", "t", "p"} - set(names)
        if missing:
            raise ValueError(f"structured array lacks fields {sorted(missing)}; has {names}")
        x, y = np.asarray(array["x"]), np.asarray(array["y"])
        if sensor_size is None:
            sensor_size = (
                int(x.max()) + 1 if x.size else 1,
                int(y.max()) + 1 if y.size else 1,
            )
        p = polarity_from_signed(array["p"]) if signed_polarity else array["p"]
        return cls(x, y, array["t"], p, sensor_size, metadata or {})

    def to_structured(self, dtype: np.dtype | None = None) -> np.ndarray:
        """To a structured array (tonic's default dtype unless given); values are range-checked."""
        dtype = TONIC_DTYPE if dtype is None else np.dtype(dtype)
        out = np.empty(len(self), dtype=dtype)
        for name in dtype.names or ():
            if name not in ("x", "y", "t", "p"):
                raise ValueError(f"unknown event field {name!r} in {dtype}")
            src = getattr(self, name)
            fdt = dtype.fields[name][0]  # type: ignore[index]
            if fdt.kind == "b":
                out[name] = src != 0
            else:
                out[name] = _as_field(name, src, fdt)
        return out

    # -- queries --------------------------------------------------------------------------
    @property
    def width(self) -> int:
        return self.sensor_size[0]

    @property
    def height(self) -> int:
        return self.sensor_size[1]

    @property
    def duration(self) -> int:
        """Last minus first timestamp in microseconds (0 for fewer than two events)."""
        return int(self.t[-1] - self.t[0]) if len(self) > 1 else 0

    def is_sorted(self) -> bool:
        return bool(len(self) < 2 or np.all(self.t[1:] >= self.t[:-1]))

    def sorted_by_time(self) -> Events:
        """Stable sort by t (events sharing a timestamp keep their file order)."""
        if self.is_sorted():
            return self
        return self[np.argsort(self.t, kind="stable")]

    def time_slice(self, start: int, end: int) -> Events:
        """Events with ``start <= t < end`` (half-open, as SpikingJelly cuts DVS Gesture)."""
        if self.is_sorted():
            lo, hi = np.searchsorted(self.t, [start, end], side="left")
            return self[lo:hi]
        return self[(self.t >= start) & (self.t < end)]

    def shifted(self, dt: int) -> Events:
        """Timestamps moved by ``dt`` microseconds (e.g. ``-t[0]`` to make them relative)."""
        return Events(self.x, self.y, self.t + np.int64(dt), self.p, self.sensor_size, self.metadata)

    def out_of_range(self) -> np.ndarray:
        """Boolean mask of events outside ``sensor_size``."""
        return (self.x >= self.sensor_size[0]) | (self.y >= self.sensor_size[1])

    def with_metadata(self, **items: Any) -> Events:
        return Events(self.x, self.y, self.t, self.p, self.sensor_size, {**self.metadata, **items})


def enforce_time_order(events: Events, on_unsorted: OnUnsorted, source: str | None = None) -> Events:
    """Apply a reader's policy for decreasing timestamps.

    ``warn`` (default of the readers): keep file order, emit NonMonotonicTimestampWarning.
    ``sort``: stable sort by t. ``error``: raise TimestampOrderError naming the first event index
    where time goes backwards. ``ignore``: keep file order silently.
    """
    if on_unsorted == "ignore" or len(events) < 2:
        return events
    back = np.flatnonzero(events.t[1:] < events.t[:-1])
    if back.size == 0:
        return events
    first = int(back[0]) + 1
    msg = (
        f"timestamps decrease at event {first} ({events.t[first - 1]} -> {events.t[first]} us), "
        f"{back.size} time(s) in total"
    )
    if on_unsorted == "error":
        raise TimestampOrderError(source, msg, row=first, expected="non-decreasing timestamps")
    if on_unsorted == "sort":
        return events[np.argsort(events.t, kind="stable")]
    if on_unsorted == "warn":
        warnings.warn(f"{source or '<memory>'}: {msg}", NonMonotonicTimestampWarning, stacklevel=3)
        return events
    raise ValueError(f"on_unsorted must be warn, sort, error or ignore; got {on_unsorted!r}")
