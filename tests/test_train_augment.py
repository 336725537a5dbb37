"""The recipe's [augmentation] steps in training, and screening runs that never read the test
split (training.final_test = false)."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import torch
from train_helpers import (  # noqa: F401
    make_trainer,
    one_thread,
    synthetic_sets,
    tiny_recipe,
    train_cache,
)

from eventcompress import recipes
from eventcompress.data.augment import Compose, PixelDropout, RandomTranslate
from eventcompress.errors import ConfigError
from eventcompress.train.checkpoint import load_checkpoint
from eventcompress.train.engine import TrainingInterrupted
from eventcompress.train.resolve import dump_toml, tomllib

SHIPPED = (Path(__file__).resolve().parents[1] / "models" / "nmnist-stc-scb-mtlif.toml").read_text()
# the shipped recipe without its [augmentation] (the tests add their own)
BASE = dump_toml({k: v for k, v in tomllib.loads(SHIPPED).items() if k != "augmentation"})
TRANSLATE = '\n[[augmentation.steps]]\ntype = "RandomTranslate"\nmax_shift = 2\n'
DROPOUT = '\n[[augmentation.steps]]\ntype = "PixelDropout"\np = 0.05\n'


@pytest.fixture(scope="module")
def data():
    return synthetic_sets()


def _error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        recipes.loads(BASE + text, name="aug", source="aug.toml")
    assert "aug.toml" in str(info.value)
    return info.value


def test_steps_parse_in_order_and_build_seeded():
    recipe = recipes.loads(BASE + TRANSLATE + DROPOUT, name="aug")
    assert recipe.augmentation.steps == (("RandomTranslate", (("max_shift", 2),)),
                                         ("PixelDropout", (("p", 0.05),)))
    assert recipe.augmentation.to_dict()["steps"] == [
        {"type": "RandomTranslate", "max_shift": 2}, {"type": "PixelDropout", "p": 0.05}]
    built = recipe.augmentation.build(seed=7)
    assert isinstance(built, Compose)
    assert [type(t) for t in built.transforms] == [RandomTranslate, PixelDropout]
    assert all(t.seed == 7 for t in built.transforms)
    # part of what identifies the experiment
    assert recipe.sha256() != recipes.loads(BASE + TRANSLATE, name="aug").sha256()
    assert not recipes.loads(BASE, name="plain").augmentation
    assert recipes.loads(BASE, name="plain").augmentation.build(0) is None


def test_bad_steps_name_the_file_and_key():
    err = _error(TRANSLATE.replace("RandomTranslate", "RandomTranslat"))
    assert err.key == "augmentation.steps[0].type" and "did you mean 'RandomTranslate'" in str(err)
    err = _error('\n[[augmentation.steps]]\ntype = "Mixup"\n')
    assert err.key == "augmentation.steps[0].type" and "not a per-sample" in str(err)
    err = _error(TRANSLATE + "seed = 3\n")
    assert err.key == "augmentation.steps[0].seed" and "training.seed" in str(err)
    err = _error(TRANSLATE.replace("max_shift", "max_shfit"))
    assert err.key == "augmentation.steps[0].max_shfit" and "max_shift" in str(err)
    err = _error(TRANSLATE.replace("= 2", "= -1"))
    assert err.key == "augmentation.steps[0]" and "max_shift" in str(err)
    err = _error('\n[[augmentation.steps]]\ntype = "RandomCrop"\nsize = 30\n')
    assert err.key == "augmentation.steps" and "(4, 2, 30, 30)" in str(err)
    err = _error("\n[augmentation]\nstep = []\n")
    assert err.key == "augmentation.step" and "did you mean 'steps'" in str(err)


def test_final_test_off_needs_test_every_epoch_off():
    err = _error_text(BASE.replace("[training]", "[training]\nfinal_test = false"))
    assert err.key == "training.final_test" and "test_every_epoch" in str(err)


def _error_text(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        recipes.loads(text, name="x")
    return info.value


def test_each_training_sample_is_augmented_by_seed_epoch_and_index(tmp_path, data):
    recipe = _without_augmentation(tiny_recipe("nmnist-stc-scb-mtlif", "training.seed=5"))
    table = recipes.loads(recipe[1] + TRANSLATE, name="aug")
    trainer = make_trainer(tmp_path, (table, recipe[1] + TRANSLATE), data)
    x = torch.rand(3, 4, 2, 34, 34)
    trainer.epoch = 2
    out = trainer._augmented(x, [4, 9, 11])
    reference = RandomTranslate(2, seed=5)
    for j, i in enumerate([4, 9, 11]):
        assert torch.equal(out[j], reference(x[j], index=i, epoch=2))
    assert not torch.equal(out, trainer._augmented(x, [5, 9, 11]))


def _without_augmentation(recipe_and_text):
    table = {k: v for k, v in tomllib.loads(recipe_and_text[1]).items() if k != "augmentation"}
    text = dump_toml(table)
    return recipes.loads(text, name="plain"), text


def test_the_shipped_recipe_translates_by_two_pixels():
    assert recipes.loads(SHIPPED, name="shipped").augmentation.steps == (
        ("RandomTranslate", (("max_shift", 2),)),)


def test_augmented_training_differs_and_resumes_bit_identically(tmp_path, data):
    plain = _without_augmentation(tiny_recipe("nmnist-stc-scb-mtlif"))
    text = plain[1] + TRANSLATE
    aug = (recipes.loads(text, name="aug"), text)
    a = make_trainer(tmp_path / "a", aug, data)
    a.fit()

    def interrupt(trainer, epoch, step):
        if (epoch, step) == (2, 1):
            signal.raise_signal(signal.SIGINT)

    with pytest.raises(TrainingInterrupted):
        make_trainer(tmp_path / "b", aug, data, on_step=interrupt).fit()
    make_trainer(tmp_path / "b", aug, data).fit(resume=True)
    make_trainer(tmp_path / "c", plain, data).fit()
    ma, mb, mc = (load_checkpoint(tmp_path / r / "last.pt")["model"] for r in "abc")
    assert all(torch.equal(ma[k], mb[k]) for k in ma)
    assert not all(torch.equal(ma[k], mc[k]) for k in ma)


def test_screening_run_never_reads_the_test_split(tmp_path, data):
    recipe = tiny_recipe("nmnist-stc-scb-mtlif", "training.final_test=false",
                         "training.test_every_epoch=false")
    train_set, val_set, _ = data
    summary = make_trainer(tmp_path, recipe, (train_set, val_set, None)).fit()
    assert summary["val_selected_test_acc"] is None and summary["test_loss"] is None
    assert summary["best_test_acc_over_epochs"] is None
    assert summary["activity_split"] == "val" and summary["sops_per_sample"] > 0
