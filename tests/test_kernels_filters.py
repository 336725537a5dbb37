"""Noise filters: exact against tonic's functional implementations and brute-force definitions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

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

tonic_functional = pytest.importorskip("tonic.functional")


@st.composite
def streams(draw, max_side: int = 6, min_n: int = 0, max_n: int = 150, time_sorted: bool = True):
    """Small sensors so that neighbouring and repeated pixels are common."""
    w = draw(st.integers(1, max_side))
    h = draw(st.integers(1, max_side))
    n = draw(st.integers(min_n, max_n))
    x = draw(arrays(np.int64, n, elements=st.integers(0, w - 1)))
    y = draw(arrays(np.int64, n, elements=st.integers(0, h - 1)))
    t = draw(arrays(np.int64, n, elements=st.integers(-50, 30_000)))
    if time_sorted:
        t = np.sort(t)
    p = draw(arrays(np.int64, n, elements=st.integers(0, 1)))
    return Events(x, y, t, p, (w, h))


times = st.one_of(st.integers(0, 12_000), st.floats(0, 12_000, allow_nan=False))


def _same(ours: Events, tonic_events: np.ndarray) -> None:
    assert np.array_equal(ours.to_structured(), tonic_events)


# -- denoise ----------------------------------------------------------------------------------
@given(streams(min_n=1, time_sorted=False), times)
def test_denoise_equals_tonic_for_any_order(events, filter_time):
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
    _same(denoise(one, 10), tonic_functional.denoise_numpy(one.to_structured(), 10))
    with pytest.raises(ValueError, match="filter_time"):
        denoise(one, -1)
    with pytest.raises(ValueError, match="filter_time"):
        denoise(one, float("nan"))


# -- refractory period ------------------------------------------------------------------------
@given(streams(min_n=1, time_sorted=False), times)
def test_refractory_equals_tonic_for_any_order(events, period):
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
    size = samples[0].sensor_size
    samples = [Events(e.x % size[0], e.y % size[1], e.t, e.p, size) for e in samples]
    packed = PackedEvents.pack(samples)
    den = denoise_packed(packed, filter_time)
    ref = refractory_period_packed(packed, period)
    for k, ev in enumerate(samples):
        _same(den.sample(k), tonic_functional.denoise_numpy(ev.to_structured(), filter_time))
        _same(ref.sample(k), tonic_functional.refractory_period_numpy(ev.to_structured(), period))
