"""Frozen step configs and Pipeline: composition, shapes, JSON round trip, hashing, randomness."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from kernel_strategies import uniform_stream

from eventcompress import Events
from eventcompress.errors import ConfigError
from eventcompress.kernels import (
    CenterCrop,
    CropTime,
    Denoise,
    Downsample,
    FlipLR,
    FlipPolarity,
    FlipUD,
    Pipeline,
    RandomCrop,
    RefractoryPeriod,
    RemoveHotPixels,
    Resize,
    ShiftTimeToZero,
    config_from_dict,
    crop,
    crop_time,
    denoise,
    downsample,
    flip_lr,
    random_crop,
    register_config,
)
from eventcompress.kernels.packed import PackedEvents, uniforms
from eventcompress.kernels.representations import Representation


@register_config
@dataclass(frozen=True)
class PolarityCounts(Representation):
    """A minimal representation for these tests: event counts per (polarity, y, x)."""

    scale: float = 1.0
    tau: float = math.inf

    output_dtype = np.dtype(np.float32)

    def output_shape(self, sensor_size):
        return (2, sensor_size[1], sensor_size[0])

    def __call__(self, events):
        out = np.zeros(self.output_shape(events.sensor_size), np.float32)
        np.add.at(out, (events.p.astype(np.intp), events.y, events.x), self.scale)
        return out


ALL_STEPS = (
    CropTime(1_000, 250_000), ShiftTimeToZero(), Denoise(5_000.5, tonic_compatible=False),
    RefractoryPeriod(100), RemoveHotPixels(mean_multiple=8.0, pixels=((3, 4),)),
    RandomCrop((30, 28), seed=7), FlipLR(0.5, seed=1), FlipUD(), FlipPolarity(0.25, seed=3),
    CenterCrop(26), Resize((20, 13)), Downsample((2, 1)),
)


def _stream(n: int = 3_000, size=(34, 34), seed: int = 0) -> Events:
    return uniform_stream(np.random.default_rng(seed), n, size)


# -- composition and shapes -------------------------------------------------------------------
def test_pipeline_applies_steps_in_order_then_the_representation():
    ev = _stream()
    pipe = Pipeline((CropTime(0, 100_000), Denoise(3_000), Downsample(2), FlipLR()),
                    PolarityCounts())
    expected = flip_lr(downsample(denoise(crop_time(ev, 0, 100_000), 3_000), 2))
    assert pipe.transform_events(ev) == expected
    assert np.array_equal(pipe(ev), PolarityCounts()(expected))
    assert pipe.output_shape((34, 34)) == (2, 17, 17) == pipe(ev).shape
    assert pipe.output_dtype == np.float32
    assert Pipeline(steps=[Downsample(2)]).steps == (Downsample(2),)
    assert Pipeline()(ev) is ev


@given(st.lists(st.sampled_from(ALL_STEPS), max_size=6), st.integers(0, 50))
def test_output_sensor_size_matches_what_the_steps_produce(steps, sample_index):
    ev = _stream(400)
    try:
        expected = Pipeline(tuple(steps)).output_sensor_size(ev.sensor_size)
    except ConfigError:  # a random crop larger than what earlier steps left
        assume(False)
    out = Pipeline(tuple(steps))(ev, sample_index=sample_index)
    assert out.sensor_size == expected
    assert not out.out_of_range().any()


def test_without_representation_there_is_no_fixed_shape():
    with pytest.raises(ConfigError, match="representation"):
        Pipeline((Downsample(2),)).output_shape((34, 34))


# -- JSON and hashing -------------------------------------------------------------------------
def test_json_round_trip_of_every_step_type():
    pipe = Pipeline(ALL_STEPS, PolarityCounts(scale=0.5))
    text = pipe.canonical_json()
    again = Pipeline.from_json(text)
    assert again == pipe and again.sha256() == pipe.sha256()
    assert again.canonical_json() == text
    assert hash(again) == hash(pipe)
    data = json.loads(text)
    assert data["type"] == "Pipeline" and data["steps"][5] == {
        "type": "RandomCrop", "version": 1, "size": [30, 28], "seed": 7}
    assert data["representation"]["tau"] == "inf"
    assert again.representation.tau == math.inf
    assert Pipeline.from_dict(pipe.to_dict()) == pipe
    assert config_from_dict(Denoise(10).to_dict()) == Denoise(10)


_SUBPROCESS = """
import sys
from eventcompress.kernels import *
pipe = Pipeline((CropTime(0, 100000), Denoise(5000), RandomCrop(30, seed=2),
                 RemoveHotPixels(pixels=[(9, 1), (2, 3)]), FlipLR(0.5), Downsample(3)))
print(pipe.sha256())
print(Pipeline.from_json(sys.stdin.read()).sha256())
"""


def test_hash_is_stable_across_processes_and_hash_seeds():
    pipe = Pipeline((CropTime(0, 100_000), Denoise(5_000.0), RandomCrop((30, 30), seed=2),
                     RemoveHotPixels(pixels=((2, 3), (9, 1))), FlipLR(0.5), Downsample(3)))
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for seed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", _SUBPROCESS], input=pipe.canonical_json(),
                             capture_output=True, text=True, env=env, check=True, cwd=root)
        assert out.stdout.split() == [pipe.sha256(), pipe.sha256()]


def test_equivalent_configs_hash_alike_and_different_ones_do_not():
    assert Downsample(2).sha256() == Downsample((2, 2)).sha256()
    assert Denoise(1e4).sha256() == Denoise(10_000).sha256()
    assert CenterCrop(5) == CenterCrop([5, 5])
    assert RemoveHotPixels(pixels=[(1, 2), (0, 0)]) == RemoveHotPixels(pixels=((0, 0), (1, 2)))
    hashes = {Pipeline((s,)).sha256() for s in ALL_STEPS}
    hashes |= {Pipeline((Denoise(5000),)).sha256(), Pipeline((RandomCrop((30, 28), 8),)).sha256(),
               Pipeline(ALL_STEPS[:2]).sha256(), Pipeline(ALL_STEPS[1::-1]).sha256()}
    assert len(hashes) == len(ALL_STEPS) + 4


def test_from_json_rejects_bad_input():
    good = Pipeline((Downsample(2),)).to_dict()
    with pytest.raises(ConfigError, match="unknown configuration type"):
        Pipeline.from_dict({**good, "steps": [{"type": "Blur", "version": 1}]})
    with pytest.raises(ConfigError, match="unknown field"):
        Pipeline.from_dict({**good, "steps": [{"type": "Downsample", "version": 1, "f": 2}]})
    with pytest.raises(ConfigError, match="schema version"):
        Pipeline.from_dict({**good, "steps": [{"type": "Downsample", "version": 9}]})
    with pytest.raises(ConfigError, match="invalid pipeline JSON"):
        Pipeline.from_json("{nope")
    with pytest.raises(ConfigError, match="not a Pipeline"):
        Pipeline.from_dict(Downsample(2).to_dict())
    with pytest.raises(ConfigError, match="not an event transform"):
        Pipeline((np.sum,))


@pytest.mark.parametrize("make, key, message", [
    (lambda: Downsample(0), "factor", r"Downsample: \[factor\] must be >= 1, got \(0, 0\)"),
    (lambda: Resize((3, 0)), "size", r"Resize: \[size\] must be >= 1, got \(3, 0\)"),
    (lambda: CenterCrop("big"), "size",
     r"CenterCrop: \[size\] must be an int or a \(width, height\) pair, got 'big'"),
    (lambda: RandomCrop(4, seed=-1), "seed", r"RandomCrop: \[seed\] must be an int >= 0, got -1"),
    (lambda: FlipLR(probability=1.5), "probability",
     r"FlipLR: \[probability\] must lie in \[0, 1\], got 1.5"),
    (lambda: CropTime(10, 5), "end", r"CropTime: \[end\] end 5 lies before start 10"),
    (lambda: CropTime(0.5), "start",
     r"CropTime: \[start\] must be an int \(microseconds\) or None, got 0.5"),
    (lambda: Denoise(-1), "filter_time", r"Denoise: \[filter_time\] must be finite and >= 0, got -1"),
    (lambda: RefractoryPeriod(math.inf), "period",
     r"RefractoryPeriod: \[period\] must be finite and >= 0, got inf"),
    (lambda: RemoveHotPixels(), None, r"RemoveHotPixels: needs a threshold or a list of pixels"),
    (lambda: RemoveHotPixels(max_count=3, mean_multiple=2.0), "mean_multiple",
     r"RemoveHotPixels: \[mean_multiple\] give at most one threshold, got \['max_count', "
     r"'mean_multiple'\]"),
    (lambda: RemoveHotPixels(pixels=[1]), "pixels",
     r"RemoveHotPixels: \[pixels\] must be a sequence of \(x, y\) pairs, got \[1\]"),
])
def test_invalid_configs_raise_config_error(make, key, message):
    with pytest.raises(ConfigError) as info:
        make()
    assert info.value.key == key
    assert re.fullmatch(message, str(info.value)), str(info.value)


def test_random_crop_larger_than_sensor_is_reported_by_output_sensor_size():
    with pytest.raises(ConfigError, match="does not fit"):
        Pipeline((Downsample(2), RandomCrop(20))).output_sensor_size((34, 34))


# -- randomness -------------------------------------------------------------------------------
def test_random_steps_are_deterministic_per_sample_and_vary_across_samples():
    ev = _stream()
    pipe = Pipeline((RandomCrop(20, seed=5), FlipLR(0.5, seed=5), FlipUD(0.5, seed=5)),
                    PolarityCounts())
    assert pipe.is_random and not Pipeline((FlipLR(),)).is_random
    outs = [pipe(ev, sample_index=i) for i in range(40)]
    assert all(np.array_equal(pipe(ev, sample_index=i), outs[i]) for i in (0, 7, 39))
    assert len({o.tobytes() for o in outs}) > 30
    assert not np.array_equal(pipe(ev, sample_index=3, epoch=1), outs[3])
    # the two flips share a seed but draw independently (the step position is in the key)
    idx = np.arange(64)
    lr = FlipLR(0.5, 5).draws(idx, 0, 1, 1)
    assert not np.array_equal(lr, FlipUD(0.5, 5).draws(idx, 0, 2, 1))
    assert np.array_equal(lr, uniforms(5, 0, idx, 1, 1))
    # a caller-supplied generator overrides the derived ones
    a = pipe(ev, rng=np.random.default_rng(11))
    assert np.array_equal(a, pipe(ev, rng=np.random.default_rng(11)))


def test_step_called_alone_uses_the_same_rule_as_position_zero():
    ev = _stream()
    step = RandomCrop(10, seed=3)
    assert step(ev, sample_index=4) == Pipeline((step,))(ev, sample_index=4)
    u = uniforms(3, 0, [4], 0, 2)[0]
    assert step(ev, sample_index=4) == crop(ev, (int(u[0] * 25), int(u[1] * 25)), 10)
    assert FlipLR(0.0)(ev) == ev and FlipLR(1.0)(ev) == flip_lr(ev)
    assert step(ev, rng=np.random.default_rng(1)) == random_crop(ev, 10, 1)


@given(st.lists(st.sampled_from(ALL_STEPS), min_size=1, max_size=5), st.integers(1, 6),
       st.integers(0, 1000), st.integers(0, 3))
def test_packed_batch_equals_sample_by_sample(steps, n_samples, first, epoch):
    pipe = Pipeline(tuple(steps))
    streams = [_stream(int(n), seed=int(n)) for n in np.arange(n_samples) * 97 % 500]
    try:
        pipe.output_sensor_size((34, 34))
    except ConfigError:  # a random crop larger than what earlier steps left
        assume(False)
    indices = np.arange(first, first + n_samples)
    packed = pipe.transform_packed(PackedEvents.pack(streams), indices, epoch=epoch)
    assert len(packed) == n_samples and packed.offsets[0] == 0
    for k, ev in enumerate(streams):
        one = pipe.transform_events(ev, sample_index=int(indices[k]), epoch=epoch)
        assert packed.sample(k) == one


def test_round_trip_with_the_frame_and_stc_representations():
    from eventcompress.kernels import FrameConfig, STCConfig

    for rep in (STCConfig(steps=8, tau_s=30_000.0, carry=True), STCConfig(steps=4),
                FrameConfig(n_time_bins=5, dtype="float32")):
        pipe = Pipeline((Denoise(5_000), Downsample(2)), rep)
        again = Pipeline.from_json(pipe.canonical_json())
        assert again == pipe and again.sha256() == pipe.sha256()
        ev = _stream()
        assert np.array_equal(again(ev), rep(downsample(denoise(ev, 5_000), 2)))
        assert pipe(ev).shape == pipe.output_shape((34, 34)) and pipe(ev).dtype == pipe.output_dtype


def _splitmix64(z: int) -> int:
    mask = (1 << 64) - 1
    z = (z + 0x9E3779B97F4A7C15) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    return z ^ (z >> 31)


@given(st.integers(0, 2**40), st.integers(0, 1000), st.lists(st.integers(0, 2**40), max_size=5),
       st.integers(0, 20))
def test_uniforms_follow_the_documented_splitmix64_formula(seed, epoch, indices, position):
    got = uniforms(seed, epoch, indices, position, 3)
    assert got.shape == (len(indices), 3)
    for k, index in enumerate(indices):
        h = _splitmix64(_splitmix64(_splitmix64(_splitmix64(seed) ^ epoch) ^ index) ^ position)
        for j in range(3):
            assert got[k, j] == (_splitmix64(h ^ (j + 1)) >> 11) * 2.0**-53
    assert ((got >= 0) & (got < 1)).all()
    with pytest.raises(ValueError):
        uniforms(-1, 0, [0], 0, 1)


# -- pinned canonical form --------------------------------------------------------------------
_PINNED_JSON = (
    '{"representation":{"dtype":"uint8","edges":"fixed","end_time":300000,"event_count":null,'
    '"include_incomplete":true,"n_event_bins":null,"n_time_bins":null,"on_overflow":"saturate",'
    '"overlap":0.0,"polarity":"split","start_time":0,"time_window":5000,"type":"FrameConfig",'
    '"version":2},"steps":[{"filter_time":10000,"tonic_compatible":true,"type":"Denoise",'
    '"version":1},{"factor":[2,2],"type":"Downsample","version":1},{"seed":3,"size":[16,16],'
    '"type":"RandomCrop","version":1}],"type":"Pipeline","version":1}'
)
_PINNED_SHA256 = "015cb7697720c7e6a44f55b3d0cb2abe233c100639846964787c92df20e27323"


def test_canonical_form_of_a_fixed_pipeline_is_pinned():
    """Cache keys are these bytes: any change of canonical form (field names, defaults, number
    formatting, key order, schema versions) must be deliberate, with a version bump, and then
    updates the literals here."""
    import hashlib

    from eventcompress.kernels import FrameConfig

    pipe = Pipeline((Denoise(10_000), Downsample(2), RandomCrop((16, 16), seed=3)),
                    FrameConfig(time_window=5_000, start_time=0, end_time=300_000, dtype="uint8"))
    assert pipe.canonical_json() == _PINNED_JSON
    assert hashlib.sha256(_PINNED_JSON.encode("ascii")).hexdigest() == _PINNED_SHA256
    assert pipe.sha256() == _PINNED_SHA256
    assert Pipeline.from_json(_PINNED_JSON) == pipe
