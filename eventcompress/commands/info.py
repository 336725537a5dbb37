"""`eventcompress info ROOT`: what a dataset folder holds, and how fast it decodes.

Prints the detected dataset and layout, samples per class and split, then decodes the samples
(all by default, ``--limit N`` for N evenly spaced ones) and prints events per sample, duration
and decode speed. Each file is decoded once even when several samples share it (DVS Gesture
trials); one file is read before timing starts so one-off costs (Numba compilation or cache
loading, imports) are not counted as decode time.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import EventCompressError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("root", help="dataset folder")
    parser.add_argument("--dataset", choices=["nmnist", "cifar10dvs", "dvsgesture"],
                        help="dataset (default: detected from the folder layout)")
    parser.add_argument("--split", choices=["train", "test", "all"], default="all",
                        help="which split to summarise and decode (default: all)")
    parser.add_argument("--limit", type=int, default=None, metavar="N",
                        help="decode at most N samples, evenly spaced (default: all; 0: none)")
    parser.add_argument("--scheme", choices=["tebn", "random"], default="tebn",
                        help="CIFAR10-DVS split scheme (default: tebn)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random CIFAR10-DVS split")
    parser.add_argument("--mode", choices=["rows", "dedupe"], default="rows",
                        help="DVS Gesture label rows: one sample per row or merged (default rows)")


def format_table(header: Sequence[str], rows: Sequence[Sequence[object]],
                 align: str | None = None) -> str:
    """A plain-text table: first column left-aligned, the others right-aligned by default."""
    align = align or "l" + "r" * (len(header) - 1)
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]

    def line(row: list[str]) -> str:
        return "  ".join(c.ljust(w) if a == "l" else c.rjust(w)
                         for c, w, a in zip(row, widths, align)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule] + [line(r) for r in cells[1:]])


@dataclass
class DecodeStats:
    counts: dict[str, list[int]]  # split -> events per decoded sample
    durations: dict[str, list[int]]  # split -> duration (us) per decoded sample
    events_read: int = 0
    files_read: int = 0
    seconds: float = 0.0


def pick_evenly(n: int, limit: int | None) -> np.ndarray:
    """Indices of ``limit`` samples spread evenly over ``0..n-1`` (all when limit is None)."""
    if limit is None or limit >= n:
        return np.arange(n)
    if limit <= 0:
        return np.zeros(0, np.int64)
    return np.unique(np.linspace(0, n - 1, limit).round().astype(np.int64))


def decode_samples(samples: Sequence, quiet: bool) -> DecodeStats:
    from tqdm.auto import tqdm

    from ..datasets.base import read_sample_file, slice_sample

    stats = DecodeStats({}, {})
    by_file: dict[object, list] = {}
    for s in samples:
        by_file.setdefault(s.path, []).append(s)
    groups = list(by_file.values())
    if groups:
        read_sample_file(groups[0][0])  # warm-up, not timed
    for group in tqdm(groups, desc="decoding", unit="file", disable=quiet, leave=False):
        start = time.perf_counter()
        events = read_sample_file(group[0])
        stats.seconds += time.perf_counter() - start
        stats.events_read += len(events)
        stats.files_read += 1
        for s in group:
            part = slice_sample(s, events)
            stats.counts.setdefault(s.split, []).append(len(part))
            stats.durations.setdefault(s.split, []).append(part.duration)
    return stats


def _fmt_int(v: float) -> str:
    return f"{v:,.0f}"


def _fmt_ms(us: float) -> str:
    return f"{us / 1000:,.1f}"


def _rate(v: float) -> str:
    for scale, suffix in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if v >= scale:
            return f"{v / scale:.2f}{suffix}"
    return f"{v:.1f} "


def run(args: argparse.Namespace) -> int:
    from ..datasets import detect_dataset, get_dataset

    options = {"cifar10dvs": {"split_scheme": args.scheme, "seed": args.seed},
               "dvsgesture": {"mode": args.mode}}
    try:
        if args.dataset:
            dataset = get_dataset(args.dataset, **options.get(args.dataset, {}))
            match = dataset.discover(args.root)
        else:
            dataset, match = detect_dataset(args.root, **options)
        split = None if args.split == "all" else args.split
        samples = dataset.samples(args.root, split=split)
    except EventCompressError as exc:
        print(f"eventcompress info: {exc}", file=sys.stderr)
        return 1
    if args.limit is not None and args.limit < 0:
        print("eventcompress info: --limit must be >= 0", file=sys.stderr)
        return 2

    w, h = dataset.sensor_size
    print(f"dataset  {dataset.title} ({dataset.name}), layout '{match.layout}', {dataset!r}")
    print(f"root     {match.data_root}")
    print(f"sensor   {w} x {h}, {len(dataset.classes)} classes")
    print()
    splits = [s for s in ("train", "test") if split in (None, s)]
    per = {(s.split, s.label): 0 for s in samples}
    for s in samples:
        per[(s.split, s.label)] += 1
    named = any(name != str(i) for i, name in enumerate(dataset.classes))
    rows = []
    for label, name in enumerate(dataset.classes):
        counts = [per.get((sp, label), 0) for sp in splits]
        rows.append([label, *([name] if named else []), *(_fmt_int(c) for c in counts),
                     _fmt_int(sum(counts))])
    totals = [sum(per.get((sp, lb), 0) for lb in range(len(dataset.classes))) for sp in splits]
    rows.append(["total", *([""] if named else []), *(_fmt_int(c) for c in totals),
                 _fmt_int(sum(totals))])
    header = ["label", *(["class"] if named else []), *splits, "total"]
    print("samples per class")
    print(format_table(header, rows, "l" * (1 + named) + "r" * (len(splits) + 1)))
    print()
    if not samples:
        print("no samples to decode")
        return 0

    chosen = [samples[i] for i in pick_evenly(len(samples), args.limit)]
    if not chosen:
        print("decoding skipped (--limit 0)")
        return 0
    sys.stdout.flush()  # the tables above come before the progress bar on stderr
    try:
        stats = decode_samples(chosen, args.quiet)
    except EventCompressError as exc:
        print(f"eventcompress info: {exc}", file=sys.stderr)
        return 1
    print(f"decoded {len(chosen):,} of {len(samples):,} samples ({stats.files_read:,} files)")
    rows = []
    for sp in [*splits, "all"]:
        if sp == "all":
            if len(stats.counts) < 2:
                continue
            n = np.concatenate([np.asarray(v, np.float64) for v in stats.counts.values()])
            d = np.concatenate([np.asarray(v, np.float64) for v in stats.durations.values()])
        elif sp in stats.counts:
            n = np.asarray(stats.counts[sp], np.float64)
            d = np.asarray(stats.durations[sp], np.float64)
        else:
            continue
        rows.append([sp, _fmt_int(n.size), _fmt_int(n.mean()), _fmt_int(n.min()),
                     _fmt_int(n.max()), _fmt_ms(d.mean()), _fmt_ms(d.min()), _fmt_ms(d.max())])
    print(format_table(["split", "samples", "events mean", "min", "max", "duration ms mean",
                        "min", "max"], rows))
    print()
    secs = max(stats.seconds, 1e-9)
    print(f"decode speed  {_rate(stats.events_read / secs)}events/s, "
          f"{stats.files_read / secs:,.0f} files/s "
          f"({stats.events_read:,} events in {stats.seconds * 1000:,.1f} ms, warm-up read excluded)")
    return 0
