"""A DataLoader whose workers hand batches over through a shared-memory ring.

A DataLoader worker normally returns a batch tensor by moving it into a new shared-memory
segment and sending its file descriptor; the main process maps it and touches every page again.
On a 2-core machine that hand-over costs about 3 ms per batch, which caps a 128-sample batch
loop near 40,000 samples/s however fast the read itself is (docs/data.md).

Here the main process allocates, once, ``num_workers x slots_per_worker`` batch slots in shared
memory. Worker ``w`` gathers its batch straight into a free slot of its own, converted to the
output dtype, and returns only ``(slot, length)`` and the labels: a few hundred bytes. The main
process turns that into a tensor viewing the slot, without a copy. The slot is handed back when
that tensor (and every view of it) is garbage-collected, found through a finalizer on the NumPy
array the tensor wraps. When a worker finds none of its slots free (the training loop keeps
batches alive), it returns an ordinary tensor instead: slower, never wrong.

:func:`fast_loader` builds such a loader for a :class:`~eventcompress.data.CachedDataset` (any
dataset with ``read_into(indices, out)``, ``labels`` and ``sample_shape``).
"""

from __future__ import annotations

import threading
import uuid
import weakref
from functools import partial
from typing import Any

import numpy as np
import torch
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    RandomSampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    get_worker_info,
)

__all__ = ["BatchRing", "fast_loader"]

FREE, TAKEN = 0, 1

#: rings of this process by token (the main process rebuilds slot views through it); weak, so
#: a ring goes with its loader (a live batch keeps its ring through the slot's finalizer)
_RINGS: weakref.WeakValueDictionary[str, BatchRing] = weakref.WeakValueDictionary()


class BatchRing:
    """``n_slots`` shared-memory batch slots ``[batch_size, *shape]`` of ``dtype`` plus their
    labels and a state per slot (FREE / TAKEN)."""

    def __init__(self, n_workers: int, per_worker: int, batch_size: int,
                 shape: tuple[int, ...], dtype: torch.dtype) -> None:
        self.n_workers, self.per_worker = int(n_workers), int(per_worker)
        n = self.n_workers * self.per_worker
        self.data = torch.empty((n, batch_size, *shape), dtype=dtype).share_memory_()
        self.labels = torch.empty((n, batch_size), dtype=torch.int64).share_memory_()
        self.state = torch.zeros(n, dtype=torch.int32).share_memory_()
        #: per worker: batches that found no free slot and went the ordinary way
        self.fallbacks = torch.zeros(self.n_workers, dtype=torch.int64).share_memory_()
        self.token = uuid.uuid4().hex
        self._cursor = 0
        self._live: set[int] = set()
        self._lock = threading.Lock()
        self._views()
        _RINGS[self.token] = self

    def _views(self) -> None:
        self._data_np = self.data.numpy()
        self._state_np = self.state.numpy()

    def __getstate__(self) -> dict[str, Any]:
        keep = ("n_workers", "per_worker", "data", "labels", "state", "fallbacks", "token")
        return {k: self.__dict__[k] for k in keep}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._cursor, self._live = 0, set()
        self._lock = threading.Lock()
        self._views()

    # -- worker side ----------------------------------------------------------------------
    def claim(self, worker: int) -> int | None:
        """A free slot of ``worker``'s share, marked TAKEN, or None."""
        base = worker * self.per_worker
        for k in range(self.per_worker):
            s = base + (self._cursor + k) % self.per_worker
            if self._state_np[s] == FREE:
                self._state_np[s] = TAKEN
                self._cursor = (self._cursor + k + 1) % self.per_worker
                return s
        return None

    # -- main side ------------------------------------------------------------------------
    def view(self, slot: int, n: int, time_first: bool = False
             ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x, labels)`` of a filled slot; the slot is freed when ``x`` (and every view of
        it) is collected."""
        array = self._data_np[slot, :n]  # a fresh array object: the finalizer's anchor
        with self._lock:
            self._live.add(slot)
        weakref.finalize(array, self._release, slot)
        x = torch.from_numpy(array)
        return (x.transpose(0, 1) if time_first else x), self.labels[slot, :n].clone()

    def _release(self, slot: int) -> None:
        with self._lock:
            self._live.discard(slot)
        self._state_np[slot] = FREE

    def reclaim(self) -> None:
        """Free the TAKEN slots no live tensor views: batches that were computed but never
        received (an epoch abandoned part-way). Call only while no worker is filling."""
        with self._lock:
            for s in np.flatnonzero(self._state_np == TAKEN).tolist():
                if s not in self._live:
                    self._state_np[s] = FREE


def _rebuild(token: str, slot: int, n: int, time_first: bool
             ) -> tuple[torch.Tensor, torch.Tensor]:
    ring = _RINGS.get(token)
    if ring is None:
        raise RuntimeError("a ring batch reached a process that does not own the ring")
    return ring.view(slot, n, time_first)


class _SlotBatch:
    """What a worker returns: pickled as ``(token, slot, n, time_first)`` and rebuilt in the
    main process as ``(x, labels)``."""

    __slots__ = ("n", "slot", "time_first", "token")

    def __init__(self, token: str, slot: int, n: int, time_first: bool) -> None:
        self.token, self.slot, self.n, self.time_first = token, slot, n, time_first

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild, (self.token, self.slot, self.n, self.time_first)


class _RingDataset(torch.utils.data.Dataset):
    """The dataset a fast loader iterates: batches go into the ring in workers."""

    def __init__(self, dataset: Any, ring: BatchRing | None, dtype: torch.dtype,
                 time_first: bool) -> None:
        self.dataset = dataset
        self.ring = ring
        self.dtype = dtype
        self.time_first = time_first

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[index]

    def __getitems__(self, indices: list[int]) -> Any:
        idx = np.asarray(indices, np.int64)
        info = get_worker_info()
        ring = self.ring
        if info is not None and ring is not None and len(idx) <= ring.data.shape[1]:
            slot = ring.claim(info.id)
            if slot is not None:
                self.dataset.read_into(idx, ring.data[slot])
                ring.labels[slot, : len(idx)] = torch.from_numpy(self.dataset.labels[idx])
                return _SlotBatch(ring.token, slot, len(idx), self.time_first)
            ring.fallbacks[info.id] += 1
        out = torch.empty((len(idx), *self.dataset.sample_shape), dtype=self.dtype)
        self.dataset.read_into(idx, out)
        return (out.transpose(0, 1) if self.time_first else out), \
            torch.from_numpy(self.dataset.labels[idx])


class _ReclaimingBatchSampler(BatchSampler):
    """A BatchSampler that frees the ring's orphaned slots when an epoch starts (its first
    batch is drawn after persistent workers have been drained, before any is sent)."""

    def __init__(self, sampler: Any, batch_size: int, drop_last: bool,
                 ring: BatchRing | None) -> None:
        super().__init__(sampler, batch_size, drop_last)
        self.ring = ring

    def __iter__(self):
        if self.ring is not None:
            self.ring.reclaim()
        yield from super().__iter__()


def _identity(batch: Any) -> Any:
    return batch


def fast_loader(dataset: Any, batch_size: int = 128, shuffle: bool = False,
                num_workers: int = 0, *, drop_last: bool = False,
                generator: torch.Generator | None = None, slots_per_worker: int | None = None,
                time_first: bool = False, order: Any = None, **kwargs: Any) -> DataLoader:
    """A DataLoader over a dense :class:`~eventcompress.data.CachedDataset` (or a subset of
    one, e.g. from ``train_val_split``) yielding ``(x [N, T, P, H, W], labels [N])`` batches
    (``[T, N, ...]`` with ``time_first``).

    ``num_workers=0``: the main process gathers each batch in one call (the fastest choice
    when the store is in memory or in the page cache and there is no per-sample transform).
    ``num_workers > 0``: workers fill shared-memory slots (``slots_per_worker``, default
    ``prefetch_factor + 2``) and the main process receives views of them; a batch tensor is
    valid as long as it is referenced (its slot is reused only after that). Other ``kwargs``
    (``pin_memory``, ``persistent_workers``, ``prefetch_factor``, ``multiprocessing_context``,
    ``worker_init_fn``) go to the DataLoader. Datasets with a per-sample ``transform`` or a
    ragged store get an ordinary DataLoader with ``batch_collate`` / ``pad_collate``.

    ``order`` (instead of ``shuffle``): the indices into ``dataset`` in the order to read them,
    cut into batches of ``batch_size`` (a training loop that fixes its own order, e.g. for
    exact resume). With ``order``, ``generator`` seeds the DataLoader itself (its workers'
    base seed), so iterating draws nothing from the global RNG.
    """
    from .collate import batch_collate, pad_collate

    rows = None
    if isinstance(dataset, Subset) and hasattr(dataset.dataset, "read_into"):
        # a split of a CachedDataset: sample the subset's rows, read from the parent
        rows = np.asarray(dataset.indices, np.int64)
        dataset = dataset.dataset
    if order is not None:
        picked = np.asarray(order, np.int64)
        sampler: Any = (picked if rows is None else rows[picked]).tolist()
        kwargs["generator"] = generator
    elif rows is None:
        sampler = RandomSampler(dataset, generator=generator) if shuffle else \
            SequentialSampler(dataset)
    elif shuffle:
        sampler = SubsetRandomSampler(rows.tolist(), generator=generator)
    else:
        sampler = rows.tolist()
    ragged = getattr(dataset, "ragged", False)
    if ragged or getattr(dataset, "transform", None) is not None \
            or getattr(dataset, "target_transform", None) is not None:
        collate = partial(pad_collate if ragged else batch_collate, time_first=time_first)
        return DataLoader(dataset, batch_sampler=BatchSampler(sampler, batch_size, drop_last),
                          num_workers=num_workers, collate_fn=collate, **kwargs)
    dtype = dataset.output_dtype
    ring = None
    if num_workers > 0:
        prefetch = kwargs.get("prefetch_factor") or 2
        per_worker = slots_per_worker or prefetch + 2
        ring = BatchRing(num_workers, per_worker, batch_size, dataset.sample_shape, dtype)
    return DataLoader(_RingDataset(dataset, ring, dtype, time_first),
                      batch_sampler=_ReclaimingBatchSampler(sampler, batch_size, drop_last, ring),
                      num_workers=num_workers, collate_fn=_identity, **kwargs)
