"""Reading stores: ragged and events round trips, build_from, the direct shard reader and
writer against zarr-python, dtype saturation, format versions, concurrent and forked readers."""

from __future__ import annotations

import json
import multiprocessing
import pickle
from pathlib import Path

import numpy as np
import pytest
from cache_helpers import make_gesture, moving_bar

from eventcompress.cache import build, build_from, open_store
from eventcompress.cache.builder import SampleErrors
from eventcompress.cache.format import to_storage
from eventcompress.cache.shards import ShardIO, fast_path
from eventcompress.datasets import get_dataset, load_sample
from eventcompress.errors import StoreError
from eventcompress.events import TONIC_DTYPE
from eventcompress.kernels import Downsample, FrameConfig, Pipeline, STCConfig


@pytest.mark.parametrize("backend", ["zarr", "hdf5"])
def test_ragged_frames_round_trip_exactly(nmnist_small: Path, tmp_path: Path, backend: str
                                          ) -> None:
    pipeline = Pipeline(representation=FrameConfig(event_count=1_500))
    path = build("nmnist", nmnist_small, "test", pipeline, tmp_path, backend=backend,
                 progress=False, jobs=1, shard_samples=16, shard_rows=64)
    store = open_store(path)
    assert store.ragged and store.kind == "ragged" and store.shape == (2, 34, 34)
    assert store.dtype == np.uint16 and store.saturated == 0
    samples = get_dataset("nmnist").samples(nmnist_small, "test")
    got = store.read_ragged(np.arange(len(samples)))
    lengths = []
    for i, s in enumerate(samples):
        ref = pipeline(load_sample(s))
        assert got[i].dtype == np.uint16 and np.array_equal(got[i], ref), i
        lengths.append(len(ref))
    assert len(set(lengths)) > 1  # really ragged
    assert np.array_equal(np.diff(store.offsets), lengths)
    assert np.array_equal(store.read_one(7), got[7])
    with pytest.raises(StoreError, match="read_ragged"):
        store.read([0])


@pytest.mark.parametrize("backend", ["zarr", "hdf5"])
def test_events_store_round_trips_and_rebins(tmp_path: Path, backend: str) -> None:
    root = make_gesture(tmp_path / "g")
    events_only = Pipeline(steps=(Downsample(2),))
    path = build("dvsgesture", root, "train", events_only, tmp_path / "out", backend=backend,
                 progress=False, jobs=1, shard_samples=2, shard_rows=65_536)
    store = open_store(path)
    assert store.kind == "events" and len(store) == 6
    listed = {s.id: s for s in get_dataset("dvsgesture").samples(root, "train")}
    samples = [listed[i] for i in store.sample_ids]  # stored trial by trial
    stc = STCConfig(steps=4, tau_s=1e5)
    for i, s in enumerate(samples):
        ref = events_only(load_sample(s))
        ev = store.read_events(i)
        assert ev.sensor_size == (64, 64) == ref.sensor_size
        for name in ("x", "y", "t", "p"):
            assert np.array_equal(getattr(ev, name), getattr(ref, name)), (i, name)
        rec = store.read_one(i)
        assert rec.dtype.names == ("x", "y", "t", "p") and np.array_equal(rec["t"], ref.t)
        # a sweep re-bins from the store without decoding the trial again
        assert np.array_equal(stc(ev), stc(ref))
        assert ev.metadata["sample_id"] == s.id


def test_build_from_events_and_tonic_arrays(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    streams = [moving_bar(rng, int(rng.integers(100, 900)), (40, 30), 0, 200_000)
               for _ in range(11)]
    labels = [i % 4 for i in range(11)]
    pipeline = Pipeline(representation=STCConfig(steps=3, tau_s=4e4))
    a = build_from(zip(streams, labels), pipeline, tmp_path, progress=False, shard_samples=4)
    tonic_arrays = [e.to_structured(TONIC_DTYPE) for e in streams]
    b = build_from(zip(tonic_arrays, labels), pipeline, tmp_path / "b", sensor_size=(40, 30),
                   progress=False, shard_samples=4)
    assert a.name == b.name and a.name.startswith("custom-all-")
    for path in (a, b):
        store = open_store(path)
        assert list(store.labels) == labels and store.shape == (3, 2, 30, 40)
        expected = np.stack([pipeline(e) for e in streams]).astype(np.float16)
        assert np.array_equal(store.read(np.arange(11)), expected)
    assert build_from(zip(streams, labels), pipeline, tmp_path, progress=False,
                      shard_samples=4) == a  # same content, same key: reused
    with pytest.raises(ValueError, match="sensor_size"):
        build_from([(tonic_arrays[0], 0)], pipeline, tmp_path / "c", progress=False)
    # a stream of another sensor size fails alone, named in the error list
    odd = moving_bar(rng, 300, (20, 20), 0, 100_000)
    with pytest.raises(SampleErrors, match="1 sample"):
        build_from([(streams[0], 0), (odd, 1), (streams[1], 2)], pipeline, tmp_path / "d",
                   sensor_size=(40, 30), progress=False)
    path = build_from([(streams[0], 0), (odd, 1), (streams[1], 2)], pipeline, tmp_path / "d",
                      sensor_size=(40, 30), progress=False, allow_errors=True)
    store = open_store(path)
    assert list(store.failed) == [1] and "sensor size" in store.errors[0]["reason"]
    # all of one other size: each fails alone, nothing of the wrong shape is written
    with pytest.raises(SampleErrors, match="2 sample"):
        build_from([(odd, 0), (odd, 1)], pipeline, tmp_path / "e", sensor_size=(40, 30),
                   progress=False)
    assert np.array_equal(store.read([2])[0], pipeline(streams[1]).astype(np.float16))


def test_direct_shards_match_zarr_both_ways(tmp_path: Path) -> None:
    import zarr
    from zarr.codecs import BloscCodec, ZstdCodec

    rng = np.random.default_rng(0)
    values = rng.normal(size=(23, 3, 5, 7)).astype(np.float16)
    values[4] = 0  # an all-fill chunk, which zarr leaves out of the shard
    for name, compressors in (("none", None), ("blosc", BloscCodec(cname="lz4")),
                              ("zstd", ZstdCodec(level=3))):
        group = zarr.open_group(tmp_path / f"{name}.zarr", mode="w")
        ours = group.create_array("ours", shape=values.shape, chunks=(1, 3, 5, 7),
                                  shards=(10, 3, 5, 7), dtype="float16", fill_value=0,
                                  compressors=compressors)
        io = ShardIO(fast_path(tmp_path / f"{name}.zarr" / "ours"))
        for s, lo in enumerate(range(0, 23, 10)):
            io.write_shard(s, values[lo:lo + 10])
        assert np.array_equal(ours[:], values)  # zarr-python reads our shards
        theirs = group.create_array("theirs", shape=values.shape, chunks=(1, 3, 5, 7),
                                    shards=(10, 3, 5, 7), dtype="float16", fill_value=0,
                                    compressors=compressors)
        theirs[:] = values
        reader = ShardIO(fast_path(tmp_path / f"{name}.zarr" / "theirs"))
        rows = np.array([0, 3, 4, 9, 10, 22])
        assert np.array_equal(reader.read_rows(rows), values[rows])  # we read zarr's


def test_direct_row_ranges_across_chunks_and_shards(tmp_path: Path) -> None:
    import zarr

    values = np.arange(31, dtype=np.int64) * 7 - 50
    group = zarr.open_group(tmp_path / "r.zarr", mode="w")
    arr = group.create_array("t", shape=(31,), chunks=(4,), shards=(12,), dtype="int64",
                             fill_value=0)
    io = ShardIO(fast_path(tmp_path / "r.zarr" / "t"))
    for s, lo in enumerate(range(0, 31, 12)):
        io.write_shard(s, values[lo:lo + 12])
    assert np.array_equal(arr[:], values)
    reader = ShardIO(fast_path(tmp_path / "r.zarr" / "t"))
    for lo, hi in ((0, 31), (3, 5), (11, 13), (12, 24), (23, 31), (30, 31), (7, 7)):
        assert np.array_equal(reader.read_range(lo, hi), values[lo:hi]), (lo, hi)


def test_other_codec_chain_is_read_through_zarr(tmp_path: Path) -> None:
    import zarr

    group = zarr.open_group(tmp_path / "x.zarr", mode="w")
    group.create_array("a", shape=(4, 2), chunks=(2, 2), dtype="int16")  # no sharding
    assert fast_path(tmp_path / "x.zarr" / "a") is None


def test_float16_kernel_matches_numpy_bit_for_bit() -> None:
    from eventcompress.cache._float16 import float32_to_float16

    rng = np.random.default_rng(7)
    x = rng.integers(0, 2**32, 400_000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    edges = np.array([0.0, -0.0, 65504, 65519.99, 65520, 2**-24, 2**-25, 3 * 2**-25, 2**-26,
                      2**-14, 2**-14 * (1 - 2**-11), 1.5 * 2**-24, 2.5 * 2**-24, np.inf,
                      -np.inf, -70_000, 1 + 2**-11, 1 + 3 * 2**-11], np.float32)
    x = np.concatenate([x, edges, rng.normal(0, 3, 10_000).astype(np.float32)])
    ours, saturated = float32_to_float16(x)
    finite = ~np.isnan(x)
    reference = np.clip(x[finite], -65504, 65504).astype(np.float16)
    assert np.array_equal(ours[finite].view(np.uint16), reference.view(np.uint16))
    assert np.isnan(ours[np.isnan(x)]).all()
    assert saturated == int(np.sum(np.abs(x[finite]) > 65504))


def test_saturation_is_counted_not_wrapped() -> None:
    values = np.array([[-5.0, 1.0, 70_000.0, 300.0]], np.float32)
    stored, saturated = to_storage(values, np.dtype(np.float16))
    assert saturated == 1 and stored[0, 2] == np.finfo(np.float16).max
    counts = np.array([0, 255, 256, 70_000], np.int32)
    stored, saturated = to_storage(counts, np.dtype(np.uint8))
    assert saturated == 2 and list(stored) == [0, 255, 255, 255]


def test_uint8_store_reports_saturation(nmnist_small: Path, tmp_path: Path) -> None:
    pipeline = Pipeline(steps=(Downsample(17),), representation=FrameConfig(n_time_bins=2))
    path = build("nmnist", nmnist_small, "test", pipeline, tmp_path, dtype="uint8",
                 progress=False, jobs=1)
    store = open_store(path)
    samples = get_dataset("nmnist").samples(nmnist_small, "test")
    full = np.stack([pipeline(load_sample(s)) for s in samples])
    assert store.saturated == int(np.sum(full > 255)) > 0 and np.any(full < 255)
    assert np.array_equal(store.read(np.arange(len(samples))), np.minimum(full, 255))


def test_other_format_version_is_refused(nmnist_small: Path, tmp_path: Path) -> None:
    import zarr

    pipeline = Pipeline(representation=STCConfig(steps=2))
    path = build("nmnist", nmnist_small, "test", pipeline, tmp_path, progress=False, jobs=1)
    meta_path = path / "zarr.json"
    meta = json.loads(meta_path.read_text())
    meta["attributes"]["format_version"] = 0
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(StoreError, match="format version 0, this eventcompress reads version 1"):
        open_store(path)
    with pytest.raises(StoreError, match="format version 0"):
        build("nmnist", nmnist_small, "test", pipeline, tmp_path, progress=False, jobs=1)
    again = build("nmnist", nmnist_small, "test", pipeline, tmp_path, progress=False, jobs=1,
                  rebuild=True)
    assert again == path and open_store(path).attrs["format_version"] == 1
    zarr.open_group(tmp_path / "foreign.zarr", mode="w")
    with pytest.raises(StoreError, match="not an eventcompress cache store"):
        open_store(tmp_path / "foreign.zarr")


def _read_in_child(args: tuple[object, list[int]]) -> np.ndarray:
    store, indices = args
    return store.read(indices)  # type: ignore[attr-defined]


@pytest.mark.parametrize("backend", ["zarr", "hdf5"])
def test_concurrent_and_forked_readers(nmnist_small: Path, tmp_path: Path, backend: str
                                       ) -> None:
    path = build("nmnist", nmnist_small, "test", Pipeline(representation=STCConfig(steps=3)),
                 tmp_path, backend=backend, progress=False, jobs=1, shard_samples=16)
    store = open_store(path)
    everything = store.read(np.arange(len(store)))  # handles opened here, before the fork
    batches = [list(np.random.default_rng(k).choice(len(store), 24)) for k in range(8)]
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2) as pool:
        results = pool.map(_read_in_child, [(store, b) for b in batches])
    for b, r in zip(batches, results):
        assert np.array_equal(r, everything[b])
    clone = pickle.loads(pickle.dumps(store))
    assert clone._reader is None and np.array_equal(clone.read([5, 1]), everything[[5, 1]])
