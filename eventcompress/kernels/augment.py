"""Event-level augmentations: random drops, jitter, noise and time skew as pipeline steps.

Each class is a frozen, hashable :class:`~eventcompress.kernels.transforms.EventTransform`
(registered by name, so a :class:`~eventcompress.kernels.pipeline.Pipeline` holding one
round-trips through JSON), and runs as a Numba kernel over a whole packed batch.

Randomness, fully determined by ``(seed, epoch, sample_index, position)``: every sample first
gets a few uniform numbers from the step's ``draws`` (the counter-based ``uniforms`` of
:mod:`.packed`, or a ``numpy.random.Generator`` if one is passed). The first of them, times
``2**53``, is the sample's *key*; event ``j`` of the sample (its index within the sample's
input) then gets ``u(key, j) = splitmix64(key ^ (j + 1)) >> 11`` scaled to ``[0, 1)``, and a
normal number ``z = sqrt(-2 ln(1 - u(key, 2j))) * cos(2 pi u(key, 2j + 1))`` (Box-Muller; the
sine of the same pair gives a second one). So a sample is augmented alike in any batch, worker
or thread, differently per epoch. The formulas, and where they differ from tonic's, are in
docs/data.md. A cache built from a pipeline with a random step stores one draw (epoch 0): these
steps are meant for on-the-fly loading (``eventcompress.data.EventDataset``); the seed is part
of the configuration and so of its hash.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..errors import ConfigError
from ._augment_kernels import (
    add_noise,
    drop_box_mask,
    drop_random_mask,
    drop_window_mask,
    skew,
    sort_segments,
    spatial_jitter,
    time_jitter,
)
from .common import set_field as _set
from .packed import compact
from .transforms import EventTransform, check_seed, register_config

__all__ = [
    "DropArea",
    "DropEvents",
    "DropTimeWindow",
    "SpatialJitter",
    "TimeJitter",
    "TimeSkew",
    "UniformNoise",
    "sample_keys",
]

_TWO_53 = 9007199254740992.0


def sample_keys(u: np.ndarray) -> np.ndarray:
    """The per-sample keys of the event-level random numbers: ``floor(u * 2**53)`` (uint64)."""
    return (np.asarray(u, np.float64) * _TWO_53).astype(np.uint64)


# -- configuration helpers ------------------------------------------------------------------
def _number(obj: Any, name: str, value: Any, lo: float, hi: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"must be a number or a (low, high) pair, got {value!r}",
                          source=type(obj).__name__, key=name) from None
    if not (math.isfinite(v) and lo <= v <= hi):
        raise ConfigError(f"must lie in [{lo}, {hi}], got {value!r}", source=type(obj).__name__,
                          key=name)
    return v


def _span(obj: Any, name: str, lo: float = -math.inf, hi: float = math.inf) -> None:
    """A number or a ``(low, high)`` range to draw from uniformly per sample; a range of one
    value is stored as that value so that both spellings hash alike."""
    value = getattr(obj, name)
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ConfigError(f"a range must be (low, high), got {value!r}",
                              source=type(obj).__name__, key=name)
        a, b = (_number(obj, name, v, lo, hi) for v in value)
        if b < a:
            raise ConfigError(f"range ({a}, {b}) has high < low", source=type(obj).__name__,
                              key=name)
        norm: Any = a if a == b else (a, b)
    else:
        norm = _number(obj, name, value, lo, hi)
    if isinstance(norm, float) and norm.is_integer():
        norm = int(norm)
    _set(obj, name, norm)


def _bounds(value: Any) -> tuple[float, float]:
    return (float(value[0]), float(value[1])) if isinstance(value, tuple) else \
        (float(value), float(value))


def _drawn(value: Any, u: np.ndarray) -> np.ndarray:
    """Per-sample values of a number or range field: ``low + u * (high - low)``."""
    a, b = _bounds(value)
    return np.full(u.shape[0], a) if a == b else a + u * (b - a)


def _non_negative(obj: Any, name: str) -> None:
    _set(obj, name, _number(obj, name, getattr(obj, name), 0.0, math.inf))


class _Random(EventTransform):
    """Base of the steps that draw per sample: ``seed`` and the per-sample keys."""

    seed: int
    random: ClassVar[bool] = True
    #: uniform numbers drawn per sample (the first is the key of the per-event numbers)
    n_draws: ClassVar[int] = 1

    def sample_draws(self, sample_indices, epoch, position, rng) -> np.ndarray:
        return self.draws(np.asarray(sample_indices), epoch, position, self.n_draws, rng)


# -- the steps ------------------------------------------------------------------------------
@register_config
@dataclass(frozen=True)
class DropEvents(_Random):
    """Drop each event independently with ``probability`` (event ``j`` goes iff
    ``u(key, j) < probability``)."""

    probability: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        _set(self, "probability", _number(self, "probability", self.probability, 0.0, 1.0))
        check_seed(self)

    def apply_packed(self, packed, sample_indices, epoch=0, position=0, rng=None):
        if self.probability <= 0.0:
            return packed
        keys = sample_keys(self.sample_draws(sample_indices, epoch, position, rng)[:, 0])
        return compact(packed, drop_random_mask(packed.offsets, keys, self.probability))


@register_config
@dataclass(frozen=True)
class DropTimeWindow(_Random):
    """Drop the events of one random time window covering ``duration_ratio`` (a number or a
    ``(low, high)`` range drawn per sample) of the sample's span ``t_max - t_min``."""

    duration_ratio: float | tuple[float, float] = 0.2
    seed: int = 0
    n_draws: ClassVar[int] = 3

    def __post_init__(self) -> None:
        _span(self, "duration_ratio", 0.0, 1.0)
        check_seed(self)

    def apply_packed(self, packed, sample_indices, epoch=0, position=0, rng=None):
        u = self.sample_draws(sample_indices, epoch, position, rng)
        ratios = np.ascontiguousarray(_drawn(self.duration_ratio, u[:, 1]))
        return compact(packed, drop_window_mask(packed.t, packed.offsets, ratios,
                                                   np.ascontiguousarray(u[:, 2])))


@register_config
@dataclass(frozen=True)
class DropArea(_Random):
    """Drop the events inside one random box of ``floor(W * r) x floor(H * r)`` pixels,
    ``r = area_ratio`` (a number or a ``(low, high)`` range); the origin is uniform over every
    position where the box fits (``x0`` in ``0..W - w``)."""

    area_ratio: float | tuple[float, float] = 0.2
    seed: int = 0
    n_draws: ClassVar[int] = 4

    def __post_init__(self) -> None:
        _span(self, "area_ratio", 0.0, 1.0)
        check_seed(self)

    def apply_packed(self, packed, sample_indices, epoch=0, position=0, rng=None):
        u = self.sample_draws(sample_indices, epoch, position, rng)
        sw, sh = packed.sensor_size
        ratio = _drawn(self.area_ratio, u[:, 1])
        w = np.floor(sw * ratio).astype(np.int64)
        h = np.floor(sh * ratio).astype(np.int64)
        x0 = np.minimum((u[:, 2] * (sw - w + 1)).astype(np.int64), sw - w)
        y0 = np.minimum((u[:, 3] * (sh - h + 1)).astype(np.int64), sh - h)
        keep = drop_box_mask(packed.x, packed.y, packed.offsets, x0, y0, w, h)
        return compact(packed, keep)


@register_config
@dataclass(frozen=True)
class TimeJitter(_Random):
    """``t' = t + rint(std * z_j)`` (``z_j`` standard normal); ``clip_negative`` drops events
    with ``t' < 0``; ``sort`` (default, unlike tonic) stable-sorts each sample by ``t'``, as
    the representations expect sorted streams."""

    std: float = 1.0
    clip_negative: bool = False
    sort: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        _non_negative(self, "std")
        _set(self, "clip_negative", bool(self.clip_negative))
        _set(self, "sort", bool(self.sort))
        check_seed(self)

    def apply_packed(self, packed, sample_indices, epoch=0, position=0, rng=None):
        keys = sample_keys(self.sample_draws(sample_indices, epoch, position, rng)[:, 0])
        out = packed.replace(t=time_jitter(packed.t, packed.offsets, keys, float(self.std)))
        if self.clip_negative:
            out = compact(out, out.t >= 0)
        if self.sort:
            out = out.replace(x=out.x.copy(), y=out.y.copy(), p=out.p.copy())
            sort_segments(out.x, out.y, out.t, out.p, out.offsets)
        return out


@register_config
@dataclass(frozen=True)
class SpatialJitter(_Random):
    """``x' = x + rint(sigma_x * zx_j)``, ``y' = y + rint(sigma_y * zy_j)`` (independent
    normals, the cosine and sine of one Box-Muller pair); events pushed off the sensor are
    dropped (``outliers="drop"``, tonic's ``clip_outliers=True``) or moved to its edge
    (``"clamp"``)."""

    sigma_x: float = 1.0
    sigma_y: float = 1.0
    outliers: str = "drop"
    seed: int = 0

    def __post_init__(self) -> None:
        _non_negative(self, "sigma_x")
        _non_negative(self, "sigma_y")
        if self.outliers not in ("drop", "clamp"):
            raise ConfigError(f"must be 'drop' or 'clamp', got {self.outliers!r}",
                              source="SpatialJitter", key="outliers")
        check_seed(self)

    def apply_packed(self, packed, sample_indices, epoch=0, position=0, rng=None):
        keys = sample_keys(self.sample_draws(sample_indices, epoch, position, rng)[:, 0])
        w, h = packed.sensor_size
        x, y, keep = spatial_jitter(packed.x, packed.y, packed.offsets, keys,
                                     float(self.sigma_x), float(self.sigma_y), w, h,
                                     self.outliers == "clamp")
        return compact(packed.replace(x=x, y=y), keep)


@register_config
@dataclass(frozen=True)
class UniformNoise(_Random):
    """Add ``n_events`` noise events per (non-empty) sample: noise event ``m`` has
    ``x = floor(u(key, 4m) W)``, ``y = floor(u(key, 4m+1) H)``, ``t = t_min +
    floor(u(key, 4m+2) (t_max - t_min + 1))``, ``p = u(key, 4m+3) < 0.5``; the result is
    stable-sorted by t, a sample's own events before noise at the same timestamp."""

    n_events: int = 100
    seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.n_events, (int, np.integer)) or isinstance(self.n_events, bool) \
                or self.n_events < 0:
            raise ConfigError(f"must be an int >= 0, got {self.n_events!r}",
                              source="UniformNoise", key="n_events")
        _set(self, "n_events", int(self.n_events))
        check_seed(self)

    def apply_packed(self, packed, sample_indices, epoch=0, position=0, rng=None):
        if self.n_events == 0:
            return packed
        keys = sample_keys(self.sample_draws(sample_indices, epoch, position, rng)[:, 0])
        w, h = packed.sensor_size
        x, y, t, p, offsets = add_noise(packed.x, packed.y, packed.t, packed.p, packed.offsets,
                                         keys, self.n_events, w, h)
        sort_segments(x, y, t, p, offsets)
        return packed.replace(x=x, y=y, t=t, p=p, offsets=offsets)


@register_config
@dataclass(frozen=True)
class TimeSkew(_Random):
    """``t' = trunc(t * coefficient + offset)``; each may be a ``(low, high)`` range drawn
    uniformly per sample (tonic's ``TimeSkew``). ``coefficient > 0`` keeps the order."""

    coefficient: float | tuple[float, float] = 1.0
    offset: float | tuple[float, float] = 0
    seed: int = 0
    n_draws: ClassVar[int] = 2

    def __post_init__(self) -> None:
        _span(self, "coefficient", 1e-12)
        _span(self, "offset")
        check_seed(self)

    @property
    def is_random(self) -> bool:
        return isinstance(self.coefficient, tuple) or isinstance(self.offset, tuple)

    def apply_packed(self, packed, sample_indices, epoch=0, position=0, rng=None):
        k = len(packed)
        u = self.sample_draws(sample_indices, epoch, position, rng) if self.is_random \
            else np.zeros((k, 2))
        c = np.ascontiguousarray(_drawn(self.coefficient, u[:, 0]))
        o = np.ascontiguousarray(_drawn(self.offset, u[:, 1]))
        return packed.replace(t=skew(packed.t, packed.offsets, c, o))
