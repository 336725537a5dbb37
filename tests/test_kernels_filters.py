"""Noise filters: exact against tonic's functional implementations and brute-force definitions.

Only the tests that use tonic as the oracle need it (``require_oracle``); the definitions, the
int64-extreme references and the edge cases run without it.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import require_oracle
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from kernel_strategies import sensor_streams

from eventcompress import Events
from eventcompress.kernels import (
    Denoise,
    RefractoryPeriod,
    RemoveHotPixels,
    denoise,
    hot_pixels,
    refractory_period,
    remove_hot_pixels,
)
from eventcompress.kernels.filters import denoise_packed, refractory_period_packed
from eventcompress.kernels.packed import PackedEvents

I64 = np.iinfo(np.int64)


def _tonic():
    return require_oracle("tonic.functional")


def streams(max_side: int = 6, min_n: int = 0, max_n: int = 150, time_sorted: bool = True):
    """Small sensors so that neighbouring and repeated pixels are common."""
    return sensor_streams(max_side=max_side, min_n=min_n, max_n=max_n, t_min=-50, t_max=30_000,
                          time_sorted=time_sorted)


times = st.one_of(st.integers(0, 12_000), st.floats(0, 12_000, allow_nan=False))


def _same(ours: Events, tonic_events: np.ndarray) -> None:
    assert np.array_equal(ours.to_structured(), tonic_events)


# -- denoise ----------------------------------------------------------------------------------
@given(streams(min_n=1, time_sorted=False), times)
def test_denoise_equals_tonic_for_any_order(events, filter_time):
    tonic_functional = _tonic()
    ours = denoise(events, filter_time)
    _same(ours, tonic_functional.denoise_numpy(events.to_structured(), filter_time))
    assert ours.sensor_size == events.sensor_size


@given(streams(), st.integers(0, 12_000))
def test_strict_denoise_matches_its_definition(events, filter_time):
    """Kept iff an earlier event at a 4-neighbour lies less than filter_time before it."""
    x, y, t = events.x.astype(int), events.y.astype(int), events.t
    keep = np.zeros(len(events), bool)
    for i in range(len(events)):
        near = np.abs(x[:i] - x[i]) + np.abs(y[:i] - y[i]) == 1
        keep[i] = bool(np.any(near & (t[i] - t[:i] < filter_time)))
    assert denoise(events, filter_time, tonic_compatible=False) == events[keep]


def test_denoise_tonic_start_quirk_is_reproduced_and_optional():
    # Two far-apart pixels: neither supports the other, but before filter_time tonic keeps both.
    ev = Events([0, 3], [0, 0], [10, 20], [1, 0], (4, 1))
    assert len(denoise(ev, 100)) == 2
    assert len(denoise(ev, 100, tonic_compatible=False)) == 0
    assert len(denoise(ev.shifted(1000), 100)) == 0


def test_denoise_neighbourhood_is_four_connected_and_excludes_self():
    diagonal = Events([1, 2], [1, 2], [1000, 1001], [1, 1], (4, 4))
    same_pixel = Events([1, 1], [1, 1], [1000, 1001], [1, 1], (4, 4))
    beside = Events([1, 2], [1, 1], [1000, 1001], [1, 1], (4, 4))
    for ev, kept in ((diagonal, 0), (same_pixel, 0), (beside, 1)):
        assert len(denoise(ev, 10, tonic_compatible=False)) == kept
        assert len(denoise(ev, 10)) == kept
    # the window is strict: a gap of exactly filter_time no longer counts
    assert len(denoise(Events([1, 2], [1, 1], [1000, 1010], [1, 1], (4, 4)), 10)) == 0
    assert len(denoise(Events([1, 2], [1, 1], [1000, 1010], [1, 1], (4, 4)), 10.5)) == 1


def test_denoise_edge_cases():
    empty = Events.empty((3, 3))
    assert len(denoise(empty, 10)) == 0 and denoise(empty, 10).sensor_size == (3, 3)
    one = Events([0], [0], [5], [1], (1, 1))
    assert len(denoise(one, 10)) == 0
    with pytest.raises(ValueError, match="filter_time"):
        denoise(one, -1)
    with pytest.raises(ValueError, match="filter_time"):
        denoise(one, float("nan"))


# -- refractory period ------------------------------------------------------------------------
@given(streams(min_n=1, time_sorted=False), times)
def test_refractory_equals_tonic_for_any_order(events, period):
    tonic_functional = _tonic()
    ours = refractory_period(events, period)
    _same(ours, tonic_functional.refractory_period_numpy(events.to_structured(), period))


@given(streams(), st.integers(0, 12_000))
def test_strict_refractory_matches_its_definition(events, period):
    """Kept iff the pixel's previous event (kept or not) lies more than period before it."""
    keep = np.zeros(len(events), bool)
    last: dict[tuple[int, int], int] = {}
    for i in range(len(events)):
        key = (int(events.x[i]), int(events.y[i]))
        ti = int(events.t[i])
        keep[i] = key not in last or ti - last[key] > period
        last[key] = ti
    assert refractory_period(events, period, tonic_compatible=False) == events[keep]


def test_refractory_ignores_polarity_and_tonic_drops_first_event_at_time_zero():
    ev = Events([2, 2, 2], [1, 1, 1], [0, 5, 20], [1, 0, 1], (4, 4))
    assert refractory_period(ev, 10, tonic_compatible=False).t.tolist() == [0, 20]
    # tonic: every pixel last fired at -period, so an event at t = 0 is dropped; the dropped
    # event still restarts the dead time, which drops t = 5 too.
    assert refractory_period(ev, 10).t.tolist() == [20]
    assert len(refractory_period(Events.empty((2, 2)), 10)) == 0
    with pytest.raises(ValueError, match="period"):
        refractory_period(ev, -5)


# -- hot pixels -------------------------------------------------------------------------------
@given(streams(min_n=2, max_n=300), st.floats(0, 2e5, allow_nan=False))
def test_hot_pixel_rate_rule_equals_tonic_drop_pixel(events, rate):
    tonic_functional = _tonic()
    tonic_events = events.to_structured()
    coords = tonic_functional.identify_hot_pixel(tonic_events, rate)
    expected = tonic_functional.drop_pixel_numpy(tonic_events, coords)
    assert np.array_equal(hot_pixels(events, max_rate_hz=rate), coords)
    _same(remove_hot_pixels(events, max_rate_hz=rate), expected)


@given(streams(max_n=300), st.integers(0, 20), st.floats(0.5, 4))
def test_hot_pixel_count_and_mean_rules(events, max_count, multiple):
    w, h = events.sensor_size
    counts = np.zeros((w, h), int)
    np.add.at(counts, (events.x, events.y), 1)
    per_event = counts[events.x, events.y]
    assert remove_hot_pixels(events, max_count=max_count) == events[per_event <= max_count]
    if len(events):
        limit = multiple * counts[counts > 0].mean()
        assert remove_hot_pixels(events, mean_multiple=multiple) == events[per_event <= limit]
        assert np.array_equal(hot_pixels(events, max_count=max_count),
                              np.argwhere(counts > max_count))


def test_remove_listed_pixels_and_config():
    ev = Events([0, 1, 1, 2, 0], [0, 1, 1, 0, 0], [1, 2, 3, 4, 5], [1, 1, 0, 0, 1], (3, 2))
    out = remove_hot_pixels(ev, pixels=[(1, 1), (9, 9)])
    assert out.x.tolist() == [0, 2, 0]
    # (0,0) and (1,1) fire twice, (2,0) once
    assert remove_hot_pixels(ev, max_count=2, pixels=[(2, 0)]).t.tolist() == [1, 2, 3, 5]
    assert remove_hot_pixels(ev, max_count=1, pixels=[(2, 0)]).t.tolist() == []
    assert remove_hot_pixels(ev, max_count=1).t.tolist() == [4]
    with pytest.raises(ValueError, match="criterion"):
        remove_hot_pixels(ev)
    with pytest.raises(ValueError, match="exactly one"):
        hot_pixels(ev, max_count=1, mean_multiple=2)
    cfg = RemoveHotPixels(pixels=[[1, 1], (0, 0), (1, 1)])
    assert cfg.pixels == ((0, 0), (1, 1))
    assert cfg(ev).x.tolist() == [2]


def test_filter_configs_normalise_and_apply():
    ev = Events([0, 1, 1], [0, 0, 0], [10, 20, 5000], [1, 1, 0], (2, 1))
    assert Denoise(100.0) == Denoise(100) and Denoise(100.0).sha256() == Denoise(100).sha256()
    assert Denoise(100)(ev) == denoise(ev, 100)
    assert RefractoryPeriod(10, tonic_compatible=False)(ev) == refractory_period(
        ev, 10, tonic_compatible=False)


@given(st.lists(streams(min_n=1, max_n=60), min_size=1, max_size=5), times, times)
def test_packed_filters_equal_tonic_per_sample(samples, filter_time, period):
    """A batch is filtered sample by sample (each with its own pixel maps)."""
    tonic_functional = _tonic()
    size = samples[0].sensor_size
    samples = [Events(e.x % size[0], e.y % size[1], e.t, e.p, size) for e in samples]
    packed = PackedEvents.pack(samples)
    den = denoise_packed(packed, filter_time)
    ref = refractory_period_packed(packed, period)
    for k, ev in enumerate(samples):
        _same(den.sample(k), tonic_functional.denoise_numpy(ev.to_structured(), filter_time))
        _same(ref.sample(k), tonic_functional.refractory_period_numpy(ev.to_structured(), period))


# -- int64 extremes: exact Python-integer references ------------------------------------------
def python_denoise(events: Events, filter_time: int, tonic_compatible: bool) -> np.ndarray:
    """The documented rule in unbounded Python integers: each pixel remembers t_last +
    filter_time (tonic: every pixel of the box [0, max x] x [0, max y] starts at filter_time)."""
    xs, ys, ts = events.x.tolist(), events.y.tolist(), events.t.tolist()
    w, h = (max(xs) + 1, max(ys) + 1) if xs else (0, 0)
    expiry = {(i, j): filter_time for i in range(w) for j in range(h)} if tonic_compatible else {}
    keep = np.zeros(len(xs), bool)
    for n, (x, y, t) in enumerate(zip(xs, ys, ts)):
        expiry[x, y] = t + filter_time
        keep[n] = any(expiry.get(nb, -(2**70)) > t
                      for nb in ((x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1))
                      if 0 <= nb[0] < w and 0 <= nb[1] < h)
    return keep


def python_refractory(events: Events, period: int, tonic_compatible: bool) -> np.ndarray:
    last: dict[tuple[int, int], int] = {}
    keep = np.zeros(len(events), bool)
    for n, (x, y, t) in enumerate(zip(events.x.tolist(), events.y.tolist(), events.t.tolist())):
        prev = last.get((x, y), -period if tonic_compatible else None)
        keep[n] = prev is None or t - prev > period
        last[x, y] = t
    return keep


@st.composite
def extreme_streams(draw):
    """Timestamps within 40 us of int64 max or min (either or both), in any order."""
    w, h = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    n = draw(st.integers(1, 40))
    x = draw(arrays(np.int64, n, elements=st.integers(0, w - 1)))
    y = draw(arrays(np.int64, n, elements=st.integers(0, h - 1)))
    near = st.one_of(st.integers(I64.max - 40, I64.max), st.integers(I64.min, I64.min + 40))
    t = draw(arrays(np.int64, n, elements=st.one_of(near, st.integers(-5, 5))))
    if draw(st.booleans()):
        t = np.sort(t)
    return Events(x, y, t, np.zeros(n, np.int64), (w, h))


@given(extreme_streams(), st.integers(0, 60), st.booleans())
def test_denoise_near_int64_limits_matches_python_integers(events, filter_time, compatible):
    # t + filter_time exceeds int64 near the top: the sum saturates instead of wrapping
    expected = events[python_denoise(events, filter_time, compatible)]
    assert denoise(events, filter_time, tonic_compatible=compatible) == expected


@given(extreme_streams(), st.integers(0, 60), st.booleans())
def test_refractory_near_int64_limits_matches_python_integers(events, period, compatible):
    # t - t_prev spans up to 2**64 - 1 between the two ends of the range
    expected = events[python_refractory(events, period, compatible)]
    assert refractory_period(events, period, tonic_compatible=compatible) == expected


def test_saturated_expiry_still_supports_the_largest_timestamp():
    ev = Events([0, 1], [0, 0], [I64.max - 5, I64.max], [1, 1], (2, 1))
    assert denoise(ev, 10, tonic_compatible=False).t.tolist() == [I64.max]
    assert denoise(ev, 5, tonic_compatible=False).t.tolist() == []  # gap == filter_time
    assert refractory_period(Events([0, 0], [0, 0], [I64.min, I64.max], [1, 1], (1, 1)),
                             10).t.tolist() == [I64.max]
    with pytest.raises(ValueError, match="2\\*\\*63"):
        denoise(ev, 2.0**64)


# -- edge cases: 1 event, one timestamp, 1x1 sensor ---------------------------------------------
def test_filter_edge_cases():
    one = Events([0], [0], [5], [1], (1, 1))
    same_t = Events([0, 1, 1, 0], [0, 0, 1, 1], [7, 7, 7, 7], [1, 0, 1, 0], (2, 2))
    pixel = Events([0, 0, 0], [0, 0, 0], [0, 3, 50], [1, 0, 1], (1, 1))
    # one event: nothing supports it; the refractory filter keeps it unless t <= 0 (tonic)
    assert len(denoise(one, 10, tonic_compatible=False)) == 0
    assert refractory_period(one, 10).t.tolist() == [5]
    # one timestamp: each event is supported by the earlier ones at its 4-neighbours only
    assert denoise(same_t, 1, tonic_compatible=False).x.tolist() == [1, 1, 0]
    assert len(refractory_period(same_t, 0, tonic_compatible=False)) == 4
    # a 1x1 sensor has no neighbours at all
    assert len(denoise(pixel, 10**6)) == 0
    assert refractory_period(pixel, 10, tonic_compatible=False).t.tolist() == [0, 50]
    assert remove_hot_pixels(pixel, max_count=2) == pixel[np.zeros(3, bool)]
    assert hot_pixels(pixel, max_count=2).tolist() == [[0, 0]]
    assert hot_pixels(Events.empty((1, 1)), max_count=0).shape == (0, 2)
    tonic_functional = _tonic()
    for ev in (one, same_t, pixel):
        _same(denoise(ev, 10), tonic_functional.denoise_numpy(ev.to_structured(), 10))
        _same(refractory_period(ev, 10),
              tonic_functional.refractory_period_numpy(ev.to_structured(), 10))
