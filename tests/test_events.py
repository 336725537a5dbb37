"""Events <-> tonic structured arrays: lossless for any field order and int/bool dtypes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from io_strategies import event_streams

from eventcompress.errors import NonMonotonicTimestampWarning, TimestampOrderError
from eventcompress.events import TONIC_DTYPE, Events, enforce_time_order

TONIC_DATASET_DTYPES = [
    TONIC_DTYPE,
    np.dtype([("x", int), ("y", int), ("t", int), ("p", int)]),  # NMNIST
    np.dtype([("t", np.uint64), ("x", np.uint16), ("y", np.uint16), ("p", bool)]),  # CIFAR10DVS
    np.dtype([("x", np.int16), ("y", np.int16), ("p", bool), ("t", np.int64)]),  # DVSGesture
]


@given(event_streams((346, 260), 2**45), st.sampled_from(TONIC_DATASET_DTYPES))
def test_tonic_structured_round_trip(events: Events, dtype: np.dtype) -> None:
    arr = events.to_structured(dtype)
    assert arr.dtype == dtype
    for name in "xytp":
        assert np.array_equal(arr[name].astype(np.int64), getattr(events, name).astype(np.int64))
    assert Events.from_structured(arr, events.sensor_size) == events


@given(st.permutations(["x", "y", "t", "p"]),
       st.sampled_from(["i2", "u2", "i4", "u4", "i8"]), st.sampled_from(["?", "u1", "i8"]))
def test_from_structured_any_field_order(order, xy_dtype, p_dtype) -> None:
    types = {"x": xy_dtype, "y": xy_dtype, "t": "i8", "p": p_dtype}
    arr = np.zeros(3, dtype=[(n, types[n]) for n in order])
    arr["x"], arr["y"], arr["t"], arr["p"] = [0, 5, 33], [1, 2, 30], [0, 7, 9], [1, 0, 1]
    events = Events.from_structured(arr)
    assert events.sensor_size == (34, 31)
    assert events.x.dtype == np.uint16 and events.t.dtype == np.int64 and events.p.dtype == np.uint8
    assert events.x.tolist() == [0, 5, 33] and events.p.tolist() == [1, 0, 1]


def test_tonic_reader_output_converts_losslessly(realdata) -> None:
    tonic_io = pytest.importorskip("tonic.io")
    arr = tonic_io.read_mnist_file(str(realdata / "nmnist" / "tonic_sample_nmnist.bin"),
                                   TONIC_DTYPE)
    events = Events.from_structured(arr, (34, 34))
    assert np.array_equal(events.to_structured(), arr)


def test_overflow_raises_instead_of_wrapping() -> None:
    with pytest.raises(OverflowError, match="Events.x"):
        Events([-1], [0], [0], [0], (2, 2))
    with pytest.raises(OverflowError, match="Events.x"):
        Events.from_structured(np.array([(70000, 0, 0, 1)], dtype=[("x", "i4"), ("y", "i2"),
                                                                  ("t", "i8"), ("p", "?")]))
    big = Events([40000], [1], [0], [1], (40001, 2))
    with pytest.raises(OverflowError):
        big.to_structured(TONIC_DTYPE)  # tonic's int16 x cannot hold 40000
    with pytest.raises(OverflowError):
        Events([0], [0], np.array([2**64 - 1], np.uint64), [0], (1, 1))


def test_time_order_policy() -> None:
    events = Events([1, 2, 3], [0, 0, 0], [5, 3, 4], [0, 1, 0], (4, 1))
    with pytest.warns(NonMonotonicTimestampWarning, match="event 1"):
        assert enforce_time_order(events, "warn", "f.bin") is events
    assert enforce_time_order(events, "sort").x.tolist() == [2, 3, 1]
    with pytest.raises(TimestampOrderError) as info:
        enforce_time_order(events, "error", "f.bin")
    assert info.value.row == 1 and "f.bin" in str(info.value)
