"""`eventcompress demo [ROOT]`: what the package does, on a few real N-MNIST recordings.

Decodes ``--samples`` recordings of the train split, compresses them spatio-temporally (STC,
arXiv 2203.10006) and counts them into event frames, printing shapes and speeds, and saves a
picture of one sample (frames and STC currents per window) when matplotlib is installed. It is
the first step of ``make demo``; the full raw -> cache -> train -> accuracy run replaces or
extends it once training exists. tonic is not needed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

from ..errors import EventCompressError

EXAMPLE = ("examples:\n  eventcompress demo ../shared/realdata/nmnist/NMNIST-small\n"
           "  eventcompress demo DATA/N-MNIST --samples 32 --png digits.png")

#: STC settings of the nmnist-stc-scb-mtlif recipe's input: T windows, tau in microseconds.
STEPS = 4
TAU_US = 50_000.0


def default_root() -> Path:
    """``$EVENTCOMPRESS_REALDATA/nmnist/NMNIST-small``, else the shared data next to the
    working directory."""
    base = os.environ.get("EVENTCOMPRESS_REALDATA", os.path.join("..", "shared", "realdata"))
    return Path(base) / "nmnist" / "NMNIST-small"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("root", nargs="?", default=None,
                        help="N-MNIST folder (default: $EVENTCOMPRESS_REALDATA/nmnist/"
                             "NMNIST-small, else ../shared/realdata/nmnist/NMNIST-small)")
    parser.add_argument("--samples", type=int, default=16, metavar="N",
                        help="recordings to process, evenly spaced over the train split "
                             "(default 16)")
    parser.add_argument("--png", default="eventcompress-demo.png", metavar="PATH",
                        help="picture of the first sample (default eventcompress-demo.png; "
                             "needs matplotlib)")
    parser.add_argument("--no-png", action="store_true", help="do not save the picture")


def _per_sample(fn, items: list) -> tuple[list, float]:
    """(results, seconds) of ``fn`` over ``items``, after one untimed call (Numba's compile or
    cache load is a one-off cost, not the speed of the step)."""
    fn(items[0])
    start = time.perf_counter()
    out = [fn(item) for item in items]
    return out, time.perf_counter() - start


def _speed(n_items: int, n_events: int, seconds: float) -> str:
    seconds = max(seconds, 1e-9)
    return (f"{seconds * 1e6 / n_items:,.0f} us/sample, "
            f"{n_events / seconds / 1e6:,.1f} M events/s")


def save_picture(path: Path, label: int, frames: np.ndarray, currents: np.ndarray) -> bool:
    """Frames (top) and STC currents (bottom) of one sample, ON minus OFF per window; False
    when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    steps = frames.shape[0]
    fig, axes = plt.subplots(2, steps, figsize=(2.2 * steps, 4.6), squeeze=False)
    for k in range(steps):
        for row, (data, name) in enumerate(((frames, "frame"), (currents, "STC"))):
            ax = axes[row][k]
            signed = data[k, 1].astype(np.float64) - data[k, 0]
            lim = float(np.abs(signed).max()) or 1.0
            ax.imshow(signed, cmap="coolwarm", vmin=-lim, vmax=lim)
            ax.set_title(f"{name} t={k}", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(f"N-MNIST digit {label}: event counts and compressed currents (ON - OFF)",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def run(args: argparse.Namespace) -> int:
    from ..datasets import get_dataset, load_sample
    from ..kernels.frames import frames
    from ..kernels.stc import compress_events
    from .info import pick_evenly

    root = Path(args.root) if args.root else default_root()
    if args.samples < 1:
        print("eventcompress demo: --samples must be >= 1", file=sys.stderr)
        return 2
    try:
        samples = get_dataset("nmnist").samples(root, split="train")
    except EventCompressError as exc:
        print(f"eventcompress demo: {exc}", file=sys.stderr)
        return 1
    if not samples:
        print(f"eventcompress demo: no train samples under {root}", file=sys.stderr)
        return 1
    chosen = [samples[i] for i in pick_evenly(len(samples), args.samples)]
    print(f"eventcompress demo: {len(chosen)} of {len(samples):,} N-MNIST train recordings "
          f"from {root}\n")

    for s in chosen:  # into the page cache: the timing below is decoding, not the disk
        Path(s.path).read_bytes()
    try:
        events, t_read = _per_sample(load_sample, chosen)
    except EventCompressError as exc:
        print(f"eventcompress demo: {exc}", file=sys.stderr)
        return 1
    n_events = sum(len(e) for e in events)
    w, h = events[0].sensor_size
    first = events[0]
    on = int(first.p.sum())
    print(f"1. decode    {len(events)} .bin files -> Events (x, y, t in us, p), {w} x {h} "
          f"sensor, {n_events / len(events):,.0f} events per recording")
    print(f"             {_speed(len(events), n_events, t_read)} (files in the page cache)")
    print(f"             sample 0: digit {chosen[0].label}, {len(first):,} events over "
          f"{first.duration / 1000:,.1f} ms, {100 * on / max(len(first), 1):.0f}% ON\n")

    currents, t_stc = _per_sample(
        lambda e: compress_events(e, steps=STEPS, tau_s=TAU_US), events)
    batch = np.stack(currents)
    print(f"2. compress  spatio-temporal compression (arXiv 2203.10006): {STEPS} windows, "
          f"tau {TAU_US / 1000:g} ms")
    print(f"             -> {batch.dtype} {list(batch.shape)} [N, T, P, H, W], "
          f"{_speed(len(events), n_events, t_stc)}\n")

    counts, t_frames = _per_sample(lambda e: frames(e, n_time_bins=STEPS), events)
    stacked = np.stack(counts)
    print(f"3. frames    event counts in {STEPS} equal time bins")
    print(f"             -> {stacked.dtype} {list(stacked.shape)} [N, T, P, H, W], "
          f"{_speed(len(events), n_events, t_frames)}\n")

    png = Path(args.png)
    if args.no_png:
        print("4. picture   skipped (--no-png)")
    elif save_picture(png, chosen[0].label, counts[0], currents[0]):
        print(f"4. picture   {args.png}: sample 0, frames (top) and STC currents (bottom)")
    else:
        print("4. picture   skipped: matplotlib is not installed "
              "(pip install 'eventcompress[plot]')")
    print("\nnext: these tensors are the input of the SNNs; 'eventcompress models ls' lists "
          "the networks and recipes.")
    return 0
