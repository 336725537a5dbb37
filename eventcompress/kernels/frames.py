"""Event frames: per-pixel event counts in a stack of time (or event-count) slices.

``frames`` returns an array of shape ``(T, P, H, W)``; see docs/preprocessing.md for every slicing
mode and edge policy ("fixed", "tonic", "spikingjelly"), the polarity channels and how counts
that do not fit the output dtype are handled.

Layers, as for STC: :class:`FrameConfig` holds and validates the settings (``frames(events,
**kw)`` is ``FrameConfig(**kw)(events)``); ``frame_plan`` derives once per configuration the
:class:`~._frames_kernel.FramePlan` and, where they do not depend on the recording, the slice
edges; per batch, GIL-free Numba calls (``_frames_kernel.slices_batch``, then one
``_binning.accumulate_ranges`` over all frames of the batch) lay the remaining slices, count,
saturate and return a status code per sample; the errors are raised here. Modes whose edges are
exact rationals or tonic's float arithmetic per recording (``edges="tonic"``, ``event_count``,
overlapping grids on the recording's own range) have their edges computed on the host per
sample (``_host_edges``), then counted by the same calls.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from typing import Any, ClassVar, Literal

import numpy as np

from ..errors import ConfigError, CoordinateRangeError, TimestampOrderError
from ..events import Events
from . import _frames_kernel as K
from ._binning import POLARITY_MODES, SIGNED, accumulate_ranges, first_decrease
from ._frames_kernel import FramePlan
from .common import INT64_MAX, INT64_MIN, set_field
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
_BIN_MODES = ("n_time_bins", "n_event_bins")


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
        inc = self.include_incomplete
        if inc is not None and not isinstance(inc, (bool, np.bool_)):
            raise ConfigError(f"must be True, False or None, got {inc!r}", source=src,
                              key="include_incomplete")
        if inc and mode in _BIN_MODES:
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
            if mode not in _BIN_MODES:
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
        # Not fields: derived once here so that calls skip validation.
        plan, lo, hi = frame_plan(self)
        set_field(self, "_plan", plan)
        set_field(self, "_edges", (lo, hi))

    # -- what the settings mean ----------------------------------------------------------------
    @property
    def mode(self) -> str:
        """The one slicing field given: "time_window", "event_count", "n_time_bins" or
        "n_event_bins"."""
        return next(n for n in _MODES if getattr(self, n) is not None)

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
        if self.mode in _BIN_MODES:
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
            _fill(self, PackedEvents.single(events), out, events.metadata)
            return out[0]
        return _single(self, events)

    def fill_batch(self, packed: PackedEvents, out: np.ndarray) -> None:
        """``out[k] = self(packed.sample(k))`` for every sample of the packed batch: one
        GIL-free Numba call per batch where ``batchable``, else one per sample."""
        check_out(self, out, len(packed), packed.sensor_size)
        if not self.batchable:
            for k in range(len(packed)):
                out[k] = _single(self, packed.sample(k))
            return
        into_contiguous(out, lambda target: _fill(self, packed, target, None))


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
    if mode in _BIN_MODES:
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


# -- the plan --------------------------------------------------------------------------------
@cache
def _dtype_limits(dt: np.dtype) -> tuple[int, int]:
    """The range of ``dt`` clamped to int64, and the largest count ``+= 1`` reaches exactly."""
    if dt.kind == "f":
        info = np.finfo(dt)
        return max(int(info.min), INT64_MIN), min(int(info.max), INT64_MAX)
    info = np.iinfo(dt)
    return max(int(info.min), INT64_MIN), min(int(info.max), INT64_MAX)


def _exact_limit(dt: np.dtype) -> int:
    if dt.kind == "f":
        return min(2 ** (np.finfo(dt).nmant + 1), INT64_MAX)
    return min(int(np.iinfo(dt).max), INT64_MAX)


def _counting_dtype(dt: np.dtype) -> np.dtype:
    """What the kernel writes: the output dtype, or float32 for float16 (cast afterwards; every
    count the float16 range holds is exact in float32, so the cast rounds once, like a direct
    conversion)."""
    return np.dtype(np.float32) if dt == np.float16 else dt


def frame_plan(cfg: FrameConfig) -> tuple[FramePlan, np.ndarray | None, np.ndarray | None]:
    """The kernel's form of a (validated) configuration and its slice edges ``(lo, hi)`` as
    ``[1, T]`` arrays: empty rows where the kernel lays them itself, None where they are
    computed per recording on the host."""
    mode, value = cfg.mode, cfg.value
    start, end = cfg.start_time, cfg.end_time
    both = start is not None and end is not None
    lo = hi = None
    kind = K.INDICES
    if cfg.edges == "spikingjelly":
        kind = K.SJ_TIME if mode == "n_time_bins" else K.SJ_NUMBER
    elif cfg.edges == "fixed" and mode in _BIN_MODES and not cfg.overlap:
        kind = K.GRID if mode == "n_time_bins" else K.EVENT_BINS
    elif cfg.edges == "fixed" and mode in ("n_time_bins", "time_window") and both \
            and end > start:
        kind = K.TIMES
        if mode == "n_time_bins":
            lo_l, hi_l = K.overlapping_grid(start, end - start, value, cfg.overlap)
        else:
            lo_l, hi_l = K.sliding_windows(start, end - start, value, cfg.overlap,
                                           cfg.include_incomplete)
        lo, hi = np.array([lo_l], np.int64).reshape(1, -1), np.array([hi_l], np.int64).reshape(1, -1)
    if kind != K.INDICES and lo is None:
        n = int(value)
        lo = hi = np.zeros((1, n), np.int64)
    dt = cfg.output_dtype
    pmode = POLARITY_MODES[cfg.polarity]
    d_lo, d_hi = _dtype_limits(dt)
    plan = FramePlan(
        kind, start is not None, start or 0, end is not None, end or 0, pmode,
        pmode != SIGNED and dt.kind in "iu", _exact_limit(_counting_dtype(dt)), d_lo, d_hi,
        cfg.on_overflow == "raise",
    )
    return plan, lo, hi


# -- running the kernel ----------------------------------------------------------------------
def _run(packed: PackedEvents, out: np.ndarray, plan: FramePlan, lo: np.ndarray,
         hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Count every sample of ``packed`` into ``out`` (C-contiguous, the output dtype), with the
    slices of ``plan`` and the given edges ``lo`` / ``hi`` ([R, T]); returns the status code
    and aux value per sample. Only the first failing sample's code is meaningful beyond it:
    the counting stops there (the caller raises for it, or for an earlier one)."""
    n, n_frames = len(packed), out.shape[1]
    status = np.zeros(n, np.int64)
    aux = np.full(n, -1, np.int64)
    target = out
    if out.dtype == np.float16:
        target = np.empty(out.shape, np.float32)
    x, y, t, p = packed.x, packed.y, packed.t, packed.p
    if plan.kind == K.WINDOWS:  # one unsorted recording, see _host_edges
        status[0], aux[0] = K.count_windows(x, y, t, p, lo[0], hi[0], target[0], plan.pmode,
                                            plan.int_direct, plan.exact, plan.dlo, plan.dhi,
                                            plan.raise_overflow)
    elif n_frames:
        if plan.kind in (K.GRID, K.TIMES, K.SJ_TIME) \
                or plan.kind == K.EVENT_BINS and (plan.has_start or plan.has_end):
            unsorted = K.unsorted_samples(t, packed.offsets)
        else:  # the slices do not need sorted timestamps
            unsorted = np.zeros(n, np.bool_)
        all_lo = np.zeros(n * n_frames, np.int64)
        all_hi = np.zeros(n * n_frames, np.int64)
        longest = np.zeros(n, np.int64)
        K.slices_batch(t, packed.offsets, unsorted, plan, lo, hi, all_lo, all_hi, longest,
                       status)
        # Straight into the output where no count can go wrong there: saturating increments
        # (integer dtype, not "signed"), or no slice longer than the dtype holds exactly; else
        # counted apart in int64 and saturated (rare: "signed", floats, huge slices).
        direct = plan.int_direct | ((longest <= plan.exact) & (longest <= plan.dhi))
        wide = np.flatnonzero(~direct & (status == K.OK))
        main_hi = all_hi
        if wide.size:
            main_hi = all_hi.copy().reshape(n, n_frames)
            main_hi[wide] = all_lo.reshape(n, n_frames)[wide]
            main_hi = main_hi.reshape(-1)
        cap = plan.dhi if plan.int_direct else INT64_MAX
        flat = target.reshape(n * n_frames, *target.shape[2:])
        # Zeroed here, not frame by frame in the counting loop: there the loop measured 2x
        # slower (so did every variant that called it from inside another kernel).
        flat.fill(0)
        bad, n_over, first_over, _ = accumulate_ranges(x, y, p, all_lo, main_hi, flat,
                                                       plan.pmode, cap)
        first_bad = n
        if bad >= 0:
            first_bad = int(np.searchsorted(packed.offsets, bad, side="right")) - 1
        if n_over and plan.raise_overflow:
            cells = flat[0].size * n_frames
            s_over = int(first_over) // cells
            if s_over < first_bad:  # a bad event of the same sample is reported first
                first_bad = s_over
                status[s_over], aux[s_over] = K.OVERFLOW, int(first_over) - s_over * cells
        if bad >= 0 and status[first_bad] == K.OK:
            status[first_bad] = K.OUTSIDE
            aux[first_bad] = bad - packed.offsets[first_bad]
        if wide.size:
            buffer = np.zeros(target.shape[1:], np.int64)
            for s in wide[wide < first_bad]:
                rows = slice(s * n_frames, (s + 1) * n_frames)
                code, where = K.count_wide(x, y, p, all_lo[rows], all_hi[rows], target[s],
                                           buffer, plan.pmode, plan.dlo, plan.dhi,
                                           plan.raise_overflow)
                status[s] = code
                aux[s] = where - packed.offsets[s] if code == K.OUTSIDE else where
    if target is not out:
        out[...] = target
    return status, aux


def _fill(cfg: FrameConfig, packed: PackedEvents, out: np.ndarray, metadata: dict | None
          ) -> None:
    """The batchable path: one kernel call; samples handed back are recomputed on their own
    (sorted, or with host edges) or raise."""
    lo, hi = cfg._edges
    status, aux = _run(packed, out, cfg._plan, lo, hi)
    for k in np.flatnonzero(status):
        events = packed.sample(int(k), metadata)
        code = int(status[k])
        if code != K.UNSORTED:
            raise _error(cfg, code, int(aux[k]), events, out.shape[1:])
        out[k] = _single(cfg, events)


def _single(cfg: FrameConfig, events: Events) -> np.ndarray:
    """One recording with host edges (every mode works this way; the batchable ones take it only
    for a sample the batch kernel handed back)."""
    w, h = events.sensor_size
    events, kind, lo, hi = _host_edges(cfg, events)
    shape = (1, lo.shape[1], cfg.n_channels, h, w)
    out = np.empty(shape, cfg.output_dtype)
    status, aux = _run(PackedEvents.single(events), out, cfg._plan._replace(kind=kind), lo, hi)
    code, where = int(status[0]), int(aux[0])
    if code != K.OK:
        raise _error(cfg, code, where, events, shape[1:])
    if kind == K.WINDOWS and where and (cfg.start_time is None or cfg.end_time is None):
        # A default edge comes from t[0] / t[-1]; an unsorted stream can have events beyond
        # it. Lay the grid on the true extent so that no event is dropped.
        t_min, t_max = int(events.t.min()), int(events.t.max())
        start, end = _time_range(events, cfg.start_time, cfg.end_time)
        if cfg.start_time is None and t_min < start or cfg.end_time is None and t_max >= end:
            start = t_min if cfg.start_time is None else start
            end = t_max + 1 if cfg.end_time is None else end
            if end > INT64_MAX:
                raise ValueError(f"[start_time, end_time) = [{start}, {end}) does not fit int64")
            return _single(replace(cfg, start_time=start, end_time=end), events)
    return out[0]


def _host_edges(cfg: FrameConfig, events: Events
                ) -> tuple[Events, int, np.ndarray, np.ndarray]:
    """``(events, kind, lo, hi)``: the slices of one recording as ``[1, T]`` arrays of index
    ranges (``INDICES``) or time edges (``TIMES``, ``WINDOWS`` where unsorted) of ``events``
    (the input, or for the count modes the input cut to ``[start_time, end_time)``)."""
    mode, value, n = cfg.mode, cfg.value, len(events)

    def rows(lo, hi) -> tuple[np.ndarray, np.ndarray]:
        return (np.asarray(lo, np.int64).reshape(1, -1), np.asarray(hi, np.int64).reshape(1, -1))

    if cfg.edges == "spikingjelly":
        if mode == "n_time_bins" and first_decrease(events.t) >= 0:
            bad = int(first_decrease(events.t))
            raise TimestampOrderError(
                events.metadata.get("path"),
                f"split_by='time' needs sorted timestamps; t decreases at event {bad} "
                f"({events.t[bad - 1]} -> {events.t[bad]})",
                row=bad, expected="non-decreasing timestamps (use Events.sorted_by_time())",
            )
        z = np.zeros((1, int(value)), np.int64)
        return events, cfg._plan.kind, z, z
    if cfg.edges == "tonic":
        if n == 0:
            z = np.zeros((1, int(value) if mode in _BIN_MODES else 1), np.int64)
            return events, K.INDICES, z, z
        lo, hi = K.tonic_ranges(events.t, **{mode: value}, overlap=cfg.overlap,
                                include_incomplete=cfg.include_incomplete,
                                start_time=cfg.start_time, end_time=cfg.end_time)
        return (events, K.INDICES, *rows(lo, hi))
    start, end = cfg.start_time, cfg.end_time
    if mode in ("event_count", "n_event_bins"):
        if start is not None or end is not None:
            events = events.time_slice(*_time_range(events, start, end))
        n = len(events)
        if mode == "n_event_bins":
            lo, hi = K.overlapping_grid(0, n, value, cfg.overlap)
        else:
            lo, hi = K.sliding_windows(0, n, value, cfg.overlap, cfg.include_incomplete)
        return (events, K.INDICES, *rows(lo, hi))
    if n == 0 and mode == "n_time_bins" and (start is None or end is None):
        z = np.zeros((1, int(value)), np.int64)
        return events, K.INDICES, z, z
    t0, t1 = _time_range(events, start, end)
    if mode == "n_time_bins":
        lo, hi = K.overlapping_grid(t0, t1 - t0, value, cfg.overlap)
    else:
        lo, hi = K.sliding_windows(t0, t1 - t0, value, cfg.overlap, cfg.include_incomplete)
    # An unsorted stream: each event's windows are looked up (no sort).
    kind = K.WINDOWS if first_decrease(events.t) >= 0 else K.TIMES
    return (events, kind, *rows(lo, hi))


def _time_range(events: Events, start_time: int | None, end_time: int | None
                ) -> tuple[int, int]:
    """The [start, end) of the fixed grid: given, or first event to last event + 1 us (the
    smallest and largest timestamps where the stream is plainly unsorted)."""
    n = len(events)
    if (start_time is None or end_time is None) and n == 0:
        raise _range_error(K.NEEDS_RANGE)
    first, last = (int(events.t[0]), int(events.t[-1])) if n else (0, 0)
    if start_time is None and end_time is None and last < first:
        first, last = int(events.t.min()), int(events.t.max())
    start = first if start_time is None else start_time
    if end_time is None:
        if last >= INT64_MAX:
            raise _range_error(K.LAST_IS_MAX)
        end = last + 1
    else:
        end = end_time
    if not end > start:
        raise _range_error(K.EMPTY_RANGE, start, end)
    return start, end


def _range_error(code: int, start: int = 0, end: int = 0) -> ValueError:
    if code == K.NEEDS_RANGE:
        return ValueError("an empty stream needs start_time and end_time to lay out time slices")
    if code == K.LAST_IS_MAX:
        return ValueError("a timestamp of 2**63-1 leaves no room for the exclusive end time")
    return ValueError(f"end_time ({end}) must be greater than start_time ({start})")


def _error(cfg: FrameConfig, code: int, bad: int, events: Events, shape: tuple[int, ...]
           ) -> Exception:
    """The exception for a status code of the kernel."""
    if code == K.OUTSIDE:
        return CoordinateRangeError.outside(events.metadata.get("path"), bad, events.x[bad],
                                            events.y[bad], events.sensor_size)
    if code == K.OVERFLOW:
        lo, hi = _dtype_limits(cfg.output_dtype)
        cell = dict(zip(("frame", "channel", "y", "x"),
                        (int(v) for v in np.unravel_index(bad, shape))))
        return OverflowError(
            f"a frame count at {cell} does not fit {cfg.output_dtype} ({lo:g} to {hi:g}); use a "
            "wider dtype or on_overflow='saturate'")
    if code == K.EMPTY_RANGE:
        start = cfg.start_time if cfg.start_time is not None else int(events.t[0])
        end = cfg.end_time if cfg.end_time is not None else int(events.t[-1]) + 1
        return _range_error(code, start, end)
    return _range_error(code)


# -- the public functions --------------------------------------------------------------------
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
    return FrameConfig(n_time_bins, time_window, event_count, n_event_bins, overlap,
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
    return FrameConfig(**{mode: frames_number}, edges="spikingjelly", polarity=polarity,
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
    return FrameConfig(n_time_bins, time_window, event_count, n_event_bins, overlap,
                       include_incomplete, start_time, end_time, edges).n_frames()
