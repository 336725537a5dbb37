"""Reader defects found on hand-made files (issue 10): each file is written here byte by byte.

Silently wrong data (a DAVIS346 file decoded as DVS128, negative AEDAT 3.1 timestamps wrapped,
2-D .npz fields flattened) and errors without the file name or of the wrong type.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from conftest import require_oracle

import eventcompress.io as ec_io
from eventcompress.errors import (
    CoordinateRangeError,
    FormatError,
    HeaderError,
    PacketError,
    UnknownFormatError,
)
from eventcompress.events import Events
from eventcompress.io import read, read_aedat2, read_aedat3, read_aedat4, read_npy, read_npz

DAVIS346 = "eu.seebetter.ini.chips.davis.Davis346red"


def davis_dvs(raw_x: int, raw_y: int, on: int) -> int:
    """jAER DavisChip constants: y bits 30..22, x bits 21..12, polarity bit 11."""
    return (raw_y << 22) | (raw_x << 12) | (on << 11)


def aedat2_bytes(chip: str | None, records: list[tuple[int, int]], version: bytes = b"2.0"
                 ) -> bytes:
    lines = [b"#!AER-DAT" + version, b"# This is a raw AE data file - do not edit"]
    if chip is not None:
        lines.append(b"# AEChip: " + chip.encode())
    fmt = ">Ii" if version == b"2.0" else ">Hi"
    return b"".join(line + b"\r\n" for line in lines) + b"".join(
        struct.pack(fmt, a, t) for a, t in records)


# -- AEDAT 2.0: the AEChip line --------------------------------------------------------------

def test_davis346_file_is_decoded_with_its_own_layout(tmp_path: Path) -> None:
    # Display coordinates (16,16), (320,240), (64,100): jAER shows x = 345 - raw x, y = raw y.
    wanted = [(16, 16, 1), (320, 240, 0), (64, 100, 1)]
    records = [(davis_dvs(345 - x, y, p), 10 * (i + 1)) for i, (x, y, p) in enumerate(wanted)]
    records.insert(1, (0x80000000 | davis_dvs(5, 5, 0) | 0x3FF, 15))  # APS sample: skipped
    records.insert(3, (0x400, 25))  # external input event: skipped
    records.append((0x80000C00, 40))  # IMU sample word: skipped
    f = tmp_path / "davis.aedat"
    f.write_bytes(aedat2_bytes(DAVIS346, records))
    for events in (read_aedat2(f), read(f)):
        assert events.sensor_size == (346, 260)
        assert list(zip(events.x.tolist(), events.y.tolist(), events.p.tolist())) == wanted
        assert events.t.tolist() == [10, 20, 30]
        meta = events.metadata
        assert (meta["chip"], meta["chip_class"], meta["special_events"]) == ("DAVIS346",
                                                                              DAVIS346, 3)
        assert (meta["aps_imu_samples"], meta["external_events"]) == (2, 1)
    raw = read_aedat2(f, "raw")
    assert raw.x.tolist() == [345 - x for x, _, _ in wanted]
    assert raw.y.tolist() == [y for _, y, _ in wanted]
    # The defect: read as DVS128 (its 7-bit fields hold none of these bits) every x was 127.
    as_dvs128 = read_aedat2(f, chip="DVS128")
    assert set(as_dvs128.x.tolist()) == {127} and as_dvs128.sensor_size == (128, 128)


def test_davis240_size_and_range_check(tmp_path: Path) -> None:
    f = tmp_path / "d240.aedat"
    f.write_bytes(aedat2_bytes("eu.seebetter.ini.chips.davis.DAVIS240C",
                               [(davis_dvs(0, 179, 1), 1), (davis_dvs(239, 0, 0), 2)]))
    e = read_aedat2(f)
    assert e.sensor_size == (240, 180) and e.metadata["chip"] == "DAVIS240"
    assert (e.x.tolist(), e.y.tolist(), e.p.tolist()) == ([239, 0], [179, 0], [1, 0])
    f.write_bytes(aedat2_bytes("eu.seebetter.ini.chips.davis.DAVIS240C",
                               [(davis_dvs(1, 1, 1), 1), (davis_dvs(240, 3, 1), 2)]))
    header_len = len(aedat2_bytes("eu.seebetter.ini.chips.davis.DAVIS240C", []))
    with pytest.raises(CoordinateRangeError, match=rf"byte offset {header_len + 8}.*x=240, y=3"):
        read_aedat2(f)


def test_unknown_chip_is_refused_by_name(tmp_path: Path) -> None:
    data = aedat2_bytes("eu.seebetter.ini.chips.davis.Davis640", [(davis_dvs(1, 1, 1), 1)])
    f = tmp_path / "d640.aedat"
    f.write_bytes(data)
    for call in (read_aedat2, read):
        with pytest.raises(HeaderError, match=r"d640.aedat \(byte offset (\d+)\): .*chip "
                           r"'eu.seebetter.ini.chips.davis.Davis640'.*refused") as info:
            call(f)
        assert data[info.value.offset:].startswith(b"# AEChip: ")
        assert "DAVIS346" in info.value.expected
    # The caller may name the layout the file is known to use.
    e = read_aedat2(f, chip="DAVIS346")
    assert (e.x.tolist(), e.y.tolist()) == ([344], [1])


def test_davis_needs_aedat_2_and_a_defined_convention(tmp_path: Path) -> None:
    f = tmp_path / "v1.aedat"
    f.write_bytes(aedat2_bytes(DAVIS346, [(1, 1)], version=b"1.0"))
    with pytest.raises(HeaderError, match="DAVIS346 file with AEDAT 1.0 records"):
        read_aedat2(f)
    f.write_bytes(aedat2_bytes(DAVIS346, [(davis_dvs(1, 1, 1), 1)]))
    with pytest.raises(ValueError, match="'spikingjelly' is defined for DVS128"):
        read_aedat2(f, "spikingjelly")
    with pytest.raises(ValueError, match="chip must be one of"):
        read_aedat2(f, chip="DAVIS999")


def test_dvs128_chip_line_and_no_chip_line_read_as_dvs128(tmp_path: Path) -> None:
    addr = (3 << 8) | (5 << 1) | 0  # raw y 3, raw x 5, bit0 0 (ON under jAER)
    for chip in ("ch.unizh.ini.jaer.chip.retina.DVS128", "ch.unizh.ini.jaer.chip.retina.Tmpdiff128",
                 None):
        f = tmp_path / "d.aedat"
        f.write_bytes(aedat2_bytes(chip, [(addr, 7)]))
        e = read_aedat2(f)
        assert (e.x.tolist(), e.y.tolist(), e.p.tolist(), e.sensor_size) == (
            [122], [3], [1], (128, 128))
        assert e.metadata["chip"] == "DVS128" and e.metadata["chip_class"] == chip


# -- AEDAT 3.1: negative timestamps -----------------------------------------------------------

A3_HEADER = b"#!AER-DAT3.1\r\n#Format: RAW\r\n#!END-HEADER\r\n"


def polarity_packet(overflow: int, events: list[tuple[int, int]]) -> bytes:
    head = struct.pack("<hhiiiiii", 1, 1, 8, 4, overflow, len(events), len(events), len(events))
    return head + b"".join(struct.pack("<Ii", d, t) for d, t in events)


def test_aedat3_negative_overflow_is_a_packet_error(tmp_path: Path) -> None:
    f = tmp_path / "o.aedat"
    good = polarity_packet(0, [((3 << 17) | (4 << 2) | 3, 100)])
    f.write_bytes(A3_HEADER + good + polarity_packet(-1, [((3 << 17) | 1, 100)]))
    offset = len(A3_HEADER) + len(good)
    for call in (read_aedat3, read):
        with pytest.raises(PacketError, match=rf"o.aedat \(byte offset {offset}, row 1\): packet "
                           r"1: .*negative eventTSOverflow -1") as info:
            call(f)
        assert "eventTSOverflow >= 0" in info.value.expected


def test_aedat3_negative_event_timestamp_is_a_packet_error(tmp_path: Path) -> None:
    f = tmp_path / "n.aedat"
    first = polarity_packet(0, [(1, 5)])
    f.write_bytes(A3_HEADER + first + polarity_packet(0, [(1, 6), (1, -5)]))
    offset = len(A3_HEADER) + len(first)
    with pytest.raises(PacketError, match=rf"n.aedat \(byte offset {offset}, row 1\): packet 1: "
                       rf"event 1 \(byte offset {offset + 28 + 8}\) has the negative timestamp "
                       r"-5") as info:
        read_aedat3(f)
    assert "timestamps >= 0" in info.value.expected
    # Before the fix: t = 4294967291 came back without a word.
    f.write_bytes(A3_HEADER + first + polarity_packet(0, [(1, 6), (1, 7)]))
    assert read_aedat3(f).t.tolist() == [5, 6, 7]


# -- NumPy files ------------------------------------------------------------------------------

def test_npz_fields_must_be_1d_and_of_equal_length(tmp_path: Path) -> None:
    f = tmp_path / "two_d.npz"
    np.savez(f, x=np.zeros((2, 3), np.int64), y=np.zeros((2, 3), np.int64),
             t=np.arange(6).reshape(2, 3), p=np.zeros((2, 3), np.int64))
    with pytest.raises(FormatError, match=r"two_d.npz: field x has shape \(2, 3\)"):
        read(f)
    f = tmp_path / "ragged.npz"
    np.savez(f, x=np.zeros(3, np.int64), y=np.zeros(2, np.int64), t=np.arange(3),
             p=np.zeros(3, np.int64))
    with pytest.raises(FormatError, match=r"ragged.npz: fields differ in length: x=3, y=2, t=3"):
        read_npz(f)


def test_float_t_follows_one_rule_in_npy_and_npz(tmp_path: Path) -> None:
    dtype = [("x", "<i2"), ("y", "<i2"), ("t", "<f8"), ("p", "?")]
    whole = np.array([(1, 2, 10.0, True), (3, 4, 20.0, False)], dtype)
    np.save(tmp_path / "w.npy", whole)
    np.savez(tmp_path / "w.npz", **{k: whole[k] for k in "xytp"})
    for f in (tmp_path / "w.npy", tmp_path / "w.npz"):
        e = read(f)
        assert e.t.tolist() == [10, 20] and e.t.dtype == np.int64
    frac = whole.copy()
    frac["t"][1] = 20.5
    np.save(tmp_path / "f.npy", frac)
    np.savez(tmp_path / "f.npz", **{k: frac[k] for k in "xytp"})
    for f in (tmp_path / "f.npy", tmp_path / "f.npz"):
        with pytest.raises(FormatError, match=rf"{f.name} \(row 1\): field t holds the "
                           r"non-integral value 20.5"):
            read(f)


def test_numpy_never_suggests_unpickling(tmp_path: Path) -> None:
    f = tmp_path / "not_zip.npz"
    f.write_bytes(b"just some text that is not a zip archive")
    with pytest.raises(FormatError) as info:
        read_npz(f)
    assert "not_zip.npz (byte offset 0): not an .npz archive" in str(info.value)
    pickled = tmp_path / "obj.npy"
    np.save(pickled, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    np.savez(tmp_path / "obj.npz", x=np.array([{"x": 1}], dtype=object), y=[1], t=[1], p=[1])
    for call, path in ((read_npz, f), (read_npy, pickled), (read_npz, tmp_path / "obj.npz")):
        with pytest.raises(FormatError) as info:
            call(path)
        text = str(info.value)
        assert path.name in text and "unsafe" not in text and "allow_pickle" not in text


# -- Events and sensor sizes ------------------------------------------------------------------

def test_tonic_three_tuple_sensor_size_in_events_and_read(tmp_path: Path) -> None:
    e = Events([1], [2], [3], [1], sensor_size=(34, 34, 2))
    assert e.sensor_size == (34, 34)
    f = tmp_path / "a.bin"
    ec_io.write(f, e)
    assert read(f, sensor_size=(34, 34, 2)).sensor_size == (34, 34)
    for bad in ((34,), (34, 34, 2, 1), (0, 34), "34x34"):
        with pytest.raises(ValueError, match="sensor_size must be"):
            Events([1], [2], [3], [1], sensor_size=bad)


# -- AEDAT 4.0: garbage after the magic -------------------------------------------------------

@pytest.mark.parametrize("tail", [b"", b"\x01\x02", b"\xff\xff\xff\x7f garbage", b"\x00" * 4])
def test_aedat4_garbage_is_a_header_error_with_expected(tmp_path: Path, tail: bytes) -> None:
    require_oracle("aedat")
    f = tmp_path / "g.aedat4"
    f.write_bytes(b"#!AER-DAT4.0\r\n" + tail)
    for call in (read_aedat4, read):
        with pytest.raises(HeaderError, match=r"g.aedat4 \(byte offset 14\)") as info:
            call(f)
        assert info.value.expected and "IOHeader" in info.value.expected
        assert "fill whole buffer" not in str(info.value)


def test_aedat4_unparsable_io_header_names_the_layout(tmp_path: Path) -> None:
    require_oracle("aedat")
    f = tmp_path / "h.aedat4"
    f.write_bytes(b"#!AER-DAT4.0\r\n" + struct.pack("<I", 8) + b"\xab" * 8 + b"\x00" * 32)
    with pytest.raises(HeaderError) as info:
        read_aedat4(f)
    assert info.value.expected and "IOHeader" in info.value.expected


# -- the eventcompress.io namespace -----------------------------------------------------------

def test_io_exports_the_per_format_readers_and_nothing_else() -> None:
    import types

    public = {n for n in dir(ec_io) if not n.startswith("_")
              and not isinstance(getattr(ec_io, n), types.ModuleType)}
    assert public == set(ec_io.__all__)
    for name in ("Any", "Callable", "dataclass", "importlib", "os", "annotations"):
        assert name not in public
    from eventcompress.io import aedat3, nmnist_bin, numpy_formats, prophesee

    assert ec_io.read_bin is nmnist_bin.read_bin and ec_io.write_npz is numpy_formats.write_npz
    assert ec_io.read_aedat3 is aedat3.read_aedat3 and ec_io.read_evt3 is prophesee.read_evt3
    assert {"read_bin", "write_bin", "read_aedat4", "read_npz", "write_evt2"} <= set(ec_io.__all__)
    assert "write_aedat4" not in ec_io.__all__
    with pytest.raises(AttributeError, match="no attribute 'read_xyz'"):
        ec_io.read_xyz  # noqa: B018


def test_unknown_format_error_is_still_unknown(tmp_path: Path) -> None:
    f = tmp_path / "x.xyz"
    f.write_bytes(b"\x01\x02")
    with pytest.raises(UnknownFormatError):
        read(f)
