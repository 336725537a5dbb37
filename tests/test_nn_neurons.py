"""Neuron dynamics against hand-computed sequences and hand-written loops; S3NN surrogate."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from eventcompress.errors import ConfigError
from eventcompress.nn import functional as F
from eventcompress.nn.neurons import (
    LIF,
    MTLIF,
    NEURON_KINDS,
    PLIF,
    IFNeuron,
    ReLUNeuron,
    S3NNNeuron,
    make_neuron,
    tau_to_logit,
)
from eventcompress.nn.surrogates import SURROGATE_KINDS, get_surrogate, spike


def seq(values: list[float]) -> torch.Tensor:
    """A [T, N=1, 1] float64 input."""
    return torch.tensor(values, dtype=torch.float64).reshape(-1, 1, 1)


def flat(t: torch.Tensor) -> list[float]:
    return t.reshape(-1).tolist()


# ------------------------------------------------------------------ hand-computed sequences
# k = 1/tau0 = 0.5, theta = 1, V_reset = 0; every number is dyadic, so comparisons are exact.

@pytest.mark.parametrize(("k_levels", "reset", "x", "spikes", "membrane"), [
    (1, "soft", [2, 6, 3, 8, 1], [1, 1, 1, 1, 1], [1, 3, 2.5, 4.75, 2.375]),
    (2, "soft", [2, 3, 0.5, 4, -1], [1, 1, 0, 2, 0], [1, 1.5, 0.5, 2.25, -0.375]),
    (3, "soft", [2, 6, 3, 8, 1], [1, 3, 1, 3, 1], [1, 3, 1.5, 4.25, 1.125]),
    (3, "hard", [2, 6, 3, 8, 1], [1, 3, 1, 3, 0], [1, 3, 1.5, 4, 0.5]),
    (1, "hard", [2, 6, 0.5, 3, 1], [1, 1, 0, 1, 0], [1, 3, 0.25, 1.625, 0.5]),
])
def test_mtlif_hand_computed(k_levels, reset, x, spikes, membrane) -> None:
    neuron = MTLIF(n_thresholds=k_levels, tau0=2.0, reset=reset).double()
    s, h = neuron(seq(x), return_state=True)
    assert flat(s) == spikes
    assert flat(h) == membrane


def test_mtlif_geometric_thresholds_soft_reset_subtracts_highest_crossed() -> None:
    neuron = MTLIF(n_thresholds=3, thresholds="geometric", threshold_ratio=2.0).double()
    assert neuron.thresholds == (1.0, 2.0, 4.0)
    s, h = neuron(seq([2, 6, 10]), return_state=True)
    # V after the steps: 1-1=0, 3-2=1, 5.5-4=1.5
    assert flat(s) == [1, 2, 3]
    assert flat(h) == [1, 3, 5.5]


def test_mtlif_nonzero_v_reset_leaks_towards_it() -> None:
    neuron = MTLIF(tau0=2.0, reset="hard", v_reset=-1.0).double()
    s, h = neuron(seq([0, 5, 0]), return_state=True)
    # V[-1] = -1: H0 = -1 + 0.5*(0 - 0) = -1; H1 = -1 + 0.5*(5 - 0) = 1.5 -> spike, V = -1;
    # H2 = -1 + 0.5*(0 - 0) = -1
    assert flat(h) == [-1, 1.5, -1]
    assert flat(s) == [0, 1, 0]


@pytest.mark.parametrize(("k_levels", "reset", "x", "spikes"), [
    (2, "soft", [0.5, 0.75, 2.5, -1, 1.25], [0, 1, 2, 0, 1]),
    (1, "hard", [0.5, 0.75, 2.5, -1, 1.25], [0, 1, 1, 0, 0]),
])
def test_if_hand_computed(k_levels, reset, x, spikes) -> None:
    s = IFNeuron(n_thresholds=k_levels, reset=reset).double()(seq(x))
    assert flat(s) == spikes


def test_s3nn_forward_counts_and_ignores_time() -> None:
    x = torch.tensor([-1.0, 0.99, 1.0, 2.5, 3.0, 10.0]).reshape(2, 3)
    s = S3NNNeuron(n_thresholds=3)(x)
    assert s.tolist() == [[0, 0, 1], [2, 3, 3]]


# ------------------------------------------------------------------ K=1 equals a plain LIF loop

class _RectSpike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, h, theta, a):
        ctx.save_for_backward(h)
        ctx.theta, ctx.a = theta, a
        return (h >= theta).to(h.dtype)

    @staticmethod
    def backward(ctx, grad):
        (h,) = ctx.saved_tensors
        return grad * ((h - ctx.theta).abs() < ctx.a / 2).to(h.dtype) / ctx.a, None, None


def reference_lif(x, w, theta, reset, v_reset, detach):
    k = torch.sigmoid(w)
    v = torch.full_like(x[0], v_reset)
    out = []
    for t in range(x.shape[0]):
        h = v + k * (x[t] - (v - v_reset))
        s = _RectSpike.apply(h, theta, 1.0)
        r = s.detach() if detach else s
        v = h - r * theta if reset == "soft" else h * (1 - r) + v_reset * r
        out.append(s)
    return torch.stack(out)


@pytest.mark.parametrize("reset", ["soft", "hard"])
@pytest.mark.parametrize("detach", [False, True])
def test_mtlif_k1_equals_hand_written_lif(reset: str, detach: bool) -> None:
    gen = torch.Generator().manual_seed(0)
    x = (torch.randn(6, 3, 5, generator=gen, dtype=torch.float64) * 1.5 + 0.8)
    v_reset = -0.25 if reset == "hard" else 0.0
    neuron = MTLIF(theta=0.75, tau0=3.0, reset=reset, v_reset=v_reset,
                   detach_reset=detach).double()
    x1 = x.clone().requires_grad_(True)
    s = neuron(x1)
    (s * torch.linspace(0.1, 1, 5, dtype=torch.float64)).sum().backward()
    # the module's w was rounded to float32 before .double(); start from that same value
    assert neuron.w.item() == pytest.approx(tau_to_logit(3.0), rel=1e-7)
    w = neuron.w.detach().clone().requires_grad_(True)
    x2 = x.clone().requires_grad_(True)
    ref = reference_lif(x2, w, 0.75, reset, v_reset, detach)
    (ref * torch.linspace(0.1, 1, 5, dtype=torch.float64)).sum().backward()
    assert torch.equal(s, ref)
    torch.testing.assert_close(x1.grad, x2.grad, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(neuron.w.grad, w.grad, rtol=1e-12, atol=1e-12)


def test_lif_plif_are_k1_configurations() -> None:
    assert LIF(tau0=4.0).n_levels == 1 and not LIF().learnable
    assert PLIF().learnable and isinstance(PLIF().w, torch.nn.Parameter)
    assert "w" in dict(LIF().named_buffers())
    assert LIF(tau0=4.0).k.item() == pytest.approx(0.25)
    x = torch.randn(5, 2, 4)
    assert torch.equal(PLIF(tau0=3.0)(x), MTLIF(tau0=3.0)(x))


# ------------------------------------------------------------------ parameters and gradients

def test_tau_initialisation() -> None:
    for tau0 in (1.5, 2.0, 10.0):
        assert torch.sigmoid(torch.tensor(tau_to_logit(tau0))).item() == pytest.approx(1 / tau0)
    assert tau_to_logit(2.0) == 0.0
    with pytest.raises(ConfigError):
        tau_to_logit(1.0)


def test_learnable_k_per_layer_and_per_channel_receive_gradients() -> None:
    x = torch.rand(4, 2, 3, 5, 5) * 3
    layer = MTLIF(n_thresholds=2)
    layer(x).sum().backward()
    assert layer.w.shape == () and layer.w.grad is not None and layer.w.grad != 0
    chan = MTLIF(n_thresholds=2, per_channel=3, tau0=2.0)
    chan(x).sum().backward()
    assert chan.w.shape == (3,) and torch.all(chan.w.grad != 0)
    # per-channel k broadcasts over dim 2: a channel with a different k gives its own output
    with torch.no_grad():
        chan.w[1] = 3.0
    ref = MTLIF(n_thresholds=2, tau0=1 + math.exp(-3.0))(x)
    torch.testing.assert_close(chan(x)[:, :, 1], ref[:, :, 1])
    with pytest.raises(ValueError, match="dim 2"):
        chan(torch.rand(4, 2, 5))


def test_surrogate_gradient_through_first_step() -> None:
    # one step from V = 0: dS/dX = k * sum_i g(k X - theta_i)
    x = torch.linspace(-1, 7, 81, dtype=torch.float64).reshape(1, 1, -1) + 1e-3
    x.requires_grad_(True)
    neuron = MTLIF(n_thresholds=3, tau0=2.0, surrogate="triangle", surrogate_width=0.5).double()
    neuron(x).sum().backward()
    surrogate = get_surrogate("triangle", width=0.5)
    expected = sum(0.5 * surrogate.derivative(0.5 * x.detach() - th) for th in (1, 2, 3))
    torch.testing.assert_close(x.grad, expected)


def test_return_state_and_relu() -> None:
    x = torch.randn(3, 2, 4)
    relu = ReLUNeuron()
    assert torch.equal(relu(x), x.clamp(min=0)) and relu.n_levels is None
    assert not relu.is_spiking
    s, h = IFNeuron()(x, return_state=True)
    assert s.shape == h.shape == x.shape
    torch.testing.assert_close(h[0], x[0])


# ------------------------------------------------------------------ S3NN surrogate

def unrolled_rate_grad(x, thresholds, surrogate, t_equiv, k):
    """d/dX of (1/T) sum_t S_t for an explicitly unrolled LIF without reset, V[-1] = 0."""
    x = x.detach().clone().requires_grad_(True)
    h = torch.zeros_like(x)
    rate = torch.zeros_like(x)
    for _ in range(t_equiv):
        h = h + k * (x - h)
        rate = rate + spike(h, thresholds, surrogate) / t_equiv
    (grad,) = torch.autograd.grad(rate.sum(), x)
    return grad


@pytest.mark.parametrize("kind", SURROGATE_KINDS)
@pytest.mark.parametrize(("t_equiv", "k"), [(1, 0.5), (3, 0.5), (8, 0.25), (5, 1.0)])
def test_s3nn_closed_form_equals_unrolled_average(kind, t_equiv, k) -> None:
    thresholds = (1.0, 2.0)
    surrogate = get_surrogate(kind, width=0.7)
    gen = torch.Generator().manual_seed(1)
    x = (torch.rand(400, generator=gen, dtype=torch.float64) * 6 - 1).requires_grad_(True)
    s = F.s3nn_spike(x, thresholds, surrogate, t_equiv, k)
    (grad,) = torch.autograd.grad(s.sum(), x)
    expected = unrolled_rate_grad(x, thresholds, surrogate, t_equiv, k)
    torch.testing.assert_close(grad, expected, rtol=1e-10, atol=1e-12)
    assert grad.abs().sum() > 0


def relaxed_step(x: np.ndarray, kind: str, width: float) -> np.ndarray:
    """The step whose derivative is the surrogate (written out here, not the library's)."""
    if kind == "rect":
        return np.clip(x / width + 0.5, 0.0, 1.0)
    return 1.0 / (1.0 + np.exp(-(4.0 / width) * x))  # sigmoid, alpha = 4 / width


def lif_relaxed_rate(x: np.ndarray, thresholds: tuple[float, ...], kind: str, width: float,
                     t_equiv: int, k: float) -> np.ndarray:
    """(1/T) sum_t sum_i P(H_t - theta_i) of a T-step LIF, constant input, no reset, V = 0."""
    h = np.zeros_like(x)
    total = np.zeros_like(x)
    for _ in range(t_equiv):
        h = h + k * (x - h)
        total += sum(relaxed_step(h - theta, kind, width) for theta in thresholds)
    return total / t_equiv


S3NN_CASES = [(1, 0.5, (1.0,)), (4, 0.5, (1.0,)), (8, 0.25, (0.5, 1.0, 2.0)),
              (5, 1.0, (0.5, 1.0, 2.0)), (16, 0.1, (0.5, 1.5)), (3, 0.75, (1.0, 2.0, 3.0))]


@pytest.mark.parametrize("kind", ["rect", "sigmoid"])
@pytest.mark.parametrize(("t_equiv", "k", "thresholds"), S3NN_CASES)
def test_s3nn_closed_form_equals_numeric_average_of_t_step_lif(kind, t_equiv, k,
                                                                thresholds) -> None:
    width = 0.6
    x = np.linspace(-0.5, 8.0, 1701)
    eps = 1e-6
    numeric = (lif_relaxed_rate(x + eps, thresholds, kind, width, t_equiv, k)
               - lif_relaxed_rate(x - eps, thresholds, kind, width, t_equiv, k)) / (2 * eps)
    xt = torch.tensor(x, requires_grad=True)
    neuron = S3NNNeuron(thresholds=thresholds, tau0=1.0 / k, T_equiv=t_equiv, surrogate=kind,
                        surrogate_width=width)
    (grad,) = torch.autograd.grad(neuron(xt).sum(), xt)
    grad = grad.numpy()
    # the rect relaxed rate has kinks at c_t x = theta_i -+ a/2, where differences straddle
    keep = away_from_window_edges(x, thresholds, width, t_equiv, k, 4 * eps)
    np.testing.assert_allclose(grad[keep], numeric[keep], rtol=1e-6, atol=1e-8)
    assert (grad > 1e-3).sum() > 100
    if kind == "rect":
        assert np.all(grad[x <= 0] == 0)


def away_from_window_edges(x: np.ndarray, thresholds: tuple[float, ...], width: float,
                           t_equiv: int, k: float, margin: float) -> np.ndarray:
    """True where no c_t x lies within ``margin`` (in x) of a window edge theta_i -+ a/2."""
    keep = np.ones_like(x, dtype=bool)
    for t in range(1, t_equiv + 1):
        c = 1 - (1 - k) ** t
        for theta in thresholds:
            for edge in (theta - width / 2, theta + width / 2):
                keep &= np.abs(x - edge / c) > margin
    return keep


@pytest.mark.parametrize(("t_equiv", "k", "thresholds"), S3NN_CASES)
def test_s3nn_rect_surrogate_equals_run_length_form(t_equiv, k, thresholds) -> None:
    """docs/models.md: for X > 0 the steps inside each window form one run t0..t1 and
    G(X) = (1/(a T)) sum_i (n_i - q**t0_i * (1 - q**n_i) / (1 - q)), q = 1 - k, n = t1 - t0 + 1."""
    width, q = 0.6, 1 - k
    x = np.linspace(0.01, 8.0, 800)
    expected = np.zeros_like(x)
    for j, xj in enumerate(x):
        h, membrane = 0.0, []
        for _ in range(t_equiv):  # the reduced LIF, simulated
            h = h + k * (xj - h)
            membrane.append(h)
        for theta in thresholds:
            inside = [t for t, hv in enumerate(membrane, start=1) if abs(hv - theta) < width / 2]
            if inside:
                t0, t1 = inside[0], inside[-1]
                assert inside == list(range(t0, t1 + 1))  # one contiguous run
                n = t1 - t0 + 1
                expected[j] += n - q ** t0 * (1 - q ** n) / (1 - q)
    expected /= width * t_equiv
    xt = torch.tensor(x, requires_grad=True)
    s = F.s3nn_spike(xt, thresholds, get_surrogate("rect", width=width), t_equiv, k)
    (grad,) = torch.autograd.grad(s.sum(), xt)
    # on a window edge, rounding of c_t X versus the simulated membrane decides: skip those
    keep = away_from_window_edges(x, thresholds, width, t_equiv, k, 1e-9)
    assert keep.sum() > 780
    np.testing.assert_allclose(grad.numpy()[keep], expected[keep], rtol=1e-12, atol=1e-12)
    assert (expected > 0).sum() > 50


def test_s3nn_k1_reduces_to_plain_surrogate_and_module_grad() -> None:
    x = torch.linspace(-1, 4, 51, dtype=torch.float64, requires_grad=True)
    neuron = S3NNNeuron(n_thresholds=2, tau0=1.0, T_equiv=6, surrogate="sigmoid")
    neuron(x).sum().backward()
    g = get_surrogate("sigmoid")
    torch.testing.assert_close(x.grad, g.derivative(x.detach() - 1) + g.derivative(x.detach() - 2))


# ------------------------------------------------------------------ factory

def test_make_neuron_kinds_and_common_kwargs() -> None:
    common = dict(theta=0.5, n_thresholds=3, thresholds="linear", tau0=2.0, surrogate="atan",
                  surrogate_width=1.0, reset="soft", per_channel=None)
    levels = {"mtlif": 3, "lif": 1, "plif": 1, "if": 3, "s3nn": 3, "relu": None}
    x = torch.rand(3, 2, 4) * 2
    for kind in NEURON_KINDS:
        neuron = make_neuron(kind, **common)
        assert neuron.n_levels == levels[kind]
        assert neuron.is_spiking == (kind != "relu")
        y = neuron(x)
        assert y.shape == x.shape
        if neuron.is_spiking:
            assert set(y.unique().tolist()) <= set(range(levels[kind] + 1))
    assert make_neuron("mtlif", per_channel=4).w.shape == (4,)
    assert make_neuron("plif", n_thresholds=4, theta=0.5).thresholds == (0.5,)
    assert make_neuron("if", tau0=5.0, per_channel=3).n_levels == 1
    assert make_neuron("s3nn", T_equiv=2, tau0=4.0).k == 0.25


@pytest.mark.parametrize(("kind", "kwargs"), [
    ("gru", {}), ("mtlif", {"thershold": 1.0}), ("relu", {"learnable": True}),
    ("mtlif", {"reset": "sideways"}), ("mtlif", {"thresholds": [1.0, 0.5]}),
    ("mtlif", {"n_thresholds": 0}), ("mtlif", {"thresholds": "cubic"}),
    ("s3nn", {"T_equiv": 0}), ("mtlif", {"tau0": 0.5}), ("mtlif", {"surrogate": "gauss"}),
    ("mtlif", {"thresholds": "geometric", "threshold_ratio": 1.0}),
])
def test_make_neuron_errors(kind, kwargs) -> None:
    with pytest.raises(ConfigError):
        make_neuron(kind, **kwargs)


def test_resolve_thresholds() -> None:
    assert F.resolve_thresholds(0.5, 3) == (0.5, 1.0, 1.5)
    assert F.resolve_thresholds(1.0, 4, "geometric", 3.0) == (1.0, 3.0, 9.0, 27.0)
    assert F.resolve_thresholds(1.0, 9, [0.25, 1.0]) == (0.25, 1.0)
    assert F.reset_increments((1.0, 2.0, 4.0)) == (1.0, 1.0, 2.0)


# ------------------------------------------------------------------ devices and compilation

@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu() -> None:
    x = (torch.rand(5, 2, 3, 4, 4, dtype=torch.float64) * 3).requires_grad_(True)
    cpu = MTLIF(n_thresholds=3, per_channel=3).double()
    cuda = MTLIF(n_thresholds=3, per_channel=3).double().cuda()
    xc = x.detach().cuda().requires_grad_(True)
    s_cpu, s_cuda = cpu(x), cuda(xc)
    s_cpu.sum().backward()
    s_cuda.sum().backward()
    assert torch.equal(s_cpu, s_cuda.cpu())
    torch.testing.assert_close(x.grad, xc.grad.cpu())
    torch.testing.assert_close(cpu.w.grad, cuda.w.grad.cpu())


def _compile_unavailable(exc: BaseException) -> str | None:
    """Why torch.compile cannot run on this machine, if ``exc`` says so; None otherwise.

    Only a missing or unusable C++ compiler (inductor's ``InvalidCxxCompiler``, possibly wrapped
    in ``BackendCompilerFailed``) counts; every other error is a real failure.
    """
    from torch._inductor.exc import InvalidCxxCompiler

    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, InvalidCxxCompiler):
            return f"no usable C++ compiler for the inductor backend: {exc}"
        exc = getattr(exc, "inner_exception", None) or exc.__cause__
    return None


@pytest.mark.slow
def test_torch_compile_matches_eager() -> None:
    if not torch._dynamo.is_dynamo_supported():
        pytest.skip("torch.compile is not supported on this platform / Python version")
    if "inductor" not in torch._dynamo.list_backends():
        pytest.skip("this torch build has no inductor backend")
    torch._dynamo.reset()
    gen = torch.Generator().manual_seed(3)
    neuron = MTLIF(n_thresholds=2, per_channel=3, tau0=3.0)
    x = torch.rand(4, 2, 3, generator=gen) * 3
    xc = x.clone().requires_grad_(True)
    compiled = torch.compile(neuron, fullgraph=True)  # the default backend: inductor
    try:
        s_compiled = compiled(xc)
    except Exception as exc:  # noqa: BLE001 - re-raised unless it is a missing compiler
        reason = _compile_unavailable(exc)
        if reason is None:
            raise
        pytest.skip(reason)
    (gx_compiled,) = torch.autograd.grad((s_compiled * torch.arange(3.0)).sum(), xc)
    gw_compiled = torch.autograd.grad(compiled(xc).sum(), neuron.w)[0]
    xe = x.clone().requires_grad_(True)
    s_eager = neuron(xe)
    (gx_eager,) = torch.autograd.grad((s_eager * torch.arange(3.0)).sum(), xe)
    gw_eager = torch.autograd.grad(neuron(xe).sum(), neuron.w)[0]
    assert torch.equal(s_compiled, s_eager)
    assert s_eager.sum() > 0 and gx_eager.abs().sum() > 0 and gw_eager.abs().sum() > 0
    torch.testing.assert_close(gx_compiled, gx_eager)
    torch.testing.assert_close(gw_compiled, gw_eager)


def test_compile_skips_only_for_a_missing_compiler() -> None:
    from torch._dynamo.exc import BackendCompilerFailed
    from torch._inductor.exc import InvalidCxxCompiler

    def inductor() -> None: ...

    missing = BackendCompilerFailed(inductor, InvalidCxxCompiler("g++"), None)
    assert "C++ compiler" in _compile_unavailable(missing)
    assert _compile_unavailable(InvalidCxxCompiler()) is not None
    chained = RuntimeError("wrapper")
    chained.__cause__ = missing
    assert _compile_unavailable(chained) is not None
    for real in (BackendCompilerFailed(inductor, AssertionError("bad lowering"), None),
                 RuntimeError("compiler not found in a message"), TypeError("x")):
        assert _compile_unavailable(real) is None
