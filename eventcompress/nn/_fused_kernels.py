"""Numba kernels of the fused neuron and synapse sequences (CPU, float32 / float64).

Each element of the flattened ``[T, M]`` sequence is one independent recurrence over ``t``, so
the kernels run the whole time loop per element in one pass (``prange`` over elements): the
forward writes spikes, membrane and, when the leak is trained, ``D[t] = X[t] - (V[t-1] -
V_reset)``; the backward walks the time steps in reverse. Every arithmetic step of the forward is
the operation of :func:`eventcompress.nn.functional.neuron_sequence`, in the same order and the
same precision (the constants arrive as arrays of the input's dtype, so nothing is promoted), so
spikes and membranes are bit-identical to the reference. The equations are in docs/models.md.

``consts`` = ``[v_reset, 1, p1, p2, p3]`` in the input's dtype, with the surrogate's numbers
``p1..p3`` laid out by :func:`surrogate_constants`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

RESET_CODES = {"none": 0, "soft": 1, "hard": 2}
SURROGATE_CODES = {"rect": 0, "triangle": 1, "sigmoid": 2, "atan": 3}


def surrogate_constants(kind: str, param: float) -> tuple[float, float, float]:
    """The numbers :func:`_g` uses, computed as ``surrogates.surrogate_grad`` computes them."""
    if kind == "rect":
        return (param / 2, param, 0.0)
    if kind == "triangle":
        return (param, param, 0.0)
    if kind == "sigmoid":
        return (param, 0.0, 0.0)
    return (math.pi / 2 * param, param / 2, 0.0)  # atan


@njit(cache=True, nogil=True, inline="always")
def _g(u, kind, one, p1, p2):
    """The surrogate derivative ``g(u)`` (surrogates.surrogate_grad, same operations)."""
    if kind == 0:
        return one / p2 if abs(u) < p1 else (one - one) / p2
    if kind == 1:
        return max(one - abs(u) / p1, one - one) / p2
    if kind == 2:
        s = one / (one + np.exp(-(p1 * u)))
        return p1 * s * (one - s)
    z = p1 * u
    return p2 / (one + z * z)


@njit(cache=True, nogil=True, parallel=True)
def neuron_forward(x, k, inner, channels, leaky, reset, uniform, thr, inc, consts, v0,
                   spikes, membrane, d_out, save_d, v_last):
    """Spikes, membranes (and ``D``) of ``x = [T, M]``; ``v_last`` = V[T-1] after reset."""
    steps, m_total = x.shape
    n_thr = thr.shape[0]
    v_reset = consts[0]
    one = consts[1]
    zero = one - one
    for m in prange(m_total):
        kk = k[(m // inner) % channels]
        v = v0[m]
        for t in range(steps):
            if leaky:
                d = x[t, m] - (v - v_reset)
                h = v + kk * d
                if save_d:
                    d_out[t, m] = d
            else:
                h = v + x[t, m]
            s = zero
            for i in range(n_thr):
                if h >= thr[i]:
                    s += one
            spikes[t, m] = s
            membrane[t, m] = h
            if reset == 1:
                if uniform:
                    v = h - s * inc[0]
                else:
                    amount = zero
                    for i in range(n_thr):
                        if h >= thr[i]:
                            amount = amount + inc[i]
                    v = h - amount
            elif reset == 2:
                z = one if h >= thr[0] else zero
                v = h * (one - z) + v_reset * z
            else:
                v = h
        v_last[m] = v


@njit(cache=True, nogil=True, parallel=True)
def neuron_backward(grad_s, grad_h, has_grad_h, grad_v_last, membrane, d_in, k, inner,
                    channels, leaky, reset, uniform, detach, thr, inc, consts, kind,
                    grad_x, grad_v0, grad_k_part, want_k):
    """BPTT of :func:`neuron_forward`: ``dL/dX``, ``dL/dV[-1]`` and per-element ``dL/dk``."""
    steps, m_total = grad_s.shape
    n_thr = thr.shape[0]
    v_reset = consts[0]
    one = consts[1]
    p1 = consts[2]
    p2 = consts[3]
    zero = one - one
    for m in prange(m_total):
        kk = k[(m // inner) % channels]
        gv = grad_v_last[m]
        gk = zero
        for t in range(steps - 1, -1, -1):
            h = membrane[t, m]
            sig = zero
            weighted = zero
            g_first = zero
            for i in range(n_thr):
                g = _g(h - thr[i], kind, one, p1, p2)
                sig += g
                weighted += inc[i] * g
                if i == 0:
                    g_first = g
            if reset == 1:
                if detach:
                    dv_dh = one
                elif uniform:
                    dv_dh = one - inc[0] * sig
                else:
                    dv_dh = one - weighted
            elif reset == 2:
                z = one if h >= thr[0] else zero
                dv_dh = one - z
                if not detach:
                    dv_dh += (v_reset - h) * g_first
            else:
                dv_dh = one
            gh = grad_s[t, m] * sig + gv * dv_dh
            if has_grad_h:
                gh += grad_h[t, m]
            if leaky:
                grad_x[t, m] = kk * gh
                if want_k:
                    gk += gh * d_in[t, m]
                gv = (one - kk) * gh
            else:
                grad_x[t, m] = gh
                gv = gh
        grad_v0[m] = gv
        if want_k:
            grad_k_part[m] = gk


@njit(cache=True, nogil=True, parallel=True)
def synapse_forward(y, beta, inner, channels, out):
    """``I[t] = beta * I[t-1] + Y[t]``, ``I[-1] = 0``, of ``y = [T, M]``."""
    steps, m_total = y.shape
    for m in prange(m_total):
        b = beta[(m // inner) % channels]
        current = y[0, m]
        out[0, m] = current
        for t in range(1, steps):
            current = b * current + y[t, m]
            out[t, m] = current


@njit(cache=True, nogil=True, parallel=True)
def synapse_backward(grad_out, current, beta, inner, channels, grad_y, grad_beta_part,
                     want_beta):
    """``dL/dY`` and per-element ``dL/dbeta`` of :func:`synapse_forward`."""
    steps, m_total = grad_out.shape
    for m in prange(m_total):
        b = beta[(m // inner) % channels]
        g = grad_out[steps - 1, m]
        acc = g - g
        for t in range(steps - 1, 0, -1):
            grad_y[t, m] = g
            if want_beta:
                acc += g * current[t - 1, m]
            g = grad_out[t - 1, m] + b * g
        grad_y[0, m] = g
        if want_beta:
            grad_beta_part[m] = acc
