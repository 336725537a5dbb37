"""process_many: identical to a sequential loop for every backend, with clear errors."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from kernel_strategies import uniform_stream

from eventcompress import Events
from eventcompress.errors import ConfigError, CoordinateRangeError
from eventcompress.kernels import (
    CropTime,
    Denoise,
    Downsample,
    FlipLR,
    Pipeline,
    RandomCrop,
    process_many,
    register_config,
)
from eventcompress.kernels.representations import Representation


@register_config
@dataclass(frozen=True)
class TimeBinnedCounts(Representation):
    """Test representation: counts per (time bin of width bin_us, polarity, y, x)."""

    n_bins: int = 3
    bin_us: int = 100_000

    output_dtype = np.dtype(np.int32)

    def output_shape(self, sensor_size):
        return (self.n_bins, 2, sensor_size[1], sensor_size[0])

    def __call__(self, events):
        out = np.zeros(self.output_shape(events.sensor_size), np.int32)
        b = np.minimum(events.t // self.bin_us, self.n_bins - 1).astype(np.intp)
        np.add.at(out, (b, events.p.astype(np.intp), events.y, events.x), 1)
        return out


def _streams(count: int, size=(34, 34)) -> list[Events]:
    rng = np.random.default_rng(1)
    return [uniform_stream(rng, int(rng.integers(0, 2_000)), size) for _ in range(count)]


PIPE = Pipeline((CropTime(0, 250_000), Denoise(4_000), RandomCrop(30, seed=9), FlipLR(0.5),
                 Downsample(2)), TimeBinnedCounts())


def _sequential(streams, pipe=PIPE, start=0, epoch=0):
    return np.stack([pipe(e, sample_index=start + i, epoch=epoch) for i, e in enumerate(streams)])


@pytest.mark.parametrize("n_jobs", [1, 2, 3])
def test_threads_equal_a_sequential_loop(n_jobs):
    streams = _streams(37)
    out = process_many(streams, PIPE, n_jobs=n_jobs, backend="threads")
    assert out.shape == (37, *PIPE.output_shape((34, 34))) and out.dtype == np.int32
    assert np.array_equal(out, _sequential(streams))


def test_processes_equal_a_sequential_loop():
    streams = _streams(23)
    out = process_many(streams, PIPE, n_jobs=2, backend="processes", start_index=100, epoch=2)
    assert np.array_equal(out, _sequential(streams, start=100, epoch=2))


def test_sample_indices_drive_the_augmentation():
    streams = [_streams(1)[0]] * 12
    out = process_many(streams, PIPE, n_jobs=2)
    assert len({o.tobytes() for o in out}) > 6  # the same recording, augmented differently
    again = process_many(streams, PIPE, n_jobs=1, start_index=5)
    assert np.array_equal(again[:7], out[5:])


def test_out_argument_and_progress_bar(capsys):
    streams = _streams(5)
    buf = np.full((5, *PIPE.output_shape((34, 34))), -1, np.int32)
    assert process_many(streams, PIPE, out=buf, quiet=False) is buf
    assert np.array_equal(buf, _sequential(streams))
    assert "process_many" in capsys.readouterr().err
    with pytest.raises(ValueError, match="expected"):
        process_many(streams, PIPE, out=np.zeros((5, 1), np.int32))


def test_errors_are_clear():
    streams = _streams(3)
    odd = Events([0], [0], [0], [1], (20, 20))
    with pytest.raises(ValueError, match=r"stream 2 has \(20, 20\), expected \(34, 34\)"):
        process_many([*streams[:2], odd], PIPE)
    with pytest.raises(ValueError, match="no streams"):
        process_many([], PIPE)
    with pytest.raises(ValueError, match="backend"):
        process_many(streams, PIPE, backend="gpu")
    with pytest.raises(ValueError, match="n_jobs"):
        process_many(streams, PIPE, n_jobs=0)
    with pytest.raises(ConfigError, match="representation"):
        process_many(streams, Pipeline((Downsample(2),)))
    bad = Pipeline((Denoise(4_000),), TimeBinnedCounts(n_bins=0))
    with pytest.raises(IndexError) as info:
        process_many(streams, bad, n_jobs=2)
    if sys.version_info >= (3, 11):  # exception notes name the failing sample
        assert any("while processing sample" in note for note in info.value.__notes__)


def test_empty_batch_and_empty_streams():
    out = process_many([], PIPE, sensor_size=(34, 34))
    assert out.shape == (0, 3, 2, 15, 15)
    empty = [Events.empty((34, 34))] * 3
    assert not process_many(empty, PIPE, n_jobs=2).any()
    one = [Events([5], [6], [7], [1], (34, 34))]
    got = process_many(one, PIPE, n_jobs=-1)
    assert got.shape == (1, 3, 2, 15, 15) and np.array_equal(got, _sequential(one))
    kept = Pipeline((), TimeBinnedCounts())  # no step drops the one event
    got = process_many(one, kept, n_jobs=-1)
    assert got.sum() == 1 and np.array_equal(got, _sequential(one, kept))


def test_stc_pipeline_matches_a_loop_for_both_backends():
    from eventcompress.kernels import STCConfig

    pipe = Pipeline((Denoise(4_000), RandomCrop(32, seed=1)), STCConfig(steps=6, tau_s=20_000.0))
    streams = _streams(16)
    expected = _sequential(streams, pipe)
    assert expected.dtype == np.float32
    assert np.array_equal(process_many(streams, pipe, n_jobs=2), expected)
    assert np.array_equal(process_many(streams, pipe, n_jobs=2, backend="processes"), expected)


def test_stc_without_steps_reads_the_streams_in_place(monkeypatch):
    """No event steps: STC reads each stream where it lies (fill_streams), never packs, and
    gives the loop's result; an unsorted stream is sorted, a bad one named."""
    from eventcompress.kernels import STCConfig
    from eventcompress.kernels.packed import PackedEvents

    stc = STCConfig(steps=5, tau_s=8_000.0, carry=True)
    pipe = Pipeline((), stc)
    streams = _streams(23)
    shuffled = streams[3][np.random.default_rng(0).permutation(len(streams[3]))]
    streams[3] = shuffled
    calls = []
    original = STCConfig.fill_streams
    monkeypatch.setattr(STCConfig, "fill_streams",
                        lambda self, c, o, *a: (calls.append(len(c)), original(self, c, o, *a)))
    monkeypatch.setattr(PackedEvents, "pack", None)  # packing would fail loudly
    out = process_many(streams, pipe, n_jobs=2)
    assert sum(calls) == 23
    assert np.array_equal(out, np.stack([stc(e) for e in streams]))
    bad = Events([0, 40], [0, 1], [1, 2], [1, 0], (34, 34))
    with pytest.raises(CoordinateRangeError, match="x=40") as info:
        process_many([*streams[:5], bad], pipe, n_jobs=2)
    if sys.version_info >= (3, 11):
        assert any("while processing samples" in note for note in info.value.__notes__)


@pytest.mark.parametrize("rep", ["frames", "tonic frames", "stc count"])
def test_representations_fill_whole_chunks(rep, monkeypatch):
    from eventcompress.kernels import FrameConfig, STCConfig

    representation = {
        "frames": FrameConfig(n_time_bins=5, dtype="uint8"),
        "tonic frames": FrameConfig(n_event_bins=3, edges="tonic"),  # sample by sample inside
        "stc count": STCConfig(steps=4, tau_s=5_000.0, edges="count", normalize="max"),
    }[rep]
    pipe = Pipeline((Denoise(4_000), FlipLR(0.5)), representation)
    streams = _streams(21)
    calls = []
    original = type(representation).fill_batch
    monkeypatch.setattr(type(representation), "fill_batch",
                        lambda self, p, o: (calls.append(len(p)), original(self, p, o)))
    out = process_many(streams, pipe, n_jobs=2)
    assert np.array_equal(out, _sequential(streams, pipe))
    assert sum(calls) == 21 and len(calls) <= 8


def test_every_kernel_releases_the_gil():
    """Thread scaling relies on it: each Numba kernel here must be compiled with nogil=True."""
    from numba.core.registry import CPUDispatcher

    from eventcompress.kernels import (
        _binning,
        _frames_kernel,
        _stc_kernel,
        filters,
        geometry,
        packed,
    )

    # The one deliberate exception: noting a stream's addresses is too short to release it.
    holding = {"_note_addresses"}
    modules = (filters, geometry, packed, _binning, _frames_kernel, _stc_kernel)
    kernels = [getattr(m, n) for m in modules for n in dir(m)
               if isinstance(getattr(m, n), CPUDispatcher) and n not in holding]
    assert len(kernels) >= 25 and all(hasattr(packed, n) for n in holding)
    assert all(k.targetoptions.get("nogil") for k in kernels), [
        k.__name__ for k in kernels if not k.targetoptions.get("nogil")]


# -- packing -----------------------------------------------------------------------------------
@st.composite
def _stream_lists(draw):
    size = (draw(st.integers(1, 40)), draw(st.integers(1, 40)))
    out = []
    for n in draw(st.lists(st.integers(0, 60), min_size=1, max_size=7)):
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        t = np.sort(rng.integers(np.iinfo(np.int64).min, np.iinfo(np.int64).max, n))
        out.append(Events(rng.integers(0, size[0], n), rng.integers(0, size[1], n), t,
                          rng.integers(0, 2, n), size))
    return out


@given(_stream_lists(), st.booleans())
def test_pack_equals_concatenation(streams, reuse):
    """The GIL-free copy from the noted addresses is exact, into fresh or reused buffers."""
    from eventcompress.kernels.packed import PackBuffers, PackedEvents

    buffers = PackBuffers() if reuse else None
    if reuse:  # a smaller chunk first: the buffers must grow and still give exact results
        PackedEvents.pack(streams[:1] * 2, buffers)
    packed = PackedEvents.pack(streams, buffers)
    for name in ("x", "y", "t", "p"):
        flat = getattr(packed, name)
        expected = np.concatenate([getattr(e, name) for e in streams])
        assert flat.dtype == expected.dtype and np.array_equal(flat, expected)
    assert packed.offsets.tolist() == [0, *np.cumsum([len(e) for e in streams]).tolist()]
    assert all(packed.sample(k) == e for k, e in enumerate(streams))


def test_pack_refuses_a_strided_or_retyped_stream():
    from eventcompress.kernels.packed import PackedEvents

    e = Events(np.arange(6) % 3, np.zeros(6, int), np.arange(6), np.ones(6, int), (4, 4))
    strided = Events._trusted(e.x[::2], e.y[::2], e.t[::2], e.p[::2], e.sensor_size)
    retyped = Events._trusted(e.x.astype(np.int64), e.y, e.t, e.p, e.sensor_size)
    for bad in (strided, retyped):
        with pytest.raises(ValueError, match="stream 1 does not have the contiguous"):
            PackedEvents.pack([e, bad])


def test_pack_buffers_are_reused_not_reallocated():
    from eventcompress.kernels.packed import PackBuffers, PackedEvents

    streams = _streams(6)
    buffers = PackBuffers()
    first = PackedEvents.pack(streams[:4], buffers)
    second = PackedEvents.pack(streams[2:5], buffers)  # fewer events: the same memory
    assert np.shares_memory(first.t, second.t) and np.shares_memory(first.x, second.x)
    assert np.array_equal(second.t, np.concatenate([e.t for e in streams[2:5]]))
    fresh = PackedEvents.pack(streams[2:5])
    assert not np.shares_memory(fresh.t, second.t)
    single = PackedEvents.pack(streams[:1], buffers)  # one stream: its own arrays, no copy
    assert single.t is streams[0].t
