"""DVS128 Gesture: row conventions, the overlap rule, trial lists, tonic's .npy layout, md5s."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

import eventcompress.io as ec_io
from eventcompress.datasets import DVSGesture, detect_dataset, gesture_segments, load_sample
from eventcompress.datasets import download as dl
from eventcompress.datasets.dvsgesture import read_trial_list
from eventcompress.errors import ChecksumError, LabelsError, LayoutError
from eventcompress.events import Events

LABEL_DTYPE = np.dtype([("class_id", np.int64), ("start", np.int64), ("end", np.int64)])


def rows(*triples: tuple[int, int, int]) -> np.ndarray:
    return np.array(list(triples), dtype=LABEL_DTYPE)


@pytest.fixture(scope="module")
def user01_csv(realdata: Path) -> Path:
    path = realdata / "dvs_gesture" / "user01_natural_labels.csv"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return path


def load_csv_independently(path: Path) -> np.ndarray:
    table = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.int64, ndmin=2)
    return np.array([tuple(r) for r in table], dtype=LABEL_DTYPE)


# -- gesture_segments -------------------------------------------------------------------------

def test_rows_vs_dedupe_on_real_csv(user01_csv: Path) -> None:
    table = load_csv_independently(user01_csv)
    segs = gesture_segments(table, "rows")
    assert len(segs) == 12
    assert [s.label for s in segs] == [0, 1, 2, 4, 3, 5, 6, 7, 7, 8, 9, 10]  # file order kept
    assert [s.rows for s in segs] == [(i,) for i in range(12)]
    assert [(s.start, s.end) for s in segs] == [(int(r["start"]), int(r["end"])) for r in table]
    assert all(s.clipped_from is None for s in segs)  # no overlap in this trial

    merged = gesture_segments(table, "dedupe")
    assert len(merged) == 11
    assert sorted(s.label for s in merged) == list(range(11))
    arm_roll = [s for s in merged if s.label == 7]
    assert len(arm_roll) == 1
    assert arm_roll[0].rows == (7, 8)
    assert (arm_roll[0].start, arm_roll[0].end) == (132355007, 148751823)


def test_overlap_is_clipped_to_next_start() -> None:
    # user22_led-like: class 9 ends (110590564) after class 10 starts (104500000)
    table = rows((9, 95_000_000, 110_590_564), (10, 104_500_000, 112_000_000),
                 (11, 113_000_000, 120_000_000))
    segs = gesture_segments(table)
    assert (segs[0].start, segs[0].end, segs[0].clipped_from) == (95_000_000, 104_500_000,
                                                                  110_590_564)
    assert (segs[1].end, segs[1].clipped_from) == (112_000_000, None)
    # rows out of time order: each row is clipped to the next LATER start, wherever it is listed
    table = rows((3, 50, 200), (1, 0, 120), (2, 100, 140))
    segs = gesture_segments(table)
    assert [(s.start, s.end) for s in segs] == [(50, 100), (0, 50), (100, 140)]
    assert [s.clipped_from for s in segs] == [200, 120, None]


@pytest.mark.parametrize(
    ("table", "match"),
    [
        (rows((1, 0, 10), (2, 0, 20)), "both start at 0"),
        (rows((12, 0, 10),), "outside 1..11"),
        (rows((0, 0, 10),), "outside 1..11"),
        (rows((1, 10, 10),), "end 10 <= start 10"),
    ],
)
def test_bad_rows(table: np.ndarray, match: str) -> None:
    with pytest.raises(LabelsError, match=match):
        gesture_segments(table, path="x_labels.csv")


@pytest.mark.parametrize(
    ("table", "bad", "match"),
    [
        (rows((1, 0, 10), (12, 20, 30), (3, 40, 50)), 1, "class 12 outside 1..11"),
        (rows((1, 0, 10), (2, 20, 30), (3, 50, 50)), 2, "end 50 <= start 50"),
        (rows((1, 70, 80), (2, 0, 20), (3, 70, 90)), 2, "both start at 70"),
    ],
)
def test_bad_rows_name_their_row(table: np.ndarray, bad: int, match: str) -> None:
    with pytest.raises(LabelsError, match=match) as info:
        gesture_segments(table, path="x_labels.csv")
    assert info.value.row == bad and f"data row {bad} (0-based)" in str(info.value)
    assert info.value.path == "x_labels.csv"
    lines = np.array([2, 4, 7])  # CSV lines of the data rows (header, blank lines between)
    with pytest.raises(LabelsError, match=match) as info:
        gesture_segments(table, path="x_labels.csv", lines=lines)
    assert info.value.row == lines[bad] and f"line {lines[bad]} (data row {bad}" in str(info.value)
    with pytest.raises(ValueError, match="lines has 2 entries for 3 rows"):
        gesture_segments(table, lines=lines[:2])


def test_layout_reports_csv_line_of_bad_row(tmp_path: Path) -> None:
    data = tmp_path / "DvsGesture"
    data.mkdir()
    (data / "user03_led.aedat").write_bytes(b"")
    csv = data / "user03_led_labels.csv"
    csv.write_text("class,startTime_usec,endTime_usec\n1,0,10\n\n2,20,30\n14,40,50\n")
    with pytest.raises(LabelsError) as info:
        DVSGesture().samples(tmp_path)
    assert info.value.path == str(csv) and info.value.row == 5
    assert "line 5 (data row 2, 0-based): class 14" in str(info.value)
    csv.write_text("class,startTime_usec,endTime_usec\n")
    with pytest.raises(LabelsError, match="only a header line") as info:
        DVSGesture().samples(tmp_path)
    assert info.value.path == str(csv)


def test_dedupe_merges_only_consecutive_rows() -> None:
    table = rows((8, 0, 10), (8, 12, 20), (1, 30, 40), (8, 50, 60))
    merged = gesture_segments(table, "dedupe")
    assert [(s.label, s.start, s.end, s.rows) for s in merged] == [
        (7, 0, 20, (0, 1)), (0, 30, 40, (2,)), (7, 50, 60, (3,))
    ]
    with pytest.raises(ValueError):
        gesture_segments(table, "first")


# -- original layout --------------------------------------------------------------------------

def make_gesture(root: Path, csv: Path, trials: list[str], lists: dict[str, list[str]] | None = None
                 ) -> Path:
    data = root / "DvsGesture"
    data.mkdir(parents=True)
    for trial in trials:
        (data / f"{trial}.aedat").write_bytes(b"")
        shutil.copy(csv, data / f"{trial}_labels.csv")
    for split, names in (lists or {}).items():
        (data / f"trials_to_{split}.txt").write_text("\n".join(names) + "\n\n")
    return data


def test_original_layout_rows_and_dedupe(tmp_path: Path, user01_csv: Path) -> None:
    data = make_gesture(tmp_path, user01_csv, ["user01_natural", "user24_natural"])
    ds = DVSGesture()
    assert ds.discover(tmp_path).layout == "original"
    assert detect_dataset(tmp_path)[0].name == "dvsgesture"
    samples = ds.samples(tmp_path)
    assert len(samples) == 24
    train = ds.samples(tmp_path, split="train")
    test = ds.samples(tmp_path, split="test")
    assert len(train) == len(test) == 12  # absent lists: users 01-23 train, 24-29 test
    assert {s.metadata["user"] for s in train} == {1} and {s.metadata["user"] for s in test} == {24}
    s = next(s for s in train if s.id == "user01_natural#3")
    assert (s.label, s.time_slice, s.format) == (4, (87200306, 97835393), "aedat3")
    assert s.path == data / "user01_natural.aedat"
    assert s.metadata["lighting"] == "natural" and s.metadata["rows"] == (3,)
    assert len({x.id for x in samples}) == 24

    dedupe = DVSGesture(mode="dedupe").samples(tmp_path)
    assert len(dedupe) == 22
    roll = [x for x in dedupe if x.label == 7 and x.split == "train"]
    assert [(x.id, x.time_slice) for x in roll] == [("user01_natural#7", (132355007, 148751823))]
    # the same folder also works when ROOT is DvsGesture/ itself
    assert len(ds.samples(data)) == 24


def test_trial_lists_override_user_rule(tmp_path: Path, user01_csv: Path) -> None:
    make_gesture(tmp_path, user01_csv, ["user01_natural", "user24_natural"],
                 {"train": ["user24_natural.aedat"], "test": ["user01_natural.aedat "]})
    ds = DVSGesture()
    assert {s.metadata["user"] for s in ds.samples(tmp_path, split="train")} == {24}
    assert {s.metadata["user"] for s in ds.samples(tmp_path, split="test")} == {1}
    assert read_trial_list(tmp_path / "DvsGesture" / "trials_to_test.txt") == ["user01_natural"]


def test_trial_in_both_lists_and_missing_csv(tmp_path: Path, user01_csv: Path) -> None:
    data = make_gesture(tmp_path, user01_csv, ["user01_natural"],
                        {"train": ["user01_natural.aedat"], "test": ["user01_natural.aedat"]})
    with pytest.raises(LayoutError, match="both trial lists"):
        DVSGesture().samples(tmp_path)
    for f in data.glob("trials_*"):
        f.unlink()
    (data / "user01_natural_labels.csv").unlink()
    with pytest.raises(LayoutError, match="no user01_natural_labels.csv"):
        DVSGesture().samples(tmp_path)


def test_load_sample_applies_time_slice(tmp_path: Path, user01_csv: Path) -> None:
    data = make_gesture(tmp_path, user01_csv, ["user01_natural"])
    t = np.arange(50_000_000, 180_000_000, 100_000, dtype=np.int64)
    n = t.size
    events = Events(np.arange(n) % 128, (np.arange(n) // 128) % 128, t, np.arange(n) % 2,
                    (128, 128))
    ec_io.write(data / "user01_natural.aedat", events, "aedat3")
    sample = next(s for s in DVSGesture().samples(tmp_path) if s.id == "user01_natural#3")
    part = load_sample(sample)
    start, end = sample.time_slice
    expected = (t >= start) & (t < end)
    assert len(part) == int(expected.sum()) > 0
    assert np.array_equal(part.t, t[expected])
    assert part.metadata["sample_id"] == "user01_natural#3" and part.metadata["label"] == 4


# -- tonic's layout ---------------------------------------------------------------------------

def test_tonic_npy_layout_and_loading(tmp_path: Path) -> None:
    root = tmp_path / "DVSGesture"
    rng = np.random.default_rng(0)
    arr = np.column_stack([rng.integers(0, 128, 20), rng.integers(0, 128, 20),
                           rng.integers(0, 2, 20), np.sort(rng.random(20) * 6000)])
    for split, trial in (("ibmGestureTrain", "user01_fluorescent_led"),
                         ("ibmGestureTest", "user24_led")):
        for label in (0, 10, 2):
            (root / split / trial).mkdir(parents=True, exist_ok=True)
            np.save(root / split / trial / f"{label}.npy", arr)
    ds = DVSGesture()
    assert ds.discover(tmp_path).layout == "tonic"
    samples = ds.samples(tmp_path)
    assert [s.id for s in samples] == [
        "user01_fluorescent_led/0", "user01_fluorescent_led/2", "user01_fluorescent_led/10",
        "user24_led/0", "user24_led/2", "user24_led/10",
    ]
    assert [s.label for s in samples] == [0, 2, 10] * 2
    assert samples[0].metadata["lighting"] == "fluorescent_led" and samples[3].metadata["user"] == 24
    ev = load_sample(samples[0])
    # tonic's convention: columns x, y, p, t[ms]; t * 1000 -> us
    assert np.array_equal(ev.x, arr[:, 0]) and np.array_equal(ev.y, arr[:, 1])
    assert np.array_equal(ev.p, arr[:, 2]) and ev.sensor_size == (128, 128)
    assert np.array_equal(ev.t, np.rint(arr[:, 3] * 1000).astype(np.int64))

    np.save(root / "ibmGestureTest" / "user24_led" / "11.npy", arr)
    with pytest.raises(LayoutError, match="not a label 0-10"):
        ds.samples(tmp_path)


# -- md5 verification -------------------------------------------------------------------------

def test_verify_gesture_trials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert len(dl.TRIAL_AEDAT_MD5) == 122
    assert dl.TRIAL_AEDAT_MD5["user01_natural.aedat"] == "401ff23f0c91f095ed8a0701ab24794a"
    (tmp_path / "user01_natural.aedat").write_bytes(b"not the real trial")
    with pytest.raises(ChecksumError) as info:
        dl.verify_gesture_trials(tmp_path, require_all=False)
    assert info.value.expected_md5 == "401ff23f0c91f095ed8a0701ab24794a"
    with pytest.raises(LayoutError, match="121 of 122 trials missing"):
        dl.verify_gesture_trials(tmp_path)
    good = hashlib.md5(b"not the real trial").hexdigest()
    monkeypatch.setitem(dl.TRIAL_AEDAT_MD5, "user01_natural.aedat", good)
    assert dl.verify_gesture_trials(tmp_path, require_all=False) == {"user01_natural.aedat": good}
    (tmp_path / "user99_lab.aedat").write_bytes(b"")
    with pytest.raises(LayoutError, match="not in the published list"):
        dl.verify_gesture_trials(tmp_path, require_all=False)


def test_layout_clips_overlap_user22_led(tmp_path: Path) -> None:
    data = tmp_path / "DvsGesture"
    data.mkdir()
    (data / "user22_led.aedat").write_bytes(b"")
    (data / "user22_led_labels.csv").write_text(
        "class,startTime_usec,endTime_usec\n"
        "9,100000000,110590564\n10,104000000,112000000\n11,113000000,120000000\n"
    )
    samples = {s.id: s for s in DVSGesture().samples(tmp_path)}
    assert samples["user22_led#0"].time_slice == (100000000, 104000000)
    assert samples["user22_led#0"].metadata["clipped_from"] == 110590564
    assert samples["user22_led#1"].time_slice == (104000000, 112000000)
    assert "clipped_from" not in samples["user22_led#1"].metadata
    assert all(s.split == "train" for s in samples.values())
