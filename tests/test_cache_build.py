"""Building stores from dataset folders: real N-MNIST, mini AEDAT 2.0 / 3.1 datasets, both
backends; keys, reuse, stale sources, bad samples."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from cache_helpers import expected_entries, make_cifar, make_gesture

from eventcompress.cache import build, build_store, open_store
from eventcompress.cache.builder import SampleErrors
from eventcompress.cache.format import BUILT, FAILED
from eventcompress.datasets import get_dataset
from eventcompress.errors import StoreError
from eventcompress.kernels import Downsample, Pipeline, STCConfig, process_many

STC4 = Pipeline(representation=STCConfig(steps=4, tau_s=50_000.0))


@pytest.mark.parametrize("backend", ["zarr", "hdf5"])
def test_nmnist_small_both_splits(nmnist_small: Path, tmp_path: Path, backend: str) -> None:
    from eventcompress.datasets import load_sample

    ds = get_dataset("nmnist")
    for split, n in (("train", 1000), ("test", 100)):
        path = build("nmnist", nmnist_small, split, STC4, tmp_path, backend=backend,
                     progress=False, jobs=1)
        assert path.name.startswith(f"nmnist-{split}-") and path.suffix == \
            {"zarr": ".zarr", "hdf5": ".h5"}[backend]
        store = open_store(path)
        samples = ds.samples(nmnist_small, split)
        assert len(store) == n == len(samples)
        assert store.shape == (4, 2, 34, 34) and store.dtype == np.float16 and not store.ragged
        assert list(store.sample_ids) == [s.id for s in samples]
        assert store.labels.dtype == np.int64
        assert np.array_equal(store.labels, [s.label for s in samples])
        assert np.all(store.status == BUILT)
        # the whole split against process_many, element for element after the float16 cast
        pick = np.arange(0, n, 7) if split == "train" else np.arange(n)
        events = [load_sample(samples[i]) for i in pick]
        expected = process_many(events, STC4).astype(np.float16)
        shuffled = np.random.default_rng(1).permutation(len(pick))
        assert np.array_equal(store.read(pick[shuffled]), expected[shuffled])
        assert np.array_equal(store.event_counts[pick], [len(e) for e in events])
        assert store.pipeline == STC4
        a = store.attrs
        assert a["dataset"] == "nmnist" and a["split"] == split and a["layout"] == "original"
        assert a["pipeline_sha256"] == STC4.sha256() and a["n_source_files"] == n
        assert a["format_version"] == 1 and a["complete"] and a["errors"] == []


def test_reuse_and_new_key_per_parameter(nmnist_small: Path, tmp_path: Path) -> None:
    first = build("nmnist", nmnist_small, "test", STC4, tmp_path, progress=False, jobs=1)
    shard = next((first / "data" / "c").rglob("0"))
    before = shard.stat().st_mtime_ns
    report = build_store("nmnist", nmnist_small, "test", STC4, tmp_path, progress=False)
    assert report.reused and report.path == first and shard.stat().st_mtime_ns == before
    other = Pipeline(representation=STCConfig(steps=4, tau_s=60_000.0))
    second = build("nmnist", nmnist_small, "test", other, tmp_path, progress=False, jobs=1)
    assert second != first and second.name.startswith("nmnist-test-")
    assert open_store(second).pipeline == other
    assert not np.array_equal(open_store(first).read([0]), open_store(second).read([0]))


def _copy_split(src: Path, dst: Path, per_class: int) -> Path:
    for digit in range(10):
        files = sorted((src / "Test" / str(digit)).glob("*.bin"))[:per_class]
        (dst / "Test" / str(digit)).mkdir(parents=True)
        for f in files:
            shutil.copy2(f, dst / "Test" / str(digit) / f.name)
    return dst


def test_touched_source_is_refused_naming_the_file(nmnist_small: Path, tmp_path: Path) -> None:
    root = _copy_split(nmnist_small, tmp_path / "data", 2)
    path = build("nmnist", root, "test", STC4, tmp_path / "cache", progress=False, jobs=1)
    victim = sorted((root / "Test" / "3").glob("*.bin"))[0]
    st = victim.stat()
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    with pytest.raises(StoreError, match=rf"Test/3/{victim.name} changed \(mtime"):
        open_store(path)
    assert len(open_store(path, check_source=False)) == 20
    with pytest.raises(StoreError, match=f"Test/3/{victim.name} changed"):
        build("nmnist", root, "test", STC4, tmp_path / "cache", progress=False, jobs=1)
    fresh = build("nmnist", root, "test", STC4, tmp_path / "cache", progress=False, jobs=1,
                  rebuild=True)
    assert fresh != path and not path.exists() and len(open_store(fresh)) == 20


def test_truncated_file_is_named_and_the_rest_is_built(nmnist_small: Path, tmp_path: Path
                                                        ) -> None:
    root = _copy_split(nmnist_small, tmp_path / "data", 3)
    victim = sorted((root / "Test" / "5").glob("*.bin"))[1]
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2 + 2])  # mid-record: not a multiple of 5 bytes
    out = tmp_path / "cache"
    with pytest.raises(SampleErrors) as info:
        build("nmnist", root, "test", STC4, out, progress=False, jobs=1, shard_samples=8)
    assert str(victim) in str(info.value) and len(info.value.errors) == 1
    error = info.value.errors[0]
    assert error["file"] == str(victim) and "Truncated" in error["reason"]
    # the store is complete: the others are built, the bad one marked failed (zeros)
    path = build("nmnist", root, "test", STC4, out, progress=False, allow_errors=True)
    store = open_store(path)
    bad = int(error["index"])
    assert store.sample_ids[bad] == f"Test/5/{victim.stem}"
    n = len(get_dataset("nmnist").samples(root, "test"))
    assert list(store.failed) == [bad] and store.status_counts() == {"built": n - 1, "failed": 1}
    assert not store.read([bad]).any()
    assert store.status[bad] == FAILED
    good = [i for i in range(n) if i != bad]
    _, expected = expected_entries("nmnist", root, "test", STC4, np.float16, skip={bad})
    assert np.array_equal(store.read(good), np.stack([expected[i] for i in good]))
    assert store.errors == info.value.errors


@pytest.mark.parametrize("backend", ["zarr", "hdf5"])
def test_mini_cifar10dvs_aedat2(tmp_path: Path, backend: str) -> None:
    root = make_cifar(tmp_path / "cifar")
    pipeline = Pipeline(steps=(Downsample(4),), representation=STCConfig(steps=3, tau_s=2e5))
    for split, n in (("train", 9), ("test", 6)):
        path = build("cifar10dvs", root, split, pipeline, tmp_path / "out", backend=backend,
                     progress=False, jobs=1, shard_samples=4)
        store = open_store(path)
        samples, expected = expected_entries("cifar10dvs", root, split, pipeline, np.float16)
        assert len(store) == n and store.shape == (3, 2, 32, 32)
        assert np.array_equal(store.read(np.arange(n)), np.stack(expected))
        assert list(store.sample_ids) == [s.id for s in samples]


@pytest.mark.parametrize("backend", ["zarr", "hdf5"])
def test_mini_dvsgesture_aedat3_slices_share_files(tmp_path: Path, backend: str) -> None:
    root = make_gesture(tmp_path / "gesture")
    pipeline = Pipeline(steps=(Downsample(2),), representation=STCConfig(steps=5, tau_s=3e5))
    path = build("dvsgesture", root, "train", pipeline, tmp_path / "out", backend=backend,
                 progress=False, jobs=2, shard_samples=4)
    store = open_store(path)
    samples, expected = expected_entries("dvsgesture", root, "train", pipeline, np.float16)
    assert len(store) == 6 and store.attrs["n_source_files"] == 2  # two trials, 3 cuts each
    # stored trial by trial (each trial decoded once), not in the label order of the listing
    by_id = {s.id: k for k, s in enumerate(samples)}
    order = [by_id[i] for i in store.sample_ids]
    assert sorted(order) == list(range(6)) and order != list(range(6))
    assert [i.split("#")[0] for i in store.sample_ids] == ["user01_natural"] * 3 + \
        ["user02_natural"] * 3
    assert np.array_equal(store.read(np.arange(6)), np.stack([expected[k] for k in order]))
    assert np.array_equal(store.labels, [samples[k].label for k in order])
    assert all(c > 0 for c in store.event_counts)


WORKER_THREADS_SCRIPT = """
import sys
import numba
from cache_helpers import make_gesture
from eventcompress.cache import build, open_store
from eventcompress.cache.executor import LocalExecutor
from eventcompress.kernels import Pipeline, STCConfig
from pathlib import Path

numba.set_num_threads(1)  # launches the parent's pool, as an earlier kernel call would
out = Path(sys.argv[1])
root = make_gesture(out / "gesture")
with LocalExecutor(jobs=2, threads_per_worker=2) as ex:
    path = build("dvsgesture", root, "train", Pipeline(representation=STCConfig(steps=2)),
                 out / "cache", progress=False, executor=ex, shard_samples=4)
print(len(open_store(path)))
"""


def test_workers_asking_more_threads_than_the_forked_pool_has(tmp_path: Path) -> None:
    """A CI host whose os.cpu_count() exceeds the process's CPUs asked forked workers for more
    Numba threads than the inherited pool had; Numba then refused every kernel compile."""
    import subprocess
    import sys

    # an empty Numba cache: the workers compile, and compiling is when Numba re-reads the variable
    env = dict(os.environ, NUMBA_NUM_THREADS="1", NUMBA_CACHE_DIR=str(tmp_path / "numba"),
               PYTHONPATH=os.pathsep.join([str(Path(__file__).parents[1]),
                                           str(Path(__file__).parent)]))
    done = subprocess.run([sys.executable, "-c", WORKER_THREADS_SCRIPT, str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-1] == "6"


def test_usable_cpus_follows_the_affinity_mask() -> None:
    import subprocess
    import sys

    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("no affinity masks on this OS")
    script = ("import os; os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]});"
              "from eventcompress._cpus import usable_cpus;"
              "from eventcompress.cache.executor import LocalExecutor;"
              "print(usable_cpus(), LocalExecutor().jobs)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1])),
                          timeout=120, check=True)
    assert done.stdout.split() == ["1", "1"]


def test_a_store_written_otherwise_than_asked_is_not_served(tmp_path: Path) -> None:
    """Codec and dtype are not in the key: asking for others than the finished store of the
    key holds is an error, never the other store returned as if it were the one asked for."""
    root = make_cifar(tmp_path / "cifar")
    pipeline = Pipeline(steps=(Downsample(4),), representation=STCConfig(steps=3, tau_s=2e5))
    kw = dict(progress=False, jobs=1)
    path = build("cifar10dvs", root, "train", pipeline, tmp_path / "out", **kw)
    assert open_store(path).attrs["codec"] == "blosc-lz4"
    assert build("cifar10dvs", root, "train", pipeline, tmp_path / "out", codec="blosc-lz4",
                 dtype="float16", **kw) == path
    with pytest.raises(StoreError, match=r"codec 'blosc-lz4' \(asked for 'none'\).*rebuild"):
        build("cifar10dvs", root, "train", pipeline, tmp_path / "out", codec="none", **kw)
    with pytest.raises(StoreError, match=r"dtype 'float16' \(asked for 'float32'\)"):
        build("cifar10dvs", root, "train", pipeline, tmp_path / "out", dtype="float32", **kw)
    again = build("cifar10dvs", root, "train", pipeline, tmp_path / "out", codec="none",
                  rebuild=True, **kw)
    assert again == path and open_store(again).attrs["codec"] == "none"
    samples, expected = expected_entries("cifar10dvs", root, "train", pipeline, np.float16)
    assert np.array_equal(open_store(again).read(np.arange(len(samples))), np.stack(expected))
