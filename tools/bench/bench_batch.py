"""process_many scaling: 1 vs 2 (vs 4 where the machine has them) workers, threads and processes.

Input: the real NMNIST-small recordings (decoded once with eventcompress.io.nmnist_bin.read_bin
and repeated up to the requested count) or, where they are absent, synthetic N-MNIST-size
streams (34x34, ~4,100 events over 300 ms). 2,000 streams (400 with --quick) go through:

* ``STC``: ``Pipeline((), STCConfig(steps=8, tau_s=30 ms))``;
* ``frames``: ``Pipeline((), FrameConfig(n_time_bins=8))`` (int16);
* ``Denoise+STC``: ``Pipeline((Denoise(5 ms), RefractoryPeriod(1 ms)), STCConfig(...))``;
* ``augment+frames``: ``Pipeline((RandomCrop(32), FlipLR(0.5)), FrameConfig(n_time_bins=8))``;
* ``steps only``: the event -> event steps of the second pipeline on packed chunks (what this
  package's kernels alone cost; no representation);
* ``Denoise+batched counts``: the same steps plus ``BatchedCounts``, a stand-in representation
  defined here (event counts in 8 equal time bins per polarity, roughly the work of STC) that
  implements the ``fill_batch(packed, out)`` protocol: what a representation gains from it.

The figure of merit is the speed-up from 1 to 2 workers, with a fresh output array per call
(as ``process_many`` allocates it) and into a preallocated ``out=`` (reused, as when filling a
memory map or a cache): the first includes page-faulting the output (74 KB per STC sample),
which does not scale with threads. Also printed: the plain Python loop
``[pipeline(e) for e in streams]`` for reference. Processes include the pool start-up (spawn).

The runs with 1 and 2 workers alternate and each figure is the best of ``--repeat`` runs, so
that load from other processes on a shared machine disturbs both alike. The last row,
"machine check", runs a GIL-free Numba busy loop in 8 parts on 1 and 2 threads: the speed-up the
machine itself delivered during the run (about 2x on two idle cores); read the other rows
against it. "memory check" copies 64 MB (out of cache) in 8 parts on 1 and 2 threads: how far
the memory bandwidth scales, the ceiling for memory-bound work such as packing streams and
counting frames (on the 2-core VM of docs/benchmarks.md, about 1.3-1.4x).

Run: ``python tools/bench/bench_batch.py [--quick] [--repeat N]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tools.bench.common import markdown_table, report_header  # noqa: E402

if __name__ == "__main__":  # a script run is single-threaded; an import changes nothing
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")

from dataclasses import dataclass  # noqa: E402

from numba import njit  # noqa: E402

from eventcompress._cpus import usable_cpus  # noqa: E402
from eventcompress.events import Events  # noqa: E402
from eventcompress.kernels import (  # noqa: E402
    Denoise,
    FlipLR,
    FrameConfig,
    PackedEvents,
    Pipeline,
    RandomCrop,
    RefractoryPeriod,
    Representation,
    STCConfig,
    process_many,
)

NMNIST_SMALL = Path(__file__).resolve().parents[3] / "shared" / "realdata" / "nmnist" / "NMNIST-small"


@njit(cache=True, nogil=True)
def _count_bins(x, y, t, p, offsets, out):
    n_bins = out.shape[1]
    for k in range(offsets.shape[0] - 1):
        a, b = offsets[k], offsets[k + 1]
        out[k] = 0
        if b == a:
            continue
        t0 = t[a]
        span = t[b - 1] + 1 - t0
        for i in range(a, b):
            j = (t[i] - t0) * n_bins // span
            out[k, j, p[i], y[i], x[i]] += 1.0


@dataclass(frozen=True)
class BatchedCounts(Representation):
    """Bench-only representation: counts in ``bins`` equal time bins from the first event to
    the last, per polarity; ``fill_batch`` runs one GIL-free kernel per chunk."""

    bins: int = 8

    output_dtype = np.dtype(np.float32)

    def output_shape(self, sensor_size):
        return (self.bins, 2, sensor_size[1], sensor_size[0])

    def fill_batch(self, packed: PackedEvents, out: np.ndarray) -> None:
        _count_bins(packed.x, packed.y, packed.t, packed.p, packed.offsets, out)

    def __call__(self, events: Events) -> np.ndarray:
        out = np.empty((1, *self.output_shape(events.sensor_size)), np.float32)
        self.fill_batch(PackedEvents.single(events), out)
        return out[0]


def load_streams(count: int) -> tuple[list[Events], str]:
    files = sorted(NMNIST_SMALL.glob("*/*/*.bin")) if NMNIST_SMALL.is_dir() else []
    if files:
        from eventcompress.io.nmnist_bin import read_bin

        base = [read_bin(f) for f in files[:count]]
        return [base[i % len(base)] for i in range(count)], f"real NMNIST-small ({len(base)} files)"
    rng = np.random.default_rng(0)
    streams = []
    for _ in range(count):
        n = int(rng.integers(3_000, 5_200))
        streams.append(Events(rng.integers(0, 34, n), rng.integers(0, 34, n),
                              np.sort(rng.integers(0, 300_000, n)), rng.integers(0, 2, n),
                              (34, 34)))
    return streams, "synthetic 34x34 streams"


def best_of(fn, repeat: int) -> float:
    return interleaved_best({0: fn}, repeat)[0]


def interleaved_best(fns: dict, repeat: int) -> dict:
    """Best seconds per call of each function, the functions taking turns ``repeat`` times."""
    for fn in fns.values():
        fn()  # warm-up: JIT, thread/process start
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeat):
        for key, fn in fns.items():
            start = time.perf_counter()
            fn()
            best[key] = min(best[key], time.perf_counter() - start)
    return best


@njit(cache=True, nogil=True)
def _busy(n):
    acc = 0.0
    for i in range(n):
        acc += (i % 7) * 0.5
    return acc


@njit(cache=True, nogil=True)
def _copy(src, dst):
    for i in range(src.shape[0]):
        dst[i] = src[i]


def memory_check(workers: list[int], repeat: int) -> dict:
    """Seconds to copy 8 x 8 MB (out of cache) on each number of threads: how far the
    machine's memory bandwidth scales, the limit of memory-bound steps such as packing."""
    from concurrent.futures import ThreadPoolExecutor

    parts = [(np.ones(1 << 20, np.int64), np.empty(1 << 20, np.int64)) for _ in range(8)]

    def run(n_threads: int) -> None:
        with ThreadPoolExecutor(n_threads) as pool:
            list(pool.map(lambda pair: _copy(*pair), parts))

    return interleaved_best({w: (lambda w=w: run(w)) for w in workers}, repeat)


def machine_check(workers: list[int], repeat: int) -> dict:
    """Seconds of a fixed GIL-free workload (8 parts) on each number of threads."""
    from concurrent.futures import ThreadPoolExecutor

    def run(n_threads: int) -> None:
        with ThreadPoolExecutor(n_threads) as pool:
            list(pool.map(_busy, [2_500_000] * 8))

    return interleaved_best({w: (lambda w=w: run(w)) for w in workers}, repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="400 streams instead of 2,000")
    parser.add_argument("--quiet", "-q", action="store_true", help="accepted for run_all")
    parser.add_argument("--repeat", type=int, default=None,
                        help="runs per figure, best taken (default 5 quick, 7 full)")
    args = parser.parse_args()
    count = 400 if args.quick else 2_000
    repeat = args.repeat or (5 if args.quick else 7)
    streams, source = load_streams(count)
    stc = STCConfig(steps=8, tau_s=30_000.0)
    filters = (Denoise(5_000), RefractoryPeriod(1_000))
    pipelines = {
        "STC": Pipeline((), stc),
        "frames": Pipeline((), FrameConfig(n_time_bins=8)),
        "Denoise+STC": Pipeline(filters, stc),
        "augment+frames": Pipeline((RandomCrop(32, seed=0), FlipLR(0.5, seed=0)),
                                   FrameConfig(n_time_bins=8)),
        "Denoise+batched counts": Pipeline(filters, BatchedCounts()),
    }
    cores = usable_cpus()
    workers = [w for w in (1, 2, 4) if w <= max(2, cores)]
    rows = []
    for name, pipe in pipelines.items():
        loop = best_of(lambda pipe=pipe: [pipe(e, sample_index=i)
                                          for i, e in enumerate(streams)], repeat)
        times = interleaved_best({w: (lambda pipe=pipe, w=w: process_many(streams, pipe,
                                                                           n_jobs=w))
                                  for w in workers}, repeat)
        out = np.zeros((count, *pipe.output_shape(streams[0].sensor_size)), pipe.output_dtype)
        pre = interleaved_best({w: (lambda pipe=pipe, w=w, out=out: process_many(
            streams, pipe, n_jobs=w, out=out)) for w in workers}, repeat)
        procs = best_of(lambda pipe=pipe: process_many(streams, pipe, n_jobs=2,
                                                        backend="processes"), 1)
        row = [name, f"{loop / count * 1e6:,.1f}", f"{count / times[1]:,.0f}"]
        row += [f"{times[w] / count * 1e6:,.1f}" for w in workers]
        row += [f"{times[1] / times[2]:.2f}x", f"{pre[1] / count * 1e6:,.1f}",
                f"{pre[2] / count * 1e6:,.1f}", f"{pre[1] / pre[2]:.2f}x",
                f"{procs / count * 1e6:,.1f}"]
        rows.append(row)

    idx = np.arange(count, dtype=np.int64)
    steps_only = Pipeline(filters)
    chunks = [PackedEvents.pack(streams[i:i + 125]) for i in range(0, count, 125)]

    def run_steps(n_jobs: int) -> None:
        from concurrent.futures import ThreadPoolExecutor

        def one(k: int) -> None:
            steps_only.transform_packed(chunks[k], idx[k * 125:(k + 1) * 125])

        with ThreadPoolExecutor(n_jobs) as pool:
            list(pool.map(one, range(len(chunks))))

    st = interleaved_best({w: (lambda w=w: run_steps(w)) for w in workers}, repeat)
    rows.append(["steps only (Denoise+Refractory, packed)", "-", f"{count / st[1]:,.0f}"]
                + [f"{st[w] / count * 1e6:,.1f}" for w in workers]
                + [f"{st[1] / st[2]:.2f}x", "-", "-", "-", "-"])
    mc = machine_check(workers, repeat)
    rows.append(["machine check (GIL-free busy loop, ms per run)", "-", "-"]
                + [f"{mc[w] * 1e3:,.1f}" for w in workers]
                + [f"{mc[1] / mc[2]:.2f}x", "-", "-", "-", "-"])
    mem = memory_check(workers, repeat)
    rows.append(["memory check (GIL-free copy of 64 MB, ms per run)", "-", "-"]
                + [f"{mem[w] * 1e3:,.1f}" for w in workers]
                + [f"{mem[1] / mem[2]:.2f}x", "-", "-", "-", "-"])

    head = (["pipeline", "Python loop (us/sample)", "threads x1 (samples/s)"]
            + [f"threads x{w} (us/sample)" for w in workers]
            + ["speed-up 1->2", "x1, out= (us/sample)", "x2, out= (us/sample)",
               "speed-up 1->2, out=", "processes x2 (us/sample)"])
    print(report_header("process_many: scaling with workers"))
    mean_events = np.mean([len(e) for e in streams])
    print(f"{count:,} streams, {source}, mean {mean_events:,.0f} events; best of {repeat}\n")
    print(markdown_table(head, rows))


if __name__ == "__main__":
    main()
