"""Readers and writers of event-camera files, with format sniffing.

``read(path)`` guesses the format (header bytes first, extension second) and returns
:class:`~eventcompress.events.Events`; ``write(path, events, format)`` is the inverse. The
per-format readers and writers (``read_bin``, ``read_aedat2``, ``write_npz``, ...; one pair per
entry of :data:`FORMATS`) are exported here too. Their modules are imported on first use, so
importing this package stays cheap.
"""

import os as _os
import typing as _typing

from ._common import FIRST_READ as _FIRST_READ
from ._common import O_BINARY as _O_BINARY
from ._common import read_rest as _read_rest
from .formats import FORMAT_BY_EXTENSION as _FORMAT_BY_EXTENSION
from .formats import FORMATS, FormatSpec
from .formats import spec_for as _spec_for
from .labels import read_labels_csv, slice_by_labels, write_labels_csv
from .sniff import sniff_bytes as _sniff_bytes
from .sniff import sniff_format

if _typing.TYPE_CHECKING:  # pragma: no cover
    from ..events import Events

#: public name -> format whose module defines it (the per-format readers and writers).
_PER_FORMAT: dict[str, FormatSpec] = {
    name: spec for spec in FORMATS.values() for name in (spec.reader, spec.writer) if name
}

__all__ = [
    "FORMATS", "FormatSpec", "read", "write", "sniff_format",
    "read_labels_csv", "write_labels_csv", "slice_by_labels", *_PER_FORMAT,
]


def __getattr__(name: str) -> _typing.Any:
    spec = _PER_FORMAT.get(name)
    if spec is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    fn = spec.load_reader() if name == spec.reader else spec.load_writer()
    globals()[name] = fn
    return fn


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def read(path: "str | _os.PathLike[str]", format: "str | None" = None,
         **kwargs: _typing.Any) -> "Events":
    """Read an event file; ``format`` (a key of :data:`FORMATS`) is sniffed when None.

    Keyword arguments go to the format's reader (e.g. ``sensor_size``, ``on_unsorted``,
    ``convention`` for aedat2). A ``bin``, ``aedat2`` or ``aedat3`` file, sniffed or named, is
    opened and read once: the bytes that identified it are decoded.
    """
    # The per-file path of a cache build (70,000 N-MNIST files): one open, one read of the
    # whole small file, one read proving EOF, no fstat, and table lookups instead of calls.
    spath = path if path.__class__ is str else _os.fspath(path)
    decode = None if format is None else (_DECODERS.get(format) or _decoder(format))
    if decode is False:
        return FORMATS[format].load_reader()(spath, **kwargs)
    fd = _os.open(spath, _OPEN_FLAGS)
    try:
        data = _os.read(fd, _FIRST_READ)
        if decode is None:
            name = _sniff_bytes(data, spath)
            decode = _DECODERS.get(name)
            if decode is None:
                decode = _decoder(name)
        if decode:
            data = _read_rest(fd, data)
    finally:
        _os.close(fd)
    if not decode:
        return FORMATS[name].load_reader()(spath, **kwargs)
    return decode(data, spath, **kwargs) if kwargs else decode(data, spath)


def _decoder(format: str) -> _typing.Any:
    """The buffer reader of ``format``, or False when it has none (ValueError for a name not
    in :data:`FORMATS`); looked up once per format."""
    decode = _DECODERS.get(format)
    if decode is None:
        decode = _DECODERS[format] = _spec_for(format).load_buffer_reader() or False
    return decode


_OPEN_FLAGS = _os.O_RDONLY | _O_BINARY
#: format name -> its buffer reader, or False when it has none (filled on first use).
_DECODERS: dict[str, _typing.Any] = {}


def write(path: "str | _os.PathLike[str]", events: "Events", format: "str | None" = None,
          **kwargs: _typing.Any) -> None:
    """Write ``events``; ``format`` defaults from the extension (.bin/.bs2, .aedat/.dat ->
    aedat2, .npy, .npz). Keyword arguments go to the format's writer."""
    if format is None:
        ext = _os.path.splitext(_os.fspath(path))[1].lower()
        format = _FORMAT_BY_EXTENSION.get(ext)
        if format is None or FORMATS[format].writer is None:
            writable = ", ".join(name for name, spec in FORMATS.items() if spec.writer)
            raise ValueError(f"cannot tell the format to write from {ext or 'no extension'!r}; "
                             f"pass format= (one of {writable})")
    _spec_for(format).load_writer()(path, events, **kwargs)
