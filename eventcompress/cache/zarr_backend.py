"""Writing a zarr v3 store: arrays created first (metadata only), then whole shards, one writer.

zarr-python rewrites a whole shard on every write into it, so two writers touching one shard
silently lose data (zarr-python #3682, #3514, #3525, PR #3413) and a shard written in pieces
costs a read-modify-write each time. Here every shard of every array is written exactly once
per build, as a whole, by the one process that holds the build lock; the ``done`` chunk of a
shard is written only after the shard's data write returned. zarr's local store writes each
file to a temporary name and renames it, so a killed write leaves the previous file (or none),
never a torn one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .fingerprint import SourceListing
from .format import EVENT_FIELDS, StoreLayout
from .shards import ShardIO, fast_path
from .zarr_direct import array_document, group_document, write_document, write_small_array


def _compressor_json(codec: str, dtype: np.dtype) -> dict[str, Any] | None:
    """The chunks' bytes-to-bytes codec, as zarr.json names it (None: raw bytes)."""
    if codec == "none":
        return None
    if codec == "blosc-lz4":
        # no shuffle: on sparse STC / count tensors it compresses better (3.9x against 3.1x
        # on N-MNIST float16) and encodes and decodes faster (docs/benchmarks.md)
        return {"name": "blosc", "configuration": {
            "typesize": int(dtype.itemsize), "cname": "lz4", "clevel": 5,
            "shuffle": "noshuffle", "blocksize": 0}}
    if codec == "zstd":
        return {"name": "zstd", "configuration": {"level": 3, "checksum": False}}
    raise ValueError(f"unknown zarr codec {codec!r}")


def flat_array_names(layout: StoreLayout) -> tuple[str, ...]:
    """The flat (row-indexed) arrays of a ragged or events store."""
    if layout.kind == "events":
        return tuple(name for name, _ in EVENT_FIELDS)
    return ("data",) if layout.kind == "ragged" else ()


def _flat_dtype(layout: StoreLayout, name: str) -> np.dtype:
    if layout.kind == "events":
        return dict(EVENT_FIELDS)[name]
    return layout.dtype


class ZarrWriter:
    """The single writer of one store being built (``<name>.partial``).

    It keeps the group attributes and the small per-sample arrays (``done``, ``event_counts``,
    ``lengths``) in memory and writes them itself (:mod:`.zarr_direct`); zarr-python is used
    only to grow the flat arrays of ragged and events stores."""

    def __init__(self, path: str | os.PathLike[str], layout: StoreLayout,
                 attrs: dict[str, Any], small: dict[str, np.ndarray]) -> None:
        self.path = Path(path)
        self.layout = layout
        self._attrs = attrs
        self._small = small  # done, event_counts, lengths: the whole arrays, as on disk
        self.n = len(small["done"])
        self._group: Any = None
        self._shard_io: dict[str, ShardIO] = {}
        self._arrays: dict[str, Any] = {}

    def _array(self, name: str) -> Any:
        """The zarr array ``name`` (looked up once: each lookup reads its metadata)."""
        if name not in self._arrays:
            if self._group is None:
                import zarr

                self._group = zarr.open_group(self.path, mode="r+")
            self._arrays[name] = self._group[name]
        return self._arrays[name]

    def _io(self, name: str) -> ShardIO:
        if name not in self._shard_io:
            array = fast_path(self.path / name)
            if array is None:
                raise RuntimeError(f"{name}: not the sharded layout this writer creates")
            self._shard_io[name] = ShardIO(array)
        return self._shard_io[name]

    # -- creation (metadata and the small arrays known before any sample is computed) ------
    @classmethod
    def create(cls, path: str | os.PathLike[str], layout: StoreLayout, codec: str,
               labels: np.ndarray, sample_ids: list[str], listing: SourceListing,
               attrs: dict[str, Any]) -> ZarrWriter:
        """Create the group, every array's metadata and the chunks known now (labels, ids,
        the source listing), as zarr-python's ``create_array`` would (:mod:`.zarr_direct`)."""
        path = Path(path)
        n = len(labels)
        s = max(1, layout.shard_samples)
        m = max(1, len(listing.paths))
        # name -> (shape, chunks, dtype, shards, values written now or None, chunk length)
        specs: dict[str, tuple[Any, ...]] = {
            "labels": ((n,), (s,), "int64", None, labels, s),
            "sample_ids": ((n,), (s,), str, None, sample_ids, s),
            "event_counts": ((n,), (s,), "int64", None, None, s),
            "lengths": ((n,), (s,), "int64", None, None, s),
            "done": ((n,), (s,), "uint8", None, None, s),
            "source_paths": ((len(listing.paths),), (m,), str, None, listing.paths, m),
            "source_sizes": ((len(listing.paths),), (m,), "int64", None, listing.sizes, m),
            "source_mtimes": ((len(listing.paths),), (m,), "int64", None, listing.mtimes, m),
        }
        if layout.kind == "dense":
            specs["data"] = ((n, *layout.row_shape), (1, *layout.row_shape), layout.dtype,
                             (layout.shard_samples, *layout.row_shape), None, 0)
        else:
            specs["offsets"] = ((n + 1,), (max(1, n + 1),), "int64", None, None, 0)
            rows, chunk = layout.rows_per_shard, layout.rows_per_chunk
            for name in flat_array_names(layout):
                dtype = _flat_dtype(layout, name)
                specs[name] = ((0, *layout.row_shape), (chunk, *layout.row_shape), dtype,
                               (rows, *layout.row_shape), None, 0)
        path.mkdir(parents=True)  # as zarr's mode "w-": never into an existing folder
        for name, (shape, chunks, dtype, shards, values, chunk_len) in specs.items():
            node = path / name
            node.mkdir()
            write_document(node, array_document(
                shape, chunks, dtype, shards,
                _compressor_json(codec, np.dtype(dtype)) if shards is not None else None))
            if values is not None and len(values):
                write_small_array(node, values, chunk_len, dtype)
        # the group last: a creation cut short leaves no group, which the builder starts again
        write_document(path, group_document(attrs))
        small = {"done": np.zeros(n, np.uint8), "event_counts": np.zeros(n, np.int64),
                 "lengths": np.zeros(n, np.int64)}
        return cls(path, layout, dict(attrs), small)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> ZarrWriter:
        import zarr

        group = zarr.open_group(Path(path), mode="r")
        attrs = dict(group.attrs)
        n = int(group["done"].shape[0])
        small = {name: (group[name][:] if n else np.zeros(0, dtype))
                 for name, dtype in (("done", np.uint8), ("event_counts", np.int64),
                                     ("lengths", np.int64))}
        return cls(path, StoreLayout.from_attrs(attrs), attrs, small)

    # -- state --------------------------------------------------------------------------
    @property
    def attrs(self) -> dict[str, Any]:
        return dict(self._attrs)

    def update_attrs(self, **items: Any) -> None:
        self._attrs.update(items)
        write_document(self.path, group_document(self._attrs))

    def done(self) -> np.ndarray:
        return self._small["done"].copy()

    def lengths(self) -> np.ndarray:
        return self._small["lengths"].copy()

    # -- whole-shard writes -------------------------------------------------------------
    def write_dense_shard(self, lo: int, data: np.ndarray) -> None:
        self._io("data").write_shard(lo // self.layout.shard_samples, data)

    def write_encoded_shard(self, lo: int, chunks: list[bytes]) -> None:
        self._io("data").write_encoded(lo // self.layout.shard_samples, chunks)

    def compressor(self) -> dict[str, Any] | None:
        """The data chunks' compressor (zarr JSON), for workers that encode chunks."""
        return self._io("data").array.compressor

    def write_flat_shard(self, start: int, rows: dict[str, np.ndarray], total: int | None
                         ) -> None:
        """Rows ``start:start + len`` of every flat array (``start`` a multiple of
        ``rows_per_shard``); the arrays grow to hold them (or shrink to ``total`` at the end)."""
        for name, values in rows.items():
            arr = self._array(name)
            end = start + len(values)
            shape = total if total is not None else max(arr.shape[0], end)
            if arr.shape[0] != shape:
                arr.resize((shape, *arr.shape[1:]))
            if len(values):
                self._io(name).write_shard(start // self.layout.rows_per_shard, values)

    def mark(self, lo: int, status: np.ndarray, event_counts: np.ndarray,
             lengths: np.ndarray) -> None:
        """Record samples ``lo:lo + len`` (the chunks of the small arrays they touch, written
        whole): counts first, ``done`` last, so a sample is never marked done before
        everything it needs is on disk."""
        hi = lo + len(status)
        per = max(1, self.layout.shard_samples)
        chunks = range(lo // per, -(-hi // per))
        for name, values in (("event_counts", event_counts), ("lengths", lengths),
                             ("done", status)):
            whole = self._small[name]
            whole[lo:hi] = values
            write_small_array(self.path / name, whole, per, whole.dtype, chunks)

    def write_offsets(self, offsets: np.ndarray) -> None:
        write_small_array(self.path / "offsets", offsets, max(1, len(offsets)), np.int64)
