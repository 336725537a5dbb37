"""`eventcompress train / eval / report` end to end on a few dozen real N-MNIST recordings."""

from __future__ import annotations

import json
import re
import sys

import numpy as np
import pytest
import torch
from train_helpers import TINY, one_thread, train_cache  # noqa: F401

from eventcompress.cli import main
from eventcompress.datasets import get_dataset
from eventcompress.recipes import loads
from eventcompress.train.data import balanced_head
from eventcompress.train.rundir import RunDir

SUMMARY_KEYS = ("val_selected_test_acc", "best_val_acc", "best_epoch",
                "best_test_acc_over_epochs", "time_steps", "params", "sops_per_sample",
                "energy_uj_per_sample", "ann_energy_uj_per_sample", "train_seconds")


def _sets() -> list[str]:
    out = []
    for s in (*TINY, "training.val_fraction=0.25"):
        out += ["--set", s]
    return out


@pytest.fixture(scope="module")
def trained(nmnist_small, tmp_path_factory):
    run = tmp_path_factory.mktemp("run") / "stc"
    threads = torch.get_num_threads()
    try:
        rc = main(["train", "nmnist-stc-scb-mtlif", "--data-root", str(nmnist_small), "--out",
                   str(run), "--epochs", "2", "--limit", "40", "--quiet", "--threads", "1",
                   *_sets()])
    finally:
        torch.set_num_threads(threads)
    assert rc == 0
    return run


def test_train_writes_the_run_directory(trained):
    run = RunDir(trained)
    summary = run.read_summary()
    for key in SUMMARY_KEYS:
        assert key in summary, key
    assert 0 <= summary["val_selected_test_acc"] <= 1
    assert summary["sizes"] == {"train": 30, "val": 10, "test": 40}
    recipe = loads(run.recipe.read_text("utf-8"))
    assert (recipe.training.epochs, recipe.training.batch_size) == (2, 8)
    assert recipe.model.kwargs["channels"] == (4, 8)
    env = json.loads(run.env.read_text("utf-8"))
    assert env["torch"] == torch.__version__ and env["device"] == "cpu"
    assert env["torch_threads"] == 1
    rows = run.read_metrics()
    assert [r["epoch"] for r in rows] == [1, 2]
    for key in ("train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds",
                "samples_per_s", "firing_rates", "test_acc_for_reporting"):
        assert key in rows[0], key
    assert run.best.is_file() and run.last.is_file()


def test_eval_reports_every_field(trained, nmnist_small, capsys):
    capsys.readouterr()
    assert main(["eval", str(trained / "best.pt"), "--data-root", str(nmnist_small),
                 "--limit", "40", "--json", "--device", "cpu"]) == 0
    result = json.loads(capsys.readouterr().out)
    summary = RunDir(trained).read_summary()
    # the same checkpoint on the same test subset gives the summary's figures
    assert result["accuracy"] == summary["val_selected_test_acc"]
    assert result["sops_per_sample"] == pytest.approx(summary["sops_per_sample"])
    assert result["samples"] == 40 and len(result["classes"]) == 10
    confusion = result["confusion_matrix"]
    assert sum(map(sum, confusion)) == 40
    labels = np.asarray([s.label for s in get_dataset("nmnist").samples(nmnist_small, "test")])
    counts = np.bincount(labels[balanced_head(labels, 40)], minlength=10).tolist()
    assert [sum(row) for row in confusion] == counts
    assert result["per_class_accuracy"] == [row[i] / counts[i] for i, row in enumerate(confusion)]
    assert sum(confusion[i][i] for i in range(10)) / 40 == result["accuracy"]
    for key in ("spikes_per_sample", "energy_uj_per_sample", "ann_energy_uj_per_sample",
                "energy_ratio", "latency_ms_per_sample_batched", "latency_ms_per_sample_batch1"):
        assert result[key] > 0, key
    assert set(result["firing_rates"]) == {"features.0.neuron", "features.2.neuron",
                                           "classifier.1.neuron"}
    assert main(["eval", str(trained), "--data-root", str(nmnist_small), "--limit", "40",
                 "--split", "val"]) == 0
    text = capsys.readouterr().out
    assert "on val: 10 samples" in text and "confusion matrix" in text and "uJ vs ANN" in text


def test_report_table_and_plots(trained, tmp_path, capsys):
    assert main(["report", str(trained), "--out", str(tmp_path)]) == 0
    table = (tmp_path / "report.md").read_text("utf-8")
    summary = RunDir(trained).read_summary()
    assert f"| stc | nmnist-stc-scb-mtlif | 0 | {100 * summary['val_selected_test_acc']:.2f} |" \
        in table
    for png in ("curves.png", "firing_rates.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_without_matplotlib_says_what_to_install(trained, tmp_path, capsys,
                                                        monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(["report", str(trained), "--out", str(tmp_path)]) == 0
    assert "pip install 'eventcompress[plot]'" in capsys.readouterr().err
    assert (tmp_path / "report.md").is_file() and not (tmp_path / "curves.png").exists()


def test_resume_extends_a_finished_run(trained, nmnist_small, tmp_path, capsys):
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(trained, run)
    assert main(["train", "--resume", str(run), "--data-root", str(nmnist_small), "--limit",
                 "30", "--quiet"]) == 1
    assert "was trained on other data: sizes was {'train': 30, 'val': 10, 'test': 40}" in \
        capsys.readouterr().err
    assert main(["train", "--resume", str(run), "--epochs", "3", "--data-root",
                 str(nmnist_small), "--limit", "40", "--quiet"]) == 0
    assert [r["epoch"] for r in RunDir(run).read_metrics()] == [1, 2, 3]
    assert "epochs = 3" in (run / "recipe.toml").read_text("utf-8")


def test_resume_refuses_other_preprocessing(trained, nmnist_small, tmp_path, capsys):
    import shutil

    run = tmp_path / "edited"
    shutil.copytree(trained, run)
    recipe = run / "recipe.toml"
    text = recipe.read_text("utf-8")
    assert "tau_s = 100000.0" in text
    recipe.write_text(text.replace("tau_s = 100000.0", "tau_s = 50000.0"), encoding="utf-8")
    assert main(["train", "--resume", str(run), "--epochs", "3", "--data-root",
                 str(nmnist_small), "--limit", "40", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "was trained on preprocessing" in err and '"tau_s":100000.0' in err.replace(" ", "")
    assert '"tau_s":50000.0' in err.replace(" ", "")
    assert [r["epoch"] for r in RunDir(run).read_metrics()] == [1, 2]


@pytest.mark.parametrize(("setting", "message"), [
    ("training.epoch=5", r"\[training.epoch\] unknown key 'epoch' \(did you mean 'epochs'\?\)"),
    ("training.epochs=0", r"\[training.epochs\] 0 is out of range; expected a positive integer"),
    ("trainig.epochs=5", r"unknown section \[trainig\] \(did you mean \[training\]\?\)"),
    ("model.overrides.chanels=[4]", r"unknown override 'chanels'.*did you mean 'channels'"),
    ("optimizer.name=adamx", r"\[optimizer.name\] 'adamx' is not one of"),
    ("training.epochs", r"--set expects key=value"),
])
def test_bad_settings_are_named(setting, message, tmp_path, capsys):
    assert main(["train", "nmnist-mtlif", "--data-root", str(tmp_path), "--set", setting]) == 1
    err = capsys.readouterr().err
    assert re.search(message, err), err


def test_unknown_recipe_name_has_a_close_match(tmp_path, capsys):
    assert main(["train", "nmnist-stc-scb-mtlf", "--data-root", str(tmp_path)]) == 1
    assert "did you mean 'nmnist-stc-scb-mtlif'" in capsys.readouterr().err


def test_existing_run_directory_is_not_overwritten(trained, nmnist_small, capsys):
    assert main(["train", "nmnist-mtlif", "--data-root", str(nmnist_small), "--out",
                 str(trained)]) == 1
    assert "already holds files" in capsys.readouterr().err


def test_device_cuda_without_gpu(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["train", "nmnist-mtlif", "--data-root", str(tmp_path), "--device",
                 "cuda"]) == 1
    assert "--device cuda: " in capsys.readouterr().err


def test_eval_of_a_broken_checkpoint(tmp_path, capsys):
    (tmp_path / "x.pt").write_bytes(b"\0" * 10)
    assert main(["eval", str(tmp_path / "x.pt"), "--data-root", str(tmp_path)]) == 1
    assert "x.pt: not a readable checkpoint" in capsys.readouterr().err


def test_changed_source_files_are_refused_until_rebuilt(nmnist_small, tmp_path, capsys):
    """A store whose recordings were copied again (new mtimes) is never served; train names
    the changed files and how to replace the store, and --rebuild-cache does."""
    import os
    import shutil

    root = tmp_path / "NMNIST-small"
    shutil.copytree(nmnist_small, root)
    args = ["train", "nmnist-stc-scb-mtlif", "--data-root", str(root), "--cache-dir",
            str(tmp_path / "cache"), "--epochs", "1", "--limit", "20", "--quiet", "--threads",
            "1", *_sets()]
    threads = torch.get_num_threads()
    try:
        assert main([*args, "--out", str(tmp_path / "a")]) == 0
        touched = root / "Train" / "3" / sorted(os.listdir(root / "Train" / "3"))[0]
        os.utime(touched, ns=(1, 1))
        capsys.readouterr()
        assert main([*args, "--out", str(tmp_path / "b")]) == 1
        err = capsys.readouterr().err
        assert f"Train/3/{touched.name} changed" in err and "--rebuild-cache" in err
        assert "eventcompress cache rm" in err
        assert main([*args, "--out", str(tmp_path / "c"), "--rebuild-cache"]) == 0
        assert main([*args, "--out", str(tmp_path / "d")]) == 0  # the rebuilt store is fresh
    finally:
        torch.set_num_threads(threads)
