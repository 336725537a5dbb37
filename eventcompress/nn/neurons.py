"""Neuron modules over time-first sequences ``[T, N, ...]`` and the :func:`make_neuron` factory.

The modules are stateless across calls: every ``forward`` starts from ``V[-1] = V_reset`` and
runs the whole sequence, so no ``reset_state`` bookkeeping is needed between samples
(``reset_state`` exists as a no-op for code written against stateful libraries).
Every module carries ``is_spiking`` and ``n_levels`` (K, the largest spike value; None for ReLU)
for the energy accounting.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from ..config import FrozenConfig
from ..errors import ConfigError
from . import functional as F
from .settings import check_field_types, did_you_mean, unknown_choice
from .surrogates import Surrogate, get_surrogate

__all__ = ["NEURON_KINDS", "NEURON_SETTINGS", "SpikingNeuron", "MTLIF", "LIF", "PLIF", "IFNeuron",
           "NeuronConfig", "S3NNNeuron", "ReLUNeuron", "make_neuron", "neuron_keywords",
           "s3nn_leak", "tau_to_logit"]

NEURON_KINDS = ("mtlif", "lif", "plif", "if", "s3nn", "relu")


def tau_to_logit(tau0: float) -> float:
    """``w`` with ``sigmoid(w) = 1 / tau0`` (PLIF initialisation): ``w = -log(tau0 - 1)``."""
    if not (math.isfinite(tau0) and tau0 > 1):
        raise ConfigError(f"the membrane time constant must be a finite number > 1, got "
                          f"{tau0!r}", key="tau0")
    return -math.log(tau0 - 1.0)


def s3nn_leak(tau0: float) -> float:
    """The S3NN neuron's fixed leak ``k = 1 / tau0`` (``tau0 >= 1``)."""
    if not (math.isfinite(tau0) and tau0 >= 1):
        raise ConfigError(f"must be a finite number >= 1, got {tau0!r}", key="tau0")
    return 1.0 / float(tau0)


def _surrogate(surrogate: str | Surrogate, width: float | None,
               alpha: float | None) -> Surrogate:
    if isinstance(surrogate, Surrogate):
        return surrogate
    return get_surrogate(surrogate, width=None if alpha is not None else width, alpha=alpha)


class SpikingNeuron(nn.Module):
    """Common state of the threshold neurons: thresholds, surrogate and reset."""

    is_spiking = True

    def __init__(self, thresholds: tuple[float, ...], surrogate: Surrogate, reset: str,
                 v_reset: float, detach_reset: bool) -> None:
        super().__init__()
        if reset not in F.RESET_MODES:
            raise ConfigError(f"unknown reset {reset!r}; expected one of "
                              f"{', '.join(F.RESET_MODES)}", key="reset")
        self.thresholds = tuple(thresholds)
        self.surrogate = surrogate
        self.reset = reset
        self.v_reset = float(v_reset)
        self.detach_reset = bool(detach_reset)

    @property
    def n_levels(self) -> int:
        """K: the number of thresholds, i.e. the largest value a spike can take."""
        return len(self.thresholds)

    def reset_state(self) -> None:
        """No-op: the modules keep no state between calls."""

    def leak(self) -> torch.Tensor | None:
        """The leak ``k`` (a tensor), or None for a non-leaky neuron."""
        return None

    def forward(self, x: torch.Tensor, return_state: bool = False):
        """Spikes ``[T, N, ...]`` of ``x = [T, N, ...]``; with ``return_state`` also ``H``."""
        out = F.neuron_sequence(x, k=self.leak(), thresholds=self.thresholds,
                                surrogate=self.surrogate, reset=self.reset,
                                v_reset=self.v_reset, detach_reset=self.detach_reset)
        return (out.spikes, out.membrane) if return_state else out.spikes

    def extra_repr(self) -> str:
        return (f"thresholds={list(self.thresholds)}, surrogate={self.surrogate.kind}"
                f"(width={self.surrogate.width:g}), reset={self.reset}, v_reset={self.v_reset:g}"
                f"{', detach_reset=True' if self.detach_reset else ''}")


class MTLIF(SpikingNeuron):
    """Multi-threshold LIF: ``H = V + k (X - (V - V_reset))``, ``k = sigmoid(w)``.

    ``k`` is learnable (``learnable=True``) and shared by the layer, or one per channel with
    ``per_channel=C`` (broadcast over dim 2 of ``[T, N, C, ...]``); ``w`` starts at
    ``-log(tau0 - 1)`` so that ``k = 1 / tau0``. Output ``S = sum_i [H >= theta_i]`` in 0..K.
    """

    def __init__(self, n_thresholds: int = 1, theta: float = 1.0,
                 thresholds: str | Sequence[float] = "linear", threshold_ratio: float = 2.0,
                 tau0: float = 2.0, learnable: bool = True, per_channel: int | None = None,
                 surrogate: str | Surrogate = "rect", surrogate_width: float = 1.0,
                 surrogate_alpha: float | None = None, reset: str = "soft",
                 v_reset: float = 0.0, detach_reset: bool = False) -> None:
        super().__init__(F.resolve_thresholds(theta, n_thresholds, thresholds, threshold_ratio),
                         _surrogate(surrogate, surrogate_width, surrogate_alpha), reset,
                         v_reset, detach_reset)
        if per_channel is not None and not (isinstance(per_channel, int) and per_channel >= 1):
            raise ConfigError(f"must be None or a channel count >= 1, got {per_channel!r}",
                              key="per_channel")
        w = torch.full((per_channel,) if per_channel else (), tau_to_logit(tau0))
        self.tau0 = float(tau0)
        self.learnable = bool(learnable)
        if learnable:
            self.w = nn.Parameter(w)
        else:
            self.register_buffer("w", w)

    def leak(self) -> torch.Tensor:
        return torch.sigmoid(self.w)

    @property
    def k(self) -> torch.Tensor:
        """The current leak ``k = sigmoid(w)`` (``1 / tau``)."""
        return self.leak()

    def extra_repr(self) -> str:
        shape = "layer" if self.w.dim() == 0 else f"{self.w.shape[0]} channels"
        return (f"tau0={self.tau0:g}, learnable={self.learnable} ({shape}), "
                + super().extra_repr())


class _OneThresholdLIF(MTLIF):
    """MT-LIF with K = 1; subclasses fix whether the leak learns."""

    learnable_leak: ClassVar[bool] = True

    def __init__(self, theta: float = 1.0, tau0: float = 2.0, per_channel: int | None = None,
                 surrogate: str | Surrogate = "rect", surrogate_width: float = 1.0,
                 surrogate_alpha: float | None = None, reset: str = "soft",
                 v_reset: float = 0.0, detach_reset: bool = False) -> None:
        super().__init__(n_thresholds=1, theta=theta, tau0=tau0, learnable=self.learnable_leak,
                         per_channel=per_channel, surrogate=surrogate,
                         surrogate_width=surrogate_width, surrogate_alpha=surrogate_alpha,
                         reset=reset, v_reset=v_reset, detach_reset=detach_reset)


class LIF(_OneThresholdLIF):
    """LIF baseline: fixed ``k = 1 / tau0``, one threshold."""

    learnable_leak = False


class PLIF(_OneThresholdLIF):
    """PLIF baseline: learnable ``k = sigmoid(w)`` initialised at ``1 / tau0``, one threshold."""

    learnable_leak = True


class IFNeuron(SpikingNeuron):
    """Integrate-and-fire, no leak: ``H = V + X``; K thresholds like MT-LIF."""

    def __init__(self, n_thresholds: int = 1, theta: float = 1.0,
                 thresholds: str | Sequence[float] = "linear", threshold_ratio: float = 2.0,
                 surrogate: str | Surrogate = "rect", surrogate_width: float = 1.0,
                 surrogate_alpha: float | None = None, reset: str = "soft",
                 v_reset: float = 0.0, detach_reset: bool = False) -> None:
        super().__init__(F.resolve_thresholds(theta, n_thresholds, thresholds, threshold_ratio),
                         _surrogate(surrogate, surrogate_width, surrogate_alpha), reset,
                         v_reset, detach_reset)


class S3NNNeuron(nn.Module):
    """Single-step neuron: ``S = sum_i [X >= theta_i]`` per element, no temporal state.

    The backward pass is the rate derivative of a ``T_equiv``-step LIF (leak ``k = 1/tau0``)
    driven by the constant input X (docs/models.md). Works on any ``[T, N, ...]``, usually T=1.
    """

    is_spiking = True

    def __init__(self, n_thresholds: int = 1, theta: float = 1.0,
                 thresholds: str | Sequence[float] = "linear", threshold_ratio: float = 2.0,
                 tau0: float = 2.0, T_equiv: int = 4, surrogate: str | Surrogate = "rect",  # noqa: N803
                 surrogate_width: float = 1.0, surrogate_alpha: float | None = None) -> None:
        super().__init__()
        self.k = s3nn_leak(tau0)
        self.thresholds = F.resolve_thresholds(theta, n_thresholds, thresholds, threshold_ratio)
        self.surrogate = _surrogate(surrogate, surrogate_width, surrogate_alpha)
        self.T_equiv = T_equiv
        F.s3nn_coefficients(T_equiv, self.k)

    @property
    def n_levels(self) -> int:
        return len(self.thresholds)

    def reset_state(self) -> None:
        """No-op: the neuron has no state."""

    def forward(self, x: torch.Tensor, return_state: bool = False):
        s = F.s3nn_spike(x, self.thresholds, self.surrogate, self.T_equiv, self.k)
        return (s, x) if return_state else s

    def extra_repr(self) -> str:
        return (f"thresholds={list(self.thresholds)}, T_equiv={self.T_equiv}, k={self.k:g}, "
                f"surrogate={self.surrogate.kind}(width={self.surrogate.width:g})")


class ReLUNeuron(nn.Module):
    """Stateless ReLU over ``[T, N, ...]``: the ANN baseline of the same network."""

    is_spiking = False
    n_levels = None

    def reset_state(self) -> None:
        """No-op."""

    def forward(self, x: torch.Tensor, return_state: bool = False):
        y = torch.relu(x)
        return (y, x) if return_state else y


_CLASSES: dict[str, type[nn.Module]] = {"mtlif": MTLIF, "lif": LIF, "plif": PLIF,
                                         "if": IFNeuron, "s3nn": S3NNNeuron, "relu": ReLUNeuron}
assert tuple(_CLASSES) == NEURON_KINDS
_LEAKY = ("mtlif", "lif", "plif")  # their tau0 initialises a leak logit (tau_to_logit)


@dataclass(frozen=True)
class NeuronConfig(FrozenConfig):
    """Every neuron setting of a network: the one record from which its neurons are built.

    ``kind`` is one of :data:`NEURON_KINDS`; each kind takes the settings its class's signature
    names (:func:`neuron_keywords`) and ignores the others, so one record serves every layer
    (and every variant). The values are checked here, by the functions the neurons use, so a
    bad setting fails when the record is made, naming the field. ``per_channel`` asks for one
    leak per channel: :meth:`build` is given the layer's channel count.
    """

    kind: str = "mtlif"
    n_thresholds: int = 1
    theta: float = 1.0
    thresholds: str | tuple[float, ...] = "linear"  # "linear", "geometric" or the values
    threshold_ratio: float = 2.0
    tau0: float = 2.0
    surrogate: str = "rect"
    surrogate_width: float = 1.0
    surrogate_alpha: float | None = None
    reset: str = "soft"
    v_reset: float = 0.0
    detach_reset: bool = False
    per_channel: bool = False
    T_equiv: int = 4

    def __post_init__(self) -> None:
        check_field_types(self)
        if self.kind not in _CLASSES:
            raise unknown_choice("neuron", self.kind, NEURON_KINDS, "neuron")
        if self.thresholds == ():
            raise ConfigError("expected 'linear', 'geometric' or a non-empty array of numbers "
                              "like [0.5, 1.0, 2.0], got []", key="thresholds")
        F.resolve_thresholds(self.theta, self.n_thresholds, self.thresholds,
                             self.threshold_ratio)
        _surrogate(self.surrogate, self.surrogate_width, self.surrogate_alpha)
        if self.reset not in F.RESET_MODES:
            raise unknown_choice("reset", self.reset, F.RESET_MODES, "reset")
        F.s3nn_coefficients(self.T_equiv, 1.0)  # T_equiv >= 1 whatever the kind
        if self.kind in _LEAKY:
            tau_to_logit(self.tau0)
        elif self.kind == "s3nn":
            F.s3nn_coefficients(self.T_equiv, s3nn_leak(self.tau0))

    @property
    def kwargs(self) -> dict[str, Any]:
        """The settings ``kind`` takes, as keyword arguments of its class (no ``per_channel``)."""
        used = neuron_keywords(self.kind) & NEURON_SETTINGS
        return {name: getattr(self, name) for name in sorted(used - {"per_channel"})}

    def build(self, channels: int | None = None) -> nn.Module:
        """A neuron module; ``channels`` (the layer's width) is used when ``per_channel``."""
        kwargs = self.kwargs
        if self.per_channel and "per_channel" in neuron_keywords(self.kind):
            kwargs["per_channel"] = channels
        return _CLASSES[self.kind](**kwargs)


#: The settings of :class:`NeuronConfig` (every field but ``kind``).
NEURON_SETTINGS = frozenset(f.name for f in dataclasses.fields(NeuronConfig)) - {"kind"}


@functools.cache
def _signature_keywords(cls: type) -> frozenset[str]:
    params = inspect.signature(cls.__init__).parameters.values()
    return frozenset(p.name for p in params if p.name != "self" and p.kind in (
        p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))


def neuron_keywords(kind: str) -> frozenset[str]:
    """The keywords neuron ``kind`` takes: those of its class's signature."""
    if kind not in _CLASSES:
        raise unknown_choice("neuron", kind, NEURON_KINDS, "neuron")
    return _signature_keywords(_CLASSES[kind])


def make_neuron(kind: str, **kwargs: Any) -> nn.Module:
    """A neuron module by kind (one of :data:`NEURON_KINDS`).

    Every :class:`NeuronConfig` setting is accepted by every kind and ignored where it means
    nothing (e.g. ``n_thresholds`` for the K=1 baselines ``lif``/``plif``, ``tau0`` for ``if``);
    other keywords must belong to the kind's class (``learnable`` for ``mtlif``), otherwise
    :class:`ConfigError` names the offender. ``per_channel`` is the channel count here (or None).
    """
    accepted = neuron_keywords(kind)
    unknown = sorted(set(kwargs) - accepted - NEURON_SETTINGS)
    if unknown:
        hint = did_you_mean(unknown[0], sorted(accepted | NEURON_SETTINGS))
        raise ConfigError(f"neuron {kind!r} does not take {', '.join(unknown)}{hint}; it takes "
                          f"{', '.join(sorted(accepted | NEURON_SETTINGS))}", key="neuron_kwargs")
    used = {name: value for name, value in kwargs.items() if name in accepted}
    if "per_channel" in used and used["per_channel"] is None:
        del used["per_channel"]
    return _CLASSES[kind](**used)
