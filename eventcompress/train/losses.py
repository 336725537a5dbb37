"""Training losses over a network's readout (see docs/training.md for the formulas).

* ``ce``: cross-entropy of the time-averaged readout (the membrane readout's output), with
  optional label smoothing;
* ``ce-rate``: the same cross-entropy on a spiking readout's firing rate (``readout = "rate"``);
* ``mse-count``: mean squared error between the firing rate ``count / T`` of a spiking readout
  (``readout = "count"``) and the one-hot target (the PLIF paper's loss);
* ``tet``: the per-step loss of temporal efficient training, the mean over time steps of the
  cross-entropy of each step's readout ``y[t]``; the prediction stays the time average.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["LOSSES", "PerStepReadout", "compute_loss"]

LOSSES = ("ce", "ce-rate", "mse-count", "tet")


class PerStepReadout:
    """Captures the per-step class scores ``[T, N, n_classes]`` of a ``SpikingNet`` readout.

    A forward hook on ``model.readout.linear`` keeps its output, voted into classes; single-step
    networks, which fold T into the batch, are unfolded back to ``[T, N, ...]``.
    """

    def __init__(self, model: nn.Module) -> None:
        readout = getattr(model, "readout", None)
        if readout is None or not hasattr(readout, "linear"):
            raise TypeError(f"{type(model).__name__} has no readout.linear; the per-step loss "
                            "needs a SpikingNet")
        self.model = model
        self.readout = readout
        self.last: torch.Tensor | None = None
        self._handle = readout.linear.register_forward_hook(self._keep)

    def _keep(self, module: nn.Module, args: Any, output: torch.Tensor) -> None:
        self.last = output

    def take(self, steps: int, batch: int) -> torch.Tensor:
        y = self.last
        if y is None:
            raise RuntimeError("no forward pass was recorded")
        self.last = None
        y = self.readout._vote(y)
        if y.shape[0] != steps and y.shape[0] * y.shape[1] == steps * batch:
            y = y.reshape(steps, batch, -1)
        return y

    def close(self) -> None:
        self._handle.remove()


def compute_loss(name: str, output: torch.Tensor, target: torch.Tensor, *, steps: int,
                 label_smoothing: float = 0.0,
                 per_step: torch.Tensor | None = None) -> torch.Tensor:
    """The scalar training loss ``name`` of a batch (``output`` is the network's ``[N, C]``)."""
    if name in ("ce", "ce-rate"):
        return F.cross_entropy(output.float(), target, label_smoothing=label_smoothing)
    if name == "mse-count":
        one_hot = F.one_hot(target, output.shape[-1]).to(torch.float32)
        return F.mse_loss(output.float() / steps, one_hot)
    if name == "tet":
        if per_step is None:
            raise ValueError("the tet loss needs the per-step readout")
        t = per_step.shape[0]
        flat = per_step.float().reshape(t * per_step.shape[1], -1)
        return F.cross_entropy(flat, target.repeat(t), label_smoothing=label_smoothing)
    raise ValueError(f"unknown loss {name!r}; expected one of {', '.join(LOSSES)}")
