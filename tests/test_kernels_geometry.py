"""Geometry and time transforms against NumPy references and tonic's transforms."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import require_oracle
from hypothesis import given
from hypothesis import strategies as st
from kernel_strategies import sensor_streams

from eventcompress import Events
from eventcompress.errors import FormatError
from eventcompress.kernels import (
    center_crop,
    crop,
    crop_time,
    downsample,
    flip_lr,
    flip_polarity,
    flip_ud,
    random_crop,
    resize,
    shift_time_to_zero,
)

I64 = np.iinfo(np.int64)


def _tonic_transforms():
    # Only the tests that compare with tonic need it; the others run without it.
    return require_oracle("tonic.transforms")


def streams(max_side: int = 80, max_n: int = 120, time_sorted: bool = True):
    return sensor_streams(max_side=max_side, max_n=max_n, t_min=-1000, t_max=10**6,
                          time_sorted=time_sorted, metadata={"source": "hypothesis"})


def _tonic(events: Events) -> np.ndarray:
    return events.to_structured()


# -- downsample / resize ----------------------------------------------------------------------
@given(streams(), st.integers(1, 9), st.integers(1, 9))
def test_downsample_is_floor_division_and_keeps_every_event(events, fx, fy):
    out = downsample(events, (fx, fy))
    assert np.array_equal(out.x, events.x // fx) and np.array_equal(out.y, events.y // fy)
    assert np.array_equal(out.t, events.t) and np.array_equal(out.p, events.p)
    w, h = events.sensor_size
    assert out.sensor_size == (-(-w // fx), -(-h // fy))
    assert not out.out_of_range().any()
    assert out.metadata == events.metadata
    assert downsample(events, fx) == downsample(events, (fx, fx))


@given(streams(), st.integers(1, 16))
def test_downsample_equals_tonic_spatial_factor(events, factor):
    tonic_transforms = _tonic_transforms()
    expected = tonic_transforms.Downsample(spatial_factor=1 / factor)(_tonic(events))
    assert np.array_equal(downsample(events, factor).to_structured(), expected)


@given(streams(), st.integers(1, 100), st.integers(1, 100))
def test_resize_is_exact_integer_scaling(events, tw, th):
    out = resize(events, (tw, th))
    w, h = events.sensor_size
    assert np.array_equal(out.x, events.x.astype(np.int64) * tw // w)
    assert np.array_equal(out.y, events.y.astype(np.int64) * th // h)
    assert out.sensor_size == (tw, th) and not out.out_of_range().any()
    tonic_transforms = _tonic_transforms()
    # tonic multiplies by the float ratio; it can only round down at exact grid boundaries
    w3 = (*events.sensor_size, 2)
    theirs = tonic_transforms.Downsample(sensor_size=w3, target_size=(tw, th))(_tonic(events))
    differ = theirs["x"] != out.x
    assert np.all((events.x[differ].astype(np.int64) * tw) % w == 0)
    assert np.all(theirs["x"][differ] == out.x[differ].astype(np.int64) - 1)


def test_resize_cifar10dvs_sizes():
    x = np.arange(128)
    ev = Events(x, x, np.arange(128), np.ones(128, int), (128, 128))
    assert resize(ev, 48).x.tolist() == [(i * 48) // 128 for i in range(128)]
    assert resize(ev, 64) == downsample(ev, 2)


# -- crops ------------------------------------------------------------------------------------
@given(streams(), st.integers(-20, 90), st.integers(-20, 90), st.integers(1, 60),
       st.integers(1, 60))
def test_crop_keeps_exactly_the_events_inside(events, x0, y0, w, h):
    out = crop(events, (x0, y0), (w, h))
    x, y = events.x.astype(np.int64), events.y.astype(np.int64)
    inside = (x >= x0) & (x < x0 + w) & (y >= y0) & (y < y0 + h)
    assert np.array_equal(out.x, x[inside] - x0) and np.array_equal(out.y, y[inside] - y0)
    assert np.array_equal(out.t, events.t[inside]) and np.array_equal(out.p, events.p[inside])
    assert out.sensor_size == (w, h)


@given(streams(), st.integers(1, 100), st.integers(1, 100))
def test_center_crop_equals_tonic(events, w, h):
    tonic_transforms = _tonic_transforms()
    expected = tonic_transforms.CenterCrop(sensor_size=(*events.sensor_size, 2), size=(w, h))(
        _tonic(events))
    out = center_crop(events, (w, h))
    assert np.array_equal(out.to_structured(), expected)
    assert out.sensor_size == (w, h)


@given(streams(max_side=12), st.data())
def test_random_crop_is_reproducible_and_covers_every_origin(events, data):
    sw, sh = events.sensor_size
    w = data.draw(st.integers(1, sw))
    h = data.draw(st.integers(1, sh))
    seed = data.draw(st.integers(0, 2**32))
    first = random_crop(events, (w, h), seed)
    assert first == random_crop(events, (w, h), np.random.default_rng(seed))
    u = np.random.default_rng(seed).random(2)
    x0, y0 = int(u[0] * (sw - w + 1)), int(u[1] * (sh - h + 1))
    assert first == crop(events, (x0, y0), (w, h))


def test_random_crop_origins_are_uniform_over_all_positions():
    ev = Events([0, 1, 2, 3], [0, 0, 0, 0], [0, 1, 2, 3], [1, 1, 1, 1], (4, 1))
    rng = np.random.default_rng(0)
    firsts = [int(random_crop(ev, (2, 1), rng).t[0]) for _ in range(600)]
    counts = np.bincount(firsts, minlength=3)
    assert counts.size == 3 and counts.min() > 150  # origins 0, 1, 2 (tonic never picks 2)
    with pytest.raises(ValueError, match="fit"):
        random_crop(ev, (5, 1), 0)


# -- flips ------------------------------------------------------------------------------------
@given(streams())
def test_flips_are_involutions_and_equal_tonic(events):
    sensor = (*events.sensor_size, 2)
    lr, ud = flip_lr(events), flip_ud(events)
    assert flip_lr(lr) == events and flip_ud(ud) == events
    assert np.array_equal(lr.x, events.sensor_size[0] - 1 - events.x.astype(np.int64))
    pol = flip_polarity(events)
    assert np.array_equal(pol.p, 1 - events.p) and flip_polarity(pol) == events
    tonic_transforms = _tonic_transforms()
    assert np.array_equal(lr.to_structured(),
                          tonic_transforms.RandomFlipLR(sensor, p=1.0)(_tonic(events)))
    assert np.array_equal(ud.to_structured(),
                          tonic_transforms.RandomFlipUD(sensor, p=1.0)(_tonic(events)))
    assert np.array_equal(pol.to_structured(),
                          tonic_transforms.RandomFlipPolarity(p=1.0)(_tonic(events)))


def test_flip_rejects_events_outside_the_sensor():
    ev = Events([5], [0], [0], [1], (3, 3))
    with pytest.raises(ValueError, match="outside the sensor"):
        flip_lr(ev)
    with pytest.raises(ValueError, match="outside the sensor"):
        flip_ud(Events([0], [7], [0], [1], (3, 3)))


# -- time -------------------------------------------------------------------------------------
@given(streams(time_sorted=False), st.one_of(st.none(), st.integers(-2000, 10**6)),
       st.one_of(st.none(), st.integers(-2000, 10**6)))
def test_crop_time_is_half_open_for_sorted_and_unsorted(events, start, end):
    lo = -(2**63) if start is None else start
    keep = (events.t >= lo) & (True if end is None else events.t < end)
    assert crop_time(events, start, end) == events[keep]
    ordered = events.sorted_by_time()
    keep = (ordered.t >= lo) & (True if end is None else ordered.t < end)
    assert crop_time(ordered, start, end) == ordered[keep]


@given(streams(time_sorted=False))
def test_shift_time_to_zero(events):
    out = shift_time_to_zero(events)
    if len(events):
        assert out.t.min() == 0 and np.array_equal(out.t, events.t - events.t.min())
    assert np.array_equal(out.x, events.x)


@given(st.lists(st.integers(I64.min, I64.max), min_size=1, max_size=6))
def test_shift_time_to_zero_at_int64_extremes_is_exact_or_raises(ts):
    """t - min(t) is exact whenever max(t) - min(t) fits int64; beyond that it would wrap, so
    a FormatError naming the field t and the span is raised instead."""
    ev = Events(np.zeros(len(ts), int), np.zeros(len(ts), int), ts, np.ones(len(ts), int), (1, 1),
                {"path": "rec.npz"})
    span = max(ts) - min(ts)
    if span <= I64.max:
        assert shift_time_to_zero(ev).t.tolist() == [t - min(ts) for t in ts]
        return
    with pytest.raises(FormatError) as info:
        shift_time_to_zero(ev)
    message = str(info.value)
    assert "field t" in message and f"span of {span} us" in message and "rec.npz" in message
    assert f"[{min(ts)}, {max(ts)}]" in message and info.value.row == ts.index(max(ts))


def test_shift_time_to_zero_span_error_names_the_sample_of_a_batch():
    from eventcompress.kernels.geometry import shift_time_to_zero_packed
    from eventcompress.kernels.packed import PackedEvents

    fine = Events([0, 0], [0, 0], [I64.max - 1, I64.max], [1, 1], (1, 1))
    wide = Events([0, 0], [0, 0], [-1, I64.max], [1, 1], (1, 1))
    assert shift_time_to_zero(fine).t.tolist() == [0, 1]
    assert shift_time_to_zero(Events([0, 0], [0, 0], [0, I64.max], [1, 1], (1, 1))).t[1] == I64.max
    with pytest.raises(FormatError, match="sample 1: field t spans"):
        shift_time_to_zero_packed(PackedEvents.pack([fine, wide]))


# -- edge cases -------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [0, 1])
def test_tiny_streams_on_a_one_pixel_sensor(n):
    ev = Events(np.zeros(n, int), np.zeros(n, int), np.arange(n) + 7, np.ones(n, int), (1, 1))
    for out in (downsample(ev, 3), resize(ev, (1, 1)), center_crop(ev, 1), flip_lr(ev),
                flip_ud(ev), crop_time(ev, 0, 10), random_crop(ev, 1, 0)):
        assert out.sensor_size == (1, 1) and len(out) == n
    assert flip_polarity(ev).p.tolist() == [0] * n
    assert resize(ev, (4, 2)).sensor_size == (4, 2)
    assert len(crop(ev, (1, 0), 1)) == 0
    assert shift_time_to_zero(ev).t.tolist() == [0] * n


def test_invalid_arguments():
    ev = Events([0], [0], [0], [1], (4, 4))
    with pytest.raises(ValueError, match="factor"):
        downsample(ev, 0)
    with pytest.raises(ValueError, match="positive"):
        resize(ev, (0, 3))
    with pytest.raises(ValueError, match="pair"):
        crop(ev, (0, 0), (1, 2, 3))
