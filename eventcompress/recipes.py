"""Model recipes: one TOML file per (dataset, network) with everything needed to train it.

A recipe names the preprocessing (``[preprocessing]``: the canonical form of a
:class:`~eventcompress.kernels.Pipeline`, its event steps and its representation), the registered
network and its overrides (``[model]``), the optimiser, learning-rate schedule and training loop
settings, and the publication it reproduces (``[reference]``). ``load(path)`` parses a file into
frozen dataclasses whose canonical JSON and sha256 (``Recipe.sha256()``) identify the experiment.
Loading builds the objects the recipe describes, so their own checks validate it: the
preprocessing becomes a ``Pipeline`` (the configs' ``ConfigError`` names the recipe file and the
``preprocessing....`` key), the model's overrides a ``NetworkConfig`` with its ``NeuronConfig``,
and the pipeline's output shape for the dataset's sensor must be the network's input shape.

The recipes shipped with the project live in ``models/`` at the repository root (not inside the
package); ``EVENTCOMPRESS_MODELS`` points elsewhere. See docs/networks.md for every key and
docs/architecture.md for the path from a recipe to the kernels and modules.
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
from typing import Any, ClassVar

from .config import FrozenConfig
from .errors import ConfigError
from .kernels import Pipeline
from .recipe_augment import AugmentationSpec, augmentation_from_table
from .recipe_pipeline import (
    REPRESENTATION_ALIASES,
    config_error_at,
    did_you_mean,
    pipeline_from_table,
)

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    try:
        import tomli as tomllib  # type: ignore[no-redef]
    except ModuleNotFoundError:
        tomllib = None  # type: ignore[assignment]

__all__ = [
    "REPRESENTATION_ALIASES",
    "ModelSpec",
    "OptimizerSpec",
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


@dataclass(frozen=True)
class ModelSpec(FrozenConfig):
    """A registered network name and its overrides; calling it builds the network."""

    name: str = _spec(kind=str)
    overrides: tuple[tuple[str, Any], ...] = _spec((), kind=dict)

    def to_dict(self) -> dict[str, Any]:
        body = super().to_dict()
        body["overrides"] = {k: _plain(v) for k, v in self.overrides}
        return body

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.overrides)

    @property
    def dataset(self) -> str:
        """The dataset of the registered network (its registry entry's)."""
        from .nn.registry import get_entry

        return get_entry(self.name).dataset

    def settings(self) -> Any:
        """The network's settings record (a ``NetworkConfig`` for the built-in networks),
        checked without building the network."""
        from .nn.registry import get_entry

        return get_entry(self.name).settings(self.kwargs)

    def __call__(self, **extra: Any) -> Any:
        """Build the network with the overrides (``extra`` wins over them)."""
        from .nn.registry import create_model

        return create_model(self.name, **{**self.kwargs, **extra})


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
    loss: str = _spec("ce", kind=str, choices=("ce", "mse-count", "ce-rate", "tet"))
    seed: int = _spec(0, kind=int)
    val_fraction: float = _spec(0.1, kind=float, check=lambda v: 0 <= v < 1, expect="in [0, 1)")
    # Engine settings (eventcompress.train; docs/training.md describes each).
    split_seed: int = _spec(0, kind=int)
    label_smoothing: float = _spec(0.0, kind=float, check=lambda v: 0 <= v < 1,
                                   expect="in [0, 1)")
    grad_clip: float | None = _spec(None, kind=float, check=_positive,
                                    expect="a positive maximum gradient norm")
    bn_calibration_batches: int = _spec(8, kind=int, check=lambda v: v >= 0, expect=">= 0")
    eval_batch_size: int | None = _spec(None, kind=int, check=_positive,
                                        expect="a positive integer")
    num_workers: int = _spec(0, kind=int, check=lambda v: v >= 0, expect=">= 0")
    test_every_epoch: bool = _spec(True, kind=bool)
    final_test: bool = _spec(True, kind=bool)
    amp: bool = _spec(True, kind=bool)
    compile: bool = _spec(False, kind=bool)
    deterministic: bool = _spec(False, kind=bool)


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
    """A validated recipe; ``name`` is the file stem.

    ``preprocessing`` (also ``pipeline``) is the :class:`~eventcompress.kernels.Pipeline` of the
    ``[preprocessing]`` table; ``model(**extra)`` builds the network (``create_model`` is the
    same), ``model.name`` and ``model.overrides`` are the ``[model]`` table.
    """

    name: str
    preprocessing: Pipeline
    model: ModelSpec
    optimizer: OptimizerSpec
    training: TrainingSpec
    schedule: ScheduleSpec = field(default_factory=lambda: ScheduleSpec())
    reference: ReferenceSpec = field(default_factory=lambda: ReferenceSpec())
    augmentation: AugmentationSpec = field(default_factory=lambda: AugmentationSpec())

    # 2: ``preprocessing`` is a Pipeline (event steps and representation, the frozen configs'
    # fields) instead of a PreprocessingSpec with its own keys (size, downsample, "std", ...).
    schema_version: ClassVar[int] = 2

    def to_dict(self) -> dict[str, Any]:
        body = super().to_dict()
        if not self.augmentation:  # a recipe without augmentation keeps its identity
            del body["augmentation"]
        return body

    @property
    def pipeline(self) -> Pipeline:
        """The preprocessing: event steps and representation."""
        return self.preprocessing

    @property
    def dataset(self) -> str:
        """The dataset of the recipe's network (``"nmnist"``, ``"cifar10dvs"``, ...)."""
        return self.model.dataset

    @property
    def sensor_size(self) -> tuple[int, int]:
        """(width, height) of the dataset's sensor (``get_dataset(dataset).sensor_size``)."""
        from .datasets import get_dataset

        return tuple(get_dataset(self.dataset).sensor_size)  # type: ignore[return-value]

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """Shape ``(T, C, H, W)`` of one preprocessed recording of the dataset."""
        return self.pipeline.output_shape(self.sensor_size)

    def create_model(self, **extra: Any) -> Any:
        """Build the network with the recipe's overrides (``extra`` wins over them)."""
        return self.model(**extra)


#: The ``[section]`` tables; ``preprocessing`` becomes a Pipeline (recipe_pipeline).
_SECTIONS: dict[str, type | None] = {
    "preprocessing": None,
    "model": ModelSpec,
    "optimizer": OptimizerSpec,
    "schedule": ScheduleSpec,
    "training": TrainingSpec,
    "reference": ReferenceSpec,
    "augmentation": None,
}
_REQUIRED_SECTIONS = ("preprocessing", "model", "optimizer", "training")


def _plain(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def _type_name(kind: type | tuple[type, ...]) -> str:
    names = {int: "an integer", float: "a number", str: "a string", bool: "true/false",
             tuple: "an array", dict: "a table"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


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
            raise ConfigError(f"unknown key {key!r}{did_you_mean(key, fields)}; valid keys: "
                              f"{', '.join(fields)}", source=source, key=f"{section}.{key}")
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
            (k, _freeze(v, f"{section}.overrides.{k}", source))
            for k, v in values.get("overrides", {}).items()))
    return cls(**values)


def _freeze(v: Any, where: str, source: Any) -> Any:
    if isinstance(v, list):
        return tuple(_freeze(i, where, source) for i in v)
    if isinstance(v, dict):
        raise ConfigError("nested tables are not allowed in model overrides", source=source,
                          key=where)
    return v


def _check_shapes(recipe: Recipe, network: Any, source: Any) -> None:
    """The pipeline's output for the dataset's sensor must be the network's input."""
    from .datasets import DATASETS

    expected = getattr(network, "input_shape", None)
    if expected is None or recipe.dataset not in DATASETS:
        return  # a network without a settings record, or a dataset we do not know
    sensor = recipe.sensor_size
    pipeline = recipe.pipeline
    try:
        shape = pipeline.output_shape(sensor)
    except ConfigError as exc:
        raise config_error_at(exc, {}, "preprocessing.representation", source,
                              type(pipeline.representation).__name__) from None
    c, h, w = (int(v) for v in expected)
    if shape[1] != c:
        rep = pipeline.representation
        polarity = getattr(rep, "polarity", None)
        what = f"polarity = {polarity!r} gives" if polarity is not None else "it gives"
        raise ConfigError(f"{what} {shape[1]} input channel(s) but the model expects "
                          f"in_channels = {c}", source=source,
                          key="preprocessing.representation"
                          + (".polarity" if polarity is not None else ""))
    if tuple(shape[2:]) != (h, w):
        reached = pipeline.output_sensor_size(sensor)
        raise ConfigError(
            f"the {sensor[0]}x{sensor[1]} sensor of {recipe.dataset} reaches the representation "
            f"as {reached[0]}x{reached[1]} (width x height), but the model's input_size is "
            f"{h}x{w} (height x width); add or change a [[preprocessing.steps]] Downsample / "
            "Resize, or the model override input_size", source=source,
            key="preprocessing.steps")


def _check_augmentation_shape(recipe: Recipe, source: Any) -> None:
    """The augmented sample must keep the network's input shape (a RandomCrop without the
    padding that restores the size would not)."""
    import torch

    from .datasets import DATASETS

    if recipe.dataset not in DATASETS:
        return  # no sensor size to shape a sample with (as in _check_shapes)
    shape = tuple(recipe.sample_shape)
    out = recipe.augmentation.build(0)(torch.zeros(shape), index=0, epoch=0)
    if tuple(out.shape) != shape:
        raise ConfigError(f"the steps turn a {shape} sample into {tuple(out.shape)}; the "
                          "network needs the preprocessed shape (e.g. RandomCrop's size with "
                          "padding)", source=source, key="augmentation.steps")


def _cross_check(recipe: Recipe, network: Any, source: Any) -> None:
    _check_shapes(recipe, network, source)
    readout = getattr(network, "readout", None)
    need = {"mse-count": "count", "ce-rate": "rate"}.get(recipe.training.loss)
    if need is not None and isinstance(readout, str) and readout != need:
        raise ConfigError(f"loss {recipe.training.loss!r} needs the model override readout = "
                          f"{need!r} (the model's readout is {readout!r})", source=source,
                          key="training.loss")
    if recipe.training.loss == "tet" and readout not in (None, "membrane"):
        raise ConfigError(f"loss 'tet' (per-step cross-entropy) needs the membrane readout (the "
                          f"model's readout is {readout!r})", source=source, key="training.loss")
    if not recipe.training.final_test and recipe.training.test_every_epoch:
        raise ConfigError("final_test = false never reads the test split; set "
                          "training.test_every_epoch = false too", source=source,
                          key="training.final_test")
    if recipe.augmentation:
        _check_augmentation_shape(recipe, source)
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
             if s in data and cls is not None}
    parts["preprocessing"] = pipeline_from_table(data["preprocessing"], source)
    if "augmentation" in data:
        parts["augmentation"] = augmentation_from_table(data["augmentation"], source)
    try:
        recipe = Recipe(name=name, **parts)
    except TypeError as exc:  # pragma: no cover - guarded by the checks above
        raise ConfigError(str(exc), source=source) from None
    from .nn.registry import get_entry

    entry = get_entry(recipe.model.name, source=source, key="model.name")
    network = entry.settings(recipe.model.kwargs, source=source, prefix="model.overrides.")
    _cross_check(recipe, network, source)
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

