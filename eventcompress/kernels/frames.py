"""Event frames: per-pixel event counts in a stack of time (or event-count) slices.

``frames`` returns an array of shape ``(T, P, H, W)``; see docs/preprocessing.md for every slicing
mode and edge policy ("fixed", "tonic", "spikingjelly"), the polarity channels and how counts
that do not fit the output dtype are handled.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ..errors import CoordinateRangeError, TimestampOrderError
from ..events import Events
from . import _frame_slices as slices
from ._binning import (
    POLARITY_MODES,
    accumulate_ranges,
    accumulate_windows,
    first_decrease,
)
from ._frame_output import Accumulator, check_output_dtype, n_channels

Polarity = Literal["split", "merge", "signed"]
Edges = Literal["fixed", "tonic", "spikingjelly"]
OnOverflow = Literal["saturate", "raise"]

_INT64_MAX = int(np.iinfo(np.int64).max)
_INT64_MIN = int(np.iinfo(np.int64).min)


def _check_common(polarity: str, on_overflow: str) -> int:
    if on_overflow not in ("saturate", "raise"):
        raise ValueError(f"on_overflow must be 'saturate' or 'raise', got {on_overflow!r}")
    n_channels(polarity)
    return POLARITY_MODES[polarity]


def _coordinate_error(events: Events, i: int) -> CoordinateRangeError:
    return CoordinateRangeError(
        events.metadata.get("path"),
        f"event {i} at (x={events.x[i]}, y={events.y[i]}) lies outside the sensor "
        f"{events.sensor_size[0]}x{events.sensor_size[1]}",
        row=i,
        expected="0 <= x < width and 0 <= y < height",
    )


def _run_ranges(events: Events, lo, hi, acc: Accumulator) -> np.ndarray:
    lo = np.ascontiguousarray(lo, dtype=np.int64)
    hi = np.ascontiguousarray(hi, dtype=np.int64)
    bad, n_over, first_over, _ = accumulate_ranges(
        events.x, events.y, events.p, lo, hi, acc.buf, acc.mode, acc.cap
    )
    if bad >= 0:
        raise _coordinate_error(events, bad)
    return acc.finish(n_over, first_over)


def _longest(lo, hi, n: int) -> int:
    """The most events any one slice ``[lo[k], hi[k])`` (clipped to ``[0, n)``) holds."""
    lo = lo.tolist() if isinstance(lo, np.ndarray) else lo
    hi = hi.tolist() if isinstance(hi, np.ndarray) else hi
    return max([0, *(min(b, n) - max(a, 0) for a, b in zip(lo, hi))])


def _one_mode(time_window, event_count, n_time_bins, n_event_bins) -> str:
    given = {
        "time_window": time_window, "event_count": event_count,
        "n_time_bins": n_time_bins, "n_event_bins": n_event_bins,
    }
    chosen = [k for k, v in given.items() if v is not None]
    if len(chosen) != 1:
        raise ValueError(
            "give exactly one of time_window, event_count, n_time_bins, n_event_bins; "
            f"got {chosen or 'none'}"
        )
    mode = chosen[0]
    value = given[mode]
    if mode == "time_window":
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                or not np.isfinite(value) or value <= 0:
            raise ValueError(f"time_window must be a positive number of microseconds, got {value!r}")
    elif isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{mode} must be a positive integer, got {value!r}")
    return mode


def _check_overlap(mode: str, overlap, value) -> None:
    if isinstance(overlap, bool) or not isinstance(overlap, (int, float, np.integer, np.floating)) \
            or not np.isfinite(overlap):
        raise ValueError(f"overlap must be a finite number, got {overlap!r}")
    if mode in ("n_time_bins", "n_event_bins"):
        if not 0 <= overlap < 1:
            raise ValueError(f"overlap for {mode} is a fraction of a bin in [0, 1), got {overlap}")
    elif not 0 <= overlap < value:
        raise ValueError(f"overlap for {mode} must be in [0, {mode}={value}), got {overlap}")
    if mode == "event_count" and float(overlap) != int(overlap):
        raise ValueError(f"overlap for event_count is a number of events, got {overlap}")


def resolve_include_incomplete(include_incomplete: bool | None, edges: str, mode: str) -> bool:
    """The effective ``include_incomplete``: ``None`` keeps the shorter last slice on the fixed
    grid (so no event is dropped, tonic issue #181) and drops it with ``edges="tonic"`` (tonic's
    default); the ``n_*`` modes and SpikingJelly's rule have no incomplete slice."""
    if include_incomplete is None:
        return edges == "fixed" and mode in ("time_window", "event_count")
    return bool(include_incomplete)


def check_frame_arguments(
    *,
    n_time_bins=None,
    time_window=None,
    event_count=None,
    n_event_bins=None,
    overlap=0.0,
    include_incomplete=None,
    start_time=None,
    end_time=None,
    edges="fixed",
    polarity="split",
    dtype=np.int16,
    on_overflow="saturate",
) -> tuple[str, float | int, np.dtype]:
    """Validate the arguments of ``frames`` (ValueError naming the argument); returns the slicing
    mode, its value and the output dtype."""
    _check_common(polarity, on_overflow)
    dt = check_output_dtype(dtype, polarity)
    mode = _one_mode(time_window, event_count, n_time_bins, n_event_bins)
    value = {"time_window": time_window, "event_count": event_count,
             "n_time_bins": n_time_bins, "n_event_bins": n_event_bins}[mode]
    _check_overlap(mode, overlap, value)
    if include_incomplete is not None and not isinstance(include_incomplete, (bool, np.bool_)):
        raise ValueError(f"include_incomplete must be True, False or None, got {include_incomplete!r}")
    if include_incomplete and mode in ("n_time_bins", "n_event_bins"):
        raise ValueError(f"include_incomplete applies to time_window and event_count, not {mode}")
    for name, v in (("start_time", start_time), ("end_time", end_time)):
        if v is not None and (isinstance(v, bool) or not float(v).is_integer()):
            raise ValueError(f"{name} must be an integer number of microseconds, got {v!r}")
    if edges == "tonic":
        if mode != "time_window" and (start_time is not None or end_time is not None):
            raise ValueError("tonic uses start_time/end_time only with time_window")
    elif edges == "spikingjelly":
        if mode not in ("n_time_bins", "n_event_bins"):
            raise ValueError("edges='spikingjelly' takes n_time_bins (split by time) or "
                             f"n_event_bins (split by number), not {mode}")
        if overlap or start_time is not None or end_time is not None:
            raise ValueError("edges='spikingjelly' has no overlap, start_time or end_time")
    elif edges != "fixed":
        raise ValueError(f"edges must be 'fixed', 'tonic' or 'spikingjelly', got {edges!r}")
    return mode, value, dt


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
    """
    if not isinstance(events, Events):
        raise TypeError(f"frames takes an Events, got {type(events).__name__}")
    mode, value, dt = check_frame_arguments(
        n_time_bins=n_time_bins, time_window=time_window, event_count=event_count,
        n_event_bins=n_event_bins, overlap=overlap, include_incomplete=include_incomplete,
        start_time=start_time, end_time=end_time, edges=edges, polarity=polarity, dtype=dtype,
        on_overflow=on_overflow,
    )
    include_incomplete = resolve_include_incomplete(include_incomplete, edges, mode)
    pmode = POLARITY_MODES[polarity]
    w, h = events.sensor_size
    n_ch = n_channels(polarity)
    if edges == "fixed":
        return _frames_fixed(events, mode, value, overlap, include_incomplete, start_time,
                             end_time, dt, pmode, on_overflow)
    if edges == "tonic":
        if len(events) == 0:
            n_frames = value if mode in ("n_time_bins", "n_event_bins") else 1
            return np.zeros((n_frames, n_ch, h, w), dt)
        lo, hi = slices.tonic_ranges(
            events.t, **{mode: value}, overlap=overlap, include_incomplete=include_incomplete,
            start_time=start_time, end_time=end_time,
        )
    else:
        return frames_spikingjelly(
            events, value, "time" if mode == "n_time_bins" else "number",
            polarity=polarity, dtype=dt, on_overflow=on_overflow,
        )
    acc = Accumulator((len(lo), n_ch, h, w), dt, pmode, _longest(lo, hi, len(events)), on_overflow)
    return _run_ranges(events, lo, hi, acc)


def _time_range(events: Events, start_time, end_time) -> tuple[int, int]:
    """The [start, end) grid of fixed mode: given, or first event to last event + 1 us."""
    n = len(events)
    if (start_time is None or end_time is None) and n == 0:
        raise ValueError("an empty stream needs start_time and end_time to lay out time slices")
    first, last = (int(events.t[0]), int(events.t[-1])) if n else (0, 0)
    if start_time is None and end_time is None and last < first:
        first, last = int(events.t.min()), int(events.t.max())  # plainly unsorted
    start = first if start_time is None else int(start_time)
    if end_time is None:
        if last >= _INT64_MAX:
            raise ValueError("a timestamp of 2**63-1 leaves no room for the exclusive end time")
        end = last + 1
    else:
        end = int(end_time)
    if not end > start:
        raise ValueError(f"end_time ({end}) must be greater than start_time ({start})")
    if start < _INT64_MIN or end > _INT64_MAX:
        raise ValueError(f"[start_time, end_time) = [{start}, {end}) does not fit int64")
    return start, end


def _frames_fixed(events, mode, value, overlap, include_incomplete, start_time, end_time, dt,
                  pmode, on_overflow) -> np.ndarray:
    w, h = events.sensor_size
    n_ch = 2 if pmode == 0 else 1
    if mode in ("event_count", "n_event_bins"):
        if start_time is not None or end_time is not None:
            events = events.time_slice(*_time_range(events, start_time, end_time))
        n = len(events)
        if mode == "n_event_bins":
            lo, hi = slices.overlapping_grid(0, n, value, overlap)
        else:
            lo, hi = slices.sliding_windows(0, n, value, overlap, include_incomplete)
        acc = Accumulator((len(lo), n_ch, h, w), dt, pmode, _longest(lo, hi, n), on_overflow)
        return _run_ranges(events, lo, hi, acc)

    if len(events) == 0 and mode == "n_time_bins" and (start_time is None or end_time is None):
        return np.zeros((value, n_ch, h, w), dt)
    start, end = _time_range(events, start_time, end_time)
    if mode == "n_time_bins":
        lo, hi = slices.overlapping_grid(start, end - start, value, overlap)
    else:
        lo, hi = slices.sliding_windows(start, end - start, value, overlap, include_incomplete)
    lo_a, hi_a = np.array(lo, dtype=np.int64), np.array(hi, dtype=np.int64)
    n = len(events)
    if first_decrease(events.t) < 0:
        # On a sorted stream every window is an index range: a binary search per edge, then
        # a loop over events with no per-event time test (measured faster than one pass that
        # compares each t with the next edge, see docs/benchmarks.md).
        lo_i, hi_i = np.searchsorted(events.t, lo_a), np.searchsorted(events.t, hi_a)
        acc = Accumulator((len(lo), n_ch, h, w), dt, pmode, _longest(lo_i, hi_i, n), on_overflow)
        return _run_ranges(events, lo_i, hi_i, acc)
    # Unsorted stream: look up the window(s) of every event.
    acc = Accumulator((len(lo), n_ch, h, w), dt, pmode, n, on_overflow)
    bad, n_over, first_over, n_outside = accumulate_windows(
        events.x, events.y, events.t, events.p, lo_a, hi_a, acc.buf, acc.mode, acc.cap
    )
    if bad >= 0:
        raise _coordinate_error(events, bad)
    if n_outside and (start_time is None or end_time is None):
        # A default edge comes from t[0] / t[-1]; an unsorted stream can have events beyond it.
        # Lay the grid on the true extent so that no event is dropped.
        t_min, t_max = int(events.t.min()), int(events.t.max())
        if start_time is None and t_min < start or end_time is None and t_max >= end:
            return _frames_fixed(
                events, mode, value, overlap, include_incomplete,
                t_min if start_time is None else start_time,
                t_max + 1 if end_time is None else end_time, dt, pmode, on_overflow,
            )
    return acc.finish(n_over, first_over)


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
    """
    if not isinstance(events, Events):
        raise TypeError(f"frames_spikingjelly takes an Events, got {type(events).__name__}")
    pmode = _check_common(polarity, on_overflow)
    dt = check_output_dtype(dtype, polarity)
    if isinstance(frames_number, bool) or not isinstance(frames_number, (int, np.integer)) \
            or frames_number <= 0:
        raise ValueError(f"frames_number must be a positive integer, got {frames_number!r}")
    if split_by == "time":
        bad = first_decrease(events.t)
        if bad >= 0:
            raise TimestampOrderError(
                events.metadata.get("path"),
                f"split_by='time' needs sorted timestamps; t decreases at event {bad} "
                f"({events.t[bad - 1]} -> {events.t[bad]})",
                row=int(bad), expected="non-decreasing timestamps (use Events.sorted_by_time())",
            )
    lo, hi = slices.spikingjelly_ranges(events.t, int(frames_number), split_by)
    w, h = events.sensor_size
    acc = Accumulator((len(lo), n_channels(polarity), h, w), dt, pmode,
                       _longest(lo, hi, len(events)), on_overflow)
    return _run_ranges(events, lo, hi, acc)


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
    if n_time_bins is not None:
        return int(n_time_bins)
    if n_event_bins is not None:
        return int(n_event_bins)
    if edges == "fixed" and time_window is not None and start_time is not None \
            and end_time is not None:
        lo, _ = slices.sliding_windows(
            int(start_time), int(end_time) - int(start_time), time_window, overlap,
            resolve_include_incomplete(include_incomplete, edges, "time_window"))
        return len(lo)
    return None
