"""How many CPUs this process may use, and capping Numba's threads without breaking its pool.

``os.cpu_count()`` counts the machine's CPUs, not the ones this process is allowed on (a CI
container pinned to a few cores of a large host, ``taskset``): sizing workers by it
oversubscribes. Numba sizes its pool by the affinity mask, so the two counts disagree there.

Numba re-reads ``NUMBA_NUM_THREADS`` at every compilation and raises once its pool is launched
with another value, which is what a forked worker inherits; so the environment variable is
set only while Numba is not imported yet, and otherwise only the thread mask is lowered.
"""

from __future__ import annotations

import os
import sys


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def cap_numba_threads(threads: int) -> None:
    """Use at most ``threads`` Numba threads in this process (and its future children)."""
    threads = max(1, int(threads))
    if "numba" not in sys.modules:
        os.environ["NUMBA_NUM_THREADS"] = str(min(threads, usable_cpus()))
        return
    import numba

    try:
        numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    except ValueError:
        pass
