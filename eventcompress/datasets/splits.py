"""Seeded, stratified splits that give the same indices in every process and on every platform.

The only randomness is ``numpy.random.Generator(PCG64(seed)).permutation``, drawn once per class
in ascending label order, over positions that are themselves in a fixed order (the caller's list,
which our layouts sort deterministically). No hashing, no set iteration, no global RNG state.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def stratified_split(
    labels: ArrayLike, val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split positions ``0..len(labels)-1`` into ``(train_idx, val_idx)``, class by class.

    For each class ``c`` (ascending), with ``n_c`` members at positions ``idx_c`` (ascending),
    ``k_c = floor(val_fraction * n_c + 0.5)`` of them go to validation: the positions
    ``idx_c[perm[:k_c]]`` with ``perm = rng.permutation(n_c)`` and one
    ``rng = Generator(PCG64(seed))`` shared by all classes in that order. Both index arrays are
    returned sorted (int64). The same ``(labels, val_fraction, seed)`` always gives the same
    split; per-class proportions are exact up to that rounding.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {labels.shape}")
    if not 0.0 <= float(val_fraction) <= 1.0:
        raise ValueError(f"val_fraction must be in [0, 1], got {val_fraction}")
    rng = np.random.Generator(np.random.PCG64(int(seed)))
    val_parts = []
    for c in np.unique(labels):
        idx_c = np.flatnonzero(labels == c)
        k = int(np.floor(float(val_fraction) * idx_c.size + 0.5))
        perm = rng.permutation(idx_c.size)
        val_parts.append(idx_c[perm[:k]])
    val = np.sort(np.concatenate(val_parts)) if val_parts else np.zeros(0, np.int64)
    mask = np.ones(labels.size, bool)
    mask[val] = False
    return np.flatnonzero(mask).astype(np.int64), val.astype(np.int64)
