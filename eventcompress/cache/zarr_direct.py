"""The zarr v3 documents and small chunks of a store being built, written without zarr-python.

Every call into zarr-python hands a coroutine to its event-loop thread, and every file it writes
goes through a further worker thread. On an idle machine creating a store that way cost ~25 ms;
on a loaded one each hand-off waits for a scheduler slot, and creating the store, updating its
attributes and marking the shards took 0.1-0.25 s of a 0.5-1 s NMNIST-small build
(docs/benchmarks.md). The builder is the single writer of its ``.partial`` store, so it can
write the few files itself, in the layout zarr-python writes (zarr v3 specification: one
``zarr.json`` per node; regular chunk grid with ``/``-separated keys ``c/<i>``; an edge chunk
stored whole, padded with the fill value), each to a temporary name renamed into place, so a
killed build leaves the previous file or none. tests/test_cache_direct.py checks every document
and chunk against zarr-python.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

#: zarr-python's default compressor of the small (unsharded) arrays
ZSTD_DEFAULT: dict[str, Any] = {"name": "zstd", "configuration": {"level": 0, "checksum": False}}
_LITTLE = {"name": "bytes", "configuration": {"endian": "little"}}
_KEY_ENCODING = {"name": "default", "configuration": {"separator": "/"}}
_ZSTD_CODEC: list[Any] = []


def _bytes_codec(dtype: np.dtype) -> dict[str, Any]:
    # zarr writes no endianness for one-byte types
    return {"name": "bytes"} if dtype.itemsize == 1 else dict(_LITTLE)


def data_type(dtype: Any) -> str:
    """The zarr v3 ``data_type`` of a NumPy dtype (``str``: zarr-python's ``string``)."""
    return "string" if dtype is str else np.dtype(dtype).name


def array_document(shape: tuple[int, ...], chunks: tuple[int, ...], dtype: Any,
                   shards: tuple[int, ...] | None = None,
                   compressor: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``zarr.json`` of an array as ``create_array(shape, chunks, dtype, fill_value=0,
    shards, compressors)`` writes it: small arrays get zarr's default zstd (strings through
    ``vlen-utf8``), sharded ones the given ``compressor`` (None: raw bytes) inside the shards."""
    if dtype is str:
        codecs: list[Any] = [{"name": "vlen-utf8", "configuration": {}}, ZSTD_DEFAULT]
        fill: Any = "0"
    else:
        dt = np.dtype(dtype)
        fill = 0.0 if dt.kind == "f" else 0
        inner = [_bytes_codec(dt)] + ([compressor] if compressor is not None else [])
        if shards is None:
            codecs = [_bytes_codec(dt), ZSTD_DEFAULT]
        else:
            codecs = [{"name": "sharding_indexed", "configuration": {
                "chunk_shape": list(chunks), "codecs": inner,
                "index_codecs": [dict(_LITTLE), {"name": "crc32c"}], "index_location": "end"}}]
    grid = list(chunks if shards is None else shards)
    return {"shape": list(shape), "data_type": data_type(dtype),
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": grid}},
            "chunk_key_encoding": _KEY_ENCODING, "fill_value": fill, "codecs": codecs,
            "attributes": {}, "zarr_format": 3, "node_type": "array", "storage_transformers": []}


def group_document(attrs: dict[str, Any]) -> dict[str, Any]:
    return {"attributes": attrs, "zarr_format": 3, "node_type": "group"}


def write_file(path: Path, data: bytes) -> None:
    """Write ``path`` whole: a temporary name in the same folder, then a rename."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def write_document(node: Path, doc: dict[str, Any]) -> None:
    # compact: json's C encoder runs only without indent (zarr-python indents; readers agree)
    write_file(node / "zarr.json", json.dumps(doc, separators=(",", ":")).encode("utf-8"))


def _zstd() -> Any:
    if not _ZSTD_CODEC:
        from numcodecs import Zstd

        conf = ZSTD_DEFAULT["configuration"]
        _ZSTD_CODEC.append(Zstd(level=conf["level"], checksum=conf["checksum"]))
    return _ZSTD_CODEC[0]


def encode_small_chunk(values: Any, chunk_len: int, dtype: Any) -> bytes:
    """One chunk of a small 1-D array (``values`` its first elements, padded with the fill
    value to ``chunk_len``) in the codecs of :func:`array_document`."""
    if dtype is str:
        from numcodecs import VLenUTF8

        full = np.full(chunk_len, "0", dtype=object)
        full[:len(values)] = list(values)
        raw = VLenUTF8().encode(full)
    else:
        full = np.zeros(chunk_len, np.dtype(dtype).newbyteorder("<"))
        full[:len(values)] = values
        raw = full.tobytes()
    return bytes(_zstd().encode(raw))


def write_small_array(node: Path, values: Any, chunk_len: int, dtype: Any,
                      chunks: range | None = None) -> None:
    """Write chunks ``chunks`` (default: all) of the small 1-D array at ``node`` holding
    ``values`` (all of its elements)."""
    n = len(values)
    todo = range(-(-n // chunk_len)) if chunks is None else chunks
    folder = node / "c"
    folder.mkdir(exist_ok=True)
    for c in todo:
        part = values[c * chunk_len:min(n, (c + 1) * chunk_len)]
        write_file(folder / str(c), encode_small_chunk(part, chunk_len, dtype))
