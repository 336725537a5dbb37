"""Training and evaluation: ``train(recipe, data_root)``, ``evaluate_checkpoint(path, root)``.

The engine (:mod:`.engine`) trains a recipe on torch datasets yielding ``(tensor[T, P, H, W],
label)``, selects the epoch on validation, tests that checkpoint once and writes a run directory
(:mod:`.rundir`). See docs/training.md. Submodules import torch; this package imports them lazily.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "train": ".api", "evaluate_checkpoint": ".api", "default_run_dir": ".api",
    "Trainer": ".engine", "TrainingError": ".engine", "TrainingInterrupted": ".engine",
    "resolve_device": ".runtime", "CheckpointError": ".checkpoint",
    "load_checkpoint": ".checkpoint", "prepare_data": ".data", "resolve_recipe": ".resolve",
    "RunDir": ".rundir",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
