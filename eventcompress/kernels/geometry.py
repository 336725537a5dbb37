"""Geometric and temporal event -> event transforms: downsample, resize, crops, flips, time crop.

Every public function takes an :class:`~eventcompress.events.Events` and returns a new one whose
``sensor_size`` describes the transformed coordinates; the ``*_packed`` forms do the same for a
:class:`~eventcompress.kernels.packed.PackedEvents` batch with per-sample parameters. Events are
never merged: spatial downsampling maps several source pixels onto one target pixel and keeps
every event, so the duplicates add up when the stream is later framed. The loops are Numba
kernels compiled with ``nogil=True`` so that thread pools scale.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..errors import FormatError
from ..events import Events
from ._binning import first_decrease
from .common import INT64_MAX, INT64_MIN, as_pair
from .packed import PackedEvents, compact, scaled_draws

__all__ = [
    "center_crop",
    "crop",
    "crop_packed",
    "crop_time",
    "crop_time_packed",
    "downsample",
    "downsample_packed",
    "flip_lr",
    "flip_packed",
    "flip_polarity",
    "flip_ud",
    "random_crop",
    "resize",
    "resize_packed",
    "shift_time_to_zero",
    "shift_time_to_zero_packed",
]

# -- kernels --------------------------------------------------------------------------------
# The mask kernels index with uint64: Numba wraps negative signed indices, a compare and add
# per access that kept LLVM from vectorising these loops (2-3x slower).
_U = np.uint64


@njit(cache=True, nogil=True)
def _floor_divide(coord, factor):
    out = np.empty(coord.shape[0], np.uint16)
    for i in range(coord.shape[0]):
        out[i] = coord[i] // factor
    return out


@njit(cache=True, nogil=True)
def _rescale(coord, src, dst):
    # Integer arithmetic keeps floor(c * dst / src) exact for every coordinate.
    out = np.empty(coord.shape[0], np.uint16)
    for i in range(coord.shape[0]):
        out[i] = (np.int64(coord[i]) * dst) // src
    return out


@njit(cache=True, nogil=True)
def _inside_box(x, y, offsets, x0, y0, w, h):
    # Per-sample origins x0[k], y0[k]. A branch-free inside test (one unsigned compare per
    # axis) is several times faster than branching twice per event.
    # Returns the mask and the running counts of kept events (for ``compact``).
    n_samples = offsets.shape[0] - 1
    new_offsets = np.zeros(n_samples + 1, np.int64)
    keep = np.empty(x.shape[0], np.bool_)
    uw = np.uint64(w)
    uh = np.uint64(h)
    for k in range(n_samples):
        ax = x0[k]
        ay = y0[k]
        count = 0
        for i in range(_U(offsets[k]), _U(offsets[k + 1])):
            ok = (np.uint64(np.int64(x[i]) - ax) < uw) & (np.uint64(np.int64(y[i]) - ay) < uh)
            keep[i] = ok
            count += ok
        new_offsets[k + 1] = new_offsets[k] + count
    return keep, new_offsets


@njit(cache=True, nogil=True)
def _mirror(coord, size, offsets, selected):
    # selected[k]: whether sample k is mirrored (the others are copied).
    out = np.empty(coord.shape[0], np.uint16)
    for k in range(offsets.shape[0] - 1):
        flip = selected[k]
        for i in range(offsets[k], offsets[k + 1]):
            out[i] = size - 1 - np.int64(coord[i]) if flip else coord[i]
    return out


@njit(cache=True, nogil=True)
def _invert_polarity(p, offsets, selected):
    out = np.empty(p.shape[0], np.uint8)
    for k in range(offsets.shape[0] - 1):
        flip = selected[k]
        for i in range(offsets[k], offsets[k + 1]):
            if flip:
                out[i] = 1 if p[i] == 0 else 0
            else:
                out[i] = p[i]
    return out


@njit(cache=True, nogil=True)
def _max_coordinate(coord):
    m = -1
    for i in range(coord.shape[0]):
        if coord[i] > m:
            m = np.int64(coord[i])
    return m


@njit(cache=True, nogil=True)
def _in_time_window(t, offsets, start, end, bounded):
    # Returns the mask and the running counts of kept events (for ``compact``).
    n_samples = offsets.shape[0] - 1
    new_offsets = np.zeros(n_samples + 1, np.int64)
    keep = np.empty(t.shape[0], np.bool_)
    for k in range(n_samples):
        count = 0
        for i in range(_U(offsets[k]), _U(offsets[k + 1])):
            ok = (t[i] >= start) & ((not bounded) | (t[i] < end))
            keep[i] = ok
            count += ok
        new_offsets[k + 1] = new_offsets[k] + count
    return keep, new_offsets


@njit(cache=True, nogil=True)
def _shift_to_zero(t, offsets):
    # Returns (shifted t, -1) or, when some sample's t_max - t_min exceeds int64 (it would
    # wrap around), (partial output, that sample's index).
    out = np.empty(t.shape[0], np.int64)
    for k in range(offsets.shape[0] - 1):
        a, b = offsets[k], offsets[k + 1]
        if b > a:
            lo = t[a]
            hi = t[a]
            for i in range(a + 1, b):
                if t[i] < lo:
                    lo = t[i]
                if t[i] > hi:
                    hi = t[i]
            if lo < 0 and hi > INT64_MAX + lo:
                return out, k
            for i in range(a, b):
                out[i] = t[i] - lo
    return out, -1


# -- helpers --------------------------------------------------------------------------------
def _one(events: Events, packed: PackedEvents) -> Events:
    return Events._trusted(packed.x, packed.y, packed.t, packed.p, packed.sensor_size,
                           dict(events.metadata))


def _all(packed: PackedEvents) -> np.ndarray:
    return np.ones(len(packed), np.bool_)


# -- downsample / resize --------------------------------------------------------------------
def downsample_packed(packed: PackedEvents, factor: int | tuple[int, int]) -> PackedEvents:
    fx, fy = as_pair(factor, "factor")
    if fx < 1 or fy < 1:
        raise ValueError(f"downsample factor must be >= 1, got {(fx, fy)}")
    w, h = packed.sensor_size
    return packed.replace(x=_floor_divide(packed.x, fx), y=_floor_divide(packed.y, fy),
                          sensor_size=(-(-w // fx), -(-h // fy)))


def downsample(events: Events, factor: int | tuple[int, int]) -> Events:
    """Bin events onto a grid coarser by an integer ``factor`` (one int, or ``(fx, fy)``).

    ``x' = x // fx``, ``y' = y // fy``; the new sensor is ``(ceil(W / fx), ceil(H / fy))``.
    Every event is kept (several source pixels share a target pixel).
    """
    return _one(events, downsample_packed(PackedEvents.single(events), factor))


def resize_packed(packed: PackedEvents, size: int | tuple[int, int]) -> PackedEvents:
    tw, th = as_pair(size, "size")
    if tw < 1 or th < 1:
        raise ValueError(f"resize target must be positive, got {(tw, th)}")
    w, h = packed.sensor_size
    return packed.replace(x=_rescale(packed.x, w, tw), y=_rescale(packed.y, h, th),
                          sensor_size=(tw, th))


def resize(events: Events, size: int | tuple[int, int]) -> Events:
    """Map events onto a ``size = (W', H')`` grid: ``x' = floor(x * W' / W)``, likewise y.

    Computed in exact integer arithmetic. Works for shrinking (e.g. CIFAR10-DVS 128 -> 48) and
    enlarging (then some target pixels never receive events). Every event is kept.
    """
    return _one(events, resize_packed(PackedEvents.single(events), size))


# -- crops ----------------------------------------------------------------------------------
def crop_packed(packed: PackedEvents, x0: np.ndarray, y0: np.ndarray,
                size: int | tuple[int, int]) -> PackedEvents:
    """Crop sample k to ``[x0[k], x0[k] + w) x [y0[k], y0[k] + h)``, moved to the origin."""
    w, h = as_pair(size, "size")
    if not (1 <= w <= 65536 and 1 <= h <= 65536):
        raise ValueError(f"crop size must lie in 1..65536 (uint16 coordinates), got {(w, h)}")
    x0 = np.ascontiguousarray(x0, np.int64)
    y0 = np.ascontiguousarray(y0, np.int64)
    if x0.shape != (len(packed),) or y0.shape != (len(packed),):
        raise ValueError("crop origins need one value per sample")
    keep, counts = _inside_box(packed.x, packed.y, packed.offsets, x0, y0, w, h)
    return compact(packed, keep, x0, y0, counts).replace(sensor_size=(w, h))


def crop(events: Events, origin: tuple[int, int], size: int | tuple[int, int]) -> Events:
    """Keep events inside the box ``[x0, x0 + w) x [y0, y0 + h)`` and move it to the origin.

    ``origin`` may be negative or the box may reach past the sensor: that pads the sensor (no
    event is invented; the coordinates just shift). The new sensor is ``size``.
    """
    packed = PackedEvents.single(events)
    return _one(events, crop_packed(packed, np.array([int(origin[0])]),
                                    np.array([int(origin[1])]), size))


def center_crop(events: Events, size: int | tuple[int, int]) -> Events:
    """Crop a ``size = (w, h)`` box at the sensor centre, origin ``((W - w) // 2, (H - h) // 2)``.

    Identical to ``tonic.transforms.CenterCrop`` (including the padding it applies when the crop
    is larger than the sensor, where the offset becomes negative).
    """
    w, h = as_pair(size, "size")
    sw, sh = events.sensor_size
    return crop(events, ((sw - w) // 2, (sh - h) // 2), (w, h))


def random_crop(
    events: Events, size: int | tuple[int, int], rng: np.random.Generator | int | None = None
) -> Events:
    """Crop a ``size`` box at a uniformly random origin, every origin in
    ``0..W-w`` x ``0..H-h`` equally likely. ``rng`` is a Generator or a seed (reproducible):
    with ``u = rng.random(2)``, ``x0 = floor(u[0] * (W - w + 1))``, ``y0`` likewise."""
    w, h = as_pair(size, "size")
    sw, sh = events.sensor_size
    if not (1 <= w <= sw and 1 <= h <= sh):
        raise ValueError(f"random crop {(w, h)} must fit in the sensor {(sw, sh)}")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    u = gen.random(2)
    x0 = int(scaled_draws(u[0], sw - w + 1))
    y0 = int(scaled_draws(u[1], sh - h + 1))
    return crop(events, (x0, y0), (w, h))


# -- flips ----------------------------------------------------------------------------------
def flip_packed(packed: PackedEvents, axis: str, selected: np.ndarray | None = None
                ) -> PackedEvents:
    """Mirror ``axis`` ("x", "y") or invert polarity ("p") of the samples where ``selected``."""
    sel = _all(packed) if selected is None else np.ascontiguousarray(selected, np.bool_)
    if axis == "p":
        return packed.replace(p=_invert_polarity(packed.p, packed.offsets, sel))
    coord = packed.x if axis == "x" else packed.y
    size = packed.sensor_size[0 if axis == "x" else 1]
    top = _max_coordinate(coord)
    if top >= size:  # anything else would wrap around uint16
        raise ValueError(f"event {axis}={top} lies outside the sensor ({axis} < {size}); fix "
                         "sensor_size or crop first")
    out = _mirror(coord, size, packed.offsets, sel)
    return packed.replace(x=out) if axis == "x" else packed.replace(y=out)


def flip_lr(events: Events) -> Events:
    """Mirror left-right: ``x' = W - 1 - x`` (an involution)."""
    return _one(events, flip_packed(PackedEvents.single(events), "x"))


def flip_ud(events: Events) -> Events:
    """Mirror up-down: ``y' = H - 1 - y`` (an involution)."""
    return _one(events, flip_packed(PackedEvents.single(events), "y"))


def flip_polarity(events: Events) -> Events:
    """Swap ON and OFF: ``p' = 1`` where ``p == 0``, else ``0``."""
    return _one(events, flip_packed(PackedEvents.single(events), "p"))


# -- time -----------------------------------------------------------------------------------
def crop_time_packed(packed: PackedEvents, start: int | None, end: int | None) -> PackedEvents:
    lo = INT64_MIN if start is None else int(start)
    hi = 0 if end is None else int(end)
    keep, counts = _in_time_window(packed.t, packed.offsets, lo, hi, end is not None)
    return compact(packed, keep, new_offsets=counts)


def crop_time(events: Events, start: int | None = None, end: int | None = None) -> Events:
    """Keep events with ``start <= t < end`` (half-open; ``None`` means unbounded).

    A time-sorted stream is cut with a binary search and shares memory with the input; an
    unsorted one is filtered event by event (file order kept).
    """
    t = events.t
    if first_decrease(t) < 0:
        a = 0 if start is None else int(np.searchsorted(t, int(start), side="left"))
        b = t.shape[0] if end is None else int(np.searchsorted(t, int(end), side="left"))
        b = max(a, b)
        return Events._trusted(events.x[a:b], events.y[a:b], t[a:b], events.p[a:b],
                               events.sensor_size, dict(events.metadata))
    return _one(events, crop_time_packed(PackedEvents.single(events), start, end))


def _span_error(packed: PackedEvents, k: int, path: str | None) -> FormatError:
    a, b = int(packed.offsets[k]), int(packed.offsets[k + 1])
    t = packed.t[a:b]
    lo, hi = int(t.min()), int(t.max())
    where = "" if len(packed) == 1 else f"sample {k}: "
    return FormatError(
        path,
        f"{where}field t spans [{lo}, {hi}], a span of {hi - lo} us, beyond the int64 range; "
        "t - min(t) would wrap around",
        row=int(np.argmax(t)), expected=f"max(t) - min(t) <= {INT64_MAX} (2**63 - 1)",
    )


def shift_time_to_zero_packed(packed: PackedEvents, path: str | None = None) -> PackedEvents:
    t, bad = _shift_to_zero(packed.t, packed.offsets)
    if bad >= 0:
        raise _span_error(packed, int(bad), path)
    return packed.replace(t=t)


def shift_time_to_zero(events: Events) -> Events:
    """Subtract the smallest timestamp so the stream starts at ``t = 0``.

    Raises :class:`~eventcompress.errors.FormatError` (naming the field ``t``, its span and the
    row of the latest event) when ``max(t) - min(t)`` does not fit int64.
    """
    packed = PackedEvents.single(events)
    return _one(events, shift_time_to_zero_packed(packed, events.metadata.get("path")))
