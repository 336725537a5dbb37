"""Reading a finished store, zarr or HDF5, through one API: :func:`open_store` -> :class:`Store`.

The small arrays (labels, ids, counts, offsets) are read once; the data is read on demand.
Backend handles are opened lazily in the process that reads, and reopened after a fork (a
DataLoader worker), so a ``Store`` can be created in the parent and used in workers; pickling
drops the handles.
"""

from __future__ import annotations

import json
import os
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..errors import StoreError
from .fingerprint import SourceListing, list_sources
from .format import (
    DONE_NAMES,
    EVENT_DTYPE,
    FAILED,
    FORMAT_NAME,
    STORE_FORMAT_VERSION,
    checked_indices,
)
from .shards import ShardIO, fast_path

CheckSource = Literal["auto", True, False]


class _ZarrReader:
    def __init__(self, path: Path) -> None:
        import zarr

        self.path = path
        self.group = zarr.open_group(path, mode="r")
        self._arrays: dict[str, Any] = {}
        self._fast: dict[str, ShardIO | None] = {}

    def _shards(self, name: str) -> ShardIO | None:
        if name not in self._fast:
            array = fast_path(self.path / name)
            self._fast[name] = None if array is None else ShardIO(array)
        return self._fast[name]

    def _array(self, name: str) -> Any:
        if name not in self._arrays:
            self._arrays[name] = self.group[name]
        return self._arrays[name]

    def attrs(self) -> dict[str, Any]:
        return dict(self.group.attrs)

    def all(self, name: str) -> np.ndarray:
        arr = self._array(name)
        values = arr[:] if arr.shape[0] else np.zeros(arr.shape, arr.dtype)
        return np.array(values.tolist(), dtype=str) if arr.dtype.kind in "TOU" else values

    def take(self, name: str, indices: np.ndarray) -> np.ndarray:
        fast = self._shards(name)
        if fast is not None and fast.array.chunk_rows == 1:
            return fast.read_rows(indices)
        return self._array(name).oindex[indices]

    def rows(self, name: str, lo: int, hi: int) -> np.ndarray:
        fast = self._shards(name)
        if fast is not None:
            return fast.read_range(lo, hi)
        return self._array(name)[lo:hi]

    def close(self) -> None:
        self._arrays.clear()
        for fast in self._fast.values():
            if fast is not None:
                fast.close()
        self._fast.clear()


def backend_of(path: Path) -> str:
    return "hdf5" if path.is_file() else "zarr"


def read_store_attrs(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The attributes of a store without opening its arrays; StoreError when it is none."""
    path = Path(path)
    try:
        if path.is_file():
            from .hdf5_backend import read_hdf5_attrs

            attrs = read_hdf5_attrs(path)
        else:
            meta = json.loads((path / "zarr.json").read_text(encoding="utf-8"))
            attrs = meta.get("attributes", {})
    except (OSError, ValueError, KeyError) as exc:
        raise StoreError(path, f"not a readable cache store ({type(exc).__name__}: {exc})"
                         ) from None
    if attrs.get("format") != FORMAT_NAME:
        raise StoreError(path, f"not an eventcompress cache store (no format={FORMAT_NAME!r} "
                         "attribute)")
    return attrs


def open_store(path: str | os.PathLike[str], *, check_source: CheckSource = "auto") -> Store:
    """Open a finished store. Refused (StoreError naming what differs): a half-written store,
    another format version, and, when its source folder exists (``"auto"``) or always
    (``True``), source files changed since the build."""
    path = Path(path)
    if path.name.endswith(".partial"):
        raise StoreError(path, "a half-written store (its build was interrupted or is still "
                         "running): run the same build again to resume it")
    if not path.exists():
        partial = path.with_name(path.name + ".partial")
        hint = (f"; {partial.name} exists: its build was interrupted or is running, run it "
                "again to resume" if partial.exists() else "")
        raise StoreError(path, f"no store here{hint}")
    attrs = read_store_attrs(path)
    version = attrs.get("format_version")
    if version != STORE_FORMAT_VERSION:
        raise StoreError(path, f"store format version {version}, this eventcompress reads "
                         f"version {STORE_FORMAT_VERSION}: rebuild it (--rebuild)")
    if not attrs.get("complete"):
        raise StoreError(path, "the store is marked incomplete (half-written); rebuild it")
    store = Store(path, attrs)
    root = attrs.get("source_root")
    if check_source and attrs.get("n_source_files"):
        if root is not None and Path(root).is_dir():
            store.check_source()
        elif check_source is True:
            raise StoreError(path, f"its source folder {root} is not there to check against")
    return store


class Store:
    """A finished store (see docs/cache.md). ``read`` serves dense stores, ``read_ragged`` /
    ``read_one`` ragged and events stores (events come back as structured arrays with fields
    x, y, t, p; ``read_events`` gives :class:`~eventcompress.events.Events`)."""

    def __init__(self, path: str | os.PathLike[str], attrs: dict[str, Any] | None = None
                 ) -> None:
        self.path = Path(path)
        self.backend = backend_of(self.path)
        self.attrs: dict[str, Any] = attrs if attrs is not None else read_store_attrs(path)
        self._reader: Any = None
        self._pid = -1

    # -- handles ------------------------------------------------------------------------
    def _handle(self) -> Any:
        if self._reader is None or self._pid != os.getpid():
            if self.backend == "hdf5":
                from .hdf5_backend import H5Reader

                self._reader = H5Reader(self.path)
            else:
                self._reader = _ZarrReader(self.path)
            self._pid = os.getpid()
        return self._reader

    def close(self) -> None:
        if self._reader is not None and self._pid == os.getpid():
            self._reader.close()
        self._reader = None

    def __getstate__(self) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items()
                 if k not in ("_reader", "_pid")}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._reader, self._pid = None, -1

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- description --------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.attrs["n_samples"])

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r}, {self.kind}, n={len(self)})"

    @property
    def kind(self) -> str:
        return str(self.attrs["kind"])

    @property
    def ragged(self) -> bool:
        return self.kind != "dense"

    @property
    def shape(self) -> tuple[int, ...]:
        """(T, P, H, W) of one sample (dense); (P, H, W) of one frame (ragged); () (events)."""
        return tuple(int(v) for v in self.attrs["row_shape"])

    @property
    def dtype(self) -> np.dtype:
        return EVENT_DTYPE if self.kind == "events" else np.dtype(self.attrs["dtype"])

    @cached_property
    def pipeline(self) -> Any:
        from ..kernels.pipeline import Pipeline

        return Pipeline.from_json(self.attrs["pipeline"])

    @cached_property
    def labels(self) -> np.ndarray:
        return self._handle().all("labels").astype(np.int64, copy=False)

    @cached_property
    def sample_ids(self) -> np.ndarray:
        return self._handle().all("sample_ids")

    @cached_property
    def event_counts(self) -> np.ndarray:
        return self._handle().all("event_counts")

    @cached_property
    def status(self) -> np.ndarray:
        """``done`` per sample: 1 built, 2 failed (its entry is zeros / empty)."""
        return self._handle().all("done")

    @property
    def failed(self) -> np.ndarray:
        """Indices of the samples that failed to build."""
        return np.flatnonzero(self.status == FAILED)

    @property
    def errors(self) -> list[dict[str, Any]]:
        return list(self.attrs.get("errors", []))

    @property
    def saturated(self) -> int:
        """Values clipped to the stored dtype's range during the build."""
        return int(sum(self.attrs.get("saturated_by_shard", {}).values()))

    def status_counts(self) -> dict[str, int]:
        values, counts = np.unique(self.status, return_counts=True)
        return {DONE_NAMES[int(v)]: int(c) for v, c in zip(values, counts)}

    @cached_property
    def offsets(self) -> np.ndarray:
        """``[N + 1]`` row offsets of a ragged or events store."""
        if not self.ragged:
            raise StoreError(self.path, "a dense store has no offsets")
        return self._handle().all("offsets")

    def source_listing(self) -> SourceListing:
        h = self._handle()
        return SourceListing(tuple(h.all("source_paths").tolist()), h.all("source_sizes"),
                             h.all("source_mtimes"))

    def check_source(self) -> None:
        """StoreError naming the source files that changed since the build."""
        stored = self.source_listing()
        now = list_sources(self.attrs["source_root"], [Path(self.attrs["source_root"]) / p
                                                       for p in stored.paths])
        diff = stored.differences(now)
        if diff:
            raise StoreError(self.path, "the source changed since this store was built:\n  "
                             + "\n  ".join(diff) + "\nrebuild it (rebuild=True: eventcompress cache "
                             "build --rebuild, eventcompress train --rebuild-cache), remove it "
                             f"(eventcompress cache rm {self.path}), or open it with "
                             "check_source=False")

    # -- data ---------------------------------------------------------------------------
    def _indices(self, indices: Any) -> np.ndarray:
        return checked_indices(indices, len(self), "store")

    def read(self, indices: Any) -> np.ndarray:
        """``[len(indices), T, P, H, W]`` of a dense store in one call (any order, repeats
        allowed): each distinct sample is read once, the chunks of a shard together."""
        if self.ragged:
            raise StoreError(self.path, f"a {self.kind} store is read with read_ragged / "
                             "read_one")
        idx = self._indices(indices)
        if idx.size == 0:
            return np.zeros((0, *self.shape), self.dtype)
        unique, inverse = np.unique(idx, return_inverse=True)
        h = self._handle()
        if unique.size == unique[-1] - unique[0] + 1:
            block = h.rows("data", int(unique[0]), int(unique[-1]) + 1)
        else:
            block = h.take("data", unique)
        if unique.size == idx.size and np.array_equal(unique, idx):
            return block
        return block[inverse]

    def read_one(self, index: int) -> np.ndarray:
        """One sample: ``[T, P, H, W]`` (dense), ``[T_i, P, H, W]`` (ragged) or a structured
        x, y, t, p array (events)."""
        if not self.ragged:
            return self.read([index])[0]
        return self.read_ragged([index])[0]

    def read_ragged(self, indices: Any) -> list[np.ndarray]:
        """The samples at ``indices`` of a ragged or events store."""
        idx = self._indices(indices)
        off = self.offsets
        h = self._handle()
        out = []
        for i in idx.tolist():
            lo, hi = int(off[i]), int(off[i + 1])
            if self.kind == "events":
                rec = np.empty(hi - lo, EVENT_DTYPE)
                for name in EVENT_DTYPE.names:
                    rec[name] = h.rows(name, lo, hi)
                out.append(rec)
            else:
                out.append(h.rows("data", lo, hi))
        return out

    def read_events(self, index: int) -> Any:
        """Sample ``index`` of an events store as :class:`~eventcompress.events.Events`."""
        from ..events import Events

        if self.kind != "events":
            raise StoreError(self.path, f"a {self.kind} store holds no events")
        rec = self.read_ragged([index])[0]
        size = self.pipeline.output_sensor_size(tuple(self.attrs["sensor_size"]))
        return Events(rec["x"], rec["y"], rec["t"], rec["p"], size,
                      {"sample_id": str(self.sample_ids[index]),
                       "label": int(self.labels[index])})
