"""Frames, STC and event-step speed of whichever ``eventcompress`` is importable: for comparing
revisions.

The machine's speed varies from second to second; to tell a slow moment from a slower kernel,
``--against`` loads an older revision's package next to the current one (a copy of its
``eventcompress`` folder imported as ``eventcompress_old``) and times both on the same events in
one process, taking turns case by case (``--rounds`` times, in alternating order); it prints
each case's range per revision, the ratio of the best figures and the median of the per-round
ratios::

    mkdir -p /tmp/old && git archive REV eventcompress | tar -x -C /tmp/old
    python tools/bench/kernel_speed.py --against /tmp/old --rounds 7

(The older package must import its own modules relatively, as eventcompress does.) Without
``--against`` it prints the figures of the importable package once. ``--clock thread`` times
the CPU time of the calling thread instead of the wall clock: every case runs single-threaded,
and on a machine shared with other jobs this leaves out the time they hold the core (not
their share of the caches and memory bandwidth).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import best_time, single_thread  # noqa: E402


def cases(pkg: str, n: int) -> dict:
    """The timed calls of package ``pkg``: public functions only, so that any revision can run
    them."""
    events = importlib.import_module(f"{pkg}.events")
    kernels = importlib.import_module(f"{pkg}.kernels")
    fr = importlib.import_module(f"{pkg}.kernels.frames")
    stc = importlib.import_module(f"{pkg}.kernels.stc")
    rng = np.random.default_rng(0)
    ev = events.Events(rng.integers(0, 128, n), rng.integers(0, 128, n),
                       np.sort(rng.integers(0, 1_000_000, n)), rng.integers(0, 2, n), (128, 128))
    backwards = ev[::-1]
    return {
        "frames, fixed edges, T=10": lambda: fr.frames(ev, n_time_bins=10),
        "frames, time_window on [0, 1 s)": lambda: fr.frames(ev, time_window=100_000,
                                                             start_time=0, end_time=1_000_000),
        "frames, n_event_bins=10": lambda: fr.frames(ev, n_event_bins=10),
        "frames, tonic edges, T=10": lambda: fr.frames(ev, n_time_bins=10, edges="tonic"),
        "frames, SpikingJelly time, T=10": lambda: fr.frames_spikingjelly(ev, 10, "time"),
        "frames, unsorted, T=10": lambda: fr.frames(backwards, n_time_bins=10),
        "STC, T=10, tau_s=50 ms": lambda: stc.compress_events(ev, 10, tau_s=50_000.0),
        "STC, T=10, tau_s=inf": lambda: stc.compress_events(ev, 10, tau_s=math.inf),
        "center crop 100x100": lambda: kernels.center_crop(ev, 100),
        "crop_time, unsorted": lambda: kernels.crop_time(backwards, 100_000, 900_000),
        "denoise 10 ms": lambda: kernels.denoise(ev, 10_000),
    }


CLOCKS = {"wall": time.perf_counter, "thread": time.thread_time}


def _rate(n: int, fn, clock=time.perf_counter) -> float:
    return n / best_time(fn, repeat=3, min_time=0.05, clock=clock) / 1e6


def measure(n: int, clock=time.perf_counter) -> None:
    import eventcompress

    print(f"eventcompress from {Path(eventcompress.__file__).parent}")
    for name, fn in cases("eventcompress", n).items():
        print(f"{name}: {_rate(n, fn, clock):.1f} M events/s", flush=True)


def compare(old: Path, rounds: int, n: int, clock=time.perf_counter) -> None:
    import eventcompress

    # Kept between runs, modification times preserved: the copy's Numba cache stays valid, so
    # both revisions run cached code, as they do in use.
    copy = Path(tempfile.gettempdir()) / f"kernel_speed_{hashlib.sha1(str(old).encode()).hexdigest()[:12]}"
    if not (copy / "eventcompress_old").is_dir():
        shutil.copytree(old / "eventcompress", copy / "eventcompress_old",
                        ignore=shutil.ignore_patterns("__pycache__"), copy_function=shutil.copy2)
    sys.path.insert(0, str(copy))
    timed = {"old": cases("eventcompress_old", n), "new": cases("eventcompress", n)}
    figures: dict[str, dict[str, list[float]]] = {"old": {}, "new": {}}
    for r in range(rounds):
        for case in timed["new"]:
            for rev in (("old", "new") if r % 2 == 0 else ("new", "old")):
                figures[rev].setdefault(case, []).append(_rate(n, timed[rev][case], clock))
    print(f"old = {old}, new = {Path(eventcompress.__file__).parent.parent}; {n:,} events, "
          f"{rounds} rounds taking turns in one process, {clock.__name__}; M events/s (min-max), "
          "new/old of the best figures, median new/old of the rounds")
    for case, new in figures["new"].items():
        old_f = figures["old"][case]
        ratios = sorted(w / o for w, o in zip(new, old_f))
        print(f"{case}: old {min(old_f):.0f}-{max(old_f):.0f}, new {min(new):.0f}-{max(new):.0f},"
              f" best {max(new) / max(old_f):.2f}, median {ratios[len(ratios) // 2]:.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", type=Path, help="the root of an older revision's tree")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                        help="wall: elapsed time; thread: CPU time of this thread")
    args = parser.parse_args()
    single_thread()
    clock = CLOCKS[args.clock]
    if args.against is None:
        measure(args.events, clock)
    else:
        compare(args.against.resolve(), args.rounds, args.events, clock)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
