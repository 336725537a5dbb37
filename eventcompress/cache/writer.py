"""Putting finished tasks back in order and writing them, shard by shard, as the single writer.

Dense stores: a shard's block is assembled from its tasks and written once, whole. Ragged and
events stores: rows are appended to a buffer and a flat shard is written once it is full (the
last one, partial, at the end), so each flat shard is also written once, whole. A sample shard
is marked done only when all of its rows lie in written flat shards.

Resuming a ragged store (see :func:`ragged_resume_point`): the done shards form a prefix; flat
shards wholly before the first row that may be unwritten are kept, and computing restarts at
the first sample shard reaching past them, dropping the rows that are already on disk. The
pipeline is deterministic, so the rows written again equal those lost.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import StoreError
from .compute import TaskResult
from .format import MISSING, StoreLayout, shard_bounds
from .zarr_backend import ZarrWriter, flat_array_names


@dataclass
class ShardProgress:
    lo: int
    hi: int
    tasks_left: int
    results: list[TaskResult] = field(default_factory=list)
    end_row: int = 0  # ragged: rows of every sample before hi


def ragged_resume_point(layout: StoreLayout, done: np.ndarray, lengths: np.ndarray
                        ) -> tuple[int, int, int]:
    """(first sample shard to compute, first flat row to write, rows of it to skip)."""
    bounds = shard_bounds(len(done), layout.shard_samples)
    prefix = 0
    for lo, hi in bounds:
        if np.any(done[lo:hi] == MISSING):
            break
        prefix += 1
    kept_rows = int(lengths[:bounds[prefix - 1][1]].sum()) if prefix else 0
    per_shard = layout.rows_per_shard
    start_row = (kept_rows // per_shard) * per_shard
    ends = np.cumsum([lengths[lo:hi].sum() for lo, hi in bounds[:prefix]], dtype=np.int64)
    first = int(np.searchsorted(ends, start_row, side="right")) if prefix else 0
    first_row = int(ends[first - 1]) if first else 0
    return first, start_row, start_row - first_row


class StoreWriter:
    """Consumes task results for the shards ``todo`` (sample-shard numbers, ascending)."""

    def __init__(self, zw: ZarrWriter, todo: list[int], tasks_per_shard: dict[int, int],
                 *, start_row: int = 0, skip_rows: int = 0) -> None:
        self.zw = zw
        self.layout = zw.layout
        self.bounds = shard_bounds(zw.n, self.layout.shard_samples)
        self.shards = {s: ShardProgress(*self.bounds[s], tasks_per_shard[s]) for s in todo}
        self.order = list(todo)
        attrs = zw.attrs
        self.errors: dict[int, dict[str, Any]] = {int(e["index"]): e for e in attrs["errors"]}
        self.saturated: dict[str, int] = dict(attrs.get("saturated_by_shard", {}))
        self.write_s = 0.0
        # ragged state
        self.names = flat_array_names(self.layout)
        self.written_rows = start_row
        self.skip_rows = skip_rows
        self.buffer: dict[str, list[np.ndarray]] = {n: [] for n in self.names}
        self.buffered = 0
        self.rows_total = start_row - skip_rows  # rows of all samples computed so far
        self.awaiting_mark: list[ShardProgress] = []
        self.pending: dict[int, TaskResult] = {}
        self.next_shard = 0  # position in self.order of the next shard to complete in order

    # -- in -----------------------------------------------------------------------------
    def add(self, shard: int, result: TaskResult) -> int:
        """Take one task result of ``shard``; returns samples now finished (for progress)."""
        prog = self.shards[shard]
        prog.results.append(result)
        prog.tasks_left -= 1
        finished = 0
        while self.next_shard < len(self.order):
            prog = self.shards[self.order[self.next_shard]]
            if prog.tasks_left:
                break
            self.next_shard += 1
            finished += prog.hi - prog.lo
            self._complete(prog)
        return finished

    def _complete(self, prog: ShardProgress) -> None:
        try:
            self._write(prog)
        except OSError as exc:  # a full disk, a lost mount: never a silently short store
            raise StoreError(self.zw.path, f"cannot write samples {prog.lo}..{prog.hi - 1}: "
                             f"{exc}; the shards written before are kept, run the same build "
                             "again to resume") from exc

    def _write(self, prog: ShardProgress) -> None:
        prog.results.sort(key=lambda r: r.lo)
        start = time.perf_counter()
        if self.layout.kind == "dense":
            if prog.results[0].written:
                pass  # a cluster task wrote the shard already (shard_task)
            elif prog.results[0].chunks is not None:
                chunks = [c for r in prog.results for c in r.chunks]
                self.zw.write_encoded_shard(prog.lo, chunks)
            else:
                self.zw.write_dense_shard(prog.lo, np.concatenate([r.dense for r in prog.results]))
            self._mark(prog)
        else:
            for r in prog.results:
                self._append(r)
            prog.end_row = self.rows_total
            self.awaiting_mark.append(prog)
            self._flush_full()
        self.write_s += time.perf_counter() - start

    # -- ragged rows --------------------------------------------------------------------
    def _append(self, r: TaskResult) -> None:
        n = int(r.lengths.sum())
        self.rows_total += n
        skip = min(self.skip_rows, n)
        self.skip_rows -= skip
        for name in self.names:
            values = r.rows[name][skip:]
            if len(values):
                self.buffer[name].append(values)
        self.buffered += n - skip

    def _take(self, count: int) -> dict[str, np.ndarray]:
        out = {}
        for name in self.names:
            parts = self.buffer[name]
            joined = np.concatenate(parts) if parts else np.zeros(
                (0, *self.layout.row_shape), self._flat_dtype(name))
            out[name], rest = joined[:count], joined[count:]
            self.buffer[name] = [rest] if len(rest) else []
        self.buffered -= min(count, self.buffered)
        return out

    def _flat_dtype(self, name: str) -> np.dtype:
        from .format import EVENT_FIELDS

        return dict(EVENT_FIELDS)[name] if self.layout.kind == "events" else self.layout.dtype

    def _flush_full(self) -> None:
        per_shard = self.layout.rows_per_shard
        while self.buffered >= per_shard:
            self.zw.write_flat_shard(self.written_rows, self._take(per_shard), None)
            self.written_rows += per_shard
        while self.awaiting_mark and self.awaiting_mark[0].end_row <= self.written_rows:
            self._mark(self.awaiting_mark.pop(0))

    def finish(self) -> None:
        """Write the last (partial) flat shard and the offsets (ragged / events stores)."""
        if self.layout.kind == "dense":
            return
        start = time.perf_counter()
        lengths = self.zw.lengths()
        for prog in self.awaiting_mark:
            for r in prog.results:
                lengths[r.lo:r.hi] = r.lengths
        total = int(lengths.sum())
        self.zw.write_flat_shard(self.written_rows, self._take(self.buffered), total)
        self.written_rows = total
        while self.awaiting_mark:
            self._mark(self.awaiting_mark.pop(0))
        offsets = np.zeros(self.zw.n + 1, np.int64)
        np.cumsum(lengths, out=offsets[1:])
        self.zw.write_offsets(offsets)
        self.write_s += time.perf_counter() - start

    # -- done markers -------------------------------------------------------------------
    def _mark(self, prog: ShardProgress) -> None:
        status = np.concatenate([r.status for r in prog.results])
        counts = np.concatenate([r.event_counts for r in prog.results])
        lengths = np.concatenate([r.lengths for r in prog.results])
        for i in range(prog.lo, prog.hi):
            self.errors.pop(i, None)
        for r in prog.results:
            for index, sample_id, path, reason in r.errors:
                self.errors[index] = {"index": index, "sample_id": sample_id, "file": path,
                                      "reason": reason}
        shard = prog.lo // self.layout.shard_samples
        self.saturated[str(shard)] = sum(r.saturated for r in prog.results)
        # the error list before the markers: a sample marked failed always has its reason
        self.zw.update_attrs(errors=self.error_list(), saturated_by_shard=self.saturated)
        self.zw.mark(prog.lo, status, counts, lengths)
        prog.results = []

    def error_list(self) -> list[dict[str, Any]]:
        return [self.errors[i] for i in sorted(self.errors)]
