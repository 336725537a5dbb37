"""Mini datasets and comparisons shared by the cache tests (written with our own writers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import eventcompress.io as ec_io
from eventcompress.cache import open_store
from eventcompress.datasets import get_dataset, load_sample
from eventcompress.events import Events
from eventcompress.io import write_labels_csv


def moving_bar(rng: np.random.Generator, n: int, sensor: tuple[int, int], t0: int,
               duration: int) -> Events:
    """A bar sweeping across the sensor plus some noise: structured like real recordings."""
    w, h = sensor
    t = np.sort(rng.integers(t0, t0 + duration, n)).astype(np.int64)
    phase = (t - t0) / duration
    x = (phase * (w - 1) + rng.normal(0, 1.5, n)).clip(0, w - 1).astype(np.int64)
    y = rng.integers(0, h, n)
    noise = rng.random(n) < 0.1
    x[noise] = rng.integers(0, w, int(noise.sum()))
    return Events(x, y, t, rng.integers(0, 2, n), sensor)


def make_cifar(root: Path, seed: int = 0, classes: int = 3,
               indices: tuple[int, ...] = (0, 1, 100, 101, 102)) -> Path:
    """CIFAR10-DVS original layout, AEDAT 2.0; index < 100 is test under the TEBN split."""
    from eventcompress.datasets.cifar10dvs import CLASSES

    rng = np.random.default_rng(seed)
    for cls in CLASSES[:classes]:
        for i in indices:
            path = root / cls / f"cifar10_{cls}_{i}.aedat"
            path.parent.mkdir(parents=True, exist_ok=True)
            ev = moving_bar(rng, int(rng.integers(2_000, 6_000)), (128, 128), 0, 1_300_000)
            ec_io.write(path, ev, "aedat2")
    return root


def make_gesture(root: Path, seed: int = 0, users: tuple[int, ...] = (1, 2, 24)) -> Path:
    """DVS Gesture original layout: AEDAT 3.1 trials cut by label CSVs (3 gestures each)."""
    rng = np.random.default_rng(seed)
    data = root / "DvsGesture"
    data.mkdir(parents=True, exist_ok=True)
    for user in users:
        trial = f"user{user:02d}_natural"
        ev = moving_bar(rng, 12_000, (128, 128), 1_000_000, 6_000_000)
        ec_io.write(data / f"{trial}.aedat", ev, "aedat3")
        rows = np.array([[1 + (user % 3), 1_500_000, 3_000_000], [5, 3_200_000, 4_500_000],
                         [11, 4_600_000, 6_900_000]])
        write_labels_csv(data / f"{trial}_labels.csv", rows)
    return root


def expected_entries(dataset: str, root: Path, split: str, pipeline: Any,
                     dtype: np.dtype | None, skip: set[int] = frozenset()
                     ) -> tuple[list[Any], list[Any]]:
    """Samples and what the store should hold for each (None for ``skip``), computed one by
    one."""
    samples = get_dataset(dataset).samples(root, split)
    out: list[Any] = []
    for i, s in enumerate(samples):
        if i in skip:
            out.append(None)
            continue
        value = pipeline(load_sample(s), sample_index=i)
        out.append(value if dtype is None else np.asarray(value).astype(dtype))
    return samples, out


def store_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every array of a store by name (both backends)."""
    store = open_store(path, check_source=False)
    h = store._handle()
    if store.backend == "hdf5":
        names = list(h.file.keys())
    else:
        names = [name for name, _ in h.group.arrays()]
    return {name: h.all(name) for name in names}


def assert_same_store(a: Path, b: Path) -> None:
    """Same arrays (bit for bit) and attributes, apart from the creation time."""
    arrays_a, arrays_b = store_arrays(a), store_arrays(b)
    assert sorted(arrays_a) == sorted(arrays_b)
    for name in arrays_a:
        assert arrays_a[name].dtype == arrays_b[name].dtype, name
        assert np.array_equal(arrays_a[name], arrays_b[name]), name
    attrs_a = dict(open_store(a, check_source=False).attrs)
    attrs_b = dict(open_store(b, check_source=False).attrs)
    attrs_a.pop("created")
    attrs_b.pop("created")
    assert attrs_a == attrs_b
