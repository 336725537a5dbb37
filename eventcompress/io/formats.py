"""The one table of supported file formats.

Everything else about formats is derived from :data:`FORMATS`: the extensions that identify a
file when its header says nothing (:data:`FORMAT_BY_EXTENSION`, also the default of
``write``), and the header byte a file with a given extension must start with
(:data:`HEADER_BY_EXTENSION`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_AEDAT_HEADER = (b"#", "'#' header lines, as every AEDAT 1.0-4.0 file starts (e.g. "
                 "'#!AER-DAT2.0'); headerless AEDAT 1.0 is not supported")
_AEDAT4_HEADER = (b"#", "the AEDAT 4.0 magic '#!AER-DAT4.0\\r\\n'")
_RAW_HEADER = (b"%", "Prophesee '% ' header lines naming the encoding ('% evt 2.0', "
               "'% evt 3.0' or '% format EVT2/EVT3'); a headerless stream needs an explicit "
               "format='evt2'/'evt3' and sensor_size")


@dataclass(frozen=True)
class FormatSpec:
    """One supported format.

    ``extensions`` are its usual file extensions; ``claims`` the subset that identifies it
    when the header does not (``.aedat`` is claimed by aedat2: a ``#`` header without a
    version line is AEDAT 2.0) and that ``write`` picks it for. ``header`` is the first byte
    every file with one of its extensions starts with, and the text naming what was expected.
    ``buffer_reader``, where set, names a function ``(bytes, path, **kwargs) -> Events`` that
    decodes bytes already read, so :func:`eventcompress.io.read` reads such files only once.
    """

    name: str
    module: str
    reader: str
    writer: str | None
    extensions: tuple[str, ...]
    description: str = ""
    claims: tuple[str, ...] = ()
    header: tuple[bytes, str] | None = None
    buffer_reader: str | None = None

    def _attr(self, name: str) -> Callable[..., Any]:
        return _load(f"{__package__}.{self.module}", name)

    def load_reader(self) -> Callable[..., Any]:
        return self._attr(self.reader)

    def load_buffer_reader(self) -> Callable[..., Any] | None:
        return None if self.buffer_reader is None else self._attr(self.buffer_reader)

    def load_writer(self) -> Callable[..., None]:
        if self.writer is None:
            raise NotImplementedError(f"writing {self.name} files is not supported")
        return self._attr(self.writer)


_LOADED: dict[tuple[str, str], Callable[..., Any]] = {}


def _load(module: str, name: str) -> Callable[..., Any]:
    # Looked up once: import_module + getattr cost microseconds per call, which matter when a
    # cache build reads 70,000 small files.
    key = (module, name)
    fn = _LOADED.get(key)
    if fn is None:
        fn = _LOADED[key] = getattr(importlib.import_module(module), name)
    return fn


FORMATS: dict[str, FormatSpec] = {
    spec.name: spec
    for spec in (
        FormatSpec("bin", "nmnist_bin", "read_bin", "write_bin", (".bin", ".bs2"),
                   "N-MNIST / N-Caltech101 ATIS 5-byte records", claims=(".bin", ".bs2"),
                   buffer_reader="read_bin_bytes"),
        FormatSpec("aedat2", "aedat2", "read_aedat2", "write_aedat2", (".aedat", ".dat"),
                   "jAER AEDAT 1.0/2.0: DVS128 (CIFAR10-DVS), DAVIS240/346 DVS events",
                   claims=(".aedat", ".dat"), header=_AEDAT_HEADER,
                   buffer_reader="read_aedat2_bytes"),
        FormatSpec("aedat3", "aedat3", "read_aedat3", "write_aedat3", (".aedat",),
                   "AEDAT 3.1 polarity packets (DVS128 Gesture)", header=_AEDAT_HEADER,
                   buffer_reader="read_aedat3_bytes"),
        FormatSpec("aedat4", "aedat4", "read_aedat4", None, (".aedat4",),
                   "iniVation AEDAT 4.0", claims=(".aedat4",), header=_AEDAT4_HEADER),
        FormatSpec("evt2", "prophesee", "read_evt2", "write_evt2", (".raw",),
                   "Prophesee RAW, EVT 2.0", header=_RAW_HEADER),
        FormatSpec("evt3", "prophesee", "read_evt3", "write_evt3", (".raw",),
                   "Prophesee RAW, EVT 3.0", header=_RAW_HEADER),
        FormatSpec("npy", "numpy_formats", "read_npy", "write_npy", (".npy",),
                   "tonic structured arrays / tonic DVS Gesture (N, 4) arrays",
                   claims=(".npy",)),
        FormatSpec("npz", "numpy_formats", "read_npz", "write_npz", (".npz",),
                   "SpikingJelly t, x, y, p archives", claims=(".npz",)),
    )
}


def _by_extension() -> dict[str, str]:
    table: dict[str, str] = {}
    for spec in FORMATS.values():
        for ext in spec.claims:
            if ext in table:  # pragma: no cover - a defect of the table above
                raise AssertionError(f"{ext} claimed by {table[ext]} and {spec.name}")
            table[ext] = spec.name
    return table


def _headers() -> dict[str, tuple[bytes, str]]:
    table: dict[str, tuple[bytes, str]] = {}
    for spec in FORMATS.values():
        if spec.header is not None:
            for ext in spec.extensions:
                table.setdefault(ext, spec.header)
    return table


#: extension -> format name, for files whose header does not decide (and for ``write``).
FORMAT_BY_EXTENSION: dict[str, str] = _by_extension()
#: extension -> (first byte, what was expected) for formats that always open with a header.
HEADER_BY_EXTENSION: dict[str, tuple[bytes, str]] = _headers()


def spec_for(format: str) -> FormatSpec:
    """The entry of ``format``; ValueError naming the supported ones otherwise."""
    try:
        return FORMATS[format]
    except KeyError:
        raise ValueError(f"unknown format {format!r}; supported: {', '.join(FORMATS)}") from None
