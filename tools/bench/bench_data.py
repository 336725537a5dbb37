"""Data-loading benchmark: a random-order epoch through a DataLoader, ours vs tonic.

A cached N-MNIST-shaped store (``--samples``, default 70,000 samples of T=4, 2x34x34, float16;
built once from synthetic events with ``eventcompress.cache.build_from`` and reused) is read in
random order with batch 128 through

* ``CachedDataset.loader`` (the shared-memory batch ring) with 2 workers and with none, lazy
  (page cache warm) and in memory;
* a plain ``DataLoader(CachedDataset, batch_size=128, shuffle=True, num_workers=2)`` (one
  ``__getitems__`` read per batch, torch's own tensor hand-over), and the same with the
  ``file_system`` sharing strategy;
* ``tonic.DiskCachedDataset`` holding the same tensors (one HDF5 file per sample; only the
  first ``--tonic-samples`` are cached, as writing 70,000 files takes minutes), same loader
  settings.

It also reports the resident and proportional set sizes of 2 workers over an in-memory store,
and samples/s and MB/s for CIFAR10-DVS- and DVS-Gesture-shaped stores against this machine's
memcpy bandwidth. Run: ``python tools/bench/bench_data.py [--samples N] [--out DIR]``.

``--rounds N`` measures only the ring loader with 2 workers over the lazy default store, the
lazy uncompressed store and the store in memory, one epoch each per round, taking turns, with
the CPU time of the main process and the workers: on a shared machine the load moves by the
minute, and samples per CPU second shows what the loader costs apart from what it is given.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tools.bench.common import markdown_table, report_header  # noqa: E402

BATCH = 128


def synthetic_streams(n: int, sensor: tuple[int, int], events: int, seed: int):
    """``n`` (events, label) pairs of ``events`` random events over 300 ms."""
    from eventcompress import Events

    rng = np.random.default_rng(seed)
    w, h = sensor
    for k in range(n):
        m = int(rng.integers(events // 2, events * 3 // 2))
        yield Events(rng.integers(0, w, m), rng.integers(0, h, m),
                     np.sort(rng.integers(0, 300_000, m)), rng.integers(0, 2, m), sensor), k % 10


def make_store(out: Path, n: int, sensor: tuple[int, int], steps: int, seed: int = 0,
               codec: str | None = None) -> Path:
    from eventcompress.cache import build_from
    from eventcompress.kernels import Pipeline, STCConfig

    pipe = Pipeline(representation=STCConfig(steps=steps, tau_s=50_000.0))
    t = time.perf_counter()
    path = build_from(synthetic_streams(n, sensor, 400, seed), pipe, out,
                      dataset=f"bench{sensor[0]}x{sensor[1]}t{steps}", split=str(n),
                      progress=False, codec=codec)
    print(f"store {path.name}: {time.perf_counter() - t:.1f} s to build or find", flush=True)
    return path


def warm_page_cache(path: Path) -> None:
    for f in path.rglob("*"):
        if f.is_file():
            with open(f, "rb") as fh:
                while fh.read(1 << 24):
                    pass


def epoch(loader: Any, limit: int | None = None) -> tuple[float, int]:
    """Samples/s of one pass (touching one value per batch, so the batch is really there)."""
    n = 0
    t = time.perf_counter()
    for x, _ in loader:
        float(x[0, 0, 0, 0, 0])
        n += len(x)
        if limit is not None and n >= limit:
            break
    return n / (time.perf_counter() - t), n


def best_epoch(make_loader: Any, repeats: int, limit: int | None = None) -> float:
    loader = make_loader()
    epoch(loader, min(limit or 10**9, 20 * BATCH))  # start-up, JIT and page cache warm-up
    return max(epoch(loader, limit)[0] for _ in range(repeats))


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds used so far by the processes ``pids`` (/proc/<pid>/stat)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / tick


def interleaved_rounds(datasets: dict[str, Any], rounds: int, workers: int = 2
                       ) -> list[list[Any]]:
    """One epoch of each dataset's ring loader (persistent workers) per round, the datasets
    taking turns, so that a machine whose load changes by the minute affects them alike. The
    CPU time of the main process and the workers is counted too: samples per CPU second of
    the loader's processes together is the figure the machine's load disturbs least."""
    import torch

    gen = torch.Generator().manual_seed(0)
    loaders = {name: ds.loader(batch_size=BATCH, shuffle=True, num_workers=workers,
                               persistent_workers=True, generator=gen)
               for name, ds in datasets.items()}
    for loader in loaders.values():
        epoch(loader, 20 * BATCH)  # start the workers, map the files
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in datasets}
    for r in range(rounds):
        for name, loader in loaders.items():
            it = iter(loader)
            pids = [os.getpid(), *(w.pid for w in it._workers)]
            before = cpu_seconds(pids)
            n = 0
            t = time.perf_counter()
            for x, _ in it:
                float(x[0, 0, 0, 0, 0])
                n += len(x)
            rate = n / (time.perf_counter() - t)
            per_cpu = n / max(cpu_seconds(pids) - before, 1e-9)
            runs[name].append((rate, per_cpu))
            print(f"round {r + 1}: {name}: {n:,} samples, {rate:,.0f} samples/s, "
                  f"{per_cpu:,.0f} per CPU second, load {os.getloadavg()[0]:.1f}", flush=True)
    rows = []
    for name, values in runs.items():
        rates = sorted(v[0] for v in values)
        per = sorted(v[1] for v in values)
        rows.append([name, str(workers), f"{rates[0]:,.0f}–{rates[-1]:,.0f}",
                     f"{rates[len(rates) // 2]:,.0f}", f"{per[0]:,.0f}–{per[-1]:,.0f}"])
    return rows


def memory_of(pids: list[int]) -> dict[str, float]:
    """Rss / Pss / private MB summed over ``pids`` (from /proc/<pid>/smaps_rollup)."""
    total = {"Rss": 0.0, "Pss": 0.0, "Private": 0.0}
    for pid in pids:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                key, _, rest = line.partition(":")
                kb = float(rest.split()[0]) if rest.split() else 0.0
                if key in ("Rss", "Pss"):
                    total[key] += kb / 1024
                elif key in ("Private_Clean", "Private_Dirty"):
                    total["Private"] += kb / 1024
    return total


def memcpy_gbps(nbytes: int = 256 * 2**20) -> float:
    a = np.ones(nbytes, np.uint8)
    b = np.empty_like(a)
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        np.copyto(b, a)
        best = min(best, time.perf_counter() - t)
    return nbytes / best / 1e9


class _Tensors:
    """The stored samples as a plain per-sample dataset (what tonic's cache wraps)."""

    def __init__(self, store: Any, n: int) -> None:
        self.store, self.n = store, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        return self.store.read([i])[0], int(self.store.labels[i])


def _to_float32(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float32)


def bench_tonic(store: Any, n: int, cache: Path, repeats: int) -> float:
    import tonic
    import torch

    ds = tonic.DiskCachedDataset(_Tensors(store, n), cache_path=str(cache),
                                 transform=_to_float32)
    t = time.perf_counter()
    for i in range(n):  # fill the cache (one HDF5 file per sample)
        ds[i]
    print(f"tonic cache of {n} samples written in {time.perf_counter() - t:.1f} s", flush=True)
    return best_epoch(lambda: torch.utils.data.DataLoader(
        ds, batch_size=BATCH, shuffle=True, num_workers=2, persistent_workers=True), repeats)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=int, default=70_000)
    ap.add_argument("--tonic-samples", type=int, default=3_000)
    ap.add_argument("--other-samples", type=int, default=10_000,
                    help="samples of the CIFAR10-DVS- and DVS-Gesture-shaped stores")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "ec-bench-data")
    ap.add_argument("--rounds", type=int, default=0,
                    help="instead of the full report: this many interleaved rounds of one "
                    "epoch each of the ring loader (2 workers) over the lazy default store, "
                    "the lazy uncompressed store and the store in memory")
    args = ap.parse_args()
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")

    import torch
    from torch.utils.data import DataLoader

    from eventcompress.cache import open_store
    from eventcompress.data import CachedDataset

    path = make_store(args.out, args.samples, (34, 34), 4)
    raw_path = make_store(args.out / "uncompressed", args.samples, (34, 34), 4, codec="none")
    warm_page_cache(path)
    warm_page_cache(raw_path)
    lazy = CachedDataset(path, in_memory=False)
    lazy_raw = CachedDataset(raw_path, in_memory=False)
    t = time.perf_counter()
    mem = CachedDataset(path, in_memory=True)
    print(f"loaded into shared memory in {time.perf_counter() - t:.1f} s", flush=True)
    if args.rounds:
        load = os.getloadavg()
        rows = interleaved_rounds({"lazy, default store (Blosc-LZ4)": lazy,
                                   "lazy, uncompressed store": lazy_raw, "in memory": mem},
                                  args.rounds)
        print()
        print(report_header(f"Data loading: interleaved epochs, batch {BATCH}"))
        print(f"Load average at the start: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}; "
              f"at the end: {os.getloadavg()[0]:.1f}.\n")
        print(markdown_table(["ring loader", "workers", "samples/s (range)", "median",
                              "samples per CPU second (range)"], rows))
        return 0
    gen = torch.Generator().manual_seed(0)
    rows: list[list[Any]] = []

    def ours(ds, workers):
        return lambda: ds.loader(batch_size=BATCH, shuffle=True, num_workers=workers,
                                 persistent_workers=workers > 0, generator=gen)

    def plain(ds, workers):
        return lambda: DataLoader(ds, batch_size=BATCH, shuffle=True, num_workers=workers,
                                  persistent_workers=workers > 0, generator=gen)

    tonic_rate = bench_tonic(open_store(path), min(args.tonic_samples, args.samples),
                             args.out / "tonic-cache", args.repeats)
    rows.append(["tonic.DiskCachedDataset (HDF5 per sample)", "2", f"{tonic_rate:,.0f}", "1.0"])
    for mode, ds in (("lazy", lazy), ("lazy, uncompressed store", lazy_raw),
                     ("in memory", mem)):
        for label, make, workers in (
                ("CachedDataset.loader (shared-memory ring)", ours, 2),
                ("CachedDataset.loader, main process", ours, 0),
                ("DataLoader(CachedDataset) (torch hand-over)", plain, 2)):
            rate = best_epoch(make(ds, workers), args.repeats)
            rows.append([f"{label}, {mode}", str(workers), f"{rate:,.0f}",
                         f"{rate / tonic_rate:.1f}"])
            print(rows[-1], flush=True)
    torch.multiprocessing.set_sharing_strategy("file_system")
    rate = best_epoch(plain(lazy, 2), args.repeats)
    rows.append(["DataLoader(CachedDataset), file_system sharing, lazy", "2", f"{rate:,.0f}",
                 f"{rate / tonic_rate:.1f}"])
    torch.multiprocessing.set_sharing_strategy("file_descriptor")

    # memory of 2 workers over the in-memory store, at the end of an epoch
    loader = mem.loader(batch_size=BATCH, shuffle=True, num_workers=2, persistent_workers=True)
    it = iter(loader)
    for _ in it:
        pass
    it = iter(loader)  # persistent workers stay; the first iterator finished its epoch
    next(it)
    workers = [w.pid for w in it._workers]
    mem_w = memory_of(workers)
    mem_main = memory_of([os.getpid()])
    copy_mb = mem.nbytes / 2**20
    del it, loader

    # other shapes against memcpy
    bw = memcpy_gbps()
    shape_rows = []
    for name, sensor, steps in (("CIFAR10-DVS", (48, 48), 4), ("DVS Gesture", (32, 32), 16)):
        p = make_store(args.out, args.other_samples, sensor, steps)
        warm_page_cache(p)
        for mode, in_memory in (("lazy", False), ("in memory", True)):
            ds = CachedDataset(p, in_memory=in_memory)
            for workers in (2, 0):
                rate = best_epoch(ours(ds, workers), args.repeats)
                mbs = rate * int(np.prod(ds.sample_shape)) * 4 / 1e6  # float32 delivered
                shape_rows.append([name, f"{steps}x2x{sensor[1]}x{sensor[0]}", mode,
                                   str(workers), f"{rate:,.0f}", f"{mbs:,.0f}",
                                   f"{mbs / (bw * 1e3):.0%}"])
                print(shape_rows[-1], flush=True)

    print()
    print(report_header(f"Data loading: random-order epoch, batch {BATCH}"))
    print(f"Store: {args.samples:,} samples of 4x2x34x34 float16 ({copy_mb:,.0f} MB), "
          f"zarr, default codec; tonic over its first {min(args.tonic_samples, args.samples):,} "
          "samples.\n")
    print(markdown_table(["loader", "workers", "samples/s", "x tonic"], rows))
    print(f"Memory with 2 persistent workers over the in-memory store ({copy_mb:,.0f} MB), "
          f"after an epoch: the 2 workers together Rss {mem_w['Rss']:,.0f} MB of which "
          f"private {mem_w['Private']:,.0f} MB (the rest is shared: the store's one copy and "
          f"the libraries), Pss {mem_w['Pss']:,.0f} MB; main process Rss "
          f"{mem_main['Rss']:,.0f} MB, Pss {mem_main['Pss']:,.0f} MB (it also holds the lazy "
          "datasets' maps).\n")
    print(f"memcpy bandwidth (np.copyto of 256 MB, one thread): {bw:.1f} GB/s; 'of memcpy' "
          "below = float32 bytes delivered per second / that bandwidth.\n")
    print(markdown_table(["shape", "T x P x H x W", "mode", "workers", "samples/s",
                          "MB/s (float32 out)", "of memcpy"], shape_rows))
    print(f"(CIFAR10-DVS- and DVS-Gesture-shaped stores: {args.other_samples:,} samples each, "
          "default codec.)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
