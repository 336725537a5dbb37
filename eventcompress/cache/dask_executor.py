"""The ``dask`` executor: build tasks run on a Dask distributed cluster.

Without a scheduler address it starts a ``LocalCluster`` bound to 127.0.0.1 (without that,
distributed probes for an outside address to advertise, which fails or hangs offline); with
``scheduler="tcp://HOST:PORT"`` it connects to a running cluster. Dense stores are built by
:class:`~.shard_task.ShardTask`s, one per shard, each writing its own shard file on the worker
(``writes_shards``); ragged and events stores, whose flat shards cross sample shards, have
their samples computed on the workers and written by the client, as the local executor does.

Dask re-runs the tasks of a worker that dies (``distributed.scheduler.allowed-failures``, 3 by
default) and raises ``KilledWorker`` past that; a task that raises is not retried, and its
exception reaches the client as it is. ``distributed`` is imported only here, when asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .._cpus import usable_cpus
from ..errors import ConfigError, StoreError
from .executor import TaskExecutor, quiet_blosc

EXTRA_HINT = ("the dask executor needs the optional extra: pip install 'eventcompress[dask]' "
              "(dask and distributed)")


def import_distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise ConfigError(f"{EXTRA_HINT} ({exc})", key="executor") from None
    return distributed


class DaskExecutor(TaskExecutor):
    """Tasks on a Dask cluster: ``client`` (an existing ``distributed.Client``), else
    ``scheduler`` (an address), else a LocalCluster of ``jobs`` worker processes (default 2)
    with ``threads_per_worker`` threads each (default cores // jobs; Numba kernels release the
    GIL, so a few processes with several threads each fit)."""

    writes_shards = True

    def __init__(self, jobs: int | None = None, *, scheduler: str | None = None,
                 threads_per_worker: int | None = None, client: Any = None) -> None:
        self.workers = 2 if jobs is None or jobs <= 0 else int(jobs)
        self.threads = threads_per_worker or max(1, usable_cpus() // self.workers)
        self.scheduler = scheduler
        self.client = client
        self._owned: list[Any] = []  # what close() shuts down (not a client passed in)
        self.jobs = self.workers * self.threads

    def start(self) -> None:
        if self.client is None:
            distributed = import_distributed()
            if self.scheduler is not None:
                try:
                    self.client = distributed.Client(self.scheduler, timeout="30s")
                except (OSError, TimeoutError) as exc:
                    raise StoreError(None, f"cannot reach the Dask scheduler at "
                                     f"{self.scheduler}: {exc}") from None
                self._owned = [self.client]
            else:
                import logging

                cluster = distributed.LocalCluster(
                    n_workers=self.workers, threads_per_worker=self.threads, processes=True,
                    host="127.0.0.1", dashboard_address=None, silence_logs=logging.ERROR)
                self.client = distributed.Client(cluster)
                self._owned = [self.client, cluster]
            self.client.run(quiet_blosc)
        threads = sum(self.client.nthreads().values())
        self.jobs = max(1, threads)

    def imap_unordered(self, fn: Callable[[Any], Any], tasks: Iterable[Any], window: int
                       ) -> Iterator[tuple[int, Any]]:
        distributed = import_distributed()
        self.start()
        client = self.client
        it = iter(enumerate(tasks))
        pending: dict[Any, int] = {}
        done = distributed.as_completed()
        exhausted = False

        def submit_more() -> None:
            nonlocal exhausted
            while not exhausted and len(pending) < window:
                try:
                    position, task = next(it)
                except StopIteration:
                    exhausted = True
                    return
                future = client.submit(fn, task, pure=False)
                pending[future] = position
                done.add(future)

        try:
            submit_more()
            for future in done:
                position = pending.pop(future)
                try:
                    result = future.result()
                except distributed.KilledWorker as exc:
                    raise StoreError(None, f"Dask gave up on a task after its workers died "
                                     f"repeatedly ({exc}); the finished shards are kept: run "
                                     "the same build again to resume") from None
                submit_more()
                yield position, result
        finally:
            if pending:
                client.cancel(list(pending))

    def close(self) -> None:
        for thing in self._owned:
            thing.close()
        if self._owned:
            self.client = None
        self._owned = []
