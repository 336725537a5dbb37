"""tonic-style transform classes backed by our kernels.

Each class takes tonic's structured event arrays (fields ``x, y, t, p`` in any order and any
integer / bool dtype; an :class:`~eventcompress.events.Events` works too) and the arguments of
the tonic class of the same name, so a tonic user can write
``tonic.datasets.NMNIST(save_to, transform=ToSTC(sensor_size, steps=4, tau_s=50_000))``.

* :class:`ToFrame` and :class:`ToSTC` return ``[T, P, H, W]`` NumPy arrays. ``ToFrame``'s
  default ``edges="fixed"`` lays the frames on a grid that drops no event;
  ``edges="tonic"`` returns exactly what ``tonic.transforms.ToFrame`` returns (its slicing, its
  int16 counts, and for an empty input its float64 zeros of shape ``(T, P, W, H)``).
* The event -> event classes (filters, drops, jitter, noise, skew) return a structured array of
  the input's dtype. The random ones draw from a per-process NumPy generator seeded from
  ``seed`` and the DataLoader worker id, so forked workers do not repeat each other's draws.

Differences from tonic are listed in docs/data.md ("tonic-compatible transforms").
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..events import Events
from ..kernels import augment
from ..kernels.representations import FrameConfig, STCConfig
from ..kernels.transforms import EventTransform

__all__ = [
    "Denoise",
    "DropEvent",
    "DropEventByArea",
    "DropEventByTime",
    "DropPixel",
    "RefractoryPeriod",
    "SpatialJitter",
    "TimeJitter",
    "TimeSkew",
    "ToFrame",
    "ToSTC",
    "UniformNoise",
    "as_events",
]


def as_events(events: Any, sensor_size: tuple[int, ...] | None = None) -> Events:
    """Events from a tonic structured array (or Events), on ``sensor_size[:2]`` when given."""
    size = None if sensor_size is None else (int(sensor_size[0]), int(sensor_size[1]))
    if isinstance(events, Events):
        if size is None or events.sensor_size == size:
            return events
        return Events(events.x, events.y, events.t, events.p, size, events.metadata)
    return Events.from_structured(np.asarray(events), size)


def _polarity(sensor_size: tuple[int, ...] | None, polarity: str | None) -> str:
    if polarity is not None:
        return polarity
    if sensor_size is not None and len(sensor_size) > 2 and int(sensor_size[2]) == 1:
        return "merge"
    return "split"


class ToFrame:
    """Event counts per pixel in T slices, ``[T, P, H, W]`` (tonic's ``ToFrame`` arguments).

    ``sensor_size = (W, H, P)``: ``P = 2`` splits polarities (channel 0 = OFF, 1 = ON), ``P = 1``
    merges them. ``include_incomplete=None`` keeps the shorter last slice on the fixed grid and
    drops it with ``edges="tonic"`` (tonic's default ``False``). ``dtype`` is the count dtype
    (int16 as tonic). The frozen configuration behind it is ``self.config``
    (a :class:`~eventcompress.kernels.FrameConfig`, usable in a Pipeline)."""

    def __init__(self, sensor_size: tuple[int, int, int], time_window: float | None = None,
                 event_count: int | None = None, n_time_bins: int | None = None,
                 n_event_bins: int | None = None, overlap: float = 0.0,
                 include_incomplete: bool | None = None, start_time: int | None = None,
                 end_time: int | None = None, edges: str = "fixed", polarity: str | None = None,
                 dtype: str = "int16") -> None:
        self.sensor_size = tuple(int(v) for v in sensor_size)
        self.config = FrameConfig(
            n_time_bins=n_time_bins, time_window=time_window, event_count=event_count,
            n_event_bins=n_event_bins, overlap=overlap, include_incomplete=include_incomplete,
            start_time=start_time, end_time=end_time, edges=edges,
            polarity=_polarity(sensor_size, polarity), dtype=dtype)

    def __call__(self, events: Any) -> np.ndarray:
        ev = as_events(events, self.sensor_size)
        cfg = self.config
        if len(ev) == 0 and cfg.edges == "tonic":
            # tonic's empty-input frame: float64, width and height swapped
            n = 1 if cfg.time_window is not None or cfg.event_count is not None \
                else (cfg.n_time_bins or cfg.n_event_bins)
            w, h = ev.sensor_size
            return np.zeros((n, cfg.n_channels, w, h))
        return cfg(ev)

    def __repr__(self) -> str:
        return f"ToFrame(sensor_size={self.sensor_size}, config={self.config!r})"


class ToSTC:
    """Spatio-temporal compression into ``steps`` frames, ``[T, P, H, W]`` float32 (see
    :class:`~eventcompress.kernels.STCConfig` for every argument; ``self.config``)."""

    def __init__(self, sensor_size: tuple[int, int, int], steps: int = 10,
                 tau_s: float = float("inf"), edges: str = "fixed",
                 start_time: int | None = None, end_time: int | None = None,
                 carry: bool = False, fine_bins: int | None = None, normalize: str = "none",
                 polarity: str | None = None) -> None:
        self.sensor_size = tuple(int(v) for v in sensor_size)
        self.config = STCConfig(steps=steps, tau_s=tau_s, edges=edges, start_time=start_time,
                                end_time=end_time, carry=carry, fine_bins=fine_bins,
                                normalize=normalize, polarity=_polarity(sensor_size, polarity))

    def __call__(self, events: Any) -> np.ndarray:
        return self.config(as_events(events, self.sensor_size))

    def __repr__(self) -> str:
        return f"ToSTC(sensor_size={self.sensor_size}, config={self.config!r})"


class _EventStep:
    """A structured array (or Events) in, the same type out, through one event -> event step."""

    sensor_size: tuple[int, ...] | None = None

    def __init__(self, step: EventTransform, sensor_size: tuple[int, ...] | None = None,
                 seed: int | None = None) -> None:
        self.step = step
        self.sensor_size = None if sensor_size is None else tuple(int(v) for v in sensor_size)
        self.seed = seed
        self._rng: np.random.Generator | None = None
        self._pid = -1

    def _generator(self) -> np.random.Generator | None:
        if not self.step.is_random:
            return None
        if self._pid != os.getpid() or self._rng is None:
            from torch.utils.data import get_worker_info

            info = get_worker_info()
            worker = 0 if info is None else info.id + 1
            seq = np.random.SeedSequence(None if self.seed is None else [self.seed, worker])
            self._rng = np.random.default_rng(seq)
            self._pid = os.getpid()
        return self._rng

    def __call__(self, events: Any) -> Any:
        ev = as_events(events, self.sensor_size)
        out = self.step.apply(ev, rng=self._generator())
        if isinstance(events, Events):
            return out
        return out.to_structured(np.asarray(events).dtype)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_rng": None, "_pid": -1}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.step!r})"


class _FilterStep(_EventStep):
    """A step that does not use the sensor size: it works on the stream's own extent."""

    def __call__(self, events: Any) -> Any:
        if isinstance(events, Events):
            return self.step.apply(events)
        arr = np.asarray(events)
        if len(arr) == 0:
            return arr
        return self.step.apply(as_events(arr)).to_structured(arr.dtype)


class Denoise(_FilterStep):
    """tonic's ``Denoise(filter_time)``, event for event (:func:`.filters.denoise`)."""

    def __init__(self, filter_time: float) -> None:
        from ..kernels.transforms import Denoise as Config

        super().__init__(Config(filter_time))


class RefractoryPeriod(_FilterStep):
    """tonic's ``RefractoryPeriod(delta)`` for a fixed ``delta`` (microseconds)."""

    def __init__(self, delta: float) -> None:
        from ..kernels.transforms import RefractoryPeriod as Config

        super().__init__(Config(delta))


class DropPixel(_FilterStep):
    """tonic's ``DropPixel(coordinates, hot_pixel_frequency)``: drop the listed ``(x, y)``
    pixels and/or every pixel firing more than ``hot_pixel_frequency`` Hz."""

    def __init__(self, coordinates: list[tuple[int, int]] | None = None,
                 hot_pixel_frequency: float | None = None) -> None:
        from ..kernels.transforms import RemoveHotPixels

        super().__init__(RemoveHotPixels(max_rate_hz=hot_pixel_frequency,
                                         pixels=tuple(coordinates or ())))


class DropEvent(_EventStep):
    """Drop each event with probability ``p`` (tonic drops exactly ``round(p N)`` events)."""

    def __init__(self, p: float, seed: int | None = None) -> None:
        super().__init__(augment.DropEvents(p), seed=seed)


class DropEventByTime(_EventStep):
    """Drop the events of a random window of ``duration_ratio`` of the recording's span."""

    def __init__(self, duration_ratio: float | tuple[float, float] = 0.2,
                 seed: int | None = None) -> None:
        super().__init__(augment.DropTimeWindow(duration_ratio), seed=seed)


class DropEventByArea(_EventStep):
    """Drop the events inside a random box of ``area_ratio`` of each sensor side."""

    def __init__(self, sensor_size: tuple[int, int, int],
                 area_ratio: float | tuple[float, float] = 0.2, seed: int | None = None) -> None:
        super().__init__(augment.DropArea(area_ratio), sensor_size, seed)


class TimeJitter(_EventStep):
    """``t + N(0, std)`` rounded to microseconds; tonic's argument names and defaults."""

    def __init__(self, std: float, clip_negative: bool = True, sort_timestamps: bool = False,
                 seed: int | None = None) -> None:
        super().__init__(augment.TimeJitter(std, clip_negative, sort_timestamps), seed=seed)


class SpatialJitter(_EventStep):
    """``x + N(0, var_x)``, ``y + N(0, var_y)`` rounded to pixels (tonic's variances; its
    correlation ``sigma_xy`` is not supported). ``clip_outliers`` drops events pushed off the
    sensor; otherwise they are moved to its edge (tonic would keep them off the sensor)."""

    def __init__(self, sensor_size: tuple[int, int, int], var_x: float = 1, var_y: float = 1,
                 sigma_xy: float = 0, clip_outliers: bool = False,
                 seed: int | None = None) -> None:
        if sigma_xy:
            raise ValueError("SpatialJitter: correlated jitter (sigma_xy != 0) is not supported")
        super().__init__(augment.SpatialJitter(float(np.sqrt(var_x)), float(np.sqrt(var_y)),
                                               "drop" if clip_outliers else "clamp"),
                         sensor_size, seed)


class UniformNoise(_EventStep):
    """Add ``n`` uniformly distributed noise events, sorted into the stream by time."""

    def __init__(self, sensor_size: tuple[int, int, int], n: int, seed: int | None = None
                 ) -> None:
        super().__init__(augment.UniformNoise(int(n)), sensor_size, seed)


class TimeSkew(_EventStep):
    """``t * coefficient + offset`` (each a number or a ``(low, high)`` range), truncated."""

    def __init__(self, coefficient: float | tuple[float, float],
                 offset: float | tuple[float, float] = 0, seed: int | None = None) -> None:
        super().__init__(augment.TimeSkew(coefficient, offset), seed=seed)
