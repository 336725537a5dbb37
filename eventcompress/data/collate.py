"""Collate functions: padding of ragged batches, time-first batches, whole-batch samples.

Every function returns ``(x, labels)`` or, for :func:`pad_collate`, ``(x, labels, lengths)``;
``x`` is ``[N, T, ...]`` (sample-first, the DataLoader default) or ``[T, N, ...]`` with
``time_first=True``, the layout the models in :mod:`eventcompress.nn` take.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import default_collate
from torch.utils.data._utils.collate import default_collate_fn_map

__all__ = ["SampleBatch", "batch_collate", "pad_collate", "time_first_collate"]


class _Row(tuple):
    """One ``(x, label)`` pair of a :class:`SampleBatch` (a type of its own so that
    ``default_collate`` recognises a batch that is already one tensor)."""


class SampleBatch(Sequence):
    """A whole batch as one tensor ``x`` ``[N, ...]`` and ``labels`` ``[N]``, as
    ``CachedDataset.__getitems__`` returns it. It is also a sequence of ``(x_i, label_i)``
    pairs, so any collate function works on it; ``default_collate`` (and
    :func:`batch_collate`) return ``(x, labels)`` as they are, without stacking a copy."""

    def __init__(self, x: torch.Tensor, labels: Any) -> None:
        self.x = x
        self.labels = labels

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        return _Row((self.x[i], self.labels[i]))


def _collate_rows(batch: Any, *, collate_fn_map: Any = None) -> Any:
    if isinstance(batch, SampleBatch):
        return batch.x, batch.labels
    xs, ys = zip(*batch)  # rows taken out of their batches: stack them
    return torch.stack(list(xs)), default_collate(list(ys))


# default_collate dispatches on the type of batch[0]; the rows of a SampleBatch are _Row
default_collate_fn_map.setdefault(_Row, _collate_rows)


def _labels(values: Sequence[Any]) -> Any:
    first = values[0]
    if isinstance(first, (int, np.integer)):
        return torch.as_tensor(np.asarray(values, np.int64))
    return default_collate(list(values))


def batch_collate(batch: Any, *, time_first: bool = False) -> tuple[torch.Tensor, Any]:
    """``(x [N, ...], labels [N])`` of a :class:`SampleBatch` (no copy) or of a list of
    ``(x_i, label_i)`` pairs (stacked); ``[T, N, ...]`` with ``time_first``."""
    if isinstance(batch, SampleBatch):
        x, labels = batch.x, batch.labels
    elif isinstance(batch, tuple) and len(batch) == 2 and isinstance(batch[0], torch.Tensor) \
            and isinstance(batch[1], torch.Tensor):
        x, labels = batch  # already a batch (the shared-memory loader)
    else:
        xs, ys = zip(*batch)
        x = torch.stack([torch.as_tensor(v) for v in xs])
        labels = _labels(ys)
    return (x.transpose(0, 1) if time_first else x), labels


def time_first_collate(batch: Any) -> tuple[torch.Tensor, Any]:
    """:func:`batch_collate` with ``time_first=True``: ``x`` is ``[T, N, P, H, W]``."""
    return batch_collate(batch, time_first=True)


def pad_collate(batch: Sequence[tuple[Any, Any]], *, time_first: bool = False,
                value: float = 0.0) -> tuple[torch.Tensor, Any, torch.Tensor]:
    """Pad samples of different lengths (dimension 0: time steps, or events of a raw-event
    sample) with ``value`` at the end to the longest one.

    Returns ``(x, labels, lengths)``: ``x`` is ``[N, L_max, ...]`` (``[L_max, N, ...]`` with
    ``time_first``), ``lengths[i]`` the length of sample ``i`` (int64), so
    ``x[i, lengths[i]:]`` is padding. The other dimensions must agree."""
    xs = [torch.as_tensor(v) for v, _ in batch]
    rest = {tuple(v.shape[1:]) for v in xs}
    if len(rest) > 1:
        raise ValueError(f"pad_collate pads dimension 0 only; the other dimensions differ: "
                         f"{sorted(rest)}")
    lengths = torch.tensor([v.shape[0] for v in xs], dtype=torch.int64)
    longest = int(lengths.max()) if len(xs) else 0
    out = xs[0].new_full((len(xs), longest, *xs[0].shape[1:]), value)
    for i, v in enumerate(xs):
        out[i, : v.shape[0]] = v
    labels = _labels([y for _, y in batch])
    return (out.transpose(0, 1) if time_first else out), labels, lengths
