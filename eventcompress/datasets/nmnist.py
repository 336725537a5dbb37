"""N-MNIST (Orchard et al. 2015): ``Train|Test/<digit>/<NNNNN>.bin``, official split."""

from __future__ import annotations

import os
from pathlib import Path

from .base import DatasetLayout, LayoutMatch, Sample, list_dir

_SPLIT_FOLDERS = {"train": "Train", "test": "Test"}

_ORIGINAL_TREE = """
ROOT/
  Train/
    0/ 00001.bin 00021.bin ...     (5-digit MNIST index, 1-based)
    ...
    9/ ...
  Test/
    0/ ... 9/
"""

_TONIC_TREE = """
ROOT/                              (tonic's save_to)
  NMNIST/
    Train/ 0/ ... 9/ *.bin
    Test/  0/ ... 9/ *.bin
"""

_SJ_TREE = """
ROOT/                              (SpikingJelly's root)
  extract/
    Train/ 0/ ... 9/ *.bin
    Test/  0/ ... 9/ *.bin
"""


class NMNIST(DatasetLayout):
    """N-MNIST layout: the Mendeley ``Train.zip``/``Test.zip`` extracted into ROOT (``original``),
    tonic's ``ROOT/NMNIST/{Train,Test}`` (``tonic``) or SpikingJelly's
    ``ROOT/extract/{Train,Test}`` (``spikingjelly``). Label = digit folder; split = official."""

    name = "nmnist"
    title = "N-MNIST"
    classes = tuple(str(d) for d in range(10))
    sensor_size = (34, 34)
    expected_trees = {"original": _ORIGINAL_TREE, "tonic": _TONIC_TREE,
                      "spikingjelly": _SJ_TREE}

    def discover(self, root: str | os.PathLike[str]) -> LayoutMatch:
        root = Path(root)
        candidates = (("original", root), ("tonic", root / "NMNIST"),
                      ("spikingjelly", root / "extract"))
        for layout, data_root in candidates:
            present = [f for f in _SPLIT_FOLDERS.values() if (data_root / f).is_dir()]
            if present:
                for folder in present:
                    self._check_split_folder(root, data_root / folder)
                return LayoutMatch(layout, data_root)
        raise self.layout_error(root, "no Train/ or Test/ folder")

    def _check_split_folder(self, root: Path, folder: Path) -> None:
        entries = list_dir(folder)
        dirs = [e.name for e in entries if e.is_dir()]
        unexpected = [d for d in dirs if d not in self.classes]
        if unexpected:
            raise self.layout_error(
                root, f"{folder} holds folders that are not digits 0-9: {unexpected[:5]}"
            )
        if not dirs:
            raise self.layout_error(root, f"{folder} has no digit folders 0-9")

    def _samples(self, match: LayoutMatch) -> list[Sample]:
        return self._split_samples(match, None)

    def _split_samples(self, match: LayoutMatch, split: str | None) -> list[Sample]:
        out: list[Sample] = []
        for name, folder in _SPLIT_FOLDERS.items():
            split_dir = match.data_root / folder
            if split not in (None, name) or not split_dir.is_dir():
                continue
            for class_entry in list_dir(split_dir):
                if not class_entry.is_dir():
                    continue
                label = int(class_entry.name)
                class_dir = split_dir / class_entry.name
                for f in list_dir(class_dir, ordered=False):
                    if not f.name.endswith(".bin") or not f.is_file():
                        continue
                    stem = f.name[:-4]
                    meta = {"mnist_index": int(stem)} if stem.isdigit() else {}
                    # a child of a Path costs half of parsing the whole path again
                    out.append(Sample(
                        id=f"{folder}/{class_entry.name}/{stem}", path=class_dir / f.name,
                        label=label, split=name, format="bin", metadata=meta,
                    ))
        return out
