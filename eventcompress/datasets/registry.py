"""Dataset names -> layout classes, and auto-detection of a folder's dataset."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import LayoutError
from .base import DatasetLayout, LayoutMatch, describe_found
from .cifar10dvs import CIFAR10DVS
from .dvsgesture import DVSGesture
from .nmnist import NMNIST

DATASETS: dict[str, type[DatasetLayout]] = {
    "nmnist": NMNIST,
    "cifar10dvs": CIFAR10DVS,
    "dvsgesture": DVSGesture,
}


def get_dataset(name: str, **options: Any) -> DatasetLayout:
    """A layout by name (``nmnist``, ``cifar10dvs``, ``dvsgesture``; case and ``-``/``_``
    ignored). ``options`` go to its constructor (``split_scheme``/``seed`` for CIFAR10-DVS,
    ``mode`` for DVS Gesture)."""
    key = name.lower().replace("-", "").replace("_", "")
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    return DATASETS[key](**options)


def detect_dataset(
    root: str | os.PathLike[str], **options: dict[str, Any]
) -> tuple[DatasetLayout, LayoutMatch]:
    """Find which dataset's layout ``root`` holds. ``options`` maps a dataset name to its
    constructor options. Raises LayoutError listing every accepted layout when none matches."""
    root = Path(root)
    messages = []
    for name, cls in DATASETS.items():
        layout = cls(**options.get(name, {}))
        try:
            return layout, layout.discover(root)
        except LayoutError as exc:
            messages.append(str(exc).split("\n", 1)[1].rsplit("\n", 1)[0])
            continue
    titles = ", ".join(cls.title for cls in DATASETS.values())
    body = "\n".join(f"{cls.title}:\n{msg}" for cls, msg in zip(DATASETS.values(), messages))
    raise LayoutError(
        f"{root} does not hold any known dataset layout ({titles}).\n{body}\n{describe_found(root)}"
    )
