"""Spatio-temporal compression (STC) of an event stream into T exponentially weighted frames.

After the compression step of arXiv 2203.10006, in our own formulation (docs/preprocessing.md):
the stream ``[t0, t1)`` is cut into T windows; an event at time ``t`` in window k (end ``e_k``)
adds ``exp(-(e_k - t) / tau_s)`` to its pixel and polarity channel. ``carry=True`` also decays the
previous window's value into the next one (a first-order synapse sampled at the window ends), and
``fine_bins=M`` replaces the exact weight by that of M fine count frames per window.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from numba import njit

from ..errors import CoordinateRangeError
from ..events import Events
from ._binning import POLARITY_MODES, SIGNED, SPLIT

STCEdges = Literal["fixed", "count"]
Normalize = Literal["none", "max", "mean-std"]

_INT64_MAX = int(np.iinfo(np.int64).max)
_INT64_MIN = int(np.iinfo(np.int64).min)

# Weight modes of the kernel.
_ONES = 0  # tau_s = inf: plain counts
_FINE = 1  # quantised: weight table per (window, fine bin)
_TABLE = 2  # continuous, exp(-d/tau) = hi_tab[d >> SHIFT] * lo_tab[d & MASK]
_EXP = 3  # continuous, one exp per event (windows too long for the tables)

_SHIFT = 10
_MAX_HI_TABLE = 1 << 20


@njit(cache=True, nogil=True, inline="always")
def _deposit(flat, cell, plane, pmode, pi, w):
    # Written as selects, not branches: polarity is random from event to event.
    on = pi != 0
    offset = plane if (pmode == SPLIT and on) else 0
    sign = -1.0 if (pmode == SIGNED and not on) else 1.0
    flat[cell + offset] += sign * w


# One loop per weight mode (chosen once per window, not per event): a weight-mode branch inside
# the event loop halves the throughput.


@njit(cache=True, nogil=True, inline="always")
def _window_ones(x, y, p, start, stop, flat, base, plane, width, height, pmode):
    for i in range(start, stop):
        xi = np.int64(x[i])
        yi = np.int64(y[i])
        if xi >= width or yi >= height:
            return i
        _deposit(flat, base + yi * width + xi, plane, pmode, p[i], 1.0)
    return -1


@njit(cache=True, nogil=True, inline="always")
def _window_fine(x, y, t, p, start, stop, flat, base, plane, width, height, pmode, opens,
                 weights):
    # Events are sorted, so the fine bin index only moves forward: ``opens[j]`` is the first
    # microsecond of fine bin j (no division per event).
    last = weights.shape[0] - 1
    j = 0
    for i in range(start, stop):
        xi = np.int64(x[i])
        yi = np.int64(y[i])
        if xi >= width or yi >= height:
            return i
        ti = t[i]
        while j < last and ti >= opens[j + 1]:
            j += 1
        _deposit(flat, base + yi * width + xi, plane, pmode, p[i], weights[j])
    return -1


@njit(cache=True, nogil=True, inline="always")
def _window_table(x, y, t, p, start, stop, flat, base, plane, width, height, pmode, e_k, lo_tab,
                  hi_tab):
    mask = (1 << _SHIFT) - 1
    for i in range(start, stop):
        xi = np.int64(x[i])
        yi = np.int64(y[i])
        if xi >= width or yi >= height:
            return i
        d = e_k - t[i]
        _deposit(flat, base + yi * width + xi, plane, pmode, p[i],
                 hi_tab[d >> _SHIFT] * lo_tab[d & mask])
    return -1


@njit(cache=True, nogil=True, inline="always")
def _window_exp(x, y, t, p, start, stop, flat, base, plane, width, height, pmode, e_k, inv_tau):
    for i in range(start, stop):
        xi = np.int64(x[i])
        yi = np.int64(y[i])
        if xi >= width or yi >= height:
            return i
        _deposit(flat, base + yi * width + xi, plane, pmode, p[i],
                 math.exp(-float(e_k - t[i]) * inv_tau))
    return -1


@njit(cache=True, nogil=True)
def _stc_accumulate(x, y, t, p, lo, hi, end, acc, pmode, wmode, inv_tau, fine_opens,
                    fine_weights, lo_tab, hi_tab):
    """acc[k] += weight of every event with index in [lo[k], hi[k]) (window k ends at end[k]).
    Returns the index of the first event outside the sensor, or -1."""
    n_win, n_ch, height, width = acc.shape
    plane = height * width
    flat = acc.reshape(-1)
    for k in range(n_win):
        base = k * n_ch * plane
        if wmode == _ONES:
            bad = _window_ones(x, y, p, lo[k], hi[k], flat, base, plane, width, height, pmode)
        elif wmode == _FINE:
            bad = _window_fine(x, y, t, p, lo[k], hi[k], flat, base, plane, width, height, pmode,
                               fine_opens[k], fine_weights[k])
        elif wmode == _TABLE:
            bad = _window_table(x, y, t, p, lo[k], hi[k], flat, base, plane, width, height, pmode,
                                end[k], lo_tab, hi_tab)
        else:
            bad = _window_exp(x, y, t, p, lo[k], hi[k], flat, base, plane, width, height, pmode,
                              end[k], inv_tau)
        if bad >= 0:
            return bad
    return -1


def _windows(events: Events, steps: int, edges: str, start_time, end_time):
    """(events in range, index ranges lo/hi, window begins, window ends) as int64 arrays."""
    n = len(events)
    if n == 0 and (start_time is None or end_time is None):
        z = np.zeros(steps, np.int64)
        return events, z, z, z, z + 1
    t0 = int(events.t[0]) if start_time is None else int(start_time)
    if end_time is None:
        if int(events.t[-1]) >= _INT64_MAX:
            raise ValueError("a timestamp of 2**63-1 leaves no room for the exclusive end time")
        t1 = int(events.t[-1]) + 1
    else:
        t1 = int(end_time)
    if not t1 > t0:
        raise ValueError(f"end_time ({t1}) must be greater than start_time ({t0})")
    if t0 < _INT64_MIN or t1 - t0 > _INT64_MAX:
        raise ValueError(f"[{t0}, {t1}) is too long: t1 - t0 must fit int64")
    if start_time is not None or end_time is not None:
        events = events.time_slice(t0, t1)
        n = len(events)
    if edges == "fixed":
        span = t1 - t0
        # b_k = t0 + ceil(k D / T): the window of t is floor((t - t0) T / D)
        bounds = np.array([t0 - (-k * span // steps) for k in range(steps + 1)], dtype=np.int64)
        begin, end = bounds[:-1].copy(), bounds[1:].copy()
        idx = np.searchsorted(events.t, bounds).astype(np.int64)
        return events, idx[:-1].copy(), idx[1:].copy(), begin, end
    if edges == "count":
        per = n // steps
        lo = np.arange(steps, dtype=np.int64) * per
        hi = lo + per
        hi[-1] = n
        # Window k ends where window k+1 starts: at its first event, or at t1 for the last.
        end = np.full(steps, t1, dtype=np.int64)
        inside = hi < n
        end[inside] = events.t[hi[inside]]
        begin = np.concatenate([[t0], end[:-1]]).astype(np.int64)
        return events, lo, hi, begin, end
    raise ValueError(f"edges must be 'fixed' or 'count', got {edges!r}")


def _fine_tables(begin, end, m: int, inv_tau: float) -> tuple[np.ndarray, np.ndarray]:
    """First microsecond of each fine bin and its weight, per window.

    Fine bin j of window [b, e) (length L) holds ``b + j L / M <= t < b + (j+1) L / M``, i.e.
    starts at ``b + ceil(j L / M)``; its weight is ``lambda ** (M - 1 - j)`` with
    ``lambda = exp(-L / (M tau))``.
    """
    n = len(begin)
    opens = np.empty((n, m), np.int64)
    for k in range(n):
        b, length = int(begin[k]), int(end[k]) - int(begin[k])
        opens[k] = [b + (j * length + m - 1) // m for j in range(m)]
    back = (m - 1 - np.arange(m, dtype=np.float64))[None, :]
    dt = (end - begin).astype(np.float64)[:, None] / m
    return opens, np.exp(-back * dt * inv_tau)


def _normalized(acc: np.ndarray, normalize: str) -> np.ndarray:
    if normalize == "none":
        return acc
    if normalize == "max":
        top = acc.max() if acc.size else 0.0
        return acc / top if top > 0 else acc
    if normalize == "mean-std":
        if acc.size == 0:
            return acc
        centred = acc - acc.mean()
        sd = acc.std()
        return centred / sd if sd > 0 else centred
    raise ValueError(f"normalize must be 'none', 'max' or 'mean-std', got {normalize!r}")


def check_stc_arguments(steps, tau_s, edges, carry, fine_bins, normalize, polarity) -> None:
    """Raise ValueError / TypeError for arguments ``compress_events`` cannot take."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps <= 0:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    if isinstance(tau_s, bool) or not isinstance(tau_s, (int, float, np.integer, np.floating)):
        raise TypeError(f"tau_s must be a number of microseconds, got {tau_s!r}")
    if math.isnan(tau_s) or tau_s <= 0:
        raise ValueError(f"tau_s must be > 0 (math.inf for plain counts), got {tau_s!r}")
    if edges not in ("fixed", "count"):
        raise ValueError(f"edges must be 'fixed' or 'count', got {edges!r}")
    if not isinstance(carry, (bool, np.bool_)):
        raise TypeError(f"carry must be a bool, got {carry!r}")
    if fine_bins is not None and (isinstance(fine_bins, bool)
                                  or not isinstance(fine_bins, (int, np.integer)) or fine_bins <= 0):
        raise ValueError(f"fine_bins must be a positive integer or None, got {fine_bins!r}")
    if normalize not in ("none", "max", "mean-std"):
        raise ValueError(f"normalize must be 'none', 'max' or 'mean-std', got {normalize!r}")
    if polarity not in POLARITY_MODES:
        raise ValueError(f"polarity must be 'split', 'merge' or 'signed', got {polarity!r}")


def compress_events(
    events: Events,
    steps: int,
    *,
    tau_s: float = math.inf,
    edges: STCEdges = "fixed",
    start_time: int | None = None,
    end_time: int | None = None,
    carry: bool = False,
    fine_bins: int | None = None,
    normalize: Normalize = "none",
    polarity: Literal["split", "merge", "signed"] = "split",
) -> np.ndarray:
    """Spatio-temporal compression into a float32 array of shape ``(steps, P, H, W)``.

    Windows: ``edges="fixed"`` cuts ``[start_time, end_time)`` (default first event to last
    event + 1 us) into ``steps`` windows of equal duration (integer edges
    ``t0 + ceil(k (t1 - t0) / steps)``, so an event falls in window
    ``floor((t - t0) steps / (t1 - t0))``); ``edges="count"`` into windows of ``N // steps`` events,
    the last one taking the remainder, window k ending at the first event of window k+1.

    An event at ``t`` in window k (end ``e_k``) adds ``exp(-(e_k - t) / tau_s)`` (``tau_s`` in
    microseconds; ``math.inf`` gives plain counts). ``fine_bins=M`` uses the quantised weight
    ``lambda_k ** (M - 1 - j)`` of the fine bin j (of M equal bins of the window) holding the
    event, ``lambda_k = exp(-(e_k - b_k) / (M tau_s))``. ``carry=True`` adds
    ``exp(-(e_k - e_{k-1}) / tau_s) * I_{k-1}`` to window k. ``normalize``: "none", "max"
    (divide by the largest value if > 0) or "mean-std" (subtract the mean, divide by the
    population standard deviation if > 0), over the whole tensor. Weights and sums are computed
    in float64. An unsorted stream is sorted first (stable); the result does not depend on order
    within a timestamp.
    """
    if not isinstance(events, Events):
        raise TypeError(f"compress_events takes an Events, got {type(events).__name__}")
    check_stc_arguments(steps, tau_s, edges, carry, fine_bins, normalize, polarity)
    steps = int(steps)
    w, h = events.sensor_size
    n_ch = 2 if polarity == "split" else 1
    events = events.sorted_by_time()
    events, lo, hi, begin, end = _windows(events, steps, edges, start_time, end_time)
    inv_tau = 0.0 if math.isinf(tau_s) else 1.0 / float(tau_s)
    length = end - begin
    fine_opens = np.zeros((1, 1), np.int64)
    fine_weights = np.ones((1, 1), np.float64)
    lo_tab = hi_tab = np.ones(1, np.float64)
    if inv_tau == 0.0:
        wmode = _ONES
    elif fine_bins is not None:
        wmode = _FINE
        fine_opens, fine_weights = _fine_tables(begin, end, int(fine_bins), inv_tau)
    else:
        top = int(length.max()) >> _SHIFT if len(events) else 0
        if top < _MAX_HI_TABLE:
            wmode = _TABLE
            lo_tab = np.exp(-np.arange(1 << _SHIFT, dtype=np.float64) * inv_tau)
            hi_tab = np.exp(-(np.arange(top + 1, dtype=np.float64) * float(1 << _SHIFT)) * inv_tau)
        else:
            wmode = _EXP
    acc = np.zeros((steps, n_ch, h, w), np.float64)
    bad = _stc_accumulate(
        events.x, events.y, events.t, events.p, lo, hi, end, acc, POLARITY_MODES[polarity],
        wmode, inv_tau, fine_opens, fine_weights, lo_tab, hi_tab,
    )
    if bad >= 0:
        raise CoordinateRangeError(
            events.metadata.get("path"),
            f"event at (x={events.x[bad]}, y={events.y[bad]}) lies outside the sensor {w}x{h}",
            expected="0 <= x < width and 0 <= y < height",
        )
    if carry:
        for k in range(1, steps):
            acc[k] += math.exp(-float(end[k] - end[k - 1]) * inv_tau) * acc[k - 1]
    return np.asarray(_normalized(acc, normalize), dtype=np.float32)
