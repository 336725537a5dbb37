"""Fused neuron and synapse sequences: one autograd node per layer instead of one per step.

:func:`functional.neuron_sequence` and :func:`functional.synapse_sequence` build, for every time
step, a dozen small autograd nodes (charge, spike, reset, indexing, stacking), and the backward
pass walks them all, allocating a zero tensor of the whole sequence for every ``x[t]``. Here the
whole ``T``-step recurrence is one ``torch.autograd.Function`` whose forward and backward are each
one Numba pass over the elements (:mod:`._fused_kernels`). It stores only the membranes ``H``
(and ``D = X - (V - V_reset)`` when the leak is trained) and computes the backward of
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
           "supports", "neuron_sequence", "synapse_sequence"]

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
    return all(not isinstance(p, torch.Tensor) or (p.device.type == "cpu" and p.dtype == x.dtype
                                                   and p.dim() <= 1) for p in params)


def _numba_threads() -> None:
    """Give Numba as many threads as torch has (both pools are idle while the other works)."""
    import numba

    wanted = max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS))
    if numba.get_num_threads() != wanted:
        numba.set_num_threads(wanted)


def _per_channel(p: torch.Tensor | float, x: torch.Tensor) -> tuple[np.ndarray, int, int]:
    """A layer-wide or per-channel (dim 2) parameter as ``(values, inner, channels)``: the
    element ``m`` of the flattened ``[T, M]`` sequence uses ``values[(m // inner) % channels]``."""
    if not isinstance(p, torch.Tensor):
        return np.array([p], dtype=_np_dtype(x)), 1, 1
    values = p.detach().reshape(-1).contiguous().numpy()
    if p.dim() == 0:
        return values, 1, 1
    if x.dim() < 3 or x.shape[2] != p.shape[0]:
        raise ValueError(f"per-channel parameter of size {p.shape[0]} does not match dim 2 of "
                         f"the input {tuple(x.shape)} (expected [T, N, {p.shape[0]}, ...])")
    return values, int(np.prod(x.shape[3:], dtype=np.int64)), p.shape[0]


def _np_dtype(x: torch.Tensor) -> type:
    return np.float32 if x.dtype == torch.float32 else np.float64


def _reduce(part: torch.Tensor, p: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Sum a per-element ``[M]`` gradient into ``p``'s shape (``[]`` or ``[C]``)."""
    if p.dim() == 0:
        return part.sum()
    n = x.shape[1]
    return part.reshape(n, p.shape[0], -1).sum((0, 2))


def _flat(t: torch.Tensor) -> np.ndarray:
    return t.detach().reshape(t.shape[0], -1).numpy()


class FusedNeuronSequence(torch.autograd.Function):
    """``(x, k, v0) -> (spikes, membrane, v_last)`` of the LIF (``k`` given) or IF neuron."""

    @staticmethod
    def forward(ctx, x, k, v0, thresholds, kind, param, reset, v_reset, detach_reset):
        x = x.contiguous()
        dtype = _np_dtype(x)
        k_values, inner, channels = _per_channel(1.0 if k is None else k, x)
        increments = reset_increments(thresholds)
        uniform = _uniform(increments)
        inc = np.array(increments, dtype=dtype)
        thr = np.array(thresholds, dtype=dtype)
        consts = np.array((v_reset, 1.0, *K.surrogate_constants(kind, param)), dtype=dtype)
        if v0 is None:
            v0_flat = np.full(x[0].numel(), v_reset, dtype=dtype)
        else:
            v0_flat = v0.detach().contiguous().reshape(-1).numpy()
        want_k = isinstance(k, torch.Tensor) and ctx.needs_input_grad[1]
        spikes = torch.empty_like(x)
        membrane = torch.empty_like(x)
        d = torch.empty_like(x) if want_k else x.new_empty((1, 1))
        v_last = torch.empty_like(x[0])
        _numba_threads()
        K.neuron_forward(_flat(x), k_values, inner, channels, k is not None,
                         K.RESET_CODES[reset], uniform, thr, inc, consts, v0_flat,
                         _flat(spikes), _flat(membrane), _flat(d), want_k,
                         v_last.reshape(-1).numpy())
        ctx.save_for_backward(membrane, d if want_k else None, k if want_k else None)
        ctx.setup = (k_values, inner, channels, k is not None, K.RESET_CODES[reset], uniform,
                     bool(detach_reset), thr, inc, consts, K.SURROGATE_CODES[kind], want_k,
                     v0 is not None)
        return spikes, membrane, v_last

    @staticmethod
    def backward(ctx, grad_s, grad_h, grad_v_last):
        membrane, d, k = ctx.saved_tensors
        (k_values, inner, channels, leaky, reset, uniform, detach, thr, inc, consts, kind,
         want_k, has_v0) = ctx.setup
        shape = membrane.shape
        grad_s = (torch.zeros(shape, dtype=membrane.dtype) if grad_s is None
                  else grad_s.contiguous())
        has_grad_h = grad_h is not None
        grad_h = grad_h.contiguous() if has_grad_h else grad_s
        grad_v_last = (torch.zeros(shape[1:], dtype=membrane.dtype) if grad_v_last is None
                       else grad_v_last.contiguous())
        grad_x = torch.empty(shape, dtype=membrane.dtype)
        grad_v0 = torch.empty(shape[1:], dtype=membrane.dtype)
        grad_k_part = torch.empty(grad_v0.numel() if want_k else 1, dtype=membrane.dtype)
        _numba_threads()
        K.neuron_backward(_flat(grad_s), _flat(grad_h), has_grad_h,
                          grad_v_last.reshape(-1).numpy(), _flat(membrane),
                          _flat(d) if want_k else _flat(membrane), k_values, inner, channels,
                          leaky, reset, uniform, detach, thr, inc, consts, kind,
                          _flat(grad_x), grad_v0.reshape(-1).numpy(), grad_k_part.numpy(),
                          want_k)
        grad_k = _reduce(grad_k_part, k, membrane) if want_k else None
        return (grad_x, grad_k, grad_v0 if has_v0 else None, None, None, None, None, None,
                None)


class FusedSynapseSequence(torch.autograd.Function):
    """``(y, beta) -> I`` of the first-order synapse ``I[t] = beta * I[t-1] + Y[t]``."""

    @staticmethod
    def forward(ctx, y, beta):
        y = y.contiguous()
        beta_values, inner, channels = _per_channel(beta, y)
        out = torch.empty_like(y)
        _numba_threads()
        K.synapse_forward(_flat(y), beta_values, inner, channels, _flat(out))
        want_beta = isinstance(beta, torch.Tensor) and ctx.needs_input_grad[1]
        ctx.save_for_backward(out if want_beta else None, beta if want_beta else None)
        ctx.setup = (beta_values, inner, channels, want_beta)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        current, beta = ctx.saved_tensors
        beta_values, inner, channels, want_beta = ctx.setup
        grad_out = grad_out.contiguous()
        grad_y = torch.empty_like(grad_out)
        part = torch.empty(grad_out[0].numel() if want_beta else 1, dtype=grad_out.dtype)
        _numba_threads()
        K.synapse_backward(_flat(grad_out), _flat(current) if want_beta else _flat(grad_out),
                           beta_values, inner, channels, _flat(grad_y), part.numpy(), want_beta)
        return grad_y, _reduce(part, beta, grad_out) if want_beta else None


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
