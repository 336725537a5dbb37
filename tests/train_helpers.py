"""Shared pieces of the training tests: a tiny recipe and a synthetic in-memory dataset."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from eventcompress.train.data import TensorSet
from eventcompress.train.engine import Trainer
from eventcompress.train.resolve import resolve_recipe
from eventcompress.train.rundir import RunDir


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread and subnormals flushed (see tests/test_nn_training.py): the tensors are
    small and the machine is shared. Modules that import this fixture use it for every test."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    yield
    torch.set_flush_denormal(False)
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True, scope="session")
def train_cache(tmp_path_factory):
    """One cache folder for the session's training tests (``$EVENTCOMPRESS_CACHE``, the data
    layer's default), so that each pipeline's stores are built once and never in ~/.cache."""
    folder = tmp_path_factory.mktemp("train-cache")
    saved = os.environ.get("EVENTCOMPRESS_CACHE")
    os.environ["EVENTCOMPRESS_CACHE"] = str(folder)
    yield folder
    if saved is None:
        os.environ.pop("EVENTCOMPRESS_CACHE", None)
    else:
        os.environ["EVENTCOMPRESS_CACHE"] = saved


#: Overrides that shrink the N-MNIST networks to a few thousand parameters.
TINY = ("model.overrides.channels=[4, 8]", "model.overrides.hidden=16",
        "training.batch_size=8", "training.bn_calibration_batches=2")


def tiny_recipe(name: str = "nmnist-stc-scb-mtlif", *sets: str, epochs: int = 2):
    return resolve_recipe(name, (*TINY, *sets), epochs=epochs)


def synthetic_sets(n: int = 24, steps: int = 4, seed: int = 0, size: int = 34,
                   classes: int = 10) -> tuple[TensorSet, TensorSet, TensorSet]:
    """Class c lights up column band c (ON channel) more often than the background."""
    gen = torch.Generator().manual_seed(seed)

    def make(m: int) -> TensorSet:
        labels = torch.arange(m) % classes
        p = torch.full((m, steps, 2, size, size), 0.05)
        for i, c in enumerate(labels.tolist()):
            band = slice(c * size // classes, (c + 1) * size // classes)
            p[i, :, 0, :, band] = 0.4
        return TensorSet(torch.bernoulli(p, generator=gen), labels)

    return make(n), make(n // 2), make(n // 2)


def make_trainer(run: Path, recipe_and_text, data, device: str = "cpu", **kw) -> Trainer:
    recipe, text = recipe_and_text
    run.mkdir(parents=True, exist_ok=True)
    return Trainer(recipe, text, data, RunDir(run), device=device, quiet=True, **kw)
