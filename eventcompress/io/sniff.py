"""Guess a file's format from its first bytes, then from its extension."""

from __future__ import annotations

import os
import re
from typing import Any

from ..errors import EmptyFileError, HeaderError, UnknownFormatError
from ._common import PathLike
from .formats import FORMAT_BY_EXTENSION, FORMATS, HEADER_BY_EXTENSION

SNIFF_BYTES = 1 << 16
_AEDAT_RE = re.compile(rb"#!AER-DAT(\d+)\.(\d+)")
_EVT_RE = re.compile(rb"\bevt\s*([23])(?:\.0)?\b", re.IGNORECASE)
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_AEDAT_BY_MAJOR = {1: "aedat2", 2: "aedat2", 3: "aedat3", 4: "aedat4"}
# First bytes that may open a header or a magic number (NumPy, zip, AEDAT, Prophesee).
_MAGIC_LEADS = frozenset((b"\x93", b"P", b"#", b"%"))
# Extensions that decide the format of a file without a header (.bin, .npy, ...).
_HEADERLESS_BY_EXTENSION = {ext: name for ext, name in FORMAT_BY_EXTENSION.items()
                            if ext not in HEADER_BY_EXTENSION}
_STEM_END = frozenset("./" + os.sep + (os.altsep or ""))


def _unknown(path: str, head: bytes, why: str) -> UnknownFormatError:
    return UnknownFormatError(
        path, f"{why}; first bytes {head[:16]!r}", offset=0,
        expected="one of: " + ", ".join(
            f"{name} ({'/'.join(spec.extensions)})" for name, spec in FORMATS.items()),
    )


def _header_lines(head: bytes, marker: int) -> list[tuple[int, bytes]]:
    """(offset, line) of the leading lines starting with ``marker`` (the header text)."""
    lines = []
    pos = 0
    while pos < len(head) and head[pos] == marker:
        end = head.find(b"\n", pos)
        end = len(head) if end < 0 else end + 1
        lines.append((pos, head[pos:end]))
        pos = end
    return lines


def sniff_format(path: PathLike) -> str:
    """The registry name (see :data:`eventcompress.io.FORMATS`) of the file at ``path``.

    Header bytes win over the extension: ``#!AER-DAT1.x/2.x`` -> aedat2, ``3.x`` -> aedat3,
    ``4.0`` -> aedat4 (any other version: :class:`HeaderError` at the version line, as the
    AEDAT readers raise); a ``%`` header naming ``evt 2.0``/``evt 3.0`` (or ``format
    EVT2/EVT3``) -> evt2/evt3; ``\\x93NUMPY`` -> npy; zip magic -> npz; then the extensions
    of :data:`~eventcompress.io.formats.FORMAT_BY_EXTENSION` (a ``#`` header without version
    line in a ``.aedat``/``.dat`` file -> aedat2). Raises :class:`EmptyFileError` for a 0-byte
    file, :class:`HeaderError` (offset 0) for a ``.aedat``/``.dat``/``.aedat4`` file not
    starting with ``#`` or a ``.raw`` file not starting with ``%``, and
    :class:`UnknownFormatError` otherwise.
    """
    spath = os.fspath(path)
    with open(spath, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
    return sniff_bytes(head, spath)


def sniff_bytes(data: Any, path: str) -> str:
    """:func:`sniff_format` of a file whose first bytes (up to :data:`SNIFF_BYTES`; bytes or a
    uint8 array) are ``data``; ``path`` gives the extension and the name in errors."""
    lead = bytes(data[:1])
    if lead not in _MAGIC_LEADS and lead:
        # The common case (.bin): no header, a lower-case extension decides. A stem ending in
        # a character other than a separator or a dot is not empty, so the extension is all
        # after the last dot (what os.path.splitext gives, without its cost).
        dot = path.rfind(".")
        name = _HEADERLESS_BY_EXTENSION.get(path[dot:])
        if name is not None and dot > 0 and path[dot - 1] not in _STEM_END:
            return name
    if not lead:
        raise EmptyFileError(path, "the file is empty (0 bytes)", offset=0,
                             expected="an event file")
    ext = _extension(path)
    if lead not in _MAGIC_LEADS:  # no header: the extension decides
        name = FORMAT_BY_EXTENSION.get(ext)
        if name is not None and ext not in HEADER_BY_EXTENSION:
            return name
    first = bytes(data[:8])
    if first.startswith(b"\x93NUMPY"):
        return "npy"
    if first.startswith(_ZIP_MAGIC):
        return "npz"
    if lead in (b"#", b"%"):
        head = bytes(data[:SNIFF_BYTES])
        if lead == b"#":
            for offset, line in _header_lines(head, 0x23):
                m = _AEDAT_RE.match(line)
                if m:
                    return _aedat_format(path, m, offset)
        else:
            for _, line in _header_lines(head, 0x25):
                m = _EVT_RE.search(line)
                if m:
                    return "evt2" if m.group(1) == b"2" else "evt3"
            raise _unknown(path, head,
                           "a '%' (Prophesee RAW) header naming no EVT 2.0/3.0 encoding")
    required = HEADER_BY_EXTENSION.get(ext)
    if required is not None and lead != required[0]:
        raise HeaderError(path, f"a {ext} file without a '{required[0].decode()}' header line: "
                          f"it starts with {bytes(data[:16])!r}", offset=0, expected=required[1])
    name = FORMAT_BY_EXTENSION.get(ext)
    if name is not None:
        return name
    raise _unknown(path, bytes(data[:16]), "neither the header nor the extension "
                   f"{ext or '(none)'!r} identifies the format")


def _extension(path: str) -> str:
    """``os.path.splitext(path)[1].lower()``, cheaper on the per-file hot path."""
    dot = path.rfind(".")
    if dot <= 0:
        return ""
    sep = max(path.rfind("/"), path.rfind(os.sep))
    if dot <= sep + 1 or path[sep + 1:dot].strip(".") == "":  # ".bin" or "..x": no extension
        return os.path.splitext(path)[1].lower()
    return path[dot:].lower()


def _aedat_format(path: str, match: re.Match[bytes], offset: int) -> str:
    major, minor = int(match.group(1)), int(match.group(2))
    name = _AEDAT_BY_MAJOR.get(major)
    if name is None:
        raise HeaderError(path, f"unsupported AEDAT version {major}.{minor}", offset=offset,
                          expected="AEDAT 1.x or 2.x (aedat2), 3.x (aedat3) or 4.0 (aedat4)")
    return name
