"""The base of the dense representations (the last step of a pipeline): :class:`Representation`.

A representation is a frozen configuration (``eventcompress.config.FrozenConfig``: canonical
JSON, sha256) that turns one stream into one array: ``rep(events)``. ``output_shape(sensor_size)``
and ``output_dtype`` let a batch be allocated before any recording is read; ``fill_batch`` fills
the rows of such a batch from a packed chunk and ``fill_streams`` from a list of streams. The
defaults loop over ``__call__``; :class:`~.stc.STCConfig` and :class:`~.frames.FrameConfig`
override them with one GIL-free kernel call per chunk.

The two shipped representations live with their functions (``stc.py``, ``frames.py``); they are
also importable from here, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..config import FrozenConfig
from ..errors import ConfigError
from ..events import Events
from .common import INT64_MAX, INT64_MIN, set_field
from .packed import PackBuffers, PackedEvents

__all__ = ["Representation", "check_out", "into_contiguous", "polarity_channels"]


class Representation(FrozenConfig):
    """Base of the configurations that map a stream to an array (subclass it as a frozen
    dataclass and register it with ``register_config``)."""

    def __call__(self, events: Events) -> np.ndarray:
        raise NotImplementedError

    def output_shape(self, sensor_size: tuple[int, int]) -> tuple[int, ...]:
        """Shape of ``self(events)`` for a stream of ``sensor_size = (width, height)``."""
        raise NotImplementedError

    @property
    def output_dtype(self) -> np.dtype:
        raise NotImplementedError

    def fill_batch(self, packed: PackedEvents, out: np.ndarray) -> None:
        """``out[k] = self(packed.sample(k))`` for every sample of the packed batch."""
        check_out(self, out, len(packed), packed.sensor_size)
        for k in range(len(packed)):
            out[k] = self(packed.sample(k))

    def fill_streams(self, streams: Sequence[Events], out: np.ndarray,
                     buffers: PackBuffers | None = None) -> None:
        """``out[k] = self(streams[k])`` for every stream (all of one sensor size): packed
        (into ``buffers`` if given) and handed to ``fill_batch``, unless a subclass reads the
        streams where they lie."""
        if streams:
            self.fill_batch(PackedEvents.pack(streams, buffers), out)


def check_out(rep: Representation, out: np.ndarray, n: int, sensor_size: tuple[int, int]
              ) -> None:
    """ValueError unless ``out`` has the shape and dtype of ``n`` outputs of ``rep``."""
    shape = (n, *rep.output_shape(sensor_size))
    if out.shape != shape or out.dtype != rep.output_dtype:
        raise ValueError(f"out must be a {rep.output_dtype} array of shape {shape}, got "
                         f"{out.dtype} {out.shape}")


def into_contiguous(out: np.ndarray, fill: Callable[[np.ndarray], None]) -> None:
    """``fill(out)``, through a C-contiguous copy where ``out`` is not (the kernels need one)."""
    target = out if out.flags.c_contiguous else np.empty(out.shape, out.dtype)
    fill(target)
    if target is not out:
        out[...] = target


def polarity_channels(polarity: str) -> int:
    """P of a ``(T, P, H, W)`` stack: 2 for "split" (OFF, ON), 1 for "merge" and "signed"."""
    return 2 if polarity == "split" else 1


# -- field normalisation shared by the representation configs --------------------------------
def integral_to_int(value: Any) -> Any:
    """An integral float (or NumPy integer) as int, a NumPy float as float, else unchanged:
    settings that mean the same thing hash alike."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def optional_time(obj: Any, name: str) -> None:
    """Field ``name``: None, or an integer number of microseconds in the int64 range."""
    value = getattr(obj, name)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not float(value).is_integer():
        raise ConfigError(f"must be an integer number of microseconds, got {value!r}",
                          source=type(obj).__name__, key=name)
    if not INT64_MIN <= int(value) <= INT64_MAX:
        raise ConfigError(f"must lie in the int64 range of microseconds, got {value!r}",
                          source=type(obj).__name__, key=name)
    set_field(obj, name, int(value))


def positive_int(obj: Any, name: str, *, optional: bool = False) -> None:
    """Field ``name``: a positive integer (an integral float is accepted), or None if
    ``optional``."""
    value = integral_to_int(getattr(obj, name))
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        what = "a positive integer or None" if optional else "a positive integer"
        raise ConfigError(f"must be {what}, got {getattr(obj, name)!r}",
                          source=type(obj).__name__, key=name)
    set_field(obj, name, value)


def choice(obj: Any, name: str, choices: Sequence[str]) -> None:
    """Field ``name``: one of ``choices``."""
    value = getattr(obj, name)
    if not isinstance(value, str) or value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise ConfigError(f"must be one of {listed}, got {value!r}", source=type(obj).__name__,
                          key=name)


def __getattr__(name: str) -> Any:
    # The shipped configurations, importable from here as before (they import this module, so
    # they cannot be imported at its top).
    if name == "FrameConfig":
        from .frames import FrameConfig
        return FrameConfig
    if name == "STCConfig":
        from .stc import STCConfig
        return STCConfig
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
