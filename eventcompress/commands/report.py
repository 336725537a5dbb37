"""`eventcompress report RUN_DIR... [--out DIR]`: compare training runs.

Writes ``report.md`` (one row per run: validation-selected and best-over-epochs test accuracy,
T, parameters, SOPs and energy per sample, training time) and, when matplotlib is installed (the
``plot`` extra), ``curves.png`` (loss and accuracy per epoch) and ``firing_rates.png`` (firing
rate of every neuron layer per epoch, on validation).
"""

from __future__ import annotations

import argparse
import sys

EXAMPLE = ("examples:\n  eventcompress report runs/nmnist-stc-scb-mtlif/RUN\n"
           "  eventcompress report runs/a runs/b --out reports/")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run directories")
    parser.add_argument("--out", metavar="DIR", default=None,
                        help="output folder (default: the first run directory)")
    parser.add_argument("--no-plots", action="store_true", help="only the Markdown table")


def run(args: argparse.Namespace) -> int:
    from ..errors import EventCompressError
    from ..train.report import write_report

    try:
        written, note = write_report(args.runs, args.out, plots=not args.no_plots)
    except EventCompressError as exc:
        print(f"eventcompress report: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    if note:
        print(note, file=sys.stderr)
    return 0
