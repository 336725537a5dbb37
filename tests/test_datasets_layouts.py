"""Layout discovery and sample enumeration of N-MNIST and CIFAR10-DVS (no event decoding)."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from conftest import require_oracle

import eventcompress.io as ec_io
from eventcompress.datasets import (
    CIFAR10DVS,
    NMNIST,
    Sample,
    detect_dataset,
    get_dataset,
    load_sample,
)
from eventcompress.datasets.cifar10dvs import CLASSES as CIFAR_CLASSES
from eventcompress.errors import LayoutError
from eventcompress.events import Events


def touch(path: Path, data: bytes = b"") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def make_nmnist(root: Path, per_class: dict[str, dict[int, list[int]]]) -> None:
    """per_class: {"Train": {digit: [mnist indices]}, ...}"""
    for folder, classes in per_class.items():
        for digit, indices in classes.items():
            for i in indices:
                touch(root / folder / str(digit) / f"{i:05d}.bin")


# -- N-MNIST ----------------------------------------------------------------------------------

def test_nmnist_small_counts_match_folder(nmnist_small: Path) -> None:
    ds = NMNIST()
    samples = ds.samples(nmnist_small)
    assert ds.discover(nmnist_small).layout == "original"
    expected = Counter()
    for split, folder in (("train", "Train"), ("test", "Test")):
        for digit in os.listdir(nmnist_small / folder):
            n = sum(f.endswith(".bin") for f in os.listdir(nmnist_small / folder / digit))
            expected[(split, int(digit))] = n
    assert Counter((s.split, s.label) for s in samples) == expected
    assert sum(v for (sp, _), v in expected.items() if sp == "train") == 1000
    assert sum(v for (sp, _), v in expected.items() if sp == "test") == 100
    assert len(ds.samples(nmnist_small, split="train")) == 1000
    assert len(ds.samples(nmnist_small, split="test")) == 100
    ids = [s.id for s in samples]
    assert len(set(ids)) == len(ids)
    for s in samples[:50] + samples[-50:]:
        assert s.path.parent.name == str(s.label)
        assert s.id == f"{s.path.parent.parent.name}/{s.label}/{s.path.stem}"
        assert s.metadata["mnist_index"] == int(s.path.stem)
        assert s.format == "bin" and s.time_slice is None
    # sorted: train before test, then by label, then by index
    keys = [({"train": 0, "test": 1}[s.split], s.label, s.metadata["mnist_index"]) for s in samples]
    assert keys == sorted(keys)


def test_nmnist_synthetic_layouts(tmp_path: Path) -> None:
    tree = {"Train": {0: [2, 10, 1], 7: [5]}, "Test": {3: [4, 40]}}
    make_nmnist(tmp_path / "orig", tree)
    make_nmnist(tmp_path / "tonic" / "NMNIST", tree)
    make_nmnist(tmp_path / "sj" / "extract", tree)
    ds = get_dataset("nmnist")
    for name, layout in (("orig", "original"), ("tonic", "tonic"), ("sj", "spikingjelly")):
        match = ds.discover(tmp_path / name)
        assert match.layout == layout
        ids = [s.id for s in ds.samples(tmp_path / name)]
        assert ids == ["Train/0/00001", "Train/0/00002", "Train/0/00010", "Train/7/00005",
                       "Test/3/00004", "Test/3/00040"]
    # non-.bin and hidden files are ignored
    touch(tmp_path / "orig" / "Train" / "0" / ".DS_Store")
    touch(tmp_path / "orig" / "Train" / "0" / "notes.txt")
    assert len(ds.samples(tmp_path / "orig", split="train")) == 4
    assert detect_dataset(tmp_path / "tonic")[0].name == "nmnist"


def test_nmnist_wrong_layout_shows_expected_tree(tmp_path: Path) -> None:
    touch(tmp_path / "train_data" / "a.bin")
    with pytest.raises(LayoutError) as info:
        NMNIST().samples(tmp_path)
    msg = str(info.value)
    assert "N-MNIST" in msg and "Train/" in msg and "Test/" in msg and "00001.bin" in msg
    assert "[tonic]" in msg and "NMNIST/" in msg
    assert "found in" in msg and "train_data/" in msg


def test_nmnist_unexpected_class_folder(tmp_path: Path) -> None:
    make_nmnist(tmp_path, {"Train": {0: [1]}})
    (tmp_path / "Train" / "10").mkdir()
    with pytest.raises(LayoutError, match="not digits 0-9"):
        NMNIST().samples(tmp_path)


def test_sample_is_hashable_and_frozen(tmp_path: Path) -> None:
    s = Sample("a", tmp_path, 1, "train", metadata={"x": [1]})
    t = Sample("a", tmp_path, 1, "train", metadata={"x": [2]})
    assert hash(s) == hash(t) and s == t
    with pytest.raises(AttributeError):
        s.label = 2  # type: ignore[misc]


def test_get_dataset_names() -> None:
    assert isinstance(get_dataset("CIFAR10-DVS"), CIFAR10DVS)
    assert get_dataset("dvs_gesture", mode="dedupe").mode == "dedupe"
    with pytest.raises(ValueError, match="unknown dataset"):
        get_dataset("mnist")


# -- CIFAR10-DVS ------------------------------------------------------------------------------

def make_cifar(root: Path, n: int, classes=CIFAR_CLASSES, ext: str = ".aedat") -> None:
    for cls in classes:
        for i in range(n):
            touch(root / cls / f"cifar10_{cls}_{i}{ext}")


def test_cifar_tebn_split(tmp_path: Path) -> None:
    make_cifar(tmp_path, 120, classes=CIFAR_CLASSES[:3])
    ds = CIFAR10DVS()
    assert ds.discover(tmp_path).layout == "original"
    samples = ds.samples(tmp_path)
    assert len(samples) == 360
    counts = Counter((s.split, s.label) for s in samples)
    assert counts == {("test", c): 100 for c in range(3)} | {("train", c): 20 for c in range(3)}
    for s in samples:
        assert (s.split == "test") == (s.metadata["index"] < 100)
        assert s.format == "aedat2"
        assert s.id == f"{CIFAR_CLASSES[s.label]}/cifar10_{CIFAR_CLASSES[s.label]}_{s.metadata['index']}"
    # natural (numeric) order within a class: 0, 1, 2, ..., 10, not 0, 1, 10, 100
    test0 = [s.metadata["index"] for s in ds.samples(tmp_path, split="test") if s.label == 0]
    assert test0 == list(range(100))


def test_cifar_tonic_layout_without_numbers(tmp_path: Path) -> None:
    # names that do not end in a number: index = position in natural name order
    data = tmp_path / "CIFAR10DVS"
    for k in range(105):
        touch(data / "ship" / f"{k}_rec.aedat4")
    ds = CIFAR10DVS()
    match = ds.discover(tmp_path)
    assert match.layout == "tonic" and match.data_root == data
    samples = ds.samples(tmp_path)
    assert {s.label for s in samples} == {8}
    assert all(s.format == "aedat4" for s in samples)
    test = sorted(s.metadata["index"] for s in samples if s.split == "test")
    assert test == list(range(100))
    train_names = sorted(s.path.name for s in samples if s.split == "train")
    assert train_names == sorted(f"{k}_rec.aedat4" for k in range(100, 105))


def test_cifar_mixed_extensions_rejected(tmp_path: Path) -> None:
    touch(tmp_path / "cat" / "a_1.aedat")
    touch(tmp_path / "cat" / "a_2.aedat4")
    with pytest.raises(LayoutError, match="mixes"):
        CIFAR10DVS().discover(tmp_path)


def test_cifar_wrong_layout_message(tmp_path: Path) -> None:
    touch(tmp_path / "images" / "x.png")
    with pytest.raises(LayoutError) as info:
        CIFAR10DVS().discover(tmp_path)
    msg = str(info.value)
    assert "cifar10_airplane_0.aedat" in msg and "*.aedat4" in msg and "images/" in msg


def test_cifar_random_split(tmp_path: Path) -> None:
    make_cifar(tmp_path, 50)
    a = CIFAR10DVS("random", seed=3).samples(tmp_path)
    b = CIFAR10DVS("random", seed=3).samples(tmp_path)
    c = CIFAR10DVS("random", seed=4).samples(tmp_path)
    split_a = {s.id: s.split for s in a}
    assert split_a == {s.id: s.split for s in b}
    assert split_a != {s.id: s.split for s in c}
    counts = Counter((s.split, s.label) for s in a)
    assert all(counts[("test", c)] == 5 and counts[("train", c)] == 45 for c in range(10))
    # the random split is not the TEBN one
    assert {s.id for s in a if s.split == "test"} != {
        s.id for s in CIFAR10DVS().samples(tmp_path) if s.split == "test"
    }
    with pytest.raises(ValueError):
        CIFAR10DVS("official")


def test_detect_dataset_unknown_folder(tmp_path: Path) -> None:
    touch(tmp_path / "readme.txt")
    with pytest.raises(LayoutError) as info:
        detect_dataset(tmp_path)
    msg = str(info.value)
    for text in ("N-MNIST", "CIFAR10-DVS", "DVS128 Gesture", "Train/", "airplane/",
                 "user01_fluorescent.aedat", "ibmGestureTrain/", "readme.txt"):
        assert text in msg


# -- loading ----------------------------------------------------------------------------------

def test_load_sample_nmnist_matches_tonic(nmnist_small: Path) -> None:
    tonic_io = require_oracle("tonic.io")
    samples = NMNIST().samples(nmnist_small)
    for s in (samples[0], samples[517], samples[-1]):
        ev = load_sample(s)
        ref = tonic_io.read_mnist_file(str(s.path), dtype=np.dtype(
            [("x", int), ("y", int), ("t", int), ("p", int)]))
        assert np.array_equal(ev.x, ref["x"]) and np.array_equal(ev.y, ref["y"])
        assert np.array_equal(ev.t, ref["t"]) and np.array_equal(ev.p, ref["p"])
        assert ev.metadata["sample_id"] == s.id and ev.metadata["label"] == s.label
        assert ev.metadata["split"] == s.split


def test_load_sample_cifar_aedat2(tmp_path: Path) -> None:
    n = 500
    events = Events(np.arange(n) % 128, (np.arange(n) * 3) % 128, np.arange(n) * 10,
                    np.arange(n) % 2, (128, 128))
    path = tmp_path / "dog" / "cifar10_dog_7.aedat"
    path.parent.mkdir()
    ec_io.write(path, events, "aedat2")
    (sample,) = CIFAR10DVS().samples(tmp_path)
    assert (sample.label, sample.split, sample.format) == (5, "test", "aedat2")
    loaded = load_sample(sample)
    assert loaded == events
