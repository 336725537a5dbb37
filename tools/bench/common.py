"""Timing helpers shared by the benchmark scripts (not part of the package).

Every benchmark measures ours and the competitor on the same input in the same process and
reports both figures and their ratio; ``report_header`` records date, machine and command so a
row in docs/benchmarks.md can be reproduced.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import sys
import time
from collections.abc import Callable
from typing import Any


def best_time(fn: Callable[[], Any], *, repeat: int = 5, min_time: float = 0.2,
              clock: Callable[[], float] = time.perf_counter) -> float:
    """Best-of-``repeat`` seconds per call, each repeat looping until ``min_time`` has passed.

    The best (not the mean) is the figure least disturbed by other processes on a shared machine.
    ``clock=time.thread_time`` counts only the CPU time of the calling thread (page faults
    included), which leaves out the time other processes hold the core: only for
    single-threaded code.
    """
    fn()  # warm-up: JIT compilation, page cache
    return min(seconds_per_call(fn, min_time, clock) for _ in range(repeat))


def seconds_per_call(fn: Callable[[], Any], min_time: float,
                     clock: Callable[[], float] = time.perf_counter) -> float:
    """Seconds per call of ``fn``, called in a loop until ``min_time`` has passed on ``clock``
    (at least once)."""
    n = 0
    start = clock()
    while True:
        fn()
        n += 1
        elapsed = clock() - start
        if elapsed >= min_time:
            return elapsed / n


def single_thread() -> None:
    """Pin Numba to one thread (single-core figures). Through the thread mask, not the
    NUMBA_NUM_THREADS variable: Numba re-reads that variable at each compilation and refuses a
    value other than the one its thread pool started with, so setting it in a process that
    already ran a parallel kernel (a test calling ``run.main``) breaks every later compile."""
    try:
        import numba

        numba.set_num_threads(1)
    except Exception:  # noqa: BLE001 - numba absent or already initialised elsewhere
        pass


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def report_header(title: str) -> str:
    today = _dt.date.today().isoformat()
    cmd = " ".join(["python", *sys.argv])
    return f"### {title}\n\n{today} · {machine()} · `{cmd}`\n"


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:,.3g}" if abs(v) < 1000 else f"{v:,.0f}"
        return str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
