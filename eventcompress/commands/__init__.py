"""Subcommands of the ``eventcompress`` CLI, one module each."""

from __future__ import annotations

import argparse


def show_example(parser: argparse.ArgumentParser, example: str) -> None:
    """Print ``example`` (a command module's ``EXAMPLE``) under the command's ``--help``, line
    breaks kept."""
    parser.epilog = example
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
