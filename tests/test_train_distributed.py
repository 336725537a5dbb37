"""Training on two CPU processes (torchrun, gloo on loopback) against one process with the same
global batch: the metrics of every epoch and the final weights agree to float rounding; a
distributed run resumes; only rank 0 writes. Plus the pieces: rank shares, evaluation blocks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import REALDATA

from eventcompress.commands.train import _without_nproc
from eventcompress.train.distributed import Distributed, RankBatchSampler
from eventcompress.train.engine import epoch_batches

ROOT = Path(__file__).resolve().parents[1]
NMNIST = REALDATA / "nmnist" / "NMNIST-small"
SETS = ("model.overrides.channels=[4, 8]", "model.overrides.hidden=16",
        "training.batch_size=8", "training.bn_calibration_batches=2",
        "training.val_fraction=0.25", "schedule.name=none")  # constant lr: --epochs extends
#: 41 per split: uneven everywhere (test blocks of 20 and 21, a last training batch of 7)
LIMIT = 41
#: tolerance of the comparison: the two runs differ only in float summation order (the
#: all-reduced gradients and batch-norm sums); measured: weights within 1.2e-7 after 2 epochs
RTOL, ATOL = 1e-4, 1e-5


def test_rank_shares_make_up_each_global_batch_and_follow_the_epoch():
    data = list(range(21))
    batches = lambda epoch: epoch_batches(21, 8, 0, epoch)  # noqa: E731
    samplers = [RankBatchSampler(data, batches, Distributed(r, 2)) for r in range(2)]
    for epoch in (0, 1):
        for s in samplers:
            s.set_epoch(epoch)
        shares = [list(s) for s in samplers]
        assert len(shares[0]) == len(shares[1]) == len(batches(epoch))
        for k, batch in enumerate(batches(epoch)):
            assert sorted(shares[0][k] + shares[1][k]) == sorted(batch)
    samplers[0].set_epoch(0)
    first = list(samplers[0])
    samplers[0].set_epoch(1)
    assert list(samplers[0]) != first
    # a last global batch smaller than the world is dropped on every rank alike
    three = [RankBatchSampler(data, lambda e: [[0, 1, 2, 3], [4, 5]], Distributed(r, 3))
             for r in range(3)]
    assert [len(s) for s in three] == [1, 1, 1]


@pytest.mark.parametrize("n", [0, 1, 5, 10, 11])
def test_evaluation_blocks_count_every_sample_once(n):
    for world in (1, 2, 3, 4):
        blocks = [list(Distributed(r, world).eval_block(n)) for r in range(world)]
        assert sorted(i for b in blocks for i in b) == list(range(n))


def test_nproc_is_removed_from_the_relaunched_command():
    assert _without_nproc(["train", "r", "--nproc", "2", "--quiet", "--nproc=3"]) == \
        ["train", "r", "--quiet"]


def _torchrun(*args: str) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT), NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "eventcompress", "train", *args, "--nproc", "2",
                           "--threads", "1", "--device", "cpu", "--quiet"],
                          capture_output=True, text=True, env=env, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=False)["model"]


@pytest.mark.skipif(not NMNIST.is_dir(), reason=f"real N-MNIST not found at {NMNIST}")
def test_two_processes_train_what_one_does_and_resume(tmp_path):
    from train_helpers import one_thread  # noqa: F401 (one torch thread in this process)

    from eventcompress.train import train

    sets = [a for s in SETS for a in ("--set", s)]
    run2 = tmp_path / "two"
    _torchrun("nmnist-stc-scb-mtlif", "--data-root", str(NMNIST), "--limit", str(LIMIT),
              "--epochs", "1", "--out", str(run2), *sets)
    assert sorted(p.name for p in run2.iterdir()) == sorted(
        ["recipe.toml", "environment.json", "metrics.jsonl", "last.pt", "best.pt",
         "summary.json"])
    _torchrun("--data-root", str(NMNIST), "--limit", str(LIMIT), "--resume", str(run2),
              "--epochs", "2")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        one = train("nmnist-stc-scb-mtlif", NMNIST, out=tmp_path / "one", epochs=2, sets=SETS,
                    device="cpu", quiet=True, limit=LIMIT)
    finally:
        torch.set_num_threads(threads)
    two = json.loads((run2 / "summary.json").read_text())
    assert two["world_size"] == 2 and one["world_size"] == 1
    rows2 = [json.loads(line) for line in (run2 / "metrics.jsonl").read_text().splitlines()]
    rows1 = [json.loads(line) for line in (tmp_path / "one" / "metrics.jsonl").read_text()
             .splitlines()]
    assert [r["epoch"] for r in rows2] == [1, 2]
    for r1, r2 in zip(rows1, rows2, strict=True):
        for key in ("train_loss", "val_loss", "lr"):
            assert r2[key] == pytest.approx(r1[key], rel=RTOL, abs=ATOL), key
        for key in ("train_acc", "val_acc", "test_acc_for_reporting", "best_epoch"):
            assert r2[key] == r1[key], key
    for key in ("val_selected_test_acc", "best_val_acc", "best_epoch"):
        assert two[key] == one[key], key
    assert two["test_loss"] == pytest.approx(one["test_loss"], rel=RTOL)
    assert two["spikes_per_sample"] == pytest.approx(one["spikes_per_sample"], rel=RTOL)
    w1, w2 = _weights(tmp_path / "one" / "last.pt"), _weights(run2 / "last.pt")
    assert w1.keys() == w2.keys()
    for name in w1:
        torch.testing.assert_close(w2[name], w1[name], rtol=RTOL, atol=ATOL, msg=name)
