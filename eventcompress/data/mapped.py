"""Rows of a dense zarr store read through memory maps of its shard files.

``Store.read`` issues one ``pread`` per sample and builds the batch in NumPy: about 30 us per
N-MNIST sample here. Every sample is a run of bytes at an offset listed in its shard's index,
so a batch can instead be taken straight out of memory-mapped shard files: for a store written
without compression (``codec="none"``) each row is copied and converted to the output dtype in
one step (6.6 us per sample including float16 -> float32, docs/data.md); for a Blosc store
each row is decompressed from the map into a reused buffer (no read call, no new bytes
object). Other codecs, HDF5 stores and ragged stores keep using ``Store.read``.

The maps are opened lazily in the process that reads (again after a fork; pickling drops
them), so DataLoader workers each map the files once and share the page cache.
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..cache.shards import ShardIO, fast_path

__all__ = ["MappedRows"]

_ABSENT = np.uint64(2**64 - 1)


def _single_threaded_blosc_in_workers() -> None:
    """In a DataLoader worker, decompress in the calling thread, as torch runs its workers on
    one intra-op thread: Blosc's own threads made a 128-sample N-MNIST batch 8.0 ms instead of
    3.7 ms on the busy 2-core machine (docs/data.md). The main process is left as it is."""
    from torch.utils.data import get_worker_info

    if get_worker_info() is not None:
        from numcodecs import blosc

        blosc.use_threads = False


class MappedRows:
    """The first ``n_rows`` rows of the sharded array at ``array_dir``; :meth:`open` returns
    None for any array this reader does not handle (compressed, multi-row chunks)."""

    def __init__(self, array: Any, n_rows: int) -> None:
        self.array = array
        self.shape = tuple(array.shape[1:])
        self.dtype = np.dtype(array.dtype)
        self.row_bytes = int(np.prod(self.shape)) * self.dtype.itemsize
        per = int(array.shard_rows)
        io = ShardIO(array)
        offsets = np.full(n_rows, -1, np.int64)
        lengths = np.zeros(n_rows, np.int64)
        try:
            for shard in range(-(-n_rows // per)):
                index = io._shard_index(shard)  # checks the index checksum
                lo, hi = shard * per, min(n_rows, (shard + 1) * per)
                if index is None:
                    continue
                start = index[: hi - lo, 0]
                present = start != _ABSENT
                offsets[lo:hi][present] = start[present].astype(np.int64)
                lengths[lo:hi][present] = index[: hi - lo, 1][present].astype(np.int64)
        finally:
            io.close()
        self.offsets = offsets
        self.lengths = lengths
        self.compressed = array.compressor is not None
        self._buffer: np.ndarray | None = None
        self.shard_rows = per
        self._maps: list[np.ndarray | None] | None = None
        self._pid = -1

    @classmethod
    def open(cls, array_dir: str | os.PathLike[str], n_rows: int) -> MappedRows | None:
        array = fast_path(Path(array_dir))
        if array is None or array.chunk_rows != 1 or (
                array.compressor is not None and array.compressor["name"] != "blosc"):
            return None
        return cls(array, n_rows)

    def _mapped(self) -> list[np.ndarray | None]:
        if self._maps is None or self._pid != os.getpid():
            maps: list[np.ndarray | None] = []
            for shard in range(-(-len(self.offsets) // self.shard_rows)):
                try:
                    with open(self.array.shard_path(shard), "rb") as fh:
                        # ACCESS_COPY: writable views for torch, yet nothing is ever written,
                        # so every page stays the shared page-cache page
                        mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_COPY)
                    maps.append(np.frombuffer(mm, np.uint8))
                except FileNotFoundError:
                    maps.append(None)
            self._maps, self._pid = maps, os.getpid()
            if self.compressed:
                _single_threaded_blosc_in_workers()
        return self._maps

    def row(self, i: int) -> np.ndarray | None:
        """Row ``i``: a view into the map, or (compressed) the reused decompression buffer,
        valid until the next call; None for a chunk that was never written (all zeros)."""
        start = int(self.offsets[i])
        data = self._mapped()[i // self.shard_rows]
        if start < 0 or data is None:
            return None
        if not self.compressed:
            return data[start:start + self.row_bytes].view(self.dtype).reshape(self.shape)
        from numcodecs import blosc

        if self._buffer is None:
            self._buffer = np.empty(self.shape, self.dtype)
        blosc.decompress(data[start:start + int(self.lengths[i])], self._buffer)
        return self._buffer

    def read_into(self, indices: np.ndarray, out: torch.Tensor) -> None:
        """``out[k] = row(indices[k])``, converted to ``out.dtype`` row by row."""
        for k, i in enumerate(indices.tolist()):
            view = self.row(i)
            if view is None:
                out[k].zero_()
            else:
                out[k].copy_(torch.from_numpy(view))

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_maps": None, "_pid": -1, "_buffer": None}
