"""Fused neuron and synapse sequences: one autograd node per layer instead of one per step.

:func:`functional.neuron_sequence` and :func:`functional.synapse_sequence` build, for every time
step, a dozen small autograd nodes (charge, spike, reset, indexing, stacking), and the backward
pass walks them all, allocating a zero tensor of the whole sequence for every ``x[t]``. Here the
whole ``T``-step recurrence is one ``torch.autograd.Function`` whose forward and backward are each
one Numba pass over the elements (:mod:`._fused_kernels`). It stores only the membranes ``H``
(plus the input and ``V[-1]`` when the leak is trained: ``D = X - (V - V_reset)`` is recomputed
from them) and computes the backward of
docs/models.md ("Fused sequences") directly: spikes and membranes are bit-identical to the
reference, gradients equal to rounding.

The fused path serves CPU tensors of float32 / float64; anything else (CUDA, half precision)
runs the reference autograd implementation, as does everything inside ``with reference():`` and
everything ``torch.compile`` traces (it fuses the reference's per-step graph itself).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import numpy as np
import torch

from . import _fused_kernels as K
from .functional import _uniform, reset_increments

__all__ = ["FusedNeuronSequence", "FusedSynapseSequence", "fused_enabled", "reference",
           "supports", "supports_neuron", "neuron_sequence", "synapse_sequence"]

_STATE = threading.local()
_DTYPES = (torch.float32, torch.float64)


def fused_enabled() -> bool:
    """Whether the fused path is on in this thread (it is, unless inside :func:`reference`)."""
    return getattr(_STATE, "enabled", True)


@contextlib.contextmanager
def reference() -> Iterator[None]:
    """Run the reference (per-step autograd) implementation inside the block."""
    previous = fused_enabled()
    _STATE.enabled = False
    try:
        yield
    finally:
        _STATE.enabled = previous


def supports(x: torch.Tensor, *params: object) -> bool:
    """Whether the fused kernels can take ``x`` (and the tensor ``params``) right now."""
    if not fused_enabled() or x.device.type != "cpu" or x.dtype not in _DTYPES or x.dim() < 2:
        return False
    if torch.compiler.is_compiling():  # Numba is opaque to dynamo: let it trace the reference
        return False
    return all(not isinstance(p, torch.Tensor) or (p.device.type == "cpu" and p.dtype == x.dtype)
               for p in params)


def supports_neuron(x: torch.Tensor, k: torch.Tensor | float | None,
                    v0: torch.Tensor | None) -> bool:
    """:func:`supports` for a neuron: a leak of shape ``[]`` or ``[C]``, ``v0`` like ``x[0]``."""
    return (supports(x, k, v0) and (not isinstance(k, torch.Tensor) or k.dim() <= 1)
            and (v0 is None or v0.shape == x.shape[1:]))


def _numba_threads() -> None:
    """Give Numba as many threads as torch has (both pools are idle while the other works)."""
    import numba

    wanted = max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS))
    if numba.get_num_threads() != wanted:
        numba.set_num_threads(wanted)


def _per_element(p: torch.Tensor | float, x: torch.Tensor) -> np.ndarray:
    """A layer-wide or per-channel (dim 2) parameter as one value per element of a sample
    (``[L]``, ``L = x[0, 0].numel()``), the layout of the kernels' ``[T, N, L]`` view."""
    width = x[0, 0].numel()
    if not isinstance(p, torch.Tensor) or p.dim() == 0:
        return np.full(width, float(p), dtype=_np_dtype(x))
    if x.dim() < 3 or x.shape[2] != p.shape[0]:
        raise ValueError(f"per-channel parameter of size {p.shape[0]} does not match dim 2 of "
                         f"the input {tuple(x.shape)} (expected [T, N, {p.shape[0]}, ...])")
    return np.repeat(p.detach().numpy(), width // p.shape[0])


def _np_dtype(x: torch.Tensor) -> type:
    return np.float32 if x.dtype == torch.float32 else np.float64


def _reduce(part: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """Sum a per-element ``[N, L]`` gradient into ``p``'s shape (``[]`` or ``[C]``)."""
    if p.dim() == 0:
        return part.sum()
    return part.reshape(part.shape[0], p.shape[0], -1).sum((0, 2))


def _view(t: torch.Tensor) -> np.ndarray:
    """The kernels' ``[T, N, L]`` NumPy view of a contiguous ``[T, N, ...]`` tensor."""
    return t.detach().reshape(t.shape[0], t.shape[1], -1).numpy()


def _rows(t: torch.Tensor) -> np.ndarray:
    """The ``[N, L]`` NumPy view of a contiguous ``[N, ...]`` tensor."""
    return t.detach().reshape(t.shape[0], -1).numpy()


class FusedNeuronSequence(torch.autograd.Function):
    """``(x, k, v0) -> (spikes, membrane, v_last)`` of the LIF (``k`` given) or IF neuron."""

    @staticmethod
    def forward(ctx, x, k, v0, thresholds, kind, param, reset, v_reset, detach_reset):
        x = x.contiguous()
        dtype = _np_dtype(x)
        k_row = _per_element(1.0 if k is None else k, x)
        increments = reset_increments(thresholds)
        inc = np.array(increments, dtype=dtype)
        thr = np.array(thresholds, dtype=dtype)
        consts = np.array((v_reset, 1.0, *K.surrogate_constants(kind, param)), dtype=dtype)
        v_start = (torch.full_like(x[0], v_reset) if v0 is None
                   else v0.detach().to(x.dtype).contiguous())
        v_last = v_start.clone()
        want_k = isinstance(k, torch.Tensor) and ctx.needs_input_grad[1]
        spikes = torch.empty_like(x)
        membrane = torch.empty_like(x)
        _numba_threads()
        K.neuron_forward(_view(x), k_row, k is not None, K.RESET_CODES[reset],
                         _uniform(increments), thr, inc, consts, _rows(v_last), _view(spikes),
                         _view(membrane))
        # D = X - (V[t-1] - V_reset) for the leak's gradient is recomputed from x and H
        ctx.save_for_backward(membrane, *((x, v_start, k) if want_k else (None, None, None)))
        ctx.setup = (k_row, k is not None, K.RESET_CODES[reset], _uniform(increments),
                     bool(detach_reset), thr, inc, consts, K.SURROGATE_CODES[kind], want_k,
                     v0 is not None)
        return spikes, membrane, v_last

    @staticmethod
    def backward(ctx, grad_s, grad_h, grad_v_last):
        membrane, x, v_start, k = ctx.saved_tensors
        (k_row, leaky, reset, uniform, detach, thr, inc, consts, kind, want_k,
         has_v0) = ctx.setup
        shape, dtype = membrane.shape, membrane.dtype
        grad_s = torch.zeros_like(membrane) if grad_s is None else grad_s.contiguous()
        has_grad_h = grad_h is not None
        grad_h = grad_h.contiguous() if has_grad_h else grad_s
        grad_v = (torch.zeros(shape[1:], dtype=dtype) if grad_v_last is None
                  else grad_v_last.contiguous().clone())  # becomes dL/dV[-1]
        grad_x = torch.empty(shape, dtype=dtype)
        grad_k_part = torch.empty(shape[1:] if want_k else (1, 1), dtype=dtype)
        _numba_threads()
        K.neuron_backward(_view(grad_s), _view(grad_h), has_grad_h, _rows(grad_v),
                          _view(membrane), _view(x if want_k else membrane),
                          _rows(v_start if want_k else grad_v), k_row, leaky, reset, uniform,
                          detach, thr, inc, consts, kind, _view(grad_x), _rows(grad_k_part),
                          want_k)
        grad_k = _reduce(grad_k_part, k) if want_k else None
        return (grad_x, grad_k, grad_v if has_v0 else None, None, None, None, None, None, None)


class FusedSynapseSequence(torch.autograd.Function):
    """``(y, beta) -> I`` of the first-order synapse ``I[t] = beta * I[t-1] + Y[t]``."""

    @staticmethod
    def forward(ctx, y, beta):
        y = y.contiguous()
        beta_row = _per_element(beta, y)
        out = torch.empty_like(y)
        _numba_threads()
        K.synapse_forward(_view(y), beta_row, _view(out))
        want_beta = isinstance(beta, torch.Tensor) and ctx.needs_input_grad[1]
        ctx.save_for_backward(out if want_beta else None, beta if want_beta else None)
        ctx.setup = (beta_row, want_beta)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        current, beta = ctx.saved_tensors
        beta_row, want_beta = ctx.setup
        grad_out = grad_out.contiguous()
        grad_y = torch.empty_like(grad_out)
        part = torch.empty(grad_out.shape[1:] if want_beta else (1, 1), dtype=grad_out.dtype)
        _numba_threads()
        K.synapse_backward(_view(grad_out), _view(current if want_beta else grad_out),
                           beta_row, _view(grad_y), _rows(part), want_beta)
        return grad_y, _reduce(part, beta) if want_beta else None


def neuron_sequence(x: torch.Tensor, k: torch.Tensor | float | None,
                    thresholds: tuple[float, ...], kind: str, param: float, reset: str,
                    v_reset: float, detach_reset: bool, v0: torch.Tensor | None
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(spikes, membrane, v_last)`` by :class:`FusedNeuronSequence` (``supports`` holds)."""
    if k is not None and not isinstance(k, torch.Tensor):
        k = torch.tensor(float(k), dtype=x.dtype)
    return FusedNeuronSequence.apply(x, k, v0, tuple(float(t) for t in thresholds), kind,
                                     float(param), reset, float(v_reset), bool(detach_reset))


def synapse_sequence(y: torch.Tensor, beta: torch.Tensor | float) -> torch.Tensor:
    """The synapse's currents by :class:`FusedSynapseSequence` (``supports`` holds)."""
    return FusedSynapseSequence.apply(y, beta)
