"""Event frames: tonic's ToFrame as oracle, NumPy references for the fixed grid and SpikingJelly's
rule, conservation, dtypes and overflow, edge cases, FrameConfig hashing."""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from math import ceil

import numpy as np
import pytest
from conftest import require_oracle
from hypothesis import assume, given
from hypothesis import strategies as st
from io_strategies import stream_chunks

from eventcompress.errors import ConfigError, CoordinateRangeError, TimestampOrderError
from eventcompress.events import Events
from eventcompress.kernels.frames import frames, frames_spikingjelly
from eventcompress.kernels.representations import FrameConfig

I64 = np.iinfo(np.int64)


# ------------------------------------------------------------------------------------------
# strategies


@st.composite
def streams(draw, min_size=0, max_size=120, sorted_t=True, t_span=400):
    w = draw(st.integers(1, 6))
    h = draw(st.integers(1, 5))
    n = draw(st.integers(min_size, max_size))
    t0 = draw(st.integers(-1000, 1000))
    # A small span relative to n gives many duplicate timestamps.
    span = draw(st.integers(0, t_span))
    ints = st.lists(st.integers(0, 10**6), min_size=n, max_size=n)
    x = np.array(draw(ints), dtype=np.int64) % w
    y = np.array(draw(ints), dtype=np.int64) % h
    t = t0 + np.array(draw(ints), dtype=np.int64) % (span + 1)
    if sorted_t:
        t = np.sort(t)
    p = np.array(draw(ints), dtype=np.int64) % 2
    return Events(x, y, t.astype(np.int64), p, (w, h))


def tonic_frames(events: Events, n_pol: int, **kw) -> np.ndarray:
    tonic_transforms = require_oracle("tonic.transforms")
    return tonic_transforms.ToFrame(sensor_size=(*events.sensor_size, n_pol), **kw)(
        events.to_structured()
    )


@st.composite
def tonic_arguments(draw):
    mode = draw(st.sampled_from(["n_time_bins", "n_event_bins", "time_window", "event_count"]))
    kw: dict = {}
    if mode in ("n_time_bins", "n_event_bins"):
        kw[mode] = draw(st.integers(1, 7))
        kw["overlap"] = draw(st.one_of(st.just(0), st.sampled_from([0.0, 0.25, 0.5]),
                                       st.floats(0, 0.9)))
    elif mode == "time_window":
        tw = draw(st.one_of(st.integers(1, 200), st.floats(0.5, 200)))
        kw["time_window"] = tw
        kw["overlap"] = draw(st.one_of(st.integers(0, max(int(tw) - 1, 0)),
                                       st.floats(0, tw * 0.95)))
        if draw(st.booleans()):  # omitted: tonic's default must remain ours in this mode
            kw["include_incomplete"] = draw(st.booleans())
        if draw(st.booleans()):
            kw["start_time"] = draw(st.integers(-1200, 1200))
        if draw(st.booleans()):
            kw["end_time"] = draw(st.integers(-1200, 1600))
    else:
        ec = draw(st.integers(1, 40))
        kw["event_count"] = ec
        kw["overlap"] = draw(st.integers(0, ec - 1))
        if draw(st.booleans()):
            kw["include_incomplete"] = draw(st.booleans())
    return kw


# ------------------------------------------------------------------------------------------
# tonic oracle


@given(ev=streams(min_size=1), kw=tonic_arguments())
def test_tonic_edges_bit_exact(ev, kw):
    try:
        expected = tonic_frames(ev, 2, **kw)
    except (ValueError, AssertionError, ZeroDivisionError):
        assume(False)  # tonic refuses these arguments; covered by the error tests below
    got = frames(ev, edges="tonic", **kw)
    assert got.dtype == expected.dtype == np.int16
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


@given(ev=streams(min_size=1), kw=tonic_arguments(), on=st.booleans())
def test_tonic_single_polarity_is_merge(ev, kw, on):
    """tonic's sensor_size (W, H, 1) counts both polarities in one channel: our "merge"."""
    ev = Events(ev.x, ev.y, ev.t, np.full(len(ev), int(on)), ev.sensor_size)
    try:
        expected = tonic_frames(ev, 1, **kw)
    except (ValueError, AssertionError, ZeroDivisionError):
        assume(False)
    np.testing.assert_array_equal(frames(ev, edges="tonic", polarity="merge", **kw), expected)


@pytest.mark.parametrize(
    "kw, n_frames",
    [({"n_time_bins": 4}, 4), ({"n_event_bins": 3}, 3), ({"time_window": 100}, 1),
     ({"event_count": 7}, 1)],
)
def test_tonic_empty_input_shape_differs_only_by_transpose(kw, n_frames):
    ev = Events.empty((5, 3))
    expected = tonic_frames(ev, 2, **kw)
    got = frames(ev, edges="tonic", **kw)
    assert expected.shape == (n_frames, 2, 5, 3)  # tonic: (T, P, W, H), float64
    assert got.shape == (n_frames, 2, 3, 5) and got.dtype == np.int16
    assert not got.any() and not expected.any()


def test_tonic_drops_what_fixed_keeps():
    """tonic's n_time_bins floors the bin width and never counts the last event (issue #264
    territory); the fixed grid keeps every event."""
    ev = Events([0, 1, 2, 0], [0, 0, 0, 0], [0, 5, 9, 10], [1, 1, 0, 1], (3, 1))
    tonic_like = frames(ev, n_time_bins=3, edges="tonic")
    np.testing.assert_array_equal(tonic_like, tonic_frames(ev, 2, n_time_bins=3))
    assert tonic_like.sum() == 2  # bins of (10 // 3) = 3 us: t = 9 and t = 10 fall off the end
    assert frames(ev, n_time_bins=3).sum() == 4
    single = ev[:1]  # tonic issue #313: one event, one bin, an empty frame
    np.testing.assert_array_equal(frames(single, n_time_bins=1, edges="tonic"),
                                  tonic_frames(single, 2, n_time_bins=1))
    assert frames(single, n_time_bins=1, edges="tonic").sum() == 0
    assert frames(single, n_time_bins=1).sum() == 1


# ------------------------------------------------------------------------------------------
# fixed grid: NumPy references


def reference_fixed_time(ev: Events, lo: list[int], hi: list[int], n_ch: int = 2) -> np.ndarray:
    """Brute force: frame k counts events with lo[k] <= t < hi[k]."""
    w, h = ev.sensor_size
    out = np.zeros((len(lo), n_ch, h, w), np.int64)
    for k, (a, b) in enumerate(zip(lo, hi)):
        m = (ev.t >= a) & (ev.t < b)
        np.add.at(out[k], ((ev.p[m] != 0).astype(int) if n_ch == 2 else 0, ev.y[m], ev.x[m]), 1)
    return out


def grid_windows(start: int, length: int, n: int, overlap: float) -> tuple[list[int], list[int]]:
    """The documented overlapping grid: n windows of length L = D / ((n-1)(1-o) + 1), stride
    L (1 - o); a real window [a, b) holds the integers ceil(a) <= t < ceil(b)."""
    o = Fraction(overlap)
    win = Fraction(length) / ((n - 1) * (1 - o) + 1)
    stride = win * (1 - o)
    return ([start + ceil(k * stride) for k in range(n)],
            [start + ceil(k * stride + win) for k in range(n)])


@given(ev=streams(min_size=1), n=st.integers(1, 9))
def test_fixed_time_bins_match_bincount_and_keep_every_event(ev, n):
    start, end = int(ev.t[0]), int(ev.t[-1]) + 1
    got = frames(ev, n_time_bins=n, dtype=np.int64)
    # vectorised reference: bin index floor((t - start) T / D), then one bincount
    b = ((ev.t - start) * n) // (end - start)
    w, h = ev.sensor_size
    flat = ((b * 2 + (ev.p != 0)) * h + ev.y.astype(np.int64)) * w + ev.x
    expected = np.bincount(flat, minlength=n * 2 * h * w).reshape(n, 2, h, w)
    np.testing.assert_array_equal(got, expected)
    assert got.sum() == len(ev)


@given(ev=streams(min_size=1), n=st.integers(1, 6), overlap=st.floats(0, 0.9),
       pad=st.tuples(st.integers(0, 50), st.integers(0, 50)))
def test_fixed_time_bins_with_overlap_and_range(ev, n, overlap, pad):
    start, end = int(ev.t[0]) - pad[0], int(ev.t[-1]) + 1 + pad[1]
    lo, hi = grid_windows(start, end - start, n, overlap)
    got = frames(ev, n_time_bins=n, overlap=overlap, start_time=start, end_time=end,
                 dtype=np.int32)
    np.testing.assert_array_equal(got, reference_fixed_time(ev, lo, hi))
    assert lo[0] == start and hi[-1] == end
    assert got.sum() >= len(ev)  # every event in range is counted at least once


@given(ev=streams(min_size=1), tw=st.integers(1, 150), frac=st.floats(0, 0.9),
       incomplete=st.booleans())
def test_fixed_time_window(ev, tw, frac, incomplete):
    ov = int(tw * frac)
    start, end = int(ev.t[0]), int(ev.t[-1]) + 1
    stride, d = tw - ov, end - start
    if incomplete:
        n = max(-((tw - d) // stride) + 1, 1)  # ceil((d - tw) / stride) + 1
    else:
        n = (d - tw) // stride + 1 if d >= tw else 0
    lo = [start + k * stride for k in range(n)]
    hi = [min(a + tw, end) for a in lo]
    got = frames(ev, time_window=tw, overlap=ov, include_incomplete=incomplete, dtype=np.int32)
    np.testing.assert_array_equal(got, reference_fixed_time(ev, lo, hi))
    if incomplete and ov == 0:
        assert got.sum() == len(ev)


@given(ev=streams(), c=st.integers(1, 30), frac=st.floats(0, 0.9), incomplete=st.booleans())
def test_fixed_event_count(ev, c, frac, incomplete):
    ov = int(c * frac)
    s, n = c - ov, len(ev)
    if incomplete:
        count = max(-((c - n) // s) + 1, 1) if n > 0 else 0
    else:
        count = (n - c) // s + 1 if n >= c else 0
    got = frames(ev, event_count=c, overlap=ov, include_incomplete=incomplete, dtype=np.int32)
    w, h = ev.sensor_size
    expected = np.zeros((count, 2, h, w), np.int64)
    for k in range(count):
        sl = slice(k * s, min(k * s + c, n))
        np.add.at(expected[k], (ev.p[sl].astype(int), ev.y[sl], ev.x[sl]), 1)
    np.testing.assert_array_equal(got, expected)


@given(ev=streams(), n=st.integers(1, 8), overlap=st.sampled_from([0.0, 0.3, 0.75]))
def test_fixed_event_bins(ev, n, overlap):
    lo, hi = grid_windows(0, len(ev), n, overlap)
    got = frames(ev, n_event_bins=n, overlap=overlap, dtype=np.int32)
    w, h = ev.sensor_size
    expected = np.zeros((n, 2, h, w), np.int64)
    for k in range(n):
        sl = slice(lo[k], hi[k])
        np.add.at(expected[k], (ev.p[sl].astype(int), ev.y[sl], ev.x[sl]), 1)
    np.testing.assert_array_equal(got, expected)
    if overlap == 0:
        assert got.sum() == len(ev)
        sizes = got.sum(axis=(1, 2, 3))
        assert sizes.max() - sizes.min() <= 1  # the remainder is spread, not dumped at the end


@given(ev=streams(min_size=2), data=st.data())
def test_fixed_time_modes_do_not_depend_on_event_order(ev, data):
    perm = np.array(data.draw(st.permutations(range(len(ev)))))
    shuffled = ev[perm]
    kw = data.draw(st.sampled_from([
        {"n_time_bins": 4}, {"n_time_bins": 3, "overlap": 0.5},
        {"time_window": 37, "overlap": 10, "include_incomplete": True},
    ]))
    lo, hi = int(ev.t[0]), int(ev.t[-1]) + 1
    np.testing.assert_array_equal(frames(shuffled, **kw), frames(ev, **kw))
    np.testing.assert_array_equal(frames(shuffled, **kw, start_time=lo - 3, end_time=hi),
                                  frames(ev, **kw, start_time=lo - 3, end_time=hi))


# -- include_incomplete: None keeps the tail on the fixed grid, drops it as tonic does -----------


def test_fixed_time_window_shorter_than_the_window_gives_one_frame_with_every_event():
    ev = Events([0, 1, 1, 0], [0, 0, 1, 1], [100, 130, 170, 199], [1, 0, 1, 1], (2, 2))  # D = 100
    out = frames(ev, time_window=1_000)
    assert out.shape == (1, 2, 2, 2) and out.sum() == 4
    np.testing.assert_array_equal(out, frames(ev, n_time_bins=1))
    np.testing.assert_array_equal(FrameConfig(time_window=1_000)(ev), out)
    # explicit False: only complete windows, none here (the old default)
    assert frames(ev, time_window=1_000, include_incomplete=False).shape == (0, 2, 2, 2)
    assert FrameConfig(time_window=1_000, include_incomplete=False)(ev).shape == (0, 2, 2, 2)
    # the tail after the last complete window: kept by default, dropped with False
    assert frames(ev, time_window=60).sum(axis=(1, 2, 3)).tolist() == [2, 2]
    assert frames(ev, time_window=60, include_incomplete=False).sum() == 2
    assert frames(ev, event_count=3).sum(axis=(1, 2, 3)).tolist() == [3, 1]
    assert frames(ev, event_count=3, include_incomplete=False).sum() == 3
    # tonic mode keeps tonic's default (False)
    np.testing.assert_array_equal(frames(ev, time_window=60, edges="tonic"),
                                  frames(ev, time_window=60, edges="tonic",
                                         include_incomplete=False))


@given(ev=streams(), mode=st.sampled_from(["time_window", "event_count"]),
       size=st.one_of(st.integers(1, 500), st.floats(0.5, 500)),
       start=st.one_of(st.none(), st.integers(-1200, 1200)),
       end=st.one_of(st.none(), st.integers(-1200, 1600)),
       polarity=st.sampled_from(["split", "merge"]))
def test_fixed_defaults_conserve_events(ev, mode, size, start, end, polarity):
    """With the default include_incomplete, frames without overlap count every event of
    [start, end) exactly once: sum of the frames == number of events in range."""
    if mode == "event_count":
        size = max(int(size), 1)
    n = len(ev)
    assume(n or (start is not None and end is not None))
    lo = start if start is not None else int(ev.t[0]) if n else 0
    hi = end if end is not None else int(ev.t[-1]) + 1 if n else 0
    assume(hi > lo)
    got = frames(ev, **{mode: size}, start_time=start, end_time=end, polarity=polarity,
                 dtype=np.int64)
    assert got.sum() == np.count_nonzero((ev.t >= lo) & (ev.t < hi))
    if mode == "time_window" and start is not None and end is not None:
        cfg = FrameConfig(time_window=size, start_time=start, end_time=end, polarity=polarity,
                          dtype="int64")
        assert cfg.batchable and cfg.output_shape(ev.sensor_size) == got.shape
        np.testing.assert_array_equal(cfg(ev), got)


def test_frame_config_resolves_and_hashes_include_incomplete():
    from eventcompress.kernels.pipeline import config_from_dict

    default = FrameConfig(time_window=10)
    assert default.include_incomplete is True
    assert default == FrameConfig(time_window=10, include_incomplete=True)
    assert default.sha256() == FrameConfig(time_window=10, include_incomplete=True).sha256()
    dropped = FrameConfig(time_window=10, include_incomplete=False)
    assert dropped.include_incomplete is False and dropped.sha256() != default.sha256()
    assert FrameConfig(event_count=5).include_incomplete is True
    assert FrameConfig(time_window=10, edges="tonic").include_incomplete is False
    assert FrameConfig(n_time_bins=3).include_incomplete is False
    # T on a fixed [start, end): 4 windows with the tail, 3 without
    assert FrameConfig(time_window=10, start_time=0, end_time=35).n_frames() == 4
    assert FrameConfig(time_window=10, start_time=0, end_time=35,
                       include_incomplete=False).n_frames() == 3
    # the canonical form changed, so did the schema version (caches keyed by v1 are not reused)
    assert FrameConfig.schema_version == 2 and '"version":2' in default.canonical_json()
    assert '"include_incomplete":true' in default.canonical_json()
    old = {**json.loads(dropped.canonical_json()), "version": 1}
    with pytest.raises(ConfigError, match="schema version 1"):
        config_from_dict(old)
    with pytest.raises(ConfigError):
        FrameConfig(n_time_bins=3, include_incomplete=True)
    with pytest.raises(ConfigError, match="include_incomplete"):
        FrameConfig(time_window=10, include_incomplete="yes")



def test_frames_builds_each_setting_once_and_still_refuses_bad_ones():
    from eventcompress.kernels import frames as frames_module

    rng = np.random.default_rng(3)
    ev = Events(rng.integers(0, 6, 50), rng.integers(0, 4, 50), np.sort(rng.integers(0, 99, 50)),
                rng.integers(0, 2, 50), (6, 4))
    cached = frames_module._cached_config
    cached.cache_clear()
    first = frames(ev, n_time_bins=4, dtype=np.int32)
    again = frames(ev, n_time_bins=4, dtype=np.int32)
    assert (cached.cache_info().misses, cached.cache_info().hits) == (1, 1)
    assert again is not first and not np.shares_memory(again, first)  # a fresh array per call
    np.testing.assert_array_equal(first, FrameConfig(n_time_bins=4, dtype="int32")(ev))
    # typed: 4.0 is another entry (the same frames), not a hit on the config built from 4
    np.testing.assert_array_equal(frames(ev, n_time_bins=4.0, dtype=np.int32), first)
    assert cached.cache_info().misses == 2
    # an unhashable setting is validated, and refused, every time; a refused one is not kept
    for _ in range(2):
        with pytest.raises(ConfigError, match="positive integer"):
            frames(ev, n_time_bins=[4])
        with pytest.raises(ConfigError, match="positive integer"):
            frames(ev, n_time_bins=0)
    assert cached.cache_info().currsize == 2

def test_fractional_windows_are_real_intervals():
    ev = Events(np.zeros(10, int), np.zeros(10, int), np.arange(10), np.ones(10, int), (1, 1))
    # [0, 2.5) [2.5, 5) [5, 7.5) [7.5, 10) hold t = 0-2, 3-4, 5-7, 8-9
    assert frames(ev, time_window=2.5)[:, 1, 0, 0].tolist() == [3, 2, 3, 2]
    assert frames(ev, n_time_bins=4)[:, 1, 0, 0].tolist() == [3, 2, 3, 2]
    assert frames(ev, n_event_bins=4)[:, 1, 0, 0].tolist() == [3, 2, 3, 2]
    # 3 windows of L = 10 / 2.5 = 4 with stride 3: [0, 4) [3, 7) [6, 10)
    assert frames(ev, n_time_bins=3, overlap=0.25)[:, 1, 0, 0].tolist() == [4, 4, 4]


def test_start_end_restrict_count_modes():
    ev = Events([0] * 6, [0] * 6, [0, 1, 2, 3, 4, 5], [1] * 6, (1, 1))
    assert frames(ev, event_count=2, start_time=1, end_time=5)[:, 1, 0, 0].tolist() == [2, 2]
    assert frames(ev, n_event_bins=2, start_time=2).sum() == 4


# ------------------------------------------------------------------------------------------
# polarity, dtypes, overflow


@given(ev=streams(min_size=1), n=st.integers(1, 5))
def test_polarity_modes(ev, n):
    split = frames(ev, n_time_bins=n, dtype=np.int32)
    np.testing.assert_array_equal(frames(ev, n_time_bins=n, polarity="merge", dtype=np.int32),
                                  split.sum(axis=1, keepdims=True))
    np.testing.assert_array_equal(frames(ev, n_time_bins=n, polarity="signed", dtype=np.int32),
                                  (split[:, 1] - split[:, 0])[:, None])


def one_pixel(n_on: int, n_off: int = 0) -> Events:
    n = n_on + n_off
    return Events(np.zeros(n, int), np.zeros(n, int), np.arange(n), [1] * n_on + [0] * n_off, (2, 2))


@pytest.mark.parametrize("dtype, limit", [(np.uint8, 255), (np.int8, 127), (np.int16, 32767),
                                          (np.uint16, 65535)])
def test_counts_saturate_or_raise(dtype, limit):
    ev = one_pixel(limit + 50)
    out = frames(ev, n_time_bins=1, dtype=dtype)
    assert out.dtype == dtype and out[0, 1, 0, 0] == limit and out.sum() == limit
    with pytest.raises(OverflowError, match=np.dtype(dtype).name):
        frames(ev, n_time_bins=1, dtype=dtype, on_overflow="raise")
    assert frames(one_pixel(limit), n_time_bins=1, dtype=dtype, on_overflow="raise").max() == limit


def test_signed_saturates_both_ways_without_wrapping():
    ev = one_pixel(300, 0)
    assert frames(ev, n_time_bins=1, polarity="signed", dtype=np.int8)[0, 0, 0, 0] == 127
    ev = one_pixel(0, 300)
    assert frames(ev, n_time_bins=1, polarity="signed", dtype=np.int8)[0, 0, 0, 0] == -128
    with pytest.raises(OverflowError):
        frames(ev, n_time_bins=1, polarity="signed", dtype=np.int8, on_overflow="raise")
    # ON and OFF cancel: the exact sum fits although each count alone does not
    ev = one_pixel(300, 300)
    assert frames(ev, n_time_bins=1, polarity="signed", dtype=np.int8,
                  on_overflow="raise")[0, 0, 0, 0] == 0
    with pytest.raises(ValueError, match="negative"):
        frames(ev, n_time_bins=1, polarity="signed", dtype=np.uint16)


def test_float_dtypes():
    ev = one_pixel(70000)
    f16 = frames(ev, n_time_bins=1, dtype=np.float16)
    assert f16.dtype == np.float16 and f16.max() == np.finfo(np.float16).max
    with pytest.raises(OverflowError):
        frames(ev, n_time_bins=1, dtype=np.float16, on_overflow="raise")
    f32 = frames(ev, n_time_bins=2, dtype=np.float32)
    assert f32.dtype == np.float32 and f32.sum() == 70000
    np.testing.assert_array_equal(frames(one_pixel(3000), n_time_bins=1, dtype=np.float16),
                                  np.float16(3000) * (np.arange(2) == 1)[None, :, None, None]
                                  * (np.arange(4).reshape(2, 2) == 0))


def test_uint16_saturates_or_raises_in_single_and_batch_paths():
    from eventcompress.kernels.packed import PackedEvents

    over = one_pixel(65_535 + 9, 4)  # ON count above uint16, OFF count 4
    exact = frames(over, n_time_bins=1, dtype=np.int64)
    expected = np.minimum(exact, 65_535).astype(np.uint16)
    assert exact.max() > 65_535 and expected.max() == 65_535
    cfg = FrameConfig(n_time_bins=1, dtype="uint16")
    assert cfg.batchable
    np.testing.assert_array_equal(frames(over, n_time_bins=1, dtype=np.uint16), expected)
    np.testing.assert_array_equal(cfg(over), expected)
    fits = one_pixel(65_535)
    out = np.zeros((2, *cfg.output_shape(over.sensor_size)), np.uint16)
    cfg.fill_batch(PackedEvents.pack([fits, over]), out)
    np.testing.assert_array_equal(out[1], expected)
    np.testing.assert_array_equal(out[0], frames(fits, n_time_bins=1, dtype=np.int64))
    strict = FrameConfig(n_time_bins=1, dtype="uint16", on_overflow="raise")
    with pytest.raises(OverflowError, match="uint16"):
        frames(over, n_time_bins=1, dtype=np.uint16, on_overflow="raise")
    with pytest.raises(OverflowError, match="uint16"):
        strict(over)
    with pytest.raises(OverflowError, match="uint16"):
        strict.fill_batch(PackedEvents.pack([fits, over]), out)
    assert strict(fits).max() == 65_535  # exactly the limit is no overflow


def test_wide_counts_do_not_wrap_like_tonic():
    ev = one_pixel(40000)
    assert frames(ev, n_time_bins=1, dtype=np.int32)[0, 1, 0, 0] == 40000
    assert frames(ev, n_time_bins=1)[0, 1, 0, 0] == 32767  # int16 saturates
    assert frames(ev, n_time_bins=1, edges="tonic")[0, 1, 0, 0] == 32767


# ------------------------------------------------------------------------------------------
# edge cases


def test_empty_input():
    ev = Events.empty((4, 3))
    assert frames(ev, n_time_bins=5).shape == (5, 2, 3, 4)
    assert frames(ev, n_event_bins=2, polarity="merge").shape == (2, 1, 3, 4)
    assert frames(ev, event_count=10).shape == (0, 2, 3, 4)
    out = frames(ev, time_window=10, start_time=0, end_time=35, include_incomplete=True)
    assert out.shape == (4, 2, 3, 4) and not out.any()
    with pytest.raises(ValueError, match="start_time and end_time"):
        frames(ev, time_window=10)


def test_single_event_and_single_timestamp():
    ev = Events([1], [2], [77], [0], (3, 3))
    out = frames(ev, n_time_bins=3)
    assert out.sum() == 1 and out[0, 0, 2, 1] == 1  # span 1 us: bins 1, 2 are empty
    same_t = Events([0, 1, 2], [0, 0, 0], [5, 5, 5], [1, 0, 1], (3, 1))
    assert frames(same_t, n_time_bins=4).sum() == 3
    assert frames(same_t, n_event_bins=3).sum(axis=(1, 2, 3)).tolist() == [1, 1, 1]


def test_one_by_one_sensor():
    ev = Events(np.zeros(10, int), np.zeros(10, int), np.arange(10), np.arange(10) % 2, (1, 1))
    out = frames(ev, n_time_bins=2)
    assert out.shape == (2, 2, 1, 1) and out[:, :, 0, 0].tolist() == [[3, 2], [2, 3]]
    assert frames(ev, time_window=4)[:, :, 0, 0].tolist() == [[2, 2], [2, 2], [1, 1]]
    assert frames(ev, event_count=4, polarity="merge")[:, 0, 0, 0].tolist() == [4, 4, 2]


def test_default_slicing_of_tiny_streams():
    """0 events, 1 event, one timestamp: every mode of the fixed grid, default arguments."""
    empty = Events.empty((2, 1))
    assert frames(empty, time_window=10, start_time=0, end_time=25).shape == (3, 2, 1, 2)
    assert frames(empty, event_count=3).shape == (0, 2, 1, 2)
    one = Events([1], [0], [-40], [1], (2, 1))
    same_t = Events([0, 1, 1], [0, 0, 0], [9, 9, 9], [1, 0, 1], (2, 1))
    for ev in (one, same_t):
        for kw in ({"time_window": 1}, {"time_window": 10**6}, {"event_count": 2},
                   {"event_count": 10}, {"n_time_bins": 3}, {"n_event_bins": 2}):
            out = frames(ev, **kw, dtype=np.int64)
            assert out.sum() == len(ev), kw
            assert out.sum(axis=(0, 1)).tolist() == frames(ev, n_time_bins=1)[0].sum(0).tolist()
    assert frames(one, time_window=1).shape[0] == 1
    assert frames(same_t, event_count=2).sum(axis=(1, 2, 3)).tolist() == [2, 1]


def test_int64_extremes():
    t = np.array([I64.min, -1, 0, I64.max - 1], dtype=np.int64)
    ev = Events([0, 1, 0, 1], [0, 0, 0, 0], t, [1, 1, 0, 0], (2, 1))
    out = frames(ev, n_time_bins=4, dtype=np.int64)
    assert out.sum() == 4 and out[0].sum() == 1 and out[3].sum() == 1
    out = frames(ev, time_window=2**62, include_incomplete=True)
    assert out.sum() == 4 and out.shape[0] == 4
    np.testing.assert_array_equal(frames(ev, time_window=2**62), out)  # the default keeps all
    assert frames(ev, event_count=3).sum() == 4
    assert frames(ev, time_window=2**62, include_incomplete=False).sum() == 3  # tail dropped
    top = Events([0], [0], [I64.max], [1], (1, 1))
    with pytest.raises(ValueError, match="2\\*\\*63-1"):
        frames(top, n_time_bins=2)


def test_coordinates_outside_sensor_raise():
    ev = Events([0, 5, 1], [0, 0, 0], [0, 1, 2], [1, 1, 0], (4, 4))
    for kw in ({"n_time_bins": 2}, {"n_time_bins": 2, "overlap": 0.5}, {"event_count": 1}):
        with pytest.raises(CoordinateRangeError, match="x=5"):
            frames(ev, **kw)
        with pytest.raises(CoordinateRangeError, match="x=5"):
            frames(ev[np.array([2, 1, 0])], **kw)  # unsorted: the other kernels
    with pytest.raises(CoordinateRangeError, match="x=5"):
        frames(ev, time_window=1, edges="tonic")


@pytest.mark.parametrize("kw, key, message", [
    ({}, None, "give exactly one of time_window, event_count, n_time_bins, n_event_bins; got none"),
    ({"n_time_bins": 2, "event_count": 3}, "n_time_bins",
     "give exactly one of time_window, event_count, n_time_bins, n_event_bins; got "
     "['event_count', 'n_time_bins']"),
    ({"n_time_bins": 0}, "n_time_bins", "must be a positive integer, got 0"),
    ({"time_window": -5}, "time_window", "must be a positive number of microseconds, got -5"),
    ({"n_time_bins": 2, "overlap": 1.0}, "overlap",
     "for n_time_bins is a fraction of a bin in [0, 1), got 1.0"),
    ({"time_window": 10, "overlap": 10}, "overlap",
     "for time_window must be in [0, time_window=10), got 10.0"),
    ({"event_count": 5, "overlap": 1.5}, "overlap", "for event_count is a number of events, got 1.5"),
    ({"n_time_bins": 2, "include_incomplete": True}, "include_incomplete",
     "applies to time_window and event_count, not n_time_bins"),
    ({"n_time_bins": 2, "polarity": "both"}, "polarity",
     "must be one of 'split', 'merge', 'signed', got 'both'"),
    ({"n_time_bins": 2, "dtype": np.complex64}, "dtype",
     "must be one of ['uint8', 'uint16', 'uint32', 'int8', 'int16', 'int32', 'int64', 'float16', "
     "'float32', 'float64'], got <class 'numpy.complex64'>"),
    ({"n_time_bins": 2, "on_overflow": "wrap"}, "on_overflow",
     "must be one of 'saturate', 'raise', got 'wrap'"),
    ({"n_time_bins": 2, "edges": "grid"}, "edges",
     "must be 'fixed', 'tonic' or 'spikingjelly', got 'grid'"),
    ({"event_count": 2, "edges": "spikingjelly"}, "edges",
     "edges='spikingjelly' takes n_time_bins (split by time) or n_event_bins (split by number), "
     "not event_count"),
    ({"n_time_bins": 2, "edges": "tonic", "start_time": 0}, "start_time",
     "tonic uses start_time/end_time only with time_window"),
])
def test_bad_arguments(kw, key, message):
    """frames is FrameConfig(...)(events): one validation, the field named."""
    for make in (lambda: frames(one_pixel(3), **kw), lambda: FrameConfig(**kw)):
        with pytest.raises(ConfigError) as info:
            make()
        assert info.value.key == key
        where = f"[{key}] " if key else ""
        assert str(info.value) == f"FrameConfig: {where}{message}"


# ------------------------------------------------------------------------------------------
# SpikingJelly


def spikingjelly_reference(ev: Events, m: int, split_by: str) -> np.ndarray:
    """SpikingJelly's documented rule, written directly from its formula (argmin/argmax over
    masks); every time window must hold an event, as SpikingJelly requires."""
    t, n = ev.t, len(ev)
    j_l, j_r = np.zeros(m, int), np.zeros(m, int)
    if split_by == "number":
        di = n // m
        for i in range(m):
            j_l[i], j_r[i] = i * di, i * di + di
    else:
        dt = (t[-1] - t[0]) // m
        idx = np.arange(n)
        for i in range(m):
            mask = (t >= t[0] + dt * i) & (t < t[0] + dt * (i + 1))
            j_l[i], j_r[i] = idx[mask][0], idx[mask][-1] + 1
    j_r[-1] = n
    w, h = ev.sensor_size
    out = np.zeros((m, 2, h * w))
    for i in range(m):
        pos = ev.y[j_l[i]:j_r[i]].astype(int) * w + ev.x[j_l[i]:j_r[i]]
        on = ev.p[j_l[i]:j_r[i]] != 0
        for c, sel in enumerate((~on, on)):
            counts = np.bincount(pos[sel])
            out[i, c, :counts.size] += counts
    return out.reshape(m, 2, h, w)


@given(ev=streams(min_size=1), m=st.integers(1, 8))
def test_spikingjelly_number(ev, m):
    expected = spikingjelly_reference(ev, m, "number")
    got = frames_spikingjelly(ev, m, "number")
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(frames(ev, n_event_bins=m, edges="spikingjelly",
                                         dtype=np.float32), expected)


@given(ev=streams(min_size=1, t_span=3000), m=st.integers(1, 6))
def test_spikingjelly_time(ev, m):
    dt = (int(ev.t[-1]) - int(ev.t[0])) // m
    counts = [np.sum((ev.t >= ev.t[0] + dt * i) & (ev.t < ev.t[0] + dt * (i + 1)))
              for i in range(m)]
    assume(min(counts) > 0)  # SpikingJelly itself fails on empty windows
    expected = spikingjelly_reference(ev, m, "time")
    np.testing.assert_array_equal(frames_spikingjelly(ev, m, "time"), expected)
    np.testing.assert_array_equal(frames(ev, n_time_bins=m, edges="spikingjelly",
                                         dtype=np.float64), expected)


def test_spikingjelly_time_empty_windows_and_unsorted():
    ev = Events([0, 0, 0], [0, 0, 0], [0, 1, 100], [1, 1, 1], (1, 1))
    out = frames_spikingjelly(ev, 4, "time")  # dt = 25: windows 1 and 2 are empty
    assert out[:, 1, 0, 0].tolist() == [2, 0, 0, 1]
    with pytest.raises(TimestampOrderError):
        frames_spikingjelly(ev[np.array([2, 0, 1])], 4, "time")
    assert frames_spikingjelly(Events.empty((2, 2)), 3, "time").shape == (3, 2, 2, 2)


# ------------------------------------------------------------------------------------------
# FrameConfig


def test_frame_config_call_shape_dtype():
    ev = one_pixel(20)
    cfg = FrameConfig(n_time_bins=3, dtype=np.uint8, polarity="merge")
    out = cfg(ev)
    np.testing.assert_array_equal(out, frames(ev, n_time_bins=3, dtype=np.uint8, polarity="merge"))
    assert out.shape == cfg.output_shape(ev.sensor_size) and out.dtype == cfg.output_dtype
    cfg = FrameConfig(time_window=10, start_time=0, end_time=35, include_incomplete=True)
    assert cfg(ev).shape == cfg.output_shape(ev.sensor_size) == (4, 2, 2, 2)
    with pytest.raises(ConfigError, match="depends on the recording"):
        FrameConfig(event_count=5).output_shape((2, 2))
    with pytest.raises(ConfigError):
        FrameConfig(n_time_bins=3, event_count=2)
    with pytest.raises(ConfigError):
        FrameConfig(n_time_bins=3, dtype="complex64")


def test_frame_config_normalises_equal_settings():
    a = FrameConfig(time_window=1000, overlap=0, dtype=np.int16)
    b = FrameConfig(time_window=1000.0, overlap=0.0, dtype="int16")
    assert a == b and hash(a) == hash(b) and a.sha256() == b.sha256()
    assert FrameConfig(n_time_bins=3).sha256() != FrameConfig(n_time_bins=3, edges="tonic").sha256()


def test_frame_config_hash_is_stable_across_processes():
    cfg = FrameConfig(n_time_bins=7, overlap=0.25, dtype=np.float32, polarity="signed")
    code = (
        "import numpy as np; from eventcompress.kernels.representations import FrameConfig; "
        "c = FrameConfig(n_time_bins=7, overlap=0.25, dtype=np.float32, polarity='signed'); "
        "print(c.canonical_json()); print(c.sha256())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    text, digest = out.stdout.split()
    assert text == cfg.canonical_json() and digest == cfg.sha256()
    assert json.loads(text)["type"] == "FrameConfig"


# -- fill_batch: a whole packed chunk in one kernel call -------------------------------------

_BATCH_MODES = [
    {"n_time_bins": 3}, {"n_time_bins": 4, "start_time": -500, "end_time": 700},
    {"n_time_bins": 3, "start_time": -200}, {"n_time_bins": 3, "end_time": 300},
    {"n_time_bins": 3, "overlap": 0.5, "start_time": -300, "end_time": 500},
    {"time_window": 150, "start_time": -300, "end_time": 500},
    {"time_window": 150.5, "overlap": 50, "start_time": -300, "end_time": 500,
     "include_incomplete": True},
    {"n_event_bins": 4}, {"n_event_bins": 2, "start_time": -100, "end_time": 200},
    {"n_time_bins": 3, "edges": "spikingjelly"}, {"n_event_bins": 3, "edges": "spikingjelly"},
    # not batchable: computed sample by sample
    {"n_time_bins": 3, "edges": "tonic"}, {"n_event_bins": 3, "overlap": 0.25},
    {"n_time_bins": 3, "dtype": "float16"},
]




@given(chunk=stream_chunks(300, 1000, 800), mode=st.sampled_from(_BATCH_MODES),
       polarity=st.sampled_from(["split", "merge", "signed"]),
       dtype=st.sampled_from(["int16", "int8", "uint8", "float32", "int64"]),
       on_overflow=st.sampled_from(["saturate", "raise"]))
def test_fill_batch_is_bit_identical_to_frames(chunk, mode, polarity, dtype, on_overflow):
    from eventcompress.kernels.packed import PackedEvents

    mode = {"dtype": dtype, **mode}
    assume(not (polarity == "signed" and mode["dtype"].startswith("u")))
    cfg = FrameConfig(**mode, polarity=polarity, on_overflow=on_overflow)
    kw = {k: v for k, v in cfg.to_dict().items() if k not in ("type", "version")}
    expected = []
    for ev in chunk:
        try:
            expected.append(frames(ev, **kw))
        except (ValueError, OverflowError, TimestampOrderError) as exc:
            expected.append(type(exc))
    out = np.zeros((len(chunk), *cfg.output_shape(chunk[0].sensor_size)), cfg.output_dtype)
    failing = [e for e in expected if isinstance(e, type)]
    if failing:
        with pytest.raises(failing[0]):
            cfg.fill_batch(PackedEvents.pack(chunk), out)
        return
    cfg.fill_batch(PackedEvents.pack(chunk), out)
    for k, ev in enumerate(chunk):
        assert np.array_equal(out[k], expected[k]) and out[k].dtype == expected[k].dtype
        assert np.array_equal(cfg(ev), expected[k])


def test_batchable_modes():
    assert FrameConfig(n_time_bins=8).batchable
    assert FrameConfig(time_window=10.0, start_time=0, end_time=100).batchable
    assert not FrameConfig(n_time_bins=8, edges="tonic").batchable
    assert not FrameConfig(n_time_bins=8, overlap=0.5).batchable
