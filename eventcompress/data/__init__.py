"""PyTorch datasets over cached or on-the-fly event tensors, collate functions, transforms.

* :class:`CachedDataset`: samples of a store written by :mod:`eventcompress.cache`, read a
  batch per call (``__getitems__``), optionally from shared memory (``in_memory``);
  :meth:`CachedDataset.loader` builds the DataLoader that hands batches over through a
  shared-memory ring instead of pickled tensors (docs/data.md, "Loading at memory speed").
* :class:`EventDataset`: decoding + a :class:`~eventcompress.kernels.Pipeline` per sample,
  for experiments whose parameters change (same output contract).
* :func:`train_val_split`: stratified, seeded validation split of a training set.
* :func:`pad_collate`, :func:`time_first_collate`: batches of ragged / time-first samples.
* :mod:`.transforms`: tonic-compatible transform classes; :mod:`.augment`: tensor
  augmentations.

This is one of the subpackages that import torch; :mod:`eventcompress.cache` does not.
"""

from __future__ import annotations

import importlib
from typing import Any

#: public name -> module, resolved on first use (the cache-backed parts need
#: eventcompress.cache only when used).
_LAZY: dict[str, str] = {
    "CachedDataset": "eventcompress.data.cached",
    "EventDataset": "eventcompress.data.events",
    "load": "eventcompress.data.loading",
    "default_cache_dir": "eventcompress.data.loading",
    "train_val_split": "eventcompress.data.splits",
    "LabelledSubset": "eventcompress.data.splits",
    "pad_collate": "eventcompress.data.collate",
    "time_first_collate": "eventcompress.data.collate",
    "batch_collate": "eventcompress.data.collate",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    try:
        module = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'eventcompress.data' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
