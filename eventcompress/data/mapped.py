"""Rows of a dense zarr store read through memory maps of its shard files.

``Store.read`` issues one ``pread`` per sample and builds the batch in NumPy: about 30 us per
N-MNIST sample here. Every sample is a run of bytes at an offset listed in its shard's index,
so a batch can instead be taken straight out of memory-mapped shard files. Each row of a batch
is copied (``codec="none"``) or decompressed (Blosc, by c-blosc called directly, see
``_blosc.py``) from the map into a reused staging batch of the stored dtype, and the whole
batch is then converted to the output dtype in one step (docs/data.md). Other codecs, HDF5
stores and ragged stores keep using ``Store.read``.

The maps are opened lazily in the process that reads (again after a fork; pickling drops
them), so DataLoader workers each map the files once and share the page cache.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import struct
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import torch

from ..cache.shards import ShardIO, fast_path
from ..errors import StoreError
from ._blosc import HEADER_BYTES, direct_decompress

__all__ = ["MappedRows", "StagingBatch", "convert_rows"]

_ABSENT = np.uint64(2**64 - 1)
#: torch splits an element-wise op over its intra-op threads from this many elements on
#: (at::internal::GRAIN_SIZE)
_TORCH_GRAIN = 32_768
_BLOSC_SIZES = struct.Struct("<4xI4xI")  # nbytes and cbytes of a Blosc 1 header


def _single_threaded_blosc_in_workers() -> None:
    """In a DataLoader worker, decompress in the calling thread, as torch runs its workers on
    one intra-op thread: Blosc's own threads made a 128-sample N-MNIST batch 8.0 ms instead of
    3.7 ms on the busy 2-core machine (docs/data.md). The main process is left as it is.
    (Only for numcodecs' decompress; the direct call never starts Blosc's threads.)"""
    from torch.utils.data import get_worker_info

    if get_worker_info() is not None:
        from numcodecs import blosc

        blosc.use_threads = False


def convert_rows(src: torch.Tensor, out: torch.Tensor) -> None:
    """``out.copy_(src)`` (same shape) in the calling thread only.

    One ``copy_`` of a whole batch is split over torch's intra-op threads, and on a busy
    machine waiting for a descheduled thread made it 100 times slower (11 ms instead of 0.1 ms
    for 128 N-MNIST samples, docs/data.md); so with more than one thread the copy goes in flat
    pieces below torch's parallel grain, which it runs in the caller. DataLoader workers run
    on one thread and convert the batch in one call (4x less than one call per row)."""
    if not (out.is_contiguous() and src.is_contiguous()):
        for k in range(len(out)):
            out[k].copy_(src[k])
        return
    if torch.get_num_threads() == 1:
        out.copy_(src)
        return
    flat_out, flat_src = out.view(-1), src.view(-1)
    step = _TORCH_GRAIN - 1
    for lo in range(0, flat_out.numel(), step):
        flat_out[lo:lo + step].copy_(flat_src[lo:lo + step])


class StagingBatch:
    """A reused ``[n, *shape]`` buffer of ``dtype`` (grown on demand) that rows are gathered
    into before one conversion; a pickled copy starts empty (each worker has its own)."""

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)
        self._buffer: np.ndarray | None = None

    def get(self, n: int) -> np.ndarray:
        if self._buffer is None or len(self._buffer) < n:
            self._buffer = np.empty((n, *self.shape), self.dtype)
        return self._buffer[:n]

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_buffer": None}


class MappedRows:
    """The first ``n_rows`` rows of the sharded array at ``array_dir``; :meth:`open` returns
    None for any array this reader does not handle (a codec other than Blosc, chunks of more
    than one row)."""

    def __init__(self, array: Any, n_rows: int) -> None:
        self.array = array
        self.shape = tuple(array.shape[1:])
        self.dtype = np.dtype(array.dtype)
        self.torch_dtype = torch.from_numpy(np.zeros(0, self.dtype)).dtype
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
        self.shard_rows = per
        self._stage = StagingBatch(self.shape, self.dtype)
        self._maps: list[mmap.mmap | None] | None = None
        self._views: list[np.ndarray | None] = []
        self._bases = np.zeros(0, np.int64)
        self._pid = -1

    @classmethod
    def open(cls, array_dir: str | os.PathLike[str], n_rows: int) -> MappedRows | None:
        array = fast_path(Path(array_dir))
        if array is None or array.chunk_rows != 1 or (
                array.compressor is not None and array.compressor["name"] != "blosc"):
            return None
        return cls(array, n_rows)

    def _mapped(self) -> list[mmap.mmap | None]:
        if self._maps is None or self._pid != os.getpid():
            maps: list[mmap.mmap | None] = []
            for shard in range(-(-len(self.offsets) // self.shard_rows)):
                try:
                    with open(self.array.shard_path(shard), "rb") as fh:
                        # read-only: every page stays the shared page-cache page
                        maps.append(mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ))
                except FileNotFoundError:
                    maps.append(None)
            self._check_bounds(maps)
            self._views = [None if mm is None else np.frombuffer(mm, np.uint8) for mm in maps]
            # start addresses of the maps (-1: no file), for the ctypes copy / decompression
            self._bases = np.array([-1 if v is None else v.ctypes.data for v in self._views],
                                   np.int64)
            self._maps, self._pid = maps, os.getpid()
            if self.compressed and direct_decompress() is None:
                _single_threaded_blosc_in_workers()
        return self._maps

    def _check_bounds(self, maps: list[mmap.mmap | None]) -> None:
        """Every chunk the shard indexes list lies inside its file (a truncated shard would
        otherwise be read past its end)."""
        per = self.shard_rows
        for shard, mm in enumerate(maps):
            lo, hi = shard * per, min(len(self.offsets), (shard + 1) * per)
            present = self.offsets[lo:hi] >= 0
            if mm is None or not present.any():
                continue
            ends = self.offsets[lo:hi][present] + self.lengths[lo:hi][present]
            if int(ends.max()) > len(mm) - 16 * per - 4:
                raise StoreError(self.array.shard_path(shard),
                                 f"a chunk ends at byte {int(ends.max())}, past the data of "
                                 f"this {len(mm)}-byte shard (a truncated shard file)")

    def gather(self, indices: np.ndarray, dest: np.ndarray) -> None:
        """``dest[k]`` = stored sample ``indices[k]`` in the stored dtype (``dest``
        C-contiguous); zeros for a chunk that was never written."""
        maps = self._mapped()
        idx = np.asarray(indices, np.int64)
        shards = idx // self.shard_rows
        starts = self.offsets[idx]
        absent = (starts < 0) | (self._bases[shards] < 0)
        sources = np.where(absent, -1, self._bases[shards] + starts).tolist()
        rb = self.row_bytes
        dest0 = dest.ctypes.data
        if not self.compressed:
            for k, src in enumerate(sources):
                if src < 0:
                    dest[k] = 0
                else:
                    ctypes.memmove(dest0 + k * rb, src, rb)
            return
        decompress = direct_decompress()
        for k, (src, shard, at, n) in enumerate(zip(
                sources, shards.tolist(), starts.tolist(), self.lengths[idx].tolist(),
                strict=True)):
            if src < 0:
                dest[k] = 0
                continue
            # the header must describe this chunk: Blosc trusts its cbytes to bound the read
            if n < HEADER_BYTES or _BLOSC_SIZES.unpack_from(maps[shard], at) != (rb, n):
                self._corrupt(shard, int(idx[k]), at, f"is not the {n}-byte Blosc chunk of a "
                              f"{rb}-byte sample its shard index lists")
            if decompress is None:
                from numcodecs import blosc

                blosc.decompress(self._views[shard][at:at + n], dest[k])
            elif decompress(src, dest0 + k * rb, rb, 1) != rb:
                self._corrupt(shard, int(idx[k]), at, "does not decompress")

    def _corrupt(self, shard: int, sample: int, at: int, what: str) -> NoReturn:
        raise StoreError(self.array.shard_path(shard),
                         f"sample {sample}: the chunk at byte {at} {what} (a corrupt shard "
                         "file; rebuild the store)")

    def read_into(self, indices: np.ndarray, out: torch.Tensor) -> None:
        """``out[k]`` = stored sample ``indices[k]``, converted to ``out.dtype``: gathered
        straight into ``out`` when it has the stored dtype, else into the staging batch and
        converted in one step."""
        n = len(indices)
        target = out[:n]
        if target.dtype == self.torch_dtype and target.is_contiguous():
            self.gather(indices, target.numpy())
            return
        stage = self._stage.get(n)
        self.gather(indices, stage)
        convert_rows(torch.from_numpy(stage), target)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_maps": None, "_views": [], "_pid": -1,
                "_bases": np.zeros(0, np.int64)}
