"""The ``eventcompress`` command.

Each subcommand lives in ``eventcompress.commands.<name>`` and exposes ``add_arguments(parser)``
and ``run(args) -> int``; they are imported only when chosen so ``eventcompress --help`` stays fast
and does not import torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from . import __version__

#: name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "info": ("eventcompress.commands.info", "summarise a dataset folder: splits, classes, events, decode speed"),
    "download": ("eventcompress.commands.download", "download and verify a dataset (or explain the manual steps)"),
    "models": ("eventcompress.commands.models", "list registered networks and model recipes"),
    "train": ("eventcompress.commands.train", "train a model recipe, select on validation, test once"),
    "eval": ("eventcompress.commands.eval", "evaluate a checkpoint: accuracy, confusion, activity, energy"),
    "report": ("eventcompress.commands.report", "compare run directories: Markdown table and plots"),
    "cache": ("eventcompress.commands.cache", "build, inspect, verify, list and remove dataset caches"),
    "plot": ("eventcompress.commands.plot", "PNG pictures: a recording's rasters, a cached sample's steps, a run's curves"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eventcompress", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"eventcompress {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
        importlib.import_module(module).add_arguments(p)
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
