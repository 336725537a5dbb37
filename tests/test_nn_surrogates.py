"""Surrogate derivatives: forward counts, backward against the documented formulas."""

from __future__ import annotations

import math

import pytest
import torch

from eventcompress.errors import ConfigError
from eventcompress.nn.surrogates import (
    SURROGATE_KINDS,
    Surrogate,
    get_surrogate,
    spike,
    surrogate_grad,
)

# The formulas of docs/models.md, written out independently of the library (numpy-free torch).


def closed_form(kind: str, x: torch.Tensor, width: float) -> torch.Tensor:
    if kind == "rect":
        a = width
        return torch.where(x.abs() < a / 2, torch.full_like(x, 1 / a), torch.zeros_like(x))
    if kind == "triangle":
        a = width
        return torch.maximum(torch.zeros_like(x), (1 / a) * (1 - x.abs() / a))
    if kind == "sigmoid":
        alpha = 4 / width
        s = 1 / (1 + torch.exp(-alpha * x))
        return alpha * s * (1 - s)
    alpha = 2 / width
    return alpha / 2 / (1 + (math.pi / 2 * alpha * x) ** 2)


@pytest.mark.parametrize("kind", SURROGATE_KINDS)
@pytest.mark.parametrize("width", [0.5, 1.0, 2.5])
def test_backward_equals_formula_summed_over_thresholds(kind: str, width: float) -> None:
    thresholds = (0.5, 1.25, 3.0)
    # an offset grid so that no point sits exactly on a rect/triangle edge
    h = torch.linspace(-2.0, 5.0, 701, dtype=torch.float64) + 1e-4
    h.requires_grad_(True)
    s = spike(h, thresholds, get_surrogate(kind, width=width))
    (grad,) = torch.autograd.grad(s.sum(), h)
    expected = sum(closed_form(kind, h.detach() - th, width) for th in thresholds)
    torch.testing.assert_close(grad, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", SURROGATE_KINDS)
def test_forward_counts_thresholds_reached_with_heaviside_zero_equal_one(kind: str) -> None:
    h = torch.tensor([-1.0, 0.0, 0.999, 1.0, 1.5, 2.0, 2.9, 3.0, 100.0])
    s = spike(h, (1.0, 2.0, 3.0), get_surrogate(kind))
    assert s.tolist() == [0, 0, 0, 1, 1, 2, 2, 3, 3]
    assert s.dtype == h.dtype


class _SmoothStep(torch.autograd.Function):
    """Forward: the relaxed step; backward: the library's surrogate (checked by gradcheck)."""

    @staticmethod
    def forward(ctx, x, surrogate):
        ctx.save_for_backward(x)
        ctx.surrogate = surrogate
        return surrogate.primitive(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * surrogate_grad(x, ctx.surrogate.kind, ctx.surrogate.param), None


@pytest.mark.parametrize("kind", SURROGATE_KINDS)
def test_gradcheck_surrogate_is_derivative_of_its_relaxed_step(kind: str) -> None:
    surrogate = get_surrogate(kind, width=0.8)
    # points away from the kinks of rect (|x| = a/2) and triangle (x = 0, |x| = a)
    x = torch.tensor([-1.3, -0.55, -0.25, -0.1, 0.05, 0.3, 0.35, 0.6, 1.7],
                     dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: _SmoothStep.apply(v, surrogate), (x,))


@pytest.mark.parametrize("kind", SURROGATE_KINDS)
@pytest.mark.parametrize("width", [0.5, 2.0])
def test_unit_area_and_peak_one_over_width(kind: str, width: float) -> None:
    x = torch.linspace(-400.0, 400.0, 1_600_001, dtype=torch.float64)
    g = get_surrogate(kind, width=width).derivative(x)
    area = torch.trapezoid(g, x).item()
    # atan has heavy tails (mass beyond |x| = 400 ~ 2 / (pi^2 alpha 400)); rect's jumps cost the
    # trapezoid rule up to one grid step (5e-4) of error per edge
    tolerance = {"atan": 2e-3, "rect": 1e-3}.get(kind, 1e-6)
    assert area == pytest.approx(1.0, abs=tolerance)
    peak = get_surrogate(kind, width=width).derivative(torch.zeros(1, dtype=torch.float64))
    assert peak.item() == pytest.approx(1 / width, rel=1e-12)


def test_surrogate_config_alpha_width_mapping() -> None:
    assert get_surrogate("sigmoid").alpha == 4.0
    assert get_surrogate("atan").alpha == 2.0
    assert get_surrogate("atan", alpha=4.0).width == 0.5
    assert get_surrogate("sigmoid", width=0.5).param == 8.0
    assert get_surrogate("rect", width=0.25).param == 0.25
    assert get_surrogate("rect").alpha is None
    assert Surrogate("arctan") == Surrogate("atan", width=1.0, alpha=2.0)
    assert get_surrogate("triangular").kind == "triangle"
    s = get_surrogate("sigmoid", alpha=3.0)
    assert Surrogate(**{k: v for k, v in s.to_dict().items() if k not in ("type", "version")}) == s
    assert len({Surrogate("rect"), Surrogate("rect", width=1.0)}) == 1
    assert get_surrogate(s) is s


@pytest.mark.parametrize("kwargs", [
    {"kind": "gauss"}, {"kind": "rect", "width": 0.0}, {"kind": "rect", "alpha": 2.0},
    {"kind": "sigmoid", "width": 1.0, "alpha": 3.0}, {"kind": "atan", "alpha": -1.0},
    {"kind": "triangle", "width": float("inf")},
])
def test_surrogate_config_errors(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        Surrogate(**kwargs)
