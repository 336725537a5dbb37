"""What a worker does with one task: decode a batch of samples and run the pipeline on it.

A task is a run of consecutive samples (never across a shard boundary). Each source file is
decoded once even when several samples share it (DVS Gesture trials). A sample that fails to
decode or transform is recorded with its file and reason and marked failed; the others of the
task are still computed. The result holds the stored dtype already (cast in the worker, so the
writer only writes).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .format import BUILT, EVENT_FIELDS, FAILED, StoreLayout, to_storage
from .shards import _numcodec, encode_chunks


@dataclass
class Task:
    """Samples ``lo:lo + len(items)``; an item is a ``Sample`` (decoded here) or an ``Events``
    (``build_from``)."""

    lo: int
    items: Sequence[Any]
    pipeline: Any
    layout: StoreLayout
    #: dense stores: encode the chunks here, with this compressor (its zarr JSON; None for
    #: raw bytes), so that compression runs in the workers and the writer only writes
    encode: bool = False
    compressor: dict[str, Any] | None = None

    @property
    def hi(self) -> int:
        return self.lo + len(self.items)


@dataclass
class TaskResult:
    lo: int
    status: np.ndarray  # uint8 [n]
    event_counts: np.ndarray  # int64 [n]: events of the sample before the event steps
    lengths: np.ndarray  # int64 [n]: rows per sample (ragged / events), else 0
    #: dense: the [n, T, P, H, W] block; ragged / events: flat arrays by name
    dense: np.ndarray | None = None
    #: dense, when the task asked for it: one encoded chunk per sample (``dense`` is dropped)
    chunks: list[bytes] | None = None
    rows: dict[str, np.ndarray] = field(default_factory=dict)
    #: (sample index, sample id, file, reason)
    errors: list[tuple[int, str, str, str]] = field(default_factory=list)
    saturated: int = 0
    #: seconds spent decoding and transforming, for the build summary
    decode_s: float = 0.0
    transform_s: float = 0.0
    #: the task wrote its shard's data itself (:mod:`.shard_task`); only the markers are left
    written: bool = False

    @property
    def hi(self) -> int:
        return self.lo + len(self.status)


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _decode(task: Task, result: TaskResult) -> list[Any]:
    from ..datasets.base import read_sample_file
    from ..events import Events

    out: list[Any] = [None] * len(task.items)
    # (path, decoded file or the exception, whether its timestamps are sorted: None until a
    # cut needs to know)
    current: list[Any] = [None, None, None]
    for k, item in enumerate(task.items):
        if isinstance(item, Events):
            out[k] = item
            continue
        if current[0] != item.path:
            try:
                current = [item.path, read_sample_file(item), None]
            except Exception as exc:  # a bad file fails its samples, not the build
                current = [item.path, exc, None]
        decoded = current[1]
        if isinstance(decoded, BaseException):
            _fail(result, task.lo + k, item, decoded)
            continue
        if item.time_slice is None:  # a whole file (N-MNIST, CIFAR10-DVS): nothing to cut
            out[k] = decoded
            continue
        try:
            if item.time_slice is not None and current[2] is None:
                current[2] = decoded.is_sorted()
            out[k] = _cut(item, decoded, bool(current[2]))
        except Exception as exc:
            _fail(result, task.lo + k, item, exc)
    return out


def _cut(item: Any, decoded: Any, is_sorted: bool) -> Any:
    """``slice_sample(item, decoded)`` without its per-sample costs: the file's sortedness is
    checked once (not once per cut: a DVS Gesture trial holds millions of events and 12 cuts),
    the cut is a view, and no metadata is attached (the pipeline does not read it)."""
    from ..datasets.base import slice_sample
    from ..events import Events

    if item.time_slice is None:
        return decoded
    if not is_sorted:
        return slice_sample(item, decoded)
    lo, hi = np.searchsorted(decoded.t, item.time_slice, side="left")
    return Events._trusted(decoded.x[lo:hi], decoded.y[lo:hi], decoded.t[lo:hi],
                           decoded.p[lo:hi], decoded.sensor_size, {})


def _fail(result: TaskResult, index: int, item: Any, exc: BaseException) -> None:
    k = index - result.lo
    result.status[k] = FAILED
    sample_id = str(getattr(item, "id", index))
    path = str(getattr(item, "path", "") or "")
    result.errors.append((index, sample_id, path, _reason(exc)))


def _dense(task: Task, events: list[Any], result: TaskResult) -> None:
    from ..kernels.batch import process_many

    layout, pipeline = task.layout, task.pipeline
    n = len(events)
    ok = [k for k in range(n) if events[k] is not None]
    if len(ok) == n:
        try:
            computed = process_many(events, pipeline, n_jobs=1, start_index=task.lo)
        except Exception:
            pass  # find the bad sample one by one below
        else:
            if computed.shape[1:] == layout.row_shape:
                result.dense, result.saturated = to_storage(computed, layout.dtype)
                return
    block = np.zeros((n, *layout.row_shape), layout.dtype)
    for k in ok:
        try:
            value = np.asarray(pipeline(events[k], sample_index=task.lo + k))
            if value.shape != layout.row_shape:
                raise ValueError(f"the pipeline gave shape {value.shape}, the store holds "
                                 f"{layout.row_shape} (a recording of another sensor size?)")
            block[k], saturated = to_storage(value, layout.dtype)
        except Exception as exc:
            _fail(result, task.lo + k, task.items[k], exc)
            continue
        result.saturated += saturated
    result.dense = block


def _ragged(task: Task, events: list[Any], result: TaskResult) -> None:
    layout, pipeline = task.layout, task.pipeline
    names = [name for name, _ in EVENT_FIELDS] if layout.kind == "events" else ["data"]
    parts: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for k, ev in enumerate(events):
        if ev is None:
            continue
        try:
            if layout.kind == "events":
                out = pipeline.transform_events(ev, sample_index=task.lo + k)
                values = {name: getattr(out, name) for name in names}
                length = len(out)
            else:
                frames = np.asarray(pipeline(ev, sample_index=task.lo + k))
                if frames.shape[1:] != layout.row_shape:
                    raise ValueError(f"the pipeline gave frames of shape {frames.shape[1:]}, "
                                     f"the store holds {layout.row_shape} (a recording of "
                                     "another sensor size?)")
                stored, saturated = to_storage(frames, layout.dtype)
                values = {"data": stored}
                length = len(stored)
        except Exception as exc:
            _fail(result, task.lo + k, task.items[k], exc)
            continue
        if layout.kind != "events":
            result.saturated += saturated
        for name in names:
            parts[name].append(values[name])
        result.lengths[k] = length
    dtypes = dict(EVENT_FIELDS) if layout.kind == "events" else {"data": layout.dtype}
    for name in names:
        if parts[name]:
            result.rows[name] = np.concatenate(parts[name])
        else:
            result.rows[name] = np.zeros((0, *layout.row_shape), dtypes[name])


def compute_task(task: Task) -> TaskResult:
    """Decode and transform every sample of ``task`` (module level: runs in worker processes)."""
    import time

    n = len(task.items)
    result = TaskResult(task.lo, np.full(n, BUILT, np.uint8), np.zeros(n, np.int64),
                        np.zeros(n, np.int64))
    start = time.perf_counter()
    events = _decode(task, result)
    result.event_counts[:] = [0 if e is None else len(e) for e in events]
    mid = time.perf_counter()
    if task.layout.kind == "dense":
        _dense(task, events, result)
    else:
        _ragged(task, events, result)
    if task.encode and result.dense is not None:
        with _blosc_in_this_thread():
            result.chunks = encode_chunks(result.dense, 1, task.layout.dtype,
                                          _codec(task.compressor, task.layout.dtype))
        result.dense = None
    result.decode_s, result.transform_s = mid - start, time.perf_counter() - mid
    return result


_CODECS: dict[str, Any] = {}


@contextmanager
def _blosc_in_this_thread() -> Iterator[None]:
    """Blosc without its thread pool for the block: handing a few-kB chunk to other threads
    costs more than compressing it (and the cores are busy with other samples already)."""
    try:
        import numcodecs.blosc as blosc
    except ImportError:
        yield
        return
    before = blosc.use_threads
    blosc.use_threads = False
    try:
        yield
    finally:
        blosc.use_threads = before


def _codec(compressor: dict[str, Any] | None, dtype: np.dtype) -> Any:
    """The numcodecs object for ``compressor``, made once per process."""
    import json

    key = json.dumps([compressor, str(dtype)], sort_keys=True)
    if key not in _CODECS:
        _CODECS[key] = _numcodec(compressor, dtype)
    return _CODECS[key]
