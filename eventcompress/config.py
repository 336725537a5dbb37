"""Frozen configuration objects with a canonical JSON form.

The sha256 of the canonical JSON keys caches, so the form must not depend on the process, the
Python session or dict order: keys are sorted, floats are written with ``repr`` (shortest
round-trip), infinities as the strings "inf"/"-inf", tuples as lists, and every object carries its
type name and a schema version so two configs of different kinds never collide.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from typing import Any, ClassVar


def _canonical(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return value.to_dict() if isinstance(value, FrozenConfig) else {
            f.name: _canonical(getattr(value, f.name)) for f in dataclasses.fields(value)
        }
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if math.isnan(value):
            raise ValueError("NaN cannot be part of a configuration")
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return float(value)
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in sorted(value.items())}
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        return _canonical(value.item())
    raise TypeError(f"{type(value).__name__} is not allowed in a configuration: {value!r}")


def canonical_json(obj: Any) -> str:
    """The canonical JSON text of a configuration (or any nesting of allowed values)."""
    return json.dumps(_canonical(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False)


class FrozenConfig:
    """Mixin for ``@dataclass(frozen=True)`` configuration classes.

    Subclasses may set ``schema_version`` and bump it when the meaning of a field changes, which
    invalidates every cache keyed by the old form.
    """

    schema_version: ClassVar[int] = 1

    def to_dict(self) -> dict[str, Any]:
        body = {f.name: _canonical(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        return {"type": type(self).__name__, "version": self.schema_version, **body}

    def canonical_json(self) -> str:
        return canonical_json(self.to_dict())

    def sha256(self) -> str:
        return hashlib.sha256(self.canonical_json().encode("ascii")).hexdigest()
