"""tonic .npy (structured and DVS Gesture (N, 4) ms layout) and SpikingJelly .npz."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from io_strategies import edge_events, event_streams

from eventcompress.errors import CoordinateRangeError, EmptyFileError, FormatError
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
