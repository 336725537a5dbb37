"""DVS Gesture ``<trial>_labels.csv``: one gesture instance per row (class, start, end in us).

Rows keep file order (the real files are not sorted by class and repeat class 8). A gesture is
cut as ``start <= t < end`` (half-open), with label ``class_id - 1``, as SpikingJelly does.
"""

from __future__ import annotations

import os
import re

import numpy as np

from ..errors import EmptyFileError, LabelsError
from ..events import Events
from ._common import PathLike

LABELS_DTYPE = np.dtype([("class_id", np.int64), ("start", np.int64), ("end", np.int64)])
LABELS_HEADER = "class,startTime_usec,endTime_usec"
_SPLIT = re.compile(r"\s*,\s*|\s+")
_INT = re.compile(r"[+-]?\d+")


def parse_labels_csv_with_lines(text: str, path: str | None = None
                                ) -> tuple[np.ndarray, np.ndarray]:
    """Rows of a labels file's text (see :func:`read_labels_csv`) and, for each, its 1-based
    line number in the file (so later checks can name the line)."""
    rows: list[tuple[int, int, int]] = []
    lines: list[int] = []
    first = None
    last = 0
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        last = number
        fields = _SPLIT.split(stripped)
        numeric = all(_INT.fullmatch(f) for f in fields)
        if first is None:
            first = number
            if not numeric:
                continue  # header row (non-numeric first line, e.g. class,startTime_usec,...)
        if len(fields) != 3 or not numeric:
            raise LabelsError(path, f"cannot parse {stripped[:80]!r}", row=number,
                              expected="three integers: class, start_us, end_us")
        cls, start, end = (int(f) for f in fields)
        if end < start:
            raise LabelsError(path, f"end {end} is before start {start} in {stripped!r}",
                              row=number, expected="start <= end")
        if cls < 1:
            raise LabelsError(path, f"class {cls} in {stripped!r}", row=number,
                              expected="1-based class ids (>= 1)")
        rows.append((cls, start, end))
        lines.append(number)
    if not rows:
        what = "only a header line" if first is not None else "only blank lines"
        raise LabelsError(path, f"the labels file has {what} and no data rows", row=last + 1,
                          expected="one row 'class,startTime_usec,endTime_usec' per gesture")
    return np.array(rows, dtype=LABELS_DTYPE), np.array(lines, dtype=np.int64)


def parse_labels_csv(text: str, path: str | None = None) -> np.ndarray:
    """Parse the text of a labels file (see :func:`read_labels_csv`)."""
    return parse_labels_csv_with_lines(text, path)[0]


def read_labels_csv_with_lines(path: PathLike) -> tuple[np.ndarray, np.ndarray]:
    """:func:`read_labels_csv` plus the 1-based file line of each row."""
    spath = os.fspath(path)
    with open(spath, "rb") as fh:
        raw = fh.read()
    if not raw:
        raise EmptyFileError(spath, "the labels file is empty (0 bytes)", offset=0,
                             expected=f"'{LABELS_HEADER}' and one row per gesture")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise LabelsError(spath, f"not text ({exc.reason})", offset=exc.start, row=line,
                          expected="a UTF-8/ASCII CSV") from None
    return parse_labels_csv_with_lines(text, spath)


def read_labels_csv(path: PathLike) -> np.ndarray:
    """Rows of a DVS Gesture labels CSV as a structured array ``(class_id, start, end)``.

    ``class_id`` is as in the file (1-based). Accepts an optional header line, LF or CR LF,
    blank lines, and comma or tab/whitespace separators. A bad row raises
    :class:`LabelsError` naming the 1-based line number and its text; so does a file with no
    data rows (e.g. a header only).
    """
    return read_labels_csv_with_lines(path)[0]


def write_labels_csv(path: PathLike, labels: np.ndarray) -> None:
    """Write rows ``(class_id, start, end)`` with the DVS Gesture header and LF line endings."""
    arr = np.asarray(labels)
    if arr.dtype.names:
        cols = [arr[name] for name in ("class_id", "start", "end")]
    else:
        arr = arr.reshape(-1, 3)
        cols = [arr[:, 0], arr[:, 1], arr[:, 2]]
    lines = [LABELS_HEADER]
    lines += [f"{int(c)},{int(s)},{int(e)}" for c, s, e in zip(*cols)]
    with open(os.fspath(path), "w", encoding="ascii", newline="\n") as fh:
        fh.write("\n".join(lines) + "\n")


def slice_by_labels(events: Events, labels: np.ndarray) -> list[tuple[int, Events]]:
    """One ``(label, events)`` per row, in row order: label = class_id - 1 and the events with
    ``start <= t < end``. Overlapping rows share events; each slice keeps absolute times."""
    out = []
    for row in np.asarray(labels, dtype=LABELS_DTYPE):
        piece = events.time_slice(int(row["start"]), int(row["end"]))
        meta = {**piece.metadata, "class_id": int(row["class_id"]),
                "label_start": int(row["start"]), "label_end": int(row["end"])}
        out.append((int(row["class_id"]) - 1, Events._trusted(
            piece.x, piece.y, piece.t, piece.p, piece.sensor_size, meta)))
    return out
