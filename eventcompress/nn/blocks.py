"""Network blocks over time-first tensors ``[T, N, C, H, W]`` or ``[T, N, F]``.

Convolutions, batch norms and pools see the ``T * N`` frames as one batch (so batch-norm
statistics are shared over time) and the result is reshaped back to ``[T, N, ...]``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ..errors import ConfigError
from . import functional as F
from .neurons import NeuronConfig, make_neuron
from .settings import unknown_choice

__all__ = ["SCB", "ConvBNNeuron", "STCB", "SpikeMaxPool2d", "SpikeAvgPool2d", "TemporalDropout",
           "Readout", "Flatten", "LinearNeuron", "per_frame", "READOUT_MODES", "synapse_logit"]

READOUT_MODES = ("membrane", "count", "rate")


def _check_5d(x: torch.Tensor, block: str) -> None:
    if x.dim() != 5:
        raise ValueError(f"{block} expects a time-first input [T, N, C, H, W], got shape "
                         f"{tuple(x.shape)}")


def _neuron(neuron: str | NeuronConfig, neuron_kwargs: dict[str, Any] | None,
            channels: int) -> nn.Module:
    """A layer's neuron: built from a :class:`NeuronConfig` (for ``channels`` outputs) or by
    ``make_neuron(kind, **neuron_kwargs)``."""
    if isinstance(neuron, NeuronConfig):
        if neuron_kwargs:
            raise ConfigError("give the settings in the NeuronConfig, not also as neuron_kwargs",
                              key="neuron_kwargs")
        return neuron.build(channels)
    return make_neuron(neuron, **(neuron_kwargs or {}))


def synapse_logit(beta0: float) -> float:
    """``v`` with ``sigmoid(v) = beta0``: the SCB synapse's initial decay, ``0 < beta0 < 1``."""
    if not (isinstance(beta0, (int, float)) and not isinstance(beta0, bool) and 0 < beta0 < 1):
        raise ConfigError(f"the synaptic decay must lie in (0, 1), got {beta0!r}", key="beta0")
    return math.log(beta0 / (1 - beta0))


def per_frame(layer: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Apply a frame-wise ``layer`` to ``[T, N, ...]`` as one ``[T*N, ...]`` batch."""
    t, n = x.shape[:2]
    y = layer(x.reshape(t * n, *x.shape[2:]))
    return y.reshape(t, n, *y.shape[1:])


class ConvBNNeuron(nn.Module):
    """Conv2d -> BatchNorm2d (time-shared statistics) -> neuron."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3,
                 stride: int = 1, padding: int = 1, neuron: str | NeuronConfig = "mtlif",
                 neuron_kwargs: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.neuron = _neuron(neuron, neuron_kwargs, out_channels)

    def _conv_bn(self, frames: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(frames))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_5d(x, type(self).__name__)
        return self.neuron(per_frame(self._conv_bn, x))


class SCB(nn.Module):
    """Synaptic convolutional block: Conv2d -> BN -> synapse -> neuron.

    The synapse filters the normalised current per channel, ``I[t] = beta * I[t-1] + Y[t]``
    with ``I[-1] = 0`` and learnable ``beta = sigmoid(v)`` initialised at ``beta0``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3,
                 stride: int = 1, padding: int = 1, neuron: str | NeuronConfig = "mtlif",
                 neuron_kwargs: dict[str, Any] | None = None, beta0: float = 0.5) -> None:
        super().__init__()
        v0 = synapse_logit(beta0)
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.v = nn.Parameter(torch.full((out_channels,), v0))
        self.neuron = _neuron(neuron, neuron_kwargs, out_channels)

    @property
    def beta(self) -> torch.Tensor:
        """Per-channel synaptic decay ``sigmoid(v)``."""
        return torch.sigmoid(self.v)

    def _conv_bn(self, frames: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(frames))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_5d(x, type(self).__name__)
        y = per_frame(self._conv_bn, x)
        return self.neuron(F.synapse_sequence(y, self.beta))


class STCB(nn.Module):
    """Spatio-temporal conversion block: per-step Conv2d (+BN) -> IF spike train.

    The IF neuron has thresholds ``i * theta`` (i = 1..K) and soft reset. Its backward pass is
    the count-rate derivative shared by every step (:class:`functional.STCBSpike`).
    """

    is_spiking = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3,
                 stride: int = 1, padding: int = 1, theta: float = 1.0, n_thresholds: int = 1,
                 batch_norm: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding,
                              bias=not batch_norm)
        self.bn = nn.BatchNorm2d(out_channels) if batch_norm else nn.Identity()
        F.stcb_spike(torch.zeros(1, 1), theta, n_thresholds)  # validate theta and K now
        self.theta = float(theta)
        self.n_levels = int(n_thresholds)

    def _conv_bn(self, frames: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(frames))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_5d(x, type(self).__name__)
        y = per_frame(self._conv_bn, x)
        return F.stcb_spike(y, self.theta, self.n_levels)

    def extra_repr(self) -> str:
        return f"theta={self.theta:g}, n_levels={self.n_levels}"


class SpikeMaxPool2d(nn.Module):
    """Max pooling per time step; spike values in stay spike values out."""

    def __init__(self, kernel_size: int = 2, stride: int | None = None) -> None:
        super().__init__()
        self.pool = nn.MaxPool2d(kernel_size, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_5d(x, type(self).__name__)
        return per_frame(self.pool, x)


class SpikeAvgPool2d(nn.Module):
    """Average pooling per time step. The output is NOT a spike tensor (fractional values)."""

    def __init__(self, kernel_size: int = 2, stride: int | None = None) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(kernel_size, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_5d(x, type(self).__name__)
        return per_frame(self.pool, x)


class TemporalDropout(nn.Module):
    """Dropout with one mask per sample and feature, shared by all time steps.

    In training, ``y[t] = x[t] * m / (1 - p)`` with ``m ~ Bernoulli(1 - p)`` of shape
    ``x.shape[1:]``; identity in evaluation or when ``p == 0``.
    """

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        if not (0 <= p < 1):
            raise ConfigError(f"dropout probability must lie in [0, 1), got {p!r}", key="p")
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        keep = torch.empty(x.shape[1:], dtype=x.dtype, device=x.device).bernoulli_(1 - self.p)
        return x * (keep / (1 - self.p))

    def extra_repr(self) -> str:
        return f"p={self.p:g}"


class Flatten(nn.Module):
    """``[T, N, C, H, W] -> [T, N, C*H*W]`` (any ``[T, N, ...]`` to ``[T, N, F]``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(2)


class LinearNeuron(nn.Module):
    """Linear layer applied per step, then a neuron: ``[T, N, F_in] -> [T, N, F_out]``."""

    def __init__(self, in_features: int, out_features: int, neuron: str | NeuronConfig = "mtlif",
                 neuron_kwargs: dict[str, Any] | None = None, bias: bool = True) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, out_features, bias=bias)
        self.neuron = _neuron(neuron, neuron_kwargs, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.neuron(self.linear(x))


class Readout(nn.Module):
    """Classifier head ``[T, N, F] -> [N, n_classes]``.

    A linear layer per step gives ``y[t]`` (``n_classes * voters`` outputs; each class takes the
    mean of its ``voters`` consecutive outputs). Then

    * ``membrane``: a non-spiking, non-leaky integrator ``U[t] = U[t-1] + y[t]``; the output is
      ``U[T-1] / T``, the time mean of ``y``;
    * ``count``: ``y`` drives a spiking neuron (``neuron``, PLIF by default); the output is the
      spike count ``sum_t S[t]``;
    * ``rate``: the same spike count divided by T.

    ``norm`` (spiking modes only): ``y`` is batch-normalised before the neuron (statistics shared
    over time, no linear bias), so that at initialisation the neuron's input has unit scale and
    reaches the surrogate's support whatever the fan-in (the networks set it; docs/models.md).
    """

    def __init__(self, in_features: int, n_classes: int, mode: str = "membrane",
                 voters: int = 1, neuron: str | NeuronConfig = "plif",
                 neuron_kwargs: dict[str, Any] | None = None, norm: bool = False) -> None:
        super().__init__()
        if mode not in READOUT_MODES:
            raise unknown_choice("mode", mode, READOUT_MODES, "readout mode")
        if not (isinstance(voters, int) and voters >= 1):
            raise ConfigError(f"must be an integer >= 1, got {voters!r}", key="voters")
        self.mode = mode
        self.voters = voters
        self.n_classes = n_classes
        if norm and mode == "membrane":
            raise ConfigError("the membrane readout is not normalised; norm applies to the "
                              "spiking modes 'count' and 'rate'", key="norm")
        width = n_classes * voters
        self.linear = nn.Linear(in_features, width, bias=not norm)
        self.bn = nn.BatchNorm1d(width) if norm else None
        self.neuron = None if mode == "membrane" else _neuron(neuron, neuron_kwargs, width)

    def _vote(self, y: torch.Tensor) -> torch.Tensor:
        if self.voters == 1:
            return y
        return y.reshape(*y.shape[:-1], self.n_classes, self.voters).mean(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3:
            raise ValueError(f"Readout expects [T, N, F], got shape {tuple(x.shape)}")
        y = self.linear(x)
        if self.mode == "membrane":
            return self._vote(y.mean(0))
        if self.bn is not None:
            t, n = y.shape[:2]
            y = self.bn(y.reshape(t * n, -1)).reshape(t, n, -1)
        counts = self._vote(self.neuron(y)).sum(0)
        return counts if self.mode == "count" else counts / x.shape[0]

    def extra_repr(self) -> str:
        return f"mode={self.mode}, voters={self.voters}, norm={self.bn is not None}"
