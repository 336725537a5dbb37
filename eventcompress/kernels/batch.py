"""Run one pipeline over many recordings into a single preallocated ``[N, ...]`` array.

The samples are split into contiguous chunks. A chunk is packed into flat arrays
(:class:`~eventcompress.kernels.packed.PackedEvents`) and every event -> event step runs over
the whole chunk in one Numba call, so the Python cost is paid per chunk, not per sample. The
representation (a :class:`~.representations.Representation`) then fills the chunk's rows of the
output with ``fill_batch(packed, out)``: one kernel call for STC and frames, a loop over its
``__call__`` by default. A pipeline without event steps hands the streams to
``fill_streams(streams, out, buffers)`` instead, which STC reads where they lie, without
packing.

``backend="threads"``: a thread pool; the kernels release the GIL (``nogil=True``) so chunks
run in parallel and write straight into their rows. ``backend="processes"``: a spawn-safe
process pool returning each chunk as an array, for representations that hold the GIL.
"""

from __future__ import annotations

import math
import multiprocessing
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import (
    Executor,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    as_completed,
)
from contextlib import contextmanager
from typing import Literal

import numpy as np
from tqdm.auto import tqdm

from .._cpus import usable_cpus
from ..events import Events
from .packed import PackBuffers, PackedEvents
from .pipeline import Pipeline

__all__ = ["process_many"]

Backend = Literal["threads", "processes"]

# Chunks per worker: enough for load balance and a smooth progress bar, few enough that the
# per-chunk cost (packing, one Python call per step and for the representation, a future)
# stays negligible and each worker gets long GIL-free kernel calls.
_CHUNKS_PER_JOB = 4
# Largest chunk, to bound the memory of a packed chunk (~13 bytes per event).
_MAX_CHUNK = 512


def _resolve_jobs(n_jobs: int) -> int:
    if n_jobs == 0 or not isinstance(n_jobs, int):
        raise ValueError(f"n_jobs must be a positive int or -1 (all cores), got {n_jobs!r}")
    if n_jobs < 0:
        return max(1, usable_cpus() + 1 + n_jobs)
    return n_jobs


@contextmanager
def _noting(where: str) -> Iterator[None]:
    """Re-raise with a note naming the sample(s) being processed."""
    try:
        yield
    except Exception as exc:
        if hasattr(exc, "add_note"):
            exc.add_note(f"(while processing {where} in process_many)")
        raise


def _thread_buffers(local: threading.local | None) -> PackBuffers | None:
    """This worker thread's pack buffers for the current ``process_many`` call."""
    if local is None:
        return None
    buffers = getattr(local, "buffers", None)
    if buffers is None:
        buffers = local.buffers = PackBuffers()
    return buffers


def _fill(out: np.ndarray, events_list: Sequence[Events], pipeline: Pipeline, lo: int, hi: int,
          first_index: int, epoch: int, shown_offset: int = 0,
          local: threading.local | None = None) -> int:
    """Compute samples ``lo:hi`` into ``out[lo:hi]``; error notes number the samples from
    ``shown_offset`` (their position in the caller's list). With ``local``, each thread packs
    its chunks into the same reused buffers (the packed chunk does not outlive this call)."""
    chunk = [events_list[i] for i in range(lo, hi)]
    where = f"samples {shown_offset + lo}..{shown_offset + hi - 1}"
    rep = pipeline.representation
    with _noting(where):
        if not pipeline.steps:
            # Nothing to transform: the representation takes the streams as they are (STC
            # reads them where they lie; the default packs them into this thread's buffers).
            rep.fill_streams(chunk, out[lo:hi], _thread_buffers(local))
            return hi - lo
        indices = np.arange(first_index + lo, first_index + hi, dtype=np.int64)
        packed = PackedEvents.pack(chunk, _thread_buffers(local))
        packed = pipeline.transform_packed(packed, indices, epoch=epoch)
        rep.fill_batch(packed, out[lo:hi])
    return hi - lo


def _process_chunk(chunk: list[Events], pipeline: Pipeline, lo: int, start_index: int,
                   epoch: int) -> np.ndarray:
    # Module level so that spawned workers can unpickle it.
    sensor = chunk[0].sensor_size
    out = np.empty((len(chunk), *pipeline.output_shape(sensor)), pipeline.output_dtype)
    _fill(out, chunk, pipeline, 0, len(chunk), start_index + lo, epoch, shown_offset=lo)
    return out


def process_many(
    events_list: Sequence[Events],
    pipeline: Pipeline,
    *,
    n_jobs: int = 1,
    backend: Backend = "threads",
    quiet: bool | None = None,
    epoch: int = 0,
    start_index: int = 0,
    sensor_size: tuple[int, int] | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """``np.stack([pipeline(e, sample_index=start_index + i, epoch=epoch) for i, e in ...])``,
    computed in parallel into one preallocated array.

    Every stream must have the same ``sensor_size`` (also required when ``events_list`` is
    empty, via ``sensor_size``). ``n_jobs=-1`` uses every core. ``out`` may be a preallocated
    array of the right shape and dtype (e.g. a memory map) to fill in place. A tqdm progress bar
    is shown while stderr is a terminal (``quiet=None``, the default: tqdm's ``disable=None``);
    ``quiet=True`` hides it, ``quiet=False`` forces it. Results are identical for every backend
    and ``n_jobs``.
    """
    if backend not in ("threads", "processes"):
        raise ValueError(f"backend must be 'threads' or 'processes', got {backend!r}")
    jobs = _resolve_jobs(n_jobs)
    n = len(events_list)
    sizes = {tuple(e.sensor_size) for e in events_list}
    if sensor_size is not None:
        sizes.add((int(sensor_size[0]), int(sensor_size[1])))
    if len(sizes) > 1:
        first = events_list[0].sensor_size if n else sensor_size
        bad = next((i for i, e in enumerate(events_list) if tuple(e.sensor_size) != first), 0)
        raise ValueError(
            f"all streams must share one sensor size; stream {bad} has "
            f"{events_list[bad].sensor_size}, expected {first} (sizes seen: {sorted(sizes)})"
        )
    if not sizes:
        raise ValueError("process_many got no streams; pass sensor_size to get an empty batch")
    sensor = sizes.pop()
    shape = (n, *pipeline.output_shape(sensor))
    dtype = pipeline.output_dtype
    if out is None:
        out = np.empty(shape, dtype)
    elif out.shape != shape or out.dtype != dtype:
        raise ValueError(f"out has shape {out.shape} and dtype {out.dtype}; "
                         f"expected {shape} and {dtype}")
    if n == 0:
        return out

    jobs = min(jobs, n)
    size = min(_MAX_CHUNK, max(1, math.ceil(n / (jobs * _CHUNKS_PER_JOB))))
    bounds = [(lo, min(lo + size, n)) for lo in range(0, n, size)]
    # Per call, so that the buffers are freed on return (a chunk may hold many megabytes).
    local = threading.local()
    with tqdm(total=n, disable=quiet, unit="sample", desc="process_many") as bar:
        if jobs == 1:
            for lo, hi in bounds:
                bar.update(_fill(out, events_list, pipeline, lo, hi, start_index, epoch,
                                 local=local))
            return out
        pool: Executor
        if backend == "threads":
            pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="process_many")
        else:
            pool = ProcessPoolExecutor(max_workers=jobs,
                                       mp_context=multiprocessing.get_context("spawn"))
        with pool:
            futures: dict[Future, tuple[int, int]] = {}
            for lo, hi in bounds:
                if backend == "threads":
                    fut = pool.submit(_fill, out, events_list, pipeline, lo, hi, start_index,
                                      epoch, local=local)
                else:
                    fut = pool.submit(_process_chunk, [events_list[i] for i in range(lo, hi)],
                                      pipeline, lo, start_index, epoch)
                futures[fut] = (lo, hi)
            try:
                for fut in as_completed(futures):
                    lo, hi = futures[fut]
                    result = fut.result()
                    if backend == "processes":
                        out[lo:hi] = result
                    bar.update(hi - lo)
            except BaseException:
                for fut in futures:
                    fut.cancel()
                raise
    return out

