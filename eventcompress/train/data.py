"""Training data: a recipe's pipeline run over a dataset's train and test splits.

Everything the engine needs from the data layer goes through :func:`prepare_data`. Today it
decodes every recording and runs the recipe's pipeline into memory with ``process_many``; once
the data layer lands (``eventcompress.load`` + ``train_val_split``) only this function changes.
The engine itself sees plain torch datasets yielding ``(tensor[T, P, H, W] float32, label)``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import ConfigError

__all__ = ["DataInfo", "TensorSet", "prepare_data", "recipe_dataset", "recipe_network",
           "recipe_pipeline"]


class TensorSet(Dataset):
    """Samples ``[N, T, P, H, W]`` (any dtype, returned as float32) and int64 labels in memory.

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


def batch_collate(batch: Any) -> Any:
    """Collate for :class:`TensorSet` (already a batch) and for item-by-item datasets."""
    if isinstance(batch, tuple) and len(batch) == 2 and isinstance(batch[0], torch.Tensor):
        return batch
    xs, ys = zip(*batch)
    return torch.stack([torch.as_tensor(x, dtype=torch.float32) for x in xs]), \
        torch.as_tensor(ys, dtype=torch.int64)


@dataclass
class DataInfo:
    """What was prepared: sizes, shapes, class names, where the data came from, how long it took."""

    dataset: str
    data_root: str
    pipeline_json: str
    sample_shape: tuple[int, ...]
    classes: tuple[str, ...]
    sizes: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    source: str = "memory"

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "data_root": self.data_root,
                "pipeline": self.pipeline_json, "sample_shape": list(self.sample_shape),
                "classes": list(self.classes), "sizes": dict(self.sizes),
                "seconds": round(self.seconds, 3), "source": self.source}


def recipe_network(recipe: Any) -> str:
    """The registered network name of a recipe (``[model] name``)."""
    return str(recipe.model.name)


def recipe_dataset(recipe: Any) -> str:
    """The dataset name of a recipe (``recipe.dataset`` once recipes carry it)."""
    name = getattr(recipe, "dataset", None)
    if isinstance(name, str) and name:
        return name
    from ..nn.registry import get_entry

    return get_entry(recipe_network(recipe)).dataset


def recipe_pipeline(recipe: Any) -> Any:
    """The recipe's ``Pipeline`` (``recipe.pipeline`` once recipes carry it).

    TEMPORARY adapter from today's ``[preprocessing]`` table, to be removed when ``Recipe.pipeline``
    exists: STC or frames with ``steps`` time bins, ``Downsample(downsample)`` or, where the
    sensor does not divide into ``size``, ``Resize(size)``; ``normalize = "std"`` is the STC
    kernel's ``"mean-std"``.
    """
    from ..kernels import Downsample, FrameConfig, Pipeline, Resize, STCConfig

    pipeline = getattr(recipe, "pipeline", None)
    if pipeline is not None:
        return pipeline if isinstance(pipeline, Pipeline) else pipeline()
    from ..recipes import SENSOR_SIZES

    pre = recipe.preprocessing
    steps: list[Any] = []
    sensor = SENSOR_SIZES.get(recipe_dataset(recipe))
    if pre.downsample is not None:
        steps.append(Downsample(pre.downsample))
    elif sensor is not None and tuple(pre.size) != tuple(sensor):
        steps.append(Resize(tuple(pre.size)))
    if pre.representation == "stc":
        rep: Any = STCConfig(steps=pre.steps,
                             tau_s=pre.tau_s if pre.tau_s is not None else float("inf"),
                             fine_bins=pre.fine_bins,
                             normalize={"std": "mean-std"}.get(pre.normalize, pre.normalize),
                             polarity=pre.polarity)
    else:
        if pre.normalize != "none":
            raise ConfigError("frames are event counts; normalize applies to STC only",
                              key="preprocessing.normalize")
        rep = FrameConfig(n_time_bins=pre.steps, polarity=pre.polarity)
    return Pipeline(steps=tuple(steps), representation=rep)


def _decode_split(layout: Any, root: Path, split: str, pipeline: Any, limit: int | None,
                  quiet: bool) -> tuple[np.ndarray, np.ndarray]:
    from ..datasets import load_sample
    from ..kernels import process_many

    samples = layout.samples(root, split)
    if limit is not None:
        samples = _stratified_head(samples, limit)
    if not samples:
        raise ConfigError(f"no {split} samples found", source=root)
    events = [load_sample(s) for s in samples]
    array = process_many(events, pipeline, n_jobs=1, quiet=quiet)
    return array, np.asarray([s.label for s in samples], np.int64)


def _stratified_head(samples: list[Any], limit: int) -> list[Any]:
    """The first samples of each class in turn until ``limit`` (a small balanced subset)."""
    by_label: dict[int, list[Any]] = {}
    for s in samples:
        by_label.setdefault(s.label, []).append(s)
    picked: list[Any] = []
    rank = 0
    while len(picked) < limit and any(rank < len(v) for v in by_label.values()):
        for label in sorted(by_label):
            if rank < len(by_label[label]) and len(picked) < limit:
                picked.append(by_label[label][rank])
        rank += 1
    return picked


def prepare_data(recipe: Any, data_root: str | os.PathLike[str],
                 cache_dir: str | os.PathLike[str] | None = None, *,
                 limit: int | None = None, quiet: bool = True,
                 splits: tuple[str, ...] = ("train", "val", "test"),
                 ) -> tuple[TensorSet | None, TensorSet | None, TensorSet | None, DataInfo]:
    """``(train, val, test, info)`` for ``recipe`` on the dataset under ``data_root``.

    The validation set is a seeded, stratified ``recipe.training.val_fraction`` share of the
    official train split (:func:`eventcompress.datasets.stratified_split` with the recipe's
    seed); the test split is the official one, untouched. ``limit`` caps each split at a
    balanced subset (tests, smoke runs). Sets not named in ``splits`` are not prepared (None).
    ``cache_dir`` is accepted for the cache-backed version and unused until then.
    """
    from ..datasets import get_dataset, stratified_split

    del cache_dir  # the in-memory version keeps nothing on disk
    started = time.perf_counter()
    name = recipe_dataset(recipe)
    layout = get_dataset(name)
    pipeline = recipe_pipeline(recipe)
    root = Path(data_root)
    classes = tuple(layout.classes)
    out: dict[str, TensorSet] = {}
    if "train" in splits or "val" in splits:
        train_x, train_y = _decode_split(layout, root, "train", pipeline, limit, quiet)
        fit_idx, val_idx = stratified_split(train_y, recipe.training.val_fraction,
                                            recipe.training.split_seed)
        out["train"] = TensorSet(train_x[fit_idx], train_y[fit_idx], classes)
        out["val"] = TensorSet(train_x[val_idx], train_y[val_idx], classes)
    if "test" in splits:
        out["test"] = TensorSet(*_decode_split(layout, root, "test", pipeline, limit, quiet),
                                classes)
    shape = tuple(next(iter(out.values())).samples.shape[1:])
    info = DataInfo(dataset=name, data_root=str(root), pipeline_json=pipeline.canonical_json(),
                    sample_shape=shape, classes=classes,
                    sizes={k: len(v) for k, v in out.items() if k in splits},
                    seconds=time.perf_counter() - started)
    return out.get("train"), out.get("val"), out.get("test"), info
