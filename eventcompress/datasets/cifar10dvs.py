"""CIFAR10-DVS (Li et al. 2017): one recording per file, 10 class folders, no official split.

Splits:

* ``tebn`` (default): sample index ``i < 100`` of each class is test, the rest train
  (the split of the TEBN paper, as SpikingJelly's ``CIFAR10DVSTEBNSplit``).
* ``random``: seeded stratified 9:1 split (``stratified_split`` with ``test_fraction`` 0.1).

The sample index ``i`` is the number in the file name (``cifar10_<class>_<i>.aedat``). When not
every file of a class ends in a distinct number (e.g. other conversions), ``i`` is the file's
position, from 0, in natural name order within its class folder.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

import numpy as np

from .base import DatasetLayout, LayoutMatch, Sample, list_dir, natural_key
from .splits import stratified_split

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
_TRAILING_NUMBER = re.compile(r"(\d+)$")
_EXTENSIONS = {".aedat": ("original", "aedat2"), ".aedat4": ("tonic", "aedat4")}

_ORIGINAL_TREE = """
ROOT/
  airplane/ cifar10_airplane_0.aedat ... cifar10_airplane_999.aedat   (AEDAT 2.0)
  automobile/ ...
  ... bird cat deer dog frog horse ship truck
"""

_TONIC_TREE = """
ROOT/                     (or ROOT/CIFAR10DVS/, tonic's save_to)
  airplane/ *.aedat4      (tonic's AEDAT 4.0 conversion)
  ...
  truck/ *.aedat4
"""

SplitScheme = Literal["tebn", "random"]


class CIFAR10DVS(DatasetLayout):
    """CIFAR10-DVS layout. ``split_scheme`` is ``"tebn"`` or ``"random"`` (seeded by ``seed``,
    ``test_fraction`` of each class in the test split)."""

    name = "cifar10dvs"
    title = "CIFAR10-DVS"
    classes = CLASSES
    sensor_size = (128, 128)
    expected_trees = {"original": _ORIGINAL_TREE, "tonic": _TONIC_TREE}

    def __init__(
        self, split_scheme: SplitScheme = "tebn", seed: int = 0, test_fraction: float = 0.1
    ) -> None:
        if split_scheme not in ("tebn", "random"):
            raise ValueError(f"split_scheme must be 'tebn' or 'random', got {split_scheme!r}")
        self.split_scheme = split_scheme
        self.seed = int(seed)
        self.test_fraction = float(test_fraction)

    def __repr__(self) -> str:
        extra = f", seed={self.seed}" if self.split_scheme == "random" else ""
        return f"CIFAR10DVS(split_scheme={self.split_scheme!r}{extra})"

    def discover(self, root: str | os.PathLike[str]) -> LayoutMatch:
        root = Path(root)
        for data_root in (root, root / "CIFAR10DVS"):
            kinds = set()
            for cls in CLASSES:
                folder = data_root / cls
                if folder.is_dir():
                    for e in list_dir(folder):
                        ext = os.path.splitext(e.name)[1]
                        if ext in _EXTENSIONS and e.is_file():
                            kinds.add(_EXTENSIONS[ext][0])
            if len(kinds) > 1:
                raise self.layout_error(root, f"{data_root} mixes .aedat and .aedat4 files")
            if kinds:
                return LayoutMatch(kinds.pop(), data_root)
        raise self.layout_error(root, "no class folder (airplane/ ... truck/) with .aedat(4) files")

    def _class_files(self, match: LayoutMatch, cls: str) -> list[tuple[int, os.DirEntry[str]]]:
        folder = match.data_root / cls
        if not folder.is_dir():
            return []
        ext = ".aedat" if match.layout == "original" else ".aedat4"
        files = [e for e in list_dir(folder) if e.name.endswith(ext) and e.is_file()]
        files.sort(key=lambda e: natural_key(e.name))
        numbers = [_TRAILING_NUMBER.search(e.name[: -len(ext)]) for e in files]
        values = [int(m.group(1)) for m in numbers if m]
        if len(values) == len(files) and len(set(values)) == len(values):
            return list(zip(values, files))
        return list(enumerate(files))

    def _samples(self, match: LayoutMatch) -> list[Sample]:
        fmt = "aedat2" if match.layout == "original" else "aedat4"
        listed: list[tuple[str, int, int, os.DirEntry[str]]] = []
        for label, cls in enumerate(CLASSES):
            for index, entry in self._class_files(match, cls):
                listed.append((cls, label, index, entry))
        if self.split_scheme == "tebn":
            splits = ["test" if index < 100 else "train" for _, _, index, _ in listed]
        else:
            labels = np.array([label for _, label, _, _ in listed], np.int64)
            _, test_idx = stratified_split(labels, self.test_fraction, self.seed)
            splits = ["train"] * len(listed)
            for i in test_idx:
                splits[i] = "test"
        out = []
        for (cls, label, index, entry), split in zip(listed, splits):
            stem = os.path.splitext(entry.name)[0]
            out.append(Sample(
                id=f"{cls}/{stem}", path=Path(entry.path), label=label, split=split, format=fmt,
                metadata={"index": index},
            ))
        return out
