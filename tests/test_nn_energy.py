"""Activity / energy accounting against hand-computed counts and an autograd oracle."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from eventcompress.nn.energy import ActivityMonitor, EnergyModel, conv2d_fanout


class _Levels(nn.Module):
    """A stand-in spiking neuron: ``floor(clamp(x, 0, 2))``, i.e. spikes of value 0, 1 or 2."""

    is_spiking = True
    n_levels = 2

    def forward(self, x):
        return torch.floor(x.clamp(0, 2))


class _Tiny(nn.Module):
    """conv 1->2 (3x3, pad 1, all-ones weights), a 2-level neuron, linear 32 -> 3."""

    def __init__(self, spiking: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3, padding=1, bias=False)
        self.neuron = _Levels()
        if not spiking:
            self.neuron.is_spiking = False
        self.fc = nn.Linear(32, 3)
        with torch.no_grad():
            self.conv.weight.fill_(1.0)

    def forward(self, x):  # [T, N, 1, 4, 4]
        t, n = x.shape[:2]
        y = self.conv(x.reshape(t * n, 1, 4, 4)).reshape(t, n, 2, 4, 4)
        s = self.neuron(y)
        return self.fc(s.reshape(t, n, 32)).mean(0)


def _hand_input():
    x = torch.zeros(2, 1, 1, 4, 4)
    x[0, 0, 0, 0, 0] = 1.0  # corner: reaches 2x2 output positions of each channel -> 8 spikes of 1
    x[1, 0, 0, 1, 1] = 2.0  # inner: reaches 3x3 positions -> 18 spikes of value 2
    return x


def test_counts_match_hand_computation():
    model = _Tiny()
    with ActivityMonitor(model) as mon:
        model(_hand_input())
    rep = mon.report()
    assert (rep.samples, rep.steps) == (1, 2)
    conv, fc = rep.layers
    assert (conv.name, conv.kind, conv.counted_as) == ("conv", "conv2d", "MAC")
    assert (fc.name, fc.kind, fc.counted_as) == ("fc", "linear", "AC")
    # conv: 2 non-zero inputs of total value 3; fan-out 2*2*2 = 8 at the corner, 3*3*2 = 18 inside
    assert (conv.input_numel, conv.input_events, conv.input_spikes) == (32, 2, 3.0)
    assert conv.sops == 1 * 8 + 2 * 18
    assert conv.macs == 2 * 2 * 16 * 9  # T*N x out_channels x H x W x (in_channels * 3 * 3)
    # linear: 8 spikes of value 1 and 18 of value 2 -> 26 events, 44 unit spikes, fan-out 3
    assert (fc.input_numel, fc.input_events, fc.input_spikes) == (64, 26, 44.0)
    assert fc.sops == 44 * 3
    assert fc.macs == 2 * 3 * 32
    assert fc.firing_rate == pytest.approx(26 / 64)
    (neuron,) = rep.neurons
    assert (neuron.name, neuron.numel, neuron.events, neuron.spikes) == ("neuron", 64, 26, 44.0)
    t = rep.totals
    assert t["energy_pj"] == pytest.approx(576 * 4.6 + 132 * 0.9)
    assert t["ann_energy_pj"] == pytest.approx((576 + 192) / 2 * 4.6)
    assert t["energy_ratio"] == pytest.approx((576 * 4.6 + 132 * 0.9) / ((576 + 192) / 2 * 4.6))
    assert (t["ac_ops"], t["mac_ops"], t["macs"]) == (132, 576, 768)


def test_energy_constants_and_first_layer_option():
    model = _Tiny()
    energy = EnergyModel(pj_per_ac=1.0, pj_per_mac=10.0, analog_first_layer=False)
    with ActivityMonitor(model, energy=energy) as mon:
        model(_hand_input())
    rep = mon.report()
    assert [r.counted_as for r in rep.layers] == ["AC", "AC"]
    assert rep.totals["energy_pj"] == pytest.approx(44 * 1.0 + 132 * 1.0)
    assert rep.totals["ann_energy_pj"] == pytest.approx(384 * 10.0)


def test_ann_is_counted_as_macs_everywhere():
    model = _Tiny(spiking=False)
    with ActivityMonitor(model) as mon:
        model(_hand_input())
    rep = mon.report()
    assert mon.is_ann and [r.counted_as for r in rep.layers] == ["MAC", "MAC"]
    assert rep.totals["energy_pj"] == pytest.approx(768 * 4.6)
    with ActivityMonitor(_Tiny(), mode="ann") as mon:
        mon.model(_hand_input())
    assert mon.report().totals["energy_pj"] == pytest.approx(768 * 4.6)
    with pytest.raises(ValueError, match="mode"):
        ActivityMonitor(model, mode="bogus")


def test_accumulates_over_calls_and_stops_after_exit():
    model = _Tiny()
    x = _hand_input()
    with ActivityMonitor(model) as mon:
        model(x)
        model(torch.cat([x, x], dim=1))  # batch of 2 copies
    model(x)  # hooks removed: not counted
    rep = mon.report()
    assert (rep.samples, rep.steps) == (3, 2)
    assert rep.layers[1].input_spikes == 3 * 44
    per = rep.per_sample()
    assert per.samples == 1 and per.layers[1].sops == pytest.approx(44 * 3)
    assert per.totals["energy_pj"] == pytest.approx(576 * 4.6 + 132 * 0.9)
    mon.reset()
    assert mon.report().layers == []


def test_table_mentions_every_layer_and_totals():
    model = _Tiny()
    with ActivityMonitor(model) as mon:
        model(_hand_input())
    text = mon.report().table()
    for word in ("conv", "fc", "neuron", "total", "MAC", "AC", "0.9 pJ/AC", "4.6 pJ/MAC"):
        assert word in text
    assert str(mon.report()) == text


def _autograd_fanout(conv: nn.Conv2d, h: int, w: int) -> torch.Tensor:
    """Fan-out oracle: d(sum of an all-ones conv)/dx counts the connections of every input."""
    ones = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride,
                     padding=conv.padding, dilation=conv.dilation, groups=conv.groups,
                     bias=False)
    with torch.no_grad():
        ones.weight.fill_(1.0)
    x = torch.zeros(1, conv.in_channels, h, w, dtype=torch.float64, requires_grad=True)
    ones.double()(x).sum().backward()
    return x.grad[0, 0]


@pytest.mark.parametrize("kwargs,size", [
    ({"kernel_size": 3, "padding": 1}, (4, 4)),
    ({"kernel_size": 3, "padding": 1, "stride": 2}, (5, 6)),
    ({"kernel_size": 3, "padding": 0, "stride": 2}, (7, 8)),
    ({"kernel_size": (5, 3), "padding": (2, 0), "dilation": (1, 2)}, (9, 7)),
    ({"kernel_size": 4, "padding": "same"}, (6, 5)),
    ({"kernel_size": 3, "padding": "valid"}, (5, 5)),
    ({"kernel_size": 3, "padding": 1, "groups": 2}, (4, 4)),
])
@pytest.mark.filterwarnings("ignore:Using padding=.same.")
def test_conv_fanout_matches_autograd(kwargs, size):
    conv = nn.Conv2d(4, 6, **kwargs)
    expected = _autograd_fanout(conv, *size)
    assert torch.equal(conv2d_fanout(conv, *size), expected)


def test_corner_fanout_by_hand():
    conv = nn.Conv2d(1, 2, 3, padding=1)
    f = conv2d_fanout(conv, 4, 4)
    assert f[0, 0] == 2 * 2 * 2 and f[1, 1] == 3 * 3 * 2 and f[0, 1] == 2 * 3 * 2


def test_registered_network_accounting():
    from eventcompress.nn import create_model

    kw = {"channels": (4, 8), "hidden": 16, "input_size": 12}
    snn = create_model("nmnist-stc-scb-mtlif", **kw).eval()
    ann = create_model("nmnist-ann", **kw).eval()
    x = torch.rand(3, 2, 2, 12, 12)
    for model, expect_ann in ((snn, False), (ann, True)):
        with ActivityMonitor(model) as mon, torch.no_grad():
            model(x)
        rep = mon.report()
        n_synaptic = sum(isinstance(m, (nn.Conv2d, nn.Linear)) for m in model.modules())
        assert len(rep.layers) == n_synaptic and (rep.samples, rep.steps) == (2, 3)
        assert rep.layers[0].counted_as == "MAC"
        assert all(r.counted_as == ("MAC" if expect_ann else "AC") for r in rep.layers[1:])
        assert len(rep.neurons) >= 3
        if not expect_ann:
            k = model.config.neuron.n_thresholds
            for n in rep.neurons:  # integer spike levels 0..K
                assert n.spikes == int(n.spikes) and n.spikes <= k * n.events
        assert math.isfinite(rep.totals["energy_ratio"])
