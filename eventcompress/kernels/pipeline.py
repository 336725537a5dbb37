"""A frozen, hashable chain of event -> event steps, optionally ending in a dense representation.

``Pipeline(steps=(Denoise(10_000), Downsample(2)), representation=STCConfig(...))`` is callable
on :class:`~eventcompress.events.Events`; its canonical JSON (``canonical_json()``) and
``sha256()`` do not depend on the process or Python session, and ``Pipeline.from_json`` rebuilds
an equal pipeline from that text, so the hash can key a cache of processed samples.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config import FrozenConfig
from ..errors import ConfigError
from ..events import Events
from .packed import PackedEvents
from .registry import config_class, config_from_dict, register_config
from .representations import Representation
from .transforms import EventTransform

__all__ = ["Pipeline", "config_class", "config_from_dict"]


@register_config
@dataclass(frozen=True)
class Pipeline(FrozenConfig):
    """Event -> event ``steps`` applied in order, then an optional ``representation``.

    Without a representation a call returns :class:`Events`; with one (e.g. ``FrameConfig``,
    ``STCConfig``) it returns that representation's array of shape
    ``output_shape(events.sensor_size)``.

    Random steps draw from ``uniforms(step.seed, epoch, sample_index, position)``
    (``position`` = the step's index in ``steps``) unless a generator ``rng`` is passed, in
    which case all random steps draw from it in order. A packed batch
    (``transform_packed``) gives exactly what sample-by-sample calls give.
    """

    steps: tuple[Any, ...] = ()
    representation: Any = None

    def __post_init__(self) -> None:
        steps = self.steps
        if isinstance(steps, (EventTransform, FrozenConfig)):
            steps = (steps,)
        steps = tuple(steps)
        for i, step in enumerate(steps):
            if not isinstance(step, EventTransform):
                raise ConfigError(f"step {i} ({step!r}) is not an event transform configuration "
                                  "(an EventTransform)", source="Pipeline", key="steps")
        object.__setattr__(self, "steps", steps)
        rep = self.representation
        if rep is not None and not isinstance(rep, Representation):
            raise ConfigError(f"{rep!r} is not a representation configuration (a "
                              "Representation)", source="Pipeline", key="representation")

    # -- shapes ---------------------------------------------------------------------------
    def output_sensor_size(self, sensor_size: tuple[int, int]) -> tuple[int, int]:
        """The sensor size after the event -> event steps."""
        size = (int(sensor_size[0]), int(sensor_size[1]))
        for step in self.steps:
            size = tuple(int(v) for v in step.output_sensor_size(size))  # type: ignore[assignment]
        return size

    def output_shape(self, sensor_size: tuple[int, int]) -> tuple[int, ...]:
        """Shape of the array one call returns for input of ``sensor_size``."""
        if self.representation is None:
            raise ConfigError("a pipeline without a representation returns Events, which have "
                              "no fixed shape", source="Pipeline", key="representation")
        return tuple(int(v) for v in
                     self.representation.output_shape(self.output_sensor_size(sensor_size)))

    @property
    def output_dtype(self) -> np.dtype:
        if self.representation is None:
            raise ConfigError("a pipeline without a representation returns Events",
                              source="Pipeline", key="representation")
        return np.dtype(self.representation.output_dtype)

    @property
    def is_random(self) -> bool:
        """True when some step draws random numbers (its output depends on the sample index)."""
        return any(step.is_random for step in self.steps)

    # -- running --------------------------------------------------------------------------
    def transform_events(self, events: Events, *, sample_index: int = 0, epoch: int = 0,
                         rng: np.random.Generator | None = None) -> Events:
        """Apply the event -> event steps only."""
        for position, step in enumerate(self.steps):
            events = step.apply(events, sample_index=sample_index, epoch=epoch,
                                position=position, rng=rng)
        return events

    def transform_packed(self, packed: PackedEvents, sample_indices: np.ndarray, *,
                         epoch: int = 0) -> PackedEvents:
        """Apply the event -> event steps to every sample of a packed batch."""
        sample_indices = np.ascontiguousarray(sample_indices, np.int64)
        for position, step in enumerate(self.steps):
            packed = step.apply_packed(packed, sample_indices, epoch, position)
        return packed

    def __call__(self, events: Events, *, sample_index: int = 0, epoch: int = 0,
                 rng: np.random.Generator | None = None) -> Events | np.ndarray:
        events = self.transform_events(events, sample_index=sample_index, epoch=epoch, rng=rng)
        if self.representation is None:
            return events
        return self.representation(events)

    # -- serialisation --------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Pipeline:
        """Rebuild from ``to_dict()`` / parsed ``canonical_json()``."""
        if not isinstance(data, Mapping) or data.get("type") != "Pipeline":
            raise ConfigError(f"not a Pipeline dictionary: {data!r}"[:200], key="type")
        return config_from_dict(data)

    @classmethod
    def from_json(cls, text: str) -> Pipeline:
        """Rebuild from ``canonical_json()`` (or any JSON of the same structure)."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"invalid pipeline JSON: {exc}") from None
        return cls.from_dict(data)
