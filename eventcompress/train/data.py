"""Training data: a recipe's cached train and test splits, and the validation share.

Everything the engine needs from the data layer goes through :func:`prepare_data`: the store of
each split is found or built by ``eventcompress.load`` (content-keyed by the recipe's pipeline,
so a recipe with other preprocessing gets a store of its own, never a stale one), the
validation share is split off the official train split by ``train_val_split``. The engine sees
torch datasets yielding ``(tensor[T, P, H, W] float32, label)`` whose ``__getitems__`` reads a
whole batch in one call; :func:`make_loader` feeds them through the data layer's fast loader.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ..data.splits import LabelledSubset
from ..errors import ConfigError, StoreError

__all__ = ["DataInfo", "TensorSet", "make_loader", "prepare_data", "recipe_network"]


class TensorSet(Dataset):
    """Samples ``[N, T, P, H, W]`` (any dtype, returned as float32) and int64 labels in memory
    (tests and benchmarks; training reads cached stores).

    ``__getitems__`` hands the DataLoader a whole batch in one indexing operation (torch's fetcher
    calls it when present), which keeps the per-sample Python cost out of the epoch.
    """

    def __init__(self, samples: np.ndarray | torch.Tensor, labels: Any,
                 classes: tuple[str, ...] = ()) -> None:
        self.samples = torch.as_tensor(samples)
        self.labels = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
        if len(self.samples) != len(self.labels):
            raise ValueError(f"{len(self.samples)} samples but {len(self.labels)} labels")
        self.classes = classes

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.samples[i].float(), int(self.labels[i])

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.as_tensor(indices, dtype=torch.int64)
        return self.samples[idx].float(), self.labels[idx]


def _fast_path(dataset: Any) -> bool:
    """Whether ``dataset`` is a dense CachedDataset (or a split of one) without transforms:
    the data layer's fast loader reads its batches."""
    from torch.utils.data import Subset

    base = dataset.dataset if isinstance(dataset, Subset) else dataset
    return (hasattr(base, "read_into") and not getattr(base, "ragged", True)
            and getattr(base, "transform", None) is None
            and getattr(base, "target_transform", None) is None)


def make_loader(dataset: Dataset, batches: list[list[int]], num_workers: int = 0) -> DataLoader:
    """A DataLoader over fixed batches of indices (the engine decides the order).

    Cached datasets go through ``eventcompress.data``'s fast loader (one gather per batch; with
    workers, batches handed over through its shared-memory ring), others through a plain
    DataLoader calling ``__getitems__``. Either gets a generator of its own: a DataLoader
    otherwise draws its workers' base seed from the global RNG on every ``iter()``, which would
    make a resumed epoch draw once more than an uninterrupted one and break exact resume.
    """
    from ..data.collate import batch_collate
    from ..data.ring import fast_loader

    generator = torch.Generator().manual_seed(0)
    size = len(batches[0]) if batches else 1
    if _fast_path(dataset) and all(len(b) == size for b in batches[:-1]):
        order = [i for b in batches for i in b]  # re-chunked by size: the same batches
        return fast_loader(dataset, batch_size=size, order=order, num_workers=num_workers,
                           generator=generator)
    return DataLoader(dataset, batch_sampler=batches, num_workers=num_workers,
                      collate_fn=batch_collate, generator=generator)


@dataclass
class DataInfo:
    """What was prepared: sizes, shapes, class names, the stores, how long it took."""

    dataset: str
    data_root: str
    pipeline_json: str
    sample_shape: tuple[int, ...]
    classes: tuple[str, ...]
    sizes: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    source: str = "cache"
    stores: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "data_root": self.data_root,
                "pipeline": self.pipeline_json, "sample_shape": list(self.sample_shape),
                "classes": list(self.classes), "sizes": dict(self.sizes),
                "seconds": round(self.seconds, 3), "source": self.source,
                "stores": dict(self.stores)}


def recipe_network(recipe: Any) -> str:
    """The registered network name of a recipe (``[model] name``)."""
    return str(recipe.model.name)


def balanced_head(labels: np.ndarray, limit: int) -> np.ndarray:
    """Indices of the first samples of each class in turn until ``limit`` (a small balanced
    subset, in ascending index order)."""
    by_label = {int(c): np.flatnonzero(labels == c) for c in np.unique(labels)}
    picked: list[int] = []
    rank = 0
    while len(picked) < limit and any(rank < len(v) for v in by_label.values()):
        for label in sorted(by_label):
            if rank < len(by_label[label]) and len(picked) < limit:
                picked.append(int(by_label[label][rank]))
        rank += 1
    return np.sort(np.asarray(picked, np.int64))


def _cached_split(recipe: Any, root: Path, split: str, cache_dir: Path, limit: int | None,
                  quiet: bool, rebuild: bool = False) -> Any:
    """The CachedDataset of ``split`` (the store built on first use, or anew with ``rebuild``),
    or a balanced subset."""
    from ..data import load

    dataset = load(recipe.dataset, root, split, recipe, cache_dir,
                   build_kwargs={"progress": not quiet, "rebuild": rebuild})
    if dataset.pipeline.sha256() != recipe.pipeline.sha256():
        # the store key contains the pipeline's hash, so this only guards against a store
        # whose files were swapped under its name: never train on another preprocessing
        raise StoreError(dataset.path, "holds preprocessing "
                         f"{dataset.pipeline.canonical_json()}, the recipe asks for "
                         f"{recipe.pipeline.canonical_json()}; remove it (eventcompress cache rm)")
    if len(dataset) == 0:
        raise ConfigError(f"no {split} samples found", source=root)
    if limit is not None and limit < len(dataset):
        return LabelledSubset(dataset, balanced_head(dataset.labels, limit))
    return dataset


def _split_off_validation(dataset: Any, fraction: float, seed: int) -> tuple[Any, Any]:
    """``train_val_split`` of a CachedDataset or of a subset of one, as subsets of the
    CachedDataset itself (one level: the fast loader reads a subset's rows from its parent)."""
    from ..data import train_val_split

    fit, val = train_val_split(dataset, fraction, seed)
    if isinstance(dataset, LabelledSubset):
        base, rows = dataset.dataset, dataset.indices
        return LabelledSubset(base, rows[fit.indices]), LabelledSubset(base, rows[val.indices])
    return fit, val


def prepare_data(recipe: Any, data_root: str | os.PathLike[str],
                 cache_dir: str | os.PathLike[str] | None = None, *,
                 limit: int | None = None, quiet: bool = True,
                 splits: tuple[str, ...] = ("train", "val", "test"),
                 rebuild_cache: bool = False) -> tuple[Any, Any, Any, DataInfo]:
    """``(train, val, test, info)`` for ``recipe`` on the dataset under ``data_root``.

    Each official split is read from its cache store in ``cache_dir`` (default: the data
    layer's, ``eventcompress.data.default_cache_dir()``), built there on first use. The
    validation set is a stratified ``recipe.training.val_fraction`` share of the official train
    split (``eventcompress.data.train_val_split`` seeded with ``training.split_seed``); the test
    split is the official one, untouched. ``limit`` caps each official split at a balanced
    subset before the split (tests, smoke runs). Sets not named in ``splits`` are None.
    ``rebuild_cache`` builds the splits' stores anew, replacing existing or stale ones (a store
    whose source files changed is otherwise refused, naming the files).
    """
    from ..data import default_cache_dir

    started = time.perf_counter()
    root = Path(data_root)
    folder = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    out: dict[str, Any] = {}
    stores: dict[str, str] = {}
    if "train" in splits or "val" in splits:
        full = _cached_split(recipe, root, "train", folder, limit, quiet,
                             rebuild_cache)
        out["train"], out["val"] = _split_off_validation(full, recipe.training.val_fraction,
                                                         recipe.training.split_seed)
        stores["train"] = str(getattr(full, "dataset", full).path)
    if "test" in splits:
        out["test"] = _cached_split(recipe, root, "test", folder, limit, quiet,
                                     rebuild_cache)
        stores["test"] = str(getattr(out["test"], "dataset", out["test"]).path)
    first = next(iter(out.values()))
    info = DataInfo(dataset=recipe.dataset, data_root=str(root),
                    pipeline_json=recipe.pipeline.canonical_json(),
                    sample_shape=tuple(recipe.sample_shape),
                    classes=tuple(getattr(first, "classes", None) or ()),
                    sizes={k: len(v) for k, v in out.items() if k in splits},
                    seconds=time.perf_counter() - started, stores=stores)
    return out.get("train"), out.get("val"), out.get("test"), info
