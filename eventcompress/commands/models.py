"""`eventcompress models`: list the registered networks and the model recipes.

``eventcompress models ls [--dataset D] [--no-recipes] [--folder DIR]`` prints a table of networks
with their parameter counts followed by a table of the recipes (``models/*.toml``) with their key
settings; ``eventcompress models info NAME`` prints one network's overridable defaults.
Torch is imported only when a subcommand runs, so ``eventcompress --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

EXAMPLE = ("examples:\n  eventcompress models ls --dataset nmnist\n"
           "  eventcompress models ls --no-recipes\n"
           "  eventcompress models info nmnist-stc-scb-mtlif")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    raw = argparse.RawDescriptionHelpFormatter
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    ls_help = ("list registered networks with their parameter counts and the model recipes "
               "with their key settings")
    ls = sub.add_parser("ls", help="list networks and recipes as tables (the default action)",
                        description=ls_help, formatter_class=raw,
                        epilog="example:\n  eventcompress models ls --dataset cifar10dvs")
    ls.add_argument("--dataset", "-d", help="only this dataset (nmnist, cifar10dvs, dvsgesture)")
    ls.add_argument("--recipes", action=argparse.BooleanOptionalAction, default=True,
                    help="list the model recipes after the networks (default; --no-recipes "
                         "lists the networks only)")
    ls.add_argument("--folder", help="recipe folder (default: $EVENTCOMPRESS_MODELS, else the "
                                     "recipes shipped with the package)")
    info_help = ("one network's description, parameter count and the defaults a recipe's "
                 "[model.overrides] (or create_model(name, key=value)) can change")
    info = sub.add_parser("info", help="one network's defaults and parameter count",
                          description=info_help, formatter_class=raw,
                          epilog="example:\n  eventcompress models info nmnist-stc-scb-mtlif")
    info.add_argument("name", help="registered network name, e.g. nmnist-stc-scb-mtlif")


def format_table(header: Sequence[str], rows: Sequence[Sequence[object]],
                 right: Sequence[int] = ()) -> str:
    """A plain-text table; columns listed in ``right`` are right-aligned."""
    cells = [[str(c) for c in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]

    def line(r: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(r, widths))).rstrip()

    return "\n".join([line(cells[0]), line(["-" * w for w in widths])]
                     + [line(r) for r in cells[1:]])


def _networks_table(dataset: str | None) -> str:
    from ..nn.registry import list_models, model_info

    rows = []
    for name in list_models(dataset=dataset):
        info = model_info(name)
        shape = "x".join(str(v) for v in info.get("input_shape", ()))
        rows.append((name, info["dataset"], info["variant"], f"{info['parameters']:,}", shape,
                     info.get("n_classes", ""), info["description"]))
    return format_table(("network", "dataset", "variant", "params", "input CxHxW", "classes",
                         "description"), rows, right=(3, 5))


def _override_text(value: object) -> str:
    if isinstance(value, tuple):
        return "[" + ",".join(_override_text(v) for v in value) + "]"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _representation_name(representation: object) -> str:
    """The short name of a representation config (``stc``, ``frames``), else its class name."""
    from ..recipes import REPRESENTATION_ALIASES

    name = type(representation).__name__
    return next((alias for alias, cls in REPRESENTATION_ALIASES.items() if cls == name), name)


def _recipes_table(dataset: str | None, folder: str | None) -> str:
    import torch

    from ..recipes import list_recipes, load

    rows = []
    for path in list_recipes(folder):
        r = load(path)
        if dataset and not r.model.name.startswith(dataset + "-"):
            continue
        with torch.device("meta"):  # overrides may change the size; meta allocates nothing
            n_params = sum(p.numel() for p in r.create_model().parameters())
        opt, tr = r.optimizer, r.training
        overrides = ", ".join(f"{k}={_override_text(v)}" for k, v in r.model.overrides) or "-"
        steps, _, height, width = r.sample_shape
        rows.append((r.name, r.model.name, f"{n_params:,}", overrides,
                     _representation_name(r.pipeline.representation), steps,
                     f"{width}x{height}", f"{opt.name} {opt.lr:g}",
                     f"{r.schedule.name}", tr.epochs, tr.batch_size, tr.loss,
                     r.reference.arxiv or "-"))
    return format_table(("recipe", "network", "params", "overrides", "input", "T", "WxH",
                         "optimizer", "schedule", "epochs", "batch", "loss", "arXiv"), rows,
                        right=(2, 5, 9, 10))


def _recipes_section(dataset: str | None, folder: str | None) -> str:
    """The recipes table; a note instead when the default folder is absent (installed package).

    A folder named with ``--folder`` or ``$EVENTCOMPRESS_MODELS`` must exist.
    """
    import os

    from ..recipes import default_folder

    explicit = folder is not None or bool(os.environ.get("EVENTCOMPRESS_MODELS"))
    if not explicit and not default_folder().is_dir():
        return (f"no recipe folder at {default_folder()} (set EVENTCOMPRESS_MODELS or pass "
                "--folder to list recipes)")
    return _recipes_table(dataset, folder)


def _info(name: str) -> str:
    from ..nn.registry import model_info

    info = model_info(name)
    lines = [f"{info['name']}: {info['description']}",
             f"dataset {info['dataset']}, variant {info['variant']}, "
             f"{info['parameters']:,} parameters",
             "", "overrides (create_model(name, key=value) or [model.overrides] in a recipe):"]
    lines += [f"  {k} = {v!r}" for k, v in sorted(info["defaults"].items())]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from ..errors import ConfigError

    action = getattr(args, "action", None) or "ls"
    try:
        if action == "info":
            print(_info(args.name))
            return 0
        dataset = getattr(args, "dataset", None)
        if dataset:
            from ..nn.networks import DATASETS

            if dataset not in DATASETS:
                print(f"eventcompress models: unknown dataset {dataset!r}; expected one of "
                      f"{', '.join(DATASETS)}", file=sys.stderr)
                return 2
        print(_networks_table(dataset))
        if getattr(args, "recipes", True):
            print()
            print(_recipes_section(dataset, getattr(args, "folder", None)))
    except ConfigError as exc:
        print(f"eventcompress models: {exc}", file=sys.stderr)
        return 2
    return 0
