"""N-MNIST .bin reader/writer: tonic equivalence on real files, round trips, bad input."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import require_oracle
from hypothesis import given
from io_strategies import edge_events, event_streams

from eventcompress.errors import (
    CoordinateRangeError,
    EmptyFileError,
    EventFieldError,
    NonMonotonicTimestampWarning,
    TimestampOrderError,
    TruncatedFileError,
)
from eventcompress.events import Events
from eventcompress.io.nmnist_bin import MAX_T, decode_bin, encode_bin, read_bin, write_bin

TONIC_NMNIST_DTYPE = np.dtype([("x", int), ("y", int), ("t", int), ("p", int)])


def records(x, y, t, p) -> bytes:
    """Independent encoder of the 5-byte layout (FORMATS.md 1.3) for hand-made files."""
    out = bytearray()
    for xi, yi, ti, pi in zip(x, y, t, p):
        out += bytes([xi, yi, (pi << 7) | ((ti >> 16) & 0x7F), (ti >> 8) & 0xFF, ti & 0xFF])
    return bytes(out)


def assert_same_as_tonic(ours: Events, theirs: np.ndarray) -> None:
    for name in "xytp":
        assert np.array_equal(getattr(ours, name), theirs[name]), name


def test_all_real_nmnist_files_match_tonic(nmnist_small: Path, realdata: Path) -> None:
    tonic_io = require_oracle("tonic.io")
    files = sorted(nmnist_small.rglob("*.bin")) + [realdata / "nmnist" / "tonic_sample_nmnist.bin"]
    assert len(files) == 1101
    total = 0
    for f in files:
        ours = read_bin(f)
        assert_same_as_tonic(ours, tonic_io.read_mnist_file(str(f), TONIC_NMNIST_DTYPE))
        assert ours.sensor_size == (34, 34) and ours.metadata["path"] == str(f)
        assert ours.x.flags.c_contiguous and ours.t.dtype == np.int64
        total += len(ours)
    assert total > 4_000_000


def test_overflow_markers_match_tonic(tmp_path: Path) -> None:
    tonic_io = require_oracle("tonic.io")
    # records 2 and 5 are y == 240 markers; the timestamps restart after each, as on an ATIS.
    x = [1, 2, 9, 3, 4, 9, 5]
    y = [1, 2, 240, 3, 4, 240, 6]
    t = [100, 8000, 0, 50, 8100, 0, 30]
    p = [1, 0, 0, 1, 0, 1, 1]
    f = tmp_path / "markers.bin"
    f.write_bytes(records(x, y, t, p))
    ours = read_bin(f)
    assert_same_as_tonic(ours, tonic_io.read_mnist_file(str(f), TONIC_NMNIST_DTYPE))
    assert ours.t.tolist() == [100, 8000, 8192 + 50, 8192 + 8100, 16384 + 30]
    assert ours.metadata["overflow_markers"] == 2


def test_marker_records_are_not_range_checked_but_events_are(tmp_path: Path) -> None:
    f = tmp_path / "m.bin"
    f.write_bytes(records([200, 1, 40], [240, 1, 2], [0, 5, 6], [0, 0, 0]))
    with pytest.raises(CoordinateRangeError) as info:
        read_bin(f)
    assert info.value.offset == 10 and info.value.row == 2 and str(f) in str(info.value)


@given(event_streams((256, 256), MAX_T, forbid_y=240))
def test_round_trip(tmp_path_factory: pytest.TempPathFactory, events: Events) -> None:
    f = tmp_path_factory.mktemp("bin") / "e.bin"
    write_bin(f, events)
    if len(events) == 0:
        with pytest.raises(EmptyFileError):
            read_bin(f, sensor_size=(256, 256))
        return
    back = read_bin(f, sensor_size=(256, 256))
    assert back == events
    assert np.array_equal(decode_bin(encode_bin(events), (256, 256)).t, events.t)


def test_edge_values_round_trip(tmp_path: Path) -> None:
    events = edge_events((256, 256), MAX_T, forbid_y=240)
    f = tmp_path / "edge.bin"
    write_bin(f, events)
    assert read_bin(f, sensor_size=(256, 256)) == events
    assert events.t.max() == 2**23 - 1 and events.x.max() == 255


def test_large_file_uses_the_big_read_path(tmp_path: Path) -> None:
    n = 50_000  # 250 kB > the 64 KiB first read
    rng = np.random.default_rng(1)
    events = Events(rng.integers(0, 34, n), rng.integers(0, 34, n),
                    np.sort(rng.integers(0, MAX_T, n)), rng.integers(0, 2, n), (34, 34))
    f = tmp_path / "big.bin"
    write_bin(f, events)
    assert read_bin(f) == events


def test_writer_refuses_what_the_format_cannot_hold(tmp_path: Path) -> None:
    f = tmp_path / "w.bin"
    ok = dict(x=[1, 2], y=[1, 2], t=[0, 1], p=[0, 1])

    def ev(**change):
        d = {**ok, **change}
        return Events(d["x"], d["y"], d["t"], d["p"], (400, 400))

    with pytest.raises(ValueError, match="y == 240"):
        write_bin(f, ev(y=[1, 240]))
    with pytest.raises(ValueError, match=r"event 1 .*x=256"):
        write_bin(f, ev(x=[1, 256]))
    with pytest.raises(ValueError, match=r"y=300"):
        write_bin(f, ev(y=[300, 1]))
    with pytest.raises(ValueError, match=r"t=8388608"):
        write_bin(f, ev(t=[0, 2**23]))
    with pytest.raises(ValueError, match=r"t=-1"):
        write_bin(f, ev(t=[-1, 0]))
    with pytest.raises(EventFieldError, match=r"Events\.p holds 2 at event 1"):
        ev(p=[0, 2])  # Events itself refuses a polarity the writer could not store
    assert not f.exists()


def test_truncated_file(tmp_path: Path) -> None:
    f = tmp_path / "trunc.bin"
    f.write_bytes(records([1, 2], [1, 2], [1, 2], [0, 1]) + b"\x01\x02\x03")
    with pytest.raises(TruncatedFileError) as info:
        read_bin(f)
    msg = str(info.value)
    assert str(f) in msg and "byte offset 10" in msg and "10 or 15 bytes" in msg
    assert info.value.offset == 10


def test_out_of_range_coordinates(tmp_path: Path) -> None:
    f = tmp_path / "range.bin"
    f.write_bytes(records([1, 2, 34, 40], [1, 2, 3, 4], [1, 2, 3, 4], [0, 1, 0, 1]))
    with pytest.raises(CoordinateRangeError) as info:
        read_bin(f)
    msg = str(info.value)
    assert str(f) in msg and "event 2" in msg and "byte offset 10" in msg and "x=34" in msg
    loose = read_bin(f, check_range=False)
    assert loose.x.tolist() == [1, 2, 34, 40]
    assert read_bin(f, sensor_size=(41, 41)).x.tolist() == [1, 2, 34, 40]


def test_non_monotonic_timestamps(tmp_path: Path) -> None:
    f = tmp_path / "order.bin"
    f.write_bytes(records([1, 2, 3, 4], [1, 1, 1, 1], [10, 30, 20, 40], [0, 1, 0, 1]))
    with pytest.warns(NonMonotonicTimestampWarning, match="event 2"):
        warned = read_bin(f)
    assert warned.t.tolist() == [10, 30, 20, 40]
    assert read_bin(f, on_unsorted="sort").x.tolist() == [1, 3, 2, 4]
    with pytest.raises(TimestampOrderError) as info:
        read_bin(f, on_unsorted="error")
    assert info.value.row == 2 and str(f) in str(info.value)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_bin(f, on_unsorted="ignore").t.tolist() == [10, 30, 20, 40]
    with pytest.raises(ValueError, match="on_unsorted"):
        read_bin(f, on_unsorted="bogus")


def test_empty_file(tmp_path: Path) -> None:
    f = tmp_path / "empty.bin"
    f.write_bytes(b"")
    with pytest.raises(EmptyFileError, match="empty"):
        read_bin(f)


def test_sensor_size_forms(tmp_path: Path) -> None:
    f = tmp_path / "s.bin"
    f.write_bytes(records([1], [2], [3], [1]))
    for size in ((34, 34), [34, 34], (34, 34, 2), (np.int64(34), np.int64(34))):
        e = read_bin(f, sensor_size=size)
        assert e.sensor_size == (34, 34) and type(e.sensor_size[0]) is int
