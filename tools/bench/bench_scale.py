"""Scale-out figures (docs/scale-out.md), each competitor in the same run:

1. Cache build of one generated N-MNIST split (``tools/synth.py``, STC T = 4, fixed shards)
   with the local executor (1 and 2 worker processes) and a 2-worker Dask LocalCluster on
   127.0.0.1 (1 thread each, started and warmed up before timing: the cluster start is
   reported on its own). Best of ``--repeat`` builds each. Dask's overhead per shard is
   ``(dask - local with 2 workers) / shards``; its bare cost per task is timed with no-op tasks.
2. Training samples/s of 1 and 2 CPU processes (``eventcompress train ... --nproc 2``: torchrun,
   gloo on loopback) on real NMNIST-small with the same global batch, from the runs' own
   ``metrics.jsonl`` (the epoch loop only) and their wall time (start-up included).

Run: ``python tools/bench/bench_scale.py [--samples N] [--repeat R] [--skip-train]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
if __name__ == "__main__":  # a script run is single-threaded; an import changes nothing
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")

from eventcompress.cache import build_store  # noqa: E402
from eventcompress.cache.dask_executor import DaskExecutor  # noqa: E402
from eventcompress.cache.executor import LocalExecutor  # noqa: E402
from eventcompress.kernels import Pipeline, STCConfig  # noqa: E402
from tools import synth  # noqa: E402
from tools.bench.common import markdown_table, report_header  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
NMNIST_SMALL = REPO.parent / "shared" / "realdata" / "nmnist" / "NMNIST-small"
STC4 = Pipeline(representation=STCConfig(steps=4, tau_s=50_000.0))
SHARD = 64


def _best_build(root: Path, executor, repeat: int, work: Path) -> tuple[float, int]:
    best = float("inf")
    shards = 0
    for k in range(repeat + 1):  # the first one warms up (Numba in the workers)
        out = work / f"out-{id(executor)}-{k}"
        t = time.perf_counter()
        report = build_store("nmnist", root, "test", STC4, out, progress=False,
                             shard_samples=SHARD, executor=executor)
        seconds = time.perf_counter() - t
        shards = -(-report.samples // SHARD)
        if k:
            best = min(best, seconds)
    return best, shards


def bench_build(samples: int, repeat: int) -> str:
    import logging

    import distributed

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        root = synth.write_nmnist(work / "src", n_train=0, n_test=samples, jobs=2)
        rows = []
        times = {}
        for name, ex in (("local, 1 process", LocalExecutor(1)),
                         ("local, 2 processes", LocalExecutor(2))):
            with ex:
                times[name], shards = _best_build(root, ex, repeat, work)
        t = time.perf_counter()
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           host="127.0.0.1", dashboard_address=None,
                                           silence_logs=logging.ERROR)
        client = distributed.Client(cluster)
        start_s = time.perf_counter() - t
        try:
            name = "dask LocalCluster, 2 workers x 1 thread"
            times[name], shards = _best_build(root, DaskExecutor(client=client), repeat, work)
            n_noop = 200
            client.gather(client.map(int, range(n_noop), pure=False))  # warm
            t = time.perf_counter()
            client.gather(client.map(int, range(n_noop), pure=False))
            per_task_ms = 1e3 * (time.perf_counter() - t) / n_noop
        finally:
            client.close()
            cluster.close()
        base = times["local, 2 processes"]
        for name, sec in times.items():
            rows.append([name, sec, samples / sec, sec / base])
        per_shard_ms = 1e3 * (times[name] - base) / shards
    table = markdown_table(["executor", "build s", "samples/s", "vs local 2"], rows)
    return (f"{table}\n\n{samples} generated N-MNIST test recordings, {shards} shards of "
            f"{SHARD}; LocalCluster start {start_s:.2f} s (not in the build times); Dask "
            f"overhead per shard (dask - local 2) {per_shard_ms:+.1f} ms; a no-op Dask task "
            f"costs {per_task_ms:.2f} ms (200 mapped, gathered).\n")


def _train(nproc: int, out: Path, limit: int, epochs: int) -> tuple[float, float]:
    env = dict(os.environ, PYTHONPATH=str(REPO), NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "eventcompress", "train", "nmnist-stc-scb-mtlif",
           "--data-root", str(NMNIST_SMALL), "--limit", str(limit), "--epochs", str(epochs),
           "--set", "training.batch_size=32", "--set", "training.val_fraction=0.1",
           "--threads", "1", "--device", "cpu", "--quiet", "--out", str(out)]
    if nproc > 1:
        cmd += ["--nproc", str(nproc)]
    t = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, capture_output=True)
    wall = time.perf_counter() - t
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return max(r["samples_per_s"] for r in rows), wall


def bench_train(limit: int, epochs: int) -> str:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        figures = {n: _train(n, Path(tmp) / f"p{n}", limit, epochs) for n in (1, 2)}
    for n, (rate, wall) in figures.items():
        rows.append([f"{n} process{'es' if n > 1 else ''} x 1 thread", rate,
                     rate / figures[1][0], wall])
    table = markdown_table(["training", "samples/s (epoch loop)", "vs 1", "wall s"], rows)
    return (f"{table}\n\nnmnist-stc-scb-mtlif (full size), real NMNIST-small, --limit {limit}, "
            f"{epochs} epoch(s), global batch 32 (16 per rank with 2), synced batch norm; "
            "samples/s is the best epoch's training loop; wall time includes start-up and "
            "evaluation.\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--skip-train", action="store_true")
    args = parser.parse_args()
    print(report_header("Scale-out: Dask cache build, DDP training"))
    print(bench_build(args.samples, args.repeat))
    if not args.skip_train and NMNIST_SMALL.is_dir():
        print(bench_train(args.limit, args.epochs))


if __name__ == "__main__":
    main()
