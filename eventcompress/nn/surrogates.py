"""Surrogate derivatives of the (multi-threshold) Heaviside spike function.

The forward pass of every spiking neuron counts the thresholds its membrane reaches,

    S = sum_i Heaviside(H - theta_i),   Heaviside(0) = 1  (H >= theta fires),

and the backward pass replaces the Dirac deltas of the true derivative with a surrogate
``g``: ``dS/dH = sum_i g(H - theta_i)``. Four surrogates are provided; each has unit area and a
peak height of ``1 / width``, so one ``width`` knob compares them fairly (see docs/models.md):

=========== ============================================== ===================================
kind        g(x)                                           parameter
=========== ============================================== ===================================
rect        (1/a) * [|x| < a/2]                            a = width
triangle    max(0, (1/a) * (1 - |x|/a))                    a = width
sigmoid     alpha * s * (1 - s),  s = sigmoid(alpha x)      alpha = 4 / width unless given
atan        alpha / 2 / (1 + (pi/2 * alpha * x)^2)          alpha = 2 / width unless given
=========== ============================================== ===================================
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..config import FrozenConfig
from ..errors import ConfigError
from .settings import unknown_choice

__all__ = [
    "SURROGATE_KINDS",
    "Surrogate",
    "get_surrogate",
    "surrogate_grad",
    "surrogate_primitive",
    "MultiThresholdSpike",
    "spike",
]

SURROGATE_KINDS = ("rect", "triangle", "sigmoid", "atan")
_ALIASES = {"rectangular": "rect", "triangular": "triangle", "tri": "triangle",
            "arctan": "atan"}
# alpha = _ALPHA_PER_WIDTH[kind] / width gives a peak height of exactly 1 / width.
_ALPHA_PER_WIDTH = {"sigmoid": 4.0, "atan": 2.0}


@dataclass(frozen=True)
class Surrogate(FrozenConfig):
    """A surrogate derivative: ``kind`` and its width (``alpha`` for the smooth kinds).

    ``width`` is the reciprocal of the peak height for every kind. For ``sigmoid`` and ``atan``
    the sharpness ``alpha`` may be given instead; the other field is then derived from it
    (sigmoid: alpha = 4 / width, atan: alpha = 2 / width). ``alpha`` is None for rect/triangle.
    """

    kind: str = "rect"
    width: float | None = None
    alpha: float | None = None

    def __post_init__(self) -> None:
        kind = _ALIASES.get(self.kind, self.kind)
        if kind not in SURROGATE_KINDS:
            raise unknown_choice("surrogate", self.kind, SURROGATE_KINDS, "surrogate")
        object.__setattr__(self, "kind", kind)
        width, alpha = self.width, self.alpha
        if kind in _ALPHA_PER_WIDTH:
            c = _ALPHA_PER_WIDTH[kind]
            if alpha is None:
                width = 1.0 if width is None else width
                alpha = c / float(width) if _positive(width, "surrogate_width") else None
            elif width is None:
                width = c / float(alpha) if _positive(alpha, "surrogate_alpha") else None
            elif not math.isclose(float(alpha) * float(width), c, rel_tol=1e-9):
                raise ConfigError(f"width {width!r} and alpha {alpha!r} disagree for the {kind} "
                                  f"surrogate (alpha = {c:g} / width); give only one",
                                  key="surrogate")
            object.__setattr__(self, "alpha", float(alpha))
        else:
            if alpha is not None:
                raise ConfigError(f"the {kind} surrogate has no alpha; use width",
                                  key="surrogate_alpha")
            width = 1.0 if width is None else width
            _positive(width, "surrogate_width")
        object.__setattr__(self, "width", float(width))

    @property
    def param(self) -> float:
        """The number the formula uses: ``a`` (rect, triangle) or ``alpha`` (sigmoid, atan)."""
        return float(self.alpha) if self.alpha is not None else float(self.width)

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        """``g(x)`` evaluated elementwise."""
        return surrogate_grad(x, self.kind, self.param)

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        """The smooth step whose derivative is ``g`` (0 at -inf, 1 at +inf)."""
        return surrogate_primitive(x, self.kind, self.param)


def _positive(value: float, key: str) -> bool:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ConfigError(f"must be a finite number > 0, got {value!r}", key=key)
    return True


def get_surrogate(kind: str | Surrogate = "rect", *, width: float | None = None,
                  alpha: float | None = None) -> Surrogate:
    """A :class:`Surrogate` by name (``"rect" | "triangle" | "sigmoid" | "atan"``)."""
    if isinstance(kind, Surrogate):
        if width is None and alpha is None:
            return kind
        kind = kind.kind
    return Surrogate(kind=kind, width=width, alpha=alpha)


def surrogate_grad(x: torch.Tensor, kind: str, param: float) -> torch.Tensor:
    """``g(x)`` for a surrogate ``kind`` with parameter ``param`` (a or alpha)."""
    if kind == "rect":
        return (x.abs() < param / 2).to(x.dtype) / param
    if kind == "triangle":
        return (1.0 - x.abs() / param).clamp(min=0.0) / param
    if kind == "sigmoid":
        s = torch.sigmoid(param * x)
        return param * s * (1.0 - s)
    if kind == "atan":
        return (param / 2) / (1.0 + (math.pi / 2 * param * x) ** 2)
    raise ConfigError(f"unknown surrogate {kind!r}", key="surrogate")


def surrogate_primitive(x: torch.Tensor, kind: str, param: float) -> torch.Tensor:
    """The smooth relaxation of Heaviside(x) whose derivative is ``surrogate_grad``."""
    if kind == "rect":
        return (x / param + 0.5).clamp(0.0, 1.0)
    if kind == "triangle":
        u = (x / param).clamp(-1.0, 1.0)
        return torch.where(u < 0, 0.5 * (1 + u) ** 2, 1 - 0.5 * (1 - u) ** 2)
    if kind == "sigmoid":
        return torch.sigmoid(param * x)
    if kind == "atan":
        return torch.atan(math.pi / 2 * param * x) / math.pi + 0.5
    raise ConfigError(f"unknown surrogate {kind!r}", key="surrogate")


def heaviside_count(h: torch.Tensor, thresholds: tuple[float, ...],
                    weights: tuple[float, ...] | None = None) -> torch.Tensor:
    """``sum_i w_i * [h >= theta_i]`` (w_i = 1 when ``weights`` is None), no gradient."""
    out = torch.zeros_like(h)
    for i, theta in enumerate(thresholds):
        fired = (h >= theta).to(h.dtype)
        out = out + (fired if weights is None else weights[i] * fired)
    return out


class MultiThresholdSpike(torch.autograd.Function):
    """Forward ``sum_i w_i [H >= theta_i]``; backward ``sum_i w_i g(H - theta_i)``.

    ``weights`` is None for spike counts (w_i = 1); the soft reset of non-uniform thresholds
    uses ``w_i = theta_i - theta_{i-1}`` so that the forward gives the highest threshold crossed.
    """

    @staticmethod
    def forward(h: torch.Tensor, thresholds: tuple[float, ...], kind: str, param: float,
                weights: tuple[float, ...] | None) -> torch.Tensor:
        return heaviside_count(h, thresholds, weights)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        h, thresholds, kind, param, weights = inputs
        ctx.save_for_backward(h)
        ctx.thresholds, ctx.kind, ctx.param, ctx.weights = thresholds, kind, param, weights

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        (h,) = ctx.saved_tensors
        grad = torch.zeros_like(h)
        for i, theta in enumerate(ctx.thresholds):
            g = surrogate_grad(h - theta, ctx.kind, ctx.param)
            grad = grad + (g if ctx.weights is None else ctx.weights[i] * g)
        return grad_out * grad, None, None, None, None


def spike(h: torch.Tensor, thresholds: tuple[float, ...], surrogate: Surrogate,
          weights: tuple[float, ...] | None = None) -> torch.Tensor:
    """Multi-threshold spike count of ``h`` (values 0..K) with surrogate backward."""
    return MultiThresholdSpike.apply(h, tuple(thresholds), surrogate.kind, surrogate.param,
                                     weights)
