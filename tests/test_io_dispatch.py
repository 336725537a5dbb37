"""eventcompress.io.read/write: format sniffing, the registry, errors for unknown input."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest

import eventcompress.io as ec_io
from eventcompress.errors import EmptyFileError, UnknownFormatError
from eventcompress.events import Events
from eventcompress.io import FORMATS, read, sniff_format, write

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
    (tmp_path / "v9.aedat").write_bytes(b"#!AER-DAT9.0\r\n")
    with pytest.raises(UnknownFormatError, match="AEDAT version 9.0"):
        sniff_format(tmp_path / "v9.aedat")
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
