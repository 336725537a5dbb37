"""Events <-> tonic structured arrays: lossless for any field order and int/bool dtypes."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import require_oracle
from hypothesis import given
from hypothesis import strategies as st
from io_strategies import event_streams

from eventcompress.errors import (
    EventFieldError,
    NonMonotonicTimestampWarning,
    TimestampOrderError,
)
from eventcompress.events import TONIC_DTYPE, Events, enforce_time_order, polarity_from_signed

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
    tonic_io = require_oracle("tonic.io")
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


@pytest.mark.parametrize(("p", "index", "value"), [
    ([0, 1, 2], 2, 2), ([1, -1, 0], 1, -1), (np.array([0, 255], np.uint8), 1, 255),
    (np.array([1, 0, 7, 9], np.int64), 2, 7),
])
def test_polarity_outside_0_1_is_refused(p, index: int, value: int) -> None:
    n = len(p)
    with pytest.raises(EventFieldError) as info:
        Events(np.zeros(n, int), np.zeros(n, int), np.arange(n), p, (1, 1))
    err = info.value
    assert (err.field, err.index, err.value) == ("p", index, value)
    assert f"Events.p holds {value} at event {index}" in str(err)
    assert isinstance(err, ValueError) and "signed" not in str(err)


def test_signed_polarity_is_named_and_converted_only_on_request() -> None:
    with pytest.raises(EventFieldError, match="signed_polarity=True") as info:
        Events([0, 0], [0, 0], [0, 1], [-1, 1], (1, 1))
    assert info.value.index == 0 and info.value.value == -1
    assert polarity_from_signed(np.array([-1, 1, 1], np.int8)).tolist() == [0, 1, 1]
    assert polarity_from_signed([1, -1]).dtype == np.uint8
    with pytest.raises(EventFieldError, match="holds 0 at event 1"):
        polarity_from_signed([1, 0, -1])
    arr = np.array([(3, 1, 5, -1), (4, 0, 6, 1)],
                   dtype=[("x", "i2"), ("y", "i2"), ("t", "i8"), ("p", "i1")])
    with pytest.raises(EventFieldError, match="signed"):
        Events.from_structured(arr)
    events = Events.from_structured(arr, signed_polarity=True)
    assert events.p.tolist() == [0, 1] and events.x.tolist() == [3, 4]


@given(st.lists(st.booleans(), max_size=50))
def test_bool_polarity_is_taken_as_is(flags: list[bool]) -> None:
    n = len(flags)
    p = np.array(flags, dtype=bool)
    events = Events(np.zeros(n, int), np.zeros(n, int), np.arange(n), p, (1, 1))
    assert events.p.dtype == np.uint8 and events.p.tolist() == [int(f) for f in flags]
