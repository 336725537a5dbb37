"""``CachedDataset``: the samples of a cache store as a PyTorch map-style dataset.

Everything a DataLoader needs without tensor data (``labels``, ``classes``, ``sample_ids``,
``pipeline``, length) comes from the store's small arrays, read once. Tensor data is read per
batch: ``__getitems__`` makes one ``Store.read`` call (or one gather from shared memory) for a
whole DataLoader batch. The store handle is opened lazily in the process that reads and again
after a fork, and pickling drops it, so the dataset works with fork, spawn and persistent
workers. ``in_memory`` loads the array once into shared memory that forked or spawned workers
map without copying. See docs/data.md.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ..cache.format import checked_indices
from ..errors import StoreError
from .collate import SampleBatch
from .events import apply_transform, events_tensor
from .mapped import MappedRows, StagingBatch, convert_rows

__all__ = ["CachedDataset", "memory_available"]

#: share of the available memory a store may take for ``in_memory="auto"``
DEFAULT_MEMORY_FRACTION = 0.25
# samples per read when loading a store into memory (a few MB per call)
_LOAD_ROWS = 1024


def memory_available() -> int:
    """Bytes of memory available to this process (``MemAvailable``), or the physical memory."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _torch_dtype(dtype: np.dtype) -> torch.dtype:
    return torch.from_numpy(np.zeros(0, dtype)).dtype


class CachedDataset(Dataset):
    """``dataset[i] = (x_i, label_i)`` from a cache store (a path or an opened
    :class:`~eventcompress.cache.Store`).

    Dense stores give ``x_i`` as a ``[T, P, H, W]`` tensor of ``dtype`` (default float32;
    ``dtype=None`` keeps the stored dtype, e.g. float16); ragged stores give each sample at its
    own length ``[T_i, P, H, W]`` (batch with :func:`~eventcompress.data.pad_collate`); events
    stores give int64 ``[n_i, 4]`` (x, y, t, p). ``transform`` is applied to each sample
    (our augmentations get ``index`` and ``epoch``; see :meth:`set_epoch`),
    ``target_transform`` to each label.

    ``in_memory``: True loads the store once into shared memory; ``"auto"`` (default) does so
    when it takes at most ``memory_fraction`` of the available memory (dense and ragged
    stores); False reads the store on every access (the page cache keeps it warm).
    """

    def __init__(self, store_or_path: Any, transform: Any = None, target_transform: Any = None,
                 in_memory: bool | str = "auto", dtype: torch.dtype | None = torch.float32, *,
                 memory_fraction: float = DEFAULT_MEMORY_FRACTION,
                 check_source: bool | str = "auto") -> None:
        from ..cache import Store, open_store

        if isinstance(store_or_path, Store):
            store = store_or_path
        elif isinstance(store_or_path, (str, os.PathLike)):
            store = open_store(store_or_path, check_source=check_source)
        else:
            raise TypeError(f"expected a store path or an eventcompress.cache.Store, got "
                            f"{type(store_or_path).__name__}")
        if in_memory not in (True, False, "auto"):
            raise ValueError(f"in_memory must be True, False or 'auto', got {in_memory!r}")
        self.store = store
        self.path = Path(store.path)
        self.transform = transform
        self.target_transform = target_transform
        self.kind = store.kind
        self.ragged = bool(store.ragged)
        self.dtype = dtype
        self.epoch = 0
        self.labels: np.ndarray = np.ascontiguousarray(store.labels, np.int64)
        self.sample_ids: np.ndarray = store.sample_ids
        self.pipeline = store.pipeline
        self.classes = self._classes(store)
        self.sample_shape = tuple(store.shape) if not self.ragged else None
        self._offsets = np.ascontiguousarray(store.offsets, np.int64) if self.ragged else None
        self._memory: torch.Tensor | None = None
        self._memory_np: np.ndarray | None = None
        self._mapped: Any = None
        self._stage = StagingBatch(self.sample_shape or (), store.dtype)
        if in_memory is True or (in_memory == "auto" and self.kind != "events"
                                 and self.nbytes <= memory_fraction * memory_available()):
            self._load_into_memory()
        elif not self.ragged and store.backend == "zarr":
            self._mapped = MappedRows.open(self.path / "data", len(self))

    @staticmethod
    def _classes(store: Any) -> tuple[str, ...]:
        from ..datasets import DATASETS

        layout = DATASETS.get(str(store.attrs.get("dataset", "")))
        if layout is not None:
            return tuple(layout.classes)
        n = int(store.labels.max()) + 1 if len(store) else 0
        return tuple(str(c) for c in range(n))

    # -- size and memory ------------------------------------------------------------------
    @property
    def nbytes(self) -> int:
        """Bytes of the stored tensor data."""
        if self.kind == "events":
            return int(self._offsets[-1]) * self.store.dtype.itemsize
        rows = len(self) if not self.ragged else int(self._offsets[-1])
        return rows * int(np.prod(self.store.shape)) * self.store.dtype.itemsize

    @property
    def in_memory(self) -> bool:
        return self._memory is not None

    def _load_into_memory(self) -> None:
        if self.kind == "events":
            raise StoreError(self.path, "an events store is not loaded into memory; use "
                             "in_memory=False")
        rows = len(self) if not self.ragged else int(self._offsets[-1])
        memory = torch.empty((rows, *self.store.shape), dtype=_torch_dtype(self.store.dtype))
        memory.share_memory_()  # before filling: one shared copy, never a private one
        target = memory.numpy()
        if not self.ragged:
            # a zarr store's rows straight out of its shard files (a third less CPU time than
            # Store.read for 70,000 N-MNIST samples; docs/benchmarks.md)
            mapped = MappedRows.open(self.path / "data", rows) \
                if self.store.backend == "zarr" else None
            for lo in range(0, rows, _LOAD_ROWS):
                hi = min(rows, lo + _LOAD_ROWS)
                if mapped is not None:
                    mapped.gather(np.arange(lo, hi), target[lo:hi])
                else:
                    target[lo:hi] = self.store.read(np.arange(lo, hi))
        else:
            for i, part in enumerate(self.store.read_ragged(np.arange(len(self)))):
                target[self._offsets[i]:self._offsets[i + 1]] = part
        self._memory, self._memory_np = memory, target

    def __getstate__(self) -> dict[str, Any]:
        # the shared tensor travels as a shared-memory handle; its NumPy view is rebuilt
        return {**self.__dict__, "_memory_np": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if self._memory is not None:
            self._memory_np = self._memory.numpy()

    # -- access ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.labels)

    def set_epoch(self, epoch: int) -> None:
        """Epoch passed to the augmentations that take one (seeded draws change per epoch)."""
        self.epoch = int(epoch)

    def _checked(self, indices: Any) -> np.ndarray:
        """``indices`` as int64, negative ones counted from the end; IndexError if outside."""
        return checked_indices(indices, len(self), "dataset")

    def read(self, indices: Any) -> np.ndarray:
        """Stored values of a dense store ``[len(indices), T, P, H, W]`` (stored dtype), in one
        gather from memory or one ``Store.read`` call."""
        idx = self._checked(indices)
        if self._memory_np is not None:
            return self._memory_np[idx]
        return self.store.read(idx)

    def read_into(self, indices: Any, out: torch.Tensor) -> None:
        """``out[:len(indices)] = read(indices)`` converted to ``out.dtype``.

        The rows are gathered in the stored dtype (straight into ``out`` when it has that
        dtype, else into a reused staging batch) and converted in one step by
        :func:`~eventcompress.data.mapped.convert_rows`, which never lets torch split the copy
        over its intra-op threads: on a busy machine waiting for a descheduled thread made a
        batch conversion 100 times slower (docs/data.md). One conversion per batch instead of
        one per row halves the cost of a batch from memory (docs/benchmarks.md)."""
        idx = self._checked(indices)
        target = out[:len(idx)]
        if self._memory_np is None:
            if self._mapped is not None:
                self._mapped.read_into(idx, out)
            else:
                convert_rows(torch.from_numpy(self.store.read(idx)), target)
            return
        # mode="clip": the indices are checked already, and "raise" buffers the output
        if target.dtype == self._memory.dtype and target.is_contiguous():
            np.take(self._memory_np, idx, axis=0, out=target.numpy(), mode="clip")
            return
        stage = self._stage.get(len(idx))
        np.take(self._memory_np, idx, axis=0, out=stage, mode="clip")
        convert_rows(torch.from_numpy(stage), target)

    @property
    def output_dtype(self) -> torch.dtype:
        """The dtype of the returned tensors (``dtype``, or the stored one)."""
        return self.dtype if self.dtype is not None else _torch_dtype(self.store.dtype)

    def _ragged_one(self, i: int) -> torch.Tensor:
        if self.kind == "events":
            return events_tensor(self.store.read_events(i))
        if self._memory is not None:
            x = self._memory[int(self._offsets[i]):int(self._offsets[i + 1])]
        else:
            x = torch.from_numpy(self.store.read_ragged([i])[0])
        return x if self.dtype is None else x.to(self.dtype)

    def _label(self, i: int) -> Any:
        label: Any = int(self.labels[i])
        return label if self.target_transform is None else self.target_transform(label)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        i = int(self._checked([index])[0])
        if self.ragged:
            x = self._ragged_one(i)
        else:
            x = torch.empty(self.sample_shape, dtype=self.output_dtype)
            self.read_into([i], x[None])
        return apply_transform(self.transform, x, i, self.epoch), self._label(i)

    def __getitems__(self, indices: Sequence[int]) -> Any:
        """A whole batch: one read for all of ``indices``. Dense stores give a
        :class:`SampleBatch` (one tensor, no per-sample objects), ragged ones a list."""
        idx = self._checked(indices)
        if self.ragged:
            return [self[int(i)] for i in idx]
        x = torch.empty((len(idx), *self.sample_shape), dtype=self.output_dtype)
        self.read_into(idx, x)
        if self.transform is not None:
            x = torch.stack([apply_transform(self.transform, x[k], int(i), self.epoch)
                             for k, i in enumerate(idx)])
        if self.target_transform is None:
            labels: Any = torch.from_numpy(self.labels[idx])
        else:
            labels = [self._label(int(i)) for i in idx]
        return SampleBatch(x, labels)

    def loader(self, batch_size: int = 128, shuffle: bool = False, num_workers: int = 0,
               **kwargs: Any) -> torch.utils.data.DataLoader:
        """A DataLoader set up for speed; see :func:`eventcompress.data.ring.fast_loader`."""
        from .ring import fast_loader

        return fast_loader(self, batch_size=batch_size, shuffle=shuffle,
                           num_workers=num_workers, **kwargs)

    def __repr__(self) -> str:
        mode = "in memory" if self.in_memory else "lazy"
        return f"CachedDataset({str(self.path)!r}, {self.kind}, n={len(self)}, {mode})"
