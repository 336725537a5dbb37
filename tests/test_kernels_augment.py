"""Event-level augmentations (eventcompress.kernels.augment) against NumPy references.

The references recompute each step from its documented formulas: the per-sample draws of
``step.draws`` (the counter-based ``uniforms``), the per-event numbers ``u(key, j)`` from a
NumPy SplitMix64 written here, and the Box-Muller normals with Python's ``math``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from eventcompress import Events
from eventcompress.errors import ConfigError
from eventcompress.kernels import (
    DropArea,
    DropEvents,
    DropTimeWindow,
    PackedEvents,
    Pipeline,
    SpatialJitter,
    STCConfig,
    TimeJitter,
    TimeSkew,
    UniformNoise,
    process_many,
)
from eventcompress.kernels.augment import sample_keys

_M64 = (1 << 64) - 1


def _splitmix(z: int) -> int:
    z = (z + 0x9E3779B97F4A7C15) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def event_u(key: int, n: int) -> np.ndarray:
    """``u(key, j)`` for j < n, in plain Python integers."""
    return np.array([(_splitmix(int(key) ^ (j + 1)) >> 11) * 2.0 ** -53 for j in range(n)])


def normal_pairs(key: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    u = event_u(key, 2 * n)
    r = [math.sqrt(-2.0 * math.log(1.0 - u[2 * j])) for j in range(n)]
    th = [2.0 * math.pi * u[2 * j + 1] for j in range(n)]
    return (np.array([a * math.cos(b) for a, b in zip(r, th)]),
            np.array([a * math.sin(b) for a, b in zip(r, th)]))


def draws_of(step, index: int, epoch: int = 0, position: int = 0) -> np.ndarray:
    return step.draws(np.array([index]), epoch, position, step.n_draws)[0]


def key_of(step, index: int, epoch: int = 0, position: int = 0) -> int:
    return int(sample_keys(draws_of(step, index, epoch, position)[:1])[0])


@st.composite
def streams(draw, max_side: int = 40, max_n: int = 150):
    w = draw(st.integers(1, max_side))
    h = draw(st.integers(1, max_side))
    n = draw(st.integers(0, max_n))
    x = draw(arrays(np.int64, n, elements=st.integers(0, w - 1)))
    y = draw(arrays(np.int64, n, elements=st.integers(0, h - 1)))
    t = np.sort(draw(arrays(np.int64, n, elements=st.integers(0, 10**6))))
    p = draw(arrays(np.int64, n, elements=st.integers(0, 1)))
    return Events(x, y, t, p, (w, h))


def _kept(events: Events, keep: np.ndarray) -> Events:
    return events[np.asarray(keep, bool)]


index = st.integers(0, 10**6)
seeds = st.integers(0, 2**31)


@given(streams(), st.floats(0, 1), seeds, index, st.integers(0, 5))
def test_drop_events_matches_reference(ev, prob, seed, i, epoch):
    step = DropEvents(prob, seed)
    got = step(ev, sample_index=i, epoch=epoch)
    if prob == 0:
        assert got is ev
        return
    expected = _kept(ev, event_u(key_of(step, i, epoch), len(ev)) >= prob)
    assert got == expected


@given(streams(), st.floats(0, 1), st.floats(0, 1), seeds, index)
def test_drop_time_window_matches_reference(ev, r1, r2, seed, i):
    lo, hi = sorted((r1, r2))
    step = DropTimeWindow((lo, hi), seed)
    u = draws_of(step, i)
    got = step(ev, sample_index=i)
    if len(ev) == 0:
        assert len(got) == 0
        return
    ratio = lo + u[1] * (hi - lo) if lo != hi else lo
    span = float(ev.t.max() - ev.t.min())
    start = float(ev.t.min()) + u[2] * (span - span * ratio)
    t = ev.t.astype(np.float64)
    assert got == _kept(ev, ~((t >= start) & (t <= start + span * ratio)))


@given(streams(), st.floats(0, 1), seeds, index)
def test_drop_area_matches_reference(ev, ratio, seed, i):
    step = DropArea(ratio, seed)
    u = draws_of(step, i)
    w, h = ev.sensor_size
    bw, bh = int(np.floor(w * step.area_ratio)), int(np.floor(h * step.area_ratio))
    x0, y0 = min(int(u[2] * (w - bw + 1)), w - bw), min(int(u[3] * (h - bh + 1)), h - bh)
    inside = (ev.x >= x0) & (ev.x < x0 + bw) & (ev.y >= y0) & (ev.y < y0 + bh)
    assert step(ev, sample_index=i) == _kept(ev, ~inside)


@given(streams(), st.floats(0, 5000), st.booleans(), st.booleans(), seeds, index)
def test_time_jitter_matches_reference(ev, std, clip, sort, seed, i):
    step = TimeJitter(std, clip_negative=clip, sort=sort, seed=seed)
    z, _ = normal_pairs(key_of(step, i), len(ev))
    t = ev.t + np.rint(step.std * z).astype(np.int64)
    ref = Events(ev.x, ev.y, t, ev.p, ev.sensor_size)
    if clip:
        ref = ref[t >= 0]
    if sort:
        ref = ref[np.argsort(ref.t, kind="stable")]
    assert step(ev, sample_index=i) == ref


@given(streams(), st.floats(0, 4), st.floats(0, 4), st.sampled_from(["drop", "clamp"]),
       seeds, index)
def test_spatial_jitter_matches_reference(ev, sx, sy, outliers, seed, i):
    step = SpatialJitter(sx, sy, outliers, seed)
    zx, zy = normal_pairs(key_of(step, i), len(ev))
    x = ev.x.astype(np.int64) + np.rint(sx * zx).astype(np.int64)
    y = ev.y.astype(np.int64) + np.rint(sy * zy).astype(np.int64)
    w, h = ev.sensor_size
    if outliers == "clamp":
        keep = np.ones(len(ev), bool)
        x, y = np.clip(x, 0, w - 1), np.clip(y, 0, h - 1)
    else:
        keep = (x >= 0) & (x < w) & (y >= 0) & (y < h)
    ref = Events(x[keep], y[keep], ev.t[keep], ev.p[keep], ev.sensor_size)
    assert step(ev, sample_index=i) == ref


@given(streams(), st.integers(0, 50), seeds, index)
def test_uniform_noise_matches_reference(ev, n, seed, i):
    step = UniformNoise(n, seed)
    got = step(ev, sample_index=i)
    if len(ev) == 0 or n == 0:
        assert got == ev
        return
    u = event_u(key_of(step, i), 4 * n).reshape(n, 4)
    w, h = ev.sensor_size
    lo, hi = int(ev.t.min()), int(ev.t.max())
    noise = Events(np.minimum((u[:, 0] * w).astype(np.int64), w - 1),
                   np.minimum((u[:, 1] * h).astype(np.int64), h - 1),
                   lo + np.minimum((u[:, 2] * (hi - lo + 1)).astype(np.int64), hi - lo),
                   (u[:, 3] < 0.5).astype(np.int64), ev.sensor_size)
    both = Events.concatenate([ev, noise])
    assert got == both[np.argsort(both.t, kind="stable")]


@given(streams(), st.floats(0.5, 2), st.floats(0.5, 2), st.floats(-1000, 1000), seeds, index)
def test_time_skew_matches_reference(ev, c1, c2, offset, seed, i):
    lo, hi = sorted((c1, c2))
    step = TimeSkew((lo, hi), offset, seed)
    u = draws_of(step, i) if step.is_random else np.zeros(2)
    c = lo + u[0] * (hi - lo) if lo != hi else lo
    t = np.trunc(ev.t.astype(np.float64) * c + float(step.offset)).astype(np.int64)
    assert step(ev, sample_index=i) == Events(ev.x, ev.y, t, ev.p, ev.sensor_size)


def test_time_skew_fixed_is_deterministic_and_matches_tonic_formula():
    ev = Events([0, 1, 2], [0, 0, 0], [0, 10, 21], [1, 0, 1], (3, 1))
    out = TimeSkew(1.5, 7)(ev)
    assert out.t.tolist() == [7, 22, 38]  # trunc(t * 1.5 + 7)
    assert not TimeSkew(1.5, 7).is_random and TimeSkew((1, 2)).is_random


# -- randomness contract ---------------------------------------------------------------------
def _random_events(n: int = 400, seed: int = 0) -> Events:
    rng = np.random.default_rng(seed)
    return Events(rng.integers(0, 34, n), rng.integers(0, 34, n),
                  np.sort(rng.integers(0, 100_000, n)), rng.integers(0, 2, n), (34, 34))


STEPS = [DropEvents(0.3, 1), DropTimeWindow((0.1, 0.4), 2), DropArea((0.2, 0.6), 3),
         TimeJitter(500.0, seed=4), SpatialJitter(1.5, 1.0, seed=5), UniformNoise(30, 6),
         TimeSkew((0.9, 1.1), (0, 100), 7)]


@pytest.mark.parametrize("step", STEPS, ids=lambda s: type(s).__name__)
def test_packed_batch_equals_sample_by_sample(step):
    streams_ = [_random_events(n, s) for s, n in enumerate((0, 5, 400, 37))]
    idx = np.array([11, 3, 7, 100])
    packed = step.apply_packed(PackedEvents.pack(streams_), idx, epoch=2, position=1)
    for k, ev in enumerate(streams_):
        one = step.apply(ev, sample_index=int(idx[k]), epoch=2, position=1)
        assert packed.sample(k) == one


@pytest.mark.parametrize("step", STEPS, ids=lambda s: type(s).__name__)
def test_draws_differ_by_sample_and_epoch_and_follow_a_generator(step):
    ev = _random_events()
    a = step(ev, sample_index=1, epoch=0)
    assert a == step(ev, sample_index=1, epoch=0)
    assert a != step(ev, sample_index=2, epoch=0)
    assert a != step(ev, sample_index=1, epoch=1)
    r1 = step(ev, rng=np.random.default_rng(5))
    assert r1 == step(ev, rng=np.random.default_rng(5))
    assert r1 != step(ev, rng=np.random.default_rng(6))


def test_steps_round_trip_through_pipeline_json_and_hash_by_value():
    pipe = Pipeline(tuple(STEPS), STCConfig(steps=4, tau_s=50_000.0))
    assert Pipeline.from_json(pipe.canonical_json()) == pipe
    assert DropTimeWindow((0.2, 0.2)).sha256() == DropTimeWindow(0.2).sha256()
    assert TimeSkew(2.0, 0.0).sha256() == TimeSkew(2, 0).sha256()
    assert DropEvents(0.1, seed=1).sha256() != DropEvents(0.1, seed=2).sha256()
    assert pipe.is_random


def test_process_many_gives_the_per_sample_result():
    pipe = Pipeline((DropEvents(0.5, 3), TimeJitter(200.0, seed=1)),
                    STCConfig(steps=4, tau_s=50_000.0))
    evs = [_random_events(300, s) for s in range(6)]
    batch = process_many(evs, pipe, epoch=3, start_index=10)
    for k, ev in enumerate(evs):
        np.testing.assert_array_equal(batch[k], pipe(ev, sample_index=10 + k, epoch=3))


@pytest.mark.parametrize("bad", [
    lambda: DropEvents(1.5), lambda: DropTimeWindow((0.5, 0.1)), lambda: DropArea(2),
    lambda: TimeJitter(-1), lambda: SpatialJitter(1, 1, "wrap"), lambda: UniformNoise(-3),
    lambda: TimeSkew(0), lambda: DropEvents(0.1, seed=-1), lambda: TimeSkew((1, 2, 3)),
])
def test_bad_arguments_name_the_field(bad):
    with pytest.raises(ConfigError, match=r"\[\w+\]"):
        bad()
