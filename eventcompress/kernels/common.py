"""Constants and argument helpers shared by the kernel modules and their configurations."""

from __future__ import annotations

from typing import Any

import numpy as np

#: The int64 range of timestamps (microseconds); Numba kernels read these as constants.
INT64_MIN = int(np.iinfo(np.int64).min)
INT64_MAX = int(np.iinfo(np.int64).max)


def as_pair(value: int | tuple[int, int] | list[int], name: str) -> tuple[int, int]:
    """An int means the same value for both axes; a pair is (x/width, y/height)."""
    if isinstance(value, (int, np.integer)):
        return int(value), int(value)
    try:
        a, b = value
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an int or a (width, height) pair, got {value!r}") from None
    return int(a), int(b)


def set_field(obj: Any, name: str, value: Any) -> None:
    """Assign a field of a frozen dataclass (normalisation in ``__post_init__``)."""
    object.__setattr__(obj, name, value)
