"""Frames and STC speed of whichever ``eventcompress`` is importable: for comparing revisions.

The machine's speed varies from day to day; to tell a slow day from a slower kernel, run an
older revision and the current one on the same events, one after the other::

    git worktree add /tmp/old REV
    PYTHONPATH=/tmp/old python tools/bench/kernel_speed.py
    python tools/bench/kernel_speed.py
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import best_time, single_thread  # noqa: E402


def main() -> int:
    single_thread()
    import eventcompress
    from eventcompress.events import Events
    from eventcompress.kernels.frames import frames
    from eventcompress.kernels.stc import compress_events

    n = 2_000_000
    rng = np.random.default_rng(0)
    ev = Events(rng.integers(0, 128, n), rng.integers(0, 128, n),
                np.sort(rng.integers(0, 1_000_000, n)), rng.integers(0, 2, n), (128, 128))
    print(f"eventcompress from {Path(eventcompress.__file__).parent}")
    cases = {
        "frames, fixed edges, T=10": lambda: frames(ev, n_time_bins=10),
        "STC, T=10, tau_s=50 ms": lambda: compress_events(ev, 10, tau_s=50_000.0),
        "STC, T=10, tau_s=inf": lambda: compress_events(ev, 10, tau_s=math.inf),
    }
    for name, fn in cases.items():
        print(f"{name}: {n / best_time(fn, repeat=7, min_time=0.1) / 1e6:.0f} M events/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
