"""Frozen, hashable configurations of the dense representations (frames, STC).

A configuration is the last step of a preprocessing pipeline: ``cfg(events)`` returns the array,
``cfg.output_shape(sensor_size)`` and ``cfg.output_dtype`` let a batch be allocated before any
recording is read, and ``cfg.sha256()`` (canonical JSON, see ``eventcompress.config``) keys caches.
Values are normalised on construction (dtype names, integral floats as ints, ``tau_s`` as float) so
that equal settings always give the same hash.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..config import FrozenConfig
from ..errors import ConfigError
from ..events import Events
from . import _frame_batch
from . import frames as _frames
from . import stc as _stc
from .packed import PackedEvents


def _set(obj: Any, name: str, value: Any) -> None:
    object.__setattr__(obj, name, value)


def _integral_to_int(value: Any) -> Any:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _optional_int(obj: Any, name: str) -> None:
    value = getattr(obj, name)
    if value is None:
        return
    if isinstance(value, bool) or not float(value).is_integer():
        raise ConfigError(f"must be an integer number of microseconds, got {value!r}",
                          source=type(obj).__name__, key=name)
    _set(obj, name, int(value))


def _into_contiguous(out: np.ndarray, fill: Callable[[np.ndarray], None]) -> None:
    """``fill(out)``, through a C-contiguous copy where ``out`` is not (the kernels need one)."""
    target = out if out.flags.c_contiguous else np.empty(out.shape, out.dtype)
    fill(target)
    if target is not out:
        out[...] = target


@dataclass(frozen=True)
class FrameConfig(FrozenConfig):
    """Arguments of ``eventcompress.kernels.frames`` as a frozen, hashable configuration."""

    n_time_bins: int | None = None
    time_window: float | None = None
    event_count: int | None = None
    n_event_bins: int | None = None
    overlap: float = 0.0
    include_incomplete: bool | None = None
    start_time: int | None = None
    end_time: int | None = None
    edges: str = "fixed"
    polarity: str = "split"
    dtype: str = "int16"
    on_overflow: str = "saturate"

    # 2: include_incomplete defaults to None, stored resolved (True for time_window /
    # event_count on the fixed grid, where version 1 stored False and dropped the tail).
    schema_version: ClassVar[int] = 2

    def __post_init__(self) -> None:
        src = type(self).__name__
        try:
            for name in ("n_time_bins", "event_count", "n_event_bins"):
                _set(self, name, _integral_to_int(getattr(self, name)))
            _set(self, "time_window", _integral_to_int(self.time_window))
            _set(self, "overlap", float(self.overlap))
            _optional_int(self, "start_time")
            _optional_int(self, "end_time")
            mode, _, dt = _frames.check_frame_arguments(
                **self._kwargs(), polarity=self.polarity, dtype=self.dtype,
                on_overflow=self.on_overflow,
            )
            # Stored resolved, so that the default and its explicit value hash alike.
            _set(self, "include_incomplete", _frames.resolve_include_incomplete(
                self.include_incomplete, self.edges, mode))
            _set(self, "dtype", dt.name)
            # Not a field: derived once here so that calls skip validation.
            _set(self, "_plan", _frame_batch.frame_plan(self._kwargs(), self.polarity, dt,
                                                        self.on_overflow))
        except ConfigError:
            raise
        except (ValueError, TypeError) as exc:
            raise ConfigError(str(exc), source=src) from None

    def _kwargs(self) -> dict[str, Any]:
        return {
            "n_time_bins": self.n_time_bins, "time_window": self.time_window,
            "event_count": self.event_count, "n_event_bins": self.n_event_bins,
            "overlap": self.overlap, "include_incomplete": self.include_incomplete,
            "start_time": self.start_time, "end_time": self.end_time, "edges": self.edges,
        }

    def __call__(self, events: Events) -> np.ndarray:
        if self._plan is not None and isinstance(events, Events):
            out = np.empty((1, *self.output_shape(events.sensor_size)), self.output_dtype)
            self._fill(PackedEvents.single(events), out, events.metadata)
            return out[0]
        return self._frames(events)

    def _frames(self, events: Events) -> np.ndarray:
        return _frames.frames(events, **self._kwargs(), polarity=self.polarity,
                              dtype=self.output_dtype, on_overflow=self.on_overflow)

    @property
    def batchable(self) -> bool:
        """True when ``fill_batch`` runs one kernel per batch (see docs/preprocessing.md)."""
        return self._plan is not None

    def fill_batch(self, packed: PackedEvents, out: np.ndarray) -> None:
        """``out[k] = self(packed.sample(k))`` for every sample of the packed batch: one
        GIL-free Numba call per batch for the batchable modes, else sample by sample."""
        shape = (len(packed), *self.output_shape(packed.sensor_size))
        if out.shape != shape or out.dtype != self.output_dtype:
            raise ValueError(f"out must be a {self.output_dtype} array of shape {shape}, got "
                             f"{out.dtype} {out.shape}")
        if self._plan is None:
            for k in range(len(packed)):
                out[k] = self._frames(packed.sample(k))
            return
        self._fill(packed, out, None)

    def _fill(self, packed: PackedEvents, out: np.ndarray, metadata: dict | None) -> None:
        plan = self._plan

        def fill(target: np.ndarray) -> None:
            done = np.empty(len(packed), np.bool_)
            _frame_batch.frames_batch(
                packed.x, packed.y, packed.t, packed.p, packed.offsets, target, plan.kind,
                plan.has_start, plan.start_time, plan.has_end, plan.end_time, plan.lo, plan.hi,
                plan.pmode, plan.int_direct, plan.exact, plan.dlo, plan.dhi,
                plan.raise_overflow, done,
            )
            for k in np.flatnonzero(~done):
                # Unsorted where order matters, or an error to report: frames() handles or
                # raises.
                target[k] = self._frames(packed.sample(int(k), metadata))

        _into_contiguous(out, fill)

    @property
    def output_dtype(self) -> np.dtype:
        return np.dtype(self.dtype)

    @property
    def n_channels(self) -> int:
        return _frames.n_channels(self.polarity)

    def n_frames(self) -> int | None:
        """T when it does not depend on the recording, else None."""
        return _frames.frame_count(None, **self._kwargs())

    def output_shape(self, sensor_size: tuple[int, int]) -> tuple[int, int, int, int]:
        """(T, P, H, W) for a sensor of ``(width, height)``; ConfigError when T depends on the
        recording (time_window without start and end, event_count, or a non-fixed time_window)."""
        n = self.n_frames()
        if n is None:
            raise ConfigError(
                "the number of frames depends on the recording; use n_time_bins, n_event_bins "
                "or time_window with start_time and end_time (edges='fixed') for fixed shapes",
                source=type(self).__name__,
            )
        w, h = (int(v) for v in sensor_size)
        return (n, self.n_channels, h, w)


@dataclass(frozen=True)
class STCConfig(FrozenConfig):
    """Arguments of ``eventcompress.kernels.compress_events`` as a frozen configuration."""

    steps: int = 10
    tau_s: float = math.inf
    edges: str = "fixed"
    start_time: int | None = None
    end_time: int | None = None
    carry: bool = False
    fine_bins: int | None = None
    normalize: str = "none"
    polarity: str = "split"

    schema_version: ClassVar[int] = 1

    def __post_init__(self) -> None:
        src = type(self).__name__
        try:
            _set(self, "steps", _integral_to_int(self.steps))
            _set(self, "fine_bins", _integral_to_int(self.fine_bins))
            if isinstance(self.tau_s, (int, float, np.integer, np.floating)) \
                    and not isinstance(self.tau_s, bool):
                _set(self, "tau_s", float(self.tau_s))
            _optional_int(self, "start_time")
            _optional_int(self, "end_time")
            _stc.check_stc_arguments(self.steps, self.tau_s, self.edges, bool(self.carry),
                                     self.fine_bins, self.normalize, self.polarity)
            _set(self, "carry", bool(self.carry))
            # Not a field: derived once here so that calls skip validation.
            _set(self, "_plan", _stc.stc_plan(
                self.steps, self.tau_s, self.edges, self.start_time, self.end_time, self.carry,
                self.fine_bins, self.normalize, self.polarity))
        except ConfigError:
            raise
        except (ValueError, TypeError) as exc:
            raise ConfigError(str(exc), source=src) from None

    def __call__(self, events: Events) -> np.ndarray:
        if not isinstance(events, Events):
            raise TypeError(f"STCConfig takes an Events, got {type(events).__name__}")
        out = np.empty((1, *self.output_shape(events.sensor_size)), np.float32)
        self._fill(PackedEvents.single(events), out, events.metadata)
        return out[0]

    def fill_batch(self, packed: PackedEvents, out: np.ndarray) -> None:
        """``out[k] = self(packed.sample(k))`` for every sample of the packed batch, in one
        GIL-free Numba call."""
        self._fill(packed, out, None)

    def fill_streams(self, streams: Sequence[Events], out: np.ndarray) -> None:
        """``out[k] = self(streams[k])`` for every stream, in one GIL-free Numba call that reads
        each stream where it lies, without packing a copy first (``process_many`` uses it for a
        pipeline without event steps: on small streams the copy was most of the memory
        traffic)."""
        _into_contiguous(out, lambda target: _stc.compress_streams(streams, target, self._plan))

    def _fill(self, packed: PackedEvents, out: np.ndarray, metadata: dict | None) -> None:
        _into_contiguous(
            out, lambda target: _stc.compress_packed(packed, target, self._plan, metadata))

    @property
    def output_dtype(self) -> np.dtype:
        return np.dtype(np.float32)

    @property
    def n_channels(self) -> int:
        return 2 if self.polarity == "split" else 1

    def output_shape(self, sensor_size: tuple[int, int]) -> tuple[int, int, int, int]:
        """(steps, P, H, W) for a sensor of ``(width, height)``."""
        w, h = (int(v) for v in sensor_size)
        return (self.steps, self.n_channels, h, w)
