"""The frame-counting kernels against an event-by-event reference: saturation is tested only
where it can happen (room tracking, rescans), so every path must still give the counts, the
overflow count and the first overflowing cell of testing every event."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from eventcompress.kernels._binning import (
    MERGE,
    SIGNED,
    SPLIT,
    accumulate_ranges,
    accumulate_windows,
    first_decrease,
)


def reference_ranges(x, y, p, lo, hi, shape, mode, cap):
    """Event by event, frame by frame: ``(counts, n_over, first_over)`` or ``("bad", i)``."""
    n_frames, n_ch, height, width = shape
    acc = np.zeros(n_frames * n_ch * height * width, np.int64)
    n_over, first_over = 0, -1
    for k in range(n_frames):
        for i in range(max(lo[k], 0), min(hi[k], len(x))):
            if x[i] >= width or y[i] >= height:
                return "bad", i
            on = p[i] != 0
            cell = (k * n_ch + (1 if mode == SPLIT and on else 0)) * height * width \
                + y[i] * width + x[i]
            if mode == SIGNED:
                acc[cell] += 1 if on else -1
            elif acc[cell] < cap:
                acc[cell] += 1
            else:
                n_over += 1
                first_over = cell if first_over < 0 else first_over
    return acc.reshape(shape), n_over, first_over


@st.composite
def counting_cases(draw):
    width, height = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    n = draw(st.integers(0, 400))
    n = max(n, draw(st.integers(0, 400)))
    # Few distinct pixels make cells reach small caps; an occasional coordinate just outside
    # the sensor checks the error index.
    hot = draw(st.booleans())
    ints = st.lists(st.integers(0, 10**6), min_size=n, max_size=n)
    x = np.array(draw(ints), np.int64) % (1 if hot else width)
    y = np.array(draw(ints), np.int64) % (1 if hot else height)
    if n and draw(st.integers(0, 9)) == 0:
        i = draw(st.integers(0, n - 1))
        x[i] = width
    p = np.array(draw(ints), np.int64) % 2
    n_frames = draw(st.integers(1, 4))
    # Mostly long ranges, so that cells pass the cap; some empty, reversed or clipped ones.
    lo = np.array([draw(st.integers(-3, n // 4)) for _ in range(n_frames)], np.int64)
    hi = np.array([draw(st.integers(-3, n + 3)) if draw(st.integers(0, 4)) == 0 else n
                   for _ in range(n_frames)], np.int64)
    mode = draw(st.sampled_from([SPLIT, MERGE, SIGNED]))
    cap = draw(st.integers(1, 40))
    shape = (n_frames, 2 if mode == SPLIT else 1, height, width)
    return x.astype(np.uint16), y.astype(np.uint16), p.astype(np.uint8), lo, hi, shape, mode, cap


@given(counting_cases())
def test_accumulate_ranges_matches_event_by_event_saturation(case):
    x, y, p, lo, hi, shape, mode, cap = case
    want = reference_ranges(x, y, p, lo, hi, shape, mode, cap)
    acc = np.zeros(shape, np.int64)
    bad, n_over, first_over, n_outside = accumulate_ranges(x, y, p, lo, hi, acc, mode, cap)
    if isinstance(want[0], str):
        assert bad == want[1]
        return
    assert bad == -1 and n_outside == 0
    assert np.array_equal(acc, want[0])
    assert (n_over, first_over) == want[1:]


@given(counting_cases())
def test_accumulate_windows_matches_the_reference(case):
    x, y, p, _, _, shape, mode, cap = case
    n_frames = shape[0]
    t = np.arange(len(x), dtype=np.int64) // 3  # sorted, with repeats
    edges = np.linspace(-1, len(x) // 3 + 1, n_frames + 1).astype(np.int64)
    lo_i, hi_i = np.searchsorted(t, edges[:-1]), np.searchsorted(t, edges[1:])
    want = reference_ranges(x, y, p, lo_i, hi_i, shape, mode, cap)
    acc = np.zeros(shape, np.int64)
    got = accumulate_windows(x, y, t, p, edges[:-1], edges[1:], acc, mode, cap)
    if isinstance(want[0], str):
        assert got[0] == want[1]
        return
    assert got[0] == -1 and np.array_equal(acc, want[0])
    assert got[1:3] == want[1:]


def test_real_dtype_caps_through_rescans_and_saturation():
    # int16: a frame of 100k spread events needs rescans, a hot pixel then saturates;
    # uint8: the room is too small from the start, so the frame counts with the test.
    rng = np.random.default_rng(5)
    n = 150_000
    x = rng.integers(0, 64, n).astype(np.uint16)
    y = rng.integers(0, 32, n).astype(np.uint16)
    hot = np.zeros(n, bool)
    hot[40_000:] = rng.random(n - 40_000) < 0.6  # about 42,000 hits in frame 0
    x[hot], y[hot] = 7, 3
    p = np.ones(n, np.uint8)
    lo, hi = np.array([0, 110_000], np.int64), np.array([110_000, n], np.int64)
    for dtype in (np.int16, np.uint8, np.int8, np.uint16):
        cap = int(np.iinfo(dtype).max)
        shape = (2, 2, 32, 64)
        acc = np.zeros(shape, dtype)
        bad, n_over, first_over, _ = accumulate_ranges(x, y, p, lo, hi, acc, SPLIT, cap)
        exact = np.zeros(shape, np.int64)
        for k in range(2):
            np.add.at(exact[k, 1], (y[lo[k]:hi[k]], x[lo[k]:hi[k]]), 1)
        assert bad == -1
        assert np.array_equal(acc, np.minimum(exact, cap)), dtype
        assert n_over == int(np.maximum(exact - cap, 0).sum())
        # The first event that finds its cell full, in frame order.
        seen = np.zeros(exact.size, np.int64)
        first = -1
        for k in range(2):
            cells = (k * 2 + 1) * 32 * 64 + y[lo[k]:hi[k]].astype(np.int64) * 64 + x[lo[k]:hi[k]]
            for c in cells:
                if seen[c] >= cap:
                    first = int(c)
                    break
                seen[c] += 1
            if first >= 0:
                break
        assert first_over == first, dtype
        assert (n_over > 0) == (cap < 40_000)  # the hot cell takes about 42,000 events


def test_one_hot_cell_saturates_at_a_small_cap():
    x = np.zeros(100, np.uint16)
    acc = np.zeros((1, 1, 4, 4), np.int64)
    got = accumulate_ranges(x, x, np.ones(100, np.uint8), np.array([0]), np.array([100]), acc,
                            MERGE, 10)
    assert got == (-1, 90, 0, 0)
    assert acc[0, 0, 0, 0] == 10 and acc.sum() == 10


@given(st.lists(st.integers(-5, 5), max_size=9000), st.integers(0, 9000))
def test_first_decrease_across_blocks(steps, where):
    t = np.cumsum(np.abs(np.array(steps, np.int64)))
    if len(t) > 1:
        where = 1 + where % (len(t) - 1)
        t[where:] -= 1 + t[where] - t[where - 1]  # the first decrease is at `where`
    expected = next((i for i in range(1, len(t)) if t[i] < t[i - 1]), -1)
    assert first_decrease(t) == expected
