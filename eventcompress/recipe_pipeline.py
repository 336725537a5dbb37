"""A recipe's ``[preprocessing]`` table -> :class:`~eventcompress.kernels.Pipeline`.

The table is the Pipeline's canonical form: ``[[preprocessing.steps]]`` tables (event transforms)
and one ``[preprocessing.representation]`` table, each with a ``type`` (a configuration class
name, or an alias of :data:`REPRESENTATION_ALIASES`) and that class's own fields. The classes
validate; their ``ConfigError`` is re-raised here naming the recipe file and the
``preprocessing....`` key, with a did-you-mean where a name is misspelt. No key, choice or range
is listed in this module: field names come from the dataclasses.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Mapping
from typing import Any

from .config import FrozenConfig
from .errors import ConfigError
from .kernels import Pipeline, config_from_dict

__all__ = ["REPRESENTATION_ALIASES", "config_error_at", "config_from_table", "did_you_mean",
           "pipeline_from_table"]

#: Short names of ``[preprocessing.representation]`` ``type``, each one configuration class.
REPRESENTATION_ALIASES = {"stc": "STCConfig", "frames": "FrameConfig"}


def did_you_mean(word: str, candidates: Any, cutoff: float = 0.6) -> str:
    """`` (did you mean 'x'?)`` for the closest candidate, or ``""``."""
    close = difflib.get_close_matches(str(word), list(candidates), n=1, cutoff=cutoff)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _known_configs() -> list[str]:
    """Names a ``type`` may take: the aliases and the public configuration classes."""
    from . import kernels

    names = [name for name in kernels.__all__ if isinstance(getattr(kernels, name, None), type)
             and issubclass(getattr(kernels, name), FrozenConfig)
             and dataclasses.is_dataclass(getattr(kernels, name)) and name != "Pipeline"]
    return [*REPRESENTATION_ALIASES, *sorted(names)]


def _field_named_in(message: str, keys: Any) -> str | None:
    """The first of ``keys`` (the table's) that ``message`` names, for errors without a key."""
    found = [(m.start(), key) for key in keys
             if (m := re.search(rf"(?<![\w.]){re.escape(key)}(?![\w])", message))]
    return min(found)[1] if found else None


def config_error_at(exc: ConfigError, table: Mapping[str, Any], where: str, source: Any,
               cls_name: str) -> ConfigError:
    """A configuration's own ``ConfigError`` as the recipe's: file, ``where.key``, did-you-mean."""
    from .nn.registry import error_detail

    detail = error_detail(exc).removeprefix(f"{cls_name}: ")
    keys = [k for k in table if k != "type"]
    key = exc.key if exc.key in keys else _field_named_in(detail, keys)
    value = table.get(key) if key else None
    if isinstance(value, str) and "did you mean" not in detail:
        # a name out of the choices the message lists
        choices = [c for c in re.findall(r"'([^']+)'", detail) if c != value]
        detail += did_you_mean(value, choices, cutoff=0.5)
    return ConfigError(detail, source=source, key=f"{where}.{key}" if key else where)


def config_from_table(table: Any, where: str, source: Any) -> Any:
    """One ``{type = "...", field = value, ...}`` table -> the frozen configuration it names."""
    if not isinstance(table, dict):
        raise ConfigError(f"expected a table with a type key, got {table!r}", source=source,
                          key=where)
    type_name = table.get("type")
    if not isinstance(type_name, str):
        raise ConfigError(f"missing type (a configuration class such as "
                          f"{', '.join(map(repr, _known_configs()[:4]))}, ...)", source=source,
                          key=f"{where}.type")
    from . import kernels

    cls_name = REPRESENTATION_ALIASES.get(type_name, type_name)
    cls = getattr(kernels, cls_name, None) if cls_name in kernels.__all__ else None
    if isinstance(cls, type) and dataclasses.is_dataclass(cls):
        fields = [f.name for f in dataclasses.fields(cls)]
        for key in table:
            if key != "type" and key not in fields:
                # STC's "steps" is the frames' "n_time_bins": the likeliest slip
                hint = (" (did you mean 'n_time_bins'?)" if key == "steps"
                        and "n_time_bins" in fields else did_you_mean(key, fields))
                raise ConfigError(f"unknown key {key!r} for {cls_name}{hint}; "
                                  f"valid keys: type, {', '.join(fields)}", source=source,
                                  key=f"{where}.{key}")
    body = {k: v for k, v in table.items() if k != "type"}
    try:
        return config_from_dict({"type": cls_name, **body})
    except ConfigError as exc:
        if cls is None and exc.key == "type":  # neither public nor registered
            known = _known_configs()
            raise ConfigError(f"unknown type {type_name!r}{did_you_mean(type_name, known, 0.5)}; "
                              f"known: {', '.join(known)}", source=source,
                              key=f"{where}.type") from None
        raise config_error_at(exc, table, where, source, cls_name) from None


def pipeline_from_table(table: Any, source: Any) -> Pipeline:
    """``[preprocessing]``: ``[[preprocessing.steps]]`` event transforms, then the required
    ``[preprocessing.representation]``; the keys are the Pipeline's fields."""
    section = "preprocessing"
    if not isinstance(table, dict):
        raise ConfigError("must be a table ([section] header)", source=source, key=section)
    fields = [f.name for f in dataclasses.fields(Pipeline)]
    for key in table:
        if key not in fields:
            raise ConfigError(
                f"unknown key {key!r}{did_you_mean(key, fields)}; [preprocessing] holds "
                "[[preprocessing.steps]] tables (event transforms, e.g. type = \"Downsample\") "
                "and one [preprocessing.representation] table (type = \"stc\" or \"frames\" "
                "with the configuration's fields; see docs/networks.md)", source=source,
                key=f"{section}.{key}")
    raw_steps = table.get("steps", [])
    if not (isinstance(raw_steps, list) and all(isinstance(t, dict) for t in raw_steps)):
        raise ConfigError(
            f"expected [[preprocessing.steps]] tables (event -> event transforms), got "
            f"{raw_steps!r}; the number of time steps is a field of the representation "
            "(STCConfig steps, FrameConfig n_time_bins)", source=source, key=f"{section}.steps")
    steps = tuple(config_from_table(t, f"{section}.steps[{i}]", source)
                  for i, t in enumerate(raw_steps))
    if "representation" not in table:
        raise ConfigError("missing the [preprocessing.representation] table (type = \"stc\" "
                          "or \"frames\" and the configuration's fields)", source=source,
                          key=f"{section}.representation")
    representation = config_from_table(table["representation"], f"{section}.representation", source)
    try:
        return Pipeline(steps=steps, representation=representation)
    except ConfigError as exc:
        raise config_error_at(exc, table, section, source, "Pipeline") from None
