"""Numba kernels that add events into (T, P, H, W) frame stacks.

Two ways of saying which frame an event goes to:

* ``accumulate_ranges``: frame k takes the events with index in ``[lo[k], hi[k])``. Every slicing
  mode of a sorted stream ends up as such index ranges (time edges through a binary search, see
  ``_frames_kernel``); only the pixel fields are read, ``t`` is not touched.
* ``accumulate_windows``: frame k takes the events with ``lo[k] <= t < hi[k]`` (integer
  microsecond edges, both non-decreasing in k, windows may overlap), for the fixed-grid time
  modes of an unsorted stream: a forward-moving pointer, re-found by binary search where time
  goes backwards, so no sort is needed.

Counting is saturating: a cell at ``cap`` stays at ``cap`` and the overflow is counted (and the
first overflowing cell reported), which equals clipping the exact count. ``SIGNED`` adds +1 for ON
and -1 for OFF without saturation; the caller only asks for it on an accumulator that cannot
overflow (wide integers, or a dtype wide enough for the longest slice).

Both return ``(bad_event, n_overflow, first_overflow_cell, n_outside)``: ``bad_event`` is the index
of the first event outside the sensor (or -1), ``n_outside`` the number of events that fell in no
window (always 0 for ``accumulate_ranges``).

Pixel and table indices are computed as uint64 on purpose: Numba wraps negative signed indices
(a compare and add per access), which costs about a third of the throughput of these loops and
keeps LLVM from vectorising the sortedness scan.
"""

from __future__ import annotations

import numpy as np
from numba import njit

SPLIT = 0  # two channels: 0 = OFF (p == 0), 1 = ON (p != 0)
MERGE = 1  # one channel, counts of both polarities
SIGNED = 2  # one channel, ON minus OFF

POLARITY_MODES = {"split": SPLIT, "merge": MERGE, "signed": SIGNED}

_U = np.uint64
_U0 = np.uint64(0)
_ROOM_LIMIT = 1 << 62  # caps above this never limit a count of events


@njit(cache=True, nogil=True, inline="always")
def _add_event(flat, cell, plane, mode, cap, pi, n_over, first_over):
    # ``plane`` is the offset of the ON channel (0 unless SPLIT). A multiply rather than a
    # branch: polarity is random from one event to the next.
    on = pi != 0
    cell += _U(on) * plane
    if mode == SIGNED:
        flat[cell] += 1 if on else -1
    else:
        v = flat[cell]
        if v < cap:
            flat[cell] = v + 1
        else:
            n_over += 1
            if first_over < 0:
                first_over = np.int64(cell)
    return n_over, first_over


@njit(cache=True, nogil=True, inline="always")
def _add_unchecked(x, y, p, start, stop, flat, base, plane, width, height, mode):
    """Adds events ``[start, stop)`` with no saturation test (the caller knows no cell can reach
    its cap); returns the first event outside the sensor, or -1."""
    # One loop per mode, the branch outside: where this is inlined into a larger kernel, LLVM
    # does not hoist it, and a branch inside the event loop measured 2-3x slower.
    if mode == SIGNED:
        for i in range(_U(start), _U(stop)):
            xi = _U(x[i])
            yi = _U(y[i])
            if xi >= width or yi >= height:
                return np.int64(i)
            flat[base + yi * width + xi] += 1 if p[i] != 0 else -1
        return -1
    for i in range(_U(start), _U(stop)):
        xi = _U(x[i])
        yi = _U(y[i])
        if xi >= width or yi >= height:
            return np.int64(i)
        flat[base + yi * width + xi + _U(p[i] != 0) * plane] += 1
    return -1


@njit(cache=True, nogil=True, inline="always")
def _add_saturating(x, y, p, start, stop, flat, base, plane, width, height, mode, cap, n_over,
                    first_over):
    for i in range(_U(start), _U(stop)):
        xi = _U(x[i])
        yi = _U(y[i])
        if xi >= width or yi >= height:
            return np.int64(i), n_over, first_over
        n_over, first_over = _add_event(
            flat, base + yi * width + xi, plane, mode, cap, p[i], n_over, first_over
        )
    return -1, n_over, first_over


@njit(cache=True, nogil=True, inline="always")
def _largest(flat, start, size):
    """Largest value of ``flat[start:start + size]`` as int64 (0 for none)."""
    top = flat[_U(start)] if size else 0
    for c in range(_U(start), _U(start + size)):
        top = max(top, flat[c])
    return np.int64(top)


@njit(cache=True, nogil=True)
def accumulate_ranges(x, y, p, lo, hi, acc, mode, cap):
    """Frame k of ``acc`` (shape (T, P, H, W), C-contiguous, all zeros on entry) += events
    ``lo[k] <= i < hi[k]``.

    ``lo``/``hi`` are clipped to ``[0, len(x))``; an empty or reversed range adds nothing.

    Saturation is tested only where it can happen: a frame whose cells are at most ``bound``
    takes ``cap - bound`` more events with plain increments; when that room runs out the frame's
    true maximum is looked up, and only a frame whose room stays too small to pay for that scan
    (under an eighth of its cells) counts the rest with a saturation test. The counts, the
    overflow count and the first overflowing cell are those of testing every event.
    """
    n = x.shape[0]
    n_frames, n_ch, height, width = acc.shape
    fsize = n_ch * height * width
    uwidth, uheight = _U(width), _U(height)
    plane = _U(height * width) if mode == SPLIT else _U0  # offset of the ON channel
    flat = acc.reshape(-1)
    limit = np.int64(cap) if cap < _ROOM_LIMIT else np.int64(_ROOM_LIMIT)
    scan_cells = max(fsize, 1)  # >= 1: a room of 0 always takes the branch that scans
    n_over = 0
    first_over = -1
    for k in range(n_frames):
        i = max(lo[k], 0)
        stop = min(hi[k], n)
        base = _U(k * fsize)
        bound = 0
        exact = True
        while i < stop:
            rest = stop - i
            m = rest
            if mode != SIGNED:
                room = limit - bound
                if room < rest and room * 8 < scan_cells:
                    if not exact:
                        bound = _largest(flat, k * fsize, fsize)
                        exact = True
                        continue
                    bad, n_over, first_over = _add_saturating(
                        x, y, p, i, stop, flat, base, plane, uwidth, uheight, mode, cap, n_over,
                        first_over
                    )
                    if bad >= 0:
                        return bad, n_over, first_over, 0
                    break
                m = min(rest, room)
            bad = _add_unchecked(x, y, p, i, i + m, flat, base, plane, uwidth, uheight, mode)
            if bad >= 0:
                return bad, n_over, first_over, 0
            i += m
            bound += m
            exact = False
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
    fsize = n_ch * height * width
    uwidth, uheight = _U(width), _U(height)
    plane = _U(height * width) if mode == SPLIT else _U0  # offset of the ON channel
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
        xi = _U(x[i])
        yi = _U(y[i])
        if xi >= uwidth or yi >= uheight:
            return i, n_over, first_over, n_outside
        pixel = yi * uwidth + xi
        while k < n_frames and lo[k] <= ti:
            n_over, first_over = _add_event(
                flat, _U(k * fsize) + pixel, plane, mode, cap, p[i], n_over, first_over
            )
            k += 1
    return -1, n_over, first_over, n_outside


@njit(cache=True, nogil=True)
def first_decrease(t):
    """Index of the first event whose timestamp is smaller than its predecessor's, or -1."""
    # Blocks without an early exit inside, so that LLVM vectorises the comparison; the exact
    # index is looked for only in a block that has a decrease.
    n = _U(t.shape[0])
    block = _U(4096)
    a = _U(1)
    while a < n:
        b = min(a + block, n)
        n_down = 0
        for i in range(a, b):
            n_down += t[i] < t[i - _U(1)]
        if n_down:
            for i in range(a, b):
                if t[i] < t[i - _U(1)]:
                    return np.int64(i)
        a = b
    return -1


@njit(cache=True, nogil=True, inline="always")
def ceil_frac(k, q, r, m):
    """``ceil(k * (q * m + r) / m)`` without forming the product (which may overflow): edge k
    of a span ``q * m + r`` cut into m equal parts."""
    return k * q + (k * r + m - 1) // m
