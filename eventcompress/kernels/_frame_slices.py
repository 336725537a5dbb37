"""Where each frame starts and ends, for the three edge policies of ``frames``.

Only small arrays (one entry per frame) are built here; the per-event work is in ``_binning``.

* fixed: exact rational arithmetic (``fractions.Fraction``) on an explicit ``[start, end)`` grid,
  so edges do not depend on float rounding however large the timestamps are.
* tonic: the arithmetic of tonic 1.7's slicers, written out with the same NumPy operations and
  type promotions (``//`` on integers, float ``ceil``/``floor``, ``searchsorted`` with side
  "left"), so the slices are the same indices tonic would cut.
* spikingjelly: ``cal_fixed_frames_number_segment_index`` of SpikingJelly, expressed as index
  ranges.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

# --------------------------------------------------------------------------------------------
# fixed grid
#
# A window is a real interval [a, b) of time (or of event index); it holds the integers i with
# a <= i < b, i.e. ceil(a) <= i < ceil(b). Integer edges are therefore ceilings, and with T
# adjacent bins on [start, start + D) the bin of t is simply floor((t - start) T / D).


def _ceil(q: Fraction) -> int:
    return math.ceil(q)


def _as_fraction(value: float | int, name: str) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(float(value)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return Fraction(value.item() if hasattr(value, "item") else value)


def overlapping_grid(start: int, length: int, n_bins: int, overlap: float) -> tuple[list[int], list[int]]:
    """``n_bins`` equal windows of length L and stride S = L (1 - overlap), the first starting at
    ``start`` and the last ending at ``start + length``: L = length / ((n - 1)(1 - overlap) + 1).
    With overlap 0 the edges are ``start + ceil(k * length / n)``.
    """
    o = _as_fraction(overlap, "overlap")
    if o == 0:
        # The same ceilings in integer arithmetic (Python ints do not overflow), about 50x
        # cheaper than Fractions: this is most of the fixed cost of a small ``frames`` call.
        edges = [start + -(-k * length // n_bins) for k in range(n_bins + 1)]
        return edges[:-1], edges[1:]
    win = Fraction(length) / ((n_bins - 1) * (1 - o) + 1)
    stride = win * (1 - o)
    lo = [start + _ceil(k * stride) for k in range(n_bins)]
    hi = [start + _ceil(k * stride + win) for k in range(n_bins)]
    return lo, hi


def sliding_count(
    length: int, window: Fraction, stride: Fraction, include_incomplete: bool
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


def sliding_windows(
    start: int, length: int, window: float, overlap: float, include_incomplete: bool
) -> tuple[list[int], list[int]]:
    """Windows of ``window`` units every ``window - overlap`` units on ``[start, start+length)``,
    clipped to the range; see ``sliding_count`` for how many."""
    w = _as_fraction(window, "window")
    stride = w - _as_fraction(overlap, "overlap")
    n = sliding_count(length, w, stride, include_incomplete)
    end = start + length
    lo = [start + _ceil(k * stride) for k in range(n)]
    hi = [min(start + _ceil(k * stride + w), end) for k in range(n)]
    return lo, hi


# --------------------------------------------------------------------------------------------
# tonic 1.7 (ToFrame and the slicers it calls)


def _int_if_integral(v):
    # tonic's default overlap is the int 0; an integral float behaves the same below 2**53 us.
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def tonic_ranges(
    t: np.ndarray,
    *,
    time_window=None,
    event_count=None,
    n_time_bins=None,
    n_event_bins=None,
    overlap=0,
    include_incomplete=False,
    start_time=None,
    end_time=None,
) -> tuple[np.ndarray, np.ndarray]:
    """(start, stop) event indices of every frame as tonic.transforms.ToFrame slices a
    non-empty stream. Indices may exceed ``len(t)``; the kernel clips them like Python slicing."""
    overlap = _int_if_integral(overlap)
    n = len(t)
    if time_window is not None:
        stride = time_window - overlap
        if not stride > 0:
            raise ValueError(f"time_window - overlap must be > 0, got {stride}")
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
        if stride <= 0:
            raise ValueError(f"event_count - overlap must be > 0, got {stride}")
        ratio = (n - per_frame) / stride
        count = int((np.ceil(ratio) if include_incomplete else np.floor(ratio)) + 1)
        opens = (np.arange(count) * stride).astype(int)
        return opens, opens + per_frame
    if n_time_bins is not None:
        if not overlap < 1:
            raise ValueError(f"overlap must be < 1 for n_time_bins, got {overlap}")
        window = (t[-1] - t[0]) // n_time_bins * (1 + overlap)
        stride = window * (1 - overlap)
        opens = np.arange(n_time_bins) * stride + t[0]
        closes = opens + window
        return np.searchsorted(t, opens), np.searchsorted(t, closes)
    if n_event_bins is not None:
        per_frame = int(n // n_event_bins * (1 + overlap))
        stride = int(per_frame * (1 - overlap))
        opens = np.arange(n_event_bins) * stride
        return opens, opens + per_frame
    raise ValueError("no slicing mode given")


# --------------------------------------------------------------------------------------------
# SpikingJelly (integrate_events_by_fixed_frames_number)


def spikingjelly_ranges(t: np.ndarray, frames_number: int, split_by: str) -> tuple[np.ndarray, np.ndarray]:
    """SpikingJelly's segment indices. "number": ``j_l = k * (N // M)``, ``j_r = j_l + N // M``,
    the last frame ends at N. "time": ``dt = (t[-1] - t[0]) // M`` (integer division), frame k
    holds ``t[0] + k dt <= t < t[0] + (k+1) dt``, the last frame everything from
    ``t[0] + (M-1) dt`` on. (SpikingJelly raises IndexError on a time frame with no events; here
    that frame is empty.)"""
    n = len(t)
    m = int(frames_number)
    if split_by == "number":
        step = n // m
        lo = np.arange(m, dtype=np.int64) * step
        hi = lo + step
        hi[-1] = n
        return lo, hi
    if split_by == "time":
        if n == 0:
            z = np.zeros(m, np.int64)
            return z, z
        dt = (int(t[-1]) - int(t[0])) // m
        opens = np.array([int(t[0]) + k * dt for k in range(m + 1)], dtype=np.int64)
        idx = np.searchsorted(t, opens, side="left").astype(np.int64)
        lo, hi = idx[:-1].copy(), idx[1:].copy()
        hi[-1] = n
        return lo, hi
    raise ValueError(f"split_by must be 'number' or 'time', got {split_by!r}")
