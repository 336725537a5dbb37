"""N-MNIST / N-Caltech101 ATIS ``.bin`` files: headerless 5-byte big-endian records.

Record layout (FORMATS.md section 1.3)::

    byte 0: x            byte 1: y
    byte 2: p << 7 | t[22:16]      byte 3: t[15:8]      byte 4: t[7:0]

A record with ``y == 240`` is an ATIS timestamp-overflow marker (the rule of tonic's
``read_mnist_file``): it is dropped and adds 8192 us to its own and every later timestamp.
"""

from __future__ import annotations

import os

import numpy as np
from numba import njit

from ..errors import TruncatedFileError
from ..events import P_DTYPE, T_DTYPE, X_DTYPE, Y_DTYPE, Events, OnUnsorted, enforce_time_order
from ._common import (
    _ON_UNSORTED,
    HINT_CHECK_RANGE,
    PathLike,
    check_events_fit,
    check_on_unsorted,
    raise_out_of_range,
    read_file_bytes,
    require_nonempty,
    sensor_tuple,
    write_bytes,
)

RECORD_SIZE = 5
OVERFLOW_MARKER_Y = 240
OVERFLOW_INCREMENT_US = 1 << 13
MAX_T = (1 << 23) - 1
_NO_LIMIT = 1 << 30
#: N-MNIST's sensor, (width, height): the readers' default (checked by identity on the hot path)
NMNIST_SENSOR = (34, 34)
# np.empty with a dtype object, looked up once: 0.29 instead of 0.45 us a call, four calls per
# file on the per-file hot path
_empty = np.empty


@njit(cache=True, nogil=True)
def _decode_bin_kernel(buf, x, y, t, p, width, height):  # pragma: no cover - compiled
    """Decode every record in place, assuming no overflow marker.

    Returns (any out-of-range record, any decreasing timestamp, number of y == 240 markers).
    When markers are present the caller re-decodes with :func:`_decode_bin_markers`. The
    checks run as separate passes over the decoded arrays: contiguous reductions vectorise,
    while inside the 5-byte-stride decode loop they cost as much again as the decoding
    (measured on N-MNIST files: 17 -> 13 us per file); a max-only pass, a marker count only
    when ``y_max >= 240`` and a boolean order flag took another ~1 us off (of ~2.4 us checks).
    """
    n = x.shape[0]
    for i in range(n):
        k = 5 * i
        b2 = buf[k + 2]
        x[i] = buf[k]
        y[i] = buf[k + 1]
        t[i] = (np.int64(b2 & 0x7F) << 16) | (np.int64(buf[k + 3]) << 8) | np.int64(buf[k + 4])
        p[i] = b2 >> 7
    x_max = np.uint16(0)
    y_max = np.uint16(0)
    for i in range(n):
        x_max = max(x_max, x[i])
        y_max = max(y_max, y[i])
    markers = 0
    if y_max >= 240:  # markers are rare: counted only when one may be there
        for i in range(n):
            markers += y[i] == 240
    back = False
    for i in range(1, n):
        back |= t[i] < t[i - 1]
    return (x_max >= width) | (y_max >= height), back, markers


@njit(cache=True, nogil=True)
def _decode_bin_markers(buf, x, y, t, p, width, height):  # pragma: no cover - compiled
    """Slow path for files holding overflow markers: drop them, add 8192 us from each on.

    Returns (events kept, first out-of-range record index or -1).
    """
    bad = -1
    offset = np.int64(0)
    j = 0
    for i in range(buf.shape[0] // 5):
        k = 5 * i
        yi = buf[k + 1]
        if yi == 240:
            offset += 8192
            continue
        xi = buf[k]
        b2 = buf[k + 2]
        ti = (np.int64(b2 & 0x7F) << 16) | (np.int64(buf[k + 3]) << 8) | np.int64(buf[k + 4])
        if bad < 0 and (xi >= width or yi >= height):
            bad = i
        x[j] = xi
        y[j] = yi
        t[j] = ti + offset
        p[j] = b2 >> 7
        j += 1
    return j, bad


def _decode_records(buf: np.ndarray, width: int, height: int):
    """(x, y, t, p, first bad record or -1, maybe unsorted, markers) for a whole-record buffer."""
    n = buf.shape[0] // 5
    x = np.empty(n, np.uint16)
    y = np.empty(n, np.uint16)
    t = np.empty(n, np.int64)
    p = np.empty(n, np.uint8)
    bad, unsorted, markers = _decode_bin_kernel(buf, x, y, t, p, width, height)
    if markers:
        kept, first_bad = _decode_bin_markers(buf, x, y, t, p, width, height)
        x, y, t, p = x[:kept], y[:kept], t[:kept], p[:kept]
        return x, y, t, p, first_bad, True, markers
    if bad:
        first_bad = int(np.flatnonzero((x >= width) | (y >= height))[0])
        return x, y, t, p, first_bad, unsorted, 0
    return x, y, t, p, -1, unsorted, 0


def _truncated(path: str | None, size: int) -> TruncatedFileError:
    n = size // RECORD_SIZE
    return TruncatedFileError(
        path,
        f"file size {size} is not a multiple of {RECORD_SIZE}: {size - n * RECORD_SIZE} byte(s) "
        f"of a partial record after {n} complete records",
        offset=n * RECORD_SIZE,
        expected=f"{n * RECORD_SIZE} or {(n + 1) * RECORD_SIZE} bytes (5-byte records)",
    )


def decode_bin(
    buffer: np.ndarray,
    sensor_size: tuple[int, int] = (34, 34),
    *,
    on_unsorted: OnUnsorted = "warn",
    check_range: bool = True,
    path: str | None = None,
) -> Events:
    """Decode the bytes of a ``.bin`` file (uint8 array) into :class:`Events`."""
    check_on_unsorted(on_unsorted)
    buf = np.ascontiguousarray(buffer, dtype=np.uint8).reshape(-1)
    size = sensor_tuple(sensor_size)
    if buf.shape[0] % RECORD_SIZE:
        raise _truncated(path, buf.shape[0])
    w, h = (size if check_range else (_NO_LIMIT, _NO_LIMIT))
    x, y, t, p, bad, unsorted, markers = _decode_records(buf, w, h)
    if bad >= 0:
        i = int(bad)
        raise_out_of_range(path, i, int(buf[5 * i]), int(buf[5 * i + 1]), size, 5 * i,
                           hint=HINT_CHECK_RANGE)
    meta = {"format": "bin", "path": path, "overflow_markers": int(markers)}
    events = Events._trusted(x, y, t, p, size, meta)
    if unsorted and on_unsorted != "ignore":
        events = enforce_time_order(events, on_unsorted, path)
    return events


def read_bin(
    path: PathLike,
    sensor_size: tuple[int, int] = (34, 34),
    on_unsorted: OnUnsorted = "warn",
    check_range: bool = True,
) -> Events:
    """Read an N-MNIST / N-Caltech101 ``.bin`` file.

    ``sensor_size`` is ``(width, height)``; with ``check_range`` an event outside it raises
    :class:`CoordinateRangeError` (naming the record index and byte offset). ``on_unsorted``
    is the policy for decreasing timestamps (see :func:`eventcompress.events.enforce_time_order`).
    """
    spath = os.fspath(path)
    return read_bin_bytes(read_file_bytes(spath), spath, sensor_size, on_unsorted, check_range)


def read_bin_bytes(
    buf: np.ndarray,
    spath: str,
    sensor_size: tuple[int, int] = NMNIST_SENSOR,
    on_unsorted: OnUnsorted = "warn",
    check_range: bool = True,
) -> Events:
    """:func:`read_bin` of a file whose bytes (a uint8 array) are already read."""
    # Hot path for many small files: everything below is kept to the bare minimum of calls.
    if on_unsorted not in _ON_UNSORTED:
        check_on_unsorted(on_unsorted)
    nbytes = buf.shape[0]
    if nbytes == 0:
        require_nonempty(buf, spath, "5-byte N-MNIST records")
    if nbytes % RECORD_SIZE:
        raise _truncated(spath, nbytes)
    if sensor_size is not NMNIST_SENSOR and (
            sensor_size.__class__ is not tuple or len(sensor_size) != 2
            or sensor_size[0].__class__ is not int or sensor_size[1].__class__ is not int):
        sensor_size = sensor_tuple(sensor_size)
    n = nbytes // RECORD_SIZE
    x = _empty(n, X_DTYPE)
    y = _empty(n, Y_DTYPE)
    t = _empty(n, T_DTYPE)
    p = _empty(n, P_DTYPE)
    if check_range:
        bad, unsorted, markers = _decode_bin_kernel(buf, x, y, t, p, sensor_size[0], sensor_size[1])
    else:
        bad, unsorted, markers = _decode_bin_kernel(buf, x, y, t, p, _NO_LIMIT, _NO_LIMIT)
    if bad or markers:  # rare: let the general path redo it with exact error positions
        return decode_bin(buf, sensor_size, on_unsorted=on_unsorted, check_range=check_range,
                          path=spath)
    events = Events._trusted(
        x, y, t, p, sensor_size, {"format": "bin", "path": spath, "overflow_markers": 0}
    )
    if unsorted and on_unsorted != "ignore":
        events = enforce_time_order(events, on_unsorted, spath)
    return events


def encode_bin(events: Events, path: str | None = None) -> np.ndarray:
    """The bytes of a ``.bin`` file holding ``events`` (uint8 array, 5 bytes per event).

    Raises ValueError for anything the format cannot hold exactly: x or y above 255, t outside
    [0, 2^23), p not 0/1, and y == 240 (readers following tonic take it as an overflow marker).
    """
    check_events_fit(events, path, ".bin", x_max=255, y_max=255, t_min=0, t_max=MAX_T)
    marker = np.flatnonzero(events.y == OVERFLOW_MARKER_Y)
    if marker.size:
        i = int(marker[0])
        raise ValueError(
            f"{path or '<memory>'}: cannot write event {i} to .bin: y == 240 is the ATIS "
            f"timestamp-overflow marker and would be dropped by readers ({marker.size} such event(s))"
        )
    n = len(events)
    rec = np.empty((n, RECORD_SIZE), np.uint8)
    t = events.t
    rec[:, 0] = events.x
    rec[:, 1] = events.y
    rec[:, 2] = (events.p.astype(np.int64) << 7) | ((t >> 16) & 0x7F)
    rec[:, 3] = (t >> 8) & 0xFF
    rec[:, 4] = t & 0xFF
    return rec.reshape(-1)


def write_bin(path: PathLike, events: Events) -> None:
    """Write ``events`` as an N-MNIST ``.bin`` file (see :func:`encode_bin` for the limits)."""
    spath = os.fspath(path)
    write_bytes(spath, encode_bin(events, spath))
