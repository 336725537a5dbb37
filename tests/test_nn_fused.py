"""The fused neuron / synapse sequences against the per-step autograd reference and against the
BPTT formulas of docs/models.md ("Fused sequences"), written out here independently in NumPy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from eventcompress.nn import create_model, fused
from eventcompress.nn import functional as F
from eventcompress.nn.surrogates import SURROGATE_KINDS, get_surrogate

THRESHOLD_SETS = ((1.0,), (0.75,), (0.5, 1.0, 1.5, 2.0), (1.0, 2.0, 4.0), (0.3, 1.1))


@st.composite
def neuron_cases(draw):
    steps = draw(st.integers(1, 6))
    shape = (steps, draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 3)))
    leak = draw(st.sampled_from(("if", "layer", "channel", "fixed")))
    return {
        "seed": draw(st.integers(0, 2**31 - 1)), "shape": shape, "leak": leak,
        "thresholds": draw(st.sampled_from(THRESHOLD_SETS)),
        "kind": draw(st.sampled_from(SURROGATE_KINDS)),
        "width": draw(st.sampled_from((0.5, 1.0, 1.7))),
        "reset": draw(st.sampled_from(F.RESET_MODES)), "detach": draw(st.booleans()),
        "v_reset": draw(st.sampled_from((0.0, -0.25, 0.4))), "v0": draw(st.booleans()),
        "membrane_grad": draw(st.booleans()),
    }


def _inputs(case, dtype):
    gen = torch.Generator().manual_seed(case["seed"])
    shape = case["shape"]
    x = torch.randn(shape, generator=gen, dtype=dtype) * 1.5 + 0.6
    w = torch.randn(shape[2] if case["leak"] == "channel" else (), generator=gen, dtype=dtype)
    v0 = torch.randn(shape[1:], generator=gen, dtype=dtype) if case["v0"] else None
    weights = [torch.randn(shape, generator=gen, dtype=dtype) for _ in range(2)]
    weights.append(torch.randn(shape[1:], generator=gen, dtype=dtype))
    return x, w, v0, weights


def _run(case, dtype, reference: bool):
    """Outputs and the gradients (x, w, v0) of a random linear loss of all three outputs."""
    x, w, v0, (gs, gh, gv) = _inputs(case, dtype)
    x.requires_grad_(True)
    w.requires_grad_(case["leak"] in ("layer", "channel"))
    if v0 is not None:
        v0.requires_grad_(True)
    k = {"if": None, "fixed": 0.3}.get(case["leak"], torch.sigmoid(w))
    sg = get_surrogate(case["kind"], width=case["width"])
    with fused.reference() if reference else torch.enable_grad():
        out = F.neuron_sequence(x, k=k, thresholds=case["thresholds"], surrogate=sg,
                                reset=case["reset"], v_reset=case["v_reset"],
                                detach_reset=case["detach"], v0=v0)
    assert ("FusedNeuron" in type(out.spikes.grad_fn).__name__) != reference
    loss = (out.spikes * gs).sum() + (out.v_last * gv).sum()
    if case["membrane_grad"]:
        loss = loss + (out.membrane * gh).sum()
    wrt = {n: t for n, t in (("x", x), ("w", w), ("v0", v0))
           if t is not None and t.requires_grad}
    return out, dict(zip(wrt, torch.autograd.grad(loss, list(wrt.values())), strict=True))


def _assert_grads_close(ours, ref, rtol):
    assert ours.keys() == ref.keys()
    for name in ref:
        scale = ref[name].abs().max().item()
        torch.testing.assert_close(ours[name], ref[name], rtol=rtol, atol=rtol * max(scale, 1.0),
                                   msg=lambda m, name=name: f"d/d{name}: {m}")


@pytest.mark.parametrize(("dtype", "rtol"), [(torch.float64, 1e-12), (torch.float32, 1e-6)])
@settings(max_examples=120, deadline=None)
@given(case=neuron_cases())
def test_fused_neuron_equals_reference(dtype: torch.dtype, rtol: float, case) -> None:
    ours, g_ours = _run(case, dtype, reference=False)
    ref, g_ref = _run(case, dtype, reference=True)
    for a, b in zip(ours, ref, strict=True):
        assert torch.equal(a, b)  # spikes, membranes and V[T-1] bit-identical
    _assert_grads_close(g_ours, g_ref, rtol=rtol)


# ------------------------------------------------------------ the documented BPTT, in NumPy

def _g(u, kind, param):
    if kind == "rect":
        return (np.abs(u) < param / 2) / param
    if kind == "triangle":
        return np.maximum(0.0, 1.0 - np.abs(u) / param) / param
    if kind == "sigmoid":
        s = 1.0 / (1.0 + np.exp(-param * u))
        return param * s * (1.0 - s)
    return (param / 2) / (1.0 + (np.pi / 2 * param * u) ** 2)


def documented_bptt(x, k, thr, kind, param, reset, v_reset, detach, gs):
    """Forward and backward of docs/models.md for one leak ``k`` (a number), no ``v0``:
    returns (spikes, dL/dX, dL/dk) for the loss ``sum(S * gs)``."""
    thr = np.asarray(thr)
    inc = np.diff(np.concatenate(([0.0], thr)))
    v = np.full(x.shape[1:], v_reset)
    hs, ds, spikes = [], [], []
    for t in range(x.shape[0]):
        d = x[t] - (v - v_reset)
        h = v + k * d
        fired = h[..., None] >= thr
        s = fired.sum(-1).astype(float)
        if reset == "soft":
            v = h - (fired * inc).sum(-1)
        elif reset == "hard":
            v = np.where(fired[..., 0], v_reset, h)
        else:
            v = h
        hs.append(h)
        ds.append(d)
        spikes.append(s)
    gv = np.zeros_like(v)
    gx = np.zeros_like(x)
    gk = 0.0
    for t in reversed(range(x.shape[0])):
        h = hs[t]
        gi = _g(h[..., None] - thr, kind, param)  # g(H - theta_i)
        if reset == "soft":
            dv_dh = 1.0 if detach else 1.0 - (gi * inc).sum(-1)
        elif reset == "hard":
            z = (h >= thr[0]).astype(float)
            dv_dh = (1.0 - z) + (0.0 if detach else (v_reset - h) * gi[..., 0])
        else:
            dv_dh = 1.0
        gh = gs[t] * gi.sum(-1) + gv * dv_dh
        gx[t] = k * gh
        gk += float((gh * ds[t]).sum())
        gv = (1.0 - k) * gh
    return np.stack(spikes), gx, gk


@settings(max_examples=80, deadline=None)
@given(neuron_cases())
def test_fused_neuron_matches_documented_formulas(case) -> None:
    gen = torch.Generator().manual_seed(case["seed"])
    x = torch.randn(case["shape"], generator=gen, dtype=torch.float64) * 1.5 + 0.6
    gs = torch.randn(case["shape"], generator=gen, dtype=torch.float64)
    w = torch.randn((), dtype=torch.float64, generator=gen).requires_grad_(True)
    k = torch.sigmoid(w)
    sg = get_surrogate(case["kind"], width=case["width"])
    xg = x.clone().requires_grad_(True)
    out = F.neuron_sequence(xg, k=k, thresholds=case["thresholds"], surrogate=sg,
                            reset=case["reset"], v_reset=case["v_reset"],
                            detach_reset=case["detach"])
    gx, gw = torch.autograd.grad((out.spikes * gs).sum(), (xg, w))
    spikes, gx_doc, gk_doc = documented_bptt(x.numpy(), k.item(), case["thresholds"],
                                             case["kind"], sg.param, case["reset"],
                                             case["v_reset"], case["detach"], gs.numpy())
    np.testing.assert_array_equal(out.spikes.detach().numpy(), spikes)
    np.testing.assert_allclose(gx.numpy(), gx_doc, rtol=1e-10, atol=1e-12)
    # dL/dw = dL/dk * k (1 - k) through k = sigmoid(w)
    np.testing.assert_allclose(gw.item(), gk_doc * k.item() * (1 - k.item()), rtol=1e-9,
                               atol=1e-12)


def test_documented_formulas_see_real_gradients() -> None:
    """The property tests above would pass vacuously if no surrogate window were ever hit."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(4, 3, 5, generator=gen, dtype=torch.float64) + 0.8
    _, gx, gk = documented_bptt(x.numpy(), 0.5, (1.0,), "rect", 1.0, "soft", 0.0, False,
                                np.ones((4, 3, 5)))
    assert np.count_nonzero(gx) > 10 and gk != 0.0


def test_membrane_without_reset_passes_gradcheck() -> None:
    """With ``reset="none"`` the membrane is smooth in ``x``, ``k`` and ``v0``: finite
    differences check the fused backward of the membrane and V[T-1] outputs exactly."""
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(5, 2, 3, 2, generator=gen, dtype=torch.float64, requires_grad=True)
    k = torch.rand(3, generator=gen, dtype=torch.float64).mul(0.8).add(0.1).requires_grad_(True)
    v0 = torch.randn(2, 3, 2, generator=gen, dtype=torch.float64, requires_grad=True)

    def membrane(x, k, v0):
        out = fused.FusedNeuronSequence.apply(x, k, v0, (1.0, 2.0), "sigmoid", 4.0, "none", 0.1,
                                              False)
        return out[1], out[2]

    assert torch.autograd.gradcheck(membrane, (x, k, v0))


# ----------------------------------------------------------------------------- synapse

@pytest.mark.parametrize("beta_kind", ["channel", "layer", "float"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_fused_synapse_equals_reference(beta_kind: str, dtype: torch.dtype) -> None:
    gen = torch.Generator().manual_seed(2)
    y = torch.randn(5, 3, 4, 3, 2, generator=gen, dtype=dtype)
    v = torch.randn(4 if beta_kind == "channel" else (), generator=gen, dtype=dtype)
    weight = torch.randn(y.shape, generator=gen, dtype=dtype)
    results = []
    for reference in (False, True):
        yg = y.clone().requires_grad_(True)
        vg = v.clone().requires_grad_(beta_kind != "float")
        beta = 0.6 if beta_kind == "float" else torch.sigmoid(vg)
        with fused.reference() if reference else torch.enable_grad():
            out = F.synapse_sequence(yg, beta)
        wrt = (yg, vg) if vg.requires_grad else (yg,)
        results.append((out, torch.autograd.grad((out * weight).sum(), wrt)))
    (ours, g_ours), (ref, g_ref) = results
    assert torch.equal(ours, ref)
    for a, b in zip(g_ours, g_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6 if dtype == torch.float32 else 1e-12,
                                   atol=1e-6 if dtype == torch.float32 else 1e-12)


def test_fused_synapse_passes_gradcheck() -> None:
    gen = torch.Generator().manual_seed(3)
    y = torch.randn(4, 2, 3, 2, generator=gen, dtype=torch.float64, requires_grad=True)
    beta = torch.rand(3, generator=gen, dtype=torch.float64).requires_grad_(True)
    assert torch.autograd.gradcheck(fused.FusedSynapseSequence.apply, (y, beta))


# ------------------------------------------------------------------------- dispatch

def test_unsupported_inputs_run_the_reference() -> None:
    sg = get_surrogate("rect")
    x = torch.randn(3, 2, 4, requires_grad=True)
    for tensor in (x.half(), x.bfloat16()):
        out = F.neuron_sequence(tensor, k=torch.tensor(0.5, dtype=tensor.dtype),
                                thresholds=(1.0,), surrogate=sg)
        assert "Fused" not in type(out.spikes.grad_fn).__name__
    fused_out = F.neuron_sequence(x, k=torch.tensor(0.5), thresholds=(1.0,), surrogate=sg)
    assert "FusedNeuron" in type(fused_out.spikes.grad_fn).__name__
    with fused.reference():
        assert not fused.fused_enabled()
        ref = F.neuron_sequence(x, k=torch.tensor(0.5), thresholds=(1.0,), surrogate=sg)
    assert fused.fused_enabled()
    assert torch.equal(fused_out.spikes, ref.spikes)


def test_non_contiguous_input_and_no_grad() -> None:
    sg = get_surrogate("triangle")
    x = torch.randn(2, 5, 3, 4).transpose(0, 1) * 2  # [T=5, N=2, 3, 4], not contiguous
    k = torch.sigmoid(torch.randn(3))
    with torch.no_grad():
        ours = F.neuron_sequence(x, k=k, thresholds=(0.5, 1.0), surrogate=sg)
    with fused.reference():
        ref = F.neuron_sequence(x, k=k, thresholds=(0.5, 1.0), surrogate=sg)
    assert not x.is_contiguous()
    for a, b in zip(ours, ref, strict=True):
        assert torch.equal(a, b.detach())


def test_per_channel_leak_of_the_wrong_size_is_named() -> None:
    with pytest.raises(ValueError, match="per-channel parameter of size 3"):
        F.neuron_sequence(torch.randn(2, 2, 4, 5), k=torch.full((3,), 0.5), thresholds=(1.0,),
                          surrogate=get_surrogate("rect"))


@pytest.mark.parametrize("name", ["nmnist-stc-scb-mtlif", "nmnist-plif", "nmnist-mtlif",
                                  "nmnist-stcb"])
def test_whole_network_loss_and_gradients_equal_reference(name: str) -> None:
    """Every parameter gradient of a registered network (BN, conv, leaks, synapse decays, the
    IF neurons of the stcb classifier) is the reference's."""
    torch.manual_seed(4)
    model = create_model(name).double()
    x = torch.bernoulli(torch.full((2, 3, 2, 34, 34), 0.2, dtype=torch.float64))
    y = torch.tensor([1, 7, 3])
    grads = []
    for reference in (False, True):
        model.zero_grad()
        with fused.reference() if reference else torch.enable_grad():
            loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        grads.append((loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}))
    (loss_ours, g_ours), (loss_ref, g_ref) = grads
    assert torch.equal(loss_ours, loss_ref)
    assert sum(int(g.abs().sum() > 0) for g in g_ref.values()) > len(g_ref) // 2
    for n in g_ref:
        torch.testing.assert_close(g_ours[n], g_ref[n], rtol=1e-9, atol=1e-12,
                                   msg=lambda m, n=n: f"{n}: {m}")
