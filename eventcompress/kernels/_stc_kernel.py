"""Numba kernel of spatio-temporal compression: every sample of a packed batch in one call.

``compress_batch`` loops over the samples of a :class:`~.packed.PackedEvents` chunk and does
everything per sample inside Numba (window edges, fine-bin tables, weights, carry,
normalisation, the float32 output), so a chunk costs one GIL-free call. ``compress_events`` is
a batch of one, so single calls and batches give bit-identical results. A sample the kernel
cannot finish (unsorted, or an error to report) gets a status code; the Python caller sorts it
and runs it again, or raises the matching exception.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from ._binning import MERGE, SIGNED, ceil_frac, first_decrease
from .common import INT64_MAX
from .packed import array_at

_U = np.uint64

# Status codes per sample.
OK = 0
UNSORTED = 1  # timestamps decrease: sort (stable) and run again
OUTSIDE = 2  # event outside the sensor; aux = its index within the sample
LAST_IS_MAX = 3  # t[-1] == 2**63 - 1 and no end_time: no room for the exclusive end
EMPTY_RANGE = 4  # end_time <= start_time
TOO_LONG = 5  # end_time - start_time does not fit int64

# Weight modes (chosen per sample and window, not per event).
_ONES = 0  # tau_s = inf: plain counts
_FINE = 1  # quantised: weight table per fine bin of the window
_TABLE = 2  # continuous, exp(-d/tau) = hi_tab[d >> SHIFT] * lo_tab[d & MASK]
_EXP = 3  # continuous, one exp per event (windows too long for the tables)

SHIFT = 10
_MAX_HI_TABLE = 1 << 20


class STCPlan(NamedTuple):
    """An ``STCConfig`` in the form the kernel takes (derived once per configuration, see
    ``stc.stc_plan``); Numba receives it as one tuple argument."""

    steps: int
    n_channels: int
    edges_count: bool
    has_start: bool
    start_time: int
    has_end: bool
    end_time: int
    inv_tau: float  # 1 / tau_s, 0 for tau_s = inf
    fine_bins: int  # 0: exact weights
    carry: bool
    normalize: int  # 0 none, 1 max, 2 mean-std
    pmode: int
    lo_tab: np.ndarray  # exp_table(1 << SHIFT, 1.0, inv_tau)


@njit(cache=True, nogil=True)
def exp_table(n, step, inv_tau):
    """``exp(-(i * step) * inv_tau)`` for i < n."""
    out = np.empty(n, np.float64)
    for i in range(n):
        out[i] = math.exp(-(float(i) * step) * inv_tau)
    return out


@njit(cache=True, nogil=True, inline="always")
def _deposit(flat, cell, plane, pi, w):
    # ``plane`` is the offset of the ON channel (0 for MERGE). A multiply, not a branch:
    # polarity is random from event to event. Indices are uint64 (see _binning). SIGNED is
    # accumulated as two channels and subtracted afterwards: a per-event sign measured about
    # 1.7x slower.
    flat[cell + _U(pi != 0) * plane] += w


# One loop per weight mode: a weight-mode branch inside the event loop halves the throughput.


@njit(cache=True, nogil=True, inline="always")
def _window_ones(x, y, p, start, stop, flat, plane, width, height):
    for i in range(_U(start), _U(stop)):
        xi = _U(x[i])
        yi = _U(y[i])
        if xi >= width or yi >= height:
            return np.int64(i)
        _deposit(flat, yi * width + xi, plane, p[i], 1.0)
    return -1


@njit(cache=True, nogil=True, inline="always")
def _window_fine(x, y, t, p, start, stop, flat, plane, width, height, opens,
                 weights):
    # Events are sorted, so the fine bin index only moves forward: ``opens[j]`` is the first
    # microsecond of fine bin j (no division per event).
    last = _U(weights.shape[0] - 1)
    j = _U(0)
    for i in range(_U(start), _U(stop)):
        xi = _U(x[i])
        yi = _U(y[i])
        if xi >= width or yi >= height:
            return np.int64(i)
        ti = t[i]
        while j < last and ti >= opens[j + _U(1)]:
            j += _U(1)
        _deposit(flat, yi * width + xi, plane, p[i], weights[j])
    return -1


@njit(cache=True, nogil=True, inline="always")
def _window_table(x, y, t, p, start, stop, flat, plane, width, height, e_k, lo_tab,
                  hi_tab):
    mask = _U((1 << SHIFT) - 1)
    shift = _U(SHIFT)
    for i in range(_U(start), _U(stop)):
        xi = _U(x[i])
        yi = _U(y[i])
        if xi >= width or yi >= height:
            return np.int64(i)
        d = _U(e_k - t[i])  # 0 < d <= window length: the tables cover it
        _deposit(flat, yi * width + xi, plane, p[i],
                 hi_tab[d >> shift] * lo_tab[d & mask])
    return -1


@njit(cache=True, nogil=True, inline="always")
def _window_exp(x, y, t, p, start, stop, flat, plane, width, height, e_k, inv_tau):
    for i in range(_U(start), _U(stop)):
        xi = _U(x[i])
        yi = _U(y[i])
        if xi >= width or yi >= height:
            return np.int64(i)
        _deposit(flat, yi * width + xi, plane, p[i],
                 math.exp(-float(e_k - t[i]) * inv_tau))
    return -1


@njit(cache=True, nogil=True)
def _windows(t, a, b, steps, edges_count, has_start, start_time, has_end, end_time, lo, hi,
             begin, end):
    """Window index ranges and times of the sorted sample t[a:b]; returns a status code."""
    n = b - a
    if n == 0 and not (has_start and has_end):
        lo[:] = a
        hi[:] = a
        begin[:] = 0
        end[:] = 1
        return OK
    t0 = start_time if has_start else t[a]
    if has_end:
        t1 = end_time
    else:
        if t[b - 1] == INT64_MAX:
            return LAST_IS_MAX
        t1 = t[b - 1] + 1
    if t1 <= t0:
        return EMPTY_RANGE
    if t0 < 0 and t1 > INT64_MAX + t0:
        return TOO_LONG
    if has_start or has_end:  # keep the events with t0 <= t < t1
        while a < b and t[a] < t0:
            a += 1
        while b > a and t[b - 1] >= t1:
            b -= 1
    span = t1 - t0
    if not edges_count:
        # b_k = t0 + ceil(k D / T): the window of t is floor((t - t0) T / D)
        q, r = span // steps, span % steps
        i = a
        for k in range(steps):
            begin[k] = t0 + ceil_frac(k, q, r, steps)
            end[k] = t0 + ceil_frac(k + 1, q, r, steps)
            lo[k] = i
            # binary search: a linear scan here would be one more pass over every event
            i += np.searchsorted(t[i:b], end[k])
            hi[k] = i
        return OK
    per = (b - a) // steps
    for k in range(steps):
        lo[k] = a + k * per
        hi[k] = lo[k] + per
    hi[steps - 1] = b
    # Window k ends where window k+1 starts: at its first event, or at t1 for the last.
    for k in range(steps):
        end[k] = t[hi[k]] if hi[k] < b else t1
        begin[k] = t0 if k == 0 else end[k - 1]
    return OK


@njit(cache=True, nogil=True)
def _finish_window(win, prev, o, signed, carry, first, decay, plane, normalize):
    """o (float32, window k of the output) = the window's value, ON minus OFF if ``signed``,
    plus ``decay`` times the previous value if ``carry`` and not ``first`` (``prev`` keeps it
    in float64). Leaves ``win`` all zeros for the next window (clearing it while it is read
    saves a separate pass). Returns what the normalisation needs, from the float64 values:
    the largest value (1) or the sum (2), else 0."""
    size = _U(o.shape[0])
    stat = -math.inf if normalize == 1 else 0.0
    # The two common cases as loops LLVM vectorises; the general one below has branches.
    if not (signed or carry or normalize):
        for c in range(size):
            o[c] = win[c]
            win[c] = 0.0
        return stat
    if carry and not (signed or normalize or first):
        for c in range(size):
            v = win[c] + decay * prev[c]
            win[c] = 0.0
            prev[c] = v
            o[c] = v
        return stat
    for c in range(size):
        v = win[c]
        win[c] = 0.0
        if signed:
            v = win[c + plane] - v
            win[c + plane] = 0.0
        if carry:
            if not first:
                v += decay * prev[c]
            prev[c] = v
        o[c] = v
        if normalize == 1:
            stat = max(stat, v)
        elif normalize == 2:
            stat += v
    return stat


@njit(cache=True, nogil=True)
def _normalize(o, normalize, stat):
    """Divide by the max (1, if positive) or standardise (2) the float32 stack ``o`` in place;
    ``stat`` is its max (1) or sum (2) from the float64 values, the spread is taken in float64."""
    size = _U(o.shape[0])
    if normalize == 1 and stat > 0:
        for i in range(size):
            o[i] = o[i] / stat
    elif normalize == 2:
        mean = stat / size
        ss = 0.0
        for i in range(size):
            d = o[i] - mean
            ss += d * d
        sd = math.sqrt(ss / size)
        for i in range(size):
            o[i] = (o[i] - mean) / sd if sd > 0 else o[i] - mean


@njit(cache=True, nogil=True)
def compress_batch(x, y, t, p, offsets, table, out, plan, status, aux):
    """out[k] = STC of sample k of the packed batch (shape (steps, P, H, W), float32), with the
    settings of ``plan`` (an ``STCPlan``).

    With a non-empty ``table`` (``packed.address_table``), sample k is read where its fields lie,
    at the addresses in ``table[k]`` (``offsets`` then only give the lengths and ``x, y, t, p``
    only the dtypes): no packed copy.

    ``status[k]`` gets a code (OK or a reason the caller must handle) and ``aux[k]`` the index
    of an event outside the sensor.
    """
    edges_count, has_start, start_time = plan.edges_count, plan.has_start, plan.start_time
    has_end, end_time, inv_tau, fine_bins = plan.has_end, plan.end_time, plan.inv_tau, plan.fine_bins
    carry, normalize, pmode, lo_tab = plan.carry, plan.normalize, plan.pmode, plan.lo_tab
    n_samples = offsets.shape[0] - 1
    steps, height, width = out.shape[1], out.shape[3], out.shape[4]
    plane = height * width
    acc_ch = 1 if pmode == MERGE else 2
    on_offset = _U(plane) if acc_ch == 2 else _U(0)
    uwidth, uheight = _U(width), _U(height)
    # One window at a time in float64 scratch that stays in cache (the deposits, ON and OFF
    # apart for SIGNED), then written out once as float32; ``prev`` holds the carried value.
    win = np.zeros(acc_ch * plane, np.float64)
    prev = np.zeros(out.shape[2] * plane, np.float64)
    dirty = False
    lo = np.empty(steps, np.int64)
    hi = np.empty(steps, np.int64)
    begin = np.empty(steps, np.int64)
    end = np.empty(steps, np.int64)
    m = max(fine_bins, 1)
    opens = np.empty(m, np.int64)
    weights = np.empty(m, np.float64)
    hi_tab = np.ones(1, np.float64)
    for s in range(n_samples):
        a, b = offsets[s], offsets[s + 1]
        xs, ys, ts, ps = x, y, t, p
        if table.shape[0]:
            n = b - a
            xs = array_at(table[s, 0], n, x)
            ys = array_at(table[s, 1], n, y)
            ts = array_at(table[s, 2], n, t)
            ps = array_at(table[s, 3], n, p)
            a, b = 0, n
        status[s] = OK
        aux[s] = -1
        if first_decrease(ts[a:b]) >= 0:
            status[s] = UNSORTED
            continue
        code = _windows(ts, a, b, steps, edges_count, has_start, start_time, has_end, end_time,
                        lo, hi, begin, end)
        if code != OK:
            status[s] = code
            continue
        n_in = hi[steps - 1] - lo[0]
        wmode = _ONES
        if inv_tau != 0.0:
            if fine_bins > 0:
                wmode = _FINE
            else:
                top = 0
                if n_in > 0:
                    for k in range(steps):
                        top = max(top, (end[k] - begin[k]) >> SHIFT)
                if top < _MAX_HI_TABLE:
                    wmode = _TABLE
                    if hi_tab.shape[0] <= top:
                        hi_tab = exp_table(max(top + 1, 2 * hi_tab.shape[0]),
                                           float(1 << SHIFT), inv_tau)
                else:
                    wmode = _EXP
        bad = -1
        o = out[s].reshape(steps, -1)
        stat = -math.inf if normalize == 1 else 0.0
        if dirty:  # the previous sample stopped in the middle of a window
            win[:] = 0.0
            dirty = False
        for k in range(steps):
            if wmode == _ONES:
                bad = _window_ones(xs, ys, ps, lo[k], hi[k], win, on_offset, uwidth, uheight)
            elif wmode == _FINE:
                # Fine bin j of window [b, e) (length L) starts at b + ceil(j L / M) and weighs
                # lambda ** (M - 1 - j), lambda = exp(-L / (M tau)).
                length = end[k] - begin[k]
                q, r = length // m, length % m
                dt = float(length) / m
                for j in range(m):
                    opens[j] = begin[k] + ceil_frac(j, q, r, m)
                    weights[j] = math.exp(-float(m - 1 - j) * dt * inv_tau)
                bad = _window_fine(xs, ys, ts, ps, lo[k], hi[k], win, on_offset, uwidth, uheight,
                                   opens, weights)
            elif wmode == _TABLE:
                bad = _window_table(xs, ys, ts, ps, lo[k], hi[k], win, on_offset, uwidth, uheight,
                                    end[k], lo_tab, hi_tab)
            else:
                bad = _window_exp(xs, ys, ts, ps, lo[k], hi[k], win, on_offset, uwidth, uheight,
                                  end[k], inv_tau)
            if bad >= 0:
                dirty = True
                break
            decay = math.exp(-float(end[k] - end[k - 1]) * inv_tau) if carry and k else 0.0
            w_stat = _finish_window(win, prev, o[k], pmode == SIGNED, carry, k == 0, decay,
                                    on_offset, normalize)
            stat = max(stat, w_stat) if normalize == 1 else stat + w_stat
        if bad >= 0:
            status[s] = OUTSIDE
            aux[s] = bad - a
            continue
        _normalize(o.reshape(-1), normalize, stat)
