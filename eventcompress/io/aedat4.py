"""AEDAT 4.0 (iniVation DV) event streams, decoded by the ``aedat`` package (Rust, PyPI).

The file is ``#!AER-DAT4.0\\r\\n``, a length-prefixed IOHeader flatbuffer whose XML description
lists the streams, then (optionally LZ4/zstd-compressed) packets, each tagged with a stream id.
We pick one events stream (the lowest id unless ``stream_id`` is given), concatenate its
packets and keep DV's absolute Unix-time microseconds unless ``relative_time=True``.
"""

from __future__ import annotations

import os
import struct
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import (
    CoordinateRangeError,
    EmptyFileError,
    HeaderError,
    MissingExtraError,
    PacketError,
    TruncatedFileError,
)
from ..events import Events, OnUnsorted, enforce_time_order

MAGIC = b"#!AER-DAT4.0\r\n"
_IO_HEADER = ("after the magic, a little-endian u32 length and an IOHeader flatbuffer of that "
              "many bytes (compression, data table position, XML stream description)")


def _decoder_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is the ``aedat`` decoder refusing its input: a RuntimeError, or a Rust
    panic surfacing as pyo3's PanicException (which derives from BaseException)."""
    return isinstance(exc, RuntimeError) or type(exc).__name__ == "PanicException"


def _check_io_header(path: str) -> None:
    """HeaderError (never the decoder's bare "failed to fill whole buffer") when the IOHeader
    length after the magic is missing or runs past the end of the file, as garbage does."""
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        fh.seek(len(MAGIC))
        prefix = fh.read(4)
    if len(prefix) < 4:
        raise HeaderError(path, f"the file ends {len(prefix)} byte(s) after the magic",
                          offset=len(MAGIC), expected=_IO_HEADER)
    (length,) = struct.unpack("<I", prefix)
    left = size - len(MAGIC) - 4
    if length == 0 or length > left:
        raise HeaderError(path, f"the IOHeader length field says {length} bytes, but {left} "
                          "follow it", offset=len(MAGIC), expected=_IO_HEADER)


def _stream_info(path: str) -> dict[int, dict[str, Any]]:
    """Per-stream ``source`` and ``tsOffset`` from the IOHeader's XML, best effort ({} when the
    description cannot be found): the ``aedat`` package does not expose them."""
    with open(path, "rb") as fh:
        head = fh.read(len(MAGIC) + 4)
        if len(head) < len(MAGIC) + 4:
            return {}
        (length,) = struct.unpack_from("<I", head, len(MAGIC))
        blob = fh.read(min(length, 1 << 24))
    start, end = blob.find(b"<dv"), blob.find(b"</dv>")
    if start < 0 or end < 0:
        return {}
    try:
        root = ET.fromstring(blob[start:end + 5].decode("utf-8"))
    except (ET.ParseError, UnicodeDecodeError):
        return {}
    info: dict[int, dict[str, Any]] = {}
    for out in root.iter("node"):
        if out.get("name") != "outInfo":
            continue
        for node in out.findall("node"):
            name = node.get("name", "")
            if not name.isdigit():
                continue
            entry: dict[str, Any] = {}
            for attr in node.iter("attr"):
                key, text = attr.get("key"), (attr.text or "").strip()
                if key == "source":
                    entry["source"] = text
                elif key == "tsOffset" and text.lstrip("-").isdigit():
                    entry["ts_offset"] = int(text)
                elif key == "typeIdentifier":
                    entry["type_identifier"] = text
                elif key == "compression":
                    entry["compression"] = text
            info[int(name)] = entry
    return info


def read_aedat4(
    path: str | os.PathLike[str],
    stream_id: int | None = None,
    relative_time: bool = False,
    on_unsorted: OnUnsorted = "warn",
    check_range: bool = True,
) -> Events:
    """Read the polarity events of one stream of an AEDAT 4.0 file.

    ``stream_id``: which events stream (default: the lowest id of type "events").
    ``relative_time``: subtract the earliest timestamp (kept in ``metadata["t0"]``); by default
    timestamps stay absolute Unix microseconds, as DV wrote them. Sensor size comes from the
    stream description (sizeX/sizeY); with ``check_range`` an event outside it raises
    CoordinateRangeError naming the field, the event and its packet (``check_range=False``
    keeps such events). Needs ``pip install 'eventcompress[aedat]'``.
    """
    try:
        import aedat
    except ImportError as exc:
        raise MissingExtraError("aedat", "aedat", "Reading AEDAT 4 files") from exc

    spath = os.fspath(path)
    with open(spath, "rb") as fh:  # FileNotFoundError / IsADirectoryError stay what they are
        magic = fh.read(len(MAGIC))
    if not magic:
        raise EmptyFileError(spath, "the file is empty", offset=0, expected="an AEDAT 4.0 file")
    if magic != MAGIC:
        raise HeaderError(
            spath, f"the file starts with {magic!r}", offset=0, expected=f"the magic {MAGIC!r}",
        )
    _check_io_header(spath)
    try:
        decoder = aedat.Decoder(spath)
        streams = decoder.id_to_stream()
    except BaseException as exc:  # the decoder panics (a BaseException) on some garbage
        if not _decoder_failure(exc):
            raise
        raise HeaderError(spath, f"cannot parse the AEDAT 4 IOHeader: {exc}",
                          offset=len(MAGIC), expected=_IO_HEADER) from exc

    event_ids = sorted(i for i, s in streams.items() if s.get("type") == "events")
    if stream_id is None:
        if not event_ids:
            kinds = {i: s.get("type") for i, s in sorted(streams.items())}
            raise EmptyFileError(
                spath, f"no events stream; streams are {kinds}",
                expected="a stream of type 'events'",
            )
        stream_id = event_ids[0]
    elif stream_id not in event_ids:
        raise HeaderError(
            spath, f"stream {stream_id} is not an events stream (events streams: {event_ids})",
            expected="stream_id of an events stream",
        )
    desc = streams[stream_id]
    width, height = int(desc.get("width", 0)), int(desc.get("height", 0))
    if width <= 0 or height <= 0:
        raise HeaderError(
            spath, f"events stream {stream_id} has no sensor size in its description ({desc})",
            expected="sizeX and sizeY in the stream's info node",
        )

    packets = []
    packet_index = []  # file-wide packet index of each kept packet, for error messages
    index = -1
    try:
        for index, packet in enumerate(decoder):  # noqa: B007 - index is used in the error
            if packet["stream_id"] == stream_id and "events" in packet:
                packets.append(packet["events"])
                packet_index.append(index)
    except BaseException as exc:
        if not _decoder_failure(exc):
            raise
        cls = TruncatedFileError if "fill whole buffer" in str(exc) else PacketError
        n_read = sum(len(a) for a in packets)
        raise cls(
            spath, f"packet {index + 1} (0-based, counting all streams) cannot be decoded ({exc}); "
            f"{n_read} events of stream {stream_id} were read before it", row=index + 1,
            expected="complete AEDAT 4 packets",
        ) from exc

    if packets:
        data = np.concatenate(packets)
        x = np.ascontiguousarray(data["x"], dtype=np.uint16)
        y = np.ascontiguousarray(data["y"], dtype=np.uint16)
        t = np.ascontiguousarray(data["t"], dtype=np.int64)
        p = np.ascontiguousarray(data["on"], dtype=np.uint8)
        if check_range:
            ends = np.cumsum([len(a) for a in packets])
            _check_coordinates(spath, x, y, (width, height), stream_id,
                               lambda i: packet_index[int(np.searchsorted(ends, i, "right"))])
    else:
        x = y = np.zeros(0, np.uint16)
        t = np.zeros(0, np.int64)
        p = np.zeros(0, np.uint8)

    info = _stream_info(spath).get(stream_id, {})
    meta: dict[str, Any] = {
        "format": "aedat4", "path": spath, "stream_id": stream_id, "n_packets": len(packets),
        **{k: v for k, v in info.items() if k in ("source", "ts_offset", "compression")},
    }
    if relative_time and len(t):
        t0 = int(t.min())
        t = t - t0
        meta["t0"] = t0
    events = Events._trusted(x, y, t, p, (width, height), meta)
    return enforce_time_order(events, on_unsorted, spath)


def _check_coordinates(path: str, x: np.ndarray, y: np.ndarray, size: tuple[int, int],
                       stream_id: int, packet_of: Callable[[int], int]) -> None:
    """CoordinateRangeError for the first event outside ``size``; ``packet_of(i)`` is the
    file-wide index of the packet holding event ``i`` (AEDAT 4 packets have no byte offsets
    in the decoder's output)."""
    width, height = size
    if int(x.max()) < width and int(y.max()) < height:
        return
    i = int(np.flatnonzero((x >= width) | (y >= height))[0])
    field, value, bound = ("x", int(x[i]), width) if x[i] >= width else ("y", int(y[i]), height)
    raise CoordinateRangeError(
        path, f"event {i} of stream {stream_id} (in packet {packet_of(i)}, 0-based, counting all "
        f"streams) has {field}={value} (x={int(x[i])}, y={int(y[i])}), outside the "
        f"{width}x{height} sensor", row=i,
        expected=f"{field} < {bound}, as sizeX={width}/sizeY={height} of stream {stream_id} "
        "declare (pass check_range=False to keep such events)",
    )


def aedat4_stream_ids(path: str | os.PathLike[str]) -> dict[int, str]:
    """Stream id -> type ("events", "frame", "imus", "triggers") of an AEDAT 4.0 file."""
    try:
        import aedat
    except ImportError as exc:
        raise MissingExtraError("aedat", "aedat", "Reading AEDAT 4 files") from exc
    spath = os.fspath(Path(path))
    return {i: s.get("type", "?") for i, s in aedat.Decoder(spath).id_to_stream().items()}
