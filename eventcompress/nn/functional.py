"""Pure, stateless neuron dynamics over time-first sequences ``[T, N, ...]``.

Every function here takes tensors and plain numbers and returns tensors; the modules in
:mod:`eventcompress.nn.neurons` and :mod:`eventcompress.nn.blocks` only hold parameters and call
these. The equations are written out in docs/models.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch

from ..errors import ConfigError
from .settings import did_you_mean
from .surrogates import Surrogate, heaviside_count, spike, surrogate_grad

__all__ = [
    "RESET_MODES",
    "NeuronOutput",
    "resolve_thresholds",
    "reset_increments",
    "lif_charge",
    "if_charge",
    "fire_and_reset",
    "neuron_step",
    "neuron_sequence",
    "mtlif_sequence",
    "if_sequence",
    "channel_view",
    "s3nn_coefficients",
    "s3nn_surrogate_grad",
    "s3nn_spike",
    "synapse_sequence",
    "if_count_sequence",
    "rate_relaxation",
    "stcb_spike",
]

RESET_MODES = ("soft", "hard", "none")


class NeuronOutput(NamedTuple):
    """Result of :func:`neuron_sequence`."""

    spikes: torch.Tensor  # [T, N, ...], values 0..K
    membrane: torch.Tensor  # [T, N, ...], H[t]: the charge compared with the thresholds
    v_last: torch.Tensor  # [N, ...], V[T-1] after reset (to continue a sequence)


def resolve_thresholds(theta: float = 1.0, n_thresholds: int = 1,
                       thresholds: str | Sequence[float] = "linear",
                       ratio: float = 2.0) -> tuple[float, ...]:
    """The K threshold values ``theta_1 < ... < theta_K``.

    ``"linear"``: ``theta_i = i * theta``; ``"geometric"``: ``theta_i = theta * ratio**(i-1)``;
    a sequence: used as given (``n_thresholds`` is then ignored).
    """
    if isinstance(thresholds, str):
        if not (isinstance(n_thresholds, int) and n_thresholds >= 1):
            raise ConfigError(f"must be an integer >= 1, got {n_thresholds!r}",
                              key="n_thresholds")
        if not (math.isfinite(theta) and theta > 0):
            raise ConfigError(f"must be a finite number > 0, got {theta!r}", key="theta")
        if thresholds == "linear":
            values = tuple(float(i * theta) for i in range(1, n_thresholds + 1))
        elif thresholds == "geometric":
            if not (math.isfinite(ratio) and ratio > 1):
                raise ConfigError(f"geometric thresholds need a ratio > 1, got {ratio!r}",
                                  key="threshold_ratio")
            values = tuple(float(theta * ratio ** i) for i in range(n_thresholds))
        else:
            raise ConfigError(f"unknown threshold scheme {thresholds!r}"
                              f"{did_you_mean(thresholds, ('linear', 'geometric'))}; expected "
                              "'linear', 'geometric' or a list of numbers", key="thresholds")
    else:
        values = tuple(float(v) for v in thresholds)
        if not values:
            raise ConfigError("the threshold list is empty", key="thresholds")
    if not all(math.isfinite(v) for v in values) or values[0] <= 0 or any(
            b <= a for a, b in zip(values, values[1:], strict=False)):
        raise ConfigError(f"thresholds must be finite, > 0 and strictly increasing, got "
                          f"{list(values)}", key="thresholds")
    return values


def reset_increments(thresholds: tuple[float, ...]) -> tuple[float, ...]:
    """``theta_i - theta_{i-1}`` with ``theta_0 = 0``: summed over crossed levels = theta_S."""
    return tuple(b - a for a, b in zip((0.0, *thresholds[:-1]), thresholds, strict=True))


def _uniform(increments: tuple[float, ...]) -> bool:
    return all(math.isclose(d, increments[0], rel_tol=1e-9) for d in increments)


def lif_charge(v: torch.Tensor, x: torch.Tensor, k: float | torch.Tensor,
               v_reset: float = 0.0) -> torch.Tensor:
    """Leaky charge ``H = V + k * (X - (V - V_reset))``."""
    return v + k * (x - (v - v_reset))


def if_charge(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Non-leaky charge ``H = V + X``."""
    return v + x


def fire_and_reset(h: torch.Tensor, thresholds: tuple[float, ...], surrogate: Surrogate, *,
                   reset: str = "soft", v_reset: float = 0.0,
                   detach_reset: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Spikes ``S = sum_i [H >= theta_i]`` and the membrane after reset.

    soft: ``V = H - theta_S`` (= ``H - S * theta`` for linear thresholds); hard:
    ``V = V_reset`` where ``S > 0``, else ``H``; none: ``V = H``.
    """
    s = spike(h, thresholds, surrogate)
    if reset == "none":
        return s, h
    if reset == "soft":
        inc = reset_increments(thresholds)
        if _uniform(inc):
            amount = s * inc[0]
        else:
            amount = spike(h, thresholds, surrogate, weights=inc)
        if detach_reset:
            amount = amount.detach()
        return s, h - amount
    if reset == "hard":
        fired = s if len(thresholds) == 1 else spike(h, thresholds[:1], surrogate)
        if detach_reset:
            fired = fired.detach()
        return s, h * (1.0 - fired) + v_reset * fired
    raise ConfigError(f"unknown reset {reset!r}; expected one of {', '.join(RESET_MODES)}",
                      key="reset")


def neuron_step(x: torch.Tensor, v: torch.Tensor, *, k: float | torch.Tensor | None,
                thresholds: tuple[float, ...], surrogate: Surrogate, reset: str = "soft",
                v_reset: float = 0.0, detach_reset: bool = False
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One time step: returns ``(S[t], V[t], H[t])``. ``k=None`` is the IF neuron."""
    h = if_charge(v, x) if k is None else lif_charge(v, x, k, v_reset)
    s, v_new = fire_and_reset(h, thresholds, surrogate, reset=reset, v_reset=v_reset,
                              detach_reset=detach_reset)
    return s, v_new, h


def channel_view(k: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Reshape a per-channel ``[C]`` tensor to broadcast over dim 2 of ``x = [T, N, C, ...]``."""
    if k.dim() == 0:
        return k
    if x.dim() < 3 or x.shape[2] != k.shape[0]:
        raise ValueError(f"per-channel parameter of size {k.shape[0]} does not match dim 2 of "
                         f"the input {tuple(x.shape)} (expected [T, N, {k.shape[0]}, ...])")
    return k.reshape(k.shape[0], *([1] * (x.dim() - 3)))


def neuron_sequence(x: torch.Tensor, *, k: float | torch.Tensor | None,
                    thresholds: tuple[float, ...], surrogate: Surrogate, reset: str = "soft",
                    v_reset: float = 0.0, detach_reset: bool = False,
                    v0: torch.Tensor | None = None) -> NeuronOutput:
    """Run a leaky (``k`` given) or IF (``k=None``) neuron over ``x = [T, N, ...]``.

    ``V[-1] = V_reset`` unless ``v0`` is given. A tensor ``k`` of shape ``[C]`` is per channel.
    CPU float32/float64 tensors run the fused kernels of :mod:`eventcompress.nn.fused` (same
    spikes and membranes, the gradients of docs/models.md); ``with fused.reference():`` runs
    this per-step autograd implementation.
    """
    if x.dim() < 2:
        raise ValueError(f"expected a time-first input [T, N, ...], got shape {tuple(x.shape)}")
    if reset not in RESET_MODES:
        raise ConfigError(f"unknown reset {reset!r}; expected one of {', '.join(RESET_MODES)}",
                          key="reset")
    from . import fused

    if fused.supports_neuron(x, k, v0):
        return NeuronOutput(*fused.neuron_sequence(
            x, k, thresholds, surrogate.kind, surrogate.param, reset, v_reset, detach_reset, v0))
    if isinstance(k, torch.Tensor):
        k = channel_view(k, x)
    v = torch.full_like(x[0], v_reset) if v0 is None else v0
    spikes, membrane = [], []
    for t in range(x.shape[0]):
        s, v, h = neuron_step(x[t], v, k=k, thresholds=thresholds, surrogate=surrogate,
                              reset=reset, v_reset=v_reset, detach_reset=detach_reset)
        spikes.append(s)
        membrane.append(h)
    return NeuronOutput(torch.stack(spikes), torch.stack(membrane), v)


def mtlif_sequence(x: torch.Tensor, k: float | torch.Tensor, thresholds: tuple[float, ...],
                   surrogate: Surrogate, **kwargs) -> NeuronOutput:
    """Multi-threshold LIF over ``[T, N, ...]`` (see :func:`neuron_sequence`)."""
    return neuron_sequence(x, k=k, thresholds=thresholds, surrogate=surrogate, **kwargs)


def if_sequence(x: torch.Tensor, thresholds: tuple[float, ...], surrogate: Surrogate,
                **kwargs) -> NeuronOutput:
    """Integrate-and-fire (no leak) over ``[T, N, ...]``."""
    return neuron_sequence(x, k=None, thresholds=thresholds, surrogate=surrogate, **kwargs)


# ---------------------------------------------------------------------------------------------
# Single-step neuron (S3NN): forward is a threshold count of X; backward is the rate derivative
# of a T-step LIF without reset driven by constant X, whose membrane is H_t = c_t X.


def s3nn_coefficients(t_equiv: int, k: float) -> tuple[float, ...]:
    """``c_t = 1 - (1 - k)**t`` for ``t = 1..T``: the reduced LIF has ``H_t = c_t * X``."""
    if not (isinstance(t_equiv, int) and t_equiv >= 1):
        raise ConfigError(f"must be an integer >= 1, got {t_equiv!r}", key="T_equiv")
    if not (0 < k <= 1):
        raise ConfigError(f"the leak k = 1/tau must lie in (0, 1], got {k!r}", key="tau0")
    return tuple(1.0 - (1.0 - k) ** t for t in range(1, t_equiv + 1))


def s3nn_surrogate_grad(x: torch.Tensor, thresholds: tuple[float, ...], kind: str,
                        param: float, t_equiv: int, k: float) -> torch.Tensor:
    """``G(X) = (1/T) sum_t c_t sum_i g(c_t X - theta_i)`` in closed form (no unrolling)."""
    grad = torch.zeros_like(x)
    for c in s3nn_coefficients(t_equiv, k):
        for theta in thresholds:
            grad = grad + c * surrogate_grad(c * x - theta, kind, param)
    return grad / t_equiv


class S3NNSpike(torch.autograd.Function):
    """Forward ``sum_i [X >= theta_i]``; backward :func:`s3nn_surrogate_grad`."""

    @staticmethod
    def forward(x, thresholds, kind, param, t_equiv, k):
        return heaviside_count(x, thresholds)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        x, ctx.thresholds, ctx.kind, ctx.param, ctx.t_equiv, ctx.k = inputs
        ctx.save_for_backward(x)

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        g = s3nn_surrogate_grad(x, ctx.thresholds, ctx.kind, ctx.param, ctx.t_equiv, ctx.k)
        return grad_out * g, None, None, None, None, None


def s3nn_spike(x: torch.Tensor, thresholds: tuple[float, ...], surrogate: Surrogate,
               t_equiv: int = 4, k: float = 0.5) -> torch.Tensor:
    """Stateless single-step spikes of ``x`` (any shape) with the S3NN surrogate."""
    s3nn_coefficients(t_equiv, k)  # validate eagerly, not at backward time
    return S3NNSpike.apply(x, tuple(thresholds), surrogate.kind, surrogate.param, t_equiv,
                           float(k))


# ---------------------------------------------------------------------------------------------
# Synapse and spatio-temporal conversion.


def synapse_sequence(y: torch.Tensor, beta: float | torch.Tensor) -> torch.Tensor:
    """First-order synapse ``I[t] = beta * I[t-1] + Y[t]``, ``I[-1] = 0``, over ``[T, N, ...]``.

    A tensor ``beta`` of shape ``[C]`` is per channel (dim 2 of ``y``).
    """
    from . import fused

    if fused.supports(y, beta) and (not isinstance(beta, torch.Tensor) or beta.dim() <= 1):
        return fused.synapse_sequence(y, beta)
    if isinstance(beta, torch.Tensor):
        beta = channel_view(beta, y)
    out = []
    current = y[0]
    out.append(current)
    for t in range(1, y.shape[0]):
        current = beta * current + y[t]
        out.append(current)
    return torch.stack(out)


def if_count_sequence(y: torch.Tensor, theta: float, n_levels: int) -> torch.Tensor:
    """IF spikes (soft reset, thresholds ``i * theta``, i = 1..K) of ``y = [T, ...]``, no grad."""
    thresholds = tuple(i * theta for i in range(1, n_levels + 1))
    v = torch.zeros_like(y[0])
    out = []
    for t in range(y.shape[0]):
        h = v + y[t]
        s = heaviside_count(h, thresholds)
        v = h - s * theta
        out.append(s)
    return torch.stack(out)


def rate_relaxation(total: torch.Tensor, theta: float, t_steps: int,
                    n_levels: int) -> torch.Tensor:
    """Continuous count ``r(s) = clip(s / theta, 0, T * K)`` of a summed input current ``s``."""
    return (total / theta).clamp(0.0, float(t_steps * n_levels))


class STCBSpike(torch.autograd.Function):
    """IF spike train forward; count-rate backward shared by every time step (docs/models.md).

    ``dL/dY[t] = mean_t'(dL/dS[t']) * r'(sum_t Y[t])`` with ``r'(s) = 1/theta`` on
    ``0 < s < T * K * theta`` and 0 elsewhere.
    """

    @staticmethod
    def forward(y, theta, n_levels):
        return if_count_sequence(y, theta, n_levels)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        y, ctx.theta, ctx.n_levels = inputs
        ctx.t_steps = y.shape[0]
        ctx.save_for_backward(y.sum(0))

    @staticmethod
    def backward(ctx, grad_out):
        (total,) = ctx.saved_tensors
        inside = (total > 0) & (total < ctx.t_steps * ctx.n_levels * ctx.theta)
        grad_total = grad_out.mean(0) * inside.to(grad_out.dtype) / ctx.theta
        return grad_total.unsqueeze(0).expand_as(grad_out).clone(), None, None


def stcb_spike(y: torch.Tensor, theta: float = 1.0, n_levels: int = 1) -> torch.Tensor:
    """Spike train of an STCB's IF neuron driven by ``y = [T, N, ...]``."""
    if not (math.isfinite(theta) and theta > 0):
        raise ConfigError(f"must be a finite number > 0, got {theta!r}", key="theta")
    if not (isinstance(n_levels, int) and n_levels >= 1):
        raise ConfigError(f"must be an integer >= 1, got {n_levels!r}", key="n_thresholds")
    return STCBSpike.apply(y, float(theta), n_levels)
