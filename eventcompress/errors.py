"""Exception types shared by every stage.

Each error names the file, where in it (byte offset, row or field) and what was expected, so a
researcher can fix the input without reading our source.
"""

from __future__ import annotations

import os
from typing import Any


class EventCompressError(Exception):
    """Base class of every error raised by eventcompress."""


class FormatError(EventCompressError, ValueError):
    """A file does not match the format it claims (or was asked) to be.

    ``path``, ``offset`` (byte offset, or None), ``row`` (line/record index, or None) and
    ``expected`` are kept as attributes so tools can report them in bulk.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None,
        message: str,
        *,
        offset: int | None = None,
        row: int | None = None,
        expected: str | None = None,
    ) -> None:
        self.path = None if path is None else os.fspath(path)
        self.offset = offset
        self.row = row
        self.expected = expected
        self.detail = message
        where = []
        if offset is not None:
            where.append(f"byte offset {offset}")
        if row is not None:
            where.append(f"row {row}")
        text = f"{self.path or '<memory>'}"
        if where:
            text += f" ({', '.join(where)})"
        text += f": {message}"
        if expected:
            text += f"; expected {expected}"
        super().__init__(text)


class TruncatedFileError(FormatError):
    """The file ends inside a record or packet."""


class HeaderError(FormatError):
    """A header is missing, garbled or names an unsupported version."""


class PacketError(FormatError):
    """A packet header is inconsistent (size past end of file, bad event size, ...)."""


class EmptyFileError(FormatError):
    """The file holds no bytes (or no event payload) where events were required."""


class CoordinateRangeError(FormatError):
    """An event lies outside the declared sensor.

    Build it with :meth:`outside`, which words every such error alike: "event i at (x=.., y=..)
    lies outside the WxH sensor". (The plain ``FormatError`` constructor still works, for the
    rare error that is not about one event.)
    """

    @classmethod
    def outside(
        cls,
        path: str | os.PathLike[str] | None,
        index: int,
        x: int,
        y: int,
        sensor_size: tuple[int, int],
        *,
        offset: int | None = None,
        detail: str = "",
        hint: str = "",
    ) -> CoordinateRangeError:
        """The error for event ``index`` at ``(x, y)`` outside ``sensor_size = (width,
        height)``; ``detail`` follows the sensor in the message (e.g. "(size from header)"),
        ``hint`` names the remedy the caller offers."""
        width, height = (int(v) for v in sensor_size)
        message = (f"event {int(index)} at (x={int(x)}, y={int(y)}) lies outside the "
                   f"{width}x{height} sensor")
        expected = f"0 <= x < {width} and 0 <= y < {height}"
        return cls(path, f"{message} {detail}" if detail else message, offset=offset,
                   row=int(index), expected=f"{expected} ({hint})" if hint else expected)


class TimestampOrderError(FormatError):
    """Timestamps decrease where the caller asked for strict handling."""


class UnknownFormatError(FormatError):
    """Neither the extension nor the header identifies a supported format."""


class LabelsError(FormatError):
    """A labels file (CSV) cannot be parsed."""


class EventFieldError(EventCompressError, ValueError):
    """An in-memory event field holds a value the :class:`~eventcompress.events.Events` type
    does not allow (e.g. a polarity outside {0, 1}). ``field``, ``index`` (first bad event),
    ``value`` and ``hint`` are kept as attributes."""

    def __init__(self, field: str, index: int, value: Any, expected: str, hint: str = "") -> None:
        self.field = field
        self.index = index
        self.value = value
        self.expected = expected
        self.hint = hint
        text = f"Events.{field} holds {value!r} at event {index}; expected {expected}"
        super().__init__(f"{text} ({hint})" if hint else text)


class LayoutError(EventCompressError, FileNotFoundError):
    """A dataset root does not have the expected folder layout."""


class ChecksumError(EventCompressError):
    """A downloaded or user-provided file does not match its published checksum."""

    def __init__(self, path: str | os.PathLike[str], expected: str, actual: str) -> None:
        self.path = os.fspath(path)
        self.expected_md5 = expected
        self.actual_md5 = actual
        super().__init__(f"{self.path}: md5 {actual} does not match the published {expected}")


class MissingExtraError(EventCompressError, ImportError):
    """An optional dependency is needed; the message names the pip extra that provides it."""

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the '{package}' package: pip install 'eventcompress[{extra}]'"
        )


class ConfigError(EventCompressError, ValueError):
    """A configuration (recipe, pipeline, model override) is invalid."""

    def __init__(self, message: str, *, source: Any = None, key: str | None = None) -> None:
        self.source = source
        self.key = key
        prefix = f"{source}: " if source is not None else ""
        where = f"[{key}] " if key else ""
        super().__init__(f"{prefix}{where}{message}")


class NonMonotonicTimestampWarning(UserWarning):
    """Timestamps decrease somewhere in a stream; see the reader's ``on_unsorted`` argument."""


class StoreError(EventCompressError):
    """A cache store is stale (its source changed), of another format version, half-written, or
    does not match what was asked for; the message names what differs. ``path`` is the store."""

    def __init__(self, path: str | os.PathLike[str] | None, message: str) -> None:
        self.path = None if path is None else os.fspath(path)
        self.detail = message
        super().__init__(f"{self.path}: {message}" if self.path else message)
