"""Numba kernels of the fused neuron and synapse sequences (CPU, float32 / float64).

Each element of the flattened ``[T, M]`` sequence is one independent recurrence over ``t``, so
the kernels run the whole time loop per element in one pass (``prange`` over elements): the
forward writes spikes and membranes; the backward walks the time steps in reverse. Every arithmetic step of the forward is
the operation of :func:`eventcompress.nn.functional.neuron_sequence`, in the same order and the
same precision (the constants arrive as arrays of the input's dtype, so nothing is promoted), so
spikes and membranes are bit-identical to the reference; the backward recomputes ``V[t-1]``
from the stored ``H[t-1]`` with the same operations rather than storing it. The equations are in docs/models.md.

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
        return (param / 2, param, 1.0 / param)
    if kind == "triangle":
        return (param, param, 0.0)
    if kind == "sigmoid":
        return (param, 0.0, 0.0)
    return (math.pi / 2 * param, param / 2, 0.0)  # atan


@njit(cache=True, nogil=True, inline="always")
def _g(u, kind, one, p1, p2, p3):
    """The surrogate derivative ``g(u)`` (surrogates.surrogate_grad, same operations)."""
    if kind == 0:
        return p3 if abs(u) < p1 else one - one
    if kind == 1:
        return max(one - abs(u) / p1, one - one) / p2
    if kind == 2:
        s = one / (one + np.exp(-(p1 * u)))
        return p1 * s * (one - s)
    z = p1 * u
    return p2 / (one + z * z)


@njit(cache=True, nogil=True, inline="always")
def _count(h, thr, one, zero):
    """``S = sum_i [h >= theta_i]``."""
    s = zero
    for i in range(thr.shape[0]):
        s += one if h >= thr[i] else zero
    return s


@njit(cache=True, nogil=True, inline="always")
def _after_reset(h, s, reset, uniform, thr, inc, v_reset, one, zero):
    """``V`` after the reset of the charge ``h`` that fired ``s`` (functional.fire_and_reset)."""
    if reset == 1:
        if uniform:
            return h - s * inc[0]
        amount = zero
        for i in range(thr.shape[0]):
            amount = amount + (inc[i] if h >= thr[i] else zero)
        return h - amount
    if reset == 2:
        z = one if h >= thr[0] else zero
        return h * (one - z) + v_reset * z
    return h


@njit(cache=True, nogil=True, parallel=True)
def neuron_forward(x, k, leaky, reset, uniform, thr, inc, consts, v, spikes, membrane):
    """Spikes and membranes of ``x = [T, N, L]``; ``v`` ``[N, L]`` holds ``V[-1]`` on entry and
    ``V[T-1]`` on return; ``k`` ``[L]`` is the leak of each element of a sample."""
    steps, rows, width = x.shape
    v_reset = consts[0]
    one = consts[1]
    zero = one - one
    for n in prange(rows):
        vr = v[n]
        for t in range(steps):
            xr = x[t, n]
            sr = spikes[t, n]
            hr = membrane[t, n]
            for j in range(width):
                vj = vr[j]
                if leaky:
                    h = vj + k[j] * (xr[j] - (vj - v_reset))
                else:
                    h = vj + xr[j]
                s = _count(h, thr, one, zero)
                sr[j] = s
                hr[j] = h
                vr[j] = _after_reset(h, s, reset, uniform, thr, inc, v_reset, one, zero)


@njit(cache=True, nogil=True, parallel=True)
def neuron_backward(grad_s, grad_h, has_grad_h, gv, membrane, x, v0, k, leaky, reset, uniform,
                    detach, thr, inc, consts, kind, grad_x, grad_k_part, want_k):
    """BPTT of :func:`neuron_forward` over ``[T, N, L]``: ``gv`` ``[N, L]`` holds ``dL/dV[T-1]``
    on entry and ``dL/dV[-1]`` on return; ``grad_k_part`` ``[N, L]`` gets ``dL/dk`` per element,
    from ``D = X - (V[t-1] - V_reset)`` with ``V[t-1]`` recomputed from ``H[t-1]`` (or ``v0``)."""
    steps, rows, width = grad_s.shape
    n_thr = thr.shape[0]
    v_reset = consts[0]
    one = consts[1]
    p1 = consts[2]
    p2 = consts[3]
    p3 = consts[4]
    zero = one - one
    inc0 = inc[0]
    for n in prange(rows):
        gvr = gv[n]
        gkr = grad_k_part[n] if want_k else grad_k_part[0]
        if want_k:
            gkr[:] = zero
        for t in range(steps - 1, -1, -1):
            hr = membrane[t, n]
            hprev = membrane[t - 1, n] if t > 0 else membrane[t, n]
            gsr = grad_s[t, n]
            ghr = grad_h[t, n]
            gxr = grad_x[t, n]
            xr = x[t, n] if want_k else x[0, 0]
            for j in range(width):
                h = hr[j]
                sig = zero
                weighted = zero
                g_first = zero
                for i in range(n_thr):
                    g = _g(h - thr[i], kind, one, p1, p2, p3)
                    sig += g
                    weighted += inc[i] * g
                    if i == 0:
                        g_first = g
                if reset == 1:
                    if detach:
                        dv_dh = one
                    elif uniform:
                        dv_dh = one - inc0 * sig
                    else:
                        dv_dh = one - weighted
                elif reset == 2:
                    z = one if h >= thr[0] else zero
                    dv_dh = one - z
                    if not detach:
                        dv_dh += (v_reset - h) * g_first
                else:
                    dv_dh = one
                gh = gsr[j] * sig + gvr[j] * dv_dh
                if has_grad_h:
                    gh += ghr[j]
                if leaky:
                    kk = k[j]
                    gxr[j] = kk * gh
                    if want_k:
                        if t > 0:
                            hp = hprev[j]
                            vp = _after_reset(hp, _count(hp, thr, one, zero), reset, uniform,
                                              thr, inc, v_reset, one, zero)
                        else:
                            vp = v0[n, j]
                        gkr[j] += gh * (xr[j] - (vp - v_reset))
                    gvr[j] = (one - kk) * gh
                else:
                    gxr[j] = gh
                    gvr[j] = gh


@njit(cache=True, nogil=True, parallel=True)
def synapse_forward(y, beta, out):
    """``I[t] = beta * I[t-1] + Y[t]``, ``I[-1] = 0``, of ``y = [T, N, L]``, ``beta`` ``[L]``."""
    steps, rows, width = y.shape
    for n in prange(rows):
        out[0, n] = y[0, n]
        for t in range(1, steps):
            prev = out[t - 1, n]
            yr = y[t, n]
            orow = out[t, n]
            for j in range(width):
                orow[j] = beta[j] * prev[j] + yr[j]


@njit(cache=True, nogil=True, parallel=True)
def synapse_backward(grad_out, current, beta, grad_y, grad_beta_part, want_beta):
    """``dL/dY`` and per-element ``dL/dbeta`` (``[N, L]``) of :func:`synapse_forward`."""
    steps, rows, width = grad_out.shape
    for n in prange(rows):
        grad_y[steps - 1, n] = grad_out[steps - 1, n]
        acc = grad_beta_part[n] if want_beta else grad_beta_part[0]
        if want_beta:
            acc[:] = grad_out[0, 0, 0] - grad_out[0, 0, 0]
        for t in range(steps - 1, 0, -1):
            g = grad_y[t, n]
            cur = current[t - 1, n]
            go = grad_out[t - 1, n]
            gy = grad_y[t - 1, n]
            for j in range(width):
                if want_beta:
                    acc[j] += g[j] * cur[j]
                gy[j] = go[j] + beta[j] * g[j]
