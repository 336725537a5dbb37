"""The host side of ``frames``: a :class:`~.frames.FrameConfig` in the form its kernels take,
and the calls that count a batch or one recording with it.

``frame_plan`` derives once per configuration the :class:`~._frames_kernel.FramePlan` and, where
they do not depend on the recording, the slice edges. Per batch, GIL-free Numba calls
(``_frames_kernel.slices_batch``, then one ``_binning.accumulate_ranges`` over all frames of the
batch) lay the remaining slices, count, saturate and return a status code per sample (``run``);
``fill`` turns the codes into exceptions or reruns a sample on its own. Modes whose edges are
exact rationals or tonic's float arithmetic per recording (``edges="tonic"``, ``event_count``,
overlapping grids on the recording's own range) have their edges computed on the host per
recording (``_host_edges``, called by ``single``), then counted by the same calls.

Only the configuration's fields and derived attributes are read here; validation is
``FrameConfig``'s.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from typing import TYPE_CHECKING

import numpy as np

from ..errors import CoordinateRangeError, TimestampOrderError
from ..events import Events
from . import _frames_kernel as K
from ._binning import POLARITY_MODES, SIGNED, accumulate_ranges, first_decrease
from ._frames_kernel import FramePlan
from .common import INT64_MAX, INT64_MIN
from .packed import PackedEvents

if TYPE_CHECKING:
    from .frames import FrameConfig

#: The slicing modes with a fixed number of slices T.
BIN_MODES = ("n_time_bins", "n_event_bins")
_NO_SAMPLES = np.zeros(0, np.int64)


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
    elif cfg.edges == "fixed" and mode in BIN_MODES and not cfg.overlap:
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
def run(packed: PackedEvents, out: np.ndarray, plan: FramePlan, lo: np.ndarray,
        hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Count every sample of ``packed`` into ``out`` (C-contiguous, the output dtype), with the
    slices of ``plan`` and the given edges ``lo`` / ``hi`` ([R, T]); returns the status code
    and aux value per sample. Only the first failing sample's code is meaningful beyond it:
    the counting stops there (the caller raises for it, or for an earlier one)."""
    n, n_frames = len(packed), out.shape[1]
    status = np.zeros(n, np.int64)
    aux = np.empty(n, np.int64)
    aux.fill(-1)
    target = out
    if out.dtype == np.float16:
        target = np.empty(out.shape, np.float32)
    x, y, t, p = packed.x, packed.y, packed.t, packed.p
    if plan.kind == K.WINDOWS:  # one unsorted recording, see _host_edges
        status[0], aux[0] = K.count_windows(x, y, t, p, lo[0], hi[0], target[0], plan.pmode,
                                            plan.int_direct, plan.exact, plan.dlo, plan.dhi,
                                            plan.raise_overflow)
    elif n_frames:
        # Everything that does not depend on the slices is set up before the sortedness scan:
        # after it (the caches full of timestamps) each small NumPy call measured several
        # times slower (a max over one value: 30 us instead of 3). On 2M events the Python
        # work of this function went from about 110 to 60 us.
        all_lo = np.zeros(n * n_frames, np.int64)
        all_hi = np.zeros(n * n_frames, np.int64)
        longest = np.zeros(n, np.int64)
        flat = target.reshape(n * n_frames, *target.shape[2:])
        cap = plan.dhi if plan.int_direct else INT64_MAX
        exact = min(plan.exact, plan.dhi)
        if plan.kind in (K.GRID, K.TIMES, K.SJ_TIME) \
                or plan.kind == K.EVENT_BINS and (plan.has_start or plan.has_end):
            unsorted = K.unsorted_samples(t, packed.offsets)
        else:  # the slices do not need sorted timestamps
            unsorted = np.zeros(n, np.bool_)
        top = K.slices_batch(t, packed.offsets, unsorted, plan, lo, hi, all_lo, all_hi,
                             longest, status)
        # Straight into the output where no count can go wrong there: saturating increments
        # (integer dtype, not "signed"), or no slice longer than the dtype holds exactly; else
        # counted apart in int64 and saturated (rare: "signed", floats, huge slices).
        wide = _NO_SAMPLES
        if not plan.int_direct and top > exact:
            wide = np.flatnonzero((longest > exact) & (status == K.OK))
        main_hi = all_hi
        if wide.size:
            main_hi = all_hi.copy().reshape(n, n_frames)
            main_hi[wide] = all_lo.reshape(n, n_frames)[wide]
            main_hi = main_hi.reshape(-1)
        # Zeroed here, not frame by frame in the counting loop: there the loop measured 2x
        # slower (so did every variant that called it from inside another kernel); and not
        # before the sortedness scan, which would push the zeroed cells out of the cache
        # (allocating the output with np.zeros measured 3% slower on 2M events).
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


def fill(cfg: FrameConfig, packed: PackedEvents, out: np.ndarray, metadata: dict | None
         ) -> None:
    """The batchable path: one kernel call; samples handed back are recomputed on their own
    (sorted, or with host edges) or raise."""
    lo, hi = cfg._edges
    status, aux = run(packed, out, cfg._plan, lo, hi)
    if not status.any():
        return
    for k in np.flatnonzero(status):
        events = packed.sample(int(k), metadata)
        code = int(status[k])
        if code != K.UNSORTED:
            raise _error(cfg, code, int(aux[k]), events, out.shape[1:])
        out[k] = single(cfg, events)


def single(cfg: FrameConfig, events: Events) -> np.ndarray:
    """One recording with host edges (every mode works this way; the batchable ones take it only
    for a sample the batch kernel handed back)."""
    w, h = events.sensor_size
    events, kind, lo, hi = _host_edges(cfg, events)
    shape = (1, lo.shape[1], cfg.n_channels, h, w)
    out = np.empty(shape, cfg.output_dtype)
    status, aux = run(PackedEvents.single(events), out, cfg._plan._replace(kind=kind), lo, hi)
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
            return single(replace(cfg, start_time=start, end_time=end), events)
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
            z = np.zeros((1, int(value) if mode in BIN_MODES else 1), np.int64)
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
