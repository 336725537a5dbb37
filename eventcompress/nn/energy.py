"""Activity and energy accounting: spikes, synaptic operations, MACs and an energy estimate.

``ActivityMonitor`` puts forward hooks on every ``Conv2d`` and ``Linear`` of a model (the synaptic
layers) and on every spiking neuron (modules with an ``is_spiking`` attribute). For each synaptic
layer it records, summed over every call while the monitor is open:

* ``input_events``: non-zero input elements (spike events, whatever their level);
* ``input_spikes``: the sum of the input values. A K-level spike of value k counts as k unit
  spikes, because the layer must add its weight k times (or once, scaled, for k a power of two;
  we keep the conservative count);
* ``sops``: synaptic operations, the sum over input elements of value x times the number of
  outputs that element is connected to (its fan-out). For a ``Linear`` the fan-out is
  ``out_features``; for a ``Conv2d`` it is ``out_channels / groups`` times the number of output
  positions whose receptive field contains the input position (fewer at the borders, depending on
  padding and stride). That count is exact: it is computed per axis from the kernel size, stride,
  dilation and padding (it is separable), not approximated by ``k*k/stride**2``;
* ``macs``: the multiply-accumulates of the same layer run densely, as an ANN would:
  ``output elements x in_channels/groups x kh x kw`` for a convolution and
  ``output elements x in_features`` for a linear layer (bias additions are not counted).

Energy: a layer fed with spikes costs ``sops x pj_per_ac`` (accumulate only); a layer fed with
real values costs ``macs x pj_per_mac``. By default the first synaptic layer executed is counted
as MACs, because it receives analog input (STC synaptic currents or frame counts), and every
layer of a model without spiking neurons (the ANN baseline) too. The ANN reference energy is the
MAC count of one pass (total MACs divided by the number of time steps) times ``pj_per_mac``. The
constants 0.9 pJ per 32-bit float add and 4.6 pJ per 32-bit float multiply-add (3.7 pJ multiply
+ 0.9 pJ add) are the 45 nm figures of Horowitz (ISSCC 2014) used throughout the SNN literature.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import nn

from ..config import FrozenConfig

__all__ = [
    "ActivityMonitor",
    "ActivityReport",
    "EnergyModel",
    "LayerActivity",
    "NeuronActivity",
    "conv2d_fanout",
]


@dataclass(frozen=True)
class EnergyModel(FrozenConfig):
    """Energy per operation in picojoules and which layers count as MACs.

    ``analog_first_layer``: count the first synaptic layer as MACs (it receives real values).
    """

    pj_per_ac: float = 0.9
    pj_per_mac: float = 4.6
    analog_first_layer: bool = True


@dataclass
class LayerActivity:
    """Counts for one synaptic layer (``Conv2d`` or ``Linear``), summed over calls."""

    name: str
    kind: str
    calls: int = 0
    input_numel: int = 0
    input_events: int = 0
    input_spikes: float = 0.0
    sops: float = 0.0
    macs: int = 0
    counted_as: str = "AC"

    @property
    def firing_rate(self) -> float:
        """Fraction of non-zero input elements."""
        return self.input_events / self.input_numel if self.input_numel else 0.0

    def energy_pj(self, energy: EnergyModel) -> float:
        if self.counted_as == "MAC":
            return self.macs * energy.pj_per_mac
        return self.sops * energy.pj_per_ac


@dataclass
class NeuronActivity:
    """Output counts of one neuron module (spiking or ReLU)."""

    name: str
    kind: str
    numel: int = 0
    events: int = 0
    spikes: float = 0.0

    @property
    def firing_rate(self) -> float:
        return self.events / self.numel if self.numel else 0.0


@dataclass
class ActivityReport:
    """Per-layer rows and totals; ``samples`` and ``steps`` describe the inputs seen."""

    layers: list[LayerActivity]
    neurons: list[NeuronActivity]
    samples: int
    steps: int
    energy: EnergyModel = field(default_factory=EnergyModel)

    @property
    def totals(self) -> dict[str, float]:
        """Summed counts; ``energy_pj`` (this network) and ``ann_energy_pj`` (one dense pass)."""
        macs = sum(r.macs for r in self.layers)
        energy_pj = sum(r.energy_pj(self.energy) for r in self.layers)
        ann_pj = macs / max(self.steps, 1) * self.energy.pj_per_mac
        return {
            "input_spikes": sum(r.input_spikes for r in self.layers),
            "input_events": sum(r.input_events for r in self.layers),
            "sops": sum(r.sops for r in self.layers),
            "ac_ops": sum(r.sops for r in self.layers if r.counted_as == "AC"),
            "mac_ops": sum(r.macs for r in self.layers if r.counted_as == "MAC"),
            "macs": macs,
            "neuron_spikes": sum(n.spikes for n in self.neurons),
            "energy_pj": energy_pj,
            "ann_energy_pj": ann_pj,
            "energy_ratio": energy_pj / ann_pj if ann_pj else math.nan,
        }

    def per_sample(self) -> ActivityReport:
        """The same report with every count divided by the number of samples."""
        n = max(self.samples, 1)
        layers = [replace(r, input_numel=r.input_numel // n, input_events=r.input_events / n,
                          input_spikes=r.input_spikes / n, sops=r.sops / n, macs=r.macs / n)
                  for r in self.layers]
        neurons = [replace(r, numel=r.numel // n, events=r.events / n, spikes=r.spikes / n)
                   for r in self.neurons]
        return ActivityReport(layers, neurons, 1, self.steps, self.energy)

    def table(self) -> str:
        """A plain-text table of the synaptic layers, neurons and totals."""
        header = ("layer", "type", "cost", "in rate", "in spikes", "SOPs", "MACs", "energy")
        rows = [(r.name, r.kind, r.counted_as, f"{r.firing_rate:.3f}", _si(r.input_spikes),
                 _si(r.sops), _si(r.macs), _si(r.energy_pj(self.energy) * 1e-12, "J"))
                for r in self.layers]
        t = self.totals
        rows.append(("total", "", "", "", _si(t["input_spikes"]), _si(t["sops"]), _si(t["macs"]),
                     _si(t["energy_pj"] * 1e-12, "J")))
        lines = [f"{self.samples} sample(s), {self.steps} time step(s); "
                 f"{self.energy.pj_per_ac} pJ/AC, {self.energy.pj_per_mac} pJ/MAC"]
        lines += _format_rows(header, rows)
        if self.neurons:
            lines.append("")
            lines += _format_rows(
                ("neuron", "type", "rate", "spikes"),
                [(n.name, n.kind, f"{n.firing_rate:.3f}", _si(n.spikes)) for n in self.neurons])
        lines.append("")
        lines.append(f"energy {_si(t['energy_pj'] * 1e-12, 'J')} vs ANN (one dense pass) "
                     f"{_si(t['ann_energy_pj'] * 1e-12, 'J')}: ratio {t['energy_ratio']:.3f}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def _si(value: float, unit: str = "") -> str:
    if value == 0:
        return f"0{unit and ' ' + unit}"
    prefixes = [(1e9, "G"), (1e6, "M"), (1e3, "k"), (1, ""), (1e-3, "m"), (1e-6, "u"),
                (1e-9, "n"), (1e-12, "p")] if unit else [(1e9, "G"), (1e6, "M"), (1e3, "k")]
    for scale, p in prefixes:
        if abs(value) >= scale:
            return f"{value / scale:.3g} {p}{unit}".rstrip()
    return f"{value:.3g} {unit}".rstrip()


def _format_rows(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[str]:
    cells = [tuple(str(c) for c in header)] + [tuple(str(c) for c in r) for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    out = []
    for j, r in enumerate(cells):
        out.append("  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                             for i, (c, w) in enumerate(zip(r, widths))).rstrip())
        if j == 0:
            out.append("  ".join("-" * w for w in widths))
    return out


def _axis_fanout(size: int, out_size: int, kernel: int, stride: int, dilation: int,
                 pad_before: int) -> torch.Tensor:
    """For each input index along one axis, how many (output index, tap) pairs read it."""
    cover = torch.zeros(size, dtype=torch.float64)
    for o in range(out_size):
        for k in range(kernel):
            i = o * stride - pad_before + k * dilation
            if 0 <= i < size:
                cover[i] += 1
    return cover


def conv2d_fanout(conv: nn.Conv2d, height: int, width: int) -> torch.Tensor:
    """Fan-out of every input position of ``conv`` for an ``height x width`` input, ``[H, W]``.

    Entry ``[h, w]`` is the number of outputs (over all output channels of the group and all
    output positions) that input element ``(c, h, w)`` contributes to; zero padding is assumed
    (other padding modes reuse border inputs, which this count does not include).
    """
    kh, kw = conv.kernel_size
    sh, sw = conv.stride
    dh, dw = conv.dilation
    if isinstance(conv.padding, str):
        if conv.padding == "valid":
            pads = (0, 0)
        else:  # "same": PyTorch puts the odd extra pixel after
            pads = (dh * (kh - 1) // 2, dw * (kw - 1) // 2)
    else:
        pads = conv.padding
    out_h = (height + _total_pad(conv, 0, dh, kh) - dh * (kh - 1) - 1) // sh + 1
    out_w = (width + _total_pad(conv, 1, dw, kw) - dw * (kw - 1) - 1) // sw + 1
    cov_h = _axis_fanout(height, out_h, kh, sh, dh, pads[0])
    cov_w = _axis_fanout(width, out_w, kw, sw, dw, pads[1])
    return torch.outer(cov_h, cov_w) * (conv.out_channels // conv.groups)


def _total_pad(conv: nn.Conv2d, axis: int, dilation: int, kernel: int) -> int:
    if isinstance(conv.padding, str):
        return 0 if conv.padding == "valid" else dilation * (kernel - 1)
    return 2 * conv.padding[axis]


class ActivityMonitor:
    """Context manager counting activity of ``model`` during forward passes.

    ``with ActivityMonitor(model) as mon: model(x)`` then ``mon.report()``. ``mode`` is ``"auto"``
    (ANN when the model has neuron modules and none of them spikes), ``"snn"`` or ``"ann"`` (every
    layer counted as MACs). The number of samples and time steps is read from the model's input,
    time-first ``[T, N, ...]`` unless the model has ``time_first = False``.
    """

    def __init__(self, model: nn.Module, *, energy: EnergyModel | None = None,
                 mode: str = "auto") -> None:
        if mode not in ("auto", "snn", "ann"):
            raise ValueError(f"mode must be 'auto', 'snn' or 'ann', not {mode!r}")
        self.model = model
        self.energy = energy or EnergyModel()
        flags = [bool(m.is_spiking) for m in model.modules() if hasattr(m, "is_spiking")]
        self.is_ann = mode == "ann" or (mode == "auto" and bool(flags) and not any(flags))
        self._handles: list[Any] = []
        self._fanout_cache: dict[tuple[int, int, int], torch.Tensor] = {}
        self.reset()

    def reset(self) -> None:
        """Forget every count (hooks stay in place)."""
        self._layers: dict[str, LayerActivity] = {}
        self._neurons: dict[str, NeuronActivity] = {}
        self.samples = 0
        self.steps = 0

    def __enter__(self) -> ActivityMonitor:
        self._handles.append(self.model.register_forward_pre_hook(self._count_input))
        for name, module in self.model.named_modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                self._handles.append(module.register_forward_hook(self._layer_hook(name)))
            elif hasattr(module, "is_spiking"):
                self._handles.append(module.register_forward_hook(self._neuron_hook(name)))
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def _count_input(self, module: nn.Module, args: tuple[Any, ...]) -> None:
        if not args or not isinstance(args[0], torch.Tensor) or args[0].dim() < 2:
            self.samples += 1
            self.steps = max(self.steps, 1)
            return
        shape = args[0].shape
        t, n = (shape[0], shape[1]) if getattr(module, "time_first", True) else (shape[1], shape[0])
        self.samples += int(n)
        self.steps = max(self.steps, int(t))

    def _layer_hook(self, name: str) -> Any:
        def hook(module: nn.Module, args: tuple[Any, ...], output: torch.Tensor) -> None:
            with torch.no_grad():
                self._count_layer(name, module, args[0].detach(), output)

        return hook

    def _neuron_hook(self, name: str) -> Any:
        def hook(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
            if not isinstance(output, torch.Tensor):
                return
            with torch.no_grad():
                row = self._neurons.get(name)
                if row is None:
                    kind = type(module).__name__
                    row = self._neurons[name] = NeuronActivity(name, kind)
                out = output.detach()
                row.numel += out.numel()
                row.events += int(torch.count_nonzero(out))
                row.spikes += float(out.abs().sum(dtype=torch.float64))

        return hook

    def _count_layer(self, name: str, module: nn.Module, x: torch.Tensor,
                     out: torch.Tensor) -> None:
        row = self._layers.get(name)
        if row is None:
            first = not self._layers and self.energy.analog_first_layer
            kind = "conv2d" if isinstance(module, nn.Conv2d) else "linear"
            row = self._layers[name] = LayerActivity(
                name, kind, counted_as="MAC" if (first or self.is_ann) else "AC")
        ax = x.abs()
        row.calls += 1
        row.input_numel += x.numel()
        row.input_events += int(torch.count_nonzero(x))
        row.input_spikes += float(ax.sum(dtype=torch.float64))
        if isinstance(module, nn.Conv2d):
            h, w = x.shape[-2:]
            spatial = ax.reshape(-1, h, w).sum(dim=0, dtype=torch.float64)
            row.sops += float((spatial * self._fanout(module, h, w)).sum())
            kh, kw = module.kernel_size
            row.macs += out.numel() * (module.in_channels // module.groups) * kh * kw
        else:
            row.sops += float(ax.sum(dtype=torch.float64)) * module.out_features
            row.macs += out.numel() * module.in_features

    def _fanout(self, conv: nn.Conv2d, h: int, w: int) -> torch.Tensor:
        key = (id(conv), h, w)
        if key not in self._fanout_cache:
            self._fanout_cache[key] = conv2d_fanout(conv, h, w).to(conv.weight.device)
        return self._fanout_cache[key]

    def report(self) -> ActivityReport:
        """The counts so far: one row per synaptic layer and per neuron, in execution order."""
        return ActivityReport(list(self._layers.values()), list(self._neurons.values()),
                              self.samples, self.steps, self.energy)
