"""``eventcompress.load``: find or build the store of a dataset and pipeline, then open it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..kernels.pipeline import Pipeline

__all__ = ["CACHE_ENV", "default_cache_dir", "load"]

#: environment variable that overrides the default cache folder
CACHE_ENV = "EVENTCOMPRESS_CACHE"


def default_cache_dir() -> Path:
    """``$EVENTCOMPRESS_CACHE`` if set, else ``$XDG_CACHE_HOME/eventcompress``, else
    ``~/.cache/eventcompress``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "eventcompress"


def _pipeline_of(pipeline_or_recipe: Any) -> Pipeline:
    pipeline = getattr(pipeline_or_recipe, "pipeline", pipeline_or_recipe)
    if not isinstance(pipeline, Pipeline):
        raise TypeError("expected a Pipeline or a recipe (an object with a .pipeline), got "
                        f"{type(pipeline_or_recipe).__name__}")
    return pipeline


def load(dataset: str, root: str | os.PathLike[str], split: str, pipeline_or_recipe: Any,
         cache_dir: str | os.PathLike[str] | None = None, *, transform: Any = None,
         target_transform: Any = None, in_memory: bool | str = "auto", dtype: Any = "float32",
         build_kwargs: dict[str, Any] | None = None, **dataset_kwargs: Any) -> Any:
    """The one-liner: ``CachedDataset`` of ``dataset`` under ``root``, ``split``, processed by
    ``pipeline_or_recipe`` (a Pipeline, or a recipe: its ``.pipeline`` is used).

    The store is looked up in ``cache_dir`` (default :func:`default_cache_dir`) by its key
    (dataset, options, split, pipeline hash, source fingerprint); when absent it is built, with
    a progress bar (``build_kwargs`` go to :func:`eventcompress.cache.build`, e.g. ``jobs``,
    ``backend``, ``progress``). A store of the same dataset, split and pipeline built from
    other source files raises :class:`~eventcompress.errors.StoreError` naming what changed
    (``build_kwargs={"rebuild": True}`` replaces it). ``dataset_kwargs`` are the layout's
    options (``split_scheme``, ``seed`` for CIFAR10-DVS, ``mode`` for DVS Gesture)."""
    import torch

    from ..cache import build, open_store
    from ..datasets import get_dataset
    from .cached import CachedDataset

    pipeline = _pipeline_of(pipeline_or_recipe)
    layout = get_dataset(dataset, **dataset_kwargs)
    folder = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    path = build(layout, root, split, pipeline, folder, **(build_kwargs or {}))
    torch_dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype
    return CachedDataset(open_store(path), transform=transform,
                         target_transform=target_transform, in_memory=in_memory,
                         dtype=torch_dtype)
