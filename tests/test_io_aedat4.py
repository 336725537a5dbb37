"""AEDAT 4.0 reader: the real tonic sample against the aedat package and tonic, bad input."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import require_oracle

from eventcompress.errors import (
    CoordinateRangeError,
    EmptyFileError,
    HeaderError,
    MissingExtraError,
    TruncatedFileError,
)
from eventcompress.io.aedat4 import aedat4_stream_ids, read_aedat4


@pytest.fixture(scope="module")
def sample(realdata: Path) -> Path:
    path = realdata / "other_formats" / "aedat4" / "tonic_sample.aedat4"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return path


def _direct_decode(path: Path) -> np.ndarray:
    aedat = require_oracle("aedat")
    decoder = aedat.Decoder(str(path))
    packets = [p["events"] for p in decoder if p["stream_id"] == 0 and "events" in p]
    return np.concatenate(packets)


def test_real_sample_matches_aedat_package(sample: Path) -> None:
    require_oracle("aedat")
    events = read_aedat4(sample)
    ref = _direct_decode(sample)
    assert len(events) == 111_954 == len(ref)
    assert events.sensor_size == (320, 240)
    np.testing.assert_array_equal(events.x, ref["x"])
    np.testing.assert_array_equal(events.y, ref["y"])
    np.testing.assert_array_equal(events.t, ref["t"].astype(np.int64))
    np.testing.assert_array_equal(events.p, ref["on"].astype(np.uint8))
    assert int(events.t[0]) == 1_605_537_493_718_345  # absolute Unix microseconds
    assert events.is_sorted()
    meta = events.metadata
    assert meta["stream_id"] == 0 and meta["n_packets"] == 59
    assert meta["source"] == "DVXplorer_DXB00010"
    assert meta["ts_offset"] == 1_605_507_430_438_338
    assert aedat4_stream_ids(sample) == {0: "events", 2: "imus", 3: "triggers"}


def test_real_sample_matches_tonic(sample: Path) -> None:
    require_oracle("aedat")
    tonic_io = require_oracle("tonic.io")
    ref = tonic_io.read_aedat4(str(sample))
    events = read_aedat4(sample)
    for name in ("x", "y", "t", "p"):
        np.testing.assert_array_equal(getattr(events, name), ref[name].astype(np.int64))


def test_relative_time(sample: Path) -> None:
    require_oracle("aedat")
    absolute = read_aedat4(sample)
    relative = read_aedat4(sample, relative_time=True)
    assert int(relative.t[0]) == 0
    assert relative.metadata["t0"] == int(absolute.t[0])
    np.testing.assert_array_equal(relative.t, absolute.t - absolute.t[0])
    np.testing.assert_array_equal(relative.x, absolute.x)


def test_stream_choice(sample: Path) -> None:
    require_oracle("aedat")
    assert len(read_aedat4(sample, stream_id=0)) == 111_954
    not_events = r"stream 2 is not an events stream \(events streams: \[0\]\)"
    with pytest.raises(HeaderError, match=not_events):
        read_aedat4(sample, stream_id=2)


def test_missing_aedat_package(sample: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "aedat", None)  # makes `import aedat` raise ImportError
    expected = r"Reading AEDAT 4 files needs the 'aedat'.*eventcompress\[aedat\]"
    with pytest.raises(MissingExtraError, match=expected):
        read_aedat4(sample)


def test_bad_files(sample: Path, tmp_path: Path) -> None:
    require_oracle("aedat")
    data = sample.read_bytes()
    truncated = tmp_path / "truncated.aedat4"
    truncated.write_bytes(data[:300_000])
    where = r"truncated.aedat4 \(row \d+\): packet \d+"
    with pytest.raises(TruncatedFileError, match=where) as info:
        read_aedat4(truncated)
    assert info.value.row is not None and info.value.row > 0

    header_only = tmp_path / "header.aedat4"
    header_only.write_bytes(data[:100])
    with pytest.raises(HeaderError, match="byte offset 14"):
        read_aedat4(header_only)

    garbage = tmp_path / "garbage.aedat4"
    garbage.write_bytes(b"#!AER-DAT2.0\r\n" + bytes(100))
    with pytest.raises(HeaderError, match=r"garbage.aedat4 \(byte offset 0\).*AER-DAT4.0"):
        read_aedat4(garbage)

    empty = tmp_path / "empty.aedat4"
    empty.write_bytes(b"")
    with pytest.raises(EmptyFileError):
        read_aedat4(empty)
    with pytest.raises(FileNotFoundError):
        read_aedat4(tmp_path / "missing.aedat4")


class _EditedDecoder:
    """Wraps aedat.Decoder and overwrites one event of one events packet (the real file holds
    only in-range events; the aedat package has no writer)."""

    def __init__(self, real: type, packet: int, event: int, field: str, value: int) -> None:
        self.real, self.packet, self.event, self.field, self.value = (
            real, packet, event, field, value)

    def __call__(self, path: str) -> _EditedDecoder:
        self.decoder = self.real(path)
        return self

    def id_to_stream(self) -> dict:
        return self.decoder.id_to_stream()

    def __iter__(self):
        for index, packet in enumerate(self.decoder):
            if index == self.packet:
                events = packet["events"].copy()
                events[self.field][self.event] = self.value
                packet = {**packet, "events": events}
            yield packet


@pytest.mark.parametrize(("field", "value"), [("x", 320), ("y", 240), ("x", 65535)])
def test_coordinates_outside_declared_sensor(sample: Path, monkeypatch: pytest.MonkeyPatch,
                                             field: str, value: int) -> None:
    aedat = require_oracle("aedat")
    packets = [(i, p) for i, p in enumerate(aedat.Decoder(str(sample))) if "events" in p]
    packet_index = packets[5][0]
    before = sum(len(p["events"]) for _, p in packets[:5] if p["stream_id"] == 0)
    assert all(p["stream_id"] == 0 for _, p in packets[:6])
    monkeypatch.setattr(aedat, "Decoder", _EditedDecoder(aedat.Decoder, packet_index, 7, field,
                                                         value))
    with pytest.raises(CoordinateRangeError) as info:
        read_aedat4(sample)
    err = info.value
    row = before + 7
    assert err.row == row and err.path == str(sample)
    msg = str(err)
    assert f"event {row} of stream 0 (in packet {packet_index}," in msg
    assert f"has {field}={value}" in msg and "320x240 sensor" in msg
    assert f"{field} < {320 if field == 'x' else 240}" in msg and "check_range=False" in msg
    kept = read_aedat4(sample, check_range=False)  # the hint's remedy
    assert int(getattr(kept, field)[row]) == value and len(kept) == 111_954
