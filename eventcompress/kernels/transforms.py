"""Frozen, hashable configuration objects for the event -> event steps of a pipeline.

Each class wraps one function of :mod:`.geometry` or :mod:`.filters`. Instances are callable on
:class:`~eventcompress.events.Events`, report the sensor size they produce
(``output_sensor_size``) and have a canonical JSON form and sha256 (``FrozenConfig``), so a
:class:`~eventcompress.kernels.pipeline.Pipeline` built from them can key a cache.

Values are normalised on construction (an int size becomes ``(n, n)``, an integral float time
becomes an int, pixel lists are sorted) so configurations that mean the same thing hash alike.

Every step works on a single stream (``apply``) and on a packed batch (``apply_packed``), with
identical results. Random steps (``RandomCrop``, and the flips with ``0 < probability < 1``)
take their per-sample numbers from :func:`~eventcompress.kernels.packed.uniforms`, a pure
function of ``(seed, epoch, sample_index, position)`` (``position`` = index of the step in its
pipeline), unless a ``numpy.random.Generator`` is passed; so the augmentation differs per
sample and epoch yet is reproducible in any process, thread or batch split.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..config import FrozenConfig
from ..errors import ConfigError
from ..events import Events
from . import filters, geometry
from .common import as_pair, set_field
from .packed import PackedEvents, scaled_draws, uniforms
from .registry import register_config

__all__ = [
    "CenterCrop",
    "CropTime",
    "Denoise",
    "Downsample",
    "EventTransform",
    "FlipLR",
    "FlipPolarity",
    "FlipUD",
    "RandomCrop",
    "RefractoryPeriod",
    "RemoveHotPixels",
    "Resize",
    "ShiftTimeToZero",
    "register_config",
]

_set = set_field


def _pair(obj: Any, name: str, minimum: int = 1) -> None:
    value = getattr(obj, name)
    try:
        pair = as_pair(value, name)
    except ValueError:
        raise ConfigError(f"must be an int or a (width, height) pair, got {value!r}",
                          source=type(obj).__name__, key=name) from None
    if min(pair) < minimum:
        raise ConfigError(f"must be >= {minimum}, got {pair}", source=type(obj).__name__,
                          key=name)
    _set(obj, name, pair)


def _time(obj: Any, name: str, optional: bool = False) -> None:
    """A time in microseconds: int when integral, else float; finite, >= 0 unless optional."""
    value = getattr(obj, name)
    if value is None and optional:
        return
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"must be a number, got {value!r}", source=type(obj).__name__,
                          key=name) from None
    if not math.isfinite(v) or (not optional and v < 0):
        raise ConfigError(f"must be finite and >= 0, got {value!r}", source=type(obj).__name__,
                          key=name)
    _set(obj, name, int(v) if v.is_integer() else v)


def _probability(obj: Any) -> None:
    p = float(obj.probability)
    if not 0.0 <= p <= 1.0:
        raise ConfigError(f"must lie in [0, 1], got {obj.probability!r}",
                          source=type(obj).__name__, key="probability")
    _set(obj, "probability", p)


def check_seed(obj: Any) -> None:
    if not isinstance(obj.seed, (int, np.integer)) or isinstance(obj.seed, bool) or obj.seed < 0:
        raise ConfigError(f"must be an int >= 0, got {obj.seed!r}", source=type(obj).__name__,
                          key="seed")
    _set(obj, "seed", int(obj.seed))


class EventTransform(FrozenConfig):
    """Base of the event -> event steps. Subclasses implement ``apply_packed``."""

    #: True where the step always draws random numbers; see also ``is_random``.
    random: ClassVar[bool] = False

    @property
    def is_random(self) -> bool:
        return self.random

    def output_sensor_size(self, sensor_size: tuple[int, int]) -> tuple[int, int]:
        """The ``(width, height)`` of this step's output for an input of ``sensor_size``."""
        return int(sensor_size[0]), int(sensor_size[1])

    def draws(self, sample_indices: np.ndarray, epoch: int, position: int, count: int,
              rng: np.random.Generator | None = None) -> np.ndarray:
        """``[K, count]`` uniform numbers for K samples: from ``rng`` if given, else
        ``uniforms(seed, epoch, sample_index, position)``."""
        if rng is not None:
            return rng.random((len(sample_indices), count))
        return uniforms(getattr(self, "seed", 0), epoch, sample_indices, position, count)

    def apply_packed(self, packed: PackedEvents, sample_indices: np.ndarray, epoch: int = 0,
                     position: int = 0, rng: np.random.Generator | None = None
                     ) -> PackedEvents:
        """Transform every sample of a batch; ``sample_indices[k]`` numbers sample k."""
        raise NotImplementedError

    def apply(self, events: Events, *, sample_index: int = 0, epoch: int = 0, position: int = 0,
              rng: np.random.Generator | None = None) -> Events:
        """Transform one stream (a batch of one; same result as in any batch)."""
        packed = self.apply_packed(PackedEvents.single(events), np.array([sample_index]),
                                   epoch, position, rng)
        if packed.x is events.x and packed.y is events.y and packed.t is events.t \
                and packed.p is events.p and packed.sensor_size == events.sensor_size:
            return events
        return Events._trusted(packed.x, packed.y, packed.t, packed.p, packed.sensor_size,
                               dict(events.metadata))

    def __call__(self, events: Events, *, sample_index: int = 0, epoch: int = 0,
                 rng: np.random.Generator | None = None) -> Events:
        return self.apply(events, sample_index=sample_index, epoch=epoch, rng=rng)


@register_config
@dataclass(frozen=True)
class Downsample(EventTransform):
    """Integer spatial downsampling, ``x // fx, y // fy`` (see :func:`.geometry.downsample`)."""

    factor: int | tuple[int, int] = 2

    def __post_init__(self) -> None:
        _pair(self, "factor")

    def apply_packed(self, packed, sample_indices, epoch=0, position=0, rng=None):
        return geometry.downsample_packed(packed, self.factor)

    def output_sensor_size(self, sensor_size: tuple[int, int]) -> tuple[int, int]:
        fx, fy = self.factor  # type: ignore[misc]
        return -(-int(sensor_size[0]) // fx), -(-int(sensor_size[1]) // fy)


@register_config
@dataclass(frozen=True)
class Resize(EventTransform):
    """Map onto a ``(W', H')`` grid, ``floor(x * W' / W)`` (see :func:`.geometry.resize`)."""

    size: int | tuple[int, int]

    def __post_init__(self) -> None:
        _pair(self, "size")

    def apply_packed(self, packed, sample_indices, epoch=0, position=0, rng=None):
        return geometry.resize_packed(packed, self.size)

    def output_sensor_size(self, sensor_size: tuple[int, int]) -> tuple[int, int]:
        return self.size  # type: ignore[return-value]


@register_config
@dataclass(frozen=True)
class CenterCrop(EventTransform):
    """Centre crop to ``size = (w, h)``, as ``tonic.transforms.CenterCrop``."""

    size: int | tuple[int, int]

    def __post_init__(self) -> None:
        _pair(self, "size")

    def apply_packed(self, packed, sample_indices, epoch=0, position=0, rng=None):
        w, h = self.size  # type: ignore[misc]
        sw, sh = packed.sensor_size
        k = len(packed)
        return geometry.crop_packed(packed, np.full(k, (sw - w) // 2), np.full(k, (sh - h) // 2),
                                    self.size)

    def output_sensor_size(self, sensor_size: tuple[int, int]) -> tuple[int, int]:
        return self.size  # type: ignore[return-value]


@register_config
@dataclass(frozen=True)
class RandomCrop(EventTransform):
    """Crop ``size = (w, h)`` at a uniformly random origin (all ``W-w+1`` x ``H-h+1``)."""

    size: int | tuple[int, int]
    seed: int = 0
    random: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _pair(self, "size")
        check_seed(self)

    def apply_packed(self, packed, sample_indices, epoch=0, position=0, rng=None):
        w, h = self.output_sensor_size(packed.sensor_size)
        sw, sh = packed.sensor_size
        u = self.draws(sample_indices, epoch, position, 2, rng)
        return geometry.crop_packed(packed, scaled_draws(u[:, 0], sw - w + 1),
                                    scaled_draws(u[:, 1], sh - h + 1), (w, h))

    def output_sensor_size(self, sensor_size: tuple[int, int]) -> tuple[int, int]:
        w, h = self.size  # type: ignore[misc]
        if w > sensor_size[0] or h > sensor_size[1]:
            raise ConfigError(f"crop {self.size} does not fit the sensor {tuple(sensor_size)}",
                              source="RandomCrop", key="size")
        return self.size  # type: ignore[return-value]


class _Flip(EventTransform):
    probability: float
    seed: int
    axis: ClassVar[str]  # "x", "y" or "p", see geometry.flip_packed

    def __post_init__(self) -> None:
        _probability(self)
        check_seed(self)

    @property
    def is_random(self) -> bool:
        return 0.0 < self.probability < 1.0

    def apply_packed(self, packed, sample_indices, epoch=0, position=0, rng=None):
        if self.probability <= 0.0:
            return packed
        selected = None
        if self.probability < 1.0:
            selected = self.draws(sample_indices, epoch, position, 1, rng)[:, 0] < self.probability
        return geometry.flip_packed(packed, self.axis, selected)


@register_config
@dataclass(frozen=True)
class FlipLR(_Flip):
    """``x' = W - 1 - x`` with the given probability (1 = always)."""

    probability: float = 1.0
    seed: int = 0
    axis: ClassVar[str] = "x"


@register_config
@dataclass(frozen=True)
class FlipUD(_Flip):
    """``y' = H - 1 - y`` with the given probability (1 = always)."""

    probability: float = 1.0
    seed: int = 0
    axis: ClassVar[str] = "y"


@register_config
@dataclass(frozen=True)
class FlipPolarity(_Flip):
    """Swap ON and OFF for the whole stream with the given probability (1 = always)."""

    probability: float = 1.0
    seed: int = 0
    axis: ClassVar[str] = "p"


@register_config
@dataclass(frozen=True)
class CropTime(EventTransform):
    """Keep ``start <= t < end`` microseconds (half-open; ``None`` = unbounded)."""

    start: int | None = None
    end: int | None = None

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is not None:
                if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
                    raise ConfigError(f"must be an int (microseconds) or None, got {value!r}",
                                      source="CropTime", key=name)
                _set(self, name, int(value))
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ConfigError(f"end {self.end} lies before start {self.start}",
                              source="CropTime", key="end")

    def apply_packed(self, packed, sample_indices, epoch=0, position=0, rng=None):
        return geometry.crop_time_packed(packed, self.start, self.end)


@register_config
@dataclass(frozen=True)
class ShiftTimeToZero(EventTransform):
    """Subtract the smallest timestamp, so every stream starts at ``t = 0``."""

    def apply_packed(self, packed, sample_indices, epoch=0, position=0, rng=None):
        return geometry.shift_time_to_zero_packed(packed)


@register_config
@dataclass(frozen=True)
class Denoise(EventTransform):
    """Nearest-neighbour filter, exact vs ``tonic.transforms.Denoise`` when
    ``tonic_compatible`` (see :func:`.filters.denoise`)."""

    filter_time: float
    tonic_compatible: bool = True

    def __post_init__(self) -> None:
        _time(self, "filter_time")
        _set(self, "tonic_compatible", bool(self.tonic_compatible))

    def apply_packed(self, packed, sample_indices, epoch=0, position=0, rng=None):
        return filters.denoise_packed(packed, self.filter_time,
                                      tonic_compatible=self.tonic_compatible)


@register_config
@dataclass(frozen=True)
class RefractoryPeriod(EventTransform):
    """Per-pixel dead time, exact vs ``tonic.transforms.RefractoryPeriod(delta)`` for a fixed
    delta when ``tonic_compatible`` (see :func:`.filters.refractory_period`)."""

    period: float
    tonic_compatible: bool = True

    def __post_init__(self) -> None:
        _time(self, "period")
        _set(self, "tonic_compatible", bool(self.tonic_compatible))

    def apply_packed(self, packed, sample_indices, epoch=0, position=0, rng=None):
        return filters.refractory_period_packed(packed, self.period,
                                                tonic_compatible=self.tonic_compatible)


@register_config
@dataclass(frozen=True)
class RemoveHotPixels(EventTransform):
    """Drop pixels over a count, rate or mean-multiple threshold and/or listed ``(x, y)``
    pixels (see :func:`.filters.remove_hot_pixels`)."""

    max_count: int | None = None
    max_rate_hz: float | None = None
    mean_multiple: float | None = None
    pixels: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        criteria = [n for n in ("max_count", "max_rate_hz", "mean_multiple")
                    if getattr(self, n) is not None]
        if len(criteria) > 1:
            raise ConfigError(f"give at most one threshold, got {criteria}",
                              source="RemoveHotPixels", key=criteria[1])
        if self.max_count is not None:
            if not isinstance(self.max_count, (int, np.integer)) or self.max_count < 0:
                raise ConfigError(f"must be an int >= 0, got {self.max_count!r}",
                                  source="RemoveHotPixels", key="max_count")
            _set(self, "max_count", int(self.max_count))
        for name in ("max_rate_hz", "mean_multiple"):
            _time(self, name, optional=True)
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ConfigError(f"must be >= 0, got {value!r}", source="RemoveHotPixels",
                                  key=name)
        try:
            pixels = tuple(sorted({(int(a), int(b)) for a, b in self.pixels}))
        except (TypeError, ValueError):
            raise ConfigError(f"must be a sequence of (x, y) pairs, got {self.pixels!r}",
                              source="RemoveHotPixels", key="pixels") from None
        if not criteria and not pixels:
            raise ConfigError("needs a threshold or a list of pixels", source="RemoveHotPixels")
        _set(self, "pixels", pixels)

    def apply_packed(self, packed, sample_indices, epoch=0, position=0, rng=None):
        return filters.remove_hot_pixels_packed(
            packed, max_count=self.max_count, max_rate_hz=self.max_rate_hz,
            mean_multiple=self.mean_multiple, pixels=self.pixels,
        )
