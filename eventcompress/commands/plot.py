"""`eventcompress plot {events,sample,run}`: PNG pictures of a recording, a cached sample, a run.

The drawing lives in :mod:`eventcompress.plot`; matplotlib is the optional ``plot`` extra.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXAMPLE = ("examples:\n"
           "  eventcompress plot events ../shared/realdata/nmnist/NMNIST-small/Train/0/00002.bin"
           " --out events.png\n"
           "  eventcompress plot sample cache/nmnist-train-1a2b3c4d.zarr 0 --out sample.png\n"
           "  eventcompress plot run runs/nmnist-stc-scb-mtlif/20261201-0900-seed0")

_HELP = {
    "events": "x-t and y-t rasters and the accumulated image of one recording, ON red / OFF blue",
    "sample": "the T steps of one cached tensor, both polarities, with its label",
    "run": "learning curves (loss, accuracy, firing rates) of a run directory's metrics.jsonl",
}

_EXAMPLES = {
    "events": "example:\n  eventcompress plot events Train/3/00012.bin --out events.png",
    "sample": "example:\n  eventcompress plot sample cache/nmnist-train-1a2b3c4d.zarr 17",
    "run": "example:\n  eventcompress plot run runs/demo-20261201-090000 --out curves.png",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="plot_what", metavar="WHAT", required=True)
    for name, text in _HELP.items():
        p = sub.add_parser(name, help=text, description=text, epilog=_EXAMPLES[name],
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("--quiet", "-q", action="store_true", default=argparse.SUPPRESS,
                       help="accepted here too (plotting shows no progress bars)")
        if name == "events":
            p.add_argument("file", metavar="FILE", help="a recording in any format ec.read knows")
        elif name == "sample":
            p.add_argument("store", metavar="STORE", help="a store written by eventcompress cache")
            p.add_argument("index", type=int, metavar="INDEX", help="sample index (0-based)")
        else:
            p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory of eventcompress "
                                                              "train (finished or not)")
        p.add_argument("--out", metavar="PNG", type=Path, default=None,
                       help=f"output file (default: {_default_out(name)})")


def _default_out(what: str) -> str:
    return {"events": "FILE's name with .png, in the current folder",
            "sample": "sample-INDEX.png in the current folder",
            "run": "RUN_DIR/curves.png"}[what]


def run(args: argparse.Namespace) -> int:
    from .. import plot
    from ..errors import EventCompressError

    try:
        if args.plot_what == "events":
            from ..io import read

            out = args.out or Path(Path(args.file).stem + ".png")
            written = [plot.plot_events(read(args.file), out, title=f"{args.file}")]
        elif args.plot_what == "sample":
            out = args.out or Path(f"sample-{args.index}.png")
            written = [plot.plot_sample(args.store, args.index, out)]
        else:
            out = args.out or Path(args.run_dir) / "curves.png"
            written = plot.plot_run(args.run_dir, out)
    except (EventCompressError, OSError) as exc:
        print(f"eventcompress plot {args.plot_what}: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    return 0
