"""Blocks: synapse recursion, STCB counts and gradients, pooling, dropout, readout."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from eventcompress.errors import ConfigError
from eventcompress.nn import functional as F
from eventcompress.nn.blocks import (
    SCB,
    STCB,
    ConvBNNeuron,
    Flatten,
    LinearNeuron,
    Readout,
    SpikeAvgPool2d,
    SpikeMaxPool2d,
    TemporalDropout,
)
from eventcompress.nn.neurons import NeuronConfig


def scalar_scb(neuron: str, **neuron_kwargs) -> SCB:
    """A 1-channel SCB whose conv and BN are the identity (1x1 weight 1, eval BN, eps 0)."""
    block = SCB(1, 1, kernel_size=1, padding=0, neuron=neuron, neuron_kwargs=neuron_kwargs,
                beta0=0.5).double().eval()
    with torch.no_grad():
        block.conv.weight.fill_(1.0)
    block.bn.eps = 0.0
    return block


def frames(values: list[float]) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64).reshape(-1, 1, 1, 1, 1)


# ------------------------------------------------------------------ SCB / ConvBNNeuron

def test_scb_synapse_recursion_hand_computed() -> None:
    x = frames([1.0, 0.5, 0.0, 2.0])
    # I = [1, 0.5*1 + 0.5, 0.5*1 + 0, 0.5*0.5 + 2]
    assert scalar_scb("relu")(x).reshape(-1).tolist() == [1.0, 1.0, 0.5, 2.25]
    # IF (soft, theta 1) on that current: H = 1, 1, 0.5, 2.75 -> spikes 1, 1, 0, 1
    assert scalar_scb("if")(x).reshape(-1).tolist() == [1.0, 1.0, 0.0, 1.0]
    # two thresholds: H = 1 (1), 1 (1), 0.5 (0), 2.75 (2)
    assert scalar_scb("if", n_thresholds=2)(x).reshape(-1).tolist() == [1.0, 1.0, 0.0, 2.0]


def test_synapse_per_channel_beta_matches_loop() -> None:
    gen = torch.Generator().manual_seed(3)
    y = torch.randn(5, 2, 3, 4, 4, generator=gen, dtype=torch.float64)
    beta = torch.tensor([0.25, 0.5, 0.875], dtype=torch.float64)
    out = F.synapse_sequence(y, beta)
    current = torch.zeros_like(y[0])
    for t in range(5):
        current = beta.reshape(3, 1, 1) * current + y[t]
        torch.testing.assert_close(out[t], current, rtol=0, atol=0)


def test_batch_norm_statistics_shared_over_time() -> None:
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(3, 2, 2, 5, 5, generator=gen, dtype=torch.float64)
    block = ConvBNNeuron(2, 4, neuron="relu").double().train()
    y = block.conv(x.reshape(6, 2, 5, 5)).reshape(3, 2, 4, 5, 5)
    mean = y.mean(dim=(0, 1, 3, 4), keepdim=True)
    var = y.var(dim=(0, 1, 3, 4), unbiased=False, keepdim=True)
    expected = ((y - mean) / torch.sqrt(var + block.bn.eps)).clamp(min=0)
    torch.testing.assert_close(block(x), expected)


def test_learnable_beta_and_k_receive_gradients() -> None:
    torch.manual_seed(4)  # the conv's initial weights
    block = SCB(2, 3, neuron="mtlif", neuron_kwargs={"n_thresholds": 2, "per_channel": 3})
    gen = torch.Generator().manual_seed(4)
    x = (torch.rand(4, 2, 2, 6, 6, generator=gen) < 0.4).float()
    block(x).sum().backward()
    assert block.v.grad is not None and torch.all(block.v.grad != 0)
    assert torch.all(block.neuron.w.grad != 0)
    assert block.conv.weight.grad.abs().sum() > 0
    assert torch.allclose(block.beta, torch.full((3,), 0.5))


# ------------------------------------------------------------------ STCB

def identity_stcb(theta: float, k_levels: int) -> STCB:
    block = STCB(1, 1, kernel_size=1, padding=0, theta=theta, n_thresholds=k_levels,
                 batch_norm=False).double()
    with torch.no_grad():
        block.conv.weight.fill_(1.0)
        block.conv.bias.zero_()
    return block


def test_stcb_hand_computed_with_negative_current() -> None:
    # H: 0.5 (0), 2.25 (2, V 0.25), -0.75 (0), 1.75 (1, V 0.75), 1.0 (1)
    s = identity_stcb(1.0, 2)(frames([0.5, 1.75, -1.0, 2.5, 0.25]))
    assert s.reshape(-1).tolist() == [0, 2, 0, 1, 1]


@given(st.lists(st.integers(0, 16), min_size=1, max_size=12), st.integers(1, 3))
def test_stcb_count_equals_floor_of_summed_current(eighths: list[int], k_levels: int) -> None:
    # inputs in [0, K*theta] never saturate the K levels, so the IF count is floor(sum / theta)
    theta = 0.5
    x = frames([min(e / 8, k_levels * theta) for e in eighths])
    count = identity_stcb(theta, k_levels)(x).sum().item()
    assert count == math.floor(x.sum().item() / theta)


def count_rate(total: torch.Tensor, theta: float, t_steps: int, k_levels: int) -> torch.Tensor:
    """The oracle, written out: the spike count of T steps of a K-level IF neuron as a
    continuous function of the summed current s = sum_t X[t], r(s) = clip(s / theta, 0, T K)."""
    return torch.minimum(torch.maximum(total / theta, torch.zeros_like(total)),
                         torch.full_like(total, float(t_steps * k_levels)))


def test_stcb_function_gradient_matches_rate_relaxation_finite_differences() -> None:
    gen = torch.Generator().manual_seed(5)
    t_steps, theta, k_levels = 4, 0.5, 2
    y = (torch.randn(t_steps, 30, generator=gen, dtype=torch.float64) * 1.2 + 0.6)
    u = torch.randn(t_steps, 30, generator=gen, dtype=torch.float64)
    y1 = y.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad((F.stcb_spike(y1, theta, k_levels) * u).sum(), y1)
    # upstream gradient on the count = mean over t of dL/dS[t]

    def relaxed(v: torch.Tensor) -> torch.Tensor:
        return (u.mean(0) * count_rate(v.sum(0), theta, t_steps, k_levels)).sum()

    eps = 1e-6
    fd = torch.zeros_like(y)
    for t in range(t_steps):
        for j in range(30):
            step = torch.zeros_like(y)
            step[t, j] = eps
            fd[t, j] = (relaxed(y + step) - relaxed(y - step)) / (2 * eps)
    torch.testing.assert_close(grad, fd, rtol=1e-6, atol=1e-8)
    total = y.sum(0)
    inside = (total > 0) & (total < t_steps * k_levels * theta)
    assert inside.any() and (~inside).any()  # both branches of the clip are exercised
    assert torch.all(grad[:, ~inside] == 0)


def test_stcb_conv_gradient_matches_rate_relaxation_finite_differences() -> None:
    torch.manual_seed(6)  # the conv's initial weights
    gen = torch.Generator().manual_seed(6)
    block = STCB(2, 3, theta=1.0, n_thresholds=2, batch_norm=False).double()
    x = (torch.rand(5, 2, 2, 4, 4, generator=gen) < 0.5).double()
    a = torch.randn(2, 3, 4, 4, generator=gen, dtype=torch.float64)
    (a * block(x).sum(0)).sum().backward()

    def summed_current() -> torch.Tensor:
        per_step = x.reshape(10, 2, 4, 4)
        y = torch.nn.functional.conv2d(per_step, block.conv.weight, block.conv.bias, padding=1)
        return y.reshape(5, 2, 3, 4, 4).sum(0)

    def relaxed() -> torch.Tensor:
        return (a * count_rate(summed_current(), 1.0, 5, 2)).sum()

    with torch.no_grad():
        total = summed_current()
    # finite differences must not straddle a kink of the clip (at 0 and T K theta = 10)
    assert torch.minimum(total.abs(), (total - 10).abs()).min() > 1e-3
    assert ((total > 0) & (total < 10)).any() and (total <= 0).any()

    eps = 1e-6
    for param in (block.conv.weight, block.conv.bias):
        fd = torch.zeros_like(param)
        flat = param.data.view(-1)
        with torch.no_grad():
            for i in range(flat.numel()):
                flat[i] += eps
                up = relaxed()
                flat[i] -= 2 * eps
                down = relaxed()
                flat[i] += eps
                fd.view(-1)[i] = (up - down) / (2 * eps)
        torch.testing.assert_close(param.grad, fd, rtol=1e-6, atol=1e-8)
        assert param.grad.abs().sum() > 0


def test_stcb_attributes_and_batch_norm_option() -> None:
    block = STCB(2, 4, n_thresholds=3)
    assert block.is_spiking and block.n_levels == 3
    assert isinstance(block.bn, torch.nn.BatchNorm2d) and block.conv.bias is None
    s = block(torch.rand(3, 2, 2, 6, 6, generator=torch.Generator().manual_seed(5)))
    assert s.shape == (3, 2, 4, 6, 6) and set(s.unique().tolist()) <= {0, 1, 2, 3}


# ------------------------------------------------------------------ pooling, dropout, readout

def test_spike_pools() -> None:
    gen = torch.Generator().manual_seed(7)
    s = torch.randint(0, 4, (3, 2, 2, 4, 6), generator=gen).float()
    mx = SpikeMaxPool2d(2)(s)
    assert mx.shape == (3, 2, 2, 2, 3)
    assert torch.equal(mx, s.unfold(3, 2, 2).unfold(4, 2, 2).amax(dim=(-1, -2)))
    assert set(mx.unique().tolist()) <= {0, 1, 2, 3}
    avg = SpikeAvgPool2d(2)(s)
    assert torch.equal(avg, s.unfold(3, 2, 2).unfold(4, 2, 2).mean(dim=(-1, -2)))


def test_temporal_dropout_one_mask_per_sample_shared_over_time() -> None:
    drop = TemporalDropout(0.5).train()
    torch.manual_seed(0)
    y = drop(torch.ones(5, 4, 200))
    assert torch.equal(y, y[:1].expand_as(y))
    assert set(y.unique().tolist()) == {0.0, 2.0}
    assert 0.35 < (y[0] == 0).float().mean().item() < 0.65
    x = torch.rand(3, 2, 5, generator=torch.Generator().manual_seed(6))
    assert drop.eval()(x) is x
    assert TemporalDropout(0.0).train()(x) is x


def test_readout_membrane_with_voters() -> None:
    gen = torch.Generator().manual_seed(8)
    head = Readout(6, 3, voters=2).double()
    x = torch.randn(4, 5, 6, generator=gen, dtype=torch.float64)
    y = head.linear(x).mean(0).reshape(5, 3, 2).mean(-1)
    torch.testing.assert_close(head(x), y)
    assert head(x).shape == (5, 3)


@pytest.mark.parametrize(("mode", "expected"), [("count", [4.0, 2.0]), ("rate", [1.0, 0.5])])
def test_readout_spike_count_and_rate(mode: str, expected: list[float]) -> None:
    head = Readout(1, 2, mode=mode, neuron="if")
    with torch.no_grad():
        head.linear.weight.copy_(torch.tensor([[1.0], [0.5]]))
        head.linear.bias.zero_()
    # class 0 is driven by 1 per step (spikes every step), class 1 by 0.5 (every other step)
    assert head(torch.ones(4, 1, 1)).reshape(-1).tolist() == expected


def test_flatten_and_linear_neuron() -> None:
    x = torch.rand(3, 2, 4, 5, 5, generator=torch.Generator().manual_seed(9))
    flat = Flatten()(x)
    assert flat.shape == (3, 2, 100) and torch.equal(flat[1, 0], x[1, 0].reshape(-1))
    layer = LinearNeuron(100, 7, neuron="if", neuron_kwargs={"n_thresholds": 2})
    out = layer(flat)
    assert out.shape == (3, 2, 7)
    assert torch.equal(out, layer.neuron(layer.linear(flat)))


def test_block_input_validation() -> None:
    with pytest.raises(ValueError, match=r"\[T, N, C, H, W\]"):
        SCB(2, 3)(torch.rand(2, 2, 5, 5))
    with pytest.raises(ValueError, match=r"\[T, N, F\]"):
        Readout(4, 2)(torch.rand(2, 4))


@pytest.mark.parametrize(("make", "key", "words"), [
    (lambda: SCB(1, 1, beta0=1.0), "beta0", "must lie in (0, 1), got 1.0"),
    (lambda: TemporalDropout(1.0), "p", "must lie in [0, 1), got 1.0"),
    (lambda: Readout(2, 2, mode="max"), "mode", "unknown readout mode 'max'"),
    (lambda: Readout(2, 2, mode="rates"), "mode", "did you mean 'rate'"),
    (lambda: STCB(1, 1, theta=0.0), "theta", "finite number > 0, got 0.0"),
    (lambda: STCB(1, 1, n_thresholds=0), "n_thresholds", "integer >= 1, got 0"),
    (lambda: Readout(2, 2, voters=0), "voters", "integer >= 1, got 0"),
    (lambda: ConvBNNeuron(1, 1, neuron="lstm"), "neuron", "unknown neuron 'lstm'"),
    (lambda: ConvBNNeuron(1, 1, neuron=NeuronConfig(), neuron_kwargs={"theta": 2.0}),
     "neuron_kwargs", "not also as neuron_kwargs"),
    (lambda: LinearNeuron(2, 2, neuron_kwargs={"thershold": 1.0}), "neuron_kwargs",
     "does not take thershold (did you mean 'thresholds'"),
])
def test_invalid_block_settings_name_the_key(make, key, words) -> None:
    with pytest.raises(ConfigError) as e:
        make()
    assert e.value.key == key
    assert words in str(e.value)


def test_blocks_build_their_neuron_from_a_neuron_config() -> None:
    config = NeuronConfig(kind="mtlif", n_thresholds=2, theta=0.5, per_channel=True)
    for block, width in ((SCB(2, 3, neuron=config), 3), (ConvBNNeuron(2, 3, neuron=config), 3),
                         (LinearNeuron(4, 5, neuron=config), 5),
                         (Readout(4, 2, mode="count", voters=3, neuron=config), 6)):
        assert block.neuron.thresholds == (0.5, 1.0) and block.neuron.w.shape == (width,)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_blocks_cuda_match_cpu() -> None:
    torch.manual_seed(0)
    # float64 keeps cuDNN/TF32 rounding from flipping spikes that sit on a threshold
    x = (torch.rand(4, 2, 2, 8, 8) < 0.3).double()
    for block in (SCB(2, 3, neuron_kwargs={"n_thresholds": 2}), STCB(2, 3, n_thresholds=2)):
        block = block.double()
        twin = copy.deepcopy(block).cuda()
        out_cpu, out_cuda = block(x), twin(x.cuda())
        torch.testing.assert_close(out_cpu, out_cuda.cpu(), rtol=0, atol=0)
        out_cpu.sum().backward()
        out_cuda.sum().backward()
        torch.testing.assert_close(block.conv.weight.grad, twin.conv.weight.grad.cpu())


def test_readout_norm_drives_the_neuron_with_unit_scale() -> None:
    """``norm=True``: the neuron's input is ``BN(W x[t])`` over the T*N rows (no linear bias),
    zero mean and unit variance per output in training, whatever the fan-in."""
    gen = torch.Generator().manual_seed(3)
    head = Readout(512, 3, mode="count", neuron="plif", norm=True)
    assert head.linear.bias is None and isinstance(head.bn, torch.nn.BatchNorm1d)
    seen = {}
    head.neuron.register_forward_hook(lambda m, a, o: seen.update(drive=a[0]))
    x = torch.bernoulli(torch.full((4, 32, 512), 0.05), generator=gen)
    counts = head(x)
    drive = seen["drive"].reshape(-1, 3)
    torch.testing.assert_close(drive.mean(0), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(drive.var(0, unbiased=False), torch.ones(3), atol=1e-3, rtol=0)
    assert counts.sum() > 0  # unit-scale drive crosses theta = 1: the neurons spike
    with pytest.raises(ConfigError, match="norm applies to the spiking modes"):
        Readout(4, 2, norm=True)
