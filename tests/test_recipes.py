"""Model recipes: every shipped file loads; bad files fail naming the file and the key."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import pytest

from eventcompress import recipes
from eventcompress.errors import ConfigError
from eventcompress.nn.networks import DATASETS, VARIANTS

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
BASE = (MODELS / "nmnist-stc-scb-mtlif.toml").read_text()


def test_default_folder_is_the_repository_models_folder(monkeypatch):
    monkeypatch.delenv("EVENTCOMPRESS_MODELS", raising=False)
    assert recipes.default_folder() == MODELS


def test_one_recipe_per_network():
    paths = recipes.list_recipes()
    expected = {f"{d}-{v}" for d, v in itertools.product(DATASETS, VARIANTS)}
    assert {p.stem for p in paths} == expected


@pytest.mark.parametrize("path", sorted(MODELS.glob("*.toml")), ids=lambda p: p.stem)
def test_every_recipe_loads_and_builds(path):
    r = recipes.load(path)
    assert r.name == path.stem == r.model.name
    model = r.create_model()
    c, h, w = model.config.input_shape
    assert (w, h) == r.preprocessing.size and c == r.preprocessing.channels
    if r.model.name.endswith("-s3nn"):
        assert r.preprocessing.steps == 1
    if r.preprocessing.representation == "stc":
        assert r.preprocessing.tau_s and r.preprocessing.fine_bins
    if r.reference.arxiv:
        assert r.reference.accuracy is None  # no unverified figures (see the files' comments)
    assert r.sha256() == recipes.load(path).sha256()
    hash(r)


def test_recipe_is_frozen_and_canonical():
    r = recipes.loads(BASE, name="x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.training.epochs = 3
    # comments, blank lines and key order do not change the identity; a value does
    shuffled = "# a comment\n" + BASE.replace('loss = "ce"\nseed = 0', 'seed = 0\nloss = "ce"')
    assert recipes.loads(shuffled, name="x").sha256() == r.sha256()
    assert recipes.loads(BASE.replace("lr = 1e-3", "lr = 2e-3"), name="x").sha256() != r.sha256()
    assert recipes.loads(BASE.replace("lr = 1e-3", "lr = 0.001"), name="x") == r
    d = r.to_dict()
    assert d["type"] == "Recipe" and d["model"]["overrides"] == {}
    assert d["preprocessing"]["size"] == [34, 34]


def test_overrides_are_passed_and_frozen():
    text = BASE.replace('[optimizer]', '[model.overrides]\nn_thresholds = 2\nchannels = [4, 8]\n'
                        'hidden = 16\n\n[optimizer]')
    r = recipes.loads(text, name="x")
    assert r.model.overrides == (("channels", (4, 8)), ("hidden", 16), ("n_thresholds", 2))
    assert r.to_dict()["model"]["overrides"] == {"channels": [4, 8], "hidden": 16,
                                                 "n_thresholds": 2}
    model = r.create_model(theta=0.5)
    assert model.config.n_thresholds == 2 and model.config.theta == 0.5
    assert model.config.channels == (4, 8)


def _with_overrides(lines: str) -> str:
    return BASE.replace("[optimizer]", f"[model.overrides]\n{lines}\n\n[optimizer]")


def _neurons(model) -> list:
    """The neurons of the conv blocks and of the hidden layer."""
    return [model.features[0].neuron, model.features[2].neuron,
            model.classifier[-1].neuron]


def test_threshold_list_reaches_every_neuron():
    r = recipes.loads(_with_overrides("thresholds = [0.5, 1, 2.5]"), name="x")
    assert r.model.overrides == (("thresholds", (0.5, 1, 2.5)),)
    assert r.to_dict()["model"]["overrides"] == {"thresholds": [0.5, 1, 2.5]}
    model = r.create_model()
    assert [n.thresholds for n in _neurons(model)] == [(0.5, 1.0, 2.5)] * 3
    assert all(n.n_levels == 3 for n in _neurons(model))
    geometric = recipes.loads(_with_overrides(
        'thresholds = "geometric"\nthreshold_ratio = 3\nn_thresholds = 3'), name="x")
    assert [n.thresholds for n in _neurons(geometric.create_model())] == [(1.0, 3.0, 9.0)] * 3


def test_surrogate_alpha_and_reset_keys_reach_every_neuron():
    r = recipes.loads(_with_overrides(
        'surrogate = "atan"\nsurrogate_alpha = 4\nreset = "hard"\nv_reset = -0.25\n'
        "detach_reset = true"), name="x")
    for n in _neurons(r.create_model()):
        assert (n.surrogate.kind, n.surrogate.alpha, n.surrogate.width) == ("atan", 4.0, 0.5)
        assert (n.reset, n.v_reset, n.detach_reset) == ("hard", -0.25, True)


def test_t_equiv_reaches_the_s3nn_neurons():
    text = (MODELS / "nmnist-s3nn.toml").read_text().replace(
        "[optimizer]", "[model.overrides]\nT_equiv = 8\n\n[optimizer]")
    model = recipes.loads(text, name="x").create_model()
    assert [n.T_equiv for n in _neurons(model)] == [8, 8, 8]


def _error(tmp_path: Path, text: str) -> ConfigError:
    path = tmp_path / "broken.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as e:
        recipes.load(path)
    assert str(path) in str(e.value)
    return e.value


@pytest.mark.parametrize("old,new,key,words", [
    ("lr = 1e-3", "lrr = 1e-3", "optimizer.lrr", "did you mean 'lr'"),
    ("[schedule]", "[schedul]", "schedul", "did you mean [schedule]"),
    ("steps = 4", 'steps = "4"', "preprocessing.steps", "expected an integer"),
    ("steps = 4", "steps = true", "preprocessing.steps", "expected an integer"),
    ("steps = 4", "steps = 0", "preprocessing.steps", "positive integer"),
    ("steps = 4\n", "", "preprocessing.steps", "missing required key"),
    ('representation = "stc"', 'representation = "voxels"', "preprocessing.representation",
     "'stc', 'frames'"),
    ("size = [34, 34]", "size = [34]", "preprocessing.size", "[width, height]"),
    ("lr = 1e-3", "lr = nan", "optimizer.lr", "NaN"),
    ('name = "nmnist-stc-scb-mtlif"', 'name = "nmnist-stc-scb-mtlf"', "model.name",
     "did you mean 'nmnist-stc-scb-mtlif'"),
    ("[optimizer]", "[model.overrides]\nn_threshold = 2\n\n[optimizer]",
     "model.overrides.n_threshold", "did you mean 'n_thresholds'"),
    ("[optimizer]", '[model.overrides]\nn_thresholds = "2"\n\n[optimizer]',
     "model.overrides.n_thresholds", "expected an integer"),
    ("[optimizer]", "[model.overrides]\ntheta = -1.0\n\n[optimizer]",
     "model.overrides.theta", "> 0"),
    ("[optimizer]", "[model.overrides]\ndropout = 1.5\n\n[optimizer]",
     "model.overrides.dropout", "[0, 1)"),
    ("[optimizer]", '[model.overrides]\nthresholds = [1.0, "2"]\n\n[optimizer]',
     "model.overrides.thresholds", "array of numbers"),
    ("[optimizer]", "[model.overrides]\nthresholds = [2.0, 1.0]\n\n[optimizer]",
     "model.overrides.thresholds", "strictly increasing"),
    ("[optimizer]", "[model.overrides]\nthresholds = []\n\n[optimizer]",
     "model.overrides.thresholds", "array of numbers"),
    ("[optimizer]", '[model.overrides]\nthresholds = "cubic"\n\n[optimizer]',
     "model.overrides.thresholds", "unknown threshold scheme"),
    ("[optimizer]", "[model.overrides]\nsurrogate_alpha = 4.0\n\n[optimizer]",
     "model.overrides.surrogate_alpha", "rect surrogate has no alpha"),
    ("[optimizer]", '[model.overrides]\nsurrogate = "sigmoid"\nsurrogate_alpha = "4"\n\n'
     "[optimizer]", "model.overrides.surrogate_alpha", "must be a number"),
    ("[optimizer]", "[model.overrides]\ndetach_reset = 1\n\n[optimizer]",
     "model.overrides.detach_reset", "expected true/false"),
    ("[optimizer]", '[model.overrides]\nv_reset = "low"\n\n[optimizer]',
     "model.overrides.v_reset", "expected a number"),
    ("[optimizer]", "[model.overrides]\nthreshold_ratio = 0.5\nthresholds = \"geometric\"\n"
     "n_thresholds = 2\n\n[optimizer]", "model.overrides.threshold_ratio", "ratio > 1"),
    ("[optimizer]", "[model.overrides]\nv_rest = 0.0\n\n[optimizer]",
     "model.overrides.v_rest", "did you mean 'v_reset'"),
    ('polarity = "split"', 'polarity = "merge"', "preprocessing.polarity", "in_channels = 2"),
    ("size = [34, 34]", "size = [32, 34]", "preprocessing.size", "input_size"),
    ("size = [34, 34]", "size = [17, 17]\ndownsample = 3", "preprocessing.downsample", "11x11"),
    ('representation = "stc"', 'representation = "frames"', "preprocessing.tau_s", "stc"),
    ("weight_decay = 0.0", "momentum = 0.9", "optimizer.momentum", "sgd"),
    ('name = "cosine"', 'name = "step"', "schedule.step_size", "step_size"),
    ("warmup_epochs = 0", "warmup_epochs = 30", "schedule.warmup_epochs", "shorter"),
    ('loss = "ce"', 'loss = "ce-rate"', "training.loss", "readout = 'rate'"),
    ('arxiv = "2203.10006"', 'arxiv = "arXiv:2203"', "reference.arxiv", "arXiv id"),
    ("[training]", "[training]\nepochs = 3", "", "not valid TOML"),
])
def test_errors_name_file_and_key(tmp_path, old, new, key, words):
    assert old in BASE
    err = _error(tmp_path, BASE.replace(old, new, 1))
    assert err.key == (key or None)
    assert words in str(err)


def test_missing_section_and_not_a_table(tmp_path):
    start = BASE.index("[training]")
    end = BASE.index("[reference]")
    err = _error(tmp_path, BASE[:start] + BASE[end:])
    assert err.key == "training" and "missing section" in str(err)
    start, end = BASE.index("[optimizer]"), BASE.index("[schedule]")
    err = _error(tmp_path, "optimizer = 3\n" + BASE[:start] + BASE[end:])
    assert err.key == "optimizer" and "table" in str(err)


def test_folder_from_environment_and_find(tmp_path, monkeypatch):
    (tmp_path / "mine.toml").write_text(BASE)
    (tmp_path / "notes.txt").write_text("ignored")
    monkeypatch.setenv("EVENTCOMPRESS_MODELS", str(tmp_path))
    assert recipes.list_recipes() == [tmp_path / "mine.toml"]
    assert recipes.load_all()["mine"].model.name == "nmnist-stc-scb-mtlif"
    assert recipes.find_recipe("mine") == tmp_path / "mine.toml"
    with pytest.raises(ConfigError, match="did you mean 'mine'"):
        recipes.find_recipe("mines")
    monkeypatch.setenv("EVENTCOMPRESS_MODELS", str(tmp_path / "absent"))
    with pytest.raises(ConfigError, match="EVENTCOMPRESS_MODELS"):
        recipes.list_recipes()
    with pytest.raises(ConfigError, match="not found"):
        recipes.load(tmp_path / "absent.toml")
