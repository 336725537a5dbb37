"""The store format: what a store holds, its key and name, and the dtype policy.

Version 1 (see docs/cache.md). A store is a zarr v3 group (or one HDF5 file with the same
arrays) holding, for ``N`` samples:

* ``dense``: ``data[N, T, P, H, W]``, one chunk per sample, chunks grouped into shards of
  ``shard_samples`` samples;
* ``ragged``: ``data[sum T_i, P, H, W]`` (sample ``i`` is ``data[offsets[i]:offsets[i + 1]]``)
  and ``offsets[N + 1]``;
* ``events``: ``x``, ``y``, ``t``, ``p`` flat over all events, and ``offsets[N + 1]``;

and always ``labels[N]`` (int64), ``sample_ids[N]`` (str), ``event_counts[N]`` (int64, events
after the event steps), ``done[N]`` (uint8, :data:`MISSING` / :data:`BUILT` / :data:`FAILED`)
and the source listing ``source_paths`` / ``source_sizes`` / ``source_mtimes``. Every other fact
is an attribute of the root (:func:`store_attributes`).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..errors import ConfigError

#: Bumped whenever the layout or the meaning of an array or attribute changes; stores of another
#: version are refused on open (``--rebuild`` replaces them).
STORE_FORMAT_VERSION = 1
#: ``attrs["format"]``: tells a store of ours from any other zarr group / HDF5 file.
FORMAT_NAME = "eventcompress-cache"

#: ``done`` codes.
MISSING, BUILT, FAILED = 0, 1, 2
DONE_NAMES = {MISSING: "missing", BUILT: "built", FAILED: "failed"}

Kind = Literal["dense", "ragged", "events"]
Backend = Literal["zarr", "hdf5"]
BACKEND_SUFFIX = {"zarr": ".zarr", "hdf5": ".h5"}

#: Fields of an events store, with their dtypes (those of :class:`~eventcompress.events.Events`).
EVENT_FIELDS: tuple[tuple[str, np.dtype], ...] = (
    ("x", np.dtype(np.uint16)), ("y", np.dtype(np.uint16)), ("t", np.dtype(np.int64)),
    ("p", np.dtype(np.uint8)),
)
EVENT_DTYPE = np.dtype(list(EVENT_FIELDS))

#: Codecs by name per backend. zarr: Blosc/LZ4 and Zstandard are zarr's own codecs; HDF5 offers
#: only its built-in filters (gzip, lzf) without the hdf5plugin package.
CODECS: dict[str, tuple[str, ...]] = {
    "zarr": ("none", "blosc-lz4", "zstd"),
    "hdf5": ("none", "lzf", "gzip"),
}
#: Chosen by measurement (docs/benchmarks.md, "Cache stores"): read speed first, then size.
DEFAULT_CODEC = {"zarr": "blosc-lz4", "hdf5": "lzf"}

# Uncompressed bytes per shard: N-MNIST's 70,000 STC samples (18.5 kB each at T = 4) then make
# about 40 shard files, and one shard stays small enough for a writer to hold in memory.
SHARD_BYTES = 32 * 2**20
# Samples per worker task: tasks much smaller than shards keep every worker busy on small
# datasets and the progress bar smooth, while one task still amortises its Python overhead.
TASK_SAMPLES = 128
# Rows (events or frames) per chunk of a flat ragged array.
EVENT_CHUNK = 65_536
# At most this many chunks per shard: a shard's index holds 16 bytes per chunk, written whole
# even for a short last shard (tiny frames would otherwise give megabyte indexes).
MAX_CHUNKS_PER_SHARD = 4096
RAGGED_SHARD_SAMPLES = 1024


@dataclass(frozen=True)
class StoreLayout:
    """The shape of a store, derived from the pipeline and the sensor (never copied)."""

    kind: Kind
    #: dense: (T, P, H, W); ragged: (P, H, W), the shape of one row of ``data``; events: ()
    row_shape: tuple[int, ...]
    dtype: np.dtype
    shard_samples: int
    #: rows of a flat (ragged / events) array per shard, a multiple of ``rows_per_chunk``
    shard_rows: int = 0

    @property
    def rows_per_shard(self) -> int:
        return self.shard_rows

    @property
    def rows_per_chunk(self) -> int:
        return EVENT_CHUNK if self.kind == "events" else 1

    def to_attrs(self) -> dict[str, Any]:
        dtype = "events" if self.kind == "events" else self.dtype.name
        return {"kind": self.kind, "row_shape": list(self.row_shape), "dtype": dtype,
                "shard_samples": self.shard_samples, "shard_rows": self.shard_rows}

    @classmethod
    def from_attrs(cls, attrs: dict[str, Any]) -> StoreLayout:
        dtype = EVENT_DTYPE if attrs["kind"] == "events" else np.dtype(attrs["dtype"])
        return cls(attrs["kind"], tuple(int(v) for v in attrs["row_shape"]), dtype,
                   int(attrs["shard_samples"]), int(attrs.get("shard_rows", 0)))


def _is_count_representation(representation: Any) -> bool:
    return np.dtype(representation.output_dtype).kind in "iu"


def storage_dtype(pipeline: Any, dtype: str | None = None) -> np.dtype:
    """The stored dtype: ``dtype`` when given, else float16 for float representations (STC
    currents; see docs/cache.md for the rounding error), uint16 for counts (int16 for signed
    polarity, whose counts can be negative)."""
    rep = pipeline.representation
    if rep is None:
        return EVENT_DTYPE
    if dtype is not None:
        try:
            dt = np.dtype(dtype)
        except TypeError:
            raise ConfigError(f"not a NumPy dtype: {dtype!r}", key="dtype") from None
        if dt.kind not in "fiu":
            raise ConfigError(f"a store holds numbers; got dtype {dt}", key="dtype")
        return dt
    if not _is_count_representation(rep):
        return np.dtype(np.float16)
    return np.dtype(np.int16) if getattr(rep, "polarity", "") == "signed" else np.dtype(np.uint16)


def plan_layout(pipeline: Any, sensor_size: tuple[int, int], n_samples: int,
                dtype: str | None = None, shard_samples: int | None = None,
                shard_rows: int | None = None) -> StoreLayout:
    """The layout of a store of ``n_samples`` recordings of ``sensor_size`` through
    ``pipeline``; ``shard_samples`` / ``shard_rows`` override the sizes derived from
    :data:`SHARD_BYTES` (``shard_rows`` is rounded up to whole chunks)."""
    rep = pipeline.representation
    stored = storage_dtype(pipeline, dtype)
    if rep is None:
        kind: Kind = "events"
        row_shape: tuple[int, ...] = ()
    else:
        try:
            row_shape = pipeline.output_shape(sensor_size)
            kind = "dense"
        except ConfigError:
            # Frames whose count depends on the recording: one row per frame.
            kind = "ragged"
            size = pipeline.output_sensor_size(sensor_size)
            row_shape = (rep.n_channels, int(size[1]), int(size[0]))
    if shard_samples is None:
        if kind == "dense":
            per_sample = int(np.prod(row_shape)) * stored.itemsize
            shard_samples = min(MAX_CHUNKS_PER_SHARD, max(1, SHARD_BYTES // max(1, per_sample)))
        else:
            shard_samples = RAGGED_SHARD_SAMPLES
    if shard_samples < 1:
        raise ConfigError(f"shard_samples must be >= 1, got {shard_samples}", key="shard_samples")
    shard_samples = int(min(shard_samples, max(1, n_samples)))
    rows = 0
    if kind != "dense":
        chunk = EVENT_CHUNK if kind == "events" else 1
        row_bytes = EVENT_DTYPE.itemsize if kind == "events" \
            else int(np.prod(row_shape)) * stored.itemsize
        wanted = shard_rows if shard_rows is not None else \
            min(SHARD_BYTES // row_bytes, MAX_CHUNKS_PER_SHARD * chunk)
        rows = max(1, -(-int(wanted) // chunk)) * chunk
    return StoreLayout(kind, tuple(int(v) for v in row_shape), stored, shard_samples, rows)


def to_storage(values: np.ndarray, dtype: np.dtype) -> tuple[np.ndarray, int]:
    """``values`` cast to ``dtype``, saturating (never wrapping) values outside its range, and
    the number of values that saturated."""
    dtype = np.dtype(dtype)
    if values.dtype == dtype:
        return values, 0
    if dtype == np.float16 and values.dtype == np.float32:
        from ._float16 import float32_to_float16

        return float32_to_float16(values)
    if dtype.kind == "f":
        lo, hi = -float(np.finfo(dtype).max), float(np.finfo(dtype).max)
    else:
        info = np.iinfo(dtype)
        lo, hi = info.min, info.max
    vmin = values.min(initial=0)
    vmax = values.max(initial=0)
    saturated = 0
    if vmin < lo or vmax > hi:
        saturated = int(np.count_nonzero((values < lo) | (values > hi)))
        values = np.clip(values, lo, hi)
    return values.astype(dtype), saturated


def shard_bounds(n: int, per_shard: int) -> list[tuple[int, int]]:
    return [(lo, min(lo + per_shard, n)) for lo in range(0, n, per_shard)]


def n_shards(n: int, per_shard: int) -> int:
    return math.ceil(n / per_shard) if n else 0


def store_key(dataset: str, split: str, pipeline_sha256: str, source_fingerprint: str,
              format_version: int = STORE_FORMAT_VERSION) -> str:
    """sha256 over (dataset, split, pipeline sha256, source fingerprint, format version)."""
    text = "\n".join([FORMAT_NAME, dataset, split, pipeline_sha256, source_fingerprint,
                      str(int(format_version))])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def store_name(dataset: str, split: str, key: str, backend: Backend = "zarr") -> str:
    """``<dataset>-<split>-<key[:12]>.zarr`` (``.h5`` for HDF5)."""
    if backend not in BACKEND_SUFFIX:
        raise ConfigError(f"backend must be one of {sorted(BACKEND_SUFFIX)}, got {backend!r}",
                          key="backend")
    return f"{dataset}-{split}-{key[:12]}{BACKEND_SUFFIX[backend]}"


def check_codec(backend: Backend, codec: str | None) -> str:
    """The codec name to use (the backend's default when None); ConfigError naming the choices."""
    if codec is None:
        return DEFAULT_CODEC[backend]
    if codec not in CODECS[backend]:
        raise ConfigError(f"codec {codec!r} is not available for the {backend} backend; "
                          f"choose one of {', '.join(CODECS[backend])}", key="codec")
    return codec


def checked_indices(indices: Any, n: int, what: str = "store") -> np.ndarray:
    """``indices`` as a flat int64 array, negative ones counted from the end of ``n`` samples;
    IndexError naming the first one outside (``what``: "store", "dataset", ... for the message)."""
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    if idx.size and (idx.min() < -n or idx.max() >= n):
        bad = idx[(idx < -n) | (idx >= n)][0]
        raise IndexError(f"index {bad} out of range for a {what} of {n} samples")
    return np.where(idx < 0, idx + n, idx)
