"""The store files the builder writes itself (eventcompress.cache.zarr_direct) against
zarr-python: the same zarr.json documents as ``create_array`` writes, chunks zarr-python reads
back exactly, and the partial edge chunks padded as zarr pads them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

zarr = pytest.importorskip("zarr")

from eventcompress.cache.fingerprint import SourceListing  # noqa: E402
from eventcompress.cache.format import EVENT_DTYPE, EVENT_FIELDS, StoreLayout  # noqa: E402
from eventcompress.cache.zarr_backend import ZarrWriter  # noqa: E402

N = 10  # samples: shards of 4 leave a partial last chunk of 2


def _listing(n_files: int) -> SourceListing:
    return SourceListing(tuple(f"Train/{i % 3}/{i:05d}.bin" for i in range(n_files)),
                         np.arange(100, 100 + n_files, dtype=np.int64) * 5,
                         np.arange(n_files, dtype=np.int64) * 10**9 + 7)


def _zarr_compressors(codec: str):
    from zarr.codecs import BloscCodec, ZstdCodec

    return {"none": None, "blosc-lz4": BloscCodec(cname="lz4", clevel=5, shuffle="noshuffle"),
            "zstd": ZstdCodec(level=3)}[codec]


def _reference(path: Path, layout: StoreLayout, codec: str, labels, ids, listing, attrs):
    """The store as zarr-python creates it from the same description (the oracle)."""
    n, s = len(labels), max(1, layout.shard_samples)
    f, m = len(listing.paths), max(1, len(listing.paths))
    group = zarr.open_group(path, mode="w-", attributes=attrs)
    small = {"labels": ((n,), (s,), "int64", labels), "sample_ids": ((n,), (s,), str, ids),
             "event_counts": ((n,), (s,), "int64", None), "lengths": ((n,), (s,), "int64", None),
             "done": ((n,), (s,), "uint8", None),
             "source_paths": ((f,), (m,), str, list(listing.paths)),
             "source_sizes": ((f,), (m,), "int64", listing.sizes),
             "source_mtimes": ((f,), (m,), "int64", listing.mtimes)}
    for name, (shape, chunks, dtype, values) in small.items():
        arr = group.create_array(name, shape=shape, chunks=chunks, dtype=dtype, fill_value=0)
        if values is not None and len(values):
            arr[:] = np.asarray(values, dtype=object) if dtype is str else values
    big = {"compressors": _zarr_compressors(codec)}
    if layout.kind == "dense":
        group.create_array("data", shape=(n, *layout.row_shape), chunks=(1, *layout.row_shape),
                           dtype=layout.dtype, fill_value=0,
                           shards=(layout.shard_samples, *layout.row_shape), **big)
    else:
        group.create_array("offsets", shape=(n + 1,), chunks=(n + 1,), dtype="int64",
                           fill_value=0)
        names = [k for k, _ in EVENT_FIELDS] if layout.kind == "events" else ["data"]
        for name in names:
            dtype = dict(EVENT_FIELDS)[name] if layout.kind == "events" else layout.dtype
            group.create_array(name, shape=(0, *layout.row_shape),
                               chunks=(layout.rows_per_chunk, *layout.row_shape), dtype=dtype,
                               fill_value=0, shards=(layout.shard_rows, *layout.row_shape), **big)


def _documents(root: Path) -> dict[str, dict]:
    return {str(p.parent.relative_to(root)): json.loads(p.read_text())
            for p in root.rglob("zarr.json")}


LAYOUTS = [
    ("dense", StoreLayout("dense", (4, 2, 34, 34), np.dtype(np.float16), 4), "blosc-lz4"),
    ("dense-none", StoreLayout("dense", (4, 2, 34, 34), np.dtype(np.float16), 4), "none"),
    ("dense-zstd-u16", StoreLayout("dense", (3, 2, 8, 8), np.dtype(np.uint16), 4), "zstd"),
    ("ragged", StoreLayout("ragged", (2, 8, 8), np.dtype(np.uint16), 4, 8), "blosc-lz4"),
    ("events", StoreLayout("events", (), EVENT_DTYPE, 4, 65_536), "zstd"),
]


@pytest.mark.parametrize(("name", "layout", "codec"), LAYOUTS, ids=[c[0] for c in LAYOUTS])
def test_created_store_matches_zarr_python(tmp_path: Path, name: str, layout: StoreLayout,
                                           codec: str) -> None:
    labels = np.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3], np.int64)
    ids = [f"Train/{k}/{i:05d}" for i, k in enumerate(labels)]
    listing = _listing(7)
    attrs = {"key": "abc", "n_samples": N, "errors": [], "nested": {"a": [1, 2.5, None]}}
    ours = ZarrWriter.create(tmp_path / "ours.zarr", layout, codec, labels, ids, listing, attrs)
    _reference(tmp_path / "ref.zarr", layout, codec, labels, ids, listing, attrs)
    assert _documents(tmp_path / "ours.zarr") == _documents(tmp_path / "ref.zarr")
    group = zarr.open_group(tmp_path / "ours.zarr", mode="r")
    assert dict(group.attrs) == attrs
    np.testing.assert_array_equal(group["labels"][:], labels)
    assert list(group["sample_ids"][:]) == ids
    assert list(group["source_paths"][:]) == list(listing.paths)
    np.testing.assert_array_equal(group["source_sizes"][:], listing.sizes)
    np.testing.assert_array_equal(group["source_mtimes"][:], listing.mtimes)
    np.testing.assert_array_equal(group["done"][:], np.zeros(N, np.uint8))
    assert ours.n == N and not ours.done().any()


def test_marks_and_attrs_read_back_through_zarr(tmp_path: Path) -> None:
    layout = StoreLayout("ragged", (2, 8, 8), np.dtype(np.uint16), 4, 8)
    labels = np.arange(N, dtype=np.int64) % 3
    zw = ZarrWriter.create(tmp_path / "s.zarr", layout, "none", labels,
                           [str(i) for i in range(N)], _listing(0),
                           {"errors": [], **layout.to_attrs()})
    # the last shard first (a partial chunk of 2), then the first: each chunk written whole
    zw.mark(8, np.array([1, 2], np.uint8), np.array([70, 80]), np.array([7, 8]))
    zw.mark(0, np.array([1, 1, 2, 1], np.uint8), np.array([5, 6, 7, 8]), np.array([1, 2, 0, 4]))
    zw.update_attrs(errors=[{"index": 2}], complete=True)
    offsets = np.concatenate([[0], np.cumsum(zw.lengths())])
    zw.write_offsets(offsets)
    group = zarr.open_group(tmp_path / "s.zarr", mode="r")
    np.testing.assert_array_equal(group["done"][:], [1, 1, 2, 1, 0, 0, 0, 0, 1, 2])
    np.testing.assert_array_equal(group["event_counts"][:], [5, 6, 7, 8, 0, 0, 0, 0, 70, 80])
    np.testing.assert_array_equal(group["lengths"][:], [1, 2, 0, 4, 0, 0, 0, 0, 7, 8])
    np.testing.assert_array_equal(group["offsets"][:], offsets)
    assert dict(group.attrs) == {"errors": [{"index": 2}], "complete": True,
                                 **layout.to_attrs()}
    # a resumed writer starts from what is on disk
    again = ZarrWriter.open(tmp_path / "s.zarr")
    np.testing.assert_array_equal(again.done(), group["done"][:])
    np.testing.assert_array_equal(again.lengths(), group["lengths"][:])
    assert again.attrs == dict(group.attrs)
    assert not list((tmp_path / "s.zarr").rglob("*.tmp"))


def test_create_refuses_an_existing_folder(tmp_path: Path) -> None:
    layout = StoreLayout("dense", (1, 2, 4, 4), np.dtype(np.float16), 4)
    (tmp_path / "s.zarr").mkdir()
    with pytest.raises(FileExistsError):
        ZarrWriter.create(tmp_path / "s.zarr", layout, "none", np.zeros(2, np.int64),
                          ["a", "b"], _listing(1), {})


def test_a_creation_cut_short_is_not_resumed(tmp_path: Path) -> None:
    """The group document is written last: a store killed while being created has none, and
    opening it for a resume fails (the builder then starts the store again)."""
    layout = StoreLayout("dense", (1, 2, 4, 4), np.dtype(np.float16), 4)
    ZarrWriter.create(tmp_path / "s.zarr", layout, "none", np.array([1, 2], np.int64),
                      ["a", "b"], _listing(1), layout.to_attrs())
    ZarrWriter.open(tmp_path / "s.zarr")  # complete: opens
    (tmp_path / "s.zarr" / "zarr.json").unlink()
    with pytest.raises(Exception):  # noqa: B017 - zarr's own "no group here" error
        ZarrWriter.open(tmp_path / "s.zarr")
