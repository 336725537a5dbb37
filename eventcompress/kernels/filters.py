"""Noise filters: nearest-neighbour denoising, refractory period, hot-pixel removal.

The first two reproduce ``tonic.functional.denoise_numpy`` and
``tonic.functional.refractory_period_numpy`` event for event (by default, including tonic's
start-of-recording behaviour, see ``tonic_compatible``) but run as Numba kernels instead of a
Python loop. Events are visited in array order, exactly like tonic, so the result is defined
for unsorted input too; it is only meaningful for time-sorted streams. The ``*_packed`` forms
filter every sample of a :class:`~eventcompress.kernels.packed.PackedEvents` batch
independently in one call.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
from numba import njit

from ..events import Events
from .common import INT64_MAX, INT64_MIN
from .packed import PackedEvents, compact

__all__ = [
    "denoise",
    "denoise_packed",
    "hot_pixels",
    "refractory_period",
    "refractory_period_packed",
    "remove_hot_pixels",
    "remove_hot_pixels_packed",
]

_NEVER = INT64_MIN
_U = np.uint64

# Hot-pixel threshold modes of _hot_pixel_mask.
_NO_THRESHOLD, _MAX_COUNT, _MAX_RATE, _MEAN_MULTIPLE = 0, 1, 2, 3


# -- kernels --------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def _extent(x, y, a, b):
    # tonic sizes its pixel maps by the stream's largest coordinates, not the sensor
    w = 0
    h = 0
    for i in range(a, b):
        if x[i] >= w:
            w = np.int64(x[i]) + 1
        if y[i] >= h:
            h = np.int64(y[i]) + 1
    return w, h


@njit(cache=True, nogil=True)
def _denoise_mask(x, y, t, offsets, window, initial, top):
    # expiry[pixel] = last timestamp seen there + window; a 4-neighbour whose expiry lies after
    # the current timestamp supports the event. The event's own pixel is updated first and
    # never consulted, as in tonic. Float or int64 arithmetic follows the type of ``initial``.
    # In int64 the sum saturates at 2**63 - 1 for timestamps above ``top`` = 2**63 - 1 - window
    # (a float window passes top = inf), and ``beyond`` marks the saturated pixels: such a
    # neighbour also supports an event at t = 2**63 - 1, which the stored 2**63 - 1 alone would
    # not. Both are off the hot path: they only act within ``window`` of the int64 maximum.
    # Pixel indices are uint64, as in ``_binning``: Numba's wraparound of signed indices (a
    # compare and add per neighbour read) cost a fifth of the throughput.
    keep = np.zeros(t.shape[0], np.bool_)
    one = _U(1)
    for s in range(offsets.shape[0] - 1):
        a, b = offsets[s], offsets[s + 1]
        w, h = _extent(x, y, a, b)
        expiry = np.full(w * h, initial)
        beyond = np.zeros(w * h, np.bool_)
        any_beyond = False
        uw, last_x, last_y = _U(w), _U(w) - one, _U(h) - one
        for i in range(_U(a), _U(b)):
            xi = _U(x[i])
            yi = _U(y[i])
            ti = t[i]
            k = yi * uw + xi
            if ti > top:
                expiry[k] = INT64_MAX
                beyond[k] = True
                any_beyond = True
            else:
                expiry[k] = ti + window
                if any_beyond:
                    beyond[k] = False
            keep[i] = (
                (xi >= one and expiry[k - one] > ti)
                or (xi < last_x and expiry[k + one] > ti)
                or (yi >= one and expiry[k - uw] > ti)
                or (yi < last_y and expiry[k + uw] > ti)
            )
            if ti == INT64_MAX and any_beyond and not keep[i]:
                keep[i] = (
                    (xi >= one and beyond[k - one])
                    or (xi < last_x and beyond[k + one])
                    or (yi >= one and beyond[k - uw])
                    or (yi < last_y and beyond[k + uw])
                )
    return keep


@njit(cache=True, nogil=True)
def _refractory_mask(x, y, t, offsets, period, initial, strict, integer):
    # last[pixel] = timestamp of the pixel's previous event, kept or not (tonic's rule: a
    # dropped event restarts the dead time too). Float or int64 arithmetic follows ``initial``;
    # in int64 (``integer``) t - last is formed as an unsigned difference, which is exact for
    # any two int64 timestamps instead of wrapping.
    keep = np.zeros(t.shape[0], np.bool_)
    span = np.uint64(period) if integer else np.uint64(0)
    for s in range(offsets.shape[0] - 1):
        a, b = offsets[s], offsets[s + 1]
        w, h = _extent(x, y, a, b)
        last = np.full(w * h, initial)
        seen = np.zeros(w * h if strict else 0, np.bool_)
        for i in range(a, b):
            k = np.int64(y[i]) * w + np.int64(x[i])
            ti = t[i]
            if strict and not seen[k]:
                keep[i] = True
                seen[k] = True
            elif integer:
                keep[i] = ti > last[k] and np.uint64(ti) - np.uint64(last[k]) > span
            else:
                keep[i] = ti - last[k] > period
            last[k] = ti
    return keep


@njit(cache=True, nogil=True)
def _hot_pixel_mask(x, y, t, offsets, mode, value, listed):
    keep = np.ones(t.shape[0], np.bool_)
    lw, lh = listed.shape
    for s in range(offsets.shape[0] - 1):
        a, b = offsets[s], offsets[s + 1]
        if b == a:
            continue
        w, h = _extent(x, y, a, b)
        counts = np.zeros(w * h, np.int64)
        for i in range(a, b):
            counts[np.int64(x[i]) * h + np.int64(y[i])] += 1
        limit = np.inf
        if mode == _MAX_COUNT:
            limit = value
        elif mode == _MAX_RATE:  # tonic: rate * (t[-1] - t[0]) * 1e-6, same float operations
            limit = value * np.float64(t[b - 1] - t[a]) * 1e-6
        elif mode == _MEAN_MULTIPLE:
            total = 0
            active = 0
            for c in counts:
                if c > 0:
                    total += c
                    active += 1
            limit = value * (np.float64(total) / active)
        for i in range(a, b):
            xi = np.int64(x[i])
            yi = np.int64(y[i])
            if counts[xi * h + yi] > limit or (xi < lw and yi < lh and listed[xi, yi]):
                keep[i] = False
    return keep


# -- helpers --------------------------------------------------------------------------------
def _one(events: Events, packed: PackedEvents) -> Events:
    if packed.x is events.x:
        return events
    return Events._trusted(packed.x, packed.y, packed.t, packed.p, packed.sensor_size,
                           dict(events.metadata))


def _non_negative(value: float, name: str) -> float:
    v = float(value)
    if not math.isfinite(v) or v < 0:
        raise ValueError(f"{name} must be a finite number >= 0 (microseconds), got {value!r}")
    return v


def _whole_us(value: int, name: str) -> int:
    if value > INT64_MAX:
        raise ValueError(f"{name} must be below 2**63 microseconds, got {value}")
    return value


# -- denoise / refractory -------------------------------------------------------------------
def denoise_packed(packed: PackedEvents, filter_time: float, *, tonic_compatible: bool = True
                   ) -> PackedEvents:
    value = _non_negative(filter_time, "filter_time")
    if tonic_compatible and not value.is_integer():
        # tonic adds a float window to the timestamps; float64 arithmetic reproduces its
        # rounding bit for bit (e.g. for a window far below one microsecond)
        window, initial, top = value, value, math.inf
    else:
        window = _whole_us(math.ceil(value), "filter_time")
        initial = window if tonic_compatible else _NEVER
        top = INT64_MAX - window
    return compact(packed, _denoise_mask(packed.x, packed.y, packed.t, packed.offsets,
                                           window, initial, top))


def denoise(events: Events, filter_time: float, *, tonic_compatible: bool = True) -> Events:
    """Drop events that no 4-neighbour pixel supports within ``filter_time`` microseconds.

    Event ``i`` at pixel ``(x, y)`` is kept iff one of ``(x±1, y)``, ``(x, y±1)`` holds an
    earlier event (earlier in array order) with ``t_i - t_j < filter_time``; the pixel itself
    and diagonal neighbours do not count. For integer timestamps a fractional ``filter_time``
    acts as ``ceil(filter_time)``.

    ``tonic_compatible=True`` (default) reproduces ``tonic.functional.denoise_numpy`` exactly,
    including its initial state: a neighbour that has not fired yet counts as having fired at
    ``t = 0``, so every event with ``t < filter_time`` is kept if it has any neighbour inside the
    box ``[0, max x] x [0, max y]`` of the stream. ``False`` lets only real events support.
    """
    return _one(events, denoise_packed(PackedEvents.single(events), filter_time,
                                       tonic_compatible=tonic_compatible))


def refractory_period_packed(packed: PackedEvents, period: float, *,
                             tonic_compatible: bool = True) -> PackedEvents:
    value = _non_negative(period, "period")
    if tonic_compatible and not value.is_integer():
        span, initial, integer = value, -value, False  # float64, as tonic computes it
    else:
        span = _whole_us(math.floor(value), "period")
        initial, integer = -span, True
    keep = _refractory_mask(packed.x, packed.y, packed.t, packed.offsets, span, initial,
                            not tonic_compatible, integer)
    return compact(packed, keep)


def refractory_period(events: Events, period: float, *, tonic_compatible: bool = True) -> Events:
    """Per-pixel dead time: drop an event unless ``t - t_prev > period`` at its pixel.

    ``t_prev`` is the previous event at the same ``(x, y)`` (either polarity), whether it was
    kept or dropped, exactly as ``tonic.functional.refractory_period_numpy``: a pixel firing
    faster than ``period`` keeps only its first event. A fractional ``period`` acts as
    ``floor(period)`` for integer timestamps.

    ``tonic_compatible=True`` (default) also reproduces tonic's initial state (every pixel
    "fired" at ``t = -period``), which drops a pixel's first event when it has ``t <= 0``.
    ``False`` always keeps a pixel's first event.
    """
    return _one(events, refractory_period_packed(PackedEvents.single(events), period,
                                                 tonic_compatible=tonic_compatible))


# -- hot pixels -----------------------------------------------------------------------------
def _threshold(max_count, max_rate_hz, mean_multiple, required: bool) -> tuple[int, float]:
    given = [(m, v) for m, v in ((_MAX_COUNT, max_count), (_MAX_RATE, max_rate_hz),
                                 (_MEAN_MULTIPLE, mean_multiple)) if v is not None]
    if len(given) > 1 or (required and not given):
        raise ValueError("give exactly one of max_count, max_rate_hz, mean_multiple")
    if not given:
        return _NO_THRESHOLD, 0.0
    mode, value = given[0]
    if mode == _MAX_COUNT:
        if int(value) != value or value < 0:
            raise ValueError(f"max_count must be an int >= 0, got {value!r}")
        return mode, float(int(value))
    return mode, _non_negative(value, "max_rate_hz" if mode == _MAX_RATE else "mean_multiple")


def _listed_grid(pixels: Iterable[tuple[int, int]]) -> np.ndarray:
    listed = np.asarray(list(pixels), dtype=np.int64).reshape(-1, 2)
    listed = listed[(listed[:, 0] >= 0) & (listed[:, 1] >= 0)]
    if listed.size == 0:
        return np.zeros((0, 0), np.bool_)
    grid = np.zeros((int(listed[:, 0].max()) + 1, int(listed[:, 1].max()) + 1), np.bool_)
    grid[listed[:, 0], listed[:, 1]] = True
    return grid


def hot_pixels(
    events: Events,
    *,
    max_count: int | None = None,
    max_rate_hz: float | None = None,
    mean_multiple: float | None = None,
) -> np.ndarray:
    """Pixels that fire too often, as an ``[n, 2]`` int64 array of ``(x, y)`` sorted by x, y.

    Exactly one criterion applies, counting events per pixel over the whole stream:

    * ``max_count``: more than this many events;
    * ``max_rate_hz``: more than ``max_rate_hz * (t[-1] - t[0]) * 1e-6`` events (tonic's
      ``identify_hot_pixel`` / ``DropPixel(hot_pixel_frequency=...)`` rule);
    * ``mean_multiple``: more than this multiple of the mean count of the pixels that fired.
    """
    mode, value = _threshold(max_count, max_rate_hz, mean_multiple, required=True)
    if len(events) == 0:
        return np.zeros((0, 2), np.int64)
    keep = _hot_pixel_mask(events.x, events.y, events.t, np.array([0, len(events)], np.int64),
                           mode, value, np.zeros((0, 0), np.bool_))
    hot = np.unique(np.stack([events.x[~keep], events.y[~keep]], axis=1).astype(np.int64),
                    axis=0)
    return hot.reshape(-1, 2)


def remove_hot_pixels_packed(
    packed: PackedEvents,
    *,
    max_count: int | None = None,
    max_rate_hz: float | None = None,
    mean_multiple: float | None = None,
    pixels: Iterable[tuple[int, int]] = (),
) -> PackedEvents:
    mode, value = _threshold(max_count, max_rate_hz, mean_multiple, required=False)
    listed = _listed_grid(pixels)
    if mode == _NO_THRESHOLD and not listed.any():
        raise ValueError("remove_hot_pixels needs a criterion or a list of pixels")
    keep = _hot_pixel_mask(packed.x, packed.y, packed.t, packed.offsets, mode, value, listed)
    return compact(packed, keep)


def remove_hot_pixels(
    events: Events,
    *,
    max_count: int | None = None,
    max_rate_hz: float | None = None,
    mean_multiple: float | None = None,
    pixels: Iterable[tuple[int, int]] = (),
) -> Events:
    """Drop every event of the pixels found by :func:`hot_pixels` (if a criterion is given) and
    of the explicit ``pixels`` list of ``(x, y)`` (either or both)."""
    return _one(events, remove_hot_pixels_packed(
        PackedEvents.single(events), max_count=max_count, max_rate_hz=max_rate_hz,
        mean_multiple=mean_multiple, pixels=pixels))
