"""Frames of every sample of a packed batch in one Numba call (``FrameConfig.fill_batch``).

The kernel computes each sample's slice edges itself and reuses the counting kernels of
``_binning`` on views of the flat arrays, so a chunk costs one GIL-free call. Batched modes
(``T`` known from the configuration):

* ``edges="fixed"``: ``n_time_bins`` without overlap (edges from the sample's own range, or
  ``start_time``/``end_time``), ``n_time_bins`` with overlap and ``time_window`` when both
  ``start_time`` and ``end_time`` are given (the same edges for every sample), ``n_event_bins``
  without overlap;
* ``edges="spikingjelly"``: both split modes.

Anything else (``edges="tonic"``, ``n_event_bins`` or a per-sample grid with overlap, float16
output) has no plan and is computed sample by sample. Within a batch, a sample the kernel does
not finish (an unsorted stream where order matters, an error to report, an overflow with
``on_overflow="raise"``) is flagged and recomputed by ``frames`` itself, which handles or
raises. Counting is the same as in ``frames`` (the exact count clipped to the output dtype),
so both give identical arrays.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from . import _frame_slices as slices
from ._binning import (
    POLARITY_MODES,
    SIGNED,
    accumulate_ranges,
    ceil_frac,
    first_decrease,
)
from ._frame_output import _dtype_limits, _exact_limit

GRID, EDGES, EVENT_BINS, SJ_NUMBER, SJ_TIME = range(5)

_I64 = np.iinfo(np.int64)
_INT64_MAX = _I64.max


class FramePlan(NamedTuple):
    """What the batch kernel needs, computed once per ``FrameConfig``."""

    kind: int
    n_frames: int
    has_start: bool
    start_time: int
    has_end: bool
    end_time: int
    lo: np.ndarray  # fixed window opens (EDGES), else empty
    hi: np.ndarray  # fixed window closes (EDGES), else empty
    pmode: int
    int_direct: bool  # count in the output with saturation (integer dtype, not "signed")
    exact: int  # largest count the output dtype reaches exactly by += 1
    dlo: int  # output dtype range, clamped to int64
    dhi: int
    raise_overflow: bool


def frame_plan(kwargs: dict, polarity: str, dtype: np.dtype, on_overflow: str
               ) -> FramePlan | None:
    """The batch plan of validated ``frames`` arguments, or None where there is none."""
    if dtype == np.float16:
        return None  # Numba has no float16 arrays
    start, end = kwargs["start_time"], kwargs["end_time"]
    for v in (start, end):
        if v is not None and not _I64.min <= int(v) <= _I64.max:
            return None
    both = start is not None and end is not None
    overlap = kwargs["overlap"]
    empty = np.zeros(0, np.int64)
    lo = hi = empty
    if kwargs["edges"] == "spikingjelly":
        kind = SJ_TIME if kwargs["n_time_bins"] is not None else SJ_NUMBER
        n_frames = kwargs["n_time_bins"] or kwargs["n_event_bins"]
    elif kwargs["edges"] != "fixed":
        return None
    elif kwargs["n_event_bins"] is not None:
        if overlap:
            return None
        kind, n_frames = EVENT_BINS, kwargs["n_event_bins"]
    elif kwargs["n_time_bins"] is not None and not overlap:
        kind, n_frames = GRID, kwargs["n_time_bins"]
    elif both and kwargs["event_count"] is None:
        length = int(end) - int(start)
        if length <= 0:
            return None
        if kwargs["n_time_bins"] is not None:
            lo_l, hi_l = slices.overlapping_grid(int(start), length, kwargs["n_time_bins"],
                                                 overlap)
        else:
            lo_l, hi_l = slices.sliding_windows(int(start), length, kwargs["time_window"],
                                                overlap, kwargs["include_incomplete"])
        kind, n_frames = EDGES, len(lo_l)
        lo, hi = np.array(lo_l, np.int64), np.array(hi_l, np.int64)
    else:
        return None
    pmode = POLARITY_MODES[polarity]
    d_lo, d_hi = _dtype_limits(dtype)
    return FramePlan(
        kind, int(n_frames), start is not None, int(start or 0), end is not None,
        int(end or 0), lo, hi, pmode,
        pmode != SIGNED and dtype.kind in "iu", min(int(_exact_limit(dtype)), _INT64_MAX),
        int(max(d_lo, _I64.min)), int(min(d_hi, _INT64_MAX)), on_overflow == "raise",
    )


@njit(cache=True, nogil=True)
def _count(x, y, p, lo, hi, longest, out_k, wide, pmode, int_direct, exact, dlo, dhi,
           raise_overflow):
    """out_k = clipped counts of the ranges lo/hi; False if not done."""
    if int_direct or (longest <= exact and longest <= dhi):
        out_k[:] = 0
        cap = dhi if int_direct else _INT64_MAX
        bad, n_over, _, _ = accumulate_ranges(x, y, p, lo, hi, out_k, pmode, cap)
        return bad == -1 and not (n_over and raise_overflow)
    wide[:] = 0
    bad, _, _, _ = accumulate_ranges(x, y, p, lo, hi, wide, pmode, _INT64_MAX)
    if bad != -1:
        return False
    src = wide.reshape(-1)
    dst = out_k.reshape(-1)
    for i in range(src.shape[0]):
        v = src[i]
        if v > dhi or v < dlo:
            if raise_overflow:
                return False
            v = dhi if v > dhi else dlo
        dst[i] = v
    return True


@njit(cache=True, nogil=True)
def frames_batch(x, y, t, p, offsets, out, kind, has_start, start_time, has_end, end_time,
                 fixed_lo, fixed_hi, pmode, int_direct, exact, dlo, dhi, raise_overflow, done):
    """out[k] = frames of sample k; ``done[k]`` False where the caller must compute it."""
    n_frames = out.shape[1]
    wide = np.zeros(out.shape[1:], np.int64)
    lo = np.empty(n_frames, np.int64)
    hi = np.empty(n_frames, np.int64)
    for s in range(offsets.shape[0] - 1):
        a, b = offsets[s], offsets[s + 1]
        n = b - a
        xs, ys, ts, ps = x[a:b], y[a:b], t[a:b], p[a:b]
        done[s] = False
        if n_frames == 0:
            done[s] = True
            continue
        if kind == GRID or kind == EVENT_BINS:
            lo_t = 0
            hi_t = 0
            if kind == GRID or has_start or has_end:
                if n == 0 and not (has_start and has_end):
                    if kind == EVENT_BINS:
                        continue  # frames raises: no range to slice by
                    out[s] = 0
                    done[s] = True
                    continue
                if kind == EVENT_BINS and first_decrease(ts) >= 0:
                    continue
                lo_t = start_time if has_start else ts[0]
                if not has_end:
                    if ts[n - 1] == _INT64_MAX or (not has_start and ts[n - 1] < ts[0]):
                        continue
                    hi_t = ts[n - 1] + 1
                else:
                    hi_t = end_time
                if hi_t <= lo_t or (lo_t < 0 and hi_t > _INT64_MAX + lo_t):
                    continue
            if kind == GRID:
                # On a sorted stream each time bin is an index range (an unsorted one is left
                # to the caller, as the one-sample path handles any order).
                if first_decrease(ts) >= 0:
                    continue
                span = hi_t - lo_t
                q, r = span // n_frames, span % n_frames
                edge = np.searchsorted(ts, lo_t)
                for k in range(n_frames):
                    lo[k] = edge
                    edge = np.searchsorted(ts, lo_t + ceil_frac(k + 1, q, r, n_frames))
                    hi[k] = edge
            else:
                i0, i1 = 0, n
                if has_start or has_end:
                    i0 = np.searchsorted(ts, lo_t)
                    i1 = np.searchsorted(ts, hi_t)
                m = i1 - i0
                q, r = m // n_frames, m % n_frames
                for k in range(n_frames):
                    lo[k] = i0 + ceil_frac(k, q, r, n_frames)
                    hi[k] = i0 + ceil_frac(k + 1, q, r, n_frames)
        elif kind == EDGES:
            if first_decrease(ts) >= 0:
                continue
            for k in range(n_frames):
                lo[k] = np.searchsorted(ts, fixed_lo[k])
                hi[k] = np.searchsorted(ts, fixed_hi[k])
        elif kind == SJ_NUMBER:
            step = n // n_frames
            for k in range(n_frames):
                lo[k] = k * step
                hi[k] = lo[k] + step
            hi[n_frames - 1] = n
        else:  # SJ_TIME
            if n == 0:
                lo[:] = 0
                hi[:] = 0
            else:
                t0 = ts[0]
                if first_decrease(ts) >= 0 or (t0 < 0 and ts[n - 1] > _INT64_MAX + t0):
                    continue
                dt = (ts[n - 1] - t0) // n_frames
                prev = 0
                for k in range(n_frames + 1):
                    idx = np.searchsorted(ts, t0 + k * dt)
                    if k > 0:
                        lo[k - 1] = prev
                        hi[k - 1] = idx
                    prev = idx
                hi[n_frames - 1] = n
        longest = 0
        for k in range(n_frames):
            longest = max(longest, min(hi[k], n) - max(lo[k], 0))
        done[s] = _count(xs, ys, ps, lo, hi, longest, out[s], wide, pmode, int_direct, exact,
                         dlo, dhi, raise_overflow)
