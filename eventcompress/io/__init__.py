"""Readers and writers of event-camera files, with format sniffing.

``read(path)`` guesses the format (header bytes first, extension second) and returns
:class:`~eventcompress.events.Events`; ``write(path, events, format)`` is the inverse. The
per-format modules are imported on first use, so importing this package stays cheap.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..events import Events
from ._common import PathLike
from .labels import read_labels_csv, slice_by_labels, write_labels_csv
from .sniff import sniff_format

__all__ = [
    "FORMATS", "FormatSpec", "read", "write", "sniff_format",
    "read_labels_csv", "write_labels_csv", "slice_by_labels",
]


@dataclass(frozen=True)
class FormatSpec:
    """One supported format: where its reader/writer live and its usual file extensions."""

    name: str
    module: str
    reader: str
    writer: str | None
    extensions: tuple[str, ...]
    description: str = ""

    def _attr(self, name: str) -> Callable[..., Any]:
        module = importlib.import_module(f"{__name__}.{self.module}")
        return getattr(module, name)

    def load_reader(self) -> Callable[..., Events]:
        return self._attr(self.reader)

    def load_writer(self) -> Callable[..., None]:
        if self.writer is None:
            raise NotImplementedError(f"writing {self.name} files is not supported")
        return self._attr(self.writer)


FORMATS: dict[str, FormatSpec] = {
    spec.name: spec
    for spec in (
        FormatSpec("bin", "nmnist_bin", "read_bin", "write_bin", (".bin", ".bs2"),
                   "N-MNIST / N-Caltech101 ATIS 5-byte records"),
        FormatSpec("aedat2", "aedat2", "read_aedat2", "write_aedat2", (".aedat", ".dat"),
                   "jAER AEDAT 1.0/2.0, DVS128 (CIFAR10-DVS)"),
        FormatSpec("aedat3", "aedat3", "read_aedat3", "write_aedat3", (".aedat",),
                   "AEDAT 3.1 polarity packets (DVS128 Gesture)"),
        FormatSpec("aedat4", "aedat4", "read_aedat4", None, (".aedat4",),
                   "iniVation AEDAT 4.0"),
        FormatSpec("evt2", "prophesee", "read_evt2", "write_evt2", (".raw",),
                   "Prophesee RAW, EVT 2.0"),
        FormatSpec("evt3", "prophesee", "read_evt3", "write_evt3", (".raw",),
                   "Prophesee RAW, EVT 3.0"),
        FormatSpec("npy", "numpy_formats", "read_npy", "write_npy", (".npy",),
                   "tonic structured arrays / tonic DVS Gesture (N, 4) arrays"),
        FormatSpec("npz", "numpy_formats", "read_npz", "write_npz", (".npz",),
                   "SpikingJelly t, x, y, p archives"),
    )
}

_WRITE_BY_EXTENSION = {".bin": "bin", ".bs2": "bin", ".aedat": "aedat2", ".npy": "npy",
                       ".npz": "npz"}


def _spec(format: str) -> FormatSpec:
    try:
        return FORMATS[format]
    except KeyError:
        raise ValueError(f"unknown format {format!r}; supported: {', '.join(FORMATS)}") from None


def read(path: PathLike, format: str | None = None, **kwargs: Any) -> Events:
    """Read an event file; ``format`` (a key of :data:`FORMATS`) is sniffed when None.

    Keyword arguments go to the format's reader (e.g. ``sensor_size``, ``on_unsorted``,
    ``convention`` for aedat2).
    """
    name = sniff_format(path) if format is None else format
    return _spec(name).load_reader()(path, **kwargs)


def write(path: PathLike, events: Events, format: str | None = None, **kwargs: Any) -> None:
    """Write ``events``; ``format`` defaults from the extension (.bin, .aedat -> aedat2, .npy,
    .npz). Keyword arguments go to the format's writer."""
    if format is None:
        ext = os.path.splitext(os.fspath(path))[1].lower()
        if ext not in _WRITE_BY_EXTENSION:
            raise ValueError(f"cannot tell the format to write from {ext or 'no extension'!r}; "
                             f"pass format= (one of {', '.join(FORMATS)})")
        format = _WRITE_BY_EXTENSION[ext]
    _spec(format).load_writer()(path, events, **kwargs)

