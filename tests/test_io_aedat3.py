"""AEDAT 3.1 (DVS Gesture): packets, overflow, tonic oracle, labels CSV, bad input."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from conftest import require_oracle
from hypothesis import given
from hypothesis import strategies as st
from io_strategies import edge_events, event_streams, patch_tonic_aedat_header

from eventcompress.errors import (
    CoordinateRangeError,
    EmptyFileError,
    HeaderError,
    LabelsError,
    NonMonotonicTimestampWarning,
    PacketError,
)
from eventcompress.events import Events
from eventcompress.io.aedat3 import (
    read_aedat3,
    read_labels_csv,
    slice_by_labels,
    write_aedat3,
    write_labels_csv,
)

HEADER = b"#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: DVS128\r\n#!END-HEADER\r\n"


def packet(etype, esize, overflow, events, cap=None, tsoff=4) -> bytes:
    """Independent packet encoder (FORMATS.md 3.4); events = [(data, ts), ...]."""
    cap = len(events) if cap is None else cap
    head = struct.pack("<hhiiiiii", etype, 1, esize, tsoff, overflow, cap, len(events),
                       len(events))
    body = b"".join(struct.pack("<Ii", d, t) for d, t in events)
    return head + body + bytes(esize * cap - len(body))


def data(x, y, p, valid=1) -> int:
    return (x << 17) | (y << 2) | (p << 1) | valid


@given(event_streams((128, 128), 2**33, max_size=200), st.integers(1, 64))
def test_round_trip_with_overflow(tmp_path_factory, events: Events, packet_size: int) -> None:
    f = tmp_path_factory.mktemp("a3") / "e.aedat"
    write_aedat3(f, events, packet_size=packet_size)
    back = read_aedat3(f)
    assert back == events
    overflow = events.t >> 31
    runs = np.diff(np.flatnonzero(np.diff(overflow, prepend=-1, append=-2)))
    assert back.metadata["packets"] == sum(-(-int(r) // packet_size) for r in runs)


@given(event_streams((128, 128), 2**32, max_size=100, sort=False))
def test_round_trip_keeps_file_order(tmp_path_factory, events: Events) -> None:
    f = tmp_path_factory.mktemp("a3u") / "e.aedat"
    write_aedat3(f, events, packet_size=7)
    assert read_aedat3(f, on_unsorted="ignore") == events


@pytest.mark.parametrize("size", [(128, 128), (32768, 32768), (346, 260)])
def test_edge_values(tmp_path: Path, size) -> None:
    events = edge_events(size, 2**40)
    f = tmp_path / "edge.aedat"
    write_aedat3(f, events, packet_size=2)
    assert read_aedat3(f, sensor_size=size) == events


def test_overflow_goes_into_packet_header(tmp_path: Path) -> None:
    t = [5, 2**31 - 1, 2**31, 2**31 + 7, 3 * 2**31 + 1]
    events = Events([1, 2, 3, 4, 5], [1, 1, 1, 1, 1], t, [0, 1, 0, 1, 0], (128, 128))
    f = tmp_path / "o.aedat"
    write_aedat3(f, events, packet_size=100)
    raw = f.read_bytes()
    body = raw[raw.index(b"#!END-HEADER\r\n") + 14:]
    overflows, pos = [], 0
    while pos < len(body):
        _, _, esize, _, ovf, cap, *_ = struct.unpack_from("<hhiiiiii", body, pos)
        overflows.append(ovf)
        pos += 28 + cap * esize
    assert overflows == [0, 1, 3]
    assert read_aedat3(f).t.tolist() == t


@given(event_streams((128, 128), 2**31 - 1, max_size=100))
def test_files_we_write_match_tonic_read_dvs_ibm(tmp_path_factory, events: Events) -> None:
    """tonic's read_dvs_ibm uses the same axes as ours (no flip), ignoring the overflow."""
    tonic_io = require_oracle("tonic.io")
    if len(events) == 0:
        return  # tonic concatenates an empty list of packets and raises
    f = tmp_path_factory.mktemp("a3t") / "e.aedat"
    write_aedat3(f, events, packet_size=16)
    mp = pytest.MonkeyPatch()
    patch_tonic_aedat_header(mp, tonic_io)
    try:
        _, theirs = tonic_io.read_dvs_ibm(str(f))
    finally:
        mp.undo()
    for name in "xytp":
        assert np.array_equal(theirs[name], getattr(events, name)), name


def test_foreign_packets_and_unused_capacity_are_skipped(tmp_path: Path) -> None:
    events = Events([1, 2, 3], [4, 5, 6], [10, 20, 30], [1, 0, 1], (128, 128))
    f = tmp_path / "f.aedat"
    write_aedat3(f, events, packet_size=2, _foreign_packets=True, _extra_capacity=3)
    back = read_aedat3(f)
    assert back == events
    assert back.metadata["skipped_packets"] == 3 and back.metadata["packets"] == 5


def test_invalid_events(tmp_path: Path) -> None:
    events = Events([1, 2, 3], [4, 5, 6], [10, 20, 30], [1, 0, 1], (128, 128))
    f = tmp_path / "v.aedat"
    write_aedat3(f, events, _valid=np.array([1, 0, 1]))
    kept = read_aedat3(f)
    assert kept.x.tolist() == [1, 3] and kept.metadata["invalid_dropped"] == 1
    assert read_aedat3(f, drop_invalid=False) == events


def test_hand_made_packets(tmp_path: Path) -> None:
    body = packet(1, 8, 0, [(data(3, 4, 1), 100), (data(127, 0, 0), 200)])
    body += packet(2, 24, 0, [], cap=2)  # a frame-like packet: 48 payload bytes to skip
    body += packet(1, 8, 2, [(data(0, 127, 1), 5)])
    f = tmp_path / "h.aedat"
    f.write_bytes(HEADER + body)
    e = read_aedat3(f)
    assert e.x.tolist() == [3, 127, 0] and e.y.tolist() == [4, 0, 127]
    assert e.p.tolist() == [1, 0, 1] and e.t.tolist() == [100, 200, (2 << 31) | 5]
    assert e.metadata["header"][-1] == "#!END-HEADER"


def test_packet_past_end_of_file(tmp_path: Path) -> None:
    good = packet(1, 8, 0, [(data(1, 1, 1), 1)])
    bad = packet(1, 8, 0, [(data(1, 1, 1), 2)] * 3)[:-5]
    f = tmp_path / "p.aedat"
    f.write_bytes(HEADER + good + bad)
    with pytest.raises(PacketError) as info:
        read_aedat3(f)
    assert info.value.offset == len(HEADER) + len(good) and info.value.row == 1
    assert "packet 1" in str(info.value) and str(f) in str(info.value)


def test_truncated_packet_header_and_bad_event_size(tmp_path: Path) -> None:
    f = tmp_path / "p.aedat"
    f.write_bytes(HEADER + packet(1, 8, 0, [(data(1, 1, 1), 1)]) + b"\x01\x00\x01")
    with pytest.raises(PacketError, match="packet 1: only 3 byte"):
        read_aedat3(f)
    f.write_bytes(HEADER + packet(1, 12, 0, [], cap=1))
    with pytest.raises(PacketError, match="eventSize 12") as info:
        read_aedat3(f)
    assert info.value.offset == len(HEADER)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"#!AER-DAT2.0\r\n", "no AEDAT 3 version line"),
        (b"#!AER-DAT3.x\r\n#!END-HEADER\r\n", "garbled version line"),
        (b"#!AER-DAT3.1\r\n#Format: RAW\r\n" + packet(1, 8, 0, []), "no '#!END-HEADER'"),
        (b"\x01\x00\x01\x00" * 10, "no AEDAT 3 version line"),
    ],
)
def test_bad_headers(tmp_path: Path, content: bytes, match: str) -> None:
    f = tmp_path / "h.aedat"
    f.write_bytes(content)
    with pytest.raises(HeaderError, match=match) as info:
        read_aedat3(f)
    assert str(f) in str(info.value) and info.value.offset is not None


def test_out_of_range_and_order(tmp_path: Path) -> None:
    f = tmp_path / "r.aedat"
    f.write_bytes(HEADER + packet(1, 8, 0, [(data(1, 1, 1), 9), (data(200, 1, 1), 4)]))
    with pytest.raises(CoordinateRangeError) as info:
        read_aedat3(f)
    assert info.value.row == 1 and info.value.offset == len(HEADER) + 28 + 8
    with pytest.warns(NonMonotonicTimestampWarning):
        e = read_aedat3(f, sensor_size=(256, 128))
    assert e.t.tolist() == [9, 4]


def test_empty_file(tmp_path: Path) -> None:
    f = tmp_path / "e.aedat"
    f.write_bytes(b"")
    with pytest.raises(EmptyFileError):
        read_aedat3(f)


# -- labels -----------------------------------------------------------------------------------

def test_real_labels_csv(realdata: Path) -> None:
    labels = read_labels_csv(realdata / "dvs_gesture" / "user01_natural_labels.csv")
    assert labels.dtype.names == ("class_id", "start", "end")
    assert labels["class_id"].tolist() == [1, 2, 3, 5, 4, 6, 7, 8, 8, 9, 10, 11]
    assert labels["start"][0] == 53_036_986 and labels["end"][-1] == 177_991_967
    assert np.all(labels["start"] < labels["end"])


@pytest.mark.parametrize(
    "text",
    [
        "class,startTime_usec,endTime_usec\r\n1,10,20\r\n8,30,40\r\n\r\n\r\n",
        "class\tstartTime_usec\tendTime_usec\n1\t10\t20\n8\t30\t40\n",
        "1, 10, 20\n8 30 40",
        "\n\nclass startTime_usec endTime_usec\n1 10 20\n\n8,30,40\n",
    ],
)
def test_labels_csv_variants(tmp_path: Path, text: str) -> None:
    f = tmp_path / "l.csv"
    f.write_bytes(text.encode())
    labels = read_labels_csv(f)
    assert labels.tolist() == [(1, 10, 20), (8, 30, 40)]


@pytest.mark.parametrize(
    ("text", "row", "shown"),
    [
        ("class,startTime_usec,endTime_usec\n1,10,20\n2,abc,30\n", 3, "2,abc,30"),
        ("class,startTime_usec,endTime_usec\n1,10\n", 2, "1,10"),
        ("class,startTime_usec,endTime_usec\n1,10,20\n3,50,40\n", 3, "3,50,40"),
        ("1,10,20\nclass,start,end\n", 2, "class,start,end"),
    ],
)
def test_bad_labels_rows(tmp_path: Path, text: str, row: int, shown: str) -> None:
    f = tmp_path / "bad.csv"
    f.write_text(text)
    with pytest.raises(LabelsError) as info:
        read_labels_csv(f)
    assert info.value.row == row and shown in str(info.value) and str(f) in str(info.value)


def test_unreadable_and_empty_labels(tmp_path: Path) -> None:
    f = tmp_path / "bin.csv"
    f.write_bytes(b"class,start,end\n1,2,3\n\xff\xfe")
    with pytest.raises(LabelsError) as info:
        read_labels_csv(f)
    assert info.value.row == 3 and info.value.offset == 22
    f.write_bytes(b"")
    with pytest.raises(EmptyFileError):
        read_labels_csv(f)


def test_labels_round_trip_and_slicing(tmp_path: Path) -> None:
    labels = np.array([(3, 100, 200), (1, 150, 300), (3, 300, 301)],
                      dtype=[("class_id", np.int64), ("start", np.int64), ("end", np.int64)])
    f = tmp_path / "w.csv"
    write_labels_csv(f, labels)
    assert f.read_text().splitlines()[0] == "class,startTime_usec,endTime_usec"
    back = read_labels_csv(f)
    assert back.tolist() == labels.tolist()
    t = np.arange(90, 320, 5)
    events = Events(t % 128, t % 7, t, t % 2, (128, 128))
    pieces = slice_by_labels(events, back)
    assert [label for label, _ in pieces] == [2, 0, 2]
    for (_, piece), (_, start, end) in zip(pieces, labels.tolist()):
        expected = (t >= start) & (t < end)
        assert np.array_equal(piece.t, t[expected])
        assert piece.metadata["label_start"] == start
    assert pieces[2][1].t.tolist() == [300]


@pytest.mark.parametrize(("text", "what", "row"), [
    ("class,startTime_usec,endTime_usec\n", "only a header line", 2),
    ("class,startTime_usec,endTime_usec\r\n\r\n\r\n", "only a header line", 2),
    ("\n\nclass startTime_usec endTime_usec\n", "only a header line", 4),
    ("\n  \n", "only blank lines", 1),
])
def test_labels_without_data_rows(tmp_path: Path, text: str, what: str, row: int) -> None:
    f = tmp_path / "user01_natural_labels.csv"
    f.write_bytes(text.encode())
    with pytest.raises(LabelsError) as info:
        read_labels_csv(f)
    assert info.value.path == str(f) and info.value.row == row
    assert f"{what} and no data rows" in str(info.value)
    write_labels_csv(f, np.zeros(0, dtype=[("class_id", "i8"), ("start", "i8"), ("end", "i8")]))
    with pytest.raises(LabelsError, match="only a header line"):  # our writer's header-only file
        read_labels_csv(f)


def test_labels_line_numbers(tmp_path: Path) -> None:
    from eventcompress.io.labels import read_labels_csv_with_lines

    f = tmp_path / "l.csv"
    f.write_text("\nclass,startTime_usec,endTime_usec\n1,10,20\n\n8,30,40\n2,50,60\n")
    rows, lines = read_labels_csv_with_lines(f)
    assert rows.tolist() == [(1, 10, 20), (8, 30, 40), (2, 50, 60)]
    assert lines.tolist() == [3, 5, 6]
