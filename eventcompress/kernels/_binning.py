"""Numba kernels that add events into (T, P, H, W) frame stacks.

Two ways of saying which frame an event goes to:

* ``accumulate_ranges``: frame k takes the events with index in ``[lo[k], hi[k])``. Used wherever
  the slicing is defined on indices (event counts, tonic's and SpikingJelly's searchsorted slices).
  Only the pixel fields are read; ``t`` is not touched.
* ``accumulate_windows``: frame k takes the events with ``lo[k] <= t < hi[k]`` (integer
  microsecond edges, both non-decreasing in k, windows may overlap). Used by the fixed-grid time
  modes. Sorted streams are handled with a forward-moving pointer; when time goes backwards the
  pointer is re-found by binary search, so unsorted streams give the same result, only slower.

Counting is saturating: a cell at ``cap`` stays at ``cap`` and the overflow is counted (and the
first overflowing cell reported), which equals clipping the exact count. ``SIGNED`` adds +1 for ON
and -1 for OFF without saturation; the caller only asks for it on an accumulator that cannot
overflow (wide integers, or a dtype wide enough for the longest slice).

Every kernel returns ``(bad_event, n_overflow, first_overflow_cell, n_outside)``: ``bad_event`` is
the index of the first event outside the sensor (or -1), ``n_outside`` the number of events that
fell in no window.
"""

from __future__ import annotations

import numpy as np
from numba import njit

SPLIT = 0  # two channels: 0 = OFF (p == 0), 1 = ON (p != 0)
MERGE = 1  # one channel, counts of both polarities
SIGNED = 2  # one channel, ON minus OFF

POLARITY_MODES = {"split": SPLIT, "merge": MERGE, "signed": SIGNED}


@njit(cache=True, nogil=True, inline="always")
def _add_event(flat, base, plane, width, mode, cap, xi, yi, pi, n_over, first_over):
    # Selects rather than branches: polarity is random from one event to the next.
    on = pi != 0
    cell = base + yi * width + xi + (plane if (mode == SPLIT and on) else 0)
    if mode == SIGNED:
        flat[cell] += 1 if on else -1
    else:
        v = flat[cell]
        if v < cap:
            flat[cell] = v + 1
        else:
            n_over += 1
            if first_over < 0:
                first_over = cell
    return n_over, first_over


@njit(cache=True, nogil=True)
def accumulate_ranges(x, y, p, lo, hi, acc, mode, cap):
    """Frame k of ``acc`` (shape (T, P, H, W), C-contiguous) += events ``lo[k] <= i < hi[k]``.

    ``lo``/``hi`` are clipped to ``[0, len(x))``; an empty or reversed range adds nothing.
    """
    n = x.shape[0]
    n_frames, n_ch, height, width = acc.shape
    plane = height * width
    flat = acc.reshape(-1)
    n_over = 0
    first_over = -1
    for k in range(n_frames):
        base = k * n_ch * plane
        start = max(lo[k], 0)
        stop = min(hi[k], n)
        for i in range(start, stop):
            xi = np.int64(x[i])
            yi = np.int64(y[i])
            if xi >= width or yi >= height:
                return i, n_over, first_over, 0
            n_over, first_over = _add_event(
                flat, base, plane, width, mode, cap, xi, yi, p[i], n_over, first_over
            )
    return -1, n_over, first_over, 0


@njit(cache=True, nogil=True, inline="always")
def first_window_after(hi, ti):
    """Smallest k with ``hi[k] > ti`` (``len(hi)`` if none); ``hi`` is non-decreasing."""
    a = 0
    b = hi.shape[0]
    while a < b:
        m = (a + b) >> 1
        if hi[m] <= ti:
            a = m + 1
        else:
            b = m
    return a


@njit(cache=True, nogil=True)
def accumulate_windows(x, y, t, p, lo, hi, acc, mode, cap):
    """Frame k of ``acc`` += events with ``lo[k] <= t < hi[k]`` (a stream in any order)."""
    n = x.shape[0]
    n_frames, n_ch, height, width = acc.shape
    plane = height * width
    flat = acc.reshape(-1)
    n_over = 0
    first_over = -1
    n_outside = 0
    k0 = 0
    prev = np.iinfo(np.int64).min
    for i in range(n):
        ti = t[i]
        if ti < prev:
            k0 = first_window_after(hi, ti)
        else:
            while k0 < n_frames and hi[k0] <= ti:
                k0 += 1
        prev = ti
        k = k0
        if k >= n_frames or lo[k] > ti:
            n_outside += 1
            continue
        xi = np.int64(x[i])
        yi = np.int64(y[i])
        if xi >= width or yi >= height:
            return i, n_over, first_over, n_outside
        while k < n_frames and lo[k] <= ti:
            n_over, first_over = _add_event(
                flat, k * n_ch * plane, plane, width, mode, cap, xi, yi, p[i], n_over, first_over
            )
            k += 1
    return -1, n_over, first_over, n_outside


@njit(cache=True, nogil=True)
def accumulate_sorted_bins(x, y, t, p, edges, acc, mode, cap):
    """Frame k of ``acc`` += events with ``edges[k] <= t < edges[k+1]``, for a sorted stream.

    One pass that reads t, x, y, p once. Returns ``(bad_event, n_over, first_over, n_outside)``
    like the other kernels, except that ``bad_event = -2 - i`` says the stream is not sorted
    (t decreases at event i): the caller then starts again with ``accumulate_windows``.
    """
    n = x.shape[0]
    n_frames, n_ch, height, width = acc.shape
    plane = height * width
    flat = acc.reshape(-1)
    n_over = 0
    first_over = -1
    i = 0
    prev = edges[0]
    while i < n and t[i] < prev:
        if i > 0 and t[i] < t[i - 1]:
            return -2 - i, n_over, first_over, 0
        i += 1
    n_before = i
    for k in range(n_frames):
        base = k * n_ch * plane
        stop = edges[k + 1]
        while i < n:
            ti = t[i]
            if ti >= stop:
                break
            if ti < prev:
                return -2 - i, n_over, first_over, 0
            prev = ti
            xi = np.int64(x[i])
            yi = np.int64(y[i])
            if xi >= width or yi >= height:
                return i, n_over, first_over, 0
            n_over, first_over = _add_event(
                flat, base, plane, width, mode, cap, xi, yi, p[i], n_over, first_over
            )
            i += 1
    for j in range(max(i, 1), n):
        if t[j] < t[j - 1]:
            return -2 - j, n_over, first_over, 0
    return -1, n_over, first_over, n_before + n - i


@njit(cache=True, nogil=True)
def first_decrease(t):
    """Index of the first event whose timestamp is smaller than its predecessor's, or -1."""
    for i in range(1, t.shape[0]):
        if t[i] < t[i - 1]:
            return i
    return -1


@njit(cache=True, nogil=True, inline="always")
def ceil_frac(k, q, r, m):
    """``ceil(k * (q * m + r) / m)`` without forming the product (which may overflow): edge k
    of a span ``q * m + r`` cut into m equal parts."""
    return k * q + (k * r + m - 1) // m
