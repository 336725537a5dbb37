"""The lazy reader of dense zarr stores (``eventcompress.data.mapped``): rows copied or
decompressed out of memory-mapped shard files, checked against the values written, for
arrays written by zarr-python itself with every Blosc setting (older stores and stores of other
writers), through c-blosc called directly and through numcodecs' wrapper; corrupt shards give a
StoreError naming the file and the sample."""

from __future__ import annotations

import multiprocessing
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from eventcompress import Events
from eventcompress.cache import build_from, open_store
from eventcompress.cache.shards import _crc32c, fast_path
from eventcompress.data import CachedDataset
from eventcompress.data import mapped as mapped_module
from eventcompress.data._blosc import direct_decompress
from eventcompress.data.mapped import MappedRows, convert_rows
from eventcompress.errors import StoreError
from eventcompress.kernels import Pipeline, STCConfig

SHAPE = (2, 3, 5, 7)


def sparse_values(n: int, seed: int = 0) -> np.ndarray:
    """Sparse float16 samples like STC currents; sample 4 all zero (zarr leaves it out)."""
    rng = np.random.default_rng(seed)
    values = rng.exponential(size=(n, *SHAPE)).astype(np.float16)
    values[rng.random(values.shape) < 0.8] = 0
    values[4] = 0
    return values


def zarr_array(path: Path, values: np.ndarray, compressors) -> Path:
    """``values`` written by zarr-python: one sample per chunk, 10 per shard."""
    import zarr

    group = zarr.open_group(path, mode="w")
    arr = group.create_array("data", shape=values.shape, chunks=(1, *values.shape[1:]),
                             shards=(10, *values.shape[1:]), dtype=values.dtype, fill_value=0,
                             compressors=compressors)
    arr[:] = values
    return path / "data"


def blosc_settings():
    from zarr.codecs import BloscCodec

    yield "none", None
    for cname in ("lz4", "lz4hc", "blosclz", "zstd"):
        for shuffle in ("noshuffle", "shuffle", "bitshuffle"):
            yield f"{cname}-{shuffle}", BloscCodec(cname=cname, clevel=5, shuffle=shuffle)
    yield "lz4-blocksize", BloscCodec(cname="lz4", clevel=9, shuffle="shuffle", blocksize=256)


@pytest.mark.parametrize("name,compressors", list(blosc_settings()),
                         ids=[name for name, _ in blosc_settings()])
def test_rows_of_zarr_written_arrays_bit_exact(tmp_path, name, compressors, monkeypatch):
    values = sparse_values(23)
    rows = MappedRows.open(zarr_array(tmp_path / "a.zarr", values, compressors), 23)
    assert rows is not None and rows.compressed == (compressors is not None)
    assert rows.offsets[4] == -1  # the all-zero sample is absent from its shard
    idx = np.array([22, 0, 4, 9, 10, 4, 13, 22])
    as_f16 = torch.empty((len(idx), *SHAPE), dtype=torch.float16)
    rows.read_into(idx, as_f16)  # the stored dtype: gathered straight into the output
    assert np.array_equal(as_f16.numpy().view(np.uint16), values[idx].view(np.uint16))
    as_f32 = torch.full((12, *SHAPE), -1.0)  # a larger slot: only the first rows are written
    rows.read_into(idx, as_f32)
    assert torch.equal(as_f32[:len(idx)], torch.from_numpy(values[idx]).float())
    assert (as_f32[len(idx):] == -1).all()
    if compressors is not None:  # numcodecs' decompress (no direct c-blosc) gives the same
        monkeypatch.setattr(mapped_module, "direct_decompress", lambda: None)
        fallback = MappedRows.open(tmp_path / "a.zarr" / "data", 23)
        again = torch.empty((len(idx), *SHAPE))
        fallback.read_into(idx, again)
        assert torch.equal(again, as_f32[:len(idx)])


@pytest.fixture(scope="module")
def default_and_raw(tmp_path_factory):
    """The same 23 sparse samples (one absent) as the default codec writes them and raw."""
    from zarr.codecs import BloscCodec

    values = sparse_values(23, seed=5)
    out = tmp_path_factory.mktemp("mapped")
    blosc = BloscCodec(cname="lz4", clevel=5, shuffle="noshuffle")
    return values, [MappedRows.open(zarr_array(out / f"{name}.zarr", values, codec), 23)
                    for name, codec in (("blosc", blosc), ("raw", None))]


@given(st.lists(st.integers(0, 22), max_size=40), st.integers(0, 5),
       st.sampled_from([torch.float32, torch.float16, torch.float64]))
def test_any_batch_equals_the_values(default_and_raw, indices, spare, dtype):
    """Any batch (repeats, the absent sample, empty), into a slot with spare rows, in any
    output dtype, is the stored values exactly, and the spare rows are left alone."""
    values, readers = default_and_raw
    idx = np.asarray(indices, np.int64)
    expected = torch.from_numpy(values[idx]).to(dtype)
    for rows in readers:
        out = torch.full((len(idx) + spare, *SHAPE), 7.0, dtype=dtype)
        rows.read_into(idx, out)
        assert torch.equal(out[:len(idx)], expected)
        assert (out[len(idx):] == 7).all()


def test_direct_decompress_is_available_here():
    """numcodecs' wheels (zarr's dependency) link c-blosc 1.x and export its C API: the direct
    call is the path benchmarked, and losing it (another numcodecs build) would only be
    slower, so this test is what says so."""
    assert direct_decompress() is not None


def test_default_store_round_trips_through_workers(tmp_path):
    """A store of the default codec, read lazily in the main process and by two forked
    workers through the shared-memory ring, and loaded into memory (through the mapped
    reader), equals Store.read bit for bit."""
    rng = np.random.default_rng(3)
    pipe = Pipeline(representation=STCConfig(steps=4, tau_s=50_000.0))

    def streams():
        for k in range(200):
            m = int(rng.integers(0, 300))
            yield Events(rng.integers(0, 16, m), rng.integers(0, 12, m),
                         np.sort(rng.integers(0, 100_000, m)), rng.integers(0, 2, m),
                         (16, 12)), k % 4

    path = build_from(streams(), pipe, tmp_path, progress=False)
    store = open_store(path)
    assert store.attrs["codec"] == "blosc-lz4"
    ref = torch.from_numpy(store.read(np.arange(len(store))))
    ds = CachedDataset(path, in_memory=False)
    assert ds._mapped is not None and ds._mapped.compressed
    assert torch.equal(ds.__getitems__(list(range(199, -1, -1))).x, ref.flip(0).float())
    assert torch.equal(CachedDataset(path, in_memory=False, dtype=None)[7][0], ref[7])
    idx = [5, 199, 5, 0, 42]
    for dtype in (None, torch.float32):  # in memory: np.take into the output, or the staging
        mem = CachedDataset(path, in_memory=True, dtype=dtype)
        got = mem.__getitems__(idx).x
        assert got.dtype == (dtype or torch.float16)
        assert torch.equal(got, ref[idx].to(got.dtype))
    loader = ds.loader(batch_size=64, num_workers=2,
                       multiprocessing_context=multiprocessing.get_context("fork"))
    assert torch.equal(torch.cat([x for x, _ in loader]), ref.float())


def _store_copy(tmp_path: Path, codec: str) -> Path:
    """A copy (to corrupt) of a 23-sample array, every chunk present."""
    from zarr.codecs import BloscCodec

    values = sparse_values(23, seed=1)
    values[4] = values[5]
    compressors = None if codec == "none" else BloscCodec(cname="lz4", shuffle="noshuffle")
    src = zarr_array(tmp_path / "src.zarr", values, compressors)
    dst = tmp_path / "copy.zarr"
    shutil.copytree(src.parent, dst)
    return dst / "data"


def _rewrite_index(shard_file: Path, edit) -> None:
    """Change the shard index of ``shard_file`` with ``edit(index)`` and re-sign it."""
    raw = bytearray(shard_file.read_bytes())
    n = 10
    index = np.frombuffer(bytes(raw[-(16 * n + 4):-4]), np.uint64).reshape(n, 2).copy()
    edit(index)
    body = index.tobytes()
    shard_file.write_bytes(bytes(raw[:-(16 * n + 4)]) + body + _crc32c(body))


def test_corrupt_chunk_header_names_the_shard_and_sample(tmp_path):
    array_dir = _store_copy(tmp_path, "blosc")
    shard = fast_path(array_dir).shard_path(1)
    rows = MappedRows.open(array_dir, 23)
    at = int(rows.offsets[13])
    raw = bytearray(shard.read_bytes())
    raw[at + 4:at + 8] = (2 * rows.row_bytes).to_bytes(4, "little")  # nbytes: twice a row
    shard.write_bytes(bytes(raw))
    out = torch.empty((1, *SHAPE))
    rows.read_into(np.array([12]), out)  # the other chunks of the shard still read
    with pytest.raises(StoreError, match=r"sample 13: the chunk at byte \d+ is not the") as e:
        rows.read_into(np.array([12, 13]), torch.empty((2, *SHAPE)))
    assert str(shard) in str(e.value)


def test_undecodable_chunk_is_a_store_error(tmp_path):
    array_dir = _store_copy(tmp_path, "blosc")
    shard = fast_path(array_dir).shard_path(0)
    rows = MappedRows.open(array_dir, 23)
    at, n = int(rows.offsets[3]), int(rows.lengths[3])
    raw = bytearray(shard.read_bytes())
    raw[at + 16:at + n] = b"\xff" * (n - 16)  # the header stays; block starts point nowhere
    shard.write_bytes(bytes(raw))
    with pytest.raises(StoreError, match="sample 3: the chunk at byte .* does not decompress"):
        rows.read_into(np.array([3]), torch.empty((1, *SHAPE)))


@pytest.mark.parametrize("codec", ["none", "blosc"])
def test_index_pointing_past_the_data_is_refused(tmp_path, codec):
    array_dir = _store_copy(tmp_path, codec)
    shard = fast_path(array_dir).shard_path(2)

    def beyond(index):
        index[1, 0] = np.uint64(shard.stat().st_size)

    _rewrite_index(shard, beyond)
    rows = MappedRows.open(array_dir, 23)
    with pytest.raises(StoreError, match="past the data of this .*truncated shard") as e:
        rows.read_into(np.array([0]), torch.empty((1, *SHAPE)))
    assert str(shard) in str(e.value)


@pytest.mark.parametrize("threads", [1, 2])
def test_convert_rows_equals_copy(threads):
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        src = torch.randn(9, 4, 2, 34, 34).half()  # 83,232 values: three pieces with 2 threads
        out = torch.empty(9, 4, 2, 34, 34)
        convert_rows(src, out)
        assert torch.equal(out, src.float())
        strided = torch.empty(4, 9, 2, 34, 34).transpose(0, 1)[:, :4]  # not contiguous
        convert_rows(src[:, :4], strided)
        assert torch.equal(strided, src[:, :4].float())
    finally:
        torch.set_num_threads(before)
