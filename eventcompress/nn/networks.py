"""The registered networks: three architectures (one per dataset) times six variants.

Every network is a :class:`SpikingNet`: convolutional blocks (``features``), a classifier
(flatten, dropout, optional hidden ``LinearNeuron``) and a ``Readout`` turning ``[T, N, F]`` into
logits ``[N, n_classes]``. The variants differ only in the block and the neuron:

==================  ===========================  ============================================
variant             blocks                       neuron
==================  ===========================  ============================================
``stc-scb-mtlif``   SCB (conv, BN, synapse)      MT-LIF, K = 4 learnable leak (paper method)
``mtlif``           conv, BN                     MT-LIF, K = 4 (ablation: no SCB)
``plif``            conv, BN                     PLIF, K = 1
``s3nn``            conv, BN                     single-step S3NN neuron, run at T = 1
``stcb``            STCB (spike-train level)     IF in STCB; IF, K levels in the classifier
``ann``             conv, BN                     ReLU (same topology, real-valued)
==================  ===========================  ============================================

Architectures and their parameter counts are tabulated in docs/networks.md.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from ..config import FrozenConfig
from ..errors import ConfigError
from .blocks import (
    READOUT_MODES,
    SCB,
    STCB,
    ConvBNNeuron,
    Flatten,
    Readout,
    SpikeAvgPool2d,
    SpikeMaxPool2d,
    TemporalDropout,
    synapse_logit,
)
from .neurons import NEURON_SETTINGS, NeuronConfig
from .registry import register_model
from .settings import check_field_types, did_you_mean, unknown_choice

__all__ = ["ARCHITECTURES", "DATASETS", "READOUT_NEURON", "VARIANTS", "LinearBNNeuron",
           "NetworkConfig", "NeuronConfig", "SpikingNet", "build_network", "network_config"]


@dataclass(frozen=True)
class NetworkConfig(FrozenConfig):
    """Every setting of a :class:`SpikingNet`, checked when the record is made.

    The neuron settings live in the nested :class:`NeuronConfig` ``neuron`` (its ``kind`` is the
    neuron of the conv blocks and the hidden layer; a spiking readout uses the same settings
    with kind ``"plif"``). The registry's flat overrides (``theta=0.5``) are the fields of both
    records but ``dataset``, ``variant``, ``block`` and ``neuron``/``kind``, which the network's
    name fixes (``model_info(name)["defaults"]`` lists them).
    """

    dataset: str
    variant: str
    in_channels: int
    input_size: tuple[int, int]  # (height, width); an int means a square
    n_classes: int
    channels: tuple[int, ...]
    pool_after: tuple[int, ...]  # indices of the blocks followed by a 2x2 pooling
    hidden: int  # width of the hidden linear-BN-neuron layer; 0: flatten into the readout
    block: str  # "scb" | "convbn" | "stcb"
    neuron: NeuronConfig
    kernel_size: int = 3
    pool: str = "max"
    dropout: float = 0.0
    readout: str = "membrane"
    beta0: float = 0.5
    time_first: bool = True

    # 2: the neuron settings moved from flat fields (and the kind string ``neuron``) into the
    # nested NeuronConfig ``neuron``; numbers are stored in their field's type (1 -> 1.0).
    schema_version: ClassVar[int] = 2

    def __post_init__(self) -> None:
        size = self.input_size
        if isinstance(size, int) and not isinstance(size, bool):
            object.__setattr__(self, "input_size", (size, size))
        if not isinstance(self.neuron, NeuronConfig):
            raise ConfigError(f"expected a NeuronConfig, got {self.neuron!r}", key="neuron")
        check_field_types(self)
        _validate(self)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one time step."""
        return (self.in_channels, *self.input_size)

    @property
    def readout_neuron(self) -> NeuronConfig:
        """The spiking readout's neuron: the network's settings, kind ``"plif"``."""
        return dataclasses.replace(self.neuron, kind=READOUT_NEURON)


#: Per-dataset topology: input, classes, conv channels, pooled blocks, hidden width.
ARCHITECTURES: dict[str, dict[str, Any]] = {
    "nmnist": {"in_channels": 2, "input_size": 34, "n_classes": 10, "channels": (32, 64),
               "pool_after": (0, 1), "hidden": 128, "dropout": 0.0},
    "cifar10dvs": {"in_channels": 2, "input_size": 48, "n_classes": 10, "channels": (128,) * 5,
                   "pool_after": (1, 3, 4), "hidden": 256, "dropout": 0.5},
    "dvsgesture": {"in_channels": 2, "input_size": 32, "n_classes": 11, "channels": (128,) * 5,
                   "pool_after": (0, 1, 2, 3), "hidden": 256, "dropout": 0.5},
}
DATASETS = tuple(ARCHITECTURES)

#: Per-variant block and neuron.
VARIANTS: dict[str, dict[str, Any]] = {
    "stc-scb-mtlif": {"block": "scb", "neuron": "mtlif", "n_thresholds": 4,
                      "_doc": "SCB blocks + MT-LIF neurons (STC input): the paper's method"},
    "mtlif": {"block": "convbn", "neuron": "mtlif", "n_thresholds": 4,
              "_doc": "conv-BN blocks + MT-LIF neurons, no SCB (ablation)"},
    "plif": {"block": "convbn", "neuron": "plif", "n_thresholds": 1,
             "_doc": "conv-BN blocks + PLIF neurons (K=1 baseline)"},
    "s3nn": {"block": "convbn", "neuron": "s3nn", "n_thresholds": 1,
             "_doc": "single-step S3NN neurons; T>1 steps are classified independently"},
    "stcb": {"block": "stcb", "neuron": "if", "n_thresholds": 1,
             "_doc": "spatio-temporal conversion blocks (spike-train level SNN)"},
    "ann": {"block": "convbn", "neuron": "relu", "n_thresholds": 1,
            "_doc": "ReLU network of the same topology (ANN baseline)"},
}

#: Neuron kind of a spiking readout (``readout`` ``"count"`` or ``"rate"``).
READOUT_NEURON = "plif"
_POOLS = ("max", "avg")
_BLOCKS = ("scb", "convbn", "stcb")


class LinearBNNeuron(nn.Module):
    """Linear (no bias) -> BatchNorm1d (statistics shared over time) -> neuron, ``[T, N, F]``.

    The batch norm keeps the hidden neurons' input at unit scale whatever the fan-in (thousands
    of sparse spikes after the flatten): without it, the neurons of a freshly initialised network
    sit below threshold, outside the surrogate's support, and receive no gradient. At inference
    the norm folds into the linear weights, so it costs no extra operation.
    """

    def __init__(self, in_features: int, out_features: int, neuron: NeuronConfig) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, out_features, bias=False)
        self.bn = nn.BatchNorm1d(out_features)
        self.neuron = neuron.build(out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t, n = x.shape[:2]
        y = self.bn(self.linear(x).reshape(t * n, -1)).reshape(t, n, -1)
        return self.neuron(y)


class SpikingNet(nn.Module):
    """Blocks, classifier and readout over time-first input ``[T, N, C, H, W]``.

    With ``config.time_first = False`` the input is ``[N, T, C, H, W]``. Returns logits
    ``[N, n_classes]``. Single-step networks (the ``s3nn`` variant) fold the T steps into the batch
    (``[1, T*N, ...]``) and average the T per-step logits.
    """

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        self.config = config
        self.time_first = config.time_first
        self.single_step = config.neuron.kind == "s3nn"
        c = config
        k = c.kernel_size
        layers: list[nn.Module] = []
        in_ch = c.in_channels
        h, w = c.input_size
        pool_cls = SpikeMaxPool2d if c.pool == "max" else SpikeAvgPool2d
        for i, out_ch in enumerate(c.channels):
            layers.append(self._block(in_ch, out_ch, k))
            if i in c.pool_after:
                layers.append(pool_cls(2))
                h, w = h // 2, w // 2
            in_ch = out_ch
        self.features = nn.Sequential(*layers)
        self.feature_shape = (in_ch, h, w)
        n_features = in_ch * h * w
        head: list[nn.Module] = [Flatten()]
        if c.dropout > 0:
            head.append(TemporalDropout(c.dropout))
        if c.hidden:
            head.append(LinearBNNeuron(n_features, c.hidden, neuron=c.neuron))
            if c.dropout > 0:
                head.append(TemporalDropout(c.dropout))
            n_features = c.hidden
        self.classifier = nn.Sequential(*head)
        # a spiking readout is batch-normalised (see Readout): unnormalised, its input stayed
        # below the surrogate's support at initialisation and no gradient flowed (issue 13)
        self.readout = Readout(n_features, c.n_classes, mode=c.readout,
                               neuron=c.readout_neuron, norm=c.readout != "membrane")

    def _block(self, in_ch: int, out_ch: int, k: int) -> nn.Module:
        c = self.config
        if c.block == "stcb":
            return STCB(in_ch, out_ch, kernel_size=k, padding=k // 2, theta=c.neuron.theta,
                        n_thresholds=c.neuron.n_thresholds)
        block_cls = SCB if c.block == "scb" else ConvBNNeuron
        kwargs = {"beta0": c.beta0} if c.block == "scb" else {}
        return block_cls(in_ch, out_ch, kernel_size=k, padding=k // 2, neuron=c.neuron,
                         **kwargs)

    @property
    def batch_dim(self) -> int:
        return 1 if self.time_first else 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5 or tuple(x.shape[2:]) != self.config.input_shape:
            layout = "[T, N, C, H, W]" if self.time_first else "[N, T, C, H, W]"
            raise ValueError(f"{self.config.dataset}-{self.config.variant} expects input "
                             f"{layout} with (C, H, W) = {self.config.input_shape}, "
                             f"got shape {tuple(x.shape)}")
        if not self.time_first:
            x = x.transpose(0, 1)
        steps, batch = x.shape[:2]
        if self.single_step and steps > 1:
            x = x.reshape(1, steps * batch, *x.shape[2:])
        logits = self.readout(self.classifier(self.features(x)))
        if self.single_step and steps > 1:
            logits = logits.reshape(steps, batch, -1).mean(0)
        return logits


def _validate(c: NetworkConfig) -> None:
    """Values of the network settings (their types are checked from the annotations)."""
    def bad(key: str, message: str) -> ConfigError:
        return ConfigError(f"{message}, got {getattr(c, key)!r}", key=key)

    for key in ("in_channels", "n_classes", "kernel_size"):
        if getattr(c, key) < 1:
            raise bad(key, "must be an integer >= 1")
    if c.kernel_size % 2 == 0:
        raise bad("kernel_size", "must be odd (the blocks pad by kernel_size // 2)")
    if not c.channels or min(c.channels) < 1:
        raise bad("channels", "must be a non-empty list of positive integers")
    if not all(0 <= i < len(c.channels) for i in c.pool_after):
        raise bad("pool_after", f"must list block indices in 0..{len(c.channels) - 1}")
    if c.hidden < 0:
        raise bad("hidden", "must be an integer >= 0")
    if not 0 <= c.dropout < 1:
        raise bad("dropout", "must be in [0, 1)")
    if c.pool not in _POOLS:
        raise unknown_choice("pool", c.pool, _POOLS, "pool")
    if c.block not in _BLOCKS:
        raise unknown_choice("block", c.block, _BLOCKS, "block")
    if c.readout not in READOUT_MODES:
        raise unknown_choice("readout", c.readout, READOUT_MODES, "readout mode")
    synapse_logit(c.beta0)
    if c.readout != "membrane":
        c.readout_neuron  # noqa: B018 (made, hence checked: e.g. tau0 > 1, which IF ignores)
    if c.block == "stcb" and c.neuron.thresholds != "linear":
        # The STCB count-rate gradient r'(s) = 1/theta assumes equally spaced levels.
        raise ConfigError(f"the STCB blocks support only linear thresholds i * theta, got "
                          f"{c.neuron.thresholds!r}", key="thresholds")
    h, w = c.input_size
    factor = 2 ** len(set(c.pool_after))
    if min(h, w) < 1 or h // factor < 1 or w // factor < 1:
        raise ConfigError(f"{h}x{w} input is too small for {len(set(c.pool_after))} 2x2 poolings",
                          key="input_size")


def network_config(dataset: str, variant: str, **overrides: Any) -> NetworkConfig:
    """The :class:`NetworkConfig` of ``<dataset>-<variant>`` with flat ``overrides``.

    Each override is a field of :class:`NetworkConfig` or of :class:`NeuronConfig`;
    ``ConfigError`` names the first bad one (its ``key`` is the override's name).
    """
    if dataset not in ARCHITECTURES:
        raise unknown_choice("dataset", dataset, DATASETS, "dataset")
    if variant not in VARIANTS:
        raise unknown_choice("variant", variant, tuple(VARIANTS), "variant")
    settings = _defaults(dataset, variant)
    unknown = sorted(set(overrides) - set(settings))
    if unknown:
        raise ConfigError(f"unknown override(s) {', '.join(unknown)}"
                          f"{did_you_mean(unknown[0], sorted(settings))}; valid: "
                          f"{', '.join(sorted(settings))}", key=unknown[0])
    settings.update(overrides)
    if "channels" in overrides and "pool_after" not in overrides:
        # Keep the default pooling where it still fits; a different depth needs pool_after.
        n = len(settings["channels"])
        default_n = len(ARCHITECTURES[dataset]["channels"])
        if n != default_n:
            raise ConfigError(f"channels has {n} blocks instead of {default_n}; give pool_after "
                              "(the indices of the blocks followed by a 2x2 pooling) too",
                              key="pool_after")
    neuron = NeuronConfig(kind=VARIANTS[variant]["neuron"],
                          **{k: settings.pop(k) for k in NEURON_SETTINGS})
    return NetworkConfig(dataset=dataset, variant=variant, block=VARIANTS[variant]["block"],
                         neuron=neuron, **settings)


def build_network(dataset: str, variant: str, **overrides: Any) -> SpikingNet:
    """The ``<dataset>-<variant>`` network with ``overrides`` (see :func:`network_config`)."""
    return SpikingNet(network_config(dataset, variant, **overrides))


_FIXED = {"dataset", "variant", "block", "neuron"}


def _defaults(dataset: str, variant: str) -> dict[str, Any]:
    """The overridable settings of one network and their default values."""
    records = (*dataclasses.fields(NetworkConfig), *dataclasses.fields(NeuronConfig))
    base = {f.name: f.default for f in records
            if f.name not in _FIXED and f.name != "kind" and f.default is not dataclasses.MISSING}
    base.update(ARCHITECTURES[dataset])
    base.update({k: v for k, v in VARIANTS[variant].items() if not k.startswith("_")})
    for key in ("block", "neuron"):
        base.pop(key)
    return base


def _register_all() -> None:
    for dataset in DATASETS:
        for variant, spec in VARIANTS.items():
            register_model(functools.partial(build_network, dataset, variant),
                           name=f"{dataset}-{variant}", dataset=dataset, variant=variant,
                           description=spec["_doc"], defaults=_defaults(dataset, variant),
                           configure=functools.partial(network_config, dataset, variant))


_register_all()
