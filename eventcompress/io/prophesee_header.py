"""The ASCII header of Prophesee RAW files (shared by the EVT 2.0 and EVT 3.0 readers/writers).

A header is a run of lines ``% <keyword> <value>\\n`` at the start of the file. The binary
payload starts at the first line that does not start with ``% `` (or right after a ``% end``
line). A line that starts with ``%`` but holds non-printable bytes is taken as payload: old files
have no ``% end`` line, and a payload word may happen to begin with the byte ``%``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ..errors import CoordinateRangeError, EmptyFileError, HeaderError, TruncatedFileError
from ._common import read_file_bytes

#: Versions declared by ``% evt X.Y`` or by the first token of ``% format EVTn;...``.
_FORMAT_TOKEN_TO_VERSION = {"EVT2": "2.0", "EVT21": "2.1", "EVT3": "3.0"}
_KNOWN_VERSIONS = ("2.0", "2.1", "3.0")

#: Sensor size (width, height) inferred from ``% plugin_name`` when the header has no geometry.
#: Checked in order; the first substring found in the lower-cased plugin name wins.
PLUGIN_SENSOR_SIZES: tuple[tuple[str, tuple[int, int]], ...] = (
    ("imx636", (1280, 720)),
    ("gen41", (1280, 720)),
    ("gen4", (1280, 720)),
    ("genx320", (320, 320)),
    ("gen31", (640, 480)),
    ("gen3", (640, 480)),
)

_NOT_HEADER_BYTES = re.compile(rb"[^\x20-\x7e\t\r]")
_GEOMETRY = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*$")
#: Largest coordinate an 11-bit EVT field can carry.
MAX_COORD = 2047
#: Writers refuse timestamps from 2**40 us (~12.7 days) on: absolute Unix times would need
#: millions of TIME_HIGH wrap words (EVT 3.0 wraps every 2**24 us).
MAX_WRITE_TIME = 1 << 40


@dataclass(frozen=True)
class RawHeader:
    """Parsed header: ``entries`` keyword -> value in file order (a repeated keyword keeps the
    last value), ``offsets`` keyword -> byte offset of its line, ``payload_offset`` = first
    payload byte, ``version`` = declared EVT version ("2.0", "2.1", "3.0") or None."""

    entries: dict[str, str]
    offsets: dict[str, int]
    payload_offset: int
    version: str | None = None
    version_offset: int | None = None
    geometry: tuple[int, int] | None = None
    geometry_source: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def get(self, keyword: str) -> str | None:
        """Value of ``keyword`` (case-insensitive), or None."""
        want = keyword.lower()
        for key, value in self.entries.items():
            if key.lower() == want:
                return value
        return None

    def offset_of(self, keyword: str) -> int | None:
        want = keyword.lower()
        for key, off in self.offsets.items():
            if key.lower() == want:
                return off
        return None


def _is_header_line(line: bytes) -> bool:
    stripped = line.rstrip(b"\r")
    if stripped != b"%" and not stripped.startswith(b"% "):
        return False
    return _NOT_HEADER_BYTES.search(line) is None


def _version_from_format(value: str, path: str, offset: int) -> tuple[str, dict[str, str]]:
    parts = [s.strip() for s in value.split(";")]
    token = parts[0].upper()
    options: dict[str, str] = {}
    for part in parts[1:]:
        if not part:
            continue
        key, sep, val = part.partition("=")
        if not sep:
            raise HeaderError(
                path, f"malformed option {part!r} in '% format {value}'", offset=offset,
                expected="key=value options separated by ';'",
            )
        options[key.strip().lower()] = val.strip()
    if token not in _FORMAT_TOKEN_TO_VERSION:
        raise HeaderError(
            path, f"unsupported encoding {parts[0]!r} in '% format {value}'", offset=offset,
            expected="EVT2, EVT21 or EVT3",
        )
    return _FORMAT_TOKEN_TO_VERSION[token], options


def _normalise_evt_version(value: str, path: str, offset: int) -> str:
    text = value.strip()
    if text in ("2", "3"):
        text += ".0"
    if text not in _KNOWN_VERSIONS:
        raise HeaderError(
            path, f"unsupported EVT version {value!r} in '% evt {value}'", offset=offset,
            expected="evt 2.0, 2.1 or 3.0",
        )
    return text


def _positive_int(text: str, what: str, path: str, offset: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 0 < value <= MAX_COORD + 1:
        raise HeaderError(
            path, f"{what} {text!r} is not a usable sensor dimension", offset=offset,
            expected=f"an integer in 1..{MAX_COORD + 1}",
        )
    return value


def parse_header(data: bytes, path: str | os.PathLike[str] | None = None) -> RawHeader:
    """Parse the header at the start of ``data`` (the whole file's bytes)."""
    spath = None if path is None else os.fspath(path)
    entries: dict[str, str] = {}
    offsets: dict[str, int] = {}
    pos, n = 0, len(data)
    while pos < n and data[pos] == 0x25:  # '%'
        nl = data.find(b"\n", pos)
        end = n if nl < 0 else nl
        line = data[pos:end]
        if not _is_header_line(line):
            break
        text = line.decode("ascii").rstrip("\r")[1:].strip()
        if text:
            key, _, value = text.partition(" ")
            entries[key] = value.strip()
            offsets[key] = pos
        pos = n if nl < 0 else nl + 1
        if text == "end":
            break
    entries.pop("end", None)
    offsets.pop("end", None)
    header = RawHeader(entries, offsets, pos)

    version = version_offset = None
    geometry = geometry_source = None
    evt = header.get("evt")
    if evt is not None:
        version_offset = header.offset_of("evt")
        version = _normalise_evt_version(evt, spath, version_offset)
    fmt = header.get("format")
    if fmt is not None:
        fmt_offset = header.offset_of("format")
        fmt_version, options = _version_from_format(fmt, spath, fmt_offset)
        if version is not None and fmt_version != version:
            raise HeaderError(
                spath, f"'% evt {evt}' contradicts '% format {fmt}'", offset=fmt_offset,
                expected="one EVT version",
            )
        if version is None:
            version, version_offset = fmt_version, fmt_offset
        if "width" in options or "height" in options:
            if not ("width" in options and "height" in options):
                raise HeaderError(
                    spath, f"'% format {fmt}' gives only one of width/height", offset=fmt_offset,
                    expected="both width= and height=",
                )
            geometry = (
                _positive_int(options["width"], "width", spath, fmt_offset),
                _positive_int(options["height"], "height", spath, fmt_offset),
            )
            geometry_source = "format"
    geo = header.get("geometry")
    if geo is not None:
        geo_offset = header.offset_of("geometry")
        match = _GEOMETRY.match(geo)
        if match is None:
            raise HeaderError(
                spath, f"cannot parse '% geometry {geo}'", offset=geo_offset,
                expected="'% geometry WIDTHxHEIGHT', e.g. 1280x720",
            )
        geo_size = (
            _positive_int(match.group(1), "width", spath, geo_offset),
            _positive_int(match.group(2), "height", spath, geo_offset),
        )
        if geometry is not None and geometry != geo_size:
            raise HeaderError(
                spath, f"'% geometry {geo}' contradicts '% format {fmt}'", offset=geo_offset,
                expected="one sensor size",
            )
        geometry, geometry_source = geo_size, "geometry"
    return RawHeader(
        entries, offsets, pos, version, version_offset, geometry, geometry_source,
    )


def sensor_size_from_plugin(plugin_name: str) -> tuple[int, int] | None:
    """Sensor (width, height) of a known camera plugin, or None."""
    name = plugin_name.lower()
    if "atis" in name:  # Gen3 ATIS is 480x360, not the Gen3 CD VGA sensor
        return None
    for token, size in PLUGIN_SENSOR_SIZES:
        if token in name:
            return size
    return None


def resolve_sensor_size(
    header: RawHeader, sensor_size: tuple[int, int] | None, path: str | None
) -> tuple[tuple[int, int], str]:
    """(width, height) and where it came from: the ``sensor_size`` argument when given, else
    ``% geometry`` / ``% format``, else the plugin name; otherwise HeaderError."""
    if sensor_size is not None:
        w, h = (int(v) for v in sensor_size)
        if w <= 0 or h <= 0:
            raise ValueError(f"sensor_size must be positive (width, height), got {sensor_size}")
        return (w, h), "argument"
    if header.geometry is not None:
        return header.geometry, str(header.geometry_source)
    plugin = header.get("plugin_name")
    if plugin is not None:
        size = sensor_size_from_plugin(plugin)
        if size is not None:
            return size, "plugin_name"
    raise HeaderError(
        path,
        "cannot tell the sensor size: the header has no '% geometry' or '% format' size"
        + (f" and plugin {plugin!r} is not a known sensor" if plugin else " and no plugin_name"),
        offset=0,
        expected="a sensor_size=(width, height) argument",
    )


def _parse_file_header(buf: np.ndarray, path: str) -> RawHeader:
    """Parse the header from the first bytes of the file's contents ``buf``."""
    size = buf.shape[0]
    if size == 0:
        raise EmptyFileError(path, "the file is empty", offset=0, expected="a Prophesee RAW file")
    chunk = 1 << 16
    while True:
        head = buf[:chunk].tobytes()
        parsed = parse_header(head, path)
        # A header reaching the end of the chunk may continue past it: look further.
        if len(head) >= size or parsed.payload_offset < len(head):
            return parsed
        chunk *= 4


def load_payload(
    path: str | os.PathLike[str], word_dtype: str, want_version: str, reader: str,
) -> tuple[RawHeader, np.ndarray, str]:
    """Read a RAW file: header, payload as a word array, and the path as str.

    The file is read once, by :func:`~eventcompress.io._common.read_file_bytes`
    (memory-mapped from 8 MiB on); the header is parsed from those bytes and the payload is a
    view of them.
    """
    spath = os.fspath(path)
    buf = read_file_bytes(spath)
    header = _parse_file_header(buf, spath)
    size = buf.shape[0]
    if header.version is not None and header.version != want_version:
        other = {"2.0": "read_evt2", "3.0": "read_evt3"}.get(header.version)
        hint = f" (use {other})" if other else " (not supported by eventcompress)"
        raise HeaderError(
            spath, f"the header declares EVT {header.version}{hint}",
            offset=header.version_offset, expected=f"EVT {want_version} for {reader}",
        )
    itemsize = np.dtype(word_dtype).itemsize
    payload_len = size - header.payload_offset
    whole = payload_len - payload_len % itemsize
    if whole != payload_len:
        raise TruncatedFileError(
            spath,
            f"the payload ({payload_len} bytes after a {header.payload_offset}-byte header) "
            f"ends inside a {itemsize}-byte word",
            offset=header.payload_offset + whole,
            expected=f"a payload made of whole {itemsize * 8}-bit words",
        )
    # A view, not a copy: the payload offset need not be word-aligned, which NumPy and Numba
    # allow (unaligned loads on x86-64 and AArch64).
    words = buf[header.payload_offset:].view(word_dtype)
    return header, words, spath


def format_header(
    version: str, sensor_size: tuple[int, int], extra: Mapping[str, object] | None = None,
) -> bytes:
    """Header bytes for a written file: caller entries first, then evt/format/geometry/end.

    Keywords that the writer sets itself (evt, format, geometry, end) are dropped from ``extra``.
    """
    width, height = sensor_size
    token = {"2.0": "EVT2", "3.0": "EVT3"}[version]
    lines = []
    for key, value in (extra or {}).items():
        key = str(key).strip()
        if key.lower() in ("evt", "format", "geometry", "end"):
            continue
        text = f"% {key} {value}".rstrip()
        if not key or " " in key or "\n" in text or _NOT_HEADER_BYTES.search(text.encode("utf-8")):
            raise ValueError(f"header entry {key!r}: {value!r} cannot be written as one ASCII line")
        lines.append(text)
    lines += [
        f"% evt {version}",
        f"% format {token};height={height};width={width}",
        f"% geometry {width}x{height}",
        "% end",
    ]
    return ("\n".join(lines) + "\n").encode("ascii")


def check_writable(events, path: str, fmt: str) -> None:  # noqa: ANN001 - Events (import cycle)
    """Raise ValueError if ``events`` cannot be written exactly as EVT words."""
    w, h = events.sensor_size
    if w > MAX_COORD + 1 or h > MAX_COORD + 1:
        raise ValueError(
            f"{path}: sensor_size {events.sensor_size} exceeds the 11-bit {fmt} fields"
        )
    if len(events) == 0:
        return
    t = events.t
    back = np.flatnonzero(t[1:] < t[:-1])
    if back.size:
        i = int(back[0]) + 1
        raise ValueError(
            f"{path}: {fmt} needs time-sorted events; t decreases at event {i} "
            f"({t[i - 1]} -> {t[i]} us); use events.sorted_by_time()"
        )
    if t[0] < 0:
        raise ValueError(f"{path}: {fmt} cannot store negative timestamps (first {t[0]} us)")
    if t[-1] >= MAX_WRITE_TIME:
        raise ValueError(
            f"{path}: last timestamp {t[-1]} us is past the {MAX_WRITE_TIME} us (~12.7 days) "
            f"that {fmt} writing supports; write relative times, e.g. "
            "events.shifted(-int(events.t[0]))"
        )
    bad = np.flatnonzero(events.out_of_range())
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"{path}: event {i} at (x={events.x[i]}, y={events.y[i]}) lies outside sensor_size "
            f"{events.sensor_size}"
        )
    if events.p.max() > 1:
        i = int(np.argmax(events.p > 1))
        raise ValueError(f"{path}: polarity must be 0 or 1; event {i} has p={events.p[i]}")


def finish_read(
    decoded: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    *,
    header: RawHeader,
    path: str,
    fmt: str,
    sensor_size: tuple[int, int] | None,
    check_range: bool,
    word_of_event,  # noqa: ANN001 - callable(int) -> word index
    word_size: int,
    max_xy: tuple[int, int],
    metadata: dict,
):
    """Shared tail of read_evt2/read_evt3: sensor size, range check, metadata, Events."""
    from ..events import Events

    x, y, t, p = decoded
    size, source = resolve_sensor_size(header, sensor_size, path)
    if check_range and len(x):
        width, height = size
        outside = (
            np.flatnonzero((x >= width) | (y >= height))
            if int(max_xy[0]) >= width or int(max_xy[1]) >= height
            else ()
        )
        if len(outside):
            i = int(outside[0])
            offset = header.payload_offset + word_size * int(word_of_event(i))
            raise CoordinateRangeError.outside(
                path, i, x[i], y[i], (width, height), offset=offset,
                detail=f"(size from {source})",
                hint="pass a larger sensor_size or check_range=False to keep such events")
    meta = {
        "format": fmt,
        "path": path,
        "header": dict(header.entries),
        "sensor_size_source": source,
        **metadata,
    }
    return Events._trusted(x, y, t, p, size, meta)
