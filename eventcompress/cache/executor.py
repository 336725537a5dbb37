"""Where tasks run: a small interface, so that a cluster executor (Dask) can be added without
touching the store or the writer.

An executor takes tasks in order and yields ``(position, result)`` pairs as they finish, in any
order, keeping at most ``window`` tasks in flight (the writer's memory bound). The writer puts
them back in order. ``local`` runs tasks in this process (``jobs=1``) or in a pool of worker
processes, each with its Numba threads capped so that workers x threads <= cores.
"""

from __future__ import annotations

import multiprocessing
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from .._cpus import cap_numba_threads, usable_cpus
from ..errors import StoreError


class TaskExecutor(ABC):
    """Runs ``fn(task)`` for every task; see the module docstring."""

    jobs: int = 1
    #: dense stores: the builder hands this executor one task per shard that writes the shard
    #: itself (:mod:`.shard_task`), instead of sending the chunks back to one writer
    writes_shards: bool = False

    @abstractmethod
    def imap_unordered(self, fn: Callable[[Any], Any], tasks: Iterable[Any], window: int
                       ) -> Iterator[tuple[int, Any]]:
        """``(position in tasks, fn(task))`` as each finishes."""

    def start(self) -> None:
        """Start the workers (called before the writer opens the store); optional."""
        return None

    def close(self) -> None:
        """Release the workers."""
        return None

    def __enter__(self) -> TaskExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def quiet_blosc() -> None:
    """Blosc compresses in the calling thread: the workers are the parallelism (its own thread
    pool only adds hand-offs on chunks of a few kB, with every core busy already)."""
    try:
        import numcodecs.blosc

        numcodecs.blosc.use_threads = False
    except ImportError:
        pass


def _init_worker(threads: int) -> None:
    """Cap the worker's Numba threads, and Blosc in the calling thread."""
    cap_numba_threads(threads)
    quiet_blosc()


class LocalExecutor(TaskExecutor):
    """This machine: in-process for ``jobs=1``, else ``jobs`` worker processes."""

    def __init__(self, jobs: int | None = None, threads_per_worker: int | None = None) -> None:
        cores = usable_cpus()
        self.jobs = cores if jobs is None or jobs <= 0 else int(jobs)
        self.threads = threads_per_worker or max(1, cores // self.jobs)
        self._pool: ProcessPoolExecutor | None = None

    def start(self) -> None:
        """Start the workers now: with the fork start method (Linux's default) they are best
        forked before this process starts other threads (zarr's event loop, tqdm's monitor)."""
        if self.jobs > 1 and self._pool is None:
            self._pool = ProcessPoolExecutor(self.jobs, mp_context=multiprocessing.get_context(),
                                             initializer=_init_worker,
                                             initargs=(self.threads,))
            for fut in [self._pool.submit(os.getpid) for _ in range(self.jobs)]:
                fut.result()

    def imap_unordered(self, fn: Callable[[Any], Any], tasks: Iterable[Any], window: int
                       ) -> Iterator[tuple[int, Any]]:
        if self.jobs == 1:
            for position, task in enumerate(tasks):
                yield position, fn(task)
            return
        self.start()
        assert self._pool is not None
        pending: dict[Future, int] = {}
        it = iter(enumerate(tasks))
        exhausted = False
        try:
            while True:
                while not exhausted and len(pending) < window:
                    try:
                        position, task = next(it)
                    except StopIteration:
                        exhausted = True
                        break
                    pending[self._pool.submit(fn, task)] = position
                if not pending:
                    return
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    position = pending.pop(fut)
                    try:
                        result = fut.result()
                    except BrokenProcessPool:
                        raise StoreError(None, "a worker process died (killed, or out of "
                                         "memory?); the finished shards are kept: run the same "
                                         "build again to resume") from None
                    yield position, result
        finally:
            for fut in pending:
                fut.cancel()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _dask(jobs: int | None = None, **options: Any) -> TaskExecutor:
    from .dask_executor import DaskExecutor  # distributed is imported only when asked for

    return DaskExecutor(jobs, **options)


EXECUTORS: dict[str, Callable[..., TaskExecutor]] = {"local": LocalExecutor, "dask": _dask}


def get_executor(name: str | TaskExecutor = "local", jobs: int | None = None,
                 **options: Any) -> TaskExecutor:
    """An executor by name (``local``, ``dask``; ``options`` go to its constructor, e.g.
    ``scheduler="tcp://HOST:8786"`` for dask), or ``name`` itself when it already is one."""
    if isinstance(name, TaskExecutor):
        return name
    if name not in EXECUTORS:
        raise ValueError(f"unknown executor {name!r}; known: {', '.join(EXECUTORS)}")
    return EXECUTORS[name](jobs, **options)
