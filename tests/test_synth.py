"""tools/synth.py: generated datasets list in their original layouts, decode with our readers and
tonic's, have realistic per-sample figures, are deterministic, and their classes differ."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from conftest import require_oracle
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from io_strategies import patch_tonic_aedat_header

import eventcompress.io as ec_io
from eventcompress.datasets import get_dataset
from eventcompress.datasets.base import load_sample
from eventcompress.events import Events
from tools import synth, synth_render
from tools.synth_scenes import _bilinear_image


def _image(events: Events, factor: int = 1) -> np.ndarray:
    """Per-polarity event-count image, downsampled by ``factor``, normalised to sum 1."""
    w, h = events.sensor_size
    img = np.zeros((2, -(-h // factor), -(-w // factor)))
    np.add.at(img, (events.p, events.y // factor, events.x // factor), 1)
    return (img / max(img.sum(), 1)).ravel()


def _nearest_centroid_accuracy(train: list[tuple[int, np.ndarray]],
                               test: list[tuple[int, np.ndarray]]) -> float:
    labels = sorted({c for c, _ in train})
    centroids = np.array([np.mean([v for c, v in train if c == k], 0) for k in labels])
    hits = [labels[int(np.argmin(((centroids - v) ** 2).sum(1)))] == c for c, v in test]
    return float(np.mean(hits))


# -- the pixel model ---------------------------------------------------------------------------

def _run_kernel(kernel, scene: tuple, level0: np.ndarray, thresh: np.ndarray, ref0: np.ndarray,
                n_steps: int, dt: int, cap: int) -> tuple[int, tuple[np.ndarray, ...], np.ndarray]:
    """(events counted, output buffers, final references) of one noise-free kernel run."""
    noise = (np.zeros(n_steps, np.int64), np.zeros(0, np.uint16), np.zeros(0, np.uint16),
             np.zeros(0, np.uint8), np.zeros(0, np.int64))
    bufs = (np.zeros(cap, np.uint16), np.zeros(cap, np.uint16), np.zeros(cap, np.int64),
            np.zeros(cap, np.uint8))
    ref = ref0.copy()
    n = kernel(*scene, 0, dt, ref, level0.copy(), thresh, *noise, *bufs)
    return n, bufs, ref


def _check_pixel_model(kernel, scene: tuple, level0: np.ndarray, final: np.ndarray,
                       thresh: np.ndarray, phase: np.ndarray, n_steps: int, cap: int) -> None:
    """Every pixel's events, each worth one threshold, carry its reference from the first image
    to within one threshold of the last; events are sorted and inside their steps; a run into
    too small buffers counts the same events."""
    dt = 1000
    ref0 = (level0 + phase * thresh).astype(np.float32)
    n, (x, y, t, p), ref = _run_kernel(kernel, scene, level0, thresh, ref0, n_steps, dt, 10**5)
    x, y, t, p = x[:n], y[:n], t[:n], p[:n]
    signed = np.zeros(level0.shape)
    np.add.at(signed, (y, x), np.where(p == 1, 1.0, -1.0))
    assert np.allclose(ref, ref0 + signed * thresh, atol=1e-4)
    assert np.all(np.abs(final - ref) < thresh + 1e-4)
    assert np.all(np.diff(t) >= 0) and (n == 0 or (t[0] >= 0 and t[-1] < (n_steps - 1) * dt))
    short, _, _ = _run_kernel(kernel, scene, level0, thresh, ref0, n_steps, dt, cap)
    assert short == n  # what the caller's retry with larger buffers relies on


_levels = st.floats(-2, 2, width=32)


@given(h=st.integers(1, 6), w=st.integers(1, 6), n_steps=st.integers(2, 10),
       data=st.data(), cap=st.integers(0, 40))
def test_texture_kernel_follows_the_pixel_model(h: int, w: int, n_steps: int, data: st.DataObject,
                                                cap: int) -> None:
    pad = 3
    tex = data.draw(arrays(np.float32, (h + 2 * pad, w + 2 * pad), elements=_levels))
    shift = data.draw(arrays(np.float32, (n_steps, 2), elements=st.floats(-1.5, 1.5, width=32)))
    thresh = data.draw(arrays(np.float32, (h, w), elements=st.floats(0.0625, 0.625, width=32)))
    phase = data.draw(arrays(np.float32, (h, w), elements=st.floats(-0.4375, 0.4375, width=32)))
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    level0, final = (_bilinear_image(tex, gy + pad - shift[s, 1], gx + pad - shift[s, 0])
                     for s in (0, -1))
    _check_pixel_model(synth_render.texture_events, (tex, pad, shift), level0, final, thresh,
                       phase, n_steps, cap)


@given(n_caps=st.integers(1, 4), n_steps=st.integers(2, 8), data=st.data(),
       cap=st.integers(0, 40))
def test_capsule_kernel_visits_every_pixel_that_changes(n_caps: int, n_steps: int,
                                                        data: st.DataObject, cap: int) -> None:
    """Random capsules jumping anywhere on a 20 x 16 sensor: the rows marked around the
    capsules that moved must hold every pixel whose level changed."""
    h, w = 16, 20
    caps = data.draw(arrays(np.float32, (n_steps, n_caps, 4), elements=st.floats(-3, 22, width=32)))
    if data.draw(st.booleans()):  # some capsules hold still between steps
        caps[1:, 0] = caps[0, 0]
    group = np.array(data.draw(st.lists(st.integers(0, 1), min_size=n_caps, max_size=n_caps)),
                     np.int64)
    radius = data.draw(arrays(np.float32, n_caps, elements=st.floats(0.25, 4, width=32)))
    gain = np.float32(data.draw(st.sampled_from([-1.5, -0.4, 0.7, 2.0])))
    thresh = data.draw(arrays(np.float32, (h, w), elements=st.floats(0.0625, 0.625, width=32)))
    phase = data.draw(arrays(np.float32, (h, w), elements=st.floats(-0.4375, 0.4375, width=32)))
    level0, final = (synth_render.capsule_image(caps[s:][:1], radius, gain, np.float32(0), h, w)
                     for s in (0, n_steps - 1))
    _check_pixel_model(synth_render.capsule_events, (caps, group, radius, gain, np.float32(0)),
                       level0, final, thresh, phase, n_steps, cap)


# -- N-MNIST -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def nmnist_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synth.write_nmnist(tmp_path_factory.mktemp("nmnist"), n_train=20, n_test=10, seed=3)


def test_nmnist_layout_lists_every_file_by_split_and_class(nmnist_root: Path) -> None:
    layout = get_dataset("nmnist")
    train, test = layout.samples(nmnist_root, "train"), layout.samples(nmnist_root, "test")
    assert len(train) == 20 and len(test) == 10
    assert Counter(s.label for s in train) == dict.fromkeys(range(10), 2)
    assert Counter(s.label for s in test) == dict.fromkeys(range(10), 1)
    assert sorted(s.metadata["mnist_index"] for s in train) == list(range(1, 21))
    assert {s.path.parent.name for s in train} == {str(d) for d in range(10)}


def test_nmnist_files_decode_like_tonic_with_realistic_figures(nmnist_root: Path) -> None:
    tonic_io = require_oracle("tonic.io")
    dtype = np.dtype([("x", int), ("y", int), ("t", int), ("p", int)])
    counts = []
    for sample in get_dataset("nmnist").samples(nmnist_root):
        ours = ec_io.read(sample.path)
        theirs = tonic_io.read_mnist_file(str(sample.path), dtype)
        for name in "xytp":
            assert np.array_equal(theirs[name], getattr(ours, name)), (sample.id, name)
        assert ours.sensor_size == (34, 34) and int(ours.x.max()) < 34 and int(ours.y.max()) < 34
        assert ours.t[0] <= 25_800 and 290_000 <= ours.t[-1] <= 336_000  # FORMATS.md 1.4
        assert np.all(np.diff(ours.t) >= 0)
        counts.append(len(ours))
        # three saccades: each 105 ms third holds a fair share of the events
        thirds = np.bincount(np.minimum(ours.t // 105_000, 2), minlength=3) / len(ours)
        assert thirds.min() > 0.2, (sample.id, thirds)
    assert 1_000 <= min(counts) and max(counts) <= 8_000
    assert 3_500 <= np.mean(counts) <= 4_700  # real: mean 4,108, 1,069-7,152


def test_nmnist_is_deterministic_for_a_seed(nmnist_root: Path, tmp_path: Path) -> None:
    again = synth.write_nmnist(tmp_path / "a", n_train=20, n_test=10, seed=3, jobs=2)
    other = synth.write_nmnist(tmp_path / "b", n_train=20, n_test=10, seed=4)
    files = sorted(p.relative_to(nmnist_root) for p in nmnist_root.rglob("*.bin"))
    assert files == sorted(p.relative_to(again) for p in again.rglob("*.bin"))
    assert all((nmnist_root / f).read_bytes() == (again / f).read_bytes() for f in files)
    assert any(not (other / f).exists() or (nmnist_root / f).read_bytes() != (other / f).read_bytes()
               for f in files)


def _occupancy(events: Events, bins: int = 4, duration: int = 315_000) -> tuple[int, int]:
    """(active pixels, active voxels of ``bins`` time bins x 2 polarities): what a frame or STC
    representation of the sample stores."""
    w, h = events.sensor_size
    b = np.minimum(events.t * bins // duration, bins - 1)
    pixel = events.y.astype(np.int64) * w + events.x
    return len(np.unique(pixel)), len(np.unique((b * 2 + events.p) * (w * h) + pixel))


def test_nmnist_occupancy_matches_real_recordings(nmnist_small: Path) -> None:
    """Events per active voxel (how well a binned representation compresses) and the active
    pixel and voxel counts are within 25 % of the real NMNIST-small recordings."""
    real_files = [s.path for s in get_dataset("nmnist").samples(nmnist_small, "train")[::10]]
    real = np.array([(len(e), *_occupancy(e)) for e in map(ec_io.read, real_files)], float)
    ours = np.array([(len(e), *_occupancy(e)) for e in (
        synth.nmnist_events(i % 10, synth.sample_rng("nmnist", 0, 0, i)) for i in range(100))], float)
    for name, a, b in (("pixels", real[:, 1], ours[:, 1]), ("voxels", real[:, 2], ours[:, 2]),
                       ("events/voxel", real[:, 0] / real[:, 2], ours[:, 0] / ours[:, 2])):
        assert 0.75 <= b.mean() / a.mean() <= 1.25, (name, a.mean(), b.mean())


def test_nmnist_labels_are_balanced_and_do_not_depend_on_the_size() -> None:
    labels = synth.nmnist_labels(35, seed=0, split_no=0)
    assert labels[:20] == synth.nmnist_labels(20, seed=0, split_no=0)
    assert sorted(labels[:10]) == list(range(10)) and sorted(labels[20:30]) == list(range(10))
    assert labels != synth.nmnist_labels(35, seed=1, split_no=0)


def _generated_accuracy(dataset: str, make, per_class: int, n_train: int, factor: int) -> float:
    """Nearest-centroid accuracy over 10 classes of ``per_class`` generated samples each, the
    first ``n_train`` of a class for the centroids."""
    data = [(c, i, _image(make(c, synth.sample_rng(dataset, 0, c, i)), factor))
            for c in range(10) for i in range(per_class)]
    return _nearest_centroid_accuracy([(c, v) for c, i, v in data if i < n_train],
                                      [(c, v) for c, i, v in data if i >= n_train])


def test_nmnist_digits_are_separable() -> None:
    assert _generated_accuracy("nmnist", synth.nmnist_events, 9, 6, 1) >= 0.6  # chance: 0.1


# -- CIFAR10-DVS -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cifar_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synth.write_cifar10dvs(tmp_path_factory.mktemp("cifar"), n_per_class=2, seed=1)


def test_cifar_indices_keep_the_tebn_split_at_any_scale() -> None:
    assert synth.cifar_indices(1000) == list(range(1000))
    assert synth.cifar_indices(10) == [0] + list(range(100, 109))
    assert synth.cifar_indices(2) == [0, 100]
    assert synth.cifar_indices(1) == [100]


def test_cifar_layout_and_files(cifar_root: Path) -> None:
    tonic_io = require_oracle("tonic.io")
    layout = get_dataset("cifar10dvs")
    train, test = layout.samples(cifar_root, "train"), layout.samples(cifar_root, "test")
    assert Counter(s.label for s in train) == dict.fromkeys(range(10), 1)
    assert Counter(s.label for s in test) == dict.fromkeys(range(10), 1)
    assert {s.path.name for s in train if s.label == 0} == {"cifar10_airplane_100.aedat"}
    assert {s.path.name for s in test if s.label == 9} == {"cifar10_truck_0.aedat"}
    counts = []
    mp = pytest.MonkeyPatch()
    patch_tonic_aedat_header(mp, tonic_io)
    try:
        for sample in train[:3]:
            ours = load_sample(sample)
            _, theirs = tonic_io.read_dvs_128(str(sample.path))
            # tonic's read_dvs_128 = (y, 127 - x, 1 - p) of ours under the jAER convention
            assert np.array_equal(theirs["x"], ours.y) and np.array_equal(theirs["t"], ours.t)
            assert np.array_equal(theirs["y"], 127 - ours.x.astype(int))
            assert np.array_equal(theirs["p"], 1 - ours.p)
    finally:
        mp.undo()
    for sample in train + test:
        ours = load_sample(sample)
        assert ours.sensor_size == (128, 128) and np.all(np.diff(ours.t) >= 0)
        assert 1.2e6 <= ours.t[-1] - ours.t[0] <= 1.4e6  # real mean 1.298 s
        counts.append(len(ours))
    assert 100_000 <= min(counts) and max(counts) <= 400_000
    assert 150_000 <= np.mean(counts) <= 260_000  # real mean 205,071


def test_cifar_files_are_deterministic_for_a_seed(cifar_root: Path) -> None:
    path = cifar_root / "airplane" / "cifar10_airplane_100.aedat"
    assert ec_io.read(path) == synth.cifar10dvs_events(0, synth.sample_rng("cifar10dvs", 1, 0, 100))
    assert ec_io.read(path) != synth.cifar10dvs_events(0, synth.sample_rng("cifar10dvs", 2, 0, 100))


def test_cifar_classes_are_separable() -> None:
    accuracy = _generated_accuracy("cifar10dvs", synth.cifar10dvs_events, 4, 2, 8)
    assert accuracy >= 0.25  # chance: 0.1


# -- DVS Gesture -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def gesture_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synth.write_dvsgesture(tmp_path_factory.mktemp("gesture"), n_users=2, seed=0,
                                  trials_per_user=1)


def test_gesture_trials_follow_the_real_dataset() -> None:
    full = synth.gesture_trials(29)
    assert len(full) == 122 and len(set(full)) == 122
    assert sum(u <= 23 for u, _ in full) == 98
    assert synth.gesture_trials(2) == [(1, "fluorescent"), (1, "fluorescent_led"), (1, "lab"),
                                       (1, "led"), (1, "natural"), (24, "fluorescent"),
                                       (24, "fluorescent_led"), (24, "led")]
    assert synth.gesture_trials(2, 1) == [(1, "fluorescent"), (24, "fluorescent")]
    writer, sizes, _ = synth.plan("dvsgesture", 1.0)
    assert writer is synth.write_dvsgesture and sizes == {"n_users": 29, "trials_per_user": None}


def test_gesture_layout_labels_and_trial_lists(gesture_root: Path) -> None:
    folder = gesture_root / "DvsGesture"
    assert (folder / "trials_to_train.txt").read_text() == "user01_fluorescent.aedat\n"
    assert (folder / "trials_to_test.txt").read_text() == "user24_fluorescent.aedat\n"
    layout = get_dataset("dvsgesture")
    train, test = layout.samples(gesture_root, "train"), layout.samples(gesture_root, "test")
    assert len(train) == 12 and len(test) == 12
    assert Counter(s.label for s in train) == {**dict.fromkeys(range(11), 1), 7: 2}
    rows = ec_io.read_labels_csv(folder / "user01_fluorescent_labels.csv")
    assert rows["class_id"].tolist() == list(synth.GESTURE_ROW_CLASSES)
    durations = (rows["end"] - rows["start"]) / 1e6
    assert durations.min() >= 4.5 and durations.max() <= 8.5
    assert np.all(rows["start"][1:] > rows["end"][:-1])  # no overlaps
    assert len(get_dataset("dvsgesture", mode="dedupe").samples(gesture_root, "train")) == 11


def test_gesture_files_decode_like_tonic_with_realistic_figures(gesture_root: Path) -> None:
    tonic_io = require_oracle("tonic.io")
    folder = gesture_root / "DvsGesture"
    ours = ec_io.read(folder / "user24_fluorescent.aedat")
    mp = pytest.MonkeyPatch()
    patch_tonic_aedat_header(mp, tonic_io)
    try:
        _, theirs = tonic_io.read_dvs_ibm(str(folder / "user24_fluorescent.aedat"))
    finally:
        mp.undo()
    for name in "xytp":
        assert np.array_equal(theirs[name], getattr(ours, name)), name
    assert ours.sensor_size == (128, 128) and np.all(np.diff(ours.t) >= 0)
    assert 3e6 <= len(ours) <= 8e6  # real: about 5 M events a trial
    counts = [len(load_sample(s)) for s in get_dataset("dvsgesture").samples(gesture_root)]
    assert 150_000 <= min(counts) and max(counts) <= 900_000
    assert 250_000 <= np.mean(counts) <= 480_000  # real mean 362,239 per row


def test_gesture_classes_are_separable(gesture_root: Path) -> None:
    data: dict[str, list[tuple[int, np.ndarray]]] = {"train": [], "test": []}
    for sample in get_dataset("dvsgesture").samples(gesture_root):
        data[sample.split].append((sample.label, _image(load_sample(sample), 8)))
    assert _nearest_centroid_accuracy(data["train"], data["test"]) >= 0.3  # chance: 1/11


def test_gesture_trial_is_deterministic(gesture_root: Path) -> None:
    folder = gesture_root / "DvsGesture"
    events, rows = synth.gesture_trial_events(1, "fluorescent", seed=0)
    assert ec_io.read(folder / "user01_fluorescent.aedat") == events
    assert np.array_equal(ec_io.read_labels_csv(folder / "user01_fluorescent_labels.csv")
                          .view(np.int64).reshape(-1, 3), rows)


# -- command line ------------------------------------------------------------------------------

def test_cli_writes_a_scaled_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert synth.main(["nmnist", "--out", str(tmp_path), "--scale", "0.0002", "--quiet"]) == 0
    assert capsys.readouterr().out == ""
    layout = get_dataset("nmnist")
    assert len(layout.samples(tmp_path, "train")) == 12 and len(layout.samples(tmp_path, "test")) == 2
    assert synth.plan("nmnist", 1.0)[1] == {"n_train": 60_000, "n_test": 10_000}
    assert synth.plan("cifar10dvs", 1.0)[1] == {"n_per_class": 1000}
    with pytest.raises(SystemExit):
        synth.main(["nmnist", "--out", str(tmp_path), "--scale", "0"])
