"""Many event streams in one set of flat arrays, for kernels that process a batch per call.

``PackedEvents`` concatenates K streams of one sensor size; sample ``k`` occupies
``offsets[k]:offsets[k + 1]``. Every event -> event kernel in this package works on this form
(a single stream is a batch of one), so :func:`~eventcompress.kernels.batch.process_many` runs
each step over a whole chunk of samples in one GIL-free Numba call instead of paying Python
overhead per sample. Random steps draw their per-sample parameters from a counter-based hash
(:func:`uniforms`) so that a batch and a sample-by-sample loop agree exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit

from ..events import Events

__all__ = ["PackedEvents", "uniforms"]


@dataclass(frozen=True, eq=False)
class PackedEvents:
    """K streams of one ``sensor_size`` in flat ``x, y, t, p`` arrays plus ``offsets`` (K+1)."""

    x: np.ndarray
    y: np.ndarray
    t: np.ndarray
    p: np.ndarray
    offsets: np.ndarray
    sensor_size: tuple[int, int]

    @classmethod
    def pack(cls, streams: Sequence[Events]) -> PackedEvents:
        """Concatenate streams that share one sensor size."""
        if not streams:
            raise ValueError("pack needs at least one stream")
        size = streams[0].sensor_size
        for i, e in enumerate(streams):
            if e.sensor_size != size:
                raise ValueError(f"stream {i} has sensor size {e.sensor_size}, expected {size}")
        offsets = np.zeros(len(streams) + 1, np.int64)
        np.cumsum([len(e) for e in streams], out=offsets[1:])
        if len(streams) == 1:
            e = streams[0]
            return cls(e.x, e.y, e.t, e.p, offsets, size)
        return cls(np.concatenate([e.x for e in streams]), np.concatenate([e.y for e in streams]),
                   np.concatenate([e.t for e in streams]), np.concatenate([e.p for e in streams]),
                   offsets, size)

    @classmethod
    def single(cls, events: Events) -> PackedEvents:
        return cls(events.x, events.y, events.t, events.p,
                   np.array([0, len(events)], np.int64), events.sensor_size)

    def __len__(self) -> int:
        return int(self.offsets.shape[0] - 1)

    @property
    def n_events(self) -> int:
        return int(self.offsets[-1])

    def sample(self, k: int, metadata: dict | None = None) -> Events:
        """Stream ``k`` as :class:`Events` (views into the flat arrays, no copy)."""
        a, b = int(self.offsets[k]), int(self.offsets[k + 1])
        return Events._trusted(self.x[a:b], self.y[a:b], self.t[a:b], self.p[a:b],
                               self.sensor_size, {} if metadata is None else metadata)

    def unpack(self) -> list[Events]:
        return [self.sample(k) for k in range(len(self))]

    def replace(self, x=None, y=None, t=None, p=None, offsets=None, sensor_size=None
                ) -> PackedEvents:
        return PackedEvents(
            self.x if x is None else x, self.y if y is None else y,
            self.t if t is None else t, self.p if p is None else p,
            self.offsets if offsets is None else offsets,
            self.sensor_size if sensor_size is None else
            (int(sensor_size[0]), int(sensor_size[1])),
        )


# -- counter-based random numbers -------------------------------------------------------------
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


@njit(cache=True, nogil=True)
def _splitmix64(z):
    z = z + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@njit(cache=True, nogil=True)
def _uniforms(seed, epoch, sample_indices, position, count):
    out = np.empty((sample_indices.shape[0], count), np.float64)
    base = _splitmix64(np.uint64(seed))
    base = _splitmix64(base ^ np.uint64(epoch))
    for k in range(sample_indices.shape[0]):
        h = _splitmix64(base ^ np.uint64(sample_indices[k]))
        h = _splitmix64(h ^ np.uint64(position))
        for j in range(count):
            v = _splitmix64(h ^ np.uint64(j + 1))
            out[k, j] = np.float64(v >> np.uint64(11)) * (1.0 / 9007199254740992.0)
    return out


def uniforms(seed: int, epoch: int, sample_indices: np.ndarray | Sequence[int], position: int,
             count: int) -> np.ndarray:
    """``[len(sample_indices), count]`` numbers uniform in ``[0, 1)`` (53 bits), a pure function
    of ``(seed, epoch, sample_index, position, j)`` built from SplitMix64."""
    idx = np.ascontiguousarray(sample_indices, dtype=np.int64)
    for name, value in (("seed", seed), ("epoch", epoch), ("position", position)):
        if int(value) < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
    if idx.size and int(idx.min()) < 0:
        raise ValueError("sample indices must be >= 0")
    return _uniforms(int(seed), int(epoch), idx, int(position), int(count))


def scaled_draws(u: np.ndarray, n: int) -> np.ndarray:
    """``floor(u * n)`` clipped to ``n - 1``: a uniform integer in ``0..n-1`` per draw."""
    return np.minimum((np.asarray(u, np.float64) * n).astype(np.int64), n - 1)
