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


def _compressors(codec: str) -> Any:
    from zarr.codecs import BloscCodec, ZstdCodec

    if codec == "none":
        return None
    if codec == "blosc-lz4":
        # no shuffle: on sparse STC / count tensors it compresses better (3.9x against 3.1x
        # on N-MNIST float16) and encodes and decodes faster (docs/benchmarks.md)
        return BloscCodec(cname="lz4", clevel=5, shuffle="noshuffle")
    if codec == "zstd":
        return ZstdCodec(level=3)
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
    """The single writer of one store being built (``<name>.partial``)."""

    def __init__(self, group: Any, layout: StoreLayout) -> None:
        self.group = group
        self.path = Path(group.store.root) / group.path
        self.layout = layout
        self.n = int(group["labels"].shape[0])
        self._shard_io: dict[str, ShardIO] = {}
        self._arrays: dict[str, Any] = {}

    def _array(self, name: str) -> Any:
        """The zarr array ``name`` (looked up once: each lookup reads its metadata)."""
        if name not in self._arrays:
            self._arrays[name] = self.group[name]
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
        """Create the group and every array in one round trip to zarr's event loop (the
        arrays concurrently): one call per array cost about twice as much on N-MNIST."""
        import asyncio

        import zarr
        import zarr.api.asynchronous as zasync
        from zarr.core.sync import sync

        n = len(labels)
        s = layout.shard_samples
        per_shard = (max(1, s),)
        m = max(1, len(listing.paths))
        f = len(listing.paths)
        strings = lambda values: np.asarray(values, dtype=object)  # noqa: E731
        # name -> (shape, chunks, dtype, values or None, extra create_array arguments)
        specs: dict[str, tuple[Any, ...]] = {
            "labels": ((n,), per_shard, "int64", labels, {}),
            "sample_ids": ((n,), per_shard, str, strings(sample_ids) if n else None, {}),
            "event_counts": ((n,), per_shard, "int64", None, {}),
            "lengths": ((n,), per_shard, "int64", None, {}),
            "done": ((n,), per_shard, "uint8", None, {}),
            "source_paths": ((f,), (m,), str, strings(listing.paths) if f else None, {}),
            "source_sizes": ((f,), (m,), "int64", listing.sizes if f else None, {}),
            "source_mtimes": ((f,), (m,), "int64", listing.mtimes if f else None, {}),
        }
        big = {"compressors": _compressors(codec)}
        if layout.kind == "dense":
            specs["data"] = ((n, *layout.row_shape), (1, *layout.row_shape), layout.dtype,
                             None, {**big, "shards": (s, *layout.row_shape)})
        else:
            specs["offsets"] = ((n + 1,), (max(1, n + 1),), "int64", None, {})
            rows, chunk = layout.rows_per_shard, layout.rows_per_chunk
            for name in flat_array_names(layout):
                specs[name] = ((0, *layout.row_shape), (chunk, *layout.row_shape),
                               _flat_dtype(layout, name), None,
                               {**big, "shards": (rows, *layout.row_shape)})

        async def create_all() -> None:
            group = await zasync.open_group(store=Path(path), mode="w-", attributes=attrs)
            arrays = await asyncio.gather(*(
                group.create_array(name, shape=shape, chunks=chunks, dtype=dtype, fill_value=0,
                                   **extra)
                for name, (shape, chunks, dtype, _, extra) in specs.items()))
            await asyncio.gather(*(
                arr.setitem(slice(None), spec[3]) for arr, spec in zip(arrays, specs.values())
                if spec[3] is not None))

        sync(create_all())
        return cls(zarr.open_group(Path(path), mode="r+"), layout)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> ZarrWriter:
        import zarr

        group = zarr.open_group(Path(path), mode="r+")
        return cls(group, StoreLayout.from_attrs(dict(group.attrs)))

    # -- state --------------------------------------------------------------------------
    @property
    def attrs(self) -> dict[str, Any]:
        return dict(self.group.attrs)

    def update_attrs(self, **items: Any) -> None:
        self.group.attrs.update(items)

    def done(self) -> np.ndarray:
        return self._array("done")[:] if self.n else np.zeros(0, np.uint8)

    def lengths(self) -> np.ndarray:
        return self._array("lengths")[:] if self.n else np.zeros(0, np.int64)

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
        """Record samples ``lo:lo + len`` (one whole chunk of each small array): counts first,
        ``done`` last, so a sample is never marked done before everything it needs is on disk."""
        import asyncio

        from zarr.core.sync import sync

        hi = lo + len(status)
        a, b = (self._array(name)._async_array for name in ("event_counts", "lengths"))

        async def counts() -> None:
            await asyncio.gather(a.setitem(slice(lo, hi), event_counts),
                                 b.setitem(slice(lo, hi), lengths))

        sync(counts())
        self._array("done")[lo:hi] = status

    def write_offsets(self, offsets: np.ndarray) -> None:
        self._array("offsets")[:] = offsets
