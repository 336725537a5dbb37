"""Frames, STC and event-step speed of whichever ``eventcompress`` is importable: for comparing
revisions.

The machine's speed varies from minute to minute; to tell a slow moment from a slower kernel,
``--against`` runs an older revision and the current one on the same events, taking turns
(``--rounds`` times each, in alternating order) in one run, and prints each case's range per
revision and the ratio of the best figures::

    mkdir -p /tmp/old && git archive REV eventcompress | tar -x -C /tmp/old
    python tools/bench/kernel_speed.py --against /tmp/old --rounds 3

Without ``--against`` it prints the figures of the importable package once.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import best_time, single_thread  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def cases(n: int) -> dict:
    """The timed calls: public functions only, so that any revision can run them."""
    from eventcompress.events import Events
    from eventcompress.kernels import center_crop, crop_time, denoise
    from eventcompress.kernels.frames import frames, frames_spikingjelly
    from eventcompress.kernels.stc import compress_events

    rng = np.random.default_rng(0)
    ev = Events(rng.integers(0, 128, n), rng.integers(0, 128, n),
                np.sort(rng.integers(0, 1_000_000, n)), rng.integers(0, 2, n), (128, 128))
    return {
        "frames, fixed edges, T=10": lambda: frames(ev, n_time_bins=10),
        "frames, time_window on [0, 1 s)": lambda: frames(ev, time_window=100_000, start_time=0,
                                                          end_time=1_000_000),
        "frames, n_event_bins=10": lambda: frames(ev, n_event_bins=10),
        "frames, tonic edges, T=10": lambda: frames(ev, n_time_bins=10, edges="tonic"),
        "frames, SpikingJelly time, T=10": lambda: frames_spikingjelly(ev, 10, "time"),
        "STC, T=10, tau_s=50 ms": lambda: compress_events(ev, 10, tau_s=50_000.0),
        "STC, T=10, tau_s=inf": lambda: compress_events(ev, 10, tau_s=math.inf),
        "center crop 100x100": lambda: center_crop(ev, 100),
        "crop_time, unsorted": lambda: crop_time(ev[::-1], 100_000, 900_000),
        "denoise 10 ms": lambda: denoise(ev, 10_000),
    }


def measure(n: int) -> None:
    single_thread()
    import eventcompress

    print(f"eventcompress from {Path(eventcompress.__file__).parent}")
    for name, fn in cases(n).items():
        print(f"{name}: {n / best_time(fn, repeat=7, min_time=0.1) / 1e6:.1f} M events/s",
              flush=True)


def _run_revision(path: Path, n: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(path), "NUMBA_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, __file__, "--events", str(n)], env=env, check=True,
                         capture_output=True, text=True).stdout
    return {m[1]: float(m[2]) for m in re.finditer(r"^(.+): ([0-9.]+) M events/s$", out, re.M)}


def compare(old: Path, rounds: int, n: int) -> None:
    revisions = {"old": old, "new": ROOT}
    figures: dict[str, dict[str, list[float]]] = {"old": {}, "new": {}}
    for name, path in revisions.items():  # compile and cache both once, untimed
        _run_revision(path, 1000)
    for r in range(rounds):
        order = ("old", "new") if r % 2 == 0 else ("new", "old")
        for name in order:
            for case, value in _run_revision(revisions[name], n).items():
                figures[name].setdefault(case, []).append(value)
    print(f"old = {old}, new = {ROOT}; {rounds} rounds each, alternating; M events/s "
          "(min-max), ratio of the best figures")
    for case in figures["new"]:
        o, w = figures["old"].get(case, [math.nan]), figures["new"][case]
        print(f"{case}: old {min(o):.1f}-{max(o):.1f}, new {min(w):.1f}-{max(w):.1f}, "
              f"new/old {max(w) / max(o):.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", type=Path, help="the root of an older revision's tree")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--events", type=int, default=2_000_000)
    args = parser.parse_args()
    if args.against is None:
        measure(args.events)
    else:
        compare(args.against.resolve(), args.rounds, args.events)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
