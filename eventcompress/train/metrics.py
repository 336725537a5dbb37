"""Evaluation: loss, accuracy, confusion matrix, activity, energy and latency of a network.

Also the batch-norm statistics pass run before every evaluation (docs/training.md, "Batch-norm
statistics"): running averages with momentum 0.1 lag the weights by many iterations in the first
epochs, so they are recomputed as the exact mean of the batch statistics of a fixed set of
training batches under the current weights.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch
from torch import nn

from .data import make_loader
from .losses import PerStepReadout, compute_loss

__all__ = ["calibrate_batchnorm", "evaluate", "make_loader", "to_model_input"]

_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def sequential_batches(n: int, batch_size: int) -> list[list[int]]:
    return [list(range(i, min(i + batch_size, n))) for i in range(0, n, batch_size)]


def to_model_input(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``[N, T, P, H, W]`` batch -> time-first ``[T, N, P, H, W]`` on ``device``."""
    return x.to(device, non_blocking=True).transpose(0, 1).contiguous()


@torch.no_grad()
def calibrate_batchnorm(model: nn.Module, batches: Iterable[Any], device: torch.device) -> int:
    """Recompute every batch norm's running mean and variance over ``batches``.

    The statistics are reset and accumulated with ``momentum=None`` (PyTorch's cumulative
    average): each running value ends as the plain mean of the per-batch statistics. Only the
    norms run in training mode; dropout stays off. Returns the number of batches seen.
    """
    norms = [m for m in model.modules() if isinstance(m, _NORMS) and m.track_running_stats]
    if not norms:
        return 0
    was_training = model.training
    saved = [m.momentum for m in norms]
    model.eval()
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
        m.train()
    seen = 0
    try:
        for x, _ in batches:
            model(to_model_input(x, device))
            seen += 1
    finally:
        for m, momentum in zip(norms, saved):
            m.momentum = momentum
        model.train(was_training)
    return seen


@torch.no_grad()
def evaluate(model: nn.Module, loader: Iterable[Any], device: torch.device, *, loss: str,
             steps: int, n_classes: int, label_smoothing: float = 0.0,
             activity: bool = False,
             autocast: Callable[[], AbstractContextManager[Any]] = nullcontext) -> dict[str, Any]:
    """Loss, accuracy and confusion matrix of ``model`` over ``loader`` (eval mode).

    With ``activity`` an ``ActivityMonitor`` is attached and the result carries its per-sample
    report under ``"activity"`` (an ``ActivityReport``).
    """
    from ..nn.energy import ActivityMonitor

    model.eval()
    per_step = PerStepReadout(model) if loss == "tet" else None
    monitor = ActivityMonitor(model) if activity else None
    confusion = torch.zeros(n_classes, n_classes, dtype=torch.int64)
    total_loss = 0.0
    n = 0
    started = time.perf_counter()
    try:
        if monitor is not None:
            monitor.__enter__()
        for x, y in loader:
            inp = to_model_input(x, device)
            y = y.to(device)
            with autocast():
                out = model(inp)
                steps_out = per_step.take(inp.shape[0], inp.shape[1]) if per_step else None
                batch_loss = compute_loss(loss, out, y, steps=steps,
                                          label_smoothing=label_smoothing, per_step=steps_out)
            total_loss += float(batch_loss) * len(y)
            n += len(y)
            pred = out.argmax(1)
            confusion += torch.bincount(y.cpu() * n_classes + pred.cpu(),
                                        minlength=n_classes * n_classes
                                        ).reshape(n_classes, n_classes)
    finally:
        if monitor is not None:
            monitor.close()
        if per_step is not None:
            per_step.close()
    seconds = time.perf_counter() - started
    correct = int(confusion.diag().sum())
    result: dict[str, Any] = {"loss": total_loss / max(n, 1), "acc": correct / max(n, 1),
                              "n": n, "confusion": confusion.tolist(), "seconds": seconds}
    if monitor is not None:
        counts = monitor.report()
        result["activity"] = counts.per_sample()
        result["activity_counts"] = counts  # summed over ranks by a distributed run
    return result


def firing_rates(report: Any) -> dict[str, float]:
    """Firing rate (fraction of non-zero outputs) of every spiking or ReLU neuron layer."""
    return {n.name: round(n.firing_rate, 6) for n in report.neurons}


def activity_summary(report: Any) -> dict[str, Any]:
    """Per-sample spikes, SOPs and energy (microjoules) of a per-sample ``ActivityReport``."""
    t = report.totals
    return {"spikes_per_sample": t["neuron_spikes"], "sops_per_sample": t["sops"],
            "macs_per_sample": t["macs"], "energy_uj_per_sample": t["energy_pj"] * 1e-6,
            "ann_energy_uj_per_sample": t["ann_energy_pj"] * 1e-6,
            "energy_ratio": t["energy_ratio"], "firing_rates": firing_rates(report)}


def per_class_accuracy(confusion: list[list[int]]) -> list[float | None]:
    out: list[float | None] = []
    for i, row in enumerate(confusion):
        total = sum(row)
        out.append(row[i] / total if total else None)
    return out
