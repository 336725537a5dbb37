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
    ``V[T-1]`` on return; ``k`` ``[L]`` is the leak of each element of a sample. Each stage is
    its own loop over the row, so that the compiler vectorises it."""
    steps, rows, width = x.shape
    v_reset = consts[0]
    one = consts[1]
    zero = one - one
    inc0 = inc[0]
    for n in prange(rows):
        vr = v[n]
        for t in range(steps):
            xr = x[t, n]
            sr = spikes[t, n]
            hr = membrane[t, n]
            if leaky:
                for j in range(width):
                    hr[j] = vr[j] + k[j] * (xr[j] - (vr[j] - v_reset))
            else:
                for j in range(width):
                    hr[j] = vr[j] + xr[j]
            sr[:] = zero
            for i in range(thr.shape[0]):
                th = thr[i]
                for j in range(width):
                    sr[j] += one if hr[j] >= th else zero
            if reset == 1 and uniform:
                for j in range(width):
                    vr[j] = hr[j] - sr[j] * inc0
            elif reset == 1:
                vr[:] = zero  # the amount theta_S, then V = H - theta_S
                for i in range(thr.shape[0]):
                    th = thr[i]
                    w = inc[i]
                    for j in range(width):
                        vr[j] = vr[j] + (w if hr[j] >= th else zero)
                for j in range(width):
                    vr[j] = hr[j] - vr[j]
            elif reset == 2:
                th = thr[0]
                for j in range(width):
                    z = one if hr[j] >= th else zero
                    vr[j] = hr[j] * (one - z) + v_reset * z
            else:
                vr[:] = hr


@njit(cache=True, nogil=True, parallel=True)
def neuron_backward(grad_s, grad_h, has_grad_h, gv, membrane, x, v0, k, leaky, reset, uniform,
                    detach, thr, inc, consts, kind, grad_x, grad_k_part, want_k):
    """BPTT of :func:`neuron_forward` over ``[T, N, L]``: ``gv`` ``[N, L]`` holds ``dL/dV[T-1]``
    on entry and ``dL/dV[-1]`` on return; ``grad_k_part`` ``[N, L]`` gets ``dL/dk`` per element,
    from ``D = X - (V[t-1] - V_reset)`` with ``V[t-1]`` recomputed from ``H[t-1]`` (or ``v0``).
    Stages in separate loops over the row, as in the forward."""
    steps, rows, width = grad_s.shape
    n_thr = thr.shape[0]
    v_reset, one, p1, p2, p3 = consts[0], consts[1], consts[2], consts[3], consts[4]
    zero = one - one
    inc0 = inc[0]
    for n in prange(rows):
        gvr = gv[n]
        gkr = grad_k_part[n] if want_k else grad_k_part[0]
        if want_k:
            gkr[:] = zero
        sig = np.empty(width, dtype=membrane.dtype)
        dvdh = np.empty(width, dtype=membrane.dtype)
        for t in range(steps - 1, -1, -1):
            hr = membrane[t, n]
            gsr = grad_s[t, n]
            ghr = grad_h[t, n]
            gxr = grad_x[t, n]
            # sigma = sum_i g_i, and dV/dH of the non-uniform soft reset, one loop per level
            sig[:] = zero
            if reset == 1 and not detach and not uniform:
                dvdh[:] = one
            need_w = reset == 1 and not detach and not uniform
            for i in range(n_thr):
                th = thr[i]
                w = inc[i]
                if kind == 0:
                    if need_w:
                        for j in range(width):
                            g = p3 if abs(hr[j] - th) < p1 else zero
                            sig[j] += g
                            dvdh[j] -= w * g
                    else:
                        for j in range(width):
                            sig[j] += p3 if abs(hr[j] - th) < p1 else zero
                elif need_w:
                    for j in range(width):
                        g = _g(hr[j] - th, kind, one, p1, p2, p3)
                        sig[j] += g
                        dvdh[j] -= w * g
                else:
                    for j in range(width):
                        sig[j] += _g(hr[j] - th, kind, one, p1, p2, p3)
            if reset == 1:
                if detach:
                    dvdh[:] = one
                elif uniform:
                    for j in range(width):
                        dvdh[j] = one - inc0 * sig[j]
            elif reset == 2:
                th = thr[0]
                for j in range(width):
                    h = hr[j]
                    z = one if h >= th else zero
                    d = one - z
                    if not detach:
                        d += (v_reset - h) * _g(h - th, kind, one, p1, p2, p3)
                    dvdh[j] = d
            else:
                dvdh[:] = one
            if has_grad_h:
                for j in range(width):
                    gvr[j] = gsr[j] * sig[j] + gvr[j] * dvdh[j] + ghr[j]
            else:
                for j in range(width):
                    gvr[j] = gsr[j] * sig[j] + gvr[j] * dvdh[j]
            # gvr now holds G_H[t]; D[t] needs V[t-1], recomputed from H[t-1] as the forward
            if leaky:
                if want_k:
                    xr = x[t, n]
                    if t > 0:
                        hp = membrane[t - 1, n]
                        for j in range(width):
                            h0 = hp[j]
                            vp = _after_reset(h0, _count(h0, thr, one, zero), reset,
                                              uniform, thr, inc, v_reset, one, zero)
                            gkr[j] += gvr[j] * (xr[j] - (vp - v_reset))
                    else:
                        v0r = v0[n]
                        for j in range(width):
                            gkr[j] += gvr[j] * (xr[j] - (v0r[j] - v_reset))
                for j in range(width):
                    gh = gvr[j]
                    gxr[j] = k[j] * gh
                    gvr[j] = (one - k[j]) * gh
            else:
                for j in range(width):
                    gxr[j] = gvr[j]


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
