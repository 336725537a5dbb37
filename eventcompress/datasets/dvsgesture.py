"""DVS128 Gesture (Amir et al. 2017): trials cut into gesture samples by their label CSVs.

Original layout: one AEDAT 3.1 file per trial plus ``<trial>_labels.csv`` (rows
``class,startTime_usec,endTime_usec``, class 1..11). A sample is a time slice of a trial.

Row conventions (``mode``):

* ``rows`` (default; SpikingJelly's): every CSV row is one sample, 12 per trial because arm roll
  (class 8) is labelled as two consecutive rows: 1,176 train + 288 test = 1,464.
* ``dedupe`` (the paper's 1,342): consecutive rows (file order) with the same class are merged
  into ONE sample spanning ``[min start, max end)`` -- the whole performance of the gesture,
  including the short gap between the rows. Merging rather than keeping the first row keeps every
  labelled event of the gesture; the gap (under a second in the real CSVs) is the same subject
  continuing the same movement.

Anomalies handled with a deterministic, warning-free rule:

* Rows are not sorted by class: file order is kept and the sample id is ``<trial>#<row>``
  (0-based data-row index), so ids do not depend on the class order.
* Overlapping rows (user22_led class 9 ends after class 10 starts): rows are ordered by start time
  and each row's end is clipped to the start of the next row that starts later, so labelled
  intervals never overlap. The original end is kept in ``metadata["clipped_from"]``. Two rows with
  the same start time are ambiguous and raise LabelsError.

tonic's layout (``ibmGestureTrain|ibmGestureTest/<user>_<lighting>/<label>.npy``, pre-cut by
tonic, one file per class and trial, timestamps in ms) is read as is with the ``npy`` reader
(``t_us = round(t_ms * 1000)``); ``mode`` does not apply.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from ..errors import LabelsError
from .base import DatasetLayout, LayoutMatch, Sample, list_dir

CLASSES = (
    "hand_clapping", "right_hand_wave", "left_hand_wave", "right_arm_clockwise",
    "right_arm_counter_clockwise", "left_arm_clockwise", "left_arm_counter_clockwise",
    "arm_roll", "air_drums", "air_guitar", "other_gestures",
)
_TRIAL = re.compile(r"^user(\d+)_(.+)$")
#: official split when the trial lists are absent: users 01-23 train, 24-29 test
LAST_TRAIN_USER = 23

GestureMode = Literal["rows", "dedupe"]

_ORIGINAL_TREE = """
ROOT/                          (or ROOT = DvsGesture/ itself, or SpikingJelly's ROOT/extract/)
  DvsGesture/
    user01_fluorescent.aedat   (AEDAT 3.1)
    user01_fluorescent_labels.csv
    ...
    user29_natural.aedat
    user29_natural_labels.csv
    trials_to_train.txt        (optional; default users 01-23 train)
    trials_to_test.txt         (optional; default users 24-29 test)
"""

_TONIC_TREE = """
ROOT/                          (or ROOT/DVSGesture/, tonic's save_to)
  ibmGestureTrain/
    user01_fluorescent/ 0.npy 1.npy ... 10.npy   (label = file stem, 0-based)
    ...
  ibmGestureTest/
    user24_fluorescent/ ...
"""


@dataclass(frozen=True)
class GestureSegment:
    """One labelled interval of a trial: 0-based ``label``, half-open ``[start, end)`` in us,
    the CSV data rows it came from, and the original end when it was clipped."""

    label: int
    start: int
    end: int
    rows: tuple[int, ...]
    clipped_from: int | None = None


def gesture_segments(
    rows: np.ndarray, mode: GestureMode = "rows", path: str | os.PathLike[str] | None = None,
    lines: np.ndarray | None = None,
) -> list[GestureSegment]:
    """Turn label rows (structured ``class_id, start, end``, file order) into segments.

    Applies the overlap rule (clip each end to the next later start) and then ``mode``
    (``rows``: one segment per row; ``dedupe``: merge runs of consecutive same-class rows).
    A bad row raises LabelsError whose ``row`` is its 1-based line in the CSV when ``lines``
    (from :func:`eventcompress.io.labels.read_labels_csv_with_lines`) is given, else its
    0-based data-row index (as in ``GestureSegment.rows`` and sample ids).
    """
    if mode not in ("rows", "dedupe"):
        raise ValueError(f"mode must be 'rows' or 'dedupe', got {mode!r}")
    cls = np.asarray(rows["class_id"], np.int64)
    start = np.asarray(rows["start"], np.int64)
    end = np.asarray(rows["end"], np.int64).copy()
    n = cls.size
    if lines is not None and len(lines) != n:
        raise ValueError(f"lines has {len(lines)} entries for {n} rows")

    def where(i: int) -> tuple[str, int]:
        """Message prefix and ``row`` value for data row ``i``."""
        if lines is None:
            return f"data row {i} (0-based)", int(i)
        return f"line {int(lines[i])} (data row {i}, 0-based)", int(lines[i])

    for i in range(n):
        if not 1 <= cls[i] <= len(CLASSES):
            text, row = where(i)
            raise LabelsError(path, f"{text}: class {cls[i]} outside 1..{len(CLASSES)}",
                              row=row, expected="a DVS Gesture class id")
        if end[i] <= start[i]:
            text, row = where(i)
            raise LabelsError(path, f"{text}: end {end[i]} <= start {start[i]}", row=row,
                              expected="startTime_usec < endTime_usec")
    clipped_from: list[int | None] = [None] * n
    order = np.argsort(start, kind="stable")
    for k in range(n - 1):
        i, j = order[k], order[k + 1]
        if start[j] == start[i]:
            first, later = sorted((int(i), int(j)))
            text_a, _ = where(first)
            text_b, row = where(later)
            raise LabelsError(path, f"{text_a} and {text_b} both start at {start[i]} us",
                              row=row, expected="distinct start times")
        if end[i] > start[j]:
            clipped_from[i] = int(end[i])
            end[i] = start[j]
    segments = [
        GestureSegment(int(cls[i]) - 1, int(start[i]), int(end[i]), (i,), clipped_from[i])
        for i in range(n)
    ]
    if mode == "rows":
        return segments
    merged: list[GestureSegment] = []
    for seg in segments:
        prev = merged[-1] if merged else None
        if prev is not None and prev.label == seg.label:
            merged[-1] = GestureSegment(
                prev.label, min(prev.start, seg.start), max(prev.end, seg.end),
                prev.rows + seg.rows,
                prev.clipped_from if prev.clipped_from is not None else seg.clipped_from,
            )
        else:
            merged.append(seg)
    return merged


def read_trial_list(path: Path) -> list[str]:
    """Trial names (without ``.aedat``) listed in ``trials_to_train.txt``/``..._test.txt``."""
    names = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line:
            names.append(line[:-6] if line.endswith(".aedat") else line)
    return names


def parse_trial_name(name: str) -> tuple[int, str]:
    """``"user07_fluorescent_led"`` -> ``(7, "fluorescent_led")``."""
    m = _TRIAL.match(name)
    if not m:
        raise ValueError(f"{name!r} is not a trial name user<NN>_<lighting>")
    return int(m.group(1)), m.group(2)


class DVSGesture(DatasetLayout):
    """DVS128 Gesture layout; ``mode`` = ``"rows"`` (default) or ``"dedupe"`` (see module doc)."""

    name = "dvsgesture"
    title = "DVS128 Gesture"
    classes = CLASSES
    sensor_size = (128, 128)
    expected_trees = {"original": _ORIGINAL_TREE, "tonic": _TONIC_TREE}

    def __init__(self, mode: GestureMode = "rows") -> None:
        if mode not in ("rows", "dedupe"):
            raise ValueError(f"mode must be 'rows' or 'dedupe', got {mode!r}")
        self.mode = mode

    def __repr__(self) -> str:
        return f"DVSGesture(mode={self.mode!r})"

    def discover(self, root: str | os.PathLike[str]) -> LayoutMatch:
        root = Path(root)
        for data_root in (root / "DvsGesture", root, root / "extract" / "DvsGesture"):
            if data_root.is_dir() and any(
                e.name.endswith(".aedat") and _TRIAL.match(e.name[:-6]) for e in list_dir(data_root)
            ):
                return LayoutMatch("original", data_root)
        for data_root in (root, root / "DVSGesture"):
            if (data_root / "ibmGestureTrain").is_dir() or (data_root / "ibmGestureTest").is_dir():
                return LayoutMatch("tonic", data_root)
        raise self.layout_error(root, "no user<NN>_<lighting>.aedat trials and no ibmGesture*/")

    def trial_splits(self, data_root: Path, trials: list[str]) -> dict[str, str]:
        """Trial -> split from ``trials_to_{train,test}.txt``; unlisted trials (or all, when the
        lists are absent) follow the official rule users 01-23 train, 24-29 test."""
        listed: dict[str, str] = {}
        for split in ("train", "test"):
            path = data_root / f"trials_to_{split}.txt"
            if path.is_file():
                for name in read_trial_list(path):
                    if listed.get(name, split) != split:
                        raise self.layout_error(data_root, f"{name} is in both trial lists")
                    listed[name] = split
        out = {}
        for trial in trials:
            user, _ = parse_trial_name(trial)
            out[trial] = listed.get(trial, "train" if user <= LAST_TRAIN_USER else "test")
        return out

    def _samples(self, match: LayoutMatch) -> list[Sample]:
        if match.layout == "tonic":
            return self._tonic_samples(match.data_root)
        from ..io.labels import read_labels_csv_with_lines  # lazy: only this layout parses CSVs

        trials = [e.name[:-6] for e in list_dir(match.data_root)
                  if e.name.endswith(".aedat") and _TRIAL.match(e.name[:-6])]
        splits = self.trial_splits(match.data_root, trials)
        out: list[Sample] = []
        for trial in trials:
            csv = match.data_root / f"{trial}_labels.csv"
            if not csv.is_file():
                raise self.layout_error(match.data_root, f"{trial}.aedat has no {csv.name}")
            user, lighting = parse_trial_name(trial)
            table, lines = read_labels_csv_with_lines(csv)
            for seg in gesture_segments(table, self.mode, csv, lines):
                meta = {"user": user, "lighting": lighting, "trial": trial, "rows": seg.rows}
                if seg.clipped_from is not None:
                    meta["clipped_from"] = seg.clipped_from
                out.append(Sample(
                    id=f"{trial}#{seg.rows[0]}", path=match.data_root / f"{trial}.aedat",
                    label=seg.label, split=splits[trial], time_slice=(seg.start, seg.end),
                    format="aedat3", metadata=meta,
                ))
        return out

    def _tonic_samples(self, data_root: Path) -> list[Sample]:
        out: list[Sample] = []
        for split, folder in (("train", "ibmGestureTrain"), ("test", "ibmGestureTest")):
            split_dir = data_root / folder
            if not split_dir.is_dir():
                continue
            for trial_dir in list_dir(split_dir):
                if not trial_dir.is_dir():
                    continue
                try:
                    user, lighting = parse_trial_name(trial_dir.name)
                except ValueError:
                    raise self.layout_error(
                        data_root, f"{folder}/{trial_dir.name} is not user<NN>_<lighting>"
                    ) from None
                for f in list_dir(Path(trial_dir.path)):
                    stem = f.name[:-4]
                    if not f.name.endswith(".npy"):
                        continue
                    if not stem.isdigit() or int(stem) >= len(CLASSES):
                        raise self.layout_error(
                            data_root, f"{folder}/{trial_dir.name}/{f.name}: stem is not a label 0-10"
                        )
                    out.append(Sample(
                        id=f"{trial_dir.name}/{stem}", path=Path(f.path), label=int(stem),
                        split=split, format="npy",
                        metadata={"user": user, "lighting": lighting, "trial": trial_dir.name},
                    ))
        return out
