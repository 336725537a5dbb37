"""The ``eventcompress`` command.

Each subcommand lives in ``eventcompress.commands.<name>`` and exposes ``add_arguments(parser)``
and ``run(args) -> int`` (and ``EXAMPLE``, the usage lines shown under its ``--help``); modules
import torch and the readers only inside ``run``, so ``eventcompress --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from . import __version__

#: name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "info": ("eventcompress.commands.info", "summarise a dataset folder (splits, classes, events, decode speed) or one recording"),
    "download": ("eventcompress.commands.download", "download and verify a dataset (or explain the manual steps)"),
    "models": ("eventcompress.commands.models", "list registered networks and model recipes"),
    "train": ("eventcompress.commands.train", "train a model recipe, select on validation, test once"),
    "eval": ("eventcompress.commands.eval", "evaluate a checkpoint: accuracy, confusion, activity, energy"),
    "report": ("eventcompress.commands.report", "compare run directories: Markdown table and plots"),
    "cache": ("eventcompress.commands.cache", "build, inspect, verify, list and remove dataset caches"),
    "demo": ("eventcompress.commands.demo", "decode, compress and frame a few recordings: what the package does, with timings"),
    "plot": ("eventcompress.commands.plot", "PNG pictures: a recording's rasters, a cached sample's steps, a run's curves"),
}

DESCRIPTION = """\
eventcompress: event-camera recordings -> spiking neural networks.

Reads N-MNIST, CIFAR10-DVS and DVS128 Gesture recordings (and AEDAT 2/3/4, Prophesee EVT 2/3,
tonic .npy and SpikingJelly .npz files) with Numba decoders, turns them into event frames or
spatio-temporally compressed currents, and ships multi-threshold SNNs with a recipe per
dataset."""

WORKFLOWS = """\
workflows:
  see what it does      eventcompress demo ../shared/realdata/nmnist/NMNIST-small
  look at your data     eventcompress info DATASET_FOLDER   |   eventcompress info FILE
  get a dataset         eventcompress download nmnist --root data/
  pick a model          eventcompress models ls --dataset nmnist
                        eventcompress models info nmnist-stc-scb-mtlif
  cache a dataset       eventcompress cache build nmnist --root DIR --out caches/ --recipe nmnist-stc-scb-mtlif
  train and score       eventcompress train nmnist-stc-scb-mtlif --data-root DIR
                        eventcompress eval runs/RUN/best.pt --data-root DIR
                        eventcompress report runs/RUN
  draw it               eventcompress plot events FILE   |   eventcompress plot run runs/RUN

'eventcompress COMMAND --help' shows a command's options and examples."""


def build_parser() -> argparse.ArgumentParser:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(prog="eventcompress", description=DESCRIPTION,
                                     epilog=WORKFLOWS, formatter_class=raw)
    parser.add_argument("--version", action="version", version=f"eventcompress {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        mod = importlib.import_module(module)
        p = sub.add_parser(name, help=help_text, description=help_text,
                           epilog=getattr(mod, "EXAMPLE", None), formatter_class=raw)
        p.add_argument("--quiet", "-q", action="store_true",
                       help="no progress bars (they are off anyway when stderr is not a terminal)")
        mod.add_arguments(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    module = importlib.import_module(COMMANDS[args.command][0])
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
