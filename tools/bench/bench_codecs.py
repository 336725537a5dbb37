"""Codecs for the chunks of a dense store: compression ratio and single-thread encode / decode
cost per sample, on the tensors of real stores.

Every sample of ``--samples`` drawn (seeded) from each store given is encoded with each codec
setting; the figures are CPU time of this thread (``time.thread_time``, so a busy machine
disturbs them much less than wall time), the best of ``--repeats`` passes over all samples.
Blosc chunks are decompressed the way the lazy loader does it (``eventcompress.data._blosc``:
c-blosc called directly into a reused buffer); numcodecs' plain LZ4 and Zstd through their
``decode(buf, out)`` (their Python wrapper included, about 1-6 us); ``none`` is one memmove.

Run: ``python tools/bench/bench_codecs.py STORE [STORE ...]`` (e.g. the store of
``eventcompress cache build nmnist --root ../shared/realdata/nmnist/NMNIST-small --split train
--recipe nmnist-stc-scb-mtlif --out DIR``).
"""

from __future__ import annotations

import argparse
import ctypes
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tools.bench.common import markdown_table, report_header  # noqa: E402

SHUFFLES = {"noshuffle": 0, "shuffle": 1, "bitshuffle": 2}


def codec_settings() -> list[tuple[str, Any]]:
    """(name, numcodecs codec or None) for every setting compared."""
    from numcodecs import LZ4, Blosc, Zstd

    out: list[tuple[str, Any]] = [("none", None)]
    for cname, levels in (("lz4", (1, 5, 9)), ("lz4hc", (1, 5, 9)), ("blosclz", (1, 5, 9)),
                          ("zstd", (1, 3))):
        for shuffle, code in SHUFFLES.items():
            for level in levels:
                out.append((f"blosc {cname} {shuffle} {level}",
                            Blosc(cname=cname, clevel=level, shuffle=code)))
    for blocksize in (4096, 8192, 65536):
        out.append((f"blosc lz4 noshuffle 5, blocksize {blocksize}",
                    Blosc(cname="lz4", clevel=5, shuffle=0, blocksize=blocksize)))
    out.append(("blosc lz4 shuffle 5, typesize 1 (bytes)",
                Blosc(cname="lz4", clevel=5, shuffle=1, typesize=1)))
    out += [("numcodecs LZ4 (acceleration 1)", LZ4(1)), ("numcodecs Zstd 1", Zstd(1)),
            ("numcodecs Zstd 3", Zstd(3))]
    return out


def cpu_seconds(fn: Any, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.thread_time()
        fn()
        best = min(best, time.thread_time() - t)
    return best


def measure(samples: np.ndarray, codec: Any, repeats: int) -> tuple[float, float, float]:
    """(ratio, encode us per sample, decode us per sample) of ``codec`` on ``samples``."""
    from numcodecs import Blosc

    from eventcompress.data._blosc import direct_decompress

    rows = [np.ascontiguousarray(x) for x in samples]
    t = time.thread_time()
    chunks = [x.tobytes() if codec is None else bytes(codec.encode(x)) for x in rows]
    encode = time.thread_time() - t
    ratio = sum(x.nbytes for x in rows) / sum(len(c) for c in chunks)
    buffers = [np.frombuffer(c, np.uint8) for c in chunks]
    addresses = [b.ctypes.data for b in buffers]
    out = np.empty_like(rows[0])
    dest, n = out.ctypes.data, out.nbytes
    decompress = direct_decompress()
    if codec is None:
        def decode() -> None:
            for a in addresses:
                ctypes.memmove(dest, a, n)
    elif isinstance(codec, Blosc) and decompress is not None:
        def decode() -> None:
            for a in addresses:
                decompress(a, dest, n, 1)
    else:
        def decode() -> None:
            for b in buffers:
                codec.decode(b, out)
    decode()
    if not np.array_equal(out.view(np.uint8), rows[-1].view(np.uint8)):
        raise AssertionError("the codec did not round-trip the last sample")
    per = 1e6 / len(rows)
    return ratio, encode * per, cpu_seconds(decode, repeats) * per


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("stores", nargs="+", type=Path, help="dense stores (zarr or HDF5)")
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from numcodecs import blosc

    from eventcompress.cache import open_store

    blosc.use_threads = False  # numcodecs' Blosc encodes in this thread, as build workers do
    data = []
    for path in args.stores:
        store = open_store(path)
        rng = np.random.default_rng(args.seed)
        pick = np.sort(rng.choice(len(store), min(args.samples, len(store)), replace=False))
        values = store.read(pick)
        data.append(values)
        print(f"{path.name}: {len(pick)} samples of {values.shape[1:]} {values.dtype}, "
              f"{values[0].nbytes:,} bytes each, "
              f"{np.count_nonzero(values) / values.size:.1%} non-zero", flush=True)
    rows = []
    for name, codec in codec_settings():
        row: list[Any] = [name]
        for values in data:
            ratio, enc, dec = measure(values, codec, args.repeats)
            row += [f"{ratio:.2f}", f"{enc:.1f}", f"{dec:.2f}"]
        rows.append(row)
        print(row, flush=True)
    print()
    print(report_header("Chunk codecs: ratio and single-thread CPU us per sample"))
    header = ["codec, shuffle, level"]
    for path in args.stores:
        header += [f"{path.name[:24]}: ratio", "encode us", "decode us"]
    print(markdown_table(header, rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
