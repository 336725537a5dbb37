"""eventcompress: event-camera recordings to spatio-temporally compressed SNN inputs, fast.

The most used entry points are available from the top level; they are imported on first use so
that ``import eventcompress`` (and the CLI's start-up) stays cheap::

    import eventcompress as ec
    ev = ec.read("Train/3/00012.bin")
    x = ec.compress_events(ev, steps=4, tau_s=50_000.0)
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import EventCompressError, FormatError
from .events import Events

__version__ = "0.1.0"

#: public name -> (module, attribute), resolved lazily by ``__getattr__``.
_LAZY: dict[str, tuple[str, str]] = {
    "read": ("eventcompress.io", "read"),
    "write": ("eventcompress.io", "write"),
    "frames": ("eventcompress.kernels.frames", "frames"),
    "compress_events": ("eventcompress.kernels.stc", "compress_events"),
    "Pipeline": ("eventcompress.kernels.pipeline", "Pipeline"),
    "process_many": ("eventcompress.kernels.batch", "process_many"),
    "get_dataset": ("eventcompress.datasets", "get_dataset"),
    "create_model": ("eventcompress.nn", "create_model"),
    "load": ("eventcompress.data.loading", "load"),
}

__all__ = ["Events", "EventCompressError", "FormatError", "__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'eventcompress' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
