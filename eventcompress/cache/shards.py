"""Whole-shard writes and per-chunk reads of sharded zarr v3 arrays, without zarr-python's
per-chunk overhead.

zarr-python spends 0.3-0.7 ms of Python per chunk of a sharded array (measured with zarr 3.1 on
N-MNIST samples, see docs/benchmarks.md), more than decoding and compressing a sample costs.
The shard format is small and specified (zarr v3 ``sharding_indexed``): the encoded chunks one
after the other, then an index of ``(offset, nbytes)`` uint64 pairs per chunk (``2**64 - 1``
twice for an absent chunk) in little-endian C order, followed by the index's CRC32C. This
module writes and reads exactly that, for the one codec chain our builder creates
(``bytes`` little-endian, then none / ``blosc`` / ``zstd``; index ``bytes`` + ``crc32c`` at the
end); :func:`fast_path` checks an array's metadata and returns None for anything else, which is
then read through zarr-python. Tests check both directions against zarr-python.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

_ABSENT = np.uint64(2**64 - 1)


@dataclass(frozen=True)
class ShardedArray:
    """What the fast path needs of one sharded array (its zarr.json)."""

    path: Path
    shape: tuple[int, ...]
    dtype: np.dtype
    shard_rows: int  # rows (first axis) per shard; the other axes are one shard wide
    chunk_rows: int  # rows per chunk
    compressor: dict[str, Any] | None  # the bytes->bytes codec's JSON, or None

    @property
    def chunks_per_shard(self) -> int:
        return self.shard_rows // self.chunk_rows

    @property
    def chunk_shape(self) -> tuple[int, ...]:
        return (self.chunk_rows, *self.shape[1:])

    def shard_path(self, shard: int) -> Path:
        return self.path.joinpath("c", str(shard), *(["0"] * (len(self.shape) - 1)))


def fast_path(array_dir: str | os.PathLike[str]) -> ShardedArray | None:
    """The array at ``array_dir`` when its layout is the one this module handles, else None."""
    array_dir = Path(array_dir)
    try:
        meta = json.loads((array_dir / "zarr.json").read_text(encoding="utf-8"))
        (codec,) = meta["codecs"]
        if codec["name"] != "sharding_indexed" or meta["chunk_key_encoding"] != {
                "name": "default", "configuration": {"separator": "/"}}:
            return None
        conf = codec["configuration"]
        shard_shape = meta["chunk_grid"]["configuration"]["chunk_shape"]
        inner = conf["chunk_shape"]
        shape = tuple(meta["shape"])
        if (conf.get("index_location", "end") != "end"
                or [c["name"] for c in conf["index_codecs"]] != ["bytes", "crc32c"]
                or conf["index_codecs"][0].get("configuration", {}).get("endian") != "little"
                or list(shard_shape[1:]) != list(shape[1:]) or list(inner[1:]) != list(shape[1:])
                or shard_shape[0] % inner[0]):
            return None
        chain = conf["codecs"]
        if (chain[0]["name"] != "bytes" or len(chain) > 2
                or chain[0].get("configuration", {}).get("endian", "little") != "little"):
            return None
        compressor = chain[1] if len(chain) == 2 else None
        if compressor is not None and compressor["name"] not in ("blosc", "zstd"):
            return None
        dtype = np.dtype(meta["data_type"]).newbyteorder("<")
        if meta.get("fill_value") not in (0, 0.0):
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return ShardedArray(array_dir, shape, dtype, int(shard_shape[0]), int(inner[0]), compressor)


def _numcodec(compressor: dict[str, Any] | None, dtype: np.dtype) -> Any:
    if compressor is None:
        return None
    conf = compressor.get("configuration", {})
    if compressor["name"] == "blosc":
        from numcodecs import Blosc

        shuffle = {"noshuffle": 0, "shuffle": 1, "bitshuffle": 2}[conf.get("shuffle", "shuffle")]
        return Blosc(cname=conf.get("cname", "lz4"), clevel=int(conf.get("clevel", 5)),
                     shuffle=shuffle, blocksize=int(conf.get("blocksize", 0)),
                     typesize=int(conf.get("typesize") or dtype.itemsize))
    from numcodecs import Zstd

    return Zstd(level=int(conf.get("level", 0)), checksum=bool(conf.get("checksum", False)))


def codec_of(array: ShardedArray) -> Any:
    """The numcodecs object that encodes ``array``'s chunks (None: raw bytes)."""
    return _numcodec(array.compressor, array.dtype)


def encode_chunks(block: np.ndarray, chunk_rows: int, dtype: np.dtype, codec: Any
                  ) -> list[bytes]:
    """``block`` cut into chunks of ``chunk_rows`` rows, each little-endian C-order bytes
    through ``codec``."""
    block = np.ascontiguousarray(block, dtype)
    out = []
    for c in range(-(-len(block) // chunk_rows)):
        chunk = block[c * chunk_rows:(c + 1) * chunk_rows]
        if len(chunk) < chunk_rows:
            full = np.zeros((chunk_rows, *block.shape[1:]), dtype)
            full[:len(chunk)] = chunk
            chunk = full
        # the codec reads the contiguous chunk in place (no copy to bytes first)
        out.append(chunk.tobytes() if codec is None else bytes(codec.encode(chunk)))
    return out


def _crc32c(data: bytes) -> bytes:
    import google_crc32c

    return int(google_crc32c.value(data)).to_bytes(4, "little")


class ShardIO:
    """Encode whole shards of one array, and read chunks of it (handles cached per process)."""

    def __init__(self, array: ShardedArray) -> None:
        self.array = array
        self.codec = _numcodec(array.compressor, array.dtype)
        self._index: dict[int, np.ndarray | None] = {}
        self._files: dict[int, int] = {}
        self._last: tuple[int, np.ndarray] | None = None
        self._pid = os.getpid()

    # -- writing ------------------------------------------------------------------------
    def encode_chunks(self, block: np.ndarray) -> list[bytes]:
        """The encoded chunks of ``block`` (whole chunks; a short last one is padded with the
        fill value, as zarr encodes the array's last chunk whole). Runs in the workers."""
        return encode_chunks(block, self.array.chunk_rows, self.array.dtype, self.codec)

    def assemble(self, chunks: list[bytes]) -> bytes:
        """A shard file from its encoded chunks (chunks past the list's end are absent)."""
        index = np.full((self.array.chunks_per_shard, 2), _ABSENT, np.uint64)
        offset = 0
        for c, data in enumerate(chunks):
            index[c] = (offset, len(data))
            offset += len(data)
        index_bytes = index.tobytes()
        return b"".join([*chunks, index_bytes, _crc32c(index_bytes)])

    def encode(self, block: np.ndarray) -> bytes:
        """The bytes of a shard holding ``block`` (its first rows)."""
        return self.assemble(self.encode_chunks(block))

    def write_shard(self, shard: int, block: np.ndarray) -> None:
        """Write shard ``shard`` whole, atomically (temporary file, then rename)."""
        self.write_encoded(shard, self.encode_chunks(block))

    def write_encoded(self, shard: int, chunks: list[bytes]) -> None:
        """Write shard ``shard`` from chunks encoded already (by :func:`encode_chunks`)."""
        path = self.array.shard_path(shard)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            f.write(self.assemble(chunks))
        os.replace(tmp, path)
        self._index.pop(shard, None)

    # -- reading ------------------------------------------------------------------------
    def _fd(self, shard: int) -> int | None:
        if self._pid != os.getpid():  # forked: start with descriptors of this process
            self._files, self._index, self._last, self._pid = {}, {}, None, os.getpid()
        fd = self._files.get(shard)
        if fd is None:
            try:
                fd = os.open(self.array.shard_path(shard), os.O_RDONLY)
            except FileNotFoundError:
                return None
            self._files[shard] = fd
        return fd

    def _shard_index(self, shard: int) -> np.ndarray | None:
        if shard in self._index and self._pid == os.getpid():
            return self._index[shard]
        fd = self._fd(shard)
        if fd is None:
            self._index[shard] = None
            return None
        n = self.array.chunks_per_shard
        size = os.fstat(fd).st_size
        tail = os.pread(fd, n * 16 + 4, size - n * 16 - 4)
        if _crc32c(tail[:-4]) != tail[-4:]:
            from ..errors import StoreError

            raise StoreError(self.array.path, f"shard {shard}: index checksum mismatch "
                             "(a corrupt or foreign shard file)")
        index = np.frombuffer(tail[:-4], np.uint64).reshape(n, 2)
        self._index[shard] = index
        return index

    def read_rows(self, rows: np.ndarray) -> np.ndarray:
        """Rows ``rows`` (sorted, unique) of an array whose chunks are single rows."""
        a = self.array
        out = np.zeros((len(rows), *a.shape[1:]), a.dtype)
        nbytes = int(np.prod(a.chunk_shape)) * a.dtype.itemsize
        per = a.shard_rows
        for k, row in enumerate(rows.tolist()):
            shard, local = divmod(row, per)
            index = self._shard_index(shard)
            if index is None:
                continue
            offset, length = index[local]
            if offset == _ABSENT:
                continue
            data = os.pread(self._files[shard], int(length), int(offset))
            raw = data if self.codec is None else self.codec.decode(data)
            out[k] = np.frombuffer(raw, a.dtype, count=nbytes // a.dtype.itemsize
                                   ).reshape(a.chunk_shape)[0]
        return out

    def _chunk(self, c: int) -> np.ndarray | None:
        """Chunk ``c`` (counted along the first axis over the whole array), decoded; None
        when absent (all fill value)."""
        a = self.array
        if self._last is not None and self._last[0] == c and self._pid == os.getpid():
            return self._last[1]
        shard, local = divmod(c, a.chunks_per_shard)
        index = self._shard_index(shard)
        if index is None or index[local][0] == _ABSENT:
            return None
        offset, length = index[local]
        data = os.pread(self._files[shard], int(length), int(offset))
        raw = data if self.codec is None else self.codec.decode(data)
        values = np.frombuffer(raw, a.dtype, count=int(np.prod(a.chunk_shape))
                               ).reshape(a.chunk_shape)
        self._last = (c, values)
        return values

    def read_range(self, lo: int, hi: int) -> np.ndarray:
        """Rows ``lo:hi``, whole chunks decoded once each (the last one is kept: consecutive
        samples of a ragged store share chunks)."""
        a = self.array
        out = np.zeros((max(0, hi - lo), *a.shape[1:]), a.dtype)
        rows = a.chunk_rows
        for c in range(lo // rows, -(-hi // rows)):
            start, end = max(lo, c * rows), min(hi, (c + 1) * rows)
            values = self._chunk(c)
            if values is not None:
                out[start - lo:end - lo] = values[start - c * rows:end - c * rows]
        return out

    def close(self) -> None:
        if self._pid == os.getpid():
            for fd in self._files.values():
                os.close(fd)
        self._files, self._index, self._last = {}, {}, None
