"""The training engine on synthetic data: exact resume, selection, faults, schedules, losses."""

from __future__ import annotations

import math
import signal

import pytest
import torch
from train_helpers import (  # noqa: F401
    make_trainer,
    one_thread,
    synthetic_sets,
    tiny_recipe,
    train_cache,
)

from eventcompress.errors import ConfigError
from eventcompress.nn.networks import SpikingNet
from eventcompress.train.checkpoint import CheckpointError, load_checkpoint, load_model_state
from eventcompress.train.engine import (
    TrainingError,
    TrainingInterrupted,
    _is_better,
    epoch_batches,
)
from eventcompress.train.losses import compute_loss
from eventcompress.train.metrics import calibrate_batchnorm
from eventcompress.train.optim import lr_factor, parameter_groups
from eventcompress.train.rundir import RunDir
from eventcompress.train.runtime import resolve_device

TIMING = {"seconds", "samples_per_s", "data_wait_share", "eval_seconds"}


@pytest.fixture(scope="module")
def data():
    return synthetic_sets()


def _untimed(rows):
    return [{k: v for k, v in r.items() if k not in TIMING} for r in rows]


def test_resume_after_ctrl_c_is_bit_identical(tmp_path, data):
    recipe = tiny_recipe("nmnist-stc-scb-mtlif", "model.overrides.dropout=0.3")
    straight = make_trainer(tmp_path / "a", recipe, data)
    summary_a = straight.fit()

    def interrupt(trainer, epoch, step):
        if (epoch, step) == (1, 2):  # a real SIGINT, caught by the engine's handler
            signal.raise_signal(signal.SIGINT)

    stopped = make_trainer(tmp_path / "b", recipe, data, on_step=interrupt)
    with pytest.raises(TrainingInterrupted, match=r"epoch 1 after step 2.*--resume"):
        stopped.fit()
    state = load_checkpoint(tmp_path / "b" / "last.pt")
    assert (state["epoch"], state["step"]) == (0, 2)
    resumed = make_trainer(tmp_path / "b", recipe, data)
    summary_b = resumed.fit(resume=True)

    a, b = load_checkpoint(tmp_path / "a" / "last.pt"), load_checkpoint(tmp_path / "b" / "last.pt")
    assert a["model"].keys() == b["model"].keys()
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    assert a["optimizer"]["state"].keys() == b["optimizer"]["state"].keys()
    for k, s in a["optimizer"]["state"].items():
        assert torch.equal(s["exp_avg_sq"], b["optimizer"]["state"][k]["exp_avg_sq"])
    assert _untimed(RunDir(tmp_path / "a").read_metrics()) == \
        _untimed(RunDir(tmp_path / "b").read_metrics())
    for key in ("val_selected_test_acc", "best_val_acc", "best_epoch", "sops_per_sample"):
        assert summary_a[key] == summary_b[key]


def test_summary_keys_and_selection(tmp_path, data):
    trainer = make_trainer(tmp_path, tiny_recipe(epochs=3), data)
    summary = trainer.fit()
    for key in ("val_selected_test_acc", "best_val_acc", "best_epoch",
                "best_test_acc_over_epochs", "time_steps", "params", "sops_per_sample",
                "energy_uj_per_sample", "ann_energy_uj_per_sample", "train_seconds"):
        assert key in summary
    rows = RunDir(tmp_path).read_metrics()
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    best = max(rows, key=lambda r: (r["val_acc"], -r["val_loss"], -r["epoch"]))
    assert summary["best_epoch"] == best["epoch"]
    assert summary["best_val_acc"] == best["val_acc"]
    assert summary["best_test_acc_over_epochs"] == max(r["test_acc_for_reporting"] for r in rows)
    assert summary["time_steps"] == 4
    assert summary["params"] == sum(p.numel() for p in trainer.model.parameters())
    assert 0 < summary["energy_uj_per_sample"] and 0 < summary["sops_per_sample"]
    assert set(rows[0]["firing_rates"]) == {"features.0.neuron", "features.2.neuron",
                                            "classifier.1.neuron"}
    # the selected checkpoint is the one tested: its test accuracy is that epoch's
    assert summary["val_selected_test_acc"] == rows[best["epoch"] - 1]["test_acc_for_reporting"]


def test_ties_break_on_validation_loss():
    best = {"val_acc": 0.9, "val_loss": 0.30}
    assert _is_better(0.9, 0.29, best)
    assert not _is_better(0.9, 0.30, best)  # equal: the earlier epoch stays
    assert not _is_better(0.89, 0.01, best)
    assert _is_better(0.91, 5.0, best)


def test_non_finite_loss_names_epoch_step_and_layer(tmp_path, data):
    trainer = make_trainer(tmp_path, tiny_recipe(), data)

    def explode(trainer, epoch, step):
        if (epoch, step) == (2, 1):
            with torch.no_grad():
                trainer.model.readout.linear.weight[3, 0] = math.inf

    trainer.on_step = explode
    with pytest.raises(TrainingError) as err:
        trainer.fit()
    message = str(err.value)
    assert "epoch 2, step 2" in message
    assert "'readout.linear' (Linear) is not finite" in message
    assert "last.pt (end of epoch 1) is kept" in message
    kept = load_checkpoint(tmp_path / "last.pt")
    assert kept["epoch"] == 1 and all(torch.isfinite(v).all() for v in kept["model"].values()
                                      if v.is_floating_point())


def test_cuda_out_of_memory_suggests_a_batch_size(tmp_path, data, monkeypatch):
    def oom(self, x):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 8.00 GiB")

    monkeypatch.setattr(SpikingNet, "forward", oom)
    trainer = make_trainer(tmp_path, tiny_recipe(), data)
    with pytest.raises(TrainingError, match=r"out of memory .* batch size 8 .*"
                                            r"--set training.batch_size=4"):
        trainer.fit()


def test_cuda_without_gpu_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match=r"--device cuda: .*use --device cpu"):
        resolve_device("cuda")
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(ConfigError, match="unknown device 'tpu'"):
        resolve_device("tpu")


def test_checkpoint_of_another_network_names_the_mismatch(tmp_path, data):
    make_trainer(tmp_path, tiny_recipe(epochs=1), data).fit()
    state = load_checkpoint(tmp_path / "best.pt")
    other, _ = tiny_recipe("nmnist-mtlif", epochs=1)
    with pytest.raises(CheckpointError, match=r"holds network 'nmnist-stc-scb-mtlif', which "
                                              r"does not fit 'nmnist-mtlif': unexpected "
                                              r"'features.0.v'"):
        load_model_state(other.create_model(), state, network="nmnist-mtlif")
    wider, _ = tiny_recipe("nmnist-stc-scb-mtlif", "model.overrides.hidden=32", epochs=1)
    with pytest.raises(CheckpointError, match=r"'classifier.1.linear.weight' has shape \[16, "):
        load_model_state(wider.create_model(), state, network="nmnist-stc-scb-mtlif")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.pt: not a readable checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")


def test_epoch_order_is_a_pure_function():
    a = epoch_batches(50, 8, seed=3, epoch=2)
    assert a == epoch_batches(50, 8, seed=3, epoch=2)
    assert a != epoch_batches(50, 8, seed=3, epoch=1)
    assert sorted(i for b in a for i in b) == list(range(50))
    assert [len(b) for b in epoch_batches(17, 8, 0, 0)] == [8, 8]  # a lone sample is dropped


def test_schedule_factors():
    from eventcompress.recipes import ScheduleSpec

    cosine = ScheduleSpec(name="cosine", warmup_epochs=2, min_lr=1e-4)
    spe, epochs, lr = 10, 12, 1e-3
    assert lr_factor(0, spe, epochs, cosine, lr) == pytest.approx(1 / 20)
    assert lr_factor(19, spe, epochs, cosine, lr) == pytest.approx(1.0)
    assert lr_factor(20, spe, epochs, cosine, lr) == pytest.approx(1.0)
    assert lr_factor(70, spe, epochs, cosine, lr) == pytest.approx(0.1 + 0.9 * 0.5)
    assert lr_factor(120, spe, epochs, cosine, lr) == pytest.approx(0.1)
    step = ScheduleSpec(name="step", step_size=3, gamma=0.5)
    assert [lr_factor(e * spe, spe, epochs, step, lr) for e in (0, 2, 3, 6)] == \
        [1.0, 1.0, 0.5, 0.25]


def test_weight_decay_skips_norms_and_neuron_parameters():
    recipe, _ = tiny_recipe("nmnist-stc-scb-mtlif")
    model = recipe.create_model()
    decay, rest = parameter_groups(model, 1e-4)
    names = {id(p): n for n, p in model.named_parameters()}
    decayed = {names[id(p)] for p in decay["params"]}
    assert decayed == {"features.0.conv.weight", "features.2.conv.weight",
                       "classifier.1.linear.weight", "readout.linear.weight"}
    undecayed = {names[id(p)] for p in rest["params"]}
    assert {"features.0.v", "features.0.bn.weight", "readout.linear.bias"} <= undecayed
    assert any(".neuron." in n for n in undecayed)
    assert decay["weight_decay"] == 1e-4 and rest["weight_decay"] == 0.0


def test_losses():
    out = torch.tensor([[2.0, 0.0], [0.0, 4.0]])
    y = torch.tensor([0, 1])
    assert compute_loss("mse-count", out, y, steps=4) == pytest.approx(
        ((0.5 - 1) ** 2 + 0 + 0 + (1 - 1) ** 2) / 4)
    per_step = torch.stack([out, out * 0])  # T = 2
    expected = (torch.nn.functional.cross_entropy(out, y) + math.log(2)) / 2
    assert compute_loss("tet", out.mean(0), y, steps=2, per_step=per_step) == \
        pytest.approx(float(expected))
    smooth = compute_loss("ce", out, y, steps=1, label_smoothing=0.1)
    assert smooth > compute_loss("ce", out, y, steps=1)


def test_tet_loss_trains(tmp_path, data):
    summary = make_trainer(tmp_path, tiny_recipe("nmnist-mtlif", "training.loss=\"tet\"",
                                                 epochs=1), data).fit()
    assert summary["best_epoch"] == 1


def test_batchnorm_calibration_gives_exact_means(data):
    recipe, _ = tiny_recipe()
    model = recipe.create_model()
    bn = model.features[0].bn
    xs = [data[0].samples[i:i + 8] for i in (0, 8)]
    with torch.no_grad():
        conv_out = [model.features[0].conv(x.transpose(0, 1).reshape(-1, 2, 34, 34)) for x in xs]
    seen = calibrate_batchnorm(model, [(x, None) for x in xs], torch.device("cpu"))
    assert seen == 2 and model.training
    expected = torch.stack([c.mean((0, 2, 3)) for c in conv_out]).mean(0)
    assert torch.allclose(bn.running_mean, expected, atol=1e-6)
    assert bn.momentum == 0.1  # restored after the pass


def test_deterministic_mode_is_scoped_to_training(tmp_path, data):
    assert not torch.are_deterministic_algorithms_enabled()
    seen = []
    trainer = make_trainer(tmp_path, tiny_recipe("nmnist-mtlif", "training.deterministic=true",
                                                 epochs=1), data,
                           on_step=lambda *a: seen.append(
                               torch.are_deterministic_algorithms_enabled()))
    trainer.fit()
    assert seen and all(seen)
    assert not torch.are_deterministic_algorithms_enabled()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_amp_epoch(tmp_path, data):
    trainer = make_trainer(tmp_path, tiny_recipe(epochs=2), data, device="cuda")
    with trainer.autocast():
        assert torch.get_autocast_dtype("cuda") == torch.bfloat16
    summary = trainer.fit()
    assert trainer.device.type == "cuda" and summary["device"].startswith("cuda")
    assert math.isfinite(summary["best_val_loss"]) and summary["sops_per_sample"] > 0
    state = load_checkpoint(tmp_path / "best.pt")
    assert all(v.device.type == "cpu" for v in state["model"].values())
