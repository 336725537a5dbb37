"""Helpers shared by the readers and writers: raw file access and argument checks."""

from __future__ import annotations

import mmap
import os
from typing import Any

import numpy as np

from ..errors import CoordinateRangeError, EmptyFileError
from ..events import Events, OnUnsorted, as_sensor_size, enforce_time_order

PathLike = str | os.PathLike[str]

_ON_UNSORTED = ("warn", "sort", "error", "ignore")
O_BINARY = getattr(os, "O_BINARY", 0)
#: Size of the first read of a file: small files (N-MNIST) come in whole with it.
FIRST_READ = 1 << 16
# From this size on a file is mapped rather than read: copying tens of MB out of the page cache
# costs more than decoding them (measured in docs/benchmarks.md), a populated mapping costs
# almost nothing.
_MAP_FROM = 8 << 20
_MAP_FLAGS = getattr(mmap, "MAP_SHARED", 0) | getattr(mmap, "MAP_POPULATE", 0)
_frombuffer = np.frombuffer
_UINT8 = np.dtype(np.uint8)


def read_file_bytes(path: str) -> np.ndarray:
    """Whole file as a uint8 array (read-only for small files).

    The per-file overhead matters for ~4,000-event N-MNIST samples, where it is most of the
    work: ``np.fromfile`` costs several microseconds more per call. Files of 8 MiB or more are
    memory-mapped read-only (the array keeps the mapping alive; decoders copy out of it), so
    truncating such a file while it is being decoded is undefined, as with any mapped file.
    Where mapping is not possible the file is read into a numpy buffer instead.
    """
    fd = os.open(path, os.O_RDONLY | O_BINARY)
    try:
        return read_rest(fd, os.read(fd, FIRST_READ))
    finally:
        os.close(fd)


def read_rest(fd: int, data: bytes) -> np.ndarray:
    """The whole file open at ``fd`` as :func:`read_file_bytes` returns it, given ``data``, the
    result of a first ``os.read(fd, FIRST_READ)`` (so a caller that has sniffed the first bytes
    reads the file only once)."""
    # Small files: one read of up to 64 KiB plus an empty read proving EOF is cheaper than
    # fstat (which builds a Python stat_result).
    if len(data) < FIRST_READ:
        tail = os.read(fd, FIRST_READ)
        if not tail:
            return _frombuffer(data, _UINT8)  # positional, looked up once: 0.87 -> 0.37 us
        data += tail
    size = os.fstat(fd).st_size
    if size >= _MAP_FROM and os.name == "posix":
        try:
            return np.frombuffer(
                mmap.mmap(fd, size, flags=_MAP_FLAGS, prot=mmap.PROT_READ), dtype=np.uint8)
        except (OSError, ValueError):  # a file system without mmap: read it instead
            pass
    buf = np.empty(max(size, len(data)), np.uint8)
    got = len(data)
    buf[:got] = np.frombuffer(data, dtype=np.uint8)
    while True:  # until EOF; the file may grow or reads may come back short
        if got == buf.shape[0]:
            more = os.read(fd, FIRST_READ)
            if not more:
                return buf
            buf = np.concatenate([buf, np.frombuffer(more, np.uint8)])
            got = buf.shape[0]
            continue
        n = os.readv(fd, [buf[got:]])
        if n == 0:
            return buf[:got]
        got += n


def require_nonempty(buf: np.ndarray, path: str | None, what: str) -> None:
    if buf.shape[0] == 0:
        raise EmptyFileError(path, "the file is empty (0 bytes)", offset=0, expected=what)


def check_on_unsorted(on_unsorted: str) -> None:
    if on_unsorted not in _ON_UNSORTED:
        raise ValueError(f"on_unsorted must be one of {_ON_UNSORTED}; got {on_unsorted!r}")


def sensor_tuple(sensor_size: Any) -> tuple[int, int]:
    """``(width, height)``; a tonic-style ``(width, height, n_polarities)`` is accepted too."""
    return as_sensor_size(sensor_size)


def finish(events: Events, on_unsorted: OnUnsorted, path: str | None, unsorted: int) -> Events:
    """Apply the time-order policy; ``unsorted`` is the kernel's flag (0: no decrease seen),
    so sorted streams skip the extra pass over t."""
    if not unsorted or on_unsorted == "ignore":
        return events
    return enforce_time_order(events, on_unsorted, path)


#: Remedy named by the out-of-range error of readers that take ``check_range``.
HINT_CHECK_RANGE = "pass a larger sensor_size, or check_range=False to keep such events"


def raise_out_of_range(
    path: str | None, index: int, x: int, y: int, sensor_size: tuple[int, int],
    offset: int | None, *, hint: str,
) -> None:
    """CoordinateRangeError for event ``index``; ``hint`` is the remedy that reader offers
    (each reader passes its own, so the message never names an argument it lacks)."""
    raise CoordinateRangeError.outside(path, index, x, y, sensor_size, offset=offset, hint=hint)


def check_events_fit(events: Events, path: str | None, what: str, *, x_max: int, y_max: int,
                     t_min: int, t_max: int, p_max: int = 1) -> None:
    """Writer-side checks: every value must fit the target format exactly (no wrapping)."""
    for name, arr, lo, hi in (("x", events.x, 0, x_max), ("y", events.y, 0, y_max),
                              ("t", events.t, t_min, t_max), ("p", events.p, 0, p_max)):
        if arr.size == 0:
            continue
        bad = np.flatnonzero((arr < lo) | (arr > hi))
        if bad.size:
            i = int(bad[0])
            raise ValueError(
                f"{path or '<memory>'}: cannot write event {i} to {what}: {name}={int(arr[i])} "
                f"is outside [{lo}, {hi}] ({bad.size} such event(s))"
            )


def write_bytes(path: PathLike, *chunks: bytes | np.ndarray) -> None:
    with open(path, "wb") as fh:
        for chunk in chunks:
            fh.write(chunk if isinstance(chunk, bytes) else memoryview(np.ascontiguousarray(chunk)))
