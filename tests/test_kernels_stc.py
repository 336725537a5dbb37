"""Spatio-temporal compression: NumPy references (continuous, quantised, carry), convergence of
the quantised form, reductions to counts, normalisation, edge cases, STCConfig."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from io_strategies import stream_chunks

from eventcompress.errors import ConfigError, CoordinateRangeError
from eventcompress.events import Events
from eventcompress.kernels.frames import frames
from eventcompress.kernels.representations import STCConfig
from eventcompress.kernels.stc import compress_events

I64 = np.iinfo(np.int64)


@st.composite
def streams(draw, min_size=0, max_size=150, t_span=5000):
    w, h = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    n = draw(st.integers(min_size, max_size))
    ints = st.lists(st.integers(0, 10**6), min_size=n, max_size=n)
    span = draw(st.integers(0, t_span))
    t0 = draw(st.integers(-10**6, 10**6))
    arr = [np.array(draw(ints), dtype=np.int64) for _ in range(4)]
    t = np.sort(t0 + arr[2] % (span + 1))
    return Events(arr[0] % w, arr[1] % h, t, arr[3] % 2, (w, h))


def windows(ev: Events, steps: int, edges: str, start=None, end=None):
    """Documented windows: index ranges [lo, hi), begins b_k and ends e_k."""
    t0 = int(ev.t[0]) if start is None else start
    t1 = int(ev.t[-1]) + 1 if end is None else end
    m = (ev.t >= t0) & (ev.t < t1)
    t = ev.t[m]
    n = len(t)
    if edges == "fixed":
        b = [t0 + math.ceil(Fraction(k * (t1 - t0), steps)) for k in range(steps + 1)]
        lo = [int(np.sum(t < b[k])) for k in range(steps)]
        hi = [int(np.sum(t < b[k + 1])) for k in range(steps)]
        return m, lo, hi, b[:-1], b[1:]
    per = n // steps
    lo = [k * per for k in range(steps)]
    hi = [k * per + per for k in range(steps)]
    hi[-1] = n
    ends = [int(t[hi[k]]) if hi[k] < n else t1 for k in range(steps)]
    return m, lo, hi, [t0, *ends[:-1]], ends


def reference(ev: Events, steps: int, tau: float, edges="fixed", fine=None, carry=False,
              start=None, end=None) -> np.ndarray:
    """Straight from the equations, in float64 (fine frames built explicitly)."""
    w, h = ev.sensor_size
    out = np.zeros((steps, 2, h, w))
    if len(ev) == 0:
        return out
    m, lo, hi, begins, ends = windows(ev, steps, edges, start, end)
    x, y, t, p = ev.x[m], ev.y[m], ev.t[m], ev.p[m].astype(int)
    for k in range(steps):
        sl = slice(lo[k], hi[k])
        if fine is None:
            wts = np.exp(-(ends[k] - t[sl]).astype(np.float64) / tau)
            np.add.at(out[k], (p[sl], y[sl], x[sl]), wts)
        else:
            length = ends[k] - begins[k]
            j = np.array([min((int(ti) - begins[k]) * fine // length, fine - 1) if length
                          else fine - 1 for ti in t[sl]], dtype=int)
            fine_frames = np.zeros((fine, 2, h, w))
            np.add.at(fine_frames, (j, p[sl], y[sl], x[sl]), 1.0)
            lam = math.exp(-(length / fine) / tau)
            for jj in range(fine):
                out[k] += lam ** (fine - 1 - jj) * fine_frames[jj]
        if carry and k:
            out[k] += math.exp(-(ends[k] - ends[k - 1]) / tau) * out[k - 1]
    return out


def close(a, b):
    np.testing.assert_allclose(a, b, rtol=2e-6, atol=1e-6)


@given(ev=streams(min_size=1), steps=st.integers(1, 6), tau=st.floats(10, 1e5),
       edges=st.sampled_from(["fixed", "count"]), carry=st.booleans())
def test_continuous_matches_reference(ev, steps, tau, edges, carry):
    got = compress_events(ev, steps, tau_s=tau, edges=edges, carry=carry)
    assert got.dtype == np.float32 and got.shape == (steps, 2, *ev.sensor_size[::-1])
    close(got, reference(ev, steps, tau, edges, carry=carry))


@given(ev=streams(min_size=1), steps=st.integers(1, 5), tau=st.floats(10, 1e5),
       fine=st.integers(1, 12), edges=st.sampled_from(["fixed", "count"]), carry=st.booleans())
def test_quantised_matches_reference(ev, steps, tau, fine, edges, carry):
    got = compress_events(ev, steps, tau_s=tau, edges=edges, fine_bins=fine, carry=carry)
    close(got, reference(ev, steps, tau, edges, fine=fine, carry=carry))


@given(ev=streams(min_size=1), steps=st.integers(1, 5), pad=st.integers(0, 500))
def test_explicit_range(ev, steps, pad):
    start, end = int(ev.t[0]) + pad // 3, int(ev.t[-1]) + 1 + pad
    for edges in ("fixed", "count"):
        got = compress_events(ev, steps, tau_s=300.0, edges=edges, start_time=start, end_time=end)
        close(got, reference(ev, steps, 300.0, edges, start=start, end=end))


@given(ev=streams(min_size=1), steps=st.integers(1, 5), tau=st.floats(50, 5000))
def test_carry_is_a_synapse_sampled_at_window_ends(ev, steps, tau):
    """With carry, I_k = sum over every earlier event of exp(-(e_k - t) / tau) (fixed edges)."""
    got = compress_events(ev, steps, tau_s=tau, carry=True)
    _, _, _, _, ends = windows(ev, steps, "fixed")
    w, h = ev.sensor_size
    expected = np.zeros((steps, 2, h, w))
    for k, e in enumerate(ends):
        m = ev.t < e
        np.add.at(expected[k], (ev.p[m].astype(int), ev.y[m], ev.x[m]),
                  np.exp(-(e - ev.t[m]) / tau))
    close(got, expected)


def test_quantised_converges_to_continuous_within_bound():
    rng = np.random.default_rng(5)
    n, tau, steps = 4000, 2000.0, 4
    ev = Events(rng.integers(0, 6, n), rng.integers(0, 5, n), np.sort(rng.integers(0, 40000, n)),
                rng.integers(0, 2, n), (6, 5))
    exact = compress_events(ev, steps, tau_s=tau).astype(np.float64)
    window = (int(ev.t[-1]) + 1 - int(ev.t[0])) / steps  # 10,000 us
    errors = []
    for m in (1, 2, 4, 8, 16, 64, 256, 1024):
        q = compress_events(ev, steps, tau_s=tau, fine_bins=m).astype(np.float64)
        # An event in fine bin j is weighted as if at the bin's end: never lighter, and at most
        # exp(dt / tau) times heavier, dt = window / M (windows here differ by < 1 us).
        dt = math.ceil(window) / m
        assert np.all(q >= exact * (1 - 1e-6) - 1e-6)
        assert np.all(q <= exact * math.exp(dt / tau) * (1 + 1e-6) + 1e-6)
        errors.append(np.abs(q - exact).max())
    assert all(b < a for a, b in zip(errors, errors[1:]))
    assert errors[-1] < 1e-2 * exact.max()


@given(ev=streams(), steps=st.integers(1, 6), fine=st.one_of(st.none(), st.integers(1, 9)),
       edges=st.sampled_from(["fixed", "count"]))
def test_infinite_tau_gives_counts(ev, steps, fine, edges):
    got = compress_events(ev, steps, fine_bins=fine, edges=edges)
    if edges == "fixed":
        expected = frames(ev, n_time_bins=steps, dtype=np.float32)
    else:
        n = len(ev)
        w, h = ev.sensor_size
        expected = np.zeros((steps, 2, h, w), np.float32)
        per = n // steps
        for k in range(steps):
            sl = slice(k * per, n if k == steps - 1 else k * per + per)
            np.add.at(expected[k], (ev.p[sl].astype(int), ev.y[sl], ev.x[sl]), 1)
    np.testing.assert_array_equal(got, expected)
    assert got.sum() == len(ev)
    cumulative = compress_events(ev, steps, fine_bins=fine, edges=edges, carry=True)
    np.testing.assert_array_equal(cumulative, np.cumsum(expected, axis=0))


def test_later_events_weigh_more():
    t = np.array([0, 100, 200, 300, 999])
    ev = Events(np.arange(5), np.zeros(5, int), t, np.ones(5, int), (5, 1))
    row = compress_events(ev, 1, tau_s=500.0)[0, 1, 0]
    assert np.all(np.diff(row) > 0) and row[-1] == pytest.approx(math.exp(-1 / 500), rel=1e-6)
    row = compress_events(ev, 1, tau_s=500.0, fine_bins=10)[0, 1, 0]  # fine bins of 100 us
    assert np.all(np.diff(row) > 0) and row[-1] == 1.0
    np.testing.assert_allclose(compress_events(ev, 1, tau_s=500.0)[0, 1, 0],
                               np.exp(-(1000 - t) / 500.0), rtol=1e-6)


@given(ev=streams(), y0=st.integers(0, 3), on=st.booleans(), frac=st.floats(0, 1),
       later=st.floats(0, 1), steps=st.integers(1, 5), tau=st.floats(10, 1e6),
       fine=st.one_of(st.none(), st.integers(1, 8)), carry=st.booleans(),
       pad=st.tuples(st.integers(0, 300), st.integers(0, 300)))
def test_moving_an_event_later_in_its_window_never_lowers_its_pixel(ev, y0, on, frac, later,
                                                                     steps, tau, fine, carry,
                                                                     pad):
    """Monotonic weights: the event sits alone at pixel (W, y0) of a widened sensor; moving it
    later within its (fixed) window raises or keeps its value and changes no other pixel."""
    w, h = ev.sensor_size
    y0 = y0 % h
    lo = (int(ev.t[0]) if len(ev) else 0) - pad[0]
    hi = (int(ev.t[-1]) + 1 if len(ev) else 1) + pad[1]
    t_a = lo + int(frac * (hi - lo - 1))
    k = (t_a - lo) * steps // (hi - lo)
    window_end = lo + math.ceil(Fraction((k + 1) * (hi - lo), steps))
    t_b = t_a + int(later * (window_end - 1 - t_a))
    assert t_a <= t_b < window_end

    def with_event(t_event):
        return Events(np.append(ev.x, w), np.append(ev.y, y0), np.append(ev.t, t_event),
                      np.append(ev.p, int(on)), (w + 1, h))

    kw = {"tau_s": tau, "fine_bins": fine, "carry": carry, "start_time": lo, "end_time": hi}
    before = compress_events(with_event(t_a), steps, **kw)
    after = compress_events(with_event(t_b), steps, **kw)
    column = (slice(None), int(on), y0, w)
    assert np.all(after[column] >= before[column])
    # it lies in window k (its weight only underflows float32 beyond ~87 tau)
    assert before[k][column[1:]] > 0 or window_end - t_a > 80 * tau
    others = np.ones(before.shape, bool)
    others[column] = False
    np.testing.assert_array_equal(after[others], before[others])
    if not carry:
        assert not np.delete(after[column], k).any()


@given(data=st.data(), n=st.integers(2, 40), span=st.integers(1, 20_000), steps=st.integers(1, 4),
       tau=st.floats(10, 1e6), fine=st.one_of(st.none(), st.integers(1, 8)))
def test_earlier_events_in_a_window_weigh_less(data, n, span, steps, tau, fine):
    """One event per pixel (x = its index): within a window, value order follows time order."""
    t = np.sort(np.array(data.draw(st.lists(st.integers(0, span), min_size=n, max_size=n))))
    ev = Events(np.arange(n), np.zeros(n, int), t, np.ones(n, int), (n, 1))
    out = compress_events(ev, steps, tau_s=tau, fine_bins=fine)[:, 1, 0, :]
    lo, hi = int(t[0]), int(t[-1]) + 1
    window = (t - lo) * steps // (hi - lo)
    value = out[window, np.arange(n)]
    assert np.all((value > 0) | (hi - t > 80 * tau))  # each event is in the computed window
    for i in range(n - 1):
        if window[i] == window[i + 1]:
            assert value[i] <= value[i + 1]
            if fine is None and t[i] < t[i + 1] and value[i + 1] > 1e-30:
                assert value[i] < value[i + 1]


@given(ev=streams(), steps=st.integers(1, 6), edges=st.sampled_from(["fixed", "count"]),
       fine=st.one_of(st.none(), st.integers(1, 6)),
       start=st.one_of(st.none(), st.integers(-300, 5300)),
       end=st.one_of(st.none(), st.integers(-300, 5300)),
       polarity=st.sampled_from(["split", "merge"]))
def test_infinite_tau_conserves_the_events_in_range(ev, steps, edges, fine, start, end,
                                                    polarity):
    """tau = inf: the STC tensor sums to the number of events in [start, end) (the bounds are
    drawn relative to the first event, so that they cut the stream)."""
    n = len(ev)
    base = int(ev.t[0]) if n else 0
    start = None if start is None else base + start
    end = None if end is None else base + end
    lo = start if start is not None else int(ev.t[0]) if n else 0
    hi = end if end is not None else int(ev.t[-1]) + 1 if n else 1
    assume((n == 0 and (start is None or end is None)) or hi > lo)
    got = compress_events(ev, steps, edges=edges, fine_bins=fine, start_time=start,
                          end_time=end, polarity=polarity)
    expected = np.count_nonzero((ev.t >= lo) & (ev.t < hi)) if n else 0
    assert got.sum(dtype=np.float64) == expected
    assert np.all(got == np.round(got))  # plain counts


@given(ev=streams(min_size=1), steps=st.integers(1, 4))
def test_polarity_modes(ev, steps):
    split = compress_events(ev, steps, tau_s=700.0).astype(np.float64)
    # merge and signed are computed in float64 and rounded once; the split channels here were
    # each rounded to float32, so their sum or difference carries up to an ulp of the larger
    # (more than ``close`` allows where ON and OFF nearly cancel).
    tol = {"rtol": 2e-6, "atol": 1e-6 + 2 * np.finfo(np.float32).eps * np.abs(split).max()}
    np.testing.assert_allclose(compress_events(ev, steps, tau_s=700.0, polarity="merge"),
                               split.sum(axis=1, keepdims=True), **tol)
    np.testing.assert_allclose(compress_events(ev, steps, tau_s=700.0, polarity="signed"),
                               (split[:, 1] - split[:, 0])[:, None], **tol)


@given(ev=streams(min_size=1), steps=st.integers(1, 4))
def test_normalisation(ev, steps):
    raw = reference(ev, steps, 400.0)
    close(compress_events(ev, steps, tau_s=400.0, normalize="max"), raw / raw.max())
    z = compress_events(ev, steps, tau_s=400.0, normalize="mean-std").astype(np.float64)
    sd = raw.std()
    close(z, (raw - raw.mean()) / sd if sd > 0 else raw - raw.mean())


def test_unsorted_stream_is_sorted_first():
    rng = np.random.default_rng(1)
    n = 500
    ev = Events(rng.integers(0, 4, n), rng.integers(0, 4, n), np.sort(rng.integers(0, 9000, n)),
                rng.integers(0, 2, n), (4, 4))
    perm = rng.permutation(n)
    for kw in ({"tau_s": 800.0}, {"tau_s": 800.0, "fine_bins": 5}, {"edges": "count"}):
        close(compress_events(ev[perm], 3, **kw), compress_events(ev, 3, **kw))


def test_edge_cases():
    empty = Events.empty((3, 2))
    for norm in ("none", "max", "mean-std"):
        out = compress_events(empty, 4, tau_s=10.0, normalize=norm)
        assert out.shape == (4, 2, 2, 3) and not out.any()
    assert compress_events(empty, 2, edges="count", start_time=0, end_time=10).shape == (2, 2, 2, 3)
    one = Events([0], [0], [123], [1], (1, 1))
    out = compress_events(one, 3, tau_s=10.0, fine_bins=4)
    # span of 1 us: windows 1 and 2 have length 0; the event is in fine bin 0 of window 0
    np.testing.assert_allclose(out[:, :, 0, 0], [[0, math.exp(-3 * 0.25 / 10)], [0, 0], [0, 0]],
                               rtol=1e-6)
    same = Events([0, 0, 0], [0, 0, 0], [5, 5, 5], [1, 0, 1], (1, 1))
    close(compress_events(same, 1, tau_s=2.0)[0, :, 0, 0], [math.exp(-0.5), 2 * math.exp(-0.5)])
    counted = compress_events(same, 3, tau_s=2.0, edges="count")
    # e_0 = e_1 = 5 (the next window's first event), e_2 = t1 = 6
    np.testing.assert_allclose(counted[:, :, 0, 0], [[0, 1], [1, 0], [0, math.exp(-0.5)]],
                               rtol=1e-6)


def test_timestamps_near_int64_extremes():
    big = Events([0, 1, 0], [0, 0, 0], [I64.max - 3000, I64.max - 1000, I64.max - 2], [1, 0, 1],
                 (2, 1))
    close(compress_events(big, 2, tau_s=1000.0), reference(big, 2, 1000.0))
    close(compress_events(big, 2, tau_s=1000.0, fine_bins=8), reference(big, 2, 1000.0, fine=8))
    low = Events([0, 0], [0, 0], [I64.min, I64.min + 10], [1, 1], (1, 1))
    close(compress_events(low, 1, tau_s=5.0), reference(low, 1, 5.0))
    with pytest.raises(ValueError, match="fit int64"):
        compress_events(Events([0, 0], [0, 0], [I64.min, 10], [1, 1], (1, 1)), 2)
    top = Events([0, 0], [0, 0], [I64.max - 1, I64.max], [1, 1], (1, 1))
    with pytest.raises(ValueError, match="2\\*\\*63-1"):  # no room for the default end
        compress_events(top, 2, tau_s=10.0)
    # an explicit end below the last event leaves it out; the range stays exact
    close(compress_events(top, 1, tau_s=10.0, start_time=I64.max - 1, end_time=I64.max),
          np.array([[[[0.0]], [[math.exp(-0.1)]]]]))
    assert compress_events(Events([0], [0], [I64.min], [1], (1, 1)), 3).sum() == 1
    # (t - b) * M would overflow int64 here; fine-bin edges are computed exactly in Python
    wide = Events([0, 0, 0], [0, 0, 0], [0, 2**61, 2**62 + 5], [1, 1, 0], (1, 1))
    close(compress_events(wide, 1, tau_s=2.0**60, fine_bins=8),
          reference(wide, 1, 2.0**60, fine=8))


def test_long_windows_use_exact_exponentials():
    """Windows longer than the weight tables fall back to one exp per event."""
    t = np.array([0, 2**31, 2**32, 2**33])
    ev = Events([0, 0, 0, 0], [0, 0, 0, 0], t, [1, 1, 1, 1], (1, 1))
    close(compress_events(ev, 1, tau_s=2.0**32), reference(ev, 1, 2.0**32))


@pytest.mark.parametrize("kw, key, message", [
    ({"steps": 0}, "steps", "must be a positive integer, got 0"),
    ({"tau_s": 0.0}, "tau_s", "must be > 0 (math.inf for plain counts), got 0.0"),
    ({"tau_s": -1.0}, "tau_s", "must be > 0 (math.inf for plain counts), got -1.0"),
    ({"tau_s": math.nan}, "tau_s", "must be > 0 (math.inf for plain counts), got nan"),
    ({"tau_s": "5"}, "tau_s", "must be a number of microseconds, got '5'"),
    ({"edges": "time"}, "edges", "must be one of 'fixed', 'count', got 'time'"),
    ({"fine_bins": 0}, "fine_bins", "must be a positive integer or None, got 0"),
    ({"normalize": "l2"}, "normalize", "must be one of 'none', 'max', 'mean-std', got 'l2'"),
    ({"polarity": "on"}, "polarity", "must be one of 'split', 'merge', 'signed', got 'on'"),
    ({"carry": 1}, "carry", "must be a bool, got 1"),
    ({"start_time": 0.5}, "start_time", "must be an integer number of microseconds, got 0.5"),
    ({"end_time": 2**63}, "end_time",
     f"must lie in the int64 range of microseconds, got {2**63}"),
])
def test_bad_arguments(kw, key, message):
    """compress_events is STCConfig(...)(events): one validation, the field named."""
    ev = Events([0], [0], [0], [1], (1, 1))
    args = {"steps": 2, **kw}
    for make in (lambda: compress_events(ev, args["steps"],
                                         **{k: v for k, v in args.items() if k != "steps"}),
                 lambda: STCConfig(**args)):
        with pytest.raises(ConfigError) as info:
            make()
        assert info.value.key == key
        assert str(info.value) == f"STCConfig: [{key}] {message}"


def test_coordinates_outside_sensor_raise():
    with pytest.raises(CoordinateRangeError, match="x=3"):
        compress_events(Events([3], [0], [0], [1], (2, 2)), 1, tau_s=5.0)


def test_stc_config():
    rng = np.random.default_rng(2)
    ev = Events(rng.integers(0, 4, 50), rng.integers(0, 3, 50), np.sort(rng.integers(0, 900, 50)),
                rng.integers(0, 2, 50), (4, 3))
    cfg = STCConfig(steps=3, tau_s=200, fine_bins=4, normalize="max", polarity="merge")
    out = cfg(ev)
    np.testing.assert_array_equal(out, compress_events(ev, 3, tau_s=200.0, fine_bins=4,
                                                       normalize="max", polarity="merge"))
    assert out.shape == cfg.output_shape(ev.sensor_size) == (3, 1, 3, 4)
    assert out.dtype == cfg.output_dtype
    assert STCConfig(tau_s=200) == STCConfig(tau_s=200.0)
    assert STCConfig(tau_s=200).sha256() == STCConfig(tau_s=200.0).sha256()
    assert STCConfig(normalize="max").sha256() != STCConfig(normalize="mean-std").sha256()
    assert '"tau_s":"inf"' in STCConfig().canonical_json()
    code = ("from eventcompress.kernels.representations import STCConfig; "
            "print(STCConfig(steps=3, tau_s=200, fine_bins=4, normalize='max', "
            "polarity='merge').sha256())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == cfg.sha256()


def test_configs_round_trip_through_canonical_json():
    from eventcompress.kernels.pipeline import config_from_dict
    from eventcompress.kernels.representations import FrameConfig

    for cfg in (STCConfig(), STCConfig(steps=3, tau_s=5.5, fine_bins=2, normalize="max"),
                FrameConfig(n_time_bins=4, overlap=0.3, dtype="float32"),
                FrameConfig(time_window=2.5, start_time=0, end_time=10, edges="fixed")):
        back = config_from_dict(json.loads(cfg.canonical_json()))
        assert back == cfg and back.sha256() == cfg.sha256()


# -- fill_batch: a whole packed chunk in one kernel call -------------------------------------



@given(chunk=stream_chunks(80, 10**5, 5000), steps=st.integers(1, 5),
       tau=st.sampled_from([math.inf, 50.0, 3000.0, 2.0**40]),
       edges=st.sampled_from(["fixed", "count"]), carry=st.booleans(),
       fine=st.sampled_from([None, 1, 4]), normalize=st.sampled_from(["none", "max", "mean-std"]),
       polarity=st.sampled_from(["split", "merge", "signed"]), bounds=st.integers(0, 3))
def test_fill_batch_is_bit_identical_to_single_calls(chunk, steps, tau, edges, carry, fine,
                                                     normalize, polarity, bounds):
    from eventcompress.kernels.packed import PackedEvents

    start = -50_000 if bounds & 1 else None
    end = 60_000 if bounds & 2 else None
    cfg = STCConfig(steps=steps, tau_s=tau, edges=edges, carry=carry, fine_bins=fine,
                    normalize=normalize, polarity=polarity, start_time=start, end_time=end)
    out = np.full((len(chunk), *cfg.output_shape(chunk[0].sensor_size)), np.nan, np.float32)
    errors = []
    for ev in chunk:
        try:
            cfg(ev)
        except ValueError as exc:  # e.g. every event before start_time: an empty range
            errors.append(str(exc))
    if errors:
        for fill in (lambda o: cfg.fill_batch(PackedEvents.pack(chunk), o),
                     lambda o: cfg.fill_streams(chunk, o)):
            with pytest.raises(ValueError) as info:
                fill(out)
            assert str(info.value) == errors[0]
        return
    cfg.fill_batch(PackedEvents.pack(chunk), out)
    in_place = np.full_like(out, np.nan)
    cfg.fill_streams(chunk, in_place)  # read where the streams lie, no packed copy
    assert np.array_equal(in_place, out, equal_nan=False)
    for k, ev in enumerate(chunk):
        single = cfg(ev)
        assert np.array_equal(out[k], single)
        assert np.array_equal(single, compress_events(
            ev, steps, tau_s=tau, edges=edges, carry=carry, fine_bins=fine, normalize=normalize,
            polarity=polarity, start_time=start, end_time=end))
        if len(ev) and polarity == "split" and normalize == "none":
            close(single, reference(ev.sorted_by_time(), steps, tau, edges, fine=fine,
                                    carry=carry, start=start, end=end))


def test_fill_batch_reports_the_failing_sample():
    from eventcompress.kernels.packed import PackedEvents

    cfg = STCConfig(steps=2, tau_s=100.0)
    chunk = [Events([0], [0], [5], [1], (2, 2)), Events([0, 3], [0, 1], [1, 2], [1, 0], (2, 2))]
    out = np.empty((2, *cfg.output_shape((2, 2))), np.float32)
    with pytest.raises(CoordinateRangeError, match="x=3"):
        cfg.fill_batch(PackedEvents.pack(chunk), out)
    with pytest.raises(ValueError, match="shape"):
        cfg.fill_batch(PackedEvents.pack(chunk), out[:1])
    strided = np.zeros((2, 2, 2, 2, 4), np.float32)[..., ::2]  # not contiguous
    cfg.fill_batch(PackedEvents.pack(chunk[:1] * 2), strided)
    assert np.array_equal(strided[1], cfg(chunk[0]))
    with pytest.raises(CoordinateRangeError, match="x=3"):
        cfg.fill_streams(chunk, out)
    strided[:] = 0
    cfg.fill_streams(chunk[:1] * 2, strided)
    assert np.array_equal(strided[1], cfg(chunk[0]))
