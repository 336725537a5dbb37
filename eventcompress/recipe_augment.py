"""A recipe's ``[augmentation]`` table: the tensor augmentations applied to training batches.

Each ``[[augmentation.steps]]`` table names a per-sample augmentation class of
:mod:`eventcompress.data.augment` by ``type`` and gives that class's own constructor arguments,
so no key or range is listed here: the classes validate, and their errors are re-raised naming
the recipe file and the ``augmentation.steps[i].key``. ``seed`` is not a key: the training
engine seeds every step with ``training.seed``, and each sample's draws are a function of
(seed, epoch, sample index) only, which keeps a resumed run identical to an uninterrupted one
and makes the augmentation independent of batch size, order and workers. Validation and test
batches are never augmented.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, ClassVar

from .config import FrozenConfig
from .errors import ConfigError
from .recipe_pipeline import did_you_mean

__all__ = ["AugmentationSpec", "augmentation_from_table"]


def _step_classes() -> dict[str, type]:
    """The per-sample augmentations a recipe may name (the batch mixers change the labels and
    the loss, and Compose is what the steps become)."""
    from .data import augment

    return {name: getattr(augment, name) for name in augment.__all__
            if isinstance(getattr(augment, name), type)
            and issubclass(getattr(augment, name), augment.TensorAugment)
            and name not in ("TensorAugment", "Compose")}


@dataclass(frozen=True)
class AugmentationSpec(FrozenConfig):
    """``steps``: ``(type, ((argument, value), ...))`` pairs in the order they are applied."""

    steps: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()

    schema_version: ClassVar[int] = 1

    def to_dict(self) -> dict[str, Any]:
        return {"type": type(self).__name__, "version": self.schema_version,
                "steps": [{"type": name, **dict(args)} for name, args in self.steps]}

    def __bool__(self) -> bool:
        return bool(self.steps)

    def build(self, seed: int) -> Any:
        """The steps as one :class:`~eventcompress.data.augment.Compose`, each seeded with
        ``seed``; None without steps."""
        if not self.steps:
            return None
        from .data.augment import Compose

        classes = _step_classes()
        return Compose(*[classes[name](**dict(args), seed=int(seed))
                         for name, args in self.steps])


def _frozen(value: Any) -> Any:
    return tuple(_frozen(v) for v in value) if isinstance(value, list) else value


def augmentation_from_table(table: Any, source: Any) -> AugmentationSpec:
    """``[augmentation]`` (with its ``steps`` array of tables) -> :class:`AugmentationSpec`,
    each step checked by constructing it."""
    if not isinstance(table, dict):
        raise ConfigError("must be a table ([augmentation] header)", source=source,
                          key="augmentation")
    unknown = [k for k in table if k != "steps"]
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r}{did_you_mean(unknown[0], ['steps'])}; "
                          "the only key is steps ([[augmentation.steps]] tables)",
                          source=source, key=f"augmentation.{unknown[0]}")
    steps = table.get("steps", [])
    if not isinstance(steps, list):
        raise ConfigError("must be an array of tables ([[augmentation.steps]])", source=source,
                          key="augmentation.steps")
    classes = _step_classes()
    built = []
    for i, step in enumerate(steps):
        where = f"augmentation.steps[{i}]"
        if not isinstance(step, dict) or not isinstance(step.get("type"), str):
            raise ConfigError(f"expected a table with a type key (one of {', '.join(classes)})",
                              source=source, key=f"{where}.type")
        name = step["type"]
        if name not in classes:
            raise ConfigError(f"{name!r} is not a per-sample augmentation"
                              f"{did_you_mean(name, classes)}; one of {', '.join(classes)}",
                              source=source, key=f"{where}.type")
        args = {k: _frozen(v) for k, v in step.items() if k != "type"}
        accepted = [p for p in inspect.signature(classes[name]).parameters if p != "seed"]
        for key in args:
            if key not in accepted:
                hint = (" (the engine seeds augmentations with training.seed)" if key == "seed"
                        else did_you_mean(key, accepted))
                raise ConfigError(f"{name} has no argument {key!r}{hint}; arguments: "
                                  f"{', '.join(accepted)}", source=source, key=f"{where}.{key}")
        try:
            classes[name](**args, seed=0)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{name}: {exc}", source=source, key=where) from None
        built.append((name, tuple(sorted(args.items()))))
    return AugmentationSpec(steps=tuple(built))

