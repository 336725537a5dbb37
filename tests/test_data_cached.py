"""CachedDataset, EventDataset, eventcompress.load, the splits and the collate functions.

Small synthetic stores (``build_from``) serve most tests; the comparisons with the source
layout and with on-the-fly processing use the real N-MNIST sample (skipped without it). The
DataLoader worker tests are few because each start of workers costs seconds.
"""

from __future__ import annotations

import multiprocessing
import shutil

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import eventcompress as ec
from eventcompress import Events
from eventcompress.cache import build_from, open_store
from eventcompress.data import (
    CachedDataset,
    EventDataset,
    batch_collate,
    pad_collate,
    time_first_collate,
    train_val_split,
)
from eventcompress.data.collate import SampleBatch
from eventcompress.data.loading import default_cache_dir
from eventcompress.datasets import get_dataset
from eventcompress.errors import StoreError
from eventcompress.kernels import Denoise, FrameConfig, Pipeline, STCConfig

STC = Pipeline(representation=STCConfig(steps=4, tau_s=50_000.0))


def streams(n: int, seed: int = 0, sensor=(12, 10)):
    rng = np.random.default_rng(seed)
    for k in range(n):
        m = int(rng.integers(5, 200))
        yield Events(rng.integers(0, sensor[0], m), rng.integers(0, sensor[1], m),
                     np.sort(rng.integers(0, 100_000, m)), rng.integers(0, 2, m), sensor), k % 3


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """Dense (compressed and uncompressed), ragged and events stores of 300 samples."""
    out = tmp_path_factory.mktemp("stores")
    ragged = Pipeline(representation=FrameConfig(time_window=20_000.0))
    return {
        "dense": build_from(streams(300), STC, out, progress=False),
        "raw": build_from(streams(300), STC, out / "raw", codec="none", progress=False),
        "ragged": build_from(streams(300), ragged, out, progress=False),
        "events": build_from(streams(300), Pipeline(), out, progress=False),
        "h5": build_from(streams(300), STC, out, backend="hdf5", progress=False),
        "counts": build_from(streams(300), Pipeline(representation=FrameConfig(n_time_bins=3)),
                             out, progress=False),  # stored as uint16
    }


def expected_dense(path) -> torch.Tensor:
    store = open_store(path)
    return torch.from_numpy(store.read(np.arange(len(store)))).float()


# -- dense stores ----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["dense", "raw", "h5", "counts"])
def test_in_memory_lazy_getitem_and_getitems_agree(stores, kind):
    ref = expected_dense(stores[kind])
    lazy = CachedDataset(stores[kind], in_memory=False)
    mem = CachedDataset(stores[kind], in_memory=True)
    assert not lazy.in_memory and mem.in_memory
    assert (lazy._mapped is not None) == (kind != "h5")  # zarr shards are memory-mapped
    idx = [7, 299, 0, 7, -1, 150]
    for ds in (lazy, mem):
        batch = ds.__getitems__(idx)
        assert isinstance(batch, SampleBatch) and batch.x.dtype == torch.float32
        assert torch.equal(batch.x, ref[idx])
        assert torch.equal(batch.labels, torch.from_numpy(ds.labels[idx]))
        for i in idx:
            x, y = ds[i]
            assert torch.equal(x, ref[i]) and y == int(ds.labels[i])
    stored = CachedDataset(stores[kind], in_memory=False, dtype=None)
    assert stored[3][0].dtype == (torch.uint16 if kind == "counts" else torch.float16)
    with pytest.raises(IndexError, match="300"):
        lazy[300]


def test_metadata_without_reading_tensors(stores, monkeypatch):
    store = open_store(stores["dense"])
    monkeypatch.setattr(type(store), "read", lambda *a: pytest.fail("read tensor data"))
    ds = CachedDataset(store, in_memory=False)
    assert len(ds) == 300 and ds.labels.dtype == np.int64
    assert ds.labels.tolist() == [k % 3 for k in range(300)]
    assert ds.sample_ids[5] == "5" and ds.pipeline == STC and ds.classes == ("0", "1", "2")


def test_auto_in_memory_follows_the_memory_share(stores):
    assert CachedDataset(stores["dense"]).in_memory
    assert not CachedDataset(stores["dense"], memory_fraction=1e-12).in_memory


def test_default_collate_takes_the_batch_without_copying(stores):
    ds = CachedDataset(stores["dense"], in_memory=True)
    batch = ds.__getitems__([1, 2, 3])
    x, y = torch.utils.data.default_collate(batch)
    assert x is batch.x and y is batch.labels
    xs, ys = batch_collate(batch)
    assert xs is batch.x
    tx, _ = time_first_collate(batch)
    assert tx.shape == (4, 3, 2, 10, 12) and torch.equal(tx[:, 1], batch.x[1])
    # rows taken out of their batch are stacked
    x2, y2 = torch.utils.data.default_collate([batch[0], batch[2]])
    assert torch.equal(x2, batch.x[[0, 2]]) and y2.tolist() == [1, 0]


def test_transform_gets_index_and_epoch(stores):
    from eventcompress.data.augment import RandomFlip

    aug = RandomFlip(p=0.5, seed=3)
    ds = CachedDataset(stores["dense"], transform=aug, target_transform=lambda y: y + 10)
    plain = CachedDataset(stores["dense"])
    ds.set_epoch(2)
    batch = ds.__getitems__([4, 9])
    for k, i in enumerate([4, 9]):
        assert torch.equal(batch.x[k], aug(plain[i][0], index=i, epoch=2))
        assert batch.labels[k] == plain.labels[i] + 10
    assert torch.equal(ds[4][0], batch.x[0])


# -- DataLoaders -----------------------------------------------------------------------------
def test_fast_loader_in_the_main_process_and_time_first(stores):
    ds = CachedDataset(stores["dense"], in_memory=True)
    ref = expected_dense(stores["dense"])
    gen = torch.Generator().manual_seed(4)
    order = torch.randperm(300, generator=torch.Generator().manual_seed(4))
    got = torch.cat([x for x, _ in ds.loader(batch_size=64, shuffle=True, generator=gen)])
    assert torch.equal(got, ref[order])
    x, y = next(iter(ds.loader(batch_size=8, time_first=True)))
    assert x.shape == (4, 8, 2, 10, 12) and torch.equal(x[:, 3], ref[3])


@pytest.mark.parametrize("workers", [0, 2])
def test_fast_loader_in_a_given_order_draws_nothing_global(stores, workers):
    """``order=``: the training engine's fixed batches of a split, read through the fast path
    (ring with forked workers), exactly those rows, without touching the global RNG."""
    from eventcompress.train.data import make_loader

    ds = CachedDataset(stores["dense"], in_memory=True)
    ref = expected_dense(stores["dense"])
    _, split = train_val_split(ds, 0.5, seed=1)
    rows = torch.randperm(len(split), generator=torch.Generator().manual_seed(2)).tolist()
    batches = [rows[i:i + 16] for i in range(0, len(rows), 16)]
    state = torch.get_rng_state()
    loader = make_loader(split, batches, workers)
    assert loader.dataset is not split  # the fast loader's, not a plain DataLoader
    if workers:
        loader.multiprocessing_context = multiprocessing.get_context("fork")
    got = [(x.clone(), y.clone()) for x, y in loader]
    assert torch.equal(torch.get_rng_state(), state)
    parent_rows = np.asarray(split.indices)[np.asarray(rows)]
    assert [len(x) for x, _ in got] == [len(b) for b in batches]
    assert torch.equal(torch.cat([x for x, _ in got]), ref[parent_rows])
    assert torch.cat([y for _, y in got]).tolist() == ds.labels[parent_rows].tolist()


def test_workers_fork_ring_and_plain_loader(stores, monkeypatch):
    """Two forked workers: the shared-memory ring gives the same batches as the data, also
    when the loop keeps every batch alive (slots run out: the ordinary path takes over), and
    a plain DataLoader over the dataset gives them too."""
    from eventcompress.data.ring import BatchRing

    views = []
    real_view = BatchRing.view
    monkeypatch.setattr(BatchRing, "view", lambda self, *a: views.append(a) or real_view(self, *a))
    ctx = multiprocessing.get_context("fork")
    ref = expected_dense(stores["raw"])
    lazy = CachedDataset(stores["raw"], in_memory=False)
    loader = lazy.loader(batch_size=32, num_workers=2, slots_per_worker=1,
                         multiprocessing_context=ctx, persistent_workers=True)
    for _ in range(2):  # two epochs through the same persistent workers
        kept = list(loader)
        assert torch.equal(torch.cat([x for x, _ in kept]), ref)
        assert torch.cat([y for _, y in kept]).tolist() == lazy.labels.tolist()
    assert int(loader.dataset.ring.fallbacks.sum()) > 0  # kept batches held the slots
    views.clear()
    free_running = sum(len(x) for x, _ in loader)  # batches dropped at once reuse the slots
    assert free_running == 300 and len(views) >= 2  # one slot per worker: about half
    plain = DataLoader(lazy, batch_size=50, num_workers=2, multiprocessing_context=ctx)
    assert torch.equal(torch.cat([x for x, _ in plain]), ref)


def test_workers_spawn_in_memory(stores):
    ctx = multiprocessing.get_context("spawn")
    mem = CachedDataset(stores["dense"], in_memory=True)
    loader = mem.loader(batch_size=100, num_workers=2, multiprocessing_context=ctx)
    got = [x.clone() for x, _ in loader]
    assert torch.equal(torch.cat(got), expected_dense(stores["dense"]))


# -- ragged and events stores ----------------------------------------------------------------
def test_ragged_store_per_sample_length_and_padding(stores):
    ds = CachedDataset(stores["ragged"], in_memory=False)
    mem = CachedDataset(stores["ragged"], in_memory=True)
    store = open_store(stores["ragged"])
    lengths = np.diff(store.offsets)
    assert ds.ragged and len(set(lengths.tolist())) > 1
    items = [ds[i] for i in (0, 1, 2, 3)]
    for i, (x, _) in enumerate(items):
        assert x.shape[0] == lengths[i]
        np.testing.assert_array_equal(x.numpy(), store.read_one(i).astype(np.float32))
        assert torch.equal(mem[i][0], x)
    xb, yb, lb = pad_collate(items)
    assert lb.tolist() == lengths[:4].tolist() and xb.shape[1] == lengths[:4].max()
    for i, (x, _) in enumerate(items):
        assert torch.equal(xb[i, : lb[i]], x) and xb[i, lb[i]:].abs().sum() == 0
    x, y, lens = next(iter(ds.loader(batch_size=4, time_first=True)))
    assert x.shape[:2] == (lengths[:4].max(), 4) and torch.equal(lens, lb)


def test_pad_collate_exact_values():
    a, b = torch.ones(2, 3), 2 * torch.ones(4, 3)
    x, y, n = pad_collate([(a, 1), (b, 0)], value=-1.0)
    assert x.shape == (2, 4, 3) and n.tolist() == [2, 4] and y.tolist() == [1, 0]
    assert torch.equal(x[0, 2:], -torch.ones(2, 3)) and torch.equal(x[1], b)
    with pytest.raises(ValueError, match="other dimensions"):
        pad_collate([(a, 1), (torch.ones(2, 4), 0)])


def test_events_store_through_both_datasets(stores):
    cached = CachedDataset(stores["events"])
    on_the_fly = EventDataset(stores["events"], None, None, STC)
    evs = list(streams(300))
    for i in (0, 17, 299):
        ev = evs[i][0]
        x, _ = cached[i]
        assert x.dtype == torch.int64 and x.shape == (len(ev), 4)
        assert x[:, 2].tolist() == ev.t.tolist() and x[:, 0].tolist() == ev.x.tolist()
        np.testing.assert_array_equal(on_the_fly[i][0].numpy(), STC(ev))
    assert on_the_fly.labels.tolist() == cached.labels.tolist()


# -- against the source layout (real N-MNIST) ------------------------------------------------
@pytest.fixture(scope="module")
def nmnist_cache(nmnist_small, tmp_path_factory):
    return tmp_path_factory.mktemp("ec-cache")


def test_load_matches_the_layout_and_on_the_fly_processing(nmnist_small, nmnist_cache):
    pipe = Pipeline(steps=(Denoise(5000),), representation=STCConfig(steps=4, tau_s=50_000.0))
    ds = ec.load("nmnist", nmnist_small, "train", pipe, nmnist_cache,
                 build_kwargs={"progress": False, "jobs": 1})
    samples = get_dataset("nmnist").samples(nmnist_small, "train")
    assert len(ds) == len(samples) == 1000
    assert ds.labels.tolist() == [s.label for s in samples]
    assert ds.sample_ids.tolist() == [s.id for s in samples]
    assert ds.classes == tuple(str(d) for d in range(10))
    fly = EventDataset("nmnist", nmnist_small, "train", pipe)
    assert fly.labels.tolist() == ds.labels.tolist()
    for i in (0, 431, 999):
        x, y = ds[i]
        fx, fy = fly[i]
        assert y == fy and torch.equal(x, fx.half().float())  # the store keeps float16
    # a recipe-like object (anything with .pipeline) finds the same store
    again = ec.load("nmnist", nmnist_small, "train", type("R", (), {"pipeline": pipe})(),
                    nmnist_cache, build_kwargs={"progress": False})
    assert again.path == ds.path


def test_load_refuses_a_stale_store(nmnist_small, tmp_path):
    root = tmp_path / "NMNIST"
    for digit in ("0", "1"):
        (root / "Train" / digit).mkdir(parents=True)
        for f in sorted((nmnist_small / "Train" / digit).glob("*.bin"))[:6]:
            shutil.copy(f, root / "Train" / digit / f.name)
    kw = {"build_kwargs": {"progress": False, "jobs": 1}}
    ds = ec.load("nmnist", root, "train", STC, tmp_path / "cache", **kw)
    assert len(ds) == 12
    victim = sorted((root / "Train" / "1").glob("*.bin"))[0]
    victim.write_bytes(victim.read_bytes()[:-5] + b"\x00" * 5)  # same size, new content
    import os
    os.utime(victim, (1, 1))
    with pytest.raises(StoreError, match=victim.name):
        ec.load("nmnist", root, "train", STC, tmp_path / "cache", **kw)


# -- splits and the cache folder -------------------------------------------------------------
class _LabelsOnly(torch.utils.data.Dataset):
    def __init__(self, labels):
        self.labels = np.asarray(labels)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        raise AssertionError("the split must not read samples")


def test_train_val_split_is_stratified_seeded_and_disjoint():
    labels = np.repeat(np.arange(5), [10, 20, 30, 40, 7])
    ds = _LabelsOnly(labels)
    train, val = train_val_split(ds, 0.2, seed=3)
    again_train, again_val = train_val_split(ds, 0.2, seed=3)
    assert np.array_equal(val.indices, again_val.indices)
    assert not np.array_equal(val.indices, train_val_split(ds, 0.2, seed=4)[1].indices)
    assert isinstance(val.indices, np.ndarray) and val.indices.dtype == np.int64
    assert set(train.indices) | set(val.indices) == set(range(len(labels)))
    assert not set(train.indices) & set(val.indices)
    assert np.bincount(val.labels).tolist() == [2, 4, 6, 8, 1]  # floor(0.2 n + 0.5)
    sub_train, sub_val = train_val_split(train, 0.5, seed=0)  # subsets keep their labels
    assert len(sub_train) + len(sub_val) == len(train)


def test_subset_batches_use_the_parent_batch_read(stores):
    ds = CachedDataset(stores["dense"], in_memory=False)
    train, val = train_val_split(ds, 0.25, seed=0)
    batch = val.__getitems__([0, 1, 2])
    assert isinstance(batch, SampleBatch)
    assert torch.equal(batch.x, ds.__getitems__(val.indices[:3].tolist()).x)
    x, y = next(iter(DataLoader(val, batch_size=5)))
    assert torch.equal(y, torch.from_numpy(ds.labels[val.indices[:5]]))
    got = torch.cat([y for _, y in val.loader(batch_size=16)])
    assert got.tolist() == ds.labels[val.indices].tolist()  # the subset's rows only, in order
    gen = torch.Generator().manual_seed(1)
    shuffled = [x for x, _ in val.loader(batch_size=16, shuffle=True, generator=gen)]
    ref = expected_dense(stores["dense"])[val.indices]
    assert sorted(map(tuple, torch.cat(shuffled).flatten(1).tolist())) == \
        sorted(map(tuple, ref.flatten(1).tolist()))


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("EVENTCOMPRESS_CACHE", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("EVENTCOMPRESS_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "eventcompress"
