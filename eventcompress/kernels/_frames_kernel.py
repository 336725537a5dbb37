"""Frames kernels: the frames of every sample of a packed batch in GIL-free Numba calls.

``slices_batch`` takes a :class:`FramePlan` (derived once per ``FrameConfig``, see
``_frames_plan.frame_plan``) saying how each sample's slices are found:

* ``GRID`` (fixed edges, ``n_time_bins`` without overlap): T equal time bins of the sample's own
  ``[t0, t1)`` (or ``start_time`` / ``end_time``), computed here in unsigned arithmetic so that
  any int64 span works;
* ``EVENT_BINS`` (fixed edges, ``n_event_bins`` without overlap): T equal index ranges of the
  events in ``[t0, t1)``;
* ``SJ_NUMBER`` / ``SJ_TIME``: SpikingJelly's ``integrate_events_by_fixed_frames_number``;
* ``TIMES``: window k holds ``lo[k] <= t < hi[k]`` for given time edges;
* ``INDICES``: window k holds events ``lo[k] <= i < hi[k]`` for given index ranges;
* ``WINDOWS``: as ``TIMES`` for an unsorted stream, each event's windows looked up
  (``_binning.accumulate_windows``) instead of sorting the stream; ``aux`` then reports the
  number of events that fell in no window (the caller widens a default grid where some did).

The edges of ``TIMES`` and ``INDICES`` are computed on the host by the functions of this
module, exact rational arithmetic for the fixed grid and tonic 1.7's own NumPy operations for
``edges="tonic"``: once per configuration where they do not depend on the recording
(``time_window`` or an overlapping grid on a given ``[start_time, end_time)``), else once per
sample (``_frames_plan._host_edges``). Counting is the same for every kind: the exact count,
saturated at the output dtype's limits.

Per batch: ``slices_batch`` lays every sample's slices and gives it a status code, one
``_binning.accumulate_ranges`` call counts all of them, ``count_wide`` recounts the samples
whose slices may pass what the dtype holds exactly, ``count_windows`` counts an unsorted
stream's time windows. A sample the kernels cannot finish (unsorted where the slicing needs
sorted timestamps, an error to report) is left to the caller in ``_frames_plan.py``, which
recomputes it with host edges or raises the matching exception.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import NamedTuple

import numpy as np
from numba import njit

from ._binning import accumulate_ranges, accumulate_windows, ceil_frac, first_decrease
from .common import INT64_MAX

GRID, EVENT_BINS, SJ_NUMBER, SJ_TIME, TIMES, INDICES, WINDOWS = range(7)

# Status codes per sample.
OK = 0
UNSORTED = 1  # timestamps decrease where the slicing needs them sorted
OUTSIDE = 2  # aux = index (within the sample) of an event outside the sensor
OVERFLOW = 3  # on_overflow="raise" and a count beyond the dtype; aux = its flat cell
NEEDS_RANGE = 4  # an empty stream with only one of start_time / end_time
LAST_IS_MAX = 5  # t[-1] == 2**63 - 1 and no end_time: no room for the exclusive end
EMPTY_RANGE = 6  # end <= start

_U = np.uint64


class FramePlan(NamedTuple):
    """A ``FrameConfig`` in the form the kernel takes (one tuple argument for Numba)."""

    kind: int
    has_start: bool
    start_time: int
    has_end: bool
    end_time: int
    pmode: int
    int_direct: bool  # count in the output with saturation (integer dtype, not "signed")
    exact: int  # largest count the output dtype reaches exactly by += 1
    dlo: int  # output dtype range, clamped to int64
    dhi: int
    raise_overflow: bool


# --------------------------------------------------------------------------------------------
# host-side edges: the fixed grid
#
# A window is a real interval [a, b) of time (or of event index); it holds the integers i with
# a <= i < b, i.e. ceil(a) <= i < ceil(b). Integer edges are therefore ceilings.


def _as_fraction(value: float | int, name: str) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(float(value)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return Fraction(value.item() if hasattr(value, "item") else value)


def overlapping_grid(start: int, length: int, n_bins: int, overlap: float
                     ) -> tuple[list[int], list[int]]:
    """``n_bins`` equal windows of length L and stride S = L (1 - overlap), the first starting at
    ``start`` and the last ending at ``start + length``: L = length / ((n - 1)(1 - overlap) + 1)
    (without overlap the kernel's ``GRID`` and ``EVENT_BINS`` lay the same edges)."""
    o = _as_fraction(overlap, "overlap")
    win = Fraction(length) / ((n_bins - 1) * (1 - o) + 1)
    stride = win * (1 - o)
    lo = [start + math.ceil(k * stride) for k in range(n_bins)]
    hi = [start + math.ceil(k * stride + win) for k in range(n_bins)]
    return lo, hi


def sliding_count(length: int, window: Fraction, stride: Fraction, include_incomplete: bool
                  ) -> int:
    """Number of windows ``[k S, k S + W)`` laid on ``[0, length)``: the complete ones, or with
    ``include_incomplete`` the fewest whose union covers the whole range."""
    if length <= 0:
        return 0
    if include_incomplete:
        return max(math.ceil((length - window) / stride) + 1, 1)
    if length < window:
        return 0
    return math.floor((length - window) / stride) + 1


def sliding_windows(start: int, length: int, window: float, overlap: float,
                    include_incomplete: bool) -> tuple[list[int], list[int]]:
    """Windows of ``window`` units every ``window - overlap`` units on ``[start, start+length)``,
    clipped to the range; see ``sliding_count`` for how many."""
    w = _as_fraction(window, "window")
    stride = w - _as_fraction(overlap, "overlap")
    n = sliding_count(length, w, stride, include_incomplete)
    end = start + length
    lo = [start + math.ceil(k * stride) for k in range(n)]
    hi = [min(start + math.ceil(k * stride + w), end) for k in range(n)]
    return lo, hi


# --------------------------------------------------------------------------------------------
# host-side edges: tonic 1.7 (ToFrame and the slicers it calls), with the same NumPy operations
# and type promotions (``//`` on integers, float ``ceil``/``floor``, ``searchsorted`` with side
# "left"), so the slices are the indices tonic would cut.


def _int_if_integral(v):
    # tonic's default overlap is the int 0; an integral float behaves the same below 2**53 us.
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def tonic_ranges(t: np.ndarray, *, time_window=None, event_count=None, n_time_bins=None,
                 n_event_bins=None, overlap=0, include_incomplete=False, start_time=None,
                 end_time=None) -> tuple[np.ndarray, np.ndarray]:
    """(start, stop) event indices of every frame as tonic.transforms.ToFrame slices a
    non-empty stream. Indices may exceed ``len(t)``; the kernel clips them like Python slicing."""
    overlap = _int_if_integral(overlap)
    n = len(t)
    if time_window is not None:
        stride = time_window - overlap
        first = t[0] if start_time is None else start_time
        last = t[-1] if end_time is None else end_time
        ratio = (last - first - time_window) / stride
        count = int((np.ceil(ratio) if include_incomplete else np.floor(ratio)) + 1)
        count = max(count, 1)
        opens = np.arange(count) * stride + first
        closes = opens + time_window
        return np.searchsorted(t, opens), np.searchsorted(t, closes)
    if event_count is not None:
        per_frame = min(event_count, n)
        stride = event_count - overlap
        ratio = (n - per_frame) / stride
        count = int((np.ceil(ratio) if include_incomplete else np.floor(ratio)) + 1)
        opens = (np.arange(count) * stride).astype(int)
        return opens, opens + per_frame
    if n_time_bins is not None:
        window = (t[-1] - t[0]) // n_time_bins * (1 + overlap)
        stride = window * (1 - overlap)
        opens = np.arange(n_time_bins) * stride + t[0]
        closes = opens + window
        return np.searchsorted(t, opens), np.searchsorted(t, closes)
    per_frame = int(n // n_event_bins * (1 + overlap))
    stride = int(per_frame * (1 - overlap))
    opens = np.arange(n_event_bins) * stride
    return opens, opens + per_frame


# --------------------------------------------------------------------------------------------
# the kernel


@njit(cache=True, nogil=True)
def count_wide(x, y, p, lo, hi, out_k, wide, pmode, dlo, dhi, raise_overflow):
    """out_k = counts of the ranges lo/hi where a count may pass what the output dtype holds
    exactly: counted in int64 (``wide``, the shape of ``out_k``), then saturated at
    ``[dlo, dhi]``; returns (status, aux)."""
    wide[:] = 0
    bad, _, _, _ = accumulate_ranges(x, y, p, lo, hi, wide, pmode, INT64_MAX)
    if bad != -1:
        return OUTSIDE, bad
    return _saturate(wide, out_k, dlo, dhi, raise_overflow)


@njit(cache=True, nogil=True)
def count_windows(x, y, t, p, lo, hi, out_k, pmode, int_direct, exact, dlo, dhi,
                  raise_overflow):
    """out_k = counts of the time windows lo/hi of a sample in any order (any event may fall in
    any window, so the longest slice is bounded by the sample); returns (status, aux), aux the
    number of events in no window when OK."""
    n = x.shape[0]
    if int_direct or (n <= exact and n <= dhi):
        out_k[:] = 0
        cap = dhi if int_direct else INT64_MAX
        bad, n_over, first_over, n_outside = accumulate_windows(x, y, t, p, lo, hi, out_k, pmode,
                                                                cap)
        if bad != -1:
            return OUTSIDE, bad
        if n_over and raise_overflow:
            return OVERFLOW, first_over
        return OK, n_outside
    wide = np.zeros(out_k.shape, np.int64)
    bad, _, _, n_outside = accumulate_windows(x, y, t, p, lo, hi, wide, pmode, INT64_MAX)
    if bad != -1:
        return OUTSIDE, bad
    code, where = _saturate(wide, out_k, dlo, dhi, raise_overflow)
    return code, n_outside if code == OK else where


@njit(cache=True, nogil=True, inline="always")
def _saturate(wide, out_k, dlo, dhi, raise_overflow):
    """out_k = wide saturated at [dlo, dhi] (OVERFLOW and the cell instead, if asked)."""
    src = wide.reshape(-1)
    dst = out_k.reshape(-1)
    for i in range(src.shape[0]):
        v = src[i]
        if v > dhi or v < dlo:
            if raise_overflow:
                return OVERFLOW, i
            v = dhi if v > dhi else dlo
        dst[i] = v
    return OK, -1


@njit(cache=True, nogil=True)
def _time_range(ts, n, plan):
    """[t0, t1) of a sorted sample: start_time / end_time, else first event to last + 1."""
    t0 = plan.start_time if plan.has_start else ts[0]
    if plan.has_end:
        return OK, t0, plan.end_time
    if ts[n - 1] == INT64_MAX:
        return LAST_IS_MAX, t0, t0
    return OK, t0, ts[n - 1] + 1


@njit(cache=True, nogil=True)
def _offset(t0, d):
    """t0 + d for 0 <= d <= t1 - t0 (as uint64), exact for any int64 t0 < t1."""
    return np.int64(_U(t0) + d)


@njit(cache=True, nogil=True)
def _slices(ts, n, plan, n_frames, edge_lo, edge_hi, lo, hi):
    """lo/hi = the index ranges (within the sample) of its frames; returns a status code."""
    kind = plan.kind
    if kind == INDICES:
        lo[:] = edge_lo
        hi[:] = edge_hi
        return OK
    if kind == SJ_NUMBER:
        step = n // n_frames
        for k in range(n_frames):
            lo[k] = k * step
            hi[k] = lo[k] + step
        hi[n_frames - 1] = n
        return OK
    # The other kinds need ts sorted (checked by the caller).
    if kind == TIMES:
        for k in range(n_frames):
            lo[k] = np.searchsorted(ts, edge_lo[k])
            hi[k] = np.searchsorted(ts, edge_hi[k])
        return OK
    if kind == SJ_TIME:
        if n == 0:
            lo[:] = 0
            hi[:] = 0
            return OK
        t0 = ts[0]
        dt = (_U(ts[n - 1]) - _U(t0)) // _U(n_frames)  # (t[-1] - t[0]) // M, any int64 span
        prev = 0
        for k in range(n_frames + 1):
            idx = np.searchsorted(ts, _offset(t0, _U(k) * dt))
            if k > 0:
                lo[k - 1] = prev
                hi[k - 1] = idx
            prev = idx
        hi[n_frames - 1] = n
        return OK
    # GRID / EVENT_BINS on the sample's [t0, t1)
    i0, i1 = 0, n
    if kind == GRID or plan.has_start or plan.has_end:
        if n == 0 and not (plan.has_start and plan.has_end):
            if kind == EVENT_BINS:
                return NEEDS_RANGE
            lo[:] = 0
            hi[:] = 0
            return OK
        code, t0, t1 = _time_range(ts, n, plan)
        if code != OK:
            return code
        if t1 <= t0:
            return EMPTY_RANGE
        if kind == GRID:
            # Bin k starts at t0 + ceil(k D / T), so the bin of t is floor((t - t0) T / D).
            span = _U(t1) - _U(t0)
            m = _U(n_frames)
            q, r = span // m, span % m
            edge = np.searchsorted(ts, t0)
            for k in range(n_frames):
                lo[k] = edge
                uk = _U(k + 1)
                edge = np.searchsorted(ts, _offset(t0, uk * q + (uk * r + m - _U(1)) // m))
                hi[k] = edge
            return OK
        i0 = np.searchsorted(ts, t0)
        i1 = np.searchsorted(ts, t1)
    m = i1 - i0
    q, r = m // n_frames, m % n_frames
    for k in range(n_frames):
        lo[k] = i0 + ceil_frac(k, q, r, n_frames)
        hi[k] = i0 + ceil_frac(k + 1, q, r, n_frames)
    return OK


@njit(cache=True, nogil=True)
def unsorted_samples(t, offsets):
    """Whether each sample's timestamps decrease somewhere. A call of its own before the
    kernel: the scan inside the kernel measured 3x slower (LLVM inlines it there and no longer
    vectorises it)."""
    out = np.empty(offsets.shape[0] - 1, np.bool_)
    for s in range(offsets.shape[0] - 1):
        out[s] = first_decrease(t[offsets[s]:offsets[s + 1]]) >= 0
    return out


@njit(cache=True, nogil=True)
def slices_batch(t, offsets, unsorted, plan, edge_lo, edge_hi, lo, hi, longest, status):
    """The slices of every sample of a packed batch as index ranges into its flat arrays:
    frame k of sample s is ``[lo[s T + k], hi[s T + k])``, clipped to the sample (empty for a
    sample that gets a status code other than OK); ``longest[s]`` its longest slice. Returns
    the longest slice of the batch (most batches need no more than that).

    ``edge_lo`` / ``edge_hi`` (R rows of T) are the given edges of the kinds ``TIMES`` and
    ``INDICES``: row s for sample s, or the one row of every sample when R == 1;
    ``unsorted = unsorted_samples(t, offsets)`` (or all False where the kind does not care).

    The counting is a call of its own (``accumulate_ranges`` over all K T frames at once, as if
    they were the frames of one stream): inlined here by LLVM, the counting loop measured 2x
    slower.
    """
    n_frames = edge_lo.shape[1]
    kind = plan.kind
    lo_s = np.empty(n_frames, np.int64)
    hi_s = np.empty(n_frames, np.int64)
    shared = edge_lo.shape[0] == 1
    top_all = 0
    for s in range(offsets.shape[0] - 1):
        a, b = offsets[s], offsets[s + 1]
        n = b - a
        status[s] = OK
        longest[s] = 0
        if n_frames == 0:
            continue
        if unsorted[s] and kind != INDICES and kind != SJ_NUMBER:
            status[s] = UNSORTED
            continue
        row = 0 if shared else s
        code = _slices(t[a:b], n, plan, n_frames, edge_lo[row], edge_hi[row], lo_s, hi_s)
        if code != OK:
            status[s] = code
            continue
        top = 0
        for k in range(n_frames):
            lo_k = a + min(max(lo_s[k], 0), n)
            hi_k = a + min(max(hi_s[k], 0), n)
            lo[s * n_frames + k] = lo_k
            hi[s * n_frames + k] = hi_k
            top = max(top, hi_k - lo_k)
        longest[s] = top
        top_all = max(top_all, top)
    return top_all
