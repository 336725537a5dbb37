"""Cache builds on a Dask LocalCluster (2 worker processes on 127.0.0.1): the store is the same,
file for file, as a local build; a worker killed mid-task, a bad recording, an interrupted
client and a worker that cannot see the source are handled. One cluster for the module
(starting one costs seconds)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from eventcompress.cache import build, build_store, open_store
from eventcompress.cache.builder import SampleErrors
from eventcompress.errors import ConfigError, StoreError
from eventcompress.kernels import Pipeline, STCConfig
from tools import synth

distributed = pytest.importorskip("distributed", reason="the eventcompress[dask] extra")
from eventcompress.cache.dask_executor import DaskExecutor  # noqa: E402

STC = Pipeline(representation=STCConfig(steps=3, tau_s=50_000.0))
EVENTS = Pipeline()


@pytest.fixture(scope="module")
def client():
    import logging

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None,
                                  silence_logs=logging.ERROR) as cluster, \
            distributed.Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return synth.write_nmnist(tmp_path_factory.mktemp("nmnist"), n_train=0, n_test=32)


def tree(path: Path) -> dict[str, bytes]:
    """Every file of a store by relative path; the root attributes without the build time."""
    out = {}
    for f in sorted(path.rglob("*")):
        if f.is_file():
            out[str(f.relative_to(path))] = f.read_bytes()
    meta = json.loads(out.pop("zarr.json"))
    meta["attributes"].pop("created")
    out["zarr.json"] = json.dumps(meta, sort_keys=True).encode()
    return out


def local_store(root: Path, out: Path, pipeline: Pipeline, **kw) -> Path:
    return build("nmnist", root, "test", pipeline, out, jobs=1, progress=False,
                 shard_samples=8, **kw)


def dask_store(root: Path, out: Path, pipeline: Pipeline, client, **kw):
    return build_store("nmnist", root, "test", pipeline, out, progress=False, shard_samples=8,
                       executor=DaskExecutor(client=client), **kw)


@pytest.mark.parametrize("pipeline", [STC, EVENTS], ids=["dense-stc", "events"])
def test_dask_build_is_file_for_file_a_local_build(root, tmp_path, client, pipeline):
    a = local_store(root, tmp_path / "local", pipeline)
    report = dask_store(root, tmp_path / "dask", pipeline, client)
    assert report.path.name == a.name and report.computed == 32
    assert not report.path.with_name(report.path.name + ".partial").exists()
    assert tree(report.path) == tree(a)
    assert len(open_store(report.path)) == 32


def test_dask_hdf5_build_equals_a_local_one(root, tmp_path, client):
    from cache_helpers import assert_same_store

    a = local_store(root, tmp_path / "local", STC, backend="hdf5")
    report = dask_store(root, tmp_path / "dask", STC, client, backend="hdf5")
    assert report.path.name == a.name and report.path.suffix == ".h5"
    assert_same_store(report.path, a)


def test_interrupted_client_leaves_a_partial_that_a_later_build_resumes(root, tmp_path, client):
    class StopsAfterTwo(DaskExecutor):
        def imap_unordered(self, fn, tasks, window):
            for k, item in enumerate(super().imap_unordered(fn, tasks, window=1)):
                if k == 2:
                    raise KeyboardInterrupt
                yield item

    with pytest.raises(KeyboardInterrupt):
        build("nmnist", root, "test", STC, tmp_path / "d", progress=False, shard_samples=8,
              executor=StopsAfterTwo(client=client))
    (partial,) = (tmp_path / "d").glob("*.partial")
    import zarr  # open_store refuses a partial store: read its markers directly

    assert int((zarr.open_group(partial, mode="r")["done"][:] > 0).sum()) == 16
    report = dask_store(root, tmp_path / "d", STC, client)
    assert report.computed == 16  # the two finished shards were not resubmitted
    assert tree(report.path) == tree(local_store(root, tmp_path / "local", STC))


def test_bad_recording_is_reported_as_in_a_local_build(root, tmp_path, client):
    import shutil

    bad_root = tmp_path / "src"
    shutil.copytree(root, bad_root)
    victim = sorted((bad_root / "Test").rglob("*.bin"))[5]
    victim.write_bytes(victim.read_bytes()[:7])  # not a whole number of 5-byte events
    with pytest.raises(SampleErrors) as info:
        dask_store(bad_root, tmp_path / "dask", STC, client)
    a = local_store(bad_root, tmp_path / "local", STC, allow_errors=True)
    assert info.value.errors == open_store(a).errors and len(info.value.errors) == 1
    assert info.value.errors[0]["file"].endswith(victim.name)
    assert tree(Path(info.value.path)) == tree(a)


def test_worker_that_cannot_see_the_source_root_says_so(tmp_path, client):
    from eventcompress.cache.shard_task import ShardTask, compute_and_write_shard

    missing = str(tmp_path / "not-mounted-here")
    future = client.submit(compute_and_write_shard, ShardTask(0, str(tmp_path), [], missing),
                           pure=False)
    with pytest.raises(StoreError, match=r"worker .* cannot see the source root .*not-mounted"):
        future.result()
    (tmp_path / "src").mkdir()
    future = client.submit(compute_and_write_shard,
                           ShardTask(0, str(tmp_path / "x.partial"), [], str(tmp_path / "src")),
                           pure=False)
    with pytest.raises(StoreError, match="cannot see the store being built"):
        future.result()


def test_missing_extra_names_it(monkeypatch):
    import sys

    from eventcompress.cache.executor import get_executor

    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ConfigError, match=r"eventcompress\[dask\]"):
        get_executor("dask", 2).start()


def test_the_cache_package_imports_no_dask_until_asked():
    import subprocess
    import sys

    code = ("import sys; from eventcompress.cache.executor import get_executor; "
            "get_executor('local', 1); get_executor('dask', 2); "
            "assert 'distributed' not in sys.modules, 'imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60,
                   env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})


def test_cli_builds_on_a_running_scheduler(root, tmp_path, client, capsys):
    from eventcompress.cli import main

    address = client.scheduler.address
    assert address.startswith("tcp://127.0.0.1:")
    assert main(["cache", "build", "nmnist", "--quiet", "--root", str(root), "--split", "test",
                 "--out", str(tmp_path), "--steps", "3", "--tau-s", "50000", "--executor",
                 "dask", "--scheduler", address]) == 0
    path = Path(capsys.readouterr().out.strip())
    assert tree(path) == tree(build("nmnist", root, "test", STC, tmp_path / "local", jobs=1,
                                    progress=False))


def _slow_shards() -> None:
    """On a worker: every shard task takes at least 0.3 s, so that a kill lands mid-task."""
    from eventcompress.cache import shard_task

    original = shard_task.compute_task

    def slow(task):
        time.sleep(0.3)
        return original(task)

    shard_task.compute_task = slow


def test_worker_killed_mid_task_is_retried_and_the_store_is_complete(root, tmp_path, client):
    """Last in the module: the killed worker is restarted by its nanny."""
    client.run(_slow_shards)
    pids = client.run(os.getpid)
    killed: list[tuple[str, int]] = []

    def killer() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not killed:
            busy = [w for w, keys in client.processing().items() if keys]
            if busy:
                os.kill(pids[busy[0]], signal.SIGKILL)
                killed.append((busy[0], pids[busy[0]]))
            time.sleep(0.05)

    thread = threading.Thread(target=killer)
    thread.start()
    try:
        report = dask_store(root, tmp_path / "dask", STC, client)
    finally:
        thread.join()
    assert killed, "no worker was busy during the build"
    assert killed[0][1] not in client.run(os.getpid).values()  # it really died
    assert report.computed == 32
    assert tree(report.path) == tree(local_store(root, tmp_path / "local", STC))
