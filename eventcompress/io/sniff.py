"""Guess a file's format from its first bytes, then from its extension."""

from __future__ import annotations

import os
import re

from ..errors import EmptyFileError, HeaderError, UnknownFormatError
from ._common import PathLike

_SNIFF_BYTES = 1 << 16
_AEDAT_RE = re.compile(rb"#!AER-DAT(\d+)\.(\d+)")
_EVT_RE = re.compile(rb"\bevt\s*([23])(?:\.0)?\b", re.IGNORECASE)
_EXTENSIONS = {".bin": "bin", ".bs2": "bin", ".npy": "npy", ".npz": "npz", ".aedat4": "aedat4"}
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
# Extensions whose formats always open with a text header; without it the bytes would be
# decoded as garbage, so sniffing stops with the header the format needs. (AEDAT 1.0 may in
# principle be headerless, but such a file cannot be told from any other bytes.)
_AEDAT_HEADER = (b"#", "'#' header lines, as every AEDAT 1.0-4.0 file starts (e.g. "
                 "'#!AER-DAT2.0'); headerless AEDAT 1.0 is not supported")
_HEADER_REQUIRED = {
    ".aedat": _AEDAT_HEADER,
    ".dat": _AEDAT_HEADER,
    ".aedat4": (b"#", "the AEDAT 4.0 magic '#!AER-DAT4.0\\r\\n'"),
    ".raw": (b"%", "Prophesee '% ' header lines naming the encoding ('% evt 2.0', "
             "'% evt 3.0' or '% format EVT2/EVT3'); a headerless stream needs an explicit "
             "format='evt2'/'evt3' and sensor_size"),
}


def _unknown(path: str, head: bytes, why: str) -> UnknownFormatError:
    from . import FORMATS

    return UnknownFormatError(
        path, f"{why}; first bytes {head[:16]!r}", offset=0,
        expected="one of: " + ", ".join(
            f"{name} ({'/'.join(spec.extensions)})" for name, spec in FORMATS.items()),
    )


def _aedat_version(path: str, head: bytes, match: re.Match[bytes]) -> str:
    major = int(match.group(1))
    name = {1: "aedat2", 2: "aedat2", 3: "aedat3", 4: "aedat4"}.get(major)
    if name is None:
        raise _unknown(path, head, f"unsupported AEDAT version {major}.{int(match.group(2))}")
    return name


def _header_lines(head: bytes, marker: int) -> list[bytes]:
    """Leading lines starting with ``marker`` (the part of ``head`` that is header text)."""
    lines = []
    pos = 0
    while pos < len(head) and head[pos] == marker:
        end = head.find(b"\n", pos)
        end = len(head) if end < 0 else end + 1
        lines.append(head[pos:end])
        pos = end
    return lines


def sniff_format(path: PathLike) -> str:
    """The registry name (see :data:`eventcompress.io.FORMATS`) of the file at ``path``.

    Header bytes win over the extension: ``#!AER-DAT1.x/2.x`` -> aedat2, ``3.x`` -> aedat3,
    ``4.0`` -> aedat4; a ``%`` header naming ``evt 2.0``/``evt 3.0`` (or ``format EVT2/EVT3``)
    -> evt2/evt3; ``\\x93NUMPY`` -> npy; zip magic -> npz; then ``.bin``/``.bs2`` -> bin,
    ``.npy``, ``.npz``, ``.aedat4``; a ``#`` header without version line in a ``.aedat`` file
    -> aedat2. Raises :class:`EmptyFileError` for a 0-byte file, :class:`HeaderError` (offset
    0) for a ``.aedat``/``.dat``/``.aedat4`` file not starting with ``#`` or a ``.raw`` file
    not starting with ``%``, and :class:`UnknownFormatError` otherwise.
    """
    spath = os.fspath(path)
    with open(spath, "rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    if not head:
        raise EmptyFileError(spath, "the file is empty (0 bytes)", offset=0,
                             expected="an event file")
    ext = os.path.splitext(spath)[1].lower()
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith(_ZIP_MAGIC):
        return "npz"
    if head.startswith(b"#"):
        lines = _header_lines(head, 0x23)
        for line in lines:
            m = _AEDAT_RE.match(line)
            if m:
                return _aedat_version(spath, head, m)
        if ext in (".aedat", ".dat"):
            return "aedat2"
    if head.startswith(b"%"):
        for line in _header_lines(head, 0x25):
            m = _EVT_RE.search(line)
            if m:
                return "evt2" if m.group(1) == b"2" else "evt3"
        raise _unknown(spath, head, "a '%' (Prophesee RAW) header naming no EVT 2.0/3.0 encoding")
    marker, expected = _HEADER_REQUIRED.get(ext, (b"", ""))
    if marker and not head.startswith(marker):
        raise HeaderError(spath, f"a {ext} file without a '{marker.decode()}' header line: it "
                          f"starts with {head[:16]!r}", offset=0, expected=expected)
    if ext in _EXTENSIONS:
        return _EXTENSIONS[ext]
    raise _unknown(spath, head, f"neither the header nor the extension {ext or '(none)'!r} "
                   "identifies the format")
