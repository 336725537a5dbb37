"""Optimisers and learning-rate schedules from a recipe's ``[optimizer]`` and ``[schedule]``.

Weight decay applies only to the weights of convolutions and linear layers. Biases, batch-norm
scales and shifts, and every neuron or synapse parameter (learnable leaks, PLIF time constants,
the SCB synaptic decay) are left undecayed: decaying them pulls leaks and thresholds towards
zero, which changes the neuron's dynamics rather than regularising the mapping.

The schedule is a per-iteration multiplier of the base learning rate (docs/training.md):
a linear warm-up over ``warmup_epochs``, then cosine decay to ``min_lr`` or step decay by
``gamma`` every ``step_size`` epochs, or a constant.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

__all__ = ["build_optimizer", "build_scheduler", "lr_factor", "parameter_groups"]


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Two groups: decayed conv/linear weights, and everything else without decay."""
    decayed: list[nn.Parameter] = []
    seen: set[int] = set()
    for module in model.modules():
        if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)):
            if module.weight.requires_grad:
                decayed.append(module.weight)
                seen.add(id(module.weight))
    rest = [p for p in model.parameters() if p.requires_grad and id(p) not in seen]
    groups = [{"params": decayed, "weight_decay": weight_decay, "name": "decay"},
              {"params": rest, "weight_decay": 0.0, "name": "no_decay"}]
    return [g for g in groups if g["params"]]


def build_optimizer(model: nn.Module, spec: Any) -> torch.optim.Optimizer:
    """Adam, AdamW or SGD with momentum over :func:`parameter_groups`."""
    groups = parameter_groups(model, spec.weight_decay)
    if spec.name == "adam":
        return torch.optim.Adam(groups, lr=spec.lr)
    if spec.name == "adamw":
        return torch.optim.AdamW(groups, lr=spec.lr)
    if spec.name == "sgd":
        return torch.optim.SGD(groups, lr=spec.lr, momentum=spec.momentum)
    raise ValueError(f"unknown optimizer {spec.name!r}")


def lr_factor(iteration: int, steps_per_epoch: int, epochs: int, schedule: Any,
              base_lr: float) -> float:
    """The multiplier of the base learning rate for the ``iteration``-th update (from 0)."""
    epoch = iteration / max(steps_per_epoch, 1)
    warmup = schedule.warmup_epochs
    if warmup and epoch < warmup:
        return (iteration + 1) / (warmup * steps_per_epoch)
    if schedule.name == "cosine":
        floor = schedule.min_lr / base_lr
        progress = min((epoch - warmup) / max(epochs - warmup, 1e-12), 1.0)
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))
    if schedule.name == "step":
        return schedule.gamma ** (int(epoch) // schedule.step_size)
    return 1.0


def build_scheduler(optimizer: torch.optim.Optimizer, schedule: Any, epochs: int,
                    steps_per_epoch: int) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` stepped once per iteration; its state is the iteration count."""
    base = optimizer.param_groups[0]["lr"]
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda it: lr_factor(it, steps_per_epoch, epochs, schedule, base))
