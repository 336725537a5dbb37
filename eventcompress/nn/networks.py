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
from typing import Any

import torch
from torch import nn

from ..config import FrozenConfig
from ..errors import ConfigError
from .blocks import (
    SCB,
    STCB,
    ConvBNNeuron,
    Flatten,
    Readout,
    SpikeAvgPool2d,
    SpikeMaxPool2d,
    TemporalDropout,
)
from .neurons import make_neuron, neuron_keywords
from .registry import register_model

__all__ = ["ARCHITECTURES", "DATASETS", "VARIANTS", "LinearBNNeuron", "NetworkConfig",
           "SpikingNet", "build_network"]


@dataclass(frozen=True)
class NetworkConfig(FrozenConfig):
    """Every setting of a :class:`SpikingNet`; the registry's overrides are its fields."""

    dataset: str
    variant: str
    in_channels: int
    input_size: tuple[int, int]  # (height, width)
    n_classes: int
    channels: tuple[int, ...]
    pool_after: tuple[int, ...]  # indices of the blocks followed by a 2x2 pooling
    hidden: int  # width of the hidden linear-BN-neuron layer; 0: flatten into the readout
    block: str  # "scb" | "convbn" | "stcb"
    neuron: str  # neuron of conv blocks and hidden layer (make_neuron kind)
    kernel_size: int = 3
    pool: str = "max"
    dropout: float = 0.0
    readout: str = "membrane"
    n_thresholds: int = 1
    theta: float = 1.0
    thresholds: str | tuple[float, ...] = "linear"  # "linear", "geometric" or the values
    threshold_ratio: float = 2.0
    tau0: float = 2.0
    surrogate: str = "rect"
    surrogate_width: float = 1.0
    surrogate_alpha: float | None = None
    reset: str = "soft"
    v_reset: float = 0.0
    detach_reset: bool = False
    per_channel: bool = False
    T_equiv: int = 4
    beta0: float = 0.5
    time_first: bool = True

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one time step."""
        return (self.in_channels, *self.input_size)

    @property
    def neuron_kwargs(self) -> dict[str, Any]:
        """The neuron settings the kind ``self.neuron`` takes (see ``make_neuron``)."""
        accepted = neuron_keywords(self.neuron)
        return {key: getattr(self, key) for key in _NEURON_FIELDS if key in accepted}


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

# NetworkConfig fields handed to make_neuron (each kind takes those it understands).
_NEURON_FIELDS = ("theta", "n_thresholds", "thresholds", "threshold_ratio", "tau0", "surrogate",
                  "surrogate_width", "surrogate_alpha", "reset", "v_reset", "detach_reset",
                  "T_equiv")
_POOLS = ("max", "avg")
_BLOCKS = ("scb", "convbn", "stcb")


class LinearBNNeuron(nn.Module):
    """Linear (no bias) -> BatchNorm1d (statistics shared over time) -> neuron, ``[T, N, F]``.

    The batch norm keeps the hidden neurons' input at unit scale whatever the fan-in (thousands
    of sparse spikes after the flatten): without it, the neurons of a freshly initialised network
    sit below threshold, outside the surrogate's support, and receive no gradient. At inference
    the norm folds into the linear weights, so it costs no extra operation.
    """

    def __init__(self, in_features: int, out_features: int, neuron: str,
                 neuron_kwargs: dict[str, Any]) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, out_features, bias=False)
        self.bn = nn.BatchNorm1d(out_features)
        self.neuron = make_neuron(neuron, **neuron_kwargs)

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
        self.single_step = config.neuron == "s3nn"
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
            head.append(LinearBNNeuron(n_features, c.hidden, neuron=c.neuron,
                                       neuron_kwargs=self._neuron_kwargs(c.hidden)))
            if c.dropout > 0:
                head.append(TemporalDropout(c.dropout))
            n_features = c.hidden
        self.classifier = nn.Sequential(*head)
        self.readout = Readout(n_features, c.n_classes, mode=c.readout)

    def _neuron_kwargs(self, channels: int) -> dict[str, Any]:
        kwargs = self.config.neuron_kwargs
        if self.config.per_channel and self.config.neuron in ("mtlif", "lif", "plif"):
            kwargs["per_channel"] = channels
        return kwargs

    def _block(self, in_ch: int, out_ch: int, k: int) -> nn.Module:
        c = self.config
        if c.block == "stcb":
            return STCB(in_ch, out_ch, kernel_size=k, padding=k // 2, theta=c.theta,
                        n_thresholds=c.n_thresholds)
        block_cls = SCB if c.block == "scb" else ConvBNNeuron
        kwargs = {"beta0": c.beta0} if c.block == "scb" else {}
        return block_cls(in_ch, out_ch, kernel_size=k, padding=k // 2, neuron=c.neuron,
                         neuron_kwargs=self._neuron_kwargs(out_ch), **kwargs)

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


def _size_pair(value: Any) -> tuple[int, int]:
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, value)
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value):
        return (int(value[0]), int(value[1]))
    raise ConfigError(f"expected an integer or (height, width), got {value!r}", key="input_size")


def _validate(c: NetworkConfig) -> None:
    def bad(key: str, message: str) -> ConfigError:
        return ConfigError(f"{message}, got {getattr(c, key)!r}", key=key)

    for key in ("in_channels", "n_classes", "kernel_size", "n_thresholds"):
        value = getattr(c, key)
        if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            raise bad(key, "must be an integer >= 1")
    if c.kernel_size % 2 == 0:
        raise bad("kernel_size", "must be odd (the blocks pad by kernel_size // 2)")
    if not c.channels or not all(isinstance(v, int) and v >= 1 for v in c.channels):
        raise bad("channels", "must be a non-empty list of positive integers")
    if not all(isinstance(i, int) and 0 <= i < len(c.channels) for i in c.pool_after):
        raise bad("pool_after", f"must list block indices in 0..{len(c.channels) - 1}")
    if not (isinstance(c.hidden, int) and c.hidden >= 0):
        raise bad("hidden", "must be an integer >= 0")
    if not (isinstance(c.dropout, (int, float)) and 0 <= c.dropout < 1):
        raise bad("dropout", "must be in [0, 1)")
    if c.pool not in _POOLS:
        raise bad("pool", f"must be one of {', '.join(_POOLS)}")
    if c.block not in _BLOCKS:
        raise bad("block", f"must be one of {', '.join(_BLOCKS)}")
    _validate_neuron_settings(c)
    h, w = c.input_size
    factor = 2 ** len(set(c.pool_after))
    if h // factor < 1 or w // factor < 1:
        raise ConfigError(f"{h}x{w} input is too small for {len(set(c.pool_after))} 2x2 poolings",
                          key="input_size")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _validate_neuron_settings(c: NetworkConfig) -> None:
    """Types of the neuron settings; their values are checked by the neurons themselves."""
    if not isinstance(c.thresholds, str) and not (
            isinstance(c.thresholds, tuple) and c.thresholds
            and all(_is_number(v) for v in c.thresholds)):
        raise ConfigError(f"must be 'linear', 'geometric' or a non-empty list of numbers, got "
                          f"{c.thresholds!r}", key="thresholds")
    for key in ("threshold_ratio", "v_reset"):
        if not _is_number(getattr(c, key)):
            raise ConfigError(f"must be a number, got {getattr(c, key)!r}", key=key)
    if c.surrogate_alpha is not None and not _is_number(c.surrogate_alpha):
        raise ConfigError(f"must be a number (or absent), got {c.surrogate_alpha!r}",
                          key="surrogate_alpha")
    if not isinstance(c.detach_reset, bool):
        raise ConfigError(f"must be true or false, got {c.detach_reset!r}", key="detach_reset")
    if not (isinstance(c.T_equiv, int) and not isinstance(c.T_equiv, bool) and c.T_equiv >= 1):
        raise ConfigError(f"must be an integer >= 1, got {c.T_equiv!r}", key="T_equiv")
    if c.block == "stcb" and c.thresholds != "linear":
        # The STCB count-rate gradient r'(s) = 1/theta assumes equally spaced levels.
        raise ConfigError(f"the STCB blocks support only linear thresholds i * theta, got "
                          f"{c.thresholds!r}", key="thresholds")


def build_network(dataset: str, variant: str, **overrides: Any) -> SpikingNet:
    """The ``<dataset>-<variant>`` network with ``overrides`` (fields of :class:`NetworkConfig`)."""
    if dataset not in ARCHITECTURES:
        raise ConfigError(f"unknown dataset {dataset!r}; expected one of {', '.join(DATASETS)}",
                          key="dataset")
    if variant not in VARIANTS:
        raise ConfigError(f"unknown variant {variant!r}; expected one of "
                          f"{', '.join(VARIANTS)}", key="variant")
    settings = _defaults(dataset, variant)
    unknown = sorted(set(overrides) - set(settings))
    if unknown:
        raise ConfigError(f"unknown override(s) {', '.join(unknown)}; valid: "
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
    settings["input_size"] = _size_pair(settings["input_size"])
    for key in ("channels", "pool_after"):
        settings[key] = tuple(settings[key])
    if isinstance(settings["thresholds"], list):
        settings["thresholds"] = tuple(settings["thresholds"])
    config = NetworkConfig(dataset=dataset, variant=variant, block=VARIANTS[variant]["block"],
                           neuron=VARIANTS[variant]["neuron"], **settings)
    _validate(config)
    return SpikingNet(config)


_FIXED = {"dataset", "variant", "block", "neuron"}


def _defaults(dataset: str, variant: str) -> dict[str, Any]:
    """The overridable settings of one network and their default values."""
    base = {f.name: f.default for f in dataclasses.fields(NetworkConfig)
            if f.name not in _FIXED and f.default is not dataclasses.MISSING}
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
                           description=spec["_doc"], defaults=_defaults(dataset, variant))


_register_all()
