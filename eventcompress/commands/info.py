"""`eventcompress info PATH`: what a dataset folder holds and how fast it decodes, or what one
recording holds.

For a folder: the detected dataset and layout, samples per class and split, then the samples
are decoded (all by default, ``--limit N`` for N evenly spaced ones) and events per sample,
duration and decode speed printed. Each file is decoded once even when several samples share it
(DVS Gesture trials); one file is read before timing starts so one-off costs (Numba compilation
or cache loading, imports) are not counted as decode time. A file that cannot be decoded is
reported on stderr and skipped; the summary covers the others and the exit status is 1
(``--strict`` stops at the first such file instead).

For a file: its format (sniffed), sensor, events, duration, event rate, polarity balance and
time order.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import EventCompressError

EXAMPLE = ("examples:\n  eventcompress info ../shared/realdata/nmnist/NMNIST-small --limit 200\n"
           "  eventcompress info Train/3/00010.bin")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("root", metavar="PATH", help="dataset folder, or one recording file")
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
    parser.add_argument("--strict", action="store_true",
                        help="stop at the first recording that cannot be decoded (default: "
                             "report it, skip it, exit with status 1 at the end)")


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
    failures: list[tuple[str, str]] = field(default_factory=list)  # (path, error) per file


def pick_evenly(n: int, limit: int | None) -> np.ndarray:
    """Indices of ``limit`` samples spread evenly over ``0..n-1`` (all when limit is None)."""
    if limit is None or limit >= n:
        return np.arange(n)
    if limit <= 0:
        return np.zeros(0, np.int64)
    return np.unique(np.linspace(0, n - 1, limit).round().astype(np.int64))


def decode_samples(samples: Sequence, quiet: bool, strict: bool = True) -> DecodeStats:
    """Decode every file behind ``samples`` once. With ``strict`` the first unreadable file
    raises; otherwise it is recorded in ``failures`` (and reported on stderr) and skipped."""
    from tqdm.auto import tqdm

    from ..datasets.base import read_sample_file, slice_sample

    stats = DecodeStats({}, {})
    by_file: dict[object, list] = {}
    for s in samples:
        by_file.setdefault(s.path, []).append(s)
    groups = list(by_file.values())
    for group in groups:  # warm-up on the first readable file, not timed
        try:
            read_sample_file(group[0])
            break
        except (EventCompressError, OSError):
            if strict:
                raise
    # disable=None: no bar when stderr is not a terminal (no stray "0%|" lines in logs).
    bar = tqdm(groups, desc="decoding", unit="file", disable=True if quiet else None,
               leave=False)
    for group in bar:
        start = time.perf_counter()
        try:
            events = read_sample_file(group[0])
        except (EventCompressError, OSError) as exc:
            if strict:
                raise
            stats.failures.append((str(group[0].path), str(exc)))
            bar.write(f"eventcompress info: skipped {group[0].path}: {exc}", file=sys.stderr)
            continue
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


def _layout_failure(exc: EventCompressError) -> str:
    """A layout error with its cause first: the summary line, then what the folder holds, then
    the expected layouts (which run to dozens of lines)."""
    lines = str(exc).splitlines()
    if len(lines) < 3:
        return "\n".join(lines)
    return "\n".join([lines[0], lines[-1], "", *lines[1:-1]])


def run(args: argparse.Namespace) -> int:
    from ..datasets import detect_dataset, get_dataset

    path = Path(args.root)
    if not path.exists():
        print(f"eventcompress info: {path}: no such file or folder", file=sys.stderr)
        return 1
    if path.is_file():
        return describe_recording(path)

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
        print(f"eventcompress info: {_layout_failure(exc)}", file=sys.stderr)
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
        stats = decode_samples(chosen, args.quiet, strict=getattr(args, "strict", False))
    except (EventCompressError, OSError) as exc:
        print(f"eventcompress info: {exc} (--strict: stopped here)", file=sys.stderr)
        return 1
    print(f"decoded {len(chosen):,} of {len(samples):,} samples ({stats.files_read:,} files)")
    if not stats.counts:
        print(f"no file could be decoded ({len(stats.failures):,} failed)")
        return 1
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
    if stats.failures:
        print(f"\n{len(stats.failures):,} file(s) could not be decoded and were skipped "
              "(listed on stderr; --strict stops at the first)")
        return 1
    return 0


def describe_recording(path: Path) -> int:
    """Print what one recording holds; 1 (with the reason on stderr) when it cannot be read."""
    from .. import io as ec_io

    try:
        ec_io.read(path, on_unsorted="ignore")  # warm-up: compilation / cache loading
        start = time.perf_counter()
        events = ec_io.read(path, on_unsorted="ignore")
        seconds = time.perf_counter() - start
    except (EventCompressError, OSError) as exc:
        print(f"eventcompress info: {exc}", file=sys.stderr)
        return 1
    meta = events.metadata
    n = len(events)
    w, h = events.sensor_size
    print(f"file      {path}")
    fmt = str(meta.get("format", "?"))
    spec = ec_io.FORMATS.get(fmt)
    extra = [f"{k} {meta[k]}" for k in ("version", "chip", "layout") if meta.get(k)]
    print(f"format    {fmt}" + (f" ({spec.description})" if spec else "")
          + (f", {', '.join(extra)}" if extra else ""))
    print(f"sensor    {w} x {h}")
    print(f"events    {_fmt_int(n)}")
    if n:
        duration = events.duration
        print(f"time      {int(events.t[0]):,} .. {int(events.t[-1]):,} us "
              f"(duration {_fmt_ms(duration)} ms)")
        if duration:
            print(f"rate      {_rate(n / (duration * 1e-6))}events/s")
        on = int(events.p.sum())
        print(f"polarity  {_fmt_int(on)} ON ({100 * on / n:.1f}%), {_fmt_int(n - on)} OFF "
              f"({100 * (n - on) / n:.1f}%)")
        print(f"order     {'time-ordered' if events.is_sorted() else 'timestamps decrease'}")
    print(f"decode    {seconds * 1000:,.2f} ms ({_rate(n / max(seconds, 1e-9))}events/s)")
    return 0
