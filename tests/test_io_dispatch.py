"""eventcompress.io.read/write: format sniffing, the registry, errors for unknown input."""

from __future__ import annotations

import importlib
import inspect
import struct
from pathlib import Path

import numpy as np
import pytest

import eventcompress.io as ec_io
from eventcompress.errors import (
    CoordinateRangeError,
    EmptyFileError,
    HeaderError,
    UnknownFormatError,
)
from eventcompress.events import Events
from eventcompress.io import FORMATS, read, read_aedat2, sniff_format, write

EVENTS = Events([1, 2, 3], [4, 5, 6], [10, 20, 30], [1, 0, 1], (34, 34))


def test_registry_entries() -> None:
    assert set(FORMATS) == {"bin", "aedat2", "aedat3", "aedat4", "evt2", "evt3", "npy", "npz"}
    assert FORMATS["aedat4"].writer is None
    assert (FORMATS["bin"].module, FORMATS["bin"].reader, FORMATS["bin"].writer) == (
        "nmnist_bin", "read_bin", "write_bin")
    for spec in FORMATS.values():
        module = importlib.util.find_spec(f"eventcompress.io.{spec.module}")
        if module is None:
            continue  # written by another helper; may not exist yet
        assert callable(spec.load_reader())
    with pytest.raises(NotImplementedError):
        FORMATS["aedat4"].load_writer()


@pytest.mark.parametrize(
    ("fmt", "name", "kwargs"),
    [("bin", "e.bin", {}), ("aedat2", "e.aedat", {}), ("aedat3", "e.aedat", {}),
     ("npy", "e.npy", {}), ("npz", "e.npz", {}), ("aedat3", "e.bin", {}),
     ("npy", "e.data", {}), ("aedat2", "e.dat", {"convention": "raw"})],
)
def test_write_then_read_with_sniffing(tmp_path: Path, fmt: str, name: str, kwargs) -> None:
    f = tmp_path / name
    write(f, EVENTS, fmt, **kwargs)
    assert sniff_format(f) == fmt  # header bytes win over the extension
    read_kwargs = {**kwargs, "sensor_size": (34, 34)} if fmt != "bin" else {}
    assert read(f, **read_kwargs) == EVENTS
    assert read(f, fmt, **read_kwargs) == EVENTS


def test_write_infers_format_from_extension(tmp_path: Path) -> None:
    write(tmp_path / "a.bin", EVENTS)
    assert sniff_format(tmp_path / "a.bin") == "bin"
    write(tmp_path / "a.aedat", EVENTS)
    assert sniff_format(tmp_path / "a.aedat") == "aedat2"
    with pytest.raises(ValueError, match="pass format="):
        write(tmp_path / "a.xyz", EVENTS)
    with pytest.raises(ValueError, match="unknown format 'nope'"):
        write(tmp_path / "a.bin", EVENTS, "nope")
    with pytest.raises(NotImplementedError):
        write(tmp_path / "a.aedat4", EVENTS, "aedat4")


def test_headers_identify_formats(tmp_path: Path) -> None:
    cases = {
        "a.aedat": (b"#!AER-DAT1.0\r\n\x00\x02\x00\x00\x00\x01", "aedat2"),
        "b.aedat": (b"# jAER file without a version line\r\n\x00\x00", "aedat2"),
        "c.dat": (b"#!AER-DAT3.1\r\n#!END-HEADER\r\n", "aedat3"),
        "d": (b"#!AER-DAT4.0\r\n\x00\x00", "aedat4"),
        "e.raw": (b"% Date 2020\n% evt 2.0\n% end\n\x00", "evt2"),
        "f.raw": (b"% camera_integrator_name Prophesee\n% format EVT3;height=720\n\x00", "evt3"),
        "g.raw": (b"% format EVT2;width=640\n", "evt2"),
        "h.bs2": (b"\x01\x02\x03\x04\x05", "bin"),
        # valid headers still sniff under the "no '#' / '%' header -> HeaderError" rule
        "v1.dat": (b"#!AER-DAT1.0\n\x00\x02\x00\x00\x00\x01", "aedat2"),
        "noversion.dat": (b"# jAER comment only\r\n\x00\x00\x00\x00\x00\x00\x00\x01", "aedat2"),
        "v4.aedat4": (b"#!AER-DAT4.0\r\n\x00\x00", "aedat4"),
        "v4.aedat": (b"#!AER-DAT4.0\r\n\x00\x00", "aedat4"),
        "e2.raw": (b"% evt 2.0\n\x00", "evt2"),
        "arr.aedat": (b"\x93NUMPY\x01\x00", "npy"),  # header bytes win over the extension
    }
    for name, (content, fmt) in cases.items():
        (tmp_path / name).write_bytes(content)
        assert sniff_format(tmp_path / name) == fmt, name


def test_real_files_are_identified(realdata: Path) -> None:
    other = realdata / "other_formats"
    assert sniff_format(other / "aedat4" / "tonic_sample.aedat4") == "aedat4"
    assert sniff_format(other / "prophesee_evt" / "evt2_sample.raw") == "evt2"
    assert sniff_format(other / "prophesee_evt" / "evt3_sample.raw") == "evt3"
    assert sniff_format(other / "prophesee_evt" / "evt3_sample.npy") == "npy"
    assert sniff_format(other / "aedat2_header" / "tonic_sample_aedat_header.aedat") == "aedat2"
    assert sniff_format(realdata / "nmnist" / "tonic_sample_nmnist.bin") == "bin"
    assert len(read(realdata / "nmnist" / "tonic_sample_nmnist.bin")) == 4325


def test_unknown_format_names_file_bytes_and_formats(tmp_path: Path) -> None:
    f = tmp_path / "mystery.xyz"
    f.write_bytes(b"\x07\x08 garbage bytes")
    with pytest.raises(UnknownFormatError) as info:
        read(f)
    msg = str(info.value)
    assert str(f) in msg and "\\x07\\x08 garbage" in msg and "'.xyz'" in msg
    for name in FORMATS:
        assert name in msg
    (tmp_path / "x.raw").write_bytes(b"% just a comment\n\x00\x00")
    with pytest.raises(UnknownFormatError, match="no EVT"):
        sniff_format(tmp_path / "x.raw")
    # An unsupported AEDAT version is a HeaderError at its line, from read() as from the reader.
    v9 = tmp_path / "v9.aedat"
    v9.write_bytes(b"# comment\n#!AER-DAT9.0\r\n")
    for call in (sniff_format, read, read_aedat2):
        with pytest.raises(HeaderError, match=r"v9.aedat \(byte offset 10\): unsupported AEDAT "
                           r"version 9.0") as info:
            call(v9)
        assert not isinstance(info.value, UnknownFormatError) and info.value.expected
    (tmp_path / "h.txt").write_bytes(b"# hash comment but not .aedat\n")
    with pytest.raises(UnknownFormatError):
        sniff_format(tmp_path / "h.txt")


def test_empty_file_and_bad_format_name(tmp_path: Path) -> None:
    f = tmp_path / "empty.aedat"
    f.write_bytes(b"")
    with pytest.raises(EmptyFileError) as info:
        read(f)
    assert str(f) in str(info.value)
    with pytest.raises(ValueError, match="unknown format"):
        read(f, "nope")


def test_labels_helpers_exported() -> None:
    from eventcompress.io import aedat3

    assert ec_io.read_labels_csv is aedat3.read_labels_csv
    assert ec_io.slice_by_labels is aedat3.slice_by_labels
    assert ec_io.write_labels_csv is aedat3.write_labels_csv


def test_npy_sniffed_from_magic(tmp_path: Path) -> None:
    f = tmp_path / "arr"
    with open(f, "wb") as fh:
        np.save(fh, EVENTS.to_structured())
    assert read(f, sensor_size=(34, 34)) == EVENTS


# -- the out-of-range hint names only remedies the reader has ---------------------------------

def _out_of_range_files(tmp_path: Path) -> list[tuple[str, Path, tuple[int, int], int]]:
    """(format, file, too-small sensor, x of the offending event), bytes built by hand."""
    bin_file = tmp_path / "r.bin"
    bin_file.write_bytes(bytes([1, 1, 0, 0, 1]) + bytes([40, 2, 0x80, 0, 2]))
    aedat2_file = tmp_path / "r.aedat"
    aedat2_file.write_bytes(b"#!AER-DAT2.0\r\n" + struct.pack(">IIII", (1 << 8) | (1 << 1), 1,
                                                               (2 << 8) | (100 << 1), 2))
    head = b"#!AER-DAT3.1\r\n#!END-HEADER\r\n"
    pkt = struct.pack("<hhiiiiii", 1, 1, 8, 4, 0, 2, 2, 2)
    pkt += struct.pack("<IiIi", (1 << 17) | (1 << 2) | 1, 1, (300 << 17) | (2 << 2) | 3, 2)
    aedat3_file = tmp_path / "r3.aedat"
    aedat3_file.write_bytes(head + pkt)
    return [("bin", bin_file, (34, 34), 40), ("aedat2", aedat2_file, (64, 64), 100),
            ("aedat3", aedat3_file, (128, 128), 300)]


def test_out_of_range_hint_is_true_for_every_reader(tmp_path: Path) -> None:
    for fmt, path, small, bad_x in _out_of_range_files(tmp_path):
        reader = FORMATS[fmt].load_reader()
        has_check_range = "check_range" in inspect.signature(reader).parameters
        kwargs = {"convention": "raw"} if fmt == "aedat2" else {}
        with pytest.raises(CoordinateRangeError) as info:
            read(path, sensor_size=small, **kwargs)
        msg = str(info.value)
        assert info.value.row == 1 and str(path) in msg, fmt
        assert ("check_range=False" in msg) == has_check_range, fmt
        if has_check_range:  # follow the hint through io.read, which forwards the argument
            kept = read(path, sensor_size=small, check_range=False, **kwargs)
            assert kept.x.tolist() == [1, bad_x] and kept.sensor_size == small, fmt
        else:  # AEDAT 2.0: a 128x128 sensor holds every 7-bit address
            assert "at least 128x128" in msg
            for convention in ("raw", "jaer", "spikingjelly"):
                assert len(read(path, sensor_size=(128, 128), convention=convention)) == 2
    assert "check_range" not in inspect.signature(FORMATS["aedat2"].load_reader()).parameters


def test_aedat3_check_range_keeps_events_as_stored(tmp_path: Path) -> None:
    from eventcompress.io.aedat3 import read_aedat3

    _, path, _, _ = _out_of_range_files(tmp_path)[2]
    kept = read_aedat3(path, check_range=False)
    assert (kept.x.tolist(), kept.y.tolist(), kept.p.tolist()) == ([1, 300], [1, 2], [0, 1])
    assert kept.out_of_range().tolist() == [False, True]


# -- sniffing: header-carrying extensions without their header ---------------------------------

@pytest.mark.parametrize(("name", "content", "marker"), [
    ("plain.aedat", b"\x00\x01\x02\x03 no header here", "'#'"),
    ("cifar.dat", b"\xff\xfe binary first", "'#'"),
    ("dv.aedat4", b"AER-DAT4.0 without hash", "'#'"),
    ("cam.raw", b"\x00\x00\x00\x80 words, no % header", "'%'"),
    ("cam2.raw", b"evt 3.0\n\x00\x00", "'%'"),
])
def test_missing_header_line_raises_header_error(tmp_path: Path, name: str, content: bytes,
                                                 marker: str) -> None:
    f = tmp_path / name
    f.write_bytes(content)
    for call in (sniff_format, read):
        with pytest.raises(HeaderError) as info:
            call(f)
        err = info.value
        assert err.offset == 0 and err.path == str(f)
        assert f"without a {marker} header line" in str(err) and repr(content[:16]) in str(err)
        assert err.expected and marker.strip("'") in err.expected


def test_aedat4_extension_without_magic_reaches_the_reader(tmp_path: Path) -> None:
    # a '#' file with the .aedat4 extension but no magic reaches the reader's own check
    (tmp_path / "bad.aedat4").write_bytes(b"# not the magic\r\n")
    assert sniff_format(tmp_path / "bad.aedat4") == "aedat4"


@pytest.mark.parametrize("fmt,size", [("bin", (34, 34)), ("aedat2", (128, 128)),
                                      ("aedat3", (128, 128))])
def test_mapped_and_read_files_decode_identically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  fmt: str, size: tuple[int, int]) -> None:
    from eventcompress.io import _common

    rng = np.random.default_rng(3)
    n = 30_000  # > the 64 KiB first read, so both paths take the large-file branch
    events = Events(rng.integers(0, 34, n), rng.integers(0, 34, n),
                    np.sort(rng.integers(0, 2**22, n)), rng.integers(0, 2, n), size)
    path = tmp_path / f"e.{fmt}"
    write(path, events, fmt)
    monkeypatch.setattr(_common, "_MAP_FROM", 1 << 62)
    copied = read(path)
    monkeypatch.setattr(_common, "_MAP_FROM", 1)
    assert not _common.read_file_bytes(str(path)).flags.writeable  # really mapped
    mapped = read(path)
    for field in "xytp":
        assert np.array_equal(getattr(mapped, field), getattr(copied, field)), field
        assert np.array_equal(getattr(mapped, field), getattr(events, field)), field
        assert getattr(mapped, field).flags.writeable, field  # decoded arrays are not the map
