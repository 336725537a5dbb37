"""The training loop: epochs, validation-based selection, checkpoints, faults.

One :class:`Trainer` trains one recipe on map-style datasets (the cached splits of
:func:`.data.prepare_data`) and writes a run directory
(:mod:`.rundir`). Selection: the best epoch has the highest validation accuracy, ties broken by
the lower validation loss, then by the earlier epoch; only that checkpoint is evaluated on the
test split for the reported figure. With ``test_every_epoch`` the test accuracy of every epoch
is logged too, to report the best-over-epochs figure papers often quote; the engine never reads
it for any decision.

Exact resume: each epoch's order comes from a generator seeded with ``(seed, epoch)``, and the
global RNG state (dropout) is saved with the model, optimiser and scheduler, so a run resumed
from ``last.pt`` (even one stopped mid-epoch by Ctrl-C) ends bit-identical on the CPU.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

import torch
from torch import nn

from ..errors import ConfigError, EventCompressError
from .checkpoint import capture_rng, load_checkpoint, load_model_state, restore_rng, save_checkpoint
from .data import recipe_network
from .distributed import (
    Distributed,
    RankBatchSampler,
    loss_scale,
    merge_evaluations,
    synchronise_batchnorm,
)
from .losses import PerStepReadout, compute_loss
from .metrics import (
    activity_summary,
    calibrate_batchnorm,
    evaluate,
    firing_rates,
    make_loader,
    sequential_batches,
    to_model_input,
)
from .optim import build_optimizer, build_scheduler
from .rundir import RunDir
from .runtime import StopOnSigint, resolve_device, run_settings

__all__ = ["Trainer", "TrainingError", "TrainingInterrupted", "epoch_batches"]


class TrainingError(EventCompressError):
    """Training cannot go on (non-finite loss, out of memory); the message says where and why."""


class TrainingInterrupted(EventCompressError):
    """Ctrl-C: the state was saved to ``last.pt`` at a batch boundary."""


def epoch_batches(n: int, batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """The shuffled batches of epoch ``epoch`` (from 0): a pure function of its arguments.

    A final batch of one sample is dropped (batch norm needs two values per channel).
    """
    gen = torch.Generator().manual_seed(int(seed) * 1_000_003 + int(epoch))
    order = torch.randperm(n, generator=gen).tolist()
    batches = [order[i:i + batch_size] for i in range(0, n, batch_size)]
    if len(batches) > 1 and len(batches[-1]) == 1:
        batches.pop()
    return batches


def _is_better(acc: float, loss: float, best: dict[str, Any] | None) -> bool:
    if best is None:
        return True
    return acc > best["val_acc"] or (acc == best["val_acc"] and loss < best["val_loss"])


class Trainer:
    """Trains ``recipe`` on ``(train, val, test)`` and writes ``run_dir``.

    ``on_step(trainer, epoch, step)`` is called after every update (tests inject faults there).
    Started by torchrun (``WORLD_SIZE`` > 1) it trains with DistributedDataParallel
    (:mod:`.distributed`); only rank 0 writes the run directory. ``sync_batchnorm=False`` keeps
    each rank's batch-norm statistics its own (faster; then the run differs from one process).
    """

    def __init__(self, recipe: Any, recipe_toml: str, data: tuple[Any, Any, Any],
                 run_dir: RunDir, *, device: str = "auto", quiet: bool = False,
                 data_info: dict[str, Any] | None = None,
                 on_step: Callable[[Trainer, int, int], None] | None = None,
                 sync_batchnorm: bool = True) -> None:
        self.recipe = recipe
        self.recipe_toml = recipe_toml
        self.train_set, self.val_set, self.test_set = data
        self.run = run_dir
        self.device = resolve_device(device)
        self.dist = Distributed.from_env(self.device)
        if self.dist.active and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
        self.quiet = quiet or not self.dist.main
        self.data_info = data_info or {}
        self.on_step = on_step
        tr = recipe.training
        if len(self.val_set) == 0:
            raise ConfigError("the validation set is empty; model selection needs one (raise "
                              "training.val_fraction)", key="training.val_fraction")
        self.steps = int(self.train_set[0][0].shape[0])
        _seed_everything(tr.seed)
        self.model = recipe.create_model().to(self.device)
        self.network = recipe_network(recipe)
        self.n_classes = int(self.model.config.n_classes)
        self.forward: nn.Module = self.model
        if self.dist.active:
            from torch.nn.parallel import DistributedDataParallel

            if sync_batchnorm:
                self.model = synchronise_batchnorm(self.model, self.device)
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.forward = DistributedDataParallel(self.model, device_ids=ids)
        if tr.compile:
            self.forward = torch.compile(self.forward)
        self.optimizer = build_optimizer(self.model, recipe.optimizer)
        self.augment = recipe.augmentation.build(tr.seed)
        self.sampler = RankBatchSampler(
            self.train_set, lambda epoch: epoch_batches(len(self.train_set), tr.batch_size,
                                                        tr.seed, epoch), self.dist)
        self.steps_per_epoch = len(self.sampler)
        self.scheduler = build_scheduler(self.optimizer, recipe.schedule, tr.epochs,
                                         self.steps_per_epoch)
        use_amp = tr.amp and self.device.type == "cuda"
        self.autocast = ((lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if use_amp
                         else nullcontext)
        self.epoch = 0  # finished epochs
        self.step = 0  # updates done in the current epoch
        self.partial = _empty_partial()
        self.best: dict[str, Any] | None = None
        self.best_test_over_epochs: float | None = None
        self.train_seconds = 0.0

    # -- state ------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {"network": self.network, "recipe": self.recipe.name,
                "recipe_toml": self.recipe_toml, "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "rng": capture_rng(),
                "epoch": self.epoch, "step": self.step, "partial": dict(self.partial),
                "best": self.best, "best_test_over_epochs": self.best_test_over_epochs,
                "train_seconds": self.train_seconds, "data": self.data_info}

    def load_state(self, state: dict[str, Any]) -> None:
        saved, now = state.get("data") or {}, self.data_info
        for key in ("sizes", "pipeline", "limit"):
            if key in saved and key in now and saved[key] != now[key]:
                raise ConfigError(f"{state.get('path', 'checkpoint')} was trained on other data: "
                                  f"{key} was {saved[key]!r}, now {now[key]!r} (pass the same "
                                  "--data-root and --limit as the run)", key="--resume")
        load_model_state(self.model, state, network=self.network,
                         source=state.get("path", "checkpoint"))
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        restore_rng(state["rng"])
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        self.partial = dict(state["partial"])
        if not self.dist.main:  # rank 0 carries the interrupted epoch's summed counts
            self.partial.update({k: 0 for k in _COUNTS})
        self.best = state["best"]
        self.best_test_over_epochs = state["best_test_over_epochs"]
        self.train_seconds = float(state["train_seconds"])

    # -- loop -------------------------------------------------------------------------------
    def fit(self, *, resume: bool = False) -> dict[str, Any]:
        """Train the remaining epochs, then test the selected checkpoint; returns the summary."""
        if resume:
            self.load_state(load_checkpoint(self.run.last))
            if self.dist.main:
                self.run.keep_metrics(self.epoch)
        with StopOnSigint() as stop, run_settings(self.recipe.training.deterministic,
                                                      self.device):
            while self.epoch < self.recipe.training.epochs:
                row = self._train_epoch(stop)
                self._end_epoch(row)
                # the epoch's training time survives an interrupt (it is in the partial sums)
                self.train_seconds += row["seconds"] + row["eval_seconds"]
                self._save(self.run.last)
        return self._final_test()

    def _save(self, path: Any) -> None:
        """Rank 0 writes; every rank calls it (the partial sums of an interrupted epoch are
        summed over ranks into the checkpoint, and a resumed run gives them to rank 0)."""
        counts = self.dist.sum([self.partial[k] for k in _COUNTS])
        if self.dist.main:
            state = self.state()
            state["partial"] = {**self.partial, **dict(zip(_COUNTS, counts))}
            save_checkpoint(path, state)

    def _train_epoch(self, stop: StopOnSigint) -> dict[str, Any]:
        from tqdm.auto import tqdm

        tr = self.recipe.training
        self.sampler.set_epoch(self.epoch)  # this epoch's order (every rank's share of it)
        self.sampler.start = 0
        n_batches = len(self.sampler)
        self.sampler.start = self.step
        batches = self.sampler.global_batches()
        mine = list(self.sampler)
        loader = make_loader(self.train_set, mine, tr.num_workers)
        p = self.partial
        per_step = PerStepReadout(self.model) if tr.loss == "tet" else None
        self.model.train()
        bar = tqdm(total=n_batches, initial=self.step, unit="batch", leave=False,
                   desc=f"epoch {self.epoch + 1}/{tr.epochs}", disable=True if self.quiet else None)
        try:
            mark = time.perf_counter()
            for k, (x, y) in enumerate(loader):
                if self.augment is not None:
                    x = self._augmented(x, mine[k])
                p["data_seconds"] += time.perf_counter() - mark
                scale = loss_scale(self.dist, len(y), len(batches[k]))
                loss, correct = self._update(x, y, per_step, scale)
                p["loss_sum"] += loss * len(y)
                p["correct"] += correct
                p["n"] += len(y)
                self.step += 1
                p["seconds"] += time.perf_counter() - mark
                bar.update(1)
                bar.set_postfix(loss=f"{p['loss_sum'] / p['n']:.3f}",
                                samples_s=f"{p['n'] / max(p['seconds'], 1e-9):.0f}")
                if self.on_step is not None:
                    self.on_step(self, self.epoch + 1, self.step)
                if self._stop_requested(stop):
                    self._save(self.run.last)
                    raise TrainingInterrupted(
                        f"interrupted in epoch {self.epoch + 1} after step {self.step}; state "
                        f"saved to {self.run.last}; continue with: eventcompress train --resume "
                        f"{self.run.path}")
                mark = time.perf_counter()
        finally:
            bar.close()
            if per_step is not None:
                per_step.close()
        loss_sum, correct, n = self.dist.sum([p["loss_sum"], p["correct"], p["n"]])
        row = {"epoch": self.epoch + 1, "train_loss": loss_sum / max(n, 1),
               "train_acc": correct / max(n, 1),
               "lr": self.optimizer.param_groups[0]["lr"], "seconds": p["seconds"],
               "samples_per_s": n / max(p["seconds"], 1e-9),
               "data_wait_share": p["data_seconds"] / max(p["seconds"], 1e-9)}
        self.partial = _empty_partial()
        self.step = 0
        self.epoch += 1
        return row

    def _augmented(self, x: torch.Tensor, indices: list[int]) -> torch.Tensor:
        """Each sample of the batch augmented by (training seed, epoch, its index)."""
        return torch.stack([self.augment(x[j], index=int(i), epoch=self.epoch)
                            for j, i in enumerate(indices)])

    def _stop_requested(self, stop: StopOnSigint) -> bool:
        """Ctrl-C on any rank stops every rank at the same batch (else the others would wait
        for it in the next all-reduce)."""
        if not self.dist.active:
            return stop.requested
        return self.dist.sum([float(stop.requested)])[0] > 0

    def _update(self, x: torch.Tensor, y: torch.Tensor,
                per_step: PerStepReadout | None, scale: float = 1.0) -> tuple[float, int]:
        tr = self.recipe.training
        inp = to_model_input(x, self.device)
        y = y.to(self.device)
        try:
            with self.autocast():
                out = self.forward(inp)
                steps_out = per_step.take(inp.shape[0], inp.shape[1]) if per_step else None
                loss = compute_loss(tr.loss, out, y, steps=self.steps,
                                    label_smoothing=tr.label_smoothing, per_step=steps_out)
            if not torch.isfinite(loss):
                raise TrainingError(self._explain_non_finite(float(loss.detach()), inp))
            self.optimizer.zero_grad(set_to_none=True)
            (loss * scale if scale != 1.0 else loss).backward()
            if tr.grad_clip is not None:
                nn.utils.clip_grad_norm_(self.model.parameters(), tr.grad_clip)
            self.optimizer.step()
            self.scheduler.step()
        except torch.OutOfMemoryError:
            smaller = max(len(y) // 2, 1)
            raise TrainingError(
                f"out of memory on {self.device} in epoch {self.epoch + 1}, step {self.step + 1} "
                f"with batch size {len(y)} (T = {inp.shape[0]}); try a smaller batch, e.g. "
                f"--set training.batch_size={smaller}") from None
        return float(loss.detach()), int((out.argmax(1) == y).sum())

    def _explain_non_finite(self, value: float, inp: torch.Tensor) -> str:
        """Re-run the batch with hooks and name the first layer whose output is not finite."""
        records: list[tuple[str, str, float, bool]] = []

        def hook(name: str) -> Callable[..., None]:
            def record(module: nn.Module, args: Any, out: Any) -> None:
                if isinstance(out, torch.Tensor) and out.is_floating_point():
                    finite = bool(torch.isfinite(out).all())
                    big = float(out.detach().abs().nan_to_num(0.0, 0.0, 0.0).max()) \
                        if out.numel() else 0.0
                    records.append((name, type(module).__name__, big, finite))
            return record

        handles = [m.register_forward_hook(hook(n)) for n, m in self.model.named_modules() if n]
        try:
            with torch.no_grad(), self.autocast():
                self.model(inp)
        finally:
            for h in handles:
                h.remove()
        bad_params = [n for n, p in self.model.named_parameters() if not torch.isfinite(p).all()]
        first_bad = next((r for r in records if not r[3]), None)
        if first_bad is not None:
            where = f"the activity of layer {first_bad[0]!r} ({first_bad[1]}) is not finite"
        elif records:
            top = max(records, key=lambda r: r[2])
            where = f"the largest activity is in layer {top[0]!r} ({top[1]}), max |x| = {top[2]:.3g}"
        else:
            where = "no layer output was recorded"
        params = f"; non-finite parameters: {', '.join(bad_params[:3])}" if bad_params else ""
        return (f"loss is {value} in epoch {self.epoch + 1}, step {self.step + 1}: {where}"
                f"{params}. Stopped; {self.run.last.name} (end of epoch {self.epoch}) is kept. "
                "Lower optimizer.lr or set training.grad_clip.")

    def _loader(self, dataset: Any) -> Any:
        """Sequential batches; distributed: of this rank's unpadded block only."""
        size = self.recipe.training.eval_batch_size or self.recipe.training.batch_size
        block = self.dist.eval_block(len(dataset))
        return make_loader(dataset, [[block[i] for i in b]
                                     for b in sequential_batches(len(block), size)])

    def _evaluate(self, dataset: Any, *, activity: bool) -> dict[str, Any]:
        tr = self.recipe.training
        result = evaluate(self.model, self._loader(dataset), self.device, loss=tr.loss,
                          steps=self.steps, n_classes=self.n_classes,
                          label_smoothing=tr.label_smoothing, activity=activity,
                          autocast=self.autocast)
        return merge_evaluations(self.dist, result)

    def _calibrate(self) -> None:
        tr = self.recipe.training
        if tr.bn_calibration_batches == 0:
            return
        batches = epoch_batches(len(self.train_set), tr.batch_size, tr.seed, self.epoch)
        calibrate_batchnorm(self.model, make_loader(
            self.train_set, batches[:tr.bn_calibration_batches]), self.device)

    def _end_epoch(self, row: dict[str, Any]) -> None:
        started = time.perf_counter()
        self._calibrate()
        val = self._evaluate(self.val_set, activity=True)
        row.update(val_loss=val["loss"], val_acc=val["acc"],
                   firing_rates=firing_rates(val["activity"]))
        if self.recipe.training.test_every_epoch and self.test_set is not None:
            test = self._evaluate(self.test_set, activity=False)
            row.update(test_acc_for_reporting=test["acc"])
            if self.best_test_over_epochs is None or test["acc"] > self.best_test_over_epochs:
                self.best_test_over_epochs = test["acc"]
        row["eval_seconds"] = time.perf_counter() - started
        if _is_better(val["acc"], val["loss"], self.best):
            self.best = {"epoch": row["epoch"], "val_acc": val["acc"], "val_loss": val["loss"]}
            self._save(self.run.best)
        row["best_epoch"] = self.best["epoch"] if self.best else None
        if self.dist.main:
            self.run.append_metrics(row)
        if not self.quiet:
            print(f"epoch {row['epoch']}/{self.recipe.training.epochs}  "
                  f"train loss {row['train_loss']:.4f} acc {row['train_acc']:.4f}  "
                  f"val loss {row['val_loss']:.4f} acc {row['val_acc']:.4f}  "
                  f"lr {row['lr']:.3g}  {row['samples_per_s']:.0f} samples/s", file=sys.stderr)

    def _final_test(self) -> dict[str, Any]:
        self.dist.barrier()  # rank 0 has written best.pt
        best = load_checkpoint(self.run.best)
        load_model_state(self.model, best, network=self.network, source=self.run.best)
        # training.final_test = false (screening): the test split is never read; the activity
        # figures are then those of the validation split
        scored = self.test_set if self.test_set is not None else self.val_set
        test = self._evaluate(scored, activity=True)
        act = activity_summary(test["activity"])
        tested = self.test_set is not None
        return {
            "val_selected_test_acc": test["acc"] if tested else None,
            "best_val_acc": self.best["val_acc"],
            "best_epoch": self.best["epoch"],
            "best_test_acc_over_epochs": self.best_test_over_epochs,
            "time_steps": self.steps,
            "params": sum(p.numel() for p in self.model.parameters()),
            "sops_per_sample": act["sops_per_sample"],
            "energy_uj_per_sample": act["energy_uj_per_sample"],
            "ann_energy_uj_per_sample": act["ann_energy_uj_per_sample"],
            "train_seconds": self.train_seconds,
            "selection": "highest validation accuracy; ties: lower validation loss, then the "
                         "earlier epoch",
            "best_val_loss": self.best["val_loss"],
            "test_loss": test["loss"] if tested else None,
            "activity_split": "test" if tested else "val",
            "spikes_per_sample": act["spikes_per_sample"], "energy_ratio": act["energy_ratio"],
            "recipe": self.recipe.name, "network": self.network,
            "seed": self.recipe.training.seed, "epochs": self.epoch, "device": str(self.device),
            "sizes": self.data_info.get("sizes", {}),
        }


#: the partial sums of an epoch that add up over ranks
_COUNTS = ("loss_sum", "correct", "n")


def _empty_partial() -> dict[str, float]:
    return {"loss_sum": 0.0, "correct": 0, "n": 0, "seconds": 0.0, "data_seconds": 0.0}


def _seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    random.seed(seed)
