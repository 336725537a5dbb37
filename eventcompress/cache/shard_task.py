"""A task that computes one whole dense shard and writes it itself (cluster executors).

With a cluster, sending every encoded chunk back to the client and writing it there would make
the client's network link and disk the bottleneck. A :class:`ShardTask` instead decodes and
compresses one shard's samples on a worker and writes that shard's file into the pre-created
``<name>.partial`` store (the one task per shard is its only writer), then returns only the
small per-sample arrays (status, event counts, errors); the client marks the shard done after
the task returned, and renames the store once every shard is done. The file is written to a
temporary name and renamed, so a worker killed mid-write leaves no torn shard; the client
removes the temporary files such a worker leaves behind.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import StoreError
from .compute import Task, TaskResult, compute_task
from .shards import ShardIO, fast_path


@dataclass
class ShardTask:
    """Shard ``shard`` of the store at ``store`` (a ``.partial`` folder), computed as ``tasks``
    (runs of consecutive samples covering the shard, each with ``encode=True``)."""

    shard: int
    store: str
    tasks: list[Task]
    #: the dataset folder the samples come from (None for ``build_from``), checked first
    source_root: str | None


def _where() -> str:
    return f"worker {socket.gethostname()} (pid {os.getpid()})"


def check_visible(source_root: str | None, store: str) -> None:
    """Raise a StoreError naming this worker when it cannot see the source folder or the store
    being built: both must be at the same path on every worker (a shared file system)."""
    if source_root is not None and not os.path.isdir(source_root):
        raise StoreError(store, f"{_where()} cannot see the source root {source_root}: the "
                         "recordings must be visible at the same path on every worker (a "
                         "shared file system mounted at the same place)")
    if not (Path(store) / "data" / "zarr.json").is_file():
        raise StoreError(store, f"{_where()} cannot see the store being built: the output "
                         "folder must be visible at the same path on every worker (a shared "
                         "file system)")


def compute_and_write_shard(job: ShardTask) -> TaskResult:
    """Compute every sample of the shard, write its data file, return the markers (module
    level: it runs on the workers)."""
    check_visible(job.source_root, job.store)
    results = [compute_task(task) for task in job.tasks]
    array = fast_path(Path(job.store) / "data")
    if array is None:
        raise StoreError(job.store, "data: not the sharded layout this builder creates")
    chunks = [c for r in results for c in (r.chunks or [])]
    ShardIO(array).write_encoded(job.shard, chunks)
    return TaskResult(
        results[0].lo, np.concatenate([r.status for r in results]),
        np.concatenate([r.event_counts for r in results]),
        np.concatenate([r.lengths for r in results]),
        errors=[e for r in results for e in r.errors],
        saturated=sum(r.saturated for r in results),
        decode_s=sum(r.decode_s for r in results),
        transform_s=sum(r.transform_s for r in results), written=True)
