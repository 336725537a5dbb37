"""tonic .npy (structured and DVS Gesture (N, 4) ms layout) and SpikingJelly .npz."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from io_strategies import edge_events, event_streams

import eventcompress.io as ec_io
from eventcompress.errors import (
    CoordinateRangeError,
    EmptyFileError,
    FormatError,
    TruncatedFileError,
)
from eventcompress.events import TONIC_DTYPE, Events
from eventcompress.io.numpy_formats import (
    from_spikingjelly_dict,
    read_npy,
    read_npz,
    to_spikingjelly_dict,
    write_npy,
    write_npz,
)

FIELD_DTYPES = {
    "x": ["<u2", "<i2", "<i4", ">i8", "<u8"],
    "y": ["<u2", "<i2", ">u4", "<i8"],
    "t": ["<i8", "<u8", ">i8"],
    "p": ["?", "u1", "<i8", "<i1"],
}


@st.composite
def structured_dtypes(draw) -> np.dtype:
    order = draw(st.permutations(["x", "y", "t", "p"]))
    return np.dtype([(name, draw(st.sampled_from(FIELD_DTYPES[name]))) for name in order])


@given(event_streams((128, 128), 2**40), structured_dtypes())
def test_structured_round_trip_any_order_and_dtypes(tmp_path_factory, events, dtype) -> None:
    f = tmp_path_factory.mktemp("npy") / "e.npy"
    write_npy(f, events, dtype=dtype)
    assert np.load(f).dtype == dtype
    back = read_npy(f, sensor_size=(128, 128))
    assert back == events and back.metadata["layout"] == "structured"


def test_structured_default_is_tonic_dtype_and_sensor_inferred(tmp_path: Path) -> None:
    events = edge_events((34, 34), 2**40)
    f = tmp_path / "e.npy"
    write_npy(f, events)
    assert np.load(f).dtype == TONIC_DTYPE
    assert read_npy(f) == events  # smallest sensor holding every event: the corners give 34x34


@given(event_streams((128, 128), 2**40), st.sampled_from(["float64", "float32"]))
def test_dvsgesture_layout_round_trip(tmp_path_factory, events: Events, dtype: str) -> None:
    f = tmp_path_factory.mktemp("dvsg") / "3.npy"
    if dtype == "float32":  # float32 ms cannot hold microseconds exactly: only whole ms
        events = Events(events.x, events.y, np.sort(events.t // 1000 % 10_000) * 1000, events.p,
                        events.sensor_size)
    write_npy(f, events, layout="tonic-dvsgesture", dtype=dtype)
    arr = np.load(f)
    assert arr.shape == (len(events), 4) and arr.dtype == np.dtype(dtype)
    back = read_npy(f)
    assert back == events and back.metadata["layout"] == "tonic-dvsgesture"


def test_dvsgesture_layout_int_ms_and_rounding(tmp_path: Path) -> None:
    events = Events([1, 127], [2, 0], [0, 5000], [1, 0], (128, 128))
    f = tmp_path / "i.npy"
    write_npy(f, events, layout="tonic-dvsgesture", dtype=np.int32)
    assert np.load(f).tolist() == [[1, 2, 1, 0], [127, 0, 0, 5]]
    assert read_npy(f) == events
    with pytest.raises(ValueError, match="whole number of ms"):
        write_npy(f, Events([1], [2], [1500], [1], (128, 128)), layout="tonic-dvsgesture",
                  dtype=np.int32)
    # 1.001 ms * 1000 = 1000.9999999999999 in float64: we round, tonic truncates.
    arr = np.array([[1.0, 2.0, 1.0, 1.001], [3.0, 4.0, 0.0, 2.5]])
    np.save(f, arr)
    assert read_npy(f).t.tolist() == [1001, 2500]
    tonic_style = arr.copy()
    tonic_style[:, 3] *= 1000
    assert tonic_style[:, 3].astype(np.int64).tolist() == [1000, 2500]


def test_dvsgesture_layout_rejects_lossy_input(tmp_path: Path) -> None:
    f = tmp_path / "bad.npy"
    np.save(f, np.array([[1.0, 2.0, 1.0, 3.0], [1.5, 2.0, 0.0, 4.0]]))
    with pytest.raises(FormatError, match="non-integral") as info:
        read_npy(f)
    assert info.value.row == 1 and str(f) in str(info.value)
    np.save(f, np.array([[1.0, 2.0, 1.0], [1.0, 2.0, 0.0]]))
    with pytest.raises(FormatError, match=r"\(N, 4\)"):
        read_npy(f)
    np.save(f, np.array([[200.0, 2.0, 1.0, 3.0]]))
    assert read_npy(f).sensor_size == (201, 128)  # does not fit 128x128: smallest sensor
    with pytest.raises(CoordinateRangeError):
        read_npy(f, sensor_size=(128, 128))


def test_structured_errors(tmp_path: Path) -> None:
    f = tmp_path / "s.npy"
    np.save(f, np.array([(1, -1, 0, 1)], dtype=[("x", "i2"), ("y", "i2"), ("t", "i8"), ("p", "?")]))
    with pytest.raises(CoordinateRangeError, match="negative y"):
        read_npy(f)
    np.save(f, np.array([(70000, 1, 0, 1)], dtype=[("x", "i4"), ("y", "i2"), ("t", "i8"),
                                                   ("p", "?")]))
    with pytest.raises(FormatError, match="outside uint16"):
        read_npy(f)
    np.save(f, np.array([(1, 1, 0)], dtype=[("x", "i4"), ("y", "i2"), ("t", "i8")]))
    with pytest.raises(FormatError, match="fields x, y, t, p"):
        read_npy(f)
    with pytest.raises(OverflowError):  # tonic's int16 cannot hold x = 40000
        write_npy(f, Events([40000], [1], [0], [1], (40001, 2)))
    f.write_bytes(b"")
    with pytest.raises(EmptyFileError):
        read_npy(f)
    f.write_bytes(b"not numpy at all")
    with pytest.raises(FormatError, match="not a readable .npy"):
        read_npy(f)


def spikingjelly_cifar10dvs_style(events: Events) -> dict[str, np.ndarray]:
    """The dtypes SpikingJelly saves for CIFAR10-DVS: t as big-endian >u4, x/y uint32, p int64."""
    return {"t": events.t.astype(">u4"), "x": events.x.astype(np.uint32),
            "y": events.y.astype(np.uint32), "p": events.p.astype(np.int64)}


@given(event_streams((128, 128), 2**32 - 1), st.booleans())
def test_npz_spikingjelly_dtypes_and_round_trip(tmp_path_factory, events, compressed) -> None:
    d = tmp_path_factory.mktemp("npz")
    theirs = d / "sj.npz"
    np.savez_compressed(theirs, **spikingjelly_cifar10dvs_style(events))
    assert read_npz(theirs, sensor_size=(128, 128)) == events
    ours = d / "ours.npz"
    write_npz(ours, events, compressed=compressed)
    with np.load(ours) as archive:
        assert sorted(archive.files) == ["p", "t", "x", "y"]
        for k in "txyp":
            assert np.array_equal(archive[k], getattr(events, k))
    assert read_npz(ours, sensor_size=(128, 128)) == events


def test_spikingjelly_dict_helpers() -> None:
    events = edge_events((34, 34), 300_000)
    d = to_spikingjelly_dict(events)
    assert set(d) == {"t", "x", "y", "p"}
    assert from_spikingjelly_dict(d, (34, 34)) == events
    assert from_spikingjelly_dict(d).sensor_size == (34, 34)
    with pytest.raises(FormatError, match="missing keys"):
        from_spikingjelly_dict({"t": d["t"]})


def test_npz_errors(tmp_path: Path) -> None:
    f = tmp_path / "e.npz"
    np.savez(f, t=np.array([1]), x=np.array([2]))
    with pytest.raises(FormatError, match="missing keys"):
        read_npz(f)
    np.save(tmp_path / "a.npy", np.zeros(3))
    with pytest.raises(FormatError, match="not an .npz"):
        read_npz(tmp_path / "a.npy")
    f.write_bytes(b"")
    with pytest.raises(EmptyFileError):
        read_npz(f)


# -- truncated / corrupt .npz, polarity -------------------------------------------------------

@pytest.mark.parametrize("compressed", [True, False])
def test_truncated_npz_from_our_writer(tmp_path: Path, compressed: bool) -> None:
    events = edge_events((128, 128), 2**32 - 1)
    good = tmp_path / "good.npz"
    write_npz(good, events, compressed=compressed)
    data = good.read_bytes()
    f = tmp_path / "cut.npz"
    # every cut, from inside the zip magic to one byte short of the end record
    for cut in range(1, len(data)):
        f.write_bytes(data[:cut])
        with pytest.raises(TruncatedFileError) as info:
            read_npz(f)
        assert info.value.offset == cut and info.value.path == str(f), cut
        assert "end-of-central-directory" in str(info.value)
    f.write_bytes(data)
    assert read_npz(f, sensor_size=(128, 128)) == events
    f.write_bytes(data[: len(data) // 2])
    with pytest.raises(TruncatedFileError):  # through the sniffing front door too
        ec_io.read(f)


def test_corrupt_npz_member_names_member(tmp_path: Path) -> None:
    events = edge_events((34, 34), 1000)
    f = tmp_path / "c.npz"
    write_npz(f, events, compressed=False)
    data = bytearray(f.read_bytes())
    with zipfile.ZipFile(f) as zf:
        info = zf.getinfo("x.npy")
    # flip the last byte of x.npy's payload: the CRC no longer matches
    end_of_x = info.header_offset + 30 + len(info.filename) + len(info.extra) + info.compress_size
    data[end_of_x - 1] ^= 0xFF
    f.write_bytes(bytes(data))
    with pytest.raises(FormatError) as err:
        read_npz(f)
    assert "member x.npy" in str(err.value) and str(f) in str(err.value)
    assert err.value.offset == info.header_offset
    assert not isinstance(err.value, TruncatedFileError)
    # a whole end record pointing at a central directory that is not there: corrupt, not cut
    end_record = b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, 1, 1, 46, 100, 0)
    f.write_bytes(b"PK\x03\x04" + bytes(200) + end_record)
    with pytest.raises(FormatError, match="not a readable .npz") as err:
        read_npz(f)
    assert not isinstance(err.value, TruncatedFileError)


def test_polarity_outside_0_1_is_refused_with_row(tmp_path: Path) -> None:
    f = tmp_path / "p.npz"
    np.savez(f, t=np.arange(4), x=np.arange(4), y=np.arange(4), p=np.array([0, 1, 2, 1]))
    with pytest.raises(FormatError) as info:
        read_npz(f)
    assert info.value.row == 2 and "field p holds 2 at row 2" in str(info.value)
    assert "signed" not in str(info.value)
    s = tmp_path / "p.npy"
    arr = np.zeros(3, dtype=[("x", "i2"), ("y", "i2"), ("t", "i8"), ("p", "i1")])
    arr["p"] = [1, -1, 0]
    np.save(s, arr)
    with pytest.raises(FormatError, match="field p holds -1 at row 1") as info:
        read_npy(s)
    assert info.value.row == 1
    g = tmp_path / "g.npy"
    np.save(g, np.array([[1.0, 2.0, 3.0, 0.5]]))  # tonic DVS Gesture layout, p = 3
    with pytest.raises(FormatError, match="field p holds 3 at row 0"):
        read_npy(g)


def test_signed_polarity_only_on_request(tmp_path: Path) -> None:
    signed = np.array([-1, 1, 1, -1], np.int8)
    f = tmp_path / "s.npz"
    np.savez(f, t=np.arange(4), x=np.arange(4), y=np.zeros(4, np.int64), p=signed)
    with pytest.raises(FormatError, match="signed_polarity=True") as info:
        read_npz(f)
    assert info.value.row == 0
    assert read_npz(f, signed_polarity=True).p.tolist() == [0, 1, 1, 0]
    arr = np.zeros(4, dtype=[("p", "i2"), ("t", "i8"), ("x", "u2"), ("y", "u2")])
    arr["p"], arr["t"], arr["x"] = signed, np.arange(4), np.arange(4)
    npy = tmp_path / "s.npy"
    np.save(npy, arr)
    assert read_npy(npy, signed_polarity=True).p.tolist() == [0, 1, 1, 0]
    assert Events.from_structured(arr, signed_polarity=True).p.tolist() == [0, 1, 1, 0]
    gesture = tmp_path / "g.npy"
    np.save(gesture, np.column_stack([np.arange(4), np.arange(4), signed, np.arange(4)]))
    assert read_npy(gesture, signed_polarity=True).p.tolist() == [0, 1, 1, 0]
    # 0/1 data passed as signed is refused, not re-interpreted
    np.savez(f, t=np.arange(2), x=np.arange(2), y=np.arange(2), p=np.array([1, 0]))
    with pytest.raises(FormatError, match="field p holds 0 at row 1") as info:
        read_npz(f, signed_polarity=True)
    assert info.value.row == 1


def test_real_evt3_npy_and_bool_polarity_still_read(realdata: Path) -> None:
    """expelliarmus' structured .npy (p u1) and tonic-style bool p pass the polarity check."""
    path = realdata / "other_formats" / "prophesee_evt" / "evt3_sample.npy"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    events = read_npy(path, sensor_size=(1280, 720), on_unsorted="ignore")
    ref = np.load(path)
    assert len(events) == 219_596 == ref.shape[0]
    np.testing.assert_array_equal(events.p, ref["p"])
    as_bool = Events.from_structured(events.to_structured(TONIC_DTYPE), (1280, 720))
    np.testing.assert_array_equal(as_bool.p, ref["p"])
