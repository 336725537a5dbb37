"""Every shipped recipe builds its network and its data, and runs one training step.

N-MNIST recipes run on real recordings (their own pipelines, a balanced 50-sample subset);
CIFAR10-DVS and DVS Gesture, whose data are not available here, on random tensors of the
recipe's input shape.
"""

from __future__ import annotations

import pytest
import torch
from train_helpers import one_thread  # noqa: F401

from eventcompress.recipes import list_recipes, load
from eventcompress.train.data import TensorSet, prepare_data, recipe_dataset, recipe_pipeline
from eventcompress.train.engine import Trainer
from eventcompress.train.rundir import RunDir

RECIPES = [p.stem for p in list_recipes()]
# The plif readout ("rate") is a spiking PLIF fed by an unnormalised linear layer: at
# initialisation its input stays below the surrogate's support, so the first gradients are 0
# (issue 13; the readout fix belongs to the nn/recipes branch).
RATE_READOUT = {name for name in RECIPES if name.endswith("-plif")}


def _random_sets(recipe) -> tuple[TensorSet, TensorSet, TensorSet]:
    sensor = {"cifar10dvs": (128, 128), "dvsgesture": (128, 128)}[recipe_dataset(recipe)]
    shape = recipe_pipeline(recipe).output_shape(sensor)
    gen = torch.Generator().manual_seed(0)
    x = torch.bernoulli(torch.full((4, *shape), 0.1), generator=gen)
    sets = TensorSet(x, [0, 1, 2, 3])
    return sets, sets, sets


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_runs_one_training_step(name, nmnist_small, tmp_path, request):
    recipe = load(list_recipes()[RECIPES.index(name)])
    if recipe_dataset(recipe) == "nmnist":
        train, val, test, info = prepare_data(recipe, nmnist_small, limit=50)
        assert info.sample_shape == (recipe.preprocessing.steps, 2, 34, 34)
    else:
        train, val, test = _random_sets(recipe)
    trainer = Trainer(recipe, "", (train, val, test), RunDir(tmp_path), device="cpu",
                      quiet=True)
    x, y = train.__getitems__([0, 1])
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
    loss, _ = trainer._update(x, y, None)
    assert torch.isfinite(torch.tensor(loss))
    grads = [p.grad.abs().sum() for p in trainer.model.parameters() if p.grad is not None]
    if name in RATE_READOUT:
        request.applymarker(pytest.mark.xfail(reason="plif rate readout: zero first gradients",
                                              strict=False))
    assert sum(grads) > 0
    changed = [n for n, p in trainer.model.named_parameters() if not torch.equal(p, before[n])]
    assert changed


@pytest.mark.parametrize("name", ["cifar10dvs-stc-scb-mtlif", "dvsgesture-plif"])
def test_recipe_trains_one_epoch_end_to_end(name, tmp_path, monkeypatch):
    """The whole ``train`` path (run directory, selection, final test, energy) on generated
    tensors of the recipe's input shape, standing in for the datasets that are not here."""
    from eventcompress.train import api
    from eventcompress.train.data import DataInfo

    def generated(recipe, data_root, cache_dir=None, **kw):
        sets = _random_sets(recipe)
        info = DataInfo(recipe_dataset(recipe), str(data_root), "{}",
                        tuple(sets[0].samples.shape[1:]), (), {"train": 4, "val": 4, "test": 4})
        return (*sets, info)

    monkeypatch.setattr(api, "prepare_data", generated)
    summary = api.train(name, tmp_path / "data", out=tmp_path / "run", epochs=1, quiet=True,
                        sets=["training.batch_size=2", "schedule.warmup_epochs=0"])
    assert summary["best_epoch"] == 1 and summary["params"] > 100_000
    assert summary["time_steps"] == load(list_recipes()[RECIPES.index(name)]).preprocessing.steps
    assert (tmp_path / "run" / "best.pt").is_file()
