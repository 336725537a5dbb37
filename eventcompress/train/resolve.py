"""A recipe as trained: the file (or a name from ``models/``) plus ``--set key=value`` overrides.

Overrides are applied to the parsed TOML table, which is written back to TOML and validated by
``eventcompress.recipes.loads`` like any recipe file: an unknown key or an out-of-range value is
reported with the key's dotted name and the close match, exactly as in a file. The resolved text
is what the run directory stores (``recipe.toml``) and what checkpoints carry.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..recipes import Recipe, find_recipe, loads, tomllib

__all__ = ["dump_toml", "parse_assignment", "resolve_recipe"]


def _locate(spec: str | os.PathLike[str]) -> Path:
    path = Path(spec)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise ConfigError("recipe file not found", source=path)
        return path
    return find_recipe(str(spec))


def parse_assignment(text: str) -> tuple[list[str], Any]:
    """``"training.epochs=5"`` -> ``(["training", "epochs"], 5)``; values are TOML values, and a
    bare word that is not one (``optimizer.name=adamw``) is a string."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set expects key=value (e.g. training.epochs=5), got {text!r}",
                          key="--set")
    parts = key.split(".")
    if len(parts) < 2 or not all(parts):
        raise ConfigError(f"--set key must be section.key (e.g. training.epochs), got {key!r}",
                          key=key)
    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return parts, value


def _assign(table: dict[str, Any], parts: list[str], value: Any) -> None:
    node = table
    for depth, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{'.'.join(parts[:depth + 1])} is a value, not a table",
                              key=".".join(parts))
        node = child
    node[parts[-1]] = value


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(i) for i in v) + "]"
    if isinstance(v, dict):  # an inline table, e.g. one of the [[preprocessing.steps]]
        return "{" + ", ".join(f"{k} = {_toml_value(i)}" for k, i in v.items()) + "}"
    raise TypeError(f"cannot write {type(v).__name__} {v!r} as a TOML value")


def dump_toml(table: dict[str, Any], header: Sequence[str] = ()) -> str:
    """TOML text of a recipe-shaped table (sections of values and of sub-tables)."""
    lines = [f"# {h}" for h in header]

    def section(name: str, body: dict[str, Any]) -> None:
        values = {k: v for k, v in body.items() if not isinstance(v, dict)}
        tables = {k: v for k, v in body.items() if isinstance(v, dict)}
        if lines:
            lines.append("")
        lines.append(f"[{name}]")
        lines.extend(f"{k} = {_toml_value(v)}" for k, v in values.items())
        for k, v in tables.items():
            section(f"{name}.{k}", v)

    for name, body in table.items():
        if not isinstance(body, dict):
            raise ConfigError(f"top-level key {name!r} must be a [section]", key=name)
        section(name, body)
    return "\n".join(lines) + "\n"


def resolve_recipe(spec: str | os.PathLike[str], sets: Sequence[str] = (), *,
                   epochs: int | None = None, seed: int | None = None) -> tuple[Recipe, str]:
    """``(recipe, resolved_toml)`` for a recipe path or name with overrides applied.

    ``epochs`` and ``seed`` are shorthands for ``training.epochs`` and ``training.seed``.
    """
    path = _locate(spec)
    text = path.read_text(encoding="utf-8")
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", source=path) from None
    assignments = [parse_assignment(s) for s in sets]
    if epochs is not None:
        assignments.append((["training", "epochs"], int(epochs)))
    if seed is not None:
        assignments.append((["training", "seed"], int(seed)))
    for parts, value in assignments:
        _assign(table, parts, value)
    shown = [f"{'.'.join(p)}={_toml_value(v)}" for p, v in assignments]
    header = [f"resolved from {path}"] + ([f"overrides: {' '.join(shown)}"] if shown else [])
    resolved = dump_toml(table, header)
    source = f"{path} with --set {' '.join(shown)}" if shown else path
    return loads(resolved, name=path.stem, source=source), resolved
