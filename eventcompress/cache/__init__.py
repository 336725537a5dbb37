"""Content-keyed stores of processed datasets (zarr v3 or HDF5), built in parallel, atomic and
resumable. Never imports torch.

>>> from eventcompress.cache import build, open_store
>>> path = build("nmnist", "data/NMNIST", "train", pipeline, "cache/")
>>> store = open_store(path)
>>> batch = store.read([3, 17, 42])           # [3, T, P, H, W], one call

The format is described (and versioned) in docs/cache.md.
"""

from __future__ import annotations

import importlib
from typing import Any

#: public name -> module (resolved on first use: zarr and h5py load only when needed)
_LAZY = {
    "build": "builder", "build_store": "builder", "build_from": "from_iterable",
    "BuildReport": "builder", "SampleErrors": "builder", "remove_store": "builder",
    "open_store": "store", "Store": "store", "read_store_attrs": "store",
    "store_key": "format", "store_name": "format", "STORE_FORMAT_VERSION": "format",
    "TaskExecutor": "executor", "LocalExecutor": "executor",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'eventcompress.cache' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
