"""AEDAT 3.1 files (DVS128 Gesture): ``#`` header up to ``#!END-HEADER``, then packets.

Each packet is a 28-byte little-endian header (FORMATS.md section 3.4)::

    int16 eventType, int16 eventSource, int32 eventSize, int32 eventTSOffset,
    int32 eventTSOverflow, int32 eventCapacity, int32 eventNumber, int32 eventValid

followed by ``eventCapacity * eventSize`` bytes. Polarity packets (eventType 1, eventSize 8)
hold ``uint32 data`` (bit 0 valid, bit 1 polarity, bits 16..2 y, bits 31..17 x) and ``int32``
timestamp; the full timestamp is ``eventTSOverflow << 31 | timestamp`` (microseconds). Other
packet types are skipped by ``eventCapacity * eventSize``. Of the capacity slots only the first
``eventNumber`` hold events (writers, ours included, set capacity = number).

The DVS Gesture labels CSV helpers (:func:`read_labels_csv`, :func:`write_labels_csv`,
:func:`slice_by_labels`) live in :mod:`eventcompress.io.labels` and are re-exported here.
"""

from __future__ import annotations

import os
import re

import numpy as np

from ..errors import HeaderError, PacketError
from ..events import Events, OnUnsorted
from ._aedat3_kernels import (
    _BAD_SIZE,
    _BAD_TS_OFFSET,
    _NEGATIVE_OVERFLOW,
    _NUMBER_GT_CAPACITY,
    _OK,
    _PAST_END,
    _SHORT_HEADER,
    _decode_polarity,
    _decode_polarity_fast,
    _first_negative_timestamp,
    _scan_packets,
)
from ._common import (
    HINT_CHECK_RANGE,
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
from .labels import read_labels_csv, slice_by_labels, write_labels_csv

__all__ = [
    "decode_aedat3_packets", "read_aedat3", "read_aedat3_bytes", "write_aedat3", "encode_aedat3",
    "read_labels_csv", "write_labels_csv", "slice_by_labels",
]

PACKET_HEADER_SIZE = 28
POLARITY_EVENT = 1
POLARITY_EVENT_SIZE = 8
TS_OVERFLOW_SHIFT = 31
END_OF_HEADER = b"#!END-HEADER\r\n"
_VERSION_RE = re.compile(rb"^#!AER-DAT3\.(\d+)\s*$")
_COORD_MAX = 0x7FFF
_NO_LIMIT = _COORD_MAX + 1  # sensor bound that no 15-bit coordinate reaches



def _packet_error(path: str | None, status: int, index: int, offset: int, detail: int) -> PacketError:
    where = f"packet {index}"
    if status == _SHORT_HEADER:
        return PacketError(path, f"{where}: only {detail} byte(s) left for its 28-byte header",
                           offset=offset, row=index, expected="a complete 28-byte packet header")
    if status == _PAST_END:
        return PacketError(path, f"{where} declares {detail} payload bytes, past the end of file",
                           offset=offset, row=index,
                           expected="eventCapacity * eventSize bytes inside the file")
    if status == _BAD_SIZE:
        return PacketError(path, f"{where}: polarity packet with eventSize {detail}", offset=offset,
                           row=index, expected="eventSize 8 for polarity events")
    if status == _BAD_TS_OFFSET:
        return PacketError(path, f"{where}: polarity packet with eventTSOffset {detail}",
                           offset=offset, row=index, expected="eventTSOffset 4")
    if status == _NEGATIVE_OVERFLOW:
        return PacketError(path, f"{where}: polarity packet with the negative eventTSOverflow "
                           f"{detail}", offset=offset, row=index,
                           expected="eventTSOverflow >= 0 (the count of 31-bit timestamp wraps)")
    if status == _NUMBER_GT_CAPACITY:
        return PacketError(path, f"{where}: eventNumber {detail} exceeds eventCapacity",
                           offset=offset, row=index, expected="eventNumber <= eventCapacity")
    return PacketError(path, f"{where}: negative size field ({detail})", offset=offset, row=index,
                       expected="non-negative eventSize, eventCapacity and eventNumber")


def _negative_timestamp(body: np.ndarray, path: str | None, body_offset: int) -> PacketError:
    index, pos, event, value = (int(v) for v in _first_negative_timestamp(body))
    return PacketError(
        path, f"packet {index}: event {event} (byte offset {body_offset + pos + 28 + 8 * event}) "
        f"has the negative timestamp {value}", offset=body_offset + pos, row=index,
        expected="int32 event timestamps >= 0 (microseconds below 2^31; eventTSOverflow "
                 "counts the wraps)")


def parse_aedat3_header(data: bytes, path: str | None = None) -> tuple[str, list[str], int]:
    """(version such as "3.1", header lines without line endings, body offset)."""
    if not data.startswith(b"#!AER-DAT3."):
        raise HeaderError(path, f"no AEDAT 3 version line: the file starts with {data[:16]!r}",
                          offset=0, expected="'#!AER-DAT3.1\\r\\n'")
    lines: list[str] = []
    pos = 0
    version = ""
    while pos < len(data) and data[pos] == 0x23:  # '#'
        end = data.find(b"\n", pos)
        end = len(data) if end < 0 else end + 1
        raw = data[pos:end]
        text = raw.rstrip(b"\r\n")
        if pos == 0:
            m = _VERSION_RE.match(text)
            if m is None:
                raise HeaderError(path, f"garbled version line {text[:40]!r}", offset=0,
                                  expected="'#!AER-DAT3.1'")
            version = f"3.{int(m.group(1))}"
        try:
            lines.append(text.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise HeaderError(path, f"header line is not text ({exc.reason})",
                              offset=pos + exc.start, expected="ASCII '#' header lines") from None
        pos = end
        if text == END_OF_HEADER.rstrip(b"\r\n"):
            return version, lines, pos
    raise HeaderError(path, "header has no '#!END-HEADER' line", offset=pos,
                      expected="'#!END-HEADER\\r\\n' closing the header")


def decode_aedat3_packets(
    body: np.ndarray,
    *,
    drop_invalid: bool = True,
    sensor_size: tuple[int, int] = (128, 128),
    path: str | None = None,
    body_offset: int = 0,
    check_range: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, int]]:
    """Decode the packet stream after the header: (x, y, t, p, counts), where counts holds
    ``packets``, ``skipped_packets`` (non-polarity), ``invalid_dropped`` and ``unsorted`` (1 when
    some timestamp decreases). ``check_range=False`` keeps events outside ``sensor_size``."""
    body = np.ascontiguousarray(body, dtype=np.uint8).reshape(-1)
    status, index, offset, slots, packets, skipped, detail = _scan_packets(body)
    if status != _OK:
        raise _packet_error(path, int(status), int(index), body_offset + int(offset), int(detail))
    x = np.empty(slots, np.uint16)
    y = np.empty(slots, np.uint16)
    t = np.empty(slots, np.int64)
    p = np.empty(slots, np.uint8)
    w, h = sensor_size if check_range else (_NO_LIMIT, _NO_LIMIT)
    j, bad, unsorted, invalid, negative = _decode_polarity_fast(body, w, h, x, y, t, p)
    if negative:
        raise _negative_timestamp(body, path, body_offset)
    bad_off, bad_idx, dropped = -1, -1, 0
    if bad or (invalid and drop_invalid):
        j, bad_off, bad_idx, unsorted, dropped = _decode_polarity(body, drop_invalid, w, h, x, y, t, p)
    if bad_off >= 0:
        data = int.from_bytes(body[bad_off:bad_off + 4].tobytes(), "little")
        raise_out_of_range(path, int(bad_idx), (data >> 17) & 0x7FFF, (data >> 2) & 0x7FFF,
                           sensor_size, body_offset + int(bad_off), hint=HINT_CHECK_RANGE)
    if j < slots:
        x, y, t, p = x[:j], y[:j], t[:j], p[:j]
    counts = {"packets": int(packets), "skipped_packets": int(skipped),
              "invalid_dropped": int(dropped), "unsorted": int(unsorted)}
    return x, y, t, p, counts


def read_aedat3(
    path: PathLike,
    on_unsorted: OnUnsorted = "warn",
    drop_invalid: bool = True,
    sensor_size: tuple[int, int] = (128, 128),
    check_range: bool = True,
) -> Events:
    """Read an AEDAT 3.1 file (DVS Gesture trial); polarity events only.

    Events whose valid bit is 0 are dropped unless ``drop_invalid=False`` (SpikingJelly keeps
    them). x and y are taken as stored (libcaer: origin in the upper-left corner; neither tonic
    nor SpikingJelly flips them for DVS Gesture). With ``check_range`` an event outside
    ``sensor_size`` raises CoordinateRangeError (record ordinal and byte offset); with
    ``check_range=False`` it is kept as stored (x, y < 2^15).
    """
    spath = os.fspath(path)
    return read_aedat3_bytes(read_file_bytes(spath), spath, on_unsorted, drop_invalid,
                             sensor_size, check_range)


def read_aedat3_bytes(
    buf: np.ndarray,
    spath: str,
    on_unsorted: OnUnsorted = "warn",
    drop_invalid: bool = True,
    sensor_size: tuple[int, int] = (128, 128),
    check_range: bool = True,
) -> Events:
    """:func:`read_aedat3` of a file whose bytes (a uint8 array) are already read."""
    check_on_unsorted(on_unsorted)
    size = sensor_tuple(sensor_size)
    require_nonempty(buf, spath, "an AEDAT 3.1 file ('#!AER-DAT3.1' header)")
    span = 1 << 16
    while True:
        head = buf[:span].tobytes()
        try:
            version, lines, start = parse_aedat3_header(head, spath)
            break
        except HeaderError:
            if span >= buf.shape[0]:
                raise
            span *= 4
    x, y, t, p, counts = decode_aedat3_packets(
        buf[start:], drop_invalid=drop_invalid, sensor_size=size, path=spath, body_offset=start,
        check_range=check_range,
    )
    unsorted = counts.pop("unsorted")
    meta = {"format": "aedat3", "path": spath, "version": version, "header": lines, **counts}
    return finish(Events._trusted(x, y, t, p, size, meta), on_unsorted, spath, unsorted)


def _packet_header(etype: int, esize: int, tsoff: int, overflow: int, cap: int, num: int,
                   valid: int, source: int) -> bytes:
    return np.array(
        [etype | (source << 16), esize, tsoff, overflow, cap, num, valid], "<i4"
    ).tobytes()


def encode_aedat3(
    events: Events,
    *,
    packet_size: int = 4096,
    source: int = 1,
    path: str | None = None,
    _valid: np.ndarray | None = None,
    _foreign_packets: bool = False,
    _extra_capacity: int = 0,
) -> bytes:
    """The packet stream (no header) of a polarity-only AEDAT 3.1 file.

    Consecutive events sharing ``t >> 31`` go into packets of at most ``packet_size`` events
    whose eventTSOverflow is that value. Private test hooks: ``_valid`` (valid bits),
    ``_foreign_packets`` (add non-polarity packets readers must skip), ``_extra_capacity``
    (unused slots after eventNumber).
    """
    if packet_size <= 0:
        raise ValueError(f"packet_size must be positive, got {packet_size}")
    check_events_fit(events, path, "AEDAT 3.1", x_max=_COORD_MAX, y_max=_COORD_MAX, t_min=0,
                     t_max=(1 << 62) - 1)
    n = len(events)
    valid = np.ones(n, np.uint32) if _valid is None else np.asarray(_valid, np.uint32) & 1
    data = ((events.x.astype(np.uint32) << 17) | (events.y.astype(np.uint32) << 2)
            | (events.p.astype(np.uint32) << 1) | valid)
    rec = np.empty((n, 2), "<u4")
    rec[:, 0] = data
    rec[:, 1] = events.t & 0x7FFFFFFF
    overflow = events.t >> TS_OVERFLOW_SHIFT
    cuts = np.flatnonzero(overflow[1:] != overflow[:-1]) + 1 if n else np.zeros(0, np.int64)
    bounds = [0, *cuts.tolist(), n]
    chunks: list[bytes] = []
    foreign = _packet_header(3, 36, 32, 0, 2, 2, 2, source) + bytes([0xAB]) * 72
    if _foreign_packets:
        chunks.append(foreign)
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        for a in range(lo, hi, packet_size):
            b = min(a + packet_size, hi)
            cap = b - a + _extra_capacity
            chunks.append(_packet_header(POLARITY_EVENT, POLARITY_EVENT_SIZE, 4, int(overflow[a]),
                                         cap, b - a, int(valid[a:b].sum()), source))
            chunks.append(rec[a:b].tobytes())
            if _extra_capacity:
                chunks.append(bytes(8 * _extra_capacity))
            if _foreign_packets and len(chunks) <= 4:
                chunks.append(foreign)
    if _foreign_packets:
        chunks.append(foreign)
    return b"".join(chunks)


def write_aedat3(
    path: PathLike,
    events: Events,
    *,
    packet_size: int = 4096,
    source: int = 1,
    device: str = "DVS128",
    start_time: str = "1970-01-01 00:00:00 (TZ+0000)",
    **private: object,
) -> None:
    """Write a polarity-only AEDAT 3.1 file that tonic, SpikingJelly and libcaer tools read.

    ``start_time`` fills the ``#Start-Time:`` line (fixed by default so equal events give
    equal bytes). Events with ``t >= 2^31`` go into packets carrying the matching
    eventTSOverflow. Keyword arguments starting with ``_`` are test hooks of
    :func:`encode_aedat3`.
    """
    spath = os.fspath(path)
    body = encode_aedat3(events, packet_size=packet_size, source=source, path=spath,
                         **private)  # type: ignore[arg-type]
    header = (
        "#!AER-DAT3.1\r\n#Format: RAW\r\n"
        f"#Source {source}: {device}\r\n#Start-Time: {start_time}\r\n#!END-HEADER\r\n"
    ).encode("ascii")
    write_bytes(spath, header, body)
