"""On-the-fly loading: decode each recording and run a Pipeline per sample, without a cache."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ..datasets import Sample, get_dataset, load_sample
from ..errors import StoreError
from ..events import Events
from ..kernels.pipeline import Pipeline

__all__ = ["EventDataset", "apply_transform", "events_tensor"]


def events_tensor(events: Events) -> torch.Tensor:
    """A raw event stream as an int64 tensor ``[n, 4]`` of columns ``x, y, t, p``."""
    return torch.from_numpy(np.stack([events.x.astype(np.int64), events.y.astype(np.int64),
                                      events.t, events.p.astype(np.int64)], axis=1))


def apply_transform(transform: Any, x: Any, index: int, epoch: int) -> Any:
    """``transform(x, index=, epoch=)`` for our augmentations (``takes_index``), else
    ``transform(x)``."""
    if transform is None:
        return x
    if getattr(transform, "takes_index", False):
        return transform(x, index=index, epoch=epoch)
    return transform(x)


def _events_store(dataset: Any) -> Any:
    """The store ``dataset`` names (a Store, or the path of a store), else None."""
    from ..cache import Store, open_store

    if isinstance(dataset, Store):
        return dataset
    if isinstance(dataset, (str, os.PathLike)) and (
            Path(dataset).is_file() or (Path(dataset) / "zarr.json").is_file()):
        return open_store(dataset)
    return None


class EventDataset(Dataset):
    """``dataset[i] = (pipeline(load_sample(sample_i)) as a tensor, label_i)``.

    ``dataset`` names a layout (``"nmnist"``, ``"cifar10dvs"``, ``"dvsgesture"``; options such
    as ``split_scheme`` go in ``dataset_kwargs``), ``root`` its folder, ``split`` "train",
    "test" or None (all). A pipeline with a representation gives ``[T, P, H, W]`` tensors of
    ``dtype``; one without gives the raw events as int64 ``[n, 4]`` (x, y, t, p), ragged across
    samples (batch them with ``pad_collate``).

    ``dataset`` may instead be an events store (a cache store built with a pipeline without
    representation, or its path; ``root`` and ``split`` are then None): its events are read
    in place of the raw files and ``pipeline`` runs on them.

    Random steps of the pipeline draw from ``(seed, epoch, sample index i)``; call
    ``set_epoch(e)`` each epoch to get new draws (every worker then agrees). The tensors equal
    those of a :class:`~eventcompress.data.CachedDataset` built from the same pipeline,
    except that a float16 store rounds them (compare ``x.half().float()``).

    The sample table is kept in NumPy arrays (paths, ids, labels, time slices), not a list of
    Python objects, so forked workers do not copy it page by page (pytorch issue 13246).
    """

    def __init__(self, dataset: Any, root: str | os.PathLike[str] | None, split: str | None,
                 pipeline: Any, *, transform: Any = None, target_transform: Any = None,
                 dtype: torch.dtype = torch.float32,
                 reader_kwargs: dict[str, Any] | None = None, **dataset_kwargs: Any) -> None:
        pipeline = getattr(pipeline, "pipeline", pipeline)  # a recipe
        if not isinstance(pipeline, Pipeline):
            raise TypeError(f"pipeline must be a Pipeline or a recipe, got {type(pipeline)}")
        self.pipeline = pipeline
        self.transform = transform
        self.target_transform = target_transform
        self.dtype = dtype
        self.epoch = 0
        self.reader_kwargs = dict(reader_kwargs or {})
        self.store = _events_store(dataset)
        if self.store is not None:
            self._from_store(self.store)
            return
        layout = get_dataset(dataset, **dataset_kwargs)
        samples = layout.samples(root, split)
        self.classes = tuple(layout.classes)
        self.sensor_size = tuple(layout.sensor_size)
        self.labels = np.array([s.label for s in samples], np.int64)
        self.sample_ids = np.array([s.id for s in samples], dtype=str)
        self._paths = np.array([os.fspath(s.path) for s in samples], dtype=str)
        self._formats = np.array([s.format or "" for s in samples], dtype=str)
        self._splits = np.array([s.split for s in samples], dtype=str)
        self._slices = np.array([s.time_slice or (-1, -1) for s in samples],
                                np.int64).reshape(-1, 2)
        self._sliced = np.array([s.time_slice is not None for s in samples], bool)

    def _from_store(self, store: Any) -> None:
        from ..datasets import DATASETS

        if store.kind != "events":
            raise StoreError(store.path, f"EventDataset reads an events store (a pipeline "
                             f"without representation), this one is {store.kind}")
        layout = DATASETS.get(str(store.attrs.get("dataset", "")))
        self.labels = np.ascontiguousarray(store.labels, np.int64)
        self.sample_ids = store.sample_ids
        self.classes = tuple(layout.classes) if layout is not None else \
            tuple(str(c) for c in range(int(self.labels.max()) + 1 if len(self.labels) else 0))
        self.sensor_size = tuple(store.pipeline.output_sensor_size(
            tuple(store.attrs["sensor_size"])))

    def __len__(self) -> int:
        return len(self.labels)

    def set_epoch(self, epoch: int) -> None:
        """Use the random draws of ``epoch`` from now on (random pipeline steps, and the
        augmentations with a seed)."""
        self.epoch = int(epoch)

    def sample(self, index: int) -> Sample:
        """The :class:`~eventcompress.datasets.Sample` record of item ``index``."""
        if self.store is not None:
            raise StoreError(self.store.path, "items of an events store have no Sample record")
        i = int(index)
        return Sample(id=str(self.sample_ids[i]), path=Path(str(self._paths[i])),
                      label=int(self.labels[i]), split=str(self._splits[i]),
                      time_slice=tuple(int(v) for v in self._slices[i]) if self._sliced[i]
                      else None, format=str(self._formats[i]) or None)

    def events(self, index: int) -> Events:
        """The decoded (not yet processed) events of item ``index``."""
        if self.store is not None:
            return self.store.read_events(int(index))
        return load_sample(self.sample(index), **self.reader_kwargs)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        i = int(index)
        out = self.pipeline(self.events(i), sample_index=i, epoch=self.epoch)
        x = events_tensor(out) if isinstance(out, Events) else \
            torch.from_numpy(np.ascontiguousarray(out)).to(self.dtype)
        label: Any = int(self.labels[i])
        if self.target_transform is not None:
            label = self.target_transform(label)
        return apply_transform(self.transform, x, i, self.epoch), label
