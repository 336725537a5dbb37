"""Model recipes: one TOML file per (dataset, network) with everything needed to train it.

A recipe names the input representation (``[preprocessing]``), the registered network and its
overrides (``[model]``), the optimiser, learning-rate schedule and training loop settings, and the
publication it reproduces (``[reference]``). ``load(path)`` parses and validates a file into frozen
dataclasses whose canonical JSON and sha256 (``Recipe.sha256()``) identify the experiment.

The recipes shipped with the project live in ``models/`` at the repository root (not inside the
package); ``EVENTCOMPRESS_MODELS`` points elsewhere. See docs/networks.md for every key.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import FrozenConfig
from .errors import ConfigError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    try:
        import tomli as tomllib  # type: ignore[no-redef]
    except ModuleNotFoundError:
        tomllib = None  # type: ignore[assignment]

__all__ = [
    "ModelSpec",
    "OptimizerSpec",
    "PreprocessingSpec",
    "Recipe",
    "ReferenceSpec",
    "ScheduleSpec",
    "TrainingSpec",
    "default_folder",
    "find_recipe",
    "list_recipes",
    "load",
    "load_all",
    "loads",
]

#: (width, height) of each dataset's sensor, to check ``downsample`` against ``size``.
SENSOR_SIZES = {"nmnist": (34, 34), "cifar10dvs": (128, 128), "dvsgesture": (128, 128)}

_REQUIRED = object()


def _spec(default: Any = _REQUIRED, *, kind: type | tuple[type, ...], choices: tuple = (),
          check: Callable[[Any], bool] | None = None, expect: str = "") -> Any:
    """A dataclass field with its TOML type, allowed values and range check."""
    meta = {"kind": kind, "choices": choices, "check": check, "expect": expect}
    if default is _REQUIRED:
        return field(metadata={**meta, "required": True})
    return field(default=default, metadata={**meta, "required": False})


def _positive(v: Any) -> bool:
    return v > 0


def _size_pair(v: Any) -> bool:
    return len(v) == 2 and all(isinstance(i, int) and not isinstance(i, bool) and i > 0 for i in v)


@dataclass(frozen=True)
class PreprocessingSpec(FrozenConfig):
    """How recordings become network input: ``steps`` tensors of shape ``[C, H, W]``."""

    representation: str = _spec(kind=str, choices=("stc", "frames"))
    steps: int = _spec(kind=int, check=_positive, expect="a positive integer")
    size: tuple[int, int] = _spec(kind=tuple, check=_size_pair, expect="[width, height]")
    tau_s: float | None = _spec(None, kind=float, check=_positive,
                                expect="a positive time constant in microseconds")
    fine_bins: int | None = _spec(None, kind=int, check=_positive, expect="a positive integer")
    downsample: int | None = _spec(None, kind=int, check=_positive, expect="a positive integer")
    normalize: str = _spec("none", kind=str, choices=("none", "max", "std"))
    polarity: str = _spec("split", kind=str, choices=("split", "merge", "signed"))

    @property
    def channels(self) -> int:
        return 2 if self.polarity == "split" else 1


@dataclass(frozen=True)
class ModelSpec(FrozenConfig):
    """A registered network name and the overrides passed to ``create_model``."""

    name: str = _spec(kind=str)
    overrides: tuple[tuple[str, Any], ...] = _spec((), kind=dict)

    def to_dict(self) -> dict[str, Any]:
        body = super().to_dict()
        body["overrides"] = {k: _plain(v) for k, v in self.overrides}
        return body

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.overrides)


@dataclass(frozen=True)
class OptimizerSpec(FrozenConfig):
    name: str = _spec(kind=str, choices=("adam", "adamw", "sgd"))
    lr: float = _spec(kind=float, check=_positive, expect="a positive learning rate")
    weight_decay: float = _spec(0.0, kind=float, check=lambda v: v >= 0, expect=">= 0")
    momentum: float = _spec(0.0, kind=float, check=lambda v: 0 <= v < 1, expect="in [0, 1)")


@dataclass(frozen=True)
class ScheduleSpec(FrozenConfig):
    name: str = _spec("none", kind=str, choices=("cosine", "step", "none"))
    warmup_epochs: int = _spec(0, kind=int, check=lambda v: v >= 0, expect=">= 0")
    step_size: int | None = _spec(None, kind=int, check=_positive, expect="a positive integer")
    gamma: float = _spec(0.1, kind=float, check=lambda v: 0 < v <= 1, expect="in (0, 1]")
    min_lr: float = _spec(0.0, kind=float, check=lambda v: v >= 0, expect=">= 0")


@dataclass(frozen=True)
class TrainingSpec(FrozenConfig):
    epochs: int = _spec(kind=int, check=_positive, expect="a positive integer")
    batch_size: int = _spec(kind=int, check=_positive, expect="a positive integer")
    loss: str = _spec("ce", kind=str, choices=("ce", "mse-count", "ce-rate"))
    seed: int = _spec(0, kind=int)
    val_fraction: float = _spec(0.1, kind=float, check=lambda v: 0 <= v < 1, expect="in [0, 1)")


@dataclass(frozen=True)
class ReferenceSpec(FrozenConfig):
    """The publication a recipe follows; ``accuracy`` only where we could verify it."""

    paper: str = _spec("", kind=str)
    arxiv: str = _spec("", kind=str, check=lambda v: v == "" or re.fullmatch(
        r"\d{4}\.\d{4,5}(v\d+)?", v) is not None, expect="an arXiv id like 2203.10006")
    accuracy: float | None = _spec(None, kind=float, check=lambda v: 0 < v <= 100,
                                   expect="a percentage in (0, 100]")
    notes: str = _spec("", kind=str)


@dataclass(frozen=True)
class Recipe(FrozenConfig):
    """A validated recipe; ``name`` is the file stem."""

    name: str
    preprocessing: PreprocessingSpec
    model: ModelSpec
    optimizer: OptimizerSpec
    training: TrainingSpec
    schedule: ScheduleSpec = field(default_factory=lambda: ScheduleSpec())
    reference: ReferenceSpec = field(default_factory=lambda: ReferenceSpec())

    def create_model(self, **extra: Any) -> Any:
        """Build the network with the recipe's overrides (``extra`` wins over them)."""
        from .nn.registry import create_model

        return create_model(self.model.name, **{**self.model.kwargs, **extra})


_SECTIONS: dict[str, type] = {
    "preprocessing": PreprocessingSpec,
    "model": ModelSpec,
    "optimizer": OptimizerSpec,
    "schedule": ScheduleSpec,
    "training": TrainingSpec,
    "reference": ReferenceSpec,
}
_REQUIRED_SECTIONS = ("preprocessing", "model", "optimizer", "training")


def _plain(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def _type_name(kind: type | tuple[type, ...]) -> str:
    names = {int: "an integer", float: "a number", str: "a string", bool: "true/false",
             tuple: "an array", dict: "a table"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _coerce(value: Any, kind: type | tuple[type, ...], where: str, source: Any) -> Any:
    """TOML value -> field value; ints are accepted for floats, arrays become tuples."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        ok = False
    elif float in kinds and isinstance(value, int):
        return float(value)
    elif tuple in kinds and isinstance(value, list):
        return tuple(value)
    else:
        ok = isinstance(value, kinds)
    if not ok:
        raise ConfigError(f"expected {_type_name(kind)}, got {type(value).__name__} {value!r}",
                          source=source, key=where)
    return value


def _build_section(cls: type, table: Any, section: str, source: Any) -> Any:
    if not isinstance(table, dict):
        raise ConfigError("must be a table ([section] header)", source=source, key=section)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in table:
        if key not in fields:
            hint = difflib.get_close_matches(key, list(fields), n=1)
            raise ConfigError(
                f"unknown key {key!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
                + f"; valid keys: {', '.join(fields)}", source=source, key=f"{section}.{key}")
    values = {}
    for name, f in fields.items():
        where = f"{section}.{name}"
        meta = f.metadata
        if name not in table:
            if meta["required"]:
                raise ConfigError(f"missing required key {name!r}", source=source, key=where)
            continue
        value = _coerce(table[name], meta["kind"], where, source)
        if meta["choices"] and value not in meta["choices"]:
            raise ConfigError(f"{value!r} is not one of {', '.join(map(repr, meta['choices']))}",
                              source=source, key=where)
        if isinstance(value, float) and math.isnan(value):
            raise ConfigError("NaN is not allowed", source=source, key=where)
        if meta["check"] is not None and not meta["check"](value):
            raise ConfigError(f"{value!r} is out of range; expected {meta['expect']}",
                              source=source, key=where)
        values[name] = value
    if cls is ModelSpec:
        values["overrides"] = tuple(sorted(
            (k, _freeze(v)) for k, v in values.get("overrides", {}).items()))
    return cls(**values)


def _freeze(v: Any) -> Any:
    if isinstance(v, list):
        return tuple(_freeze(i) for i in v)
    if isinstance(v, dict):
        raise TypeError("nested tables are not allowed in model overrides")
    return v


def _check_override_types(spec: ModelSpec, source: Any) -> dict[str, Any]:
    """Validate override names and types against the network's declared defaults."""
    from .nn.registry import get_entry

    entry = get_entry(spec.name, source=source, key="model.name")
    entry.check_overrides(spec.kwargs, source=source, prefix="model.overrides.")
    for key, value in spec.overrides:
        default = entry.defaults[key]
        where = f"model.overrides.{key}"
        if default is None:
            continue
        if key == "input_size":
            ok = _is_int(value) or (isinstance(value, tuple) and len(value) == 2
                                    and all(_is_int(v) for v in value))
        elif key == "thresholds":  # a scheme name or the threshold values themselves
            ok = isinstance(value, str) or (isinstance(value, tuple) and len(value) > 0 and all(
                _is_int(v) or isinstance(v, float) for v in value))
            if not ok:
                raise ConfigError(f"expected \"linear\", \"geometric\" or an array of numbers "
                                  f"like [0.5, 1.0, 2.0], got {_plain(value)!r}", source=source,
                                  key=where)
        elif isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, int):
            ok = _is_int(value)
        elif isinstance(default, float):
            ok = _is_int(value) or isinstance(value, float)
        else:
            ok = isinstance(value, type(default))
        if not ok:
            raise ConfigError(f"expected {_type_name(type(default))} like {_plain(default)!r}, "
                              f"got {_plain(value)!r}", source=source, key=where)
    # Value checks (ranges, shapes, neuron settings) are the builder's: run it on the meta
    # device, which allocates nothing.
    import torch

    try:
        with torch.device("meta"):
            entry.builder(**spec.kwargs)
    except ConfigError as exc:
        message = str(exc)
        for prefix in (f"{exc.source}: " if exc.source is not None else "",
                       f"[{exc.key}] " if exc.key else ""):
            message = message.removeprefix(prefix)
        key = f"model.overrides.{exc.key}" if exc.key else "model.overrides"
        raise ConfigError(message, source=source, key=key) from None
    except (ValueError, TypeError, RuntimeError) as exc:
        raise ConfigError(f"the overrides do not build a network: {exc}", source=source,
                          key="model.overrides") from None
    return {**entry.defaults, **spec.kwargs, "_dataset": entry.dataset}


def _cross_check(recipe: Recipe, model_settings: dict[str, Any], source: Any) -> None:
    pre = recipe.preprocessing
    if pre.representation != "stc":
        for key in ("tau_s", "fine_bins"):
            if getattr(pre, key) is not None:
                raise ConfigError(f"only used with representation = \"stc\" (this recipe uses "
                                  f"{pre.representation!r})", source=source,
                                  key=f"preprocessing.{key}")
    sensor = SENSOR_SIZES.get(model_settings.get("_dataset", ""))
    if pre.downsample is not None and sensor is not None:
        scaled = (sensor[0] // pre.downsample, sensor[1] // pre.downsample)
        if scaled != tuple(pre.size):
            raise ConfigError(f"the {sensor[0]}x{sensor[1]} sensor downsampled by "
                              f"{pre.downsample} is {scaled[0]}x{scaled[1]}, not size "
                              f"{list(pre.size)}", source=source, key="preprocessing.downsample")
    in_channels = model_settings.get("in_channels")
    if in_channels is not None and in_channels != pre.channels:
        raise ConfigError(
            f"polarity = {pre.polarity!r} gives {pre.channels} input channel(s) but the model "
            f"expects in_channels = {in_channels}", source=source, key="preprocessing.polarity")
    size = model_settings.get("input_size")
    if size is not None:
        h, w = (size, size) if isinstance(size, int) else tuple(size)
        if tuple(pre.size) != (w, h):
            raise ConfigError(f"size {list(pre.size)} (width, height) does not match the model's "
                              f"input_size {h}x{w} (height x width)", source=source,
                              key="preprocessing.size")
    readout = model_settings.get("readout")
    need = {"mse-count": "count", "ce-rate": "rate"}.get(recipe.training.loss)
    if need is not None and readout is not None and readout != need:
        raise ConfigError(f"loss {recipe.training.loss!r} needs the model override readout = "
                          f"{need!r} (the model's readout is {readout!r})", source=source,
                          key="training.loss")
    opt = recipe.optimizer
    if opt.momentum and opt.name != "sgd":
        raise ConfigError(f"momentum is only used by sgd (optimizer is {opt.name!r}; adam "
                          "variants have betas)", source=source, key="optimizer.momentum")
    sched = recipe.schedule
    if sched.name == "step" and sched.step_size is None:
        raise ConfigError("step schedule needs step_size (epochs between decays)",
                          source=source, key="schedule.step_size")
    if sched.warmup_epochs >= recipe.training.epochs:
        raise ConfigError(f"warmup ({sched.warmup_epochs} epochs) must be shorter than "
                          f"training ({recipe.training.epochs} epochs)", source=source,
                          key="schedule.warmup_epochs")


def loads(text: str, *, name: str = "<string>", source: Any = None) -> Recipe:
    """Parse and validate recipe TOML text; errors name ``source`` (default ``name``)."""
    source = source if source is not None else name
    if tomllib is None:
        raise ConfigError("reading TOML on Python 3.10 needs the 'tomli' package",
                          source=source)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", source=source) from None
    for section in data:
        if section not in _SECTIONS:
            hint = difflib.get_close_matches(section, list(_SECTIONS), n=1)
            raise ConfigError(
                f"unknown section [{section}]" + (f" (did you mean [{hint[0]}]?)" if hint else "")
                + f"; valid sections: {', '.join(_SECTIONS)}", source=source, key=section)
    for section in _REQUIRED_SECTIONS:
        if section not in data:
            raise ConfigError(f"missing section [{section}]", source=source, key=section)
    parts = {s: _build_section(cls, data[s], s, source) for s, cls in _SECTIONS.items()
             if s in data}
    try:
        recipe = Recipe(name=name, **parts)
    except TypeError as exc:  # pragma: no cover - guarded by the checks above
        raise ConfigError(str(exc), source=source) from None
    settings = _check_override_types(recipe.model, source)
    _cross_check(recipe, settings, source)
    return recipe


def load(path: str | os.PathLike[str]) -> Recipe:
    """Read and validate one recipe file; ``ConfigError`` names the file and the key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("recipe file not found", source=path) from None
    return loads(text, name=path.stem, source=path)


def default_folder() -> Path:
    """``$EVENTCOMPRESS_MODELS``; else the recipes a wheel ships in ``eventcompress/_recipes``
    (copied from ``models/`` at build time, see setup.py); else ``models/`` next to the
    package (a source checkout or editable install)."""
    env = os.environ.get("EVENTCOMPRESS_MODELS")
    if env:
        return Path(env)
    package = Path(__file__).resolve().parent
    shipped = package / "_recipes"
    return shipped if shipped.is_dir() else package.parent / "models"


def list_recipes(folder: str | os.PathLike[str] | None = None) -> list[Path]:
    """Sorted paths of the ``*.toml`` recipes in ``folder`` (default: :func:`default_folder`)."""
    root = Path(folder) if folder is not None else default_folder()
    if not root.is_dir():
        raise ConfigError("recipe folder not found (set EVENTCOMPRESS_MODELS to the models/ "
                          "folder of a source checkout)", source=root)
    return sorted(root.glob("*.toml"))


def load_all(folder: str | os.PathLike[str] | None = None) -> dict[str, Recipe]:
    """Every recipe of ``folder`` by name."""
    return {p.stem: load(p) for p in list_recipes(folder)}


def find_recipe(name: str, folder: str | os.PathLike[str] | None = None) -> Path:
    """The path of recipe ``name`` (file stem) in ``folder``; close matches on a miss."""
    paths = {p.stem: p for p in list_recipes(folder)}
    if name in paths:
        return paths[name]
    close = difflib.get_close_matches(name, list(paths), n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise ConfigError(f"no recipe named {name!r}{hint}",
                      source=Path(folder) if folder else default_folder())

