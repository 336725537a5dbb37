"""Numba kernels of the event-level augmentations (:mod:`.augment`): per-event random
numbers from a sample key, masks of the drop steps, jitter, noise insertion and time skew.
Every kernel loops over a packed batch (sample ``k`` at ``offsets[k]:offsets[k + 1]``)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .packed import splitmix64


@njit(cache=True, nogil=True, inline="always")
def _u(key, j):
    v = splitmix64(key ^ np.uint64(j + 1))
    return np.float64(v >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True, nogil=True, inline="always")
def _normal_pair(key, j):
    r = math.sqrt(-2.0 * math.log(1.0 - _u(key, 2 * j)))
    theta = 2.0 * math.pi * _u(key, 2 * j + 1)
    return r * math.cos(theta), r * math.sin(theta)


@njit(cache=True, nogil=True)
def drop_random_mask(offsets, keys, probability):
    keep = np.empty(offsets[-1], np.bool_)
    for k in range(offsets.shape[0] - 1):
        a = offsets[k]
        for i in range(a, offsets[k + 1]):
            keep[i] = _u(keys[k], i - a) >= probability
    return keep


@njit(cache=True, nogil=True)
def drop_window_mask(t, offsets, ratios, starts):
    # window [s, s + d] (closed, as tonic) with d = ratio * (t_max - t_min) and
    # s = t_min + start * ((t_max - t_min) - d)
    keep = np.ones(t.shape[0], np.bool_)
    for k in range(offsets.shape[0] - 1):
        a, b = offsets[k], offsets[k + 1]
        if b == a:
            continue
        lo = t[a]
        hi = t[a]
        for i in range(a, b):
            lo = min(lo, t[i])
            hi = max(hi, t[i])
        span = np.float64(hi - lo)
        duration = span * ratios[k]
        s = np.float64(lo) + starts[k] * (span - duration)
        e = s + duration
        for i in range(a, b):
            ti = np.float64(t[i])
            keep[i] = not (ti >= s and ti <= e)
    return keep


@njit(cache=True, nogil=True)
def drop_box_mask(x, y, offsets, x0, y0, w, h):
    keep = np.ones(x.shape[0], np.bool_)
    for k in range(offsets.shape[0] - 1):
        for i in range(offsets[k], offsets[k + 1]):
            inside = (x0[k] <= x[i] < x0[k] + w[k]) and (y0[k] <= y[i] < y0[k] + h[k])
            keep[i] = not inside
    return keep


@njit(cache=True, nogil=True)
def sort_segments(x, y, t, p, offsets):
    # stable sort by t within each sample (events sharing a timestamp keep their order)
    for k in range(offsets.shape[0] - 1):
        a, b = offsets[k], offsets[k + 1]
        seg = t[a:b]
        ordered = True
        for i in range(1, b - a):
            if seg[i] < seg[i - 1]:
                ordered = False
                break
        if ordered:
            continue
        order = np.argsort(seg, kind="mergesort")
        x[a:b] = x[a:b][order]
        y[a:b] = y[a:b][order]
        t[a:b] = seg[order]
        p[a:b] = p[a:b][order]


@njit(cache=True, nogil=True)
def time_jitter(t, offsets, keys, std):
    out = np.empty(t.shape[0], np.int64)
    for k in range(offsets.shape[0] - 1):
        a = offsets[k]
        for i in range(a, offsets[k + 1]):
            z, _ = _normal_pair(keys[k], i - a)
            out[i] = t[i] + np.int64(np.rint(std * z))
    return out


@njit(cache=True, nogil=True)
def spatial_jitter(x, y, offsets, keys, sigma_x, sigma_y, width, height, clamp):
    n = x.shape[0]
    ox = np.empty(n, np.uint16)
    oy = np.empty(n, np.uint16)
    keep = np.ones(n, np.bool_)
    for k in range(offsets.shape[0] - 1):
        a = offsets[k]
        for i in range(a, offsets[k + 1]):
            zx, zy = _normal_pair(keys[k], i - a)
            nx = np.int64(x[i]) + np.int64(np.rint(sigma_x * zx))
            ny = np.int64(y[i]) + np.int64(np.rint(sigma_y * zy))
            if clamp:
                nx = min(max(nx, 0), width - 1)
                ny = min(max(ny, 0), height - 1)
            elif nx < 0 or nx >= width or ny < 0 or ny >= height:
                keep[i] = False
                nx = 0
                ny = 0
            ox[i] = nx
            oy[i] = ny
    return ox, oy, keep


@njit(cache=True, nogil=True)
def add_noise(x, y, t, p, offsets, keys, n_noise, width, height):
    # sample k: its own events, then n_noise events with x, y, p uniform on the sensor and t
    # a uniform integer in [t_min, t_max]; an empty sample gets none (no time range)
    n_samples = offsets.shape[0] - 1
    new_offsets = np.zeros(n_samples + 1, np.int64)
    for k in range(n_samples):
        extra = n_noise if offsets[k + 1] > offsets[k] else 0
        new_offsets[k + 1] = new_offsets[k] + offsets[k + 1] - offsets[k] + extra
    total = new_offsets[n_samples]
    ox = np.empty(total, np.uint16)
    oy = np.empty(total, np.uint16)
    ot = np.empty(total, np.int64)
    op = np.empty(total, np.uint8)
    for k in range(n_samples):
        a, b = offsets[k], offsets[k + 1]
        j = new_offsets[k]
        if b == a:
            continue
        lo = t[a]
        hi = t[a]
        for i in range(a, b):
            ox[j] = x[i]
            oy[j] = y[i]
            ot[j] = t[i]
            op[j] = p[i]
            lo = min(lo, t[i])
            hi = max(hi, t[i])
            j += 1
        span = np.float64(hi - lo + 1)
        for m in range(n_noise):
            key = keys[k]
            ox[j] = min(np.int64(_u(key, 4 * m) * width), width - 1)
            oy[j] = min(np.int64(_u(key, 4 * m + 1) * height), height - 1)
            ot[j] = lo + min(np.int64(_u(key, 4 * m + 2) * span), hi - lo)
            op[j] = 1 if _u(key, 4 * m + 3) < 0.5 else 0
            j += 1
    return ox, oy, ot, op, new_offsets


@njit(cache=True, nogil=True)
def skew(t, offsets, coefficients, shifts):
    out = np.empty(t.shape[0], np.int64)
    for k in range(offsets.shape[0] - 1):
        c = coefficients[k]
        o = shifts[k]
        for i in range(offsets[k], offsets[k + 1]):
            out[i] = np.int64(np.float64(t[i]) * c + o)  # truncates, as tonic's int cast
    return out
