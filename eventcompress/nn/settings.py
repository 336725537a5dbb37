"""Checks shared by the frozen settings records of the networks (``NeuronConfig``, ``NetworkConfig``).

A record's field types are read from its own annotations, so the record is the one list of its
settings: :func:`check_field_types` rejects a value of the wrong type with a ``ConfigError``
naming the field, and stores numbers in their canonical type (an integral ``theta = 1`` becomes
``1.0``, a TOML array a tuple), so that equal settings hash alike.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
from collections.abc import Sequence
from typing import Any

from ..errors import ConfigError

__all__ = ["check_field_types", "did_you_mean", "unknown_choice"]

_WORDS = {"int": "an integer", "float": "a number", "bool": "true/false", "str": "a string",
          "None": "absent"}
_MISMATCH = object()


def did_you_mean(word: str, candidates: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest candidates, or ``""``."""
    close = difflib.get_close_matches(str(word), list(candidates), n=3, cutoff=0.5)
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""


def unknown_choice(key: str, value: Any, choices: Sequence[str], what: str) -> ConfigError:
    """The error for a name that is not one of ``choices``."""
    return ConfigError(f"unknown {what} {value!r}{did_you_mean(value, choices)}; expected one "
                       f"of {', '.join(choices)}", key=key)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _coerce(value: Any, form: str) -> Any:
    """``value`` as the annotation ``form`` wants it, or ``_MISMATCH``."""
    if form == "None":
        return None if value is None else _MISMATCH
    if form == "bool":
        return value if isinstance(value, bool) else _MISMATCH
    if form == "str":
        return value if isinstance(value, str) else _MISMATCH
    if form == "int":
        return int(value) if _is_int(value) else _MISMATCH
    if form == "float":
        ok = (_is_int(value) or isinstance(value, float)) and not (
            isinstance(value, float) and math.isnan(value))
        return float(value) if ok else _MISMATCH
    match = re.fullmatch(r"tuple\[(.+)\]", form)
    if match is None:  # a nested record: its own __post_init__ checked it
        return value
    if not isinstance(value, (list, tuple)):
        return _MISMATCH
    parts = [p.strip() for p in match.group(1).split(",")]
    if parts[-1] == "...":
        parts = [parts[0]] * len(value)
    elif len(parts) != len(value):
        return _MISMATCH
    items = tuple(_coerce(v, p) for v, p in zip(value, parts, strict=True))
    return _MISMATCH if any(v is _MISMATCH for v in items) else items


def _describe(form: str) -> str:
    match = re.fullmatch(r"tuple\[(\w+)(, \.\.\.)?(.*)\]", form)
    if match is None:
        return _WORDS.get(form, form)
    word = {"int": "integers", "float": "numbers"}.get(match.group(1), match.group(1))
    return f"an array of {word}" if match.group(2) else f"a pair of {word}"


def check_field_types(record: Any) -> None:
    """Check every field of a frozen dataclass against its annotation; store canonical types."""
    for f in dataclasses.fields(record):
        forms = [part.strip() for part in str(f.type).split("|")]
        value = getattr(record, f.name)
        for form in forms:
            coerced = _coerce(value, form)
            if coerced is not _MISMATCH:
                object.__setattr__(record, f.name, coerced)
                break
        else:
            expected = " or ".join(_describe(form) for form in forms)
            raise ConfigError(f"expected {expected}, got {type(value).__name__} {value!r}",
                              key=f.name)
