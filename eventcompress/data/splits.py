"""A stratified, seeded validation split of a training set, computed from labels only."""

from __future__ import annotations

from typing import Any

import numpy as np
from torch.utils.data import Subset

from ..datasets.splits import stratified_split

__all__ = ["LabelledSubset", "dataset_labels", "train_val_split"]


def dataset_labels(dataset: Any) -> np.ndarray:
    """The labels of ``dataset`` as an int64 array, without reading any sample: its
    ``labels`` (our datasets) or ``targets`` (torchvision, tonic) attribute."""
    for name in ("labels", "targets"):
        values = getattr(dataset, name, None)
        if values is not None:
            labels = np.asarray(values)
            if labels.ndim != 1 or len(labels) != len(dataset):
                raise ValueError(f"{type(dataset).__name__}.{name} has shape {labels.shape}, "
                                 f"expected ({len(dataset)},)")
            return labels.astype(np.int64, copy=False)
    raise TypeError(f"{type(dataset).__name__} has no 'labels' or 'targets' attribute; a "
                    "stratified split needs the labels without reading every sample")


class LabelledSubset(Subset):
    """A :class:`torch.utils.data.Subset` that keeps ``labels`` (and ``classes``, when the
    parent has them) so it can be split, stratified or weighted again.

    ``indices`` is an int64 NumPy array, not a list: a list touched by forked DataLoader workers
    is copied page by page through its reference counts (pytorch issue 13246)."""

    def __init__(self, dataset: Any, indices: np.ndarray) -> None:
        super().__init__(dataset, np.ascontiguousarray(indices, np.int64))

    @property
    def labels(self) -> np.ndarray:
        return dataset_labels(self.dataset)[self.indices]

    @property
    def classes(self) -> Any:
        return getattr(self.dataset, "classes", None)

    def loader(self, batch_size: int = 128, shuffle: bool = False, num_workers: int = 0,
               **kwargs: Any) -> Any:
        """The fast DataLoader of a CachedDataset's split (see ``CachedDataset.loader``)."""
        from .ring import fast_loader

        return fast_loader(self, batch_size=batch_size, shuffle=shuffle,
                           num_workers=num_workers, **kwargs)

    def __getitems__(self, indices: list[int]) -> Any:
        # one parent call per batch (the torch Subset does this only for parents that have it)
        parent = getattr(self.dataset, "__getitems__", None)
        rows = self.indices[np.asarray(indices, np.int64)]
        if parent is not None:
            return parent(rows.tolist())
        return [self.dataset[int(i)] for i in rows]


def train_val_split(dataset: Any, val_fraction: float, seed: int
                    ) -> tuple[LabelledSubset, LabelledSubset]:
    """Split a training set into ``(train, val)`` subsets, class by class.

    For each class ``floor(val_fraction * n_c + 0.5)`` samples go to validation, chosen by
    ``eventcompress.datasets.stratified_split`` (one ``PCG64(seed)`` generator, classes in
    ascending order): the same dataset, fraction and seed give the same split in every process
    and on every platform. Only the labels are read (``dataset.labels`` or ``.targets``).
    Split the official *train* split only: the test split must never choose a model.
    """
    train_idx, val_idx = stratified_split(dataset_labels(dataset), val_fraction, seed)
    return LabelledSubset(dataset, train_idx), LabelledSubset(dataset, val_idx)
