"""Decoding speed of our readers vs tonic's on the same files, single core, warm page cache.

1. One large synthetic file per format (10 M events; 1 M with --quick), written by our writers:
   .bin vs tonic.io.read_mnist_file, AEDAT 2.0 vs tonic.io.read_dvs_128, AEDAT 3.1 vs
   tonic.io.read_dvs_ibm (tonic 1.7.0's two AEDAT readers need a one-line shim, see
   ``_tonic_aedat_shim``).
2. The 1,100 real NMNIST-small files read one by one (per-file overhead dominates) through the
   public ``eventcompress.io.read`` (format sniffed), through ``read_bin`` and through tonic's
   ``read_mnist_file``, taking turns pass by pass (or file by file, ``--interleave file``);
   plus the floor: the cost of opening,
   reading and closing an empty file in Python.

Run: ``python tools/bench/bench_io.py [--quick] [--quiet] [--small-files] [--rounds N]
[--interleave pass|file]``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tools.bench.common import best_time, markdown_table, report_header, single_thread  # noqa: E402

if __name__ == "__main__":  # a script run is single-threaded; an import changes nothing
    single_thread()

from eventcompress.events import Events  # noqa: E402
from eventcompress.io.aedat2 import read_aedat2, write_aedat2  # noqa: E402
from eventcompress.io.aedat3 import read_aedat3, write_aedat3  # noqa: E402
from eventcompress.io.nmnist_bin import read_bin, write_bin  # noqa: E402

NMNIST_SMALL = Path(__file__).resolve().parents[3] / "shared" / "realdata" / "nmnist" / "NMNIST-small"
TONIC_NMNIST_DTYPE = np.dtype([("x", int), ("y", int), ("t", int), ("p", int)])


@contextlib.contextmanager
def _tonic_aedat_shim(tonic_io):
    """tonic 1.7.0's read_dvs_128/read_dvs_ibm unpack two values from a helper returning three
    and raise as shipped; make the helper return the two they expect (costless)."""
    original = tonic_io.read_aedat_header_from_file
    tonic_io.read_aedat_header_from_file = lambda f: original(f)[:2]
    try:
        yield
    finally:
        tonic_io.read_aedat_header_from_file = original


def synthetic(n: int, size: tuple[int, int], t_max: int, seed: int = 0) -> Events:
    rng = np.random.default_rng(seed)
    return Events(rng.integers(0, size[0], n), rng.integers(0, size[1], n),
                  np.sort(rng.integers(0, t_max, n)), rng.integers(0, 2, n), size)


def bench_large(n: int, tmp: Path, quiet: bool) -> list[list]:
    import tonic.io as tonic_io

    cases = [
        (".bin (N-MNIST)", tmp / "big.bin", synthetic(n, (34, 34), 2**23), write_bin,
         lambda p: read_bin(p),
         lambda p: tonic_io.read_mnist_file(str(p), TONIC_NMNIST_DTYPE)),
        ("AEDAT 2.0 (DVS128)", tmp / "big2.aedat", synthetic(n, (128, 128), 2**32), write_aedat2,
         lambda p: read_aedat2(p), lambda p: tonic_io.read_dvs_128(str(p))),
        ("AEDAT 3.1 (4096-event packets)", tmp / "big3.aedat", synthetic(n, (128, 128), 2**31),
         write_aedat3, lambda p: read_aedat3(p), lambda p: tonic_io.read_dvs_ibm(str(p))),
    ]
    rows = []
    with _tonic_aedat_shim(tonic_io):
        for name, path, events, writer, ours, theirs in cases:
            if not quiet:
                print(f"  {name}: writing and timing ...", file=sys.stderr, flush=True)
            writer(path, events)
            assert len(ours(path)) == n  # also warms the page cache and the JIT
            t_ours = best_time(lambda path=path, ours=ours: ours(path), repeat=5, min_time=0.3)
            t_tonic = best_time(lambda path=path, theirs=theirs: theirs(path), repeat=3,
                                min_time=0.3)
            rows.append([name, f"{n:,}", f"{path.stat().st_size / 1e6:.0f} MB",
                         n / t_ours / 1e6, n / t_tonic / 1e6, t_tonic / t_ours])
            path.unlink()
    return rows


def _pass_time(fn, files: list[str], min_time: float) -> float:
    """Seconds per pass of ``fn`` over every file (passes repeated until ``min_time``)."""
    n = 0
    start = time.perf_counter()
    while True:
        for f in files:
            fn(f)
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            return elapsed / n


def _round_by_pass(readers: dict, files: list[str], rng: np.random.Generator
                   ) -> dict[str, float]:
    """Seconds of one pass over ``files`` of each reader, the readers one after another in a
    shuffled order (a fixed order measurably favours some positions)."""
    # One pass each (min_time 0): the least disturbed of many short passes is the figure, as
    # one long averaged pass takes in every busy moment of a shared machine.
    return {name: _pass_time(readers[name], files, 0.0)
            for name in rng.permutation(list(readers))}


def _round_by_file(readers: dict, files: list[str], rng: np.random.Generator
                   ) -> dict[str, float]:
    """Seconds each reader spends on one pass over ``files``, the readers taking turns file by
    file (in a shuffled order per file): a busy moment of a shared machine slows them alike,
    and each call starts with the caches the other readers left (no warm loop)."""
    names = list(readers)
    spent = dict.fromkeys(names, 0.0)
    clock = time.perf_counter
    for f in files:
        for name in rng.permutation(names):
            fn = readers[name]
            start = clock()
            fn(f)
            spent[name] += clock() - start
    return spent


def bench_small_files(quiet: bool, rounds: int = 25, interleave: str = "pass"
                      ) -> tuple[list[list], str, float] | None:
    """Per-file cost on the real NMNIST-small files: the public ``eventcompress.io.read``
    (format sniffed from the bytes), ``read_bin`` and tonic's ``read_mnist_file``, taking turns
    pass by pass or file by file (``interleave``, see :func:`_round_by_pass` and
    :func:`_round_by_file`); one ratio per round."""
    import tonic.io as tonic_io

    import eventcompress.io as ec_io

    files = sorted(str(p) for p in NMNIST_SMALL.rglob("*.bin"))
    if not files:
        return None
    n_events = sum(len(read_bin(f)) for f in files)
    readers = {
        "eventcompress.io.read (sniffed)": ec_io.read,
        "eventcompress.io.read_bin": read_bin,
        "tonic.io.read_mnist_file": lambda f: tonic_io.read_mnist_file(f, TONIC_NMNIST_DTYPE),
    }
    for fn in readers.values():  # warm-up: JIT, page cache, imports
        for f in files:
            fn(f)
    if not quiet:
        print(f"  NMNIST-small: {len(files)} files, {rounds} interleaved rounds ...",
              file=sys.stderr, flush=True)
    times: dict[str, list[float]] = {name: [] for name in readers}
    rng = np.random.default_rng(0)
    for _ in range(rounds):
        one_round = _round_by_pass if interleave == "pass" else _round_by_file
        for name, seconds in one_round(readers, files, rng).items():
            times[name].append(seconds)
    tonic = np.array(times["tonic.io.read_mnist_file"])
    rows = []
    for name, ts in times.items():
        ts = np.array(ts)
        ratio = tonic / ts
        per_file = ts / len(files) * 1e6
        rows.append([name, f"{per_file.min():.1f} - {per_file.max():.1f}",
                     f"{len(files) / ts.min():,.0f}", n_events / ts.min() / 1e6,
                     f"{ratio.min():.1f} - {ratio.max():.1f} (median {np.median(ratio):.1f})"])
    with tempfile.NamedTemporaryFile(delete=False) as fh:
        empty = fh.name

    def floor() -> None:
        for _ in range(100):
            with open(empty, "rb") as f:
                f.read()

    t_floor = best_time(floor, repeat=5, min_time=0.2) / 100
    os.unlink(empty)
    return rows, f"{len(files):,}", t_floor * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 M events instead of 10 M")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    parser.add_argument("--small-files", action="store_true",
                        help="only the per-file benchmark on the real NMNIST-small files")
    parser.add_argument("--rounds", type=int, default=25,
                        help="interleaved rounds of the per-file benchmark (default 25)")
    parser.add_argument("--interleave", choices=["pass", "file"], default="pass",
                        help="readers take turns per pass over all files (warm loop, default) "
                             "or per file (each call after the others' work)")
    args = parser.parse_args()
    n = 1_000_000 if args.quick else 10_000_000
    print(report_header("I/O: decoding speed vs tonic (single core, warm page cache)"))
    start = time.perf_counter()
    if not args.small_files:
        with tempfile.TemporaryDirectory() as tmp:
            rows = bench_large(n, Path(tmp), args.quiet)
        print(markdown_table(
            ["format", "events", "file", "ours (M ev/s)", "tonic (M ev/s)", "ours / tonic"],
            rows))
    small = bench_small_files(args.quiet, rounds=args.rounds, interleave=args.interleave)
    if small is None:
        print(f"NMNIST-small not found at {NMNIST_SMALL}: per-file benchmark skipped.\n")
    else:
        rows, n_files, floor_us = small
        print(f"{n_files} real NMNIST-small files read one by one (~4,100 events each); "
              f"{args.rounds} rounds, the readers taking turns "
              f"{'pass by pass' if args.interleave == 'pass' else 'file by file'} (shuffled "
              "order); ranges over the rounds:\n")
        print(markdown_table(
            ["reader", "us per file", "files/s (best)", "M events/s (best)",
             "tonic time / its time"], rows))
        print(f"Floor: open + read + close of an empty file in Python = {floor_us:.1f} us.\n")
    if not args.quiet:
        print(f"(total {time.perf_counter() - start:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
