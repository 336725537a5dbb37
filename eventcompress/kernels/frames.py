"""Event frames: per-pixel event counts in a stack of time (or event-count) slices.

``frames`` returns an array of shape ``(T, P, H, W)``; see docs/preprocessing.md for every slicing
mode and edge policy ("fixed", "tonic", "spikingjelly"), the polarity channels and how counts
that do not fit the output dtype are handled.

Layers, as for STC: :class:`FrameConfig` holds and validates the settings (``frames(events,
**kw)`` is ``FrameConfig(**kw)(events)``); at construction it derives its plan (``frame_plan``,
in :mod:`._frames_plan` with the host side of a call: slice edges, the batch kernels of
:mod:`._frames_kernel`, their status codes turned into exceptions).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar, Literal

import numpy as np

from ..errors import ConfigError
from ..events import Events
from ._binning import POLARITY_MODES
from ._frames_plan import BIN_MODES, FramePlan, fill, frame_plan, single
from .common import set_field
from .packed import PackedEvents
from .registry import register_config
from .representations import (
    Representation,
    check_out,
    choice,
    integral_to_int,
    into_contiguous,
    optional_time,
    polarity_channels,
)

__all__ = ["FrameConfig", "FramePlan", "frame_count", "frame_plan", "frames",
           "frames_spikingjelly"]

Polarity = Literal["split", "merge", "signed"]
Edges = Literal["fixed", "tonic", "spikingjelly"]
OnOverflow = Literal["saturate", "raise"]

#: Output dtypes of ``frames`` (Numba has no float16: that one is counted in float32 and cast).
ALLOWED_DTYPES = tuple(
    np.dtype(d)
    for d in (np.uint8, np.uint16, np.uint32, np.int8, np.int16, np.int32, np.int64,
              np.float16, np.float32, np.float64)
)
_MODES = ("time_window", "event_count", "n_time_bins", "n_event_bins")


@register_config
@dataclass(frozen=True)
class FrameConfig(Representation):
    """Settings of ``frames`` (see there for their meaning) as a frozen, hashable configuration;
    ``cfg(events)`` returns the ``(T, P, H, W)`` array."""

    n_time_bins: int | None = None
    time_window: float | None = None
    event_count: int | None = None
    n_event_bins: int | None = None
    overlap: float = 0.0
    include_incomplete: bool | None = None
    start_time: int | None = None
    end_time: int | None = None
    edges: str = "fixed"
    polarity: str = "split"
    dtype: str = "int16"
    on_overflow: str = "saturate"

    # 2: include_incomplete defaults to None, stored resolved (True for time_window /
    # event_count on the fixed grid, where version 1 stored False and dropped the tail).
    schema_version: ClassVar[int] = 2

    def __post_init__(self) -> None:
        src = type(self).__name__
        choice(self, "on_overflow", ("saturate", "raise"))
        choice(self, "polarity", tuple(POLARITY_MODES))
        set_field(self, "dtype", _output_dtype(self.dtype, self.polarity).name)
        for name in _MODES:
            set_field(self, name, integral_to_int(getattr(self, name)))
        mode = _check_slicing(self)
        set_field(self, "_mode", mode)
        inc = self.include_incomplete
        if inc is not None and not isinstance(inc, (bool, np.bool_)):
            raise ConfigError(f"must be True, False or None, got {inc!r}", source=src,
                              key="include_incomplete")
        if inc and mode in BIN_MODES:
            raise ConfigError(f"applies to time_window and event_count, not {mode}", source=src,
                              key="include_incomplete")
        optional_time(self, "start_time")
        optional_time(self, "end_time")
        given = [n for n in ("start_time", "end_time") if getattr(self, n) is not None]
        if self.edges == "tonic":
            if mode != "time_window" and given:
                raise ConfigError("tonic uses start_time/end_time only with time_window",
                                  source=src, key=given[0])
        elif self.edges == "spikingjelly":
            if mode not in BIN_MODES:
                raise ConfigError("edges='spikingjelly' takes n_time_bins (split by time) or "
                                  f"n_event_bins (split by number), not {mode}", source=src,
                                  key="edges")
            if self.overlap or given:
                raise ConfigError("edges='spikingjelly' has no overlap, start_time or end_time",
                                  source=src, key="overlap" if self.overlap else given[0])
        elif self.edges != "fixed":
            raise ConfigError(f"must be 'fixed', 'tonic' or 'spikingjelly', got {self.edges!r}",
                              source=src, key="edges")
        # Stored resolved, so that the default and its explicit value hash alike.
        set_field(self, "include_incomplete", _resolve_include_incomplete(inc, self.edges, mode))
        # Not fields (as _mode): derived once here so that calls skip validation.
        plan, lo, hi = frame_plan(self)
        set_field(self, "_plan", plan)
        set_field(self, "_edges", (lo, hi))

    # -- what the settings mean ----------------------------------------------------------------
    @property
    def mode(self) -> str:
        """The one slicing field given: "time_window", "event_count", "n_time_bins" or
        "n_event_bins"."""
        return self._mode

    @property
    def value(self) -> int | float:
        return getattr(self, self.mode)

    @property
    def output_dtype(self) -> np.dtype:
        return np.dtype(self.dtype)

    @property
    def n_channels(self) -> int:
        return polarity_channels(self.polarity)

    @property
    def batchable(self) -> bool:
        """True when ``fill_batch`` is one kernel call per batch with no per-sample Python work:
        the kernel lays the slices itself or they are fixed by the configuration (see
        docs/preprocessing.md)."""
        return self._edges[0] is not None

    def n_frames(self) -> int | None:
        """T when it does not depend on the recording, else None."""
        if self.mode in BIN_MODES:
            return int(self.value)
        if self.mode == "time_window" and self.edges == "fixed" \
                and self.start_time is not None and self.end_time is not None:
            # No edges on an empty [start, end): no frames (a call raises).
            return 0 if self._edges[0] is None else int(self._edges[0].shape[1])
        return None

    def output_shape(self, sensor_size: tuple[int, int]) -> tuple[int, int, int, int]:
        """(T, P, H, W) for a sensor of ``(width, height)``; ConfigError when T depends on the
        recording (time_window without start and end, event_count, or a non-fixed time_window)."""
        n = self.n_frames()
        if n is None:
            raise ConfigError(
                "the number of frames depends on the recording; use n_time_bins, n_event_bins "
                "or time_window with start_time and end_time (edges='fixed') for fixed shapes",
                source=type(self).__name__,
            )
        w, h = (int(v) for v in sensor_size)
        return (n, self.n_channels, h, w)

    # -- computing -----------------------------------------------------------------------------
    def __call__(self, events: Events) -> np.ndarray:
        if not isinstance(events, Events):
            raise TypeError(f"frames takes an Events, got {type(events).__name__}")
        if self.batchable:
            out = np.empty((1, *self.output_shape(events.sensor_size)), self.output_dtype)
            fill(self, PackedEvents.single(events), out, events.metadata)
            return out[0]
        return single(self, events)

    def fill_batch(self, packed: PackedEvents, out: np.ndarray) -> None:
        """``out[k] = self(packed.sample(k))`` for every sample of the packed batch: one
        GIL-free Numba call per batch where ``batchable``, else one per sample."""
        check_out(self, out, len(packed), packed.sensor_size)
        if not self.batchable:
            for k in range(len(packed)):
                out[k] = single(self, packed.sample(k))
            return
        into_contiguous(out, lambda target: fill(self, packed, target, None))


# -- validation ------------------------------------------------------------------------------
def _output_dtype(dtype: Any, polarity: str) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in ALLOWED_DTYPES:
        raise ConfigError(f"must be one of {[d.name for d in ALLOWED_DTYPES]}, got {dtype!r}",
                          source="FrameConfig", key="dtype")
    if polarity == "signed" and dt.kind == "u":
        raise ConfigError(f"polarity='signed' gives negative values; {dt} cannot hold them",
                          source="FrameConfig", key="dtype")
    return dt


def _check_slicing(cfg: FrameConfig) -> str:
    """Check the slicing mode, its value and the overlap; returns the mode."""
    src = "FrameConfig"
    given = [n for n in _MODES if getattr(cfg, n) is not None]
    if len(given) != 1:
        raise ConfigError("give exactly one of time_window, event_count, n_time_bins, "
                          f"n_event_bins; got {given or 'none'}", source=src,
                          key=given[1] if len(given) > 1 else None)
    mode = given[0]
    value = getattr(cfg, mode)
    if mode == "time_window":
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not np.isfinite(value) or value <= 0:
            raise ConfigError(f"must be a positive number of microseconds, got {value!r}",
                              source=src, key=mode)
    elif isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"must be a positive integer, got {value!r}", source=src, key=mode)
    overlap = cfg.overlap
    if isinstance(overlap, bool) or not isinstance(overlap, (int, float, np.integer, np.floating)) \
            or not np.isfinite(overlap):
        raise ConfigError(f"must be a finite number, got {overlap!r}", source=src, key="overlap")
    overlap = float(overlap)
    set_field(cfg, "overlap", overlap)
    if mode in BIN_MODES:
        if not 0 <= overlap < 1:
            raise ConfigError(f"for {mode} is a fraction of a bin in [0, 1), got {overlap}",
                              source=src, key="overlap")
    elif not 0 <= overlap < value:
        raise ConfigError(f"for {mode} must be in [0, {mode}={value}), got {overlap}",
                          source=src, key="overlap")
    if mode == "event_count" and overlap != int(overlap):
        raise ConfigError(f"for event_count is a number of events, got {overlap}", source=src,
                          key="overlap")
    return mode


def _resolve_include_incomplete(include_incomplete: bool | None, edges: str, mode: str) -> bool:
    """The effective ``include_incomplete``: ``None`` keeps the shorter last slice on the fixed
    grid (so no event is dropped, tonic issue #181) and drops it with ``edges="tonic"`` (tonic's
    default); the ``n_*`` modes and SpikingJelly's rule have no incomplete slice."""
    if include_incomplete is None:
        return edges == "fixed" and mode in ("time_window", "event_count")
    return bool(include_incomplete)


# -- the public functions --------------------------------------------------------------------
@lru_cache(maxsize=128, typed=True)
def _cached_config(*args: Any, **kwargs: Any) -> FrameConfig:
    return FrameConfig(*args, **kwargs)


def _config(*args: Any, **kwargs: Any) -> FrameConfig:
    """``FrameConfig(*args, **kwargs)``, built once per distinct settings (``typed``: 1 and 1.0
    are told apart): the functions below take their settings per call, and validating them and
    deriving the plan costs as much as counting a recording of a few thousand events."""
    try:
        hash((args, *kwargs.values()))
    except TypeError:  # an unhashable setting: built, and refused, each time
        return FrameConfig(*args, **kwargs)
    return _cached_config(*args, **kwargs)


def frames(
    events: Events,
    *,
    n_time_bins: int | None = None,
    time_window: float | None = None,
    event_count: int | None = None,
    n_event_bins: int | None = None,
    overlap: float = 0.0,
    include_incomplete: bool | None = None,
    start_time: int | None = None,
    end_time: int | None = None,
    edges: Edges = "fixed",
    polarity: Polarity = "split",
    dtype=np.int16,
    on_overflow: OnOverflow = "saturate",
) -> np.ndarray:
    """Count events per pixel in T slices; returns an array of shape ``(T, P, H, W)``.

    Exactly one of ``n_time_bins`` (T equal time bins), ``time_window`` (slices of this many
    microseconds), ``event_count`` (slices of this many events) or ``n_event_bins`` (T slices of
    equal event counts) chooses the slicing. ``overlap`` is a fraction of a bin for the two
    ``n_*`` modes and microseconds / events for ``time_window`` / ``event_count``.

    ``edges="fixed"`` lays the slices on ``[start_time, end_time)`` (default: first event to last
    event + 1 us) without dropping events; ``edges="tonic"`` reproduces
    ``tonic.transforms.ToFrame`` exactly; ``edges="spikingjelly"`` reproduces SpikingJelly's
    ``integrate_events_by_fixed_frames_number`` (``n_time_bins`` = split by time,
    ``n_event_bins`` = split by number). ``include_incomplete=None`` (the default) keeps the
    shorter last slice of ``time_window`` / ``event_count`` on the fixed grid and drops it with
    ``edges="tonic"``, as tonic does; ``False`` drops it on the fixed grid too.

    ``polarity``: "split" (P=2, channel 0 = OFF, 1 = ON), "merge" (P=1, all events) or "signed"
    (P=1, ON - OFF). Counts beyond the range of ``dtype`` saturate, or raise OverflowError with
    ``on_overflow="raise"``.

    ``frames(events, **kw)`` is ``FrameConfig(**kw)(events)``; bad settings raise
    :class:`~eventcompress.errors.ConfigError` (a ValueError) naming the field.
    """
    return _config(n_time_bins, time_window, event_count, n_event_bins, overlap,
                   include_incomplete, start_time, end_time, edges, polarity, dtype,
                   on_overflow)(events)


def frames_spikingjelly(
    events: Events,
    frames_number: int,
    split_by: Literal["number", "time"] = "number",
    *,
    polarity: Polarity = "split",
    dtype=np.float32,
    on_overflow: OnOverflow = "saturate",
) -> np.ndarray:
    """SpikingJelly's ``integrate_events_by_fixed_frames_number``: ``(M, P, H, W)`` frames.

    "number": frame k holds events ``[k (N // M), (k+1) (N // M))``, the last frame also the
    remainder. "time": ``dt = (t[-1] - t[0]) // M``; frame k holds ``t[0] + k dt <= t <
    t[0] + (k+1) dt`` and the last frame everything after ``t[0] + (M-1) dt``. SpikingJelly
    returns float64 (and its loader float32, the default here); an empty time frame, on which
    SpikingJelly raises IndexError, is empty here. The "time" rule needs a sorted stream.
    ``frames(events, n_event_bins=M, edges="spikingjelly")`` (or ``n_time_bins``) is the same.
    """
    if split_by not in ("number", "time"):
        raise ValueError(f"split_by must be 'number' or 'time', got {split_by!r}")
    mode = "n_event_bins" if split_by == "number" else "n_time_bins"
    return _config(**{mode: frames_number}, edges="spikingjelly", polarity=polarity,
                   dtype=dtype, on_overflow=on_overflow)(events)


def frame_count(
    n_events: int | None,
    *,
    n_time_bins: int | None = None,
    time_window: float | None = None,
    event_count: int | None = None,
    n_event_bins: int | None = None,
    overlap: float = 0.0,
    include_incomplete: bool | None = None,
    start_time: int | None = None,
    end_time: int | None = None,
    edges: Edges = "fixed",
) -> int | None:
    """T of ``frames`` with these arguments when it does not depend on the recording
    (``n_events`` may be None), else None."""
    return _config(n_time_bins, time_window, event_count, n_event_bins, overlap,
                   include_incomplete, start_time, end_time, edges).n_frames()
