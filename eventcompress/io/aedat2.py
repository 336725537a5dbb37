"""jAER AEDAT 1.0 / 2.0 files: ``#`` header lines, big-endian body. DVS128 (CIFAR10-DVS) here;
DAVIS240/346 and the ``# AEChip:`` header line in :mod:`eventcompress.io.aedat2_chips`.

Body records (FORMATS.md sections 2.3-2.4): AEDAT 2.0 = u32 address + u32 timestamp (8 bytes),
AEDAT 1.0 = u16 address + u32 timestamp (6 bytes), both big-endian, timestamps in microseconds.
DVS128 address bits: 0 = raw polarity, 7..1 = raw x, 14..8 = raw y, 15 = external (sync)
event, 31 = jAER special event. Sync/special events are skipped.

The meaning of the raw bits depends on the tool; ``convention`` selects one (``W``/``H`` =
sensor width/height, 128 for a DVS128):

============== ================= ================= ================
convention     x                 y                 p (1 = ON)
============== ================= ================= ================
``jaer``       W - 1 - raw_x     raw_y             1 - bit0
``spikingjelly`` W - 1 - raw_y   H - 1 - raw_x     1 - bit0
``raw``        raw_x             raw_y             bit0
============== ================= ================= ================
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

import numpy as np
from numba import njit

from ..errors import HeaderError, TruncatedFileError
from ..events import Events, OnUnsorted
from ._common import (
    PathLike,
    check_events_fit,
    check_on_unsorted,
    finish,
    raise_out_of_range,
    read_file_bytes,
    require_nonempty,
    sensor_tuple,
    write_bytes,
)
from .aedat2_chips import chip_by_name, chip_from_header, decode_davis_body

CONVENTIONS = ("jaer", "spikingjelly", "raw")
_CONVENTION_CODE = {name: i for i, name in enumerate(CONVENTIONS)}
_VERSION_RE = re.compile(rb"^#!AER-DAT(\d+)\.(\d+)\s*$")
_RECORD_SIZE = {1: 6, 2: 8}
_MAX_RAW = 127  # 7-bit x and y fields
# The reader has no check_range: under the flipping conventions a raw coordinate beyond the
# sensor maps to a negative one, which Events cannot hold. A 128x128 sensor holds every address.
_RANGE_HINT = ("pass a sensor_size of at least 128x128: DVS128 addresses hold 7-bit x and y, "
               "so every event fits")

DEFAULT_HEADER_LINES = (
    "# This is a raw AE data file created by eventcompress - do not edit",
    "# Data format is int32 address, int32 timestamp (8 bytes total), repeated for each event",
    "# Timestamps tick is 1 us",
    "# AEChip: ch.unizh.ini.jaer.chip.retina.DVS128",
)


def parse_aedat2_header(
    buffer: bytes | np.ndarray, path: str | None = None
) -> tuple[str | None, list[str], int]:
    """(version such as "2.0" or None, header lines without line endings, body offset).

    The header is every leading line whose first byte is ``#`` (LF or CR LF endings); the body
    starts at the first byte of the first line that does not start with ``#``.
    """
    data = buffer.tobytes() if isinstance(buffer, np.ndarray) else bytes(buffer)
    version, lines, pos, _ = _scan_header(data, path, at_eof=True)
    return version, lines, pos


def _scan_header(
    data: bytes, path: str | None, at_eof: bool
) -> tuple[str | None, list[str], int, bool]:
    """Header scan over the first bytes of a file; the last flag says whether the header end
    was seen (False: ``data`` stops inside the header and more bytes are needed)."""
    if not data.startswith(b"#"):
        raise HeaderError(
            path, f"no AEDAT header: the file starts with {data[:16]!r}", offset=0,
            expected="'#' header lines beginning with '#!AER-DAT2.0' (jAER AEDAT 1.0/2.0)",
        )
    version = None
    lines: list[str] = []
    pos = 0
    while pos < len(data) and data[pos] == 0x23:  # '#'
        end = data.find(b"\n", pos)
        if end < 0 and not at_eof:
            return version, lines, pos, False
        end = len(data) if end < 0 else end + 1
        raw = data[pos:end].rstrip(b"\r\n")
        if raw.startswith(b"#!AER-DAT") and version is None:
            m = _VERSION_RE.match(raw)
            if m is None:
                raise HeaderError(path, f"garbled version line {raw[:40]!r}", offset=pos,
                                  expected="'#!AER-DAT<major>.<minor>'")
            major = int(m.group(1))
            version = f"{major}.{int(m.group(2))}"
            if major not in _RECORD_SIZE:
                hint = " (use format='aedat3' / 'aedat4')" if major in (3, 4) else ""
                raise HeaderError(path, f"unsupported AEDAT version {version}{hint}", offset=pos,
                                  expected="AEDAT 1.x or 2.x")
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise HeaderError(
                path, f"header line is not text ({exc.reason})", offset=pos + exc.start,
                expected="UTF-8/ASCII '#' header lines",
            ) from None
        pos = end
    return version, lines, pos, pos < len(data) or at_eof


@njit(cache=True, nogil=True, inline="always")
def _store(i, a, ts, ax, bx, cx, ay, by, cy, ap, bp, x, y, t, p):  # pragma: no cover
    rx = (a >> 1) & 0x7F
    ry = (a >> 8) & 0x7F
    x[i] = ax + bx * rx + cx * ry
    y[i] = ay + by * rx + cy * ry
    p[i] = ap + bp * (a & 1)
    t[i] = ts


@njit(cache=True, nogil=True)
def _decode_aedat2_kernel(body, rec, ax, bx, cx, ay, by, cy, ap, bp, x, y, t, p):  # pragma: no cover
    """Fast path: decode every record of ``rec`` bytes (6 or 8) in place, branch-free.

    The convention is folded into coefficients: ``x = ax + bx * raw_x + cx * raw_y``, likewise
    y, and ``p = ap + bp * bit0``. Returns (sync/special records seen, any decreasing
    timestamp); with special records present the caller re-decodes with
    :func:`_decode_aedat2_compact`. Out-of-range values (possible only for sensors narrower
    than 128) wrap to >= 2^15 in uint16 and are caught by the caller. The two record sizes
    get separate loops: a size test inside the loop costs a factor of five.
    """
    special = 0
    unsorted = False
    prev = np.int64(-1)
    if rec == 8:
        for i in range(x.shape[0]):
            k = 8 * i
            a = ((np.int64(body[k]) << 24) | (np.int64(body[k + 1]) << 16)
                 | (np.int64(body[k + 2]) << 8) | np.int64(body[k + 3]))
            ts = ((np.int64(body[k + 4]) << 24) | (np.int64(body[k + 5]) << 16)
                  | (np.int64(body[k + 6]) << 8) | np.int64(body[k + 7]))
            special += (a & 0x80008000) != 0
            unsorted |= ts < prev
            prev = ts
            _store(i, a, ts, ax, bx, cx, ay, by, cy, ap, bp, x, y, t, p)
    else:
        for i in range(x.shape[0]):
            k = 6 * i
            a = (np.int64(body[k]) << 8) | np.int64(body[k + 1])
            ts = ((np.int64(body[k + 2]) << 24) | (np.int64(body[k + 3]) << 16)
                  | (np.int64(body[k + 4]) << 8) | np.int64(body[k + 5]))
            special += (a & 0x8000) != 0
            unsorted |= ts < prev
            prev = ts
            _store(i, a, ts, ax, bx, cx, ay, by, cy, ap, bp, x, y, t, p)
    return special, unsorted


@njit(cache=True, nogil=True)
def _decode_aedat2_compact(body, rec, conv, width, height, x, y, t, p):  # pragma: no cover
    """Slow path: decode records, skipping sync/special events.

    Returns (events written, first out-of-range record or -1, any decreasing timestamp).
    """
    n = body.shape[0] // rec
    j = 0
    bad = -1
    unsorted = False
    prev = np.int64(-1)
    for i in range(n):
        k = i * rec
        if rec == 8:
            addr = ((np.uint32(body[k]) << 24) | (np.uint32(body[k + 1]) << 16)
                    | (np.uint32(body[k + 2]) << 8) | np.uint32(body[k + 3]))
            k += 4
        else:
            addr = (np.uint32(body[k]) << 8) | np.uint32(body[k + 1])
            k += 2
        if addr & 0x80008000:
            continue
        ts = ((np.int64(body[k]) << 24) | (np.int64(body[k + 1]) << 16)
              | (np.int64(body[k + 2]) << 8) | np.int64(body[k + 3]))
        bit0 = np.int64(addr & 1)
        rx = np.int64((addr >> 1) & 0x7F)
        ry = np.int64((addr >> 8) & 0x7F)
        if conv == 0:
            xi = width - 1 - rx
            yi = ry
            pi = 1 - bit0
        elif conv == 1:
            xi = width - 1 - ry
            yi = height - 1 - rx
            pi = 1 - bit0
        else:
            xi = rx
            yi = ry
            pi = bit0
        if xi < 0 or xi >= width or yi < 0 or yi >= height:
            if bad < 0:
                bad = i
            xi = 0
            yi = 0
        unsorted |= ts < prev
        prev = ts
        x[j] = xi
        y[j] = yi
        t[j] = ts
        p[j] = pi
        j += 1
    return j, bad, unsorted


def decode_aedat2_body(
    body: np.ndarray,
    *,
    version: str = "2.0",
    convention: str = "jaer",
    sensor_size: tuple[int, int] = (128, 128),
    path: str | None = None,
    body_offset: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, int]]:
    """Decode an AEDAT 1.0/2.0 body (uint8 array) into (x, y, t, p, info), where info holds
    ``special_events`` (sync/special records skipped) and ``unsorted`` (1 when some timestamp
    decreases)."""
    if convention not in _CONVENTION_CODE:
        raise ValueError(f"convention must be one of {CONVENTIONS}; got {convention!r}")
    rec = _RECORD_SIZE[int(version.split(".")[0])]
    body = np.ascontiguousarray(body, dtype=np.uint8).reshape(-1)
    n = body.shape[0] // rec
    if body.shape[0] != n * rec:
        raise TruncatedFileError(
            path,
            f"body of {body.shape[0]} bytes is not a whole number of {rec}-byte AEDAT {version} "
            f"records: the last {body.shape[0] - n * rec} byte(s) start a partial record",
            offset=body_offset + n * rec,
            expected=f"{rec}-byte (address, timestamp) records",
        )
    w, h = sensor_size
    x = np.empty(n, np.uint16)
    y = np.empty(n, np.uint16)
    t = np.empty(n, np.int64)
    p = np.empty(n, np.uint8)
    special, unsorted = _decode_aedat2_kernel(body, rec, *_coefficients(convention, w, h),
                                              x, y, t, p)
    bad = -1
    j = n
    if special:
        j, bad, unsorted = _decode_aedat2_compact(body, rec, _CONVENTION_CODE[convention], w, h,
                                           x, y, t, p)
    elif n and (w < _MAX_RAW + 1 or h < _MAX_RAW + 1):
        outside = np.flatnonzero((x >= w) | (y >= h))
        bad = int(outside[0]) if outside.size else -1
    if bad >= 0:
        k = bad * rec
        addr = int.from_bytes(body[k:k + rec - 4].tobytes(), "big")
        raise_out_of_range(
            path, int(bad), (addr >> 1) & 0x7F, (addr >> 8) & 0x7F, sensor_size,
            body_offset + k, hint=_RANGE_HINT,
        )
    if j < n:
        x, y, t, p = x[:j], y[:j], t[:j], p[:j]
    return x, y, t, p, {"special_events": n - j, "unsorted": int(unsorted)}


def _coefficients(convention: str, w: int, h: int) -> tuple[int, ...]:
    """(ax, bx, cx, ay, by, cy, ap, bp) of the fast kernel for one convention."""
    if convention == "jaer":
        return w - 1, -1, 0, 0, 0, 1, 1, -1
    if convention == "spikingjelly":
        return w - 1, 0, -1, h - 1, -1, 0, 1, -1
    return 0, 1, 0, 0, 0, 1, 0, 1


def read_aedat2(
    path: PathLike,
    convention: str = "jaer",
    sensor_size: tuple[int, int] | None = None,
    on_unsorted: OnUnsorted = "warn",
    chip: str | None = None,
) -> Events:
    """Read a jAER AEDAT 1.0/2.0 file: DVS128 (e.g. CIFAR10-DVS), DAVIS240 or DAVIS346.

    The chip comes from the header's ``# AEChip:`` line (DVS128 when there is none; any chip
    other than DVS128/DAVIS240/DAVIS346 raises HeaderError naming it, see
    :mod:`eventcompress.io.aedat2_chips`); ``chip`` overrides it. ``sensor_size`` defaults to
    the chip's pixel array. ``convention`` is ``"jaer"`` (default), ``"spikingjelly"``
    (DVS128 only) or ``"raw"`` (module docstring). A header without a version line is read as
    AEDAT 2.0 (as SpikingJelly does). The header text is kept in ``metadata["header"]``. An
    event outside ``sensor_size`` raises CoordinateRangeError reporting the raw field values;
    there is no ``check_range=False`` because a flipped coordinate beyond the sensor would be
    negative.
    """
    spath = os.fspath(path)
    return read_aedat2_bytes(read_file_bytes(spath), spath, convention, sensor_size,
                             on_unsorted, chip)


def read_aedat2_bytes(
    buf: np.ndarray,
    spath: str,
    convention: str = "jaer",
    sensor_size: tuple[int, int] | None = None,
    on_unsorted: OnUnsorted = "warn",
    chip: str | None = None,
) -> Events:
    """:func:`read_aedat2` of a file whose bytes (a uint8 array) are already read."""
    check_on_unsorted(on_unsorted)
    if convention not in _CONVENTION_CODE:
        raise ValueError(f"convention must be one of {CONVENTIONS}; got {convention!r}")
    require_nonempty(buf, spath, "an AEDAT 2.0 file ('#!AER-DAT2.0' header)")
    # The header is short: parse it from the first bytes only; it may run to the end of file.
    span = 1 << 16
    while True:
        at_eof = span >= buf.shape[0]
        head = buf[:span].tobytes()
        version, lines, start, complete = _scan_header(head, spath, at_eof)
        if complete:
            break
        span *= 4
    named, chip_class = chip_from_header(lines, head, spath) if chip is None else (
        chip_by_name(chip), None)
    size = named.sensor_size if sensor_size is None else sensor_tuple(sensor_size)
    assumed = version is None
    version = version or "2.0"
    if named.layout == "davis":
        x, y, t, p, info = decode_davis_body(buf[start:], named, version, convention, size,
                                              spath, start)
    else:
        x, y, t, p, info = decode_aedat2_body(
            buf[start:], version=version, convention=convention, sensor_size=size, path=spath,
            body_offset=start,
        )
    meta = {
        "format": "aedat2", "path": spath, "version": version, "version_assumed": assumed,
        "convention": convention, "chip": named.name, "chip_class": chip_class,
        "header": lines, **{k: v for k, v in info.items() if k != "unsorted"},
    }
    return finish(Events._trusted(x, y, t, p, size, meta), on_unsorted, spath, info["unsorted"])


def encode_aedat2_body(events: Events, convention: str = "jaer", path: str | None = None) -> np.ndarray:
    """Big-endian (address, timestamp) records, the inverse of the reader for ``convention``."""
    if convention not in _CONVENTION_CODE:
        raise ValueError(f"convention must be one of {CONVENTIONS}; got {convention!r}")
    w, h = events.sensor_size
    if w > _MAX_RAW + 1 or h > _MAX_RAW + 1:
        raise ValueError(f"{path or '<memory>'}: AEDAT 2.0 DVS128 addresses hold 7-bit x and y; "
                         f"sensor_size {events.sensor_size} exceeds 128x128")
    check_events_fit(events, path, "AEDAT 2.0", x_max=w - 1, y_max=h - 1, t_min=0,
                     t_max=(1 << 32) - 1)
    x = events.x.astype(np.uint32)
    y = events.y.astype(np.uint32)
    p = events.p.astype(np.uint32)
    if convention == "jaer":
        raw_x, raw_y, bit0 = (w - 1) - x, y, 1 - p
    elif convention == "spikingjelly":
        raw_x, raw_y, bit0 = (h - 1) - y, (w - 1) - x, 1 - p
    else:
        raw_x, raw_y, bit0 = x, y, p
    rec = np.empty((len(events), 2), ">u4")
    rec[:, 0] = (raw_y << 8) | (raw_x << 1) | bit0
    rec[:, 1] = events.t
    return rec.reshape(-1).view(np.uint8)


def write_aedat2(
    path: PathLike,
    events: Events,
    convention: str = "jaer",
    header_lines: Sequence[str] | None = None,
) -> None:
    """Write an AEDAT 2.0 file: ``#!AER-DAT2.0\\r\\n``, comment lines, big-endian records.

    ``header_lines`` replaces the default jAER-style comments; a line not starting with ``#``
    gets ``"# "`` prepended. Lines must be single-line ASCII text.
    """
    spath = os.fspath(path)
    body = encode_aedat2_body(events, convention, spath)
    lines = DEFAULT_HEADER_LINES if header_lines is None else tuple(header_lines)
    out = ["#!AER-DAT2.0"]
    for line in lines:
        if "\n" in line or "\r" in line or not line.isascii():
            raise ValueError(f"header line must be one line of ASCII text: {line!r}")
        if line.startswith("#!AER-DAT"):
            continue
        out.append(line if line.startswith("#") else f"# {line}")
    header = "".join(f"{line}\r\n" for line in out).encode("ascii")
    write_bytes(spath, header, body)
