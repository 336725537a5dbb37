"""AEDAT 1.0/2.0 (jAER DVS128): conventions, tonic oracle, real header, bad input."""

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
    NonMonotonicTimestampWarning,
    TimestampOrderError,
    TruncatedFileError,
)
from eventcompress.events import Events
from eventcompress.io.aedat2 import CONVENTIONS, parse_aedat2_header, read_aedat2, write_aedat2

T_MAX = 2**32 - 1


def addr(raw_x: int, raw_y: int, bit0: int) -> int:
    return (raw_y << 8) | (raw_x << 1) | bit0


def aedat2_file(path: Path, records, header: bytes = b"#!AER-DAT2.0\r\n# test\r\n") -> Path:
    path.write_bytes(header + b"".join(struct.pack(">II", a, t) for a, t in records))
    return path


@given(event_streams((128, 128), T_MAX), st.sampled_from(CONVENTIONS))
def test_round_trip(tmp_path_factory, events: Events, convention: str) -> None:
    f = tmp_path_factory.mktemp("a2") / "e.aedat"
    write_aedat2(f, events, convention)
    back = read_aedat2(f, convention)
    assert back == events
    assert back.metadata["version"] == "2.0" and back.metadata["convention"] == convention


@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("size", [(128, 128), (100, 60), (1, 1)])
def test_edge_values_and_non_square_sensors(tmp_path: Path, convention: str, size) -> None:
    events = edge_events(size, T_MAX)
    f = tmp_path / "edge.aedat"
    write_aedat2(f, events, convention)
    assert read_aedat2(f, convention, sensor_size=size) == events


def test_conventions_decode_raw_bits_as_documented(tmp_path: Path) -> None:
    # raw x = 5, raw y = 9, bit0 = 0 (ON for jAER/SpikingJelly), then raw x = 127, y = 0, bit0 = 1
    f = aedat2_file(tmp_path / "bits.aedat", [(addr(5, 9, 0), 10), (addr(127, 0, 1), 20)])
    jaer = read_aedat2(f, "jaer")
    assert (jaer.x.tolist(), jaer.y.tolist(), jaer.p.tolist()) == ([122, 0], [9, 0], [1, 0])
    sj = read_aedat2(f, "spikingjelly")
    assert (sj.x.tolist(), sj.y.tolist(), sj.p.tolist()) == ([118, 127], [122, 0], [1, 0])
    raw = read_aedat2(f, "raw")
    assert (raw.x.tolist(), raw.y.tolist(), raw.p.tolist()) == ([5, 127], [9, 0], [0, 1])
    assert raw.t.tolist() == [10, 20]


@given(event_streams((128, 128), T_MAX, max_size=100), st.sampled_from(CONVENTIONS))
def test_files_we_write_match_tonic_read_dvs_128(tmp_path_factory, events, convention) -> None:
    """tonic's read_dvs_128 returns x = raw y field, y = raw x field, p = raw bit 0."""
    tonic_io = require_oracle("tonic.io")
    mp = pytest.MonkeyPatch()
    patch_tonic_aedat_header(mp, tonic_io)
    try:
        f = tmp_path_factory.mktemp("a2t") / "e.aedat"
        write_aedat2(f, events, convention)
        _, theirs = tonic_io.read_dvs_128(str(f))
    finally:
        mp.undo()
    raw = read_aedat2(f, "raw")
    assert np.array_equal(theirs["x"], raw.y) and np.array_equal(theirs["y"], raw.x)
    assert np.array_equal(theirs["p"], raw.p) and np.array_equal(theirs["t"], events.t)
    if convention == "jaer":  # tonic (x, y, p) = (y, 127 - x, 1 - p) of ours
        assert np.array_equal(theirs["x"], events.y)
        assert np.array_equal(theirs["y"], 127 - events.x.astype(int))
        assert np.array_equal(theirs["p"], 1 - events.p)


def test_real_jaer_header_only_file(realdata: Path) -> None:
    f = realdata / "other_formats" / "aedat2_header" / "tonic_sample_aedat_header.aedat"
    events = read_aedat2(f)
    # The AEChip line names a DAVIS346: its pixel array, not the DVS128 default.
    assert len(events) == 0 and events.sensor_size == (346, 260)
    assert (events.metadata["chip"], events.metadata["chip_class"]) == (
        "DAVIS346", "eu.seebetter.ini.chips.davis.Davis346red")
    header = events.metadata["header"]
    assert header[0] == "#!AER-DAT2.0"
    assert "# AEChip: eu.seebetter.ini.chips.davis.Davis346red" in header
    assert all(line.startswith("#") and not line.endswith(("\r", "\n")) for line in header)
    version, lines, start = parse_aedat2_header(f.read_bytes())
    assert (version, start) == ("2.0", f.stat().st_size) and lines == header


@pytest.mark.parametrize("eol", [b"\n", b"\r\n"])
def test_lf_and_crlf_headers(tmp_path: Path, eol: bytes) -> None:
    header = b"#!AER-DAT2.0" + eol + b"# comment" + eol + b"#" + eol
    f = aedat2_file(tmp_path / "h.aedat", [(addr(1, 2, 1), 7)], header)
    e = read_aedat2(f, "raw")
    assert (e.x.tolist(), e.y.tolist(), e.t.tolist()) == ([1], [2], [7])
    assert e.metadata["header"] == ["#!AER-DAT2.0", "# comment", "#"]


def test_header_without_version_line_is_read_as_2_0(tmp_path: Path) -> None:
    f = aedat2_file(tmp_path / "nov.aedat", [(addr(3, 4, 0), 5)], b"# no version\r\n")
    e = read_aedat2(f, "raw")
    assert e.x.tolist() == [3] and e.metadata["version_assumed"] is True


def test_long_header_beyond_first_read(tmp_path: Path) -> None:
    header = b"#!AER-DAT2.0\r\n" + b"".join(b"#<pref key='%d'/>\r\n" % i for i in range(8000))
    assert len(header) > 1 << 17
    f = aedat2_file(tmp_path / "long.aedat", [(addr(3, 4, 0), 5)], header)
    e = read_aedat2(f, "raw")
    assert e.x.tolist() == [3] and len(e.metadata["header"]) == 8001


def test_aedat_1_0_six_byte_records(tmp_path: Path) -> None:
    body = struct.pack(">HI", addr(10, 20, 1), 100) + struct.pack(">HI", 0x8000, 150)
    body += struct.pack(">HI", addr(127, 127, 0), 200)
    f = tmp_path / "v1.aedat"
    f.write_bytes(b"#!AER-DAT1.0\r\n" + body)
    e = read_aedat2(f, "raw")
    assert (e.x.tolist(), e.y.tolist(), e.p.tolist(), e.t.tolist()) == (
        [10, 127], [20, 127], [1, 0], [100, 200])
    assert e.metadata["version"] == "1.0" and e.metadata["special_events"] == 1


def test_sync_and_special_events_are_skipped(tmp_path: Path) -> None:
    recs = [(addr(1, 1, 0), 1), (0x8000, 2), (addr(2, 2, 0), 3), (0x80000000 | addr(3, 3, 0), 4),
            (addr(4, 4, 1), 5)]
    e = read_aedat2(aedat2_file(tmp_path / "s.aedat", recs), "raw")
    assert e.x.tolist() == [1, 2, 4] and e.t.tolist() == [1, 3, 5]
    assert e.metadata["special_events"] == 2


def test_truncated_body(tmp_path: Path) -> None:
    header = b"#!AER-DAT2.0\r\n"
    f = tmp_path / "t.aedat"
    f.write_bytes(header + struct.pack(">II", 2, 3) + b"\x00\x00\x01")
    with pytest.raises(TruncatedFileError) as info:
        read_aedat2(f)
    assert info.value.offset == len(header) + 8
    assert str(f) in str(info.value) and f"byte offset {len(header) + 8}" in str(info.value)


@pytest.mark.parametrize(
    ("content", "offset", "match"),
    [
        (b"\x00\x00\x01\x02" * 4, 0, "no AEDAT header"),
        (b"#!AER-DAT5.0\r\n", 0, "unsupported AEDAT version 5.0"),
        (b"#!AER-DAT3.1\r\n#!END-HEADER\r\n", 0, "unsupported AEDAT version 3.1"),
        (b"#!AER-DATx\r\n", 0, "garbled version line"),
        (b"#!AER-DAT2.0\r\n# ok\r\n#\xff\xfe\xfd\r\n", 21, "not text"),
    ],
)
def test_missing_or_garbled_header(tmp_path: Path, content: bytes, offset: int, match: str) -> None:
    f = tmp_path / "bad.aedat"
    f.write_bytes(content)
    with pytest.raises(HeaderError, match=match) as info:
        read_aedat2(f)
    assert info.value.offset == offset and str(f) in str(info.value)


def test_out_of_range_for_declared_sensor(tmp_path: Path) -> None:
    f = aedat2_file(tmp_path / "r.aedat", [(addr(1, 1, 0), 1), (addr(100, 2, 0), 2)])
    with pytest.raises(CoordinateRangeError) as info:
        read_aedat2(f, "raw", sensor_size=(64, 64))
    assert info.value.row == 1 and info.value.offset == len(b"#!AER-DAT2.0\r\n# test\r\n") + 8
    assert "x=100" in str(info.value) and str(f) in str(info.value)
    with pytest.raises(CoordinateRangeError):  # jAER flip: x = 63 - 100 < 0
        read_aedat2(f, "jaer", sensor_size=(64, 64))


def test_non_monotonic_timestamps(tmp_path: Path) -> None:
    f = aedat2_file(tmp_path / "o.aedat", [(addr(1, 1, 0), 5), (addr(2, 1, 0), 3)])
    with pytest.warns(NonMonotonicTimestampWarning):
        assert read_aedat2(f, "raw").t.tolist() == [5, 3]
    assert read_aedat2(f, "raw", on_unsorted="sort").x.tolist() == [2, 1]
    with pytest.raises(TimestampOrderError, match="event 1"):
        read_aedat2(f, on_unsorted="error")


def test_empty_file(tmp_path: Path) -> None:
    f = tmp_path / "e.aedat"
    f.write_bytes(b"")
    with pytest.raises(EmptyFileError):
        read_aedat2(f)


def test_writer_limits_and_header_lines(tmp_path: Path) -> None:
    f = tmp_path / "w.aedat"
    with pytest.raises(ValueError, match="t=4294967296"):
        write_aedat2(f, Events([0], [0], [2**32], [0], (128, 128)))
    with pytest.raises(ValueError, match="exceeds 128x128"):
        write_aedat2(f, Events([0], [0], [0], [0], (200, 128)))
    with pytest.raises(ValueError, match="ASCII"):
        write_aedat2(f, Events([0], [0], [0], [0], (128, 128)), header_lines=["a\nb"])
    write_aedat2(f, Events([0], [0], [0], [0], (128, 128)), header_lines=["hello", "#x"])
    assert f.read_bytes().startswith(b"#!AER-DAT2.0\r\n# hello\r\n#x\r\n\x00")
    assert read_aedat2(f).metadata["header"] == ["#!AER-DAT2.0", "# hello", "#x"]
