"""Interrupted builds: SIGKILL a real build process mid-way, resume, and get the store an
uninterrupted build gives; the lock between two builders of one key."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from cache_helpers import assert_same_store

from eventcompress.cache import build, build_store, open_store
from eventcompress.cache.lock import build_lock
from eventcompress.errors import StoreError
from eventcompress.kernels import Downsample, Pipeline, STCConfig

ROOT = Path(__file__).resolve().parents[1]

# The child slows down after each shard it marks done and says so, so that the parent can kill
# it between shards and, as often, in the middle of computing or writing the next one.
CHILD = """
import sys, time
from eventcompress.cache import build
from eventcompress.cache.writer import StoreWriter
from eventcompress.kernels import Pipeline
original = StoreWriter._mark
def slow_mark(self, prog):
    original(self, prog)
    print("marked", prog.lo, flush=True)
    time.sleep(0.15)
StoreWriter._mark = slow_mark
pipeline = Pipeline.from_json(sys.argv[3])
build("nmnist", sys.argv[1], "test", pipeline, sys.argv[2], progress=False, jobs=1,
      shard_samples=8, shard_rows=int(sys.argv[4]))
print("finished", flush=True)
"""


def _kill_after_marks(root: Path, out: Path, pipeline: Pipeline, marks: int,
                      shard_rows: int) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT), NUMBA_NUM_THREADS="1")
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(root), str(out), pipeline.canonical_json(),
         str(shard_rows)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    seen = 0
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            assert not line.startswith("finished"), "the build ended before it was killed"
            seen += line.startswith("marked")
            if seen >= marks:
                os.kill(proc.pid, signal.SIGKILL)
                break
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read() if proc.stderr else ""


@pytest.mark.parametrize("pipeline, shard_rows", [
    (Pipeline(representation=STCConfig(steps=4, tau_s=50_000.0)), 0),
    (Pipeline(steps=(Downsample(2),)), 65_536),  # events store: flat shards cross samples
], ids=["dense", "events"])
def test_sigkill_then_resume_gives_the_uninterrupted_store(
        nmnist_small: Path, tmp_path: Path, pipeline: Pipeline, shard_rows: int) -> None:
    out = tmp_path / "killed"
    _kill_after_marks(nmnist_small, out, pipeline, 3, shard_rows)
    (partial,) = out.glob("*.partial")
    final = partial.with_name(partial.name.removesuffix(".partial"))
    assert not final.exists()
    with pytest.raises(StoreError, match="half-written"):
        open_store(partial)
    with pytest.raises(StoreError, match="interrupted or is running"):
        open_store(final)
    report = build_store("nmnist", nmnist_small, "test", pipeline, out, progress=False, jobs=1,
                         shard_samples=8, shard_rows=shard_rows or None)
    assert report.path == final and not partial.exists()
    assert 0 < report.computed < report.samples == 100  # finished shards were not redone
    clean = build("nmnist", nmnist_small, "test", pipeline, tmp_path / "clean", progress=False,
                  jobs=1, shard_samples=8, shard_rows=shard_rows or None)
    assert clean.name == final.name
    assert_same_store(final, clean)


def test_second_builder_waits_or_says_a_build_is_running(nmnist_small: Path, tmp_path: Path
                                                          ) -> None:
    pipeline = Pipeline(representation=STCConfig(steps=2))
    path = build("nmnist", nmnist_small, "test", pipeline, tmp_path / "a", progress=False,
                 jobs=1)
    out = tmp_path / "b"
    out.mkdir()
    lock = out / (path.name + ".lock")
    messages: list[str] = []
    with build_lock(lock):
        with pytest.raises(StoreError, match="another process .* is building this store"):
            build("nmnist", nmnist_small, "test", pipeline, out, progress=False, wait=False)
        result: list[Path] = []
        waiter = threading.Thread(target=lambda: result.append(build_store(
            "nmnist", nmnist_small, "test", pipeline, out, progress=False, jobs=1,
            on_wait=messages.append).path))
        waiter.start()
        time.sleep(0.5)
        assert waiter.is_alive() and not result  # waiting for the lock
    waiter.join(timeout=60)
    assert result == [out / path.name]
    assert messages and "waiting for it to finish" in messages[0]
    assert_same_store(path, result[0])


def test_full_disk_is_an_error_and_the_build_resumes(nmnist_small: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from eventcompress.cache.shards import ShardIO

    pipeline = Pipeline(representation=STCConfig(steps=3))
    original = ShardIO.write_encoded
    calls = []

    def filling_disk(self: ShardIO, shard: int, block: object) -> None:
        calls.append(shard)
        if len(calls) > 4:
            raise OSError(errno.ENOSPC, "No space left on device")
        original(self, shard, block)

    monkeypatch.setattr(ShardIO, "write_encoded", filling_disk)
    out = tmp_path / "out"
    with pytest.raises(StoreError, match="No space left on device.*run the same build again"):
        build("nmnist", nmnist_small, "test", pipeline, out, progress=False, jobs=1,
              shard_samples=10)
    assert not list(out.glob("*.zarr")) and list(out.glob("*.partial"))
    monkeypatch.setattr(ShardIO, "write_encoded", original)
    report = build_store("nmnist", nmnist_small, "test", pipeline, out, progress=False, jobs=1,
                         shard_samples=10)
    assert report.computed == 60
    clean = build("nmnist", nmnist_small, "test", pipeline, tmp_path / "clean", progress=False,
                  jobs=1, shard_samples=10)
    assert_same_store(report.path, clean)


def _die(task: object) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def test_killed_worker_is_an_error() -> None:
    from eventcompress.cache.executor import LocalExecutor

    with LocalExecutor(jobs=2) as ex, pytest.raises(StoreError, match="worker process died"):
        list(ex.imap_unordered(_die, range(3), window=2))
