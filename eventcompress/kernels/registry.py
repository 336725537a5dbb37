"""The one registry of configuration classes, by type name, for rebuilding them from JSON.

Every ``FrozenConfig`` that can appear in a pipeline (``Pipeline`` itself, the event -> event
steps, the representations, and any class a user defines) is registered with
:func:`register_config` where it is defined; :func:`config_from_dict` looks names up here only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ..config import FrozenConfig
from ..errors import ConfigError

__all__ = ["config_class", "config_from_dict", "register_config"]

_REGISTRY: dict[str, type] = {}


def register_config(cls: type) -> type:
    """Class decorator: make ``cls`` resolvable by its name in ``config_from_dict``."""
    if not (isinstance(cls, type) and issubclass(cls, FrozenConfig)):
        raise ConfigError(f"{cls!r} is not a FrozenConfig class", key="type")
    name = cls.__name__
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ConfigError(f"a configuration class named {name!r} is already registered")
    _REGISTRY[name] = cls
    return cls


def config_class(name: str) -> type:
    """The configuration class registered as ``name``."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown configuration type {name!r}; known: {sorted(_REGISTRY)}",
                          key="type") from None


def _decode(value: Any, annotation: str) -> Any:
    if isinstance(value, Mapping):
        if "type" in value:
            return config_from_dict(value)
        return {k: _decode(v, "") for k, v in value.items()}
    if isinstance(value, list):
        return tuple(_decode(v, annotation) for v in value)
    # canonical JSON writes infinities as strings; turn them back only for float fields
    if value in ("inf", "-inf") and "float" in annotation:
        return float(value)
    return value


def config_from_dict(data: Mapping[str, Any]) -> Any:
    """Rebuild a configuration object from its ``to_dict()`` form (nested ones included)."""
    if not isinstance(data, Mapping) or "type" not in data:
        raise ConfigError(f"a configuration must be a mapping with a 'type' key, got {data!r}")
    cls = config_class(str(data["type"]))
    version = data.get("version", cls.schema_version)
    if version != cls.schema_version:
        raise ConfigError(
            f"{cls.__name__} has schema version {version}, this eventcompress reads version "
            f"{cls.schema_version}", key="version")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(fields) - {"type", "version"}
    if unknown:
        raise ConfigError(f"unknown field(s) {sorted(unknown)} for {cls.__name__}",
                          key=sorted(unknown)[0])
    kwargs = {k: _decode(v, str(fields[k].type)) for k, v in data.items()
              if k not in ("type", "version")}
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"cannot build {cls.__name__}: {exc}") from None
