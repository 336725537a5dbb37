"""`eventcompress train RECIPE --data-root DIR`: train, select on validation, test once.

RECIPE is a recipe file or a name from ``models/`` (``eventcompress models ls``). The run
directory (``--out``, default ``runs/<recipe>/<time>-seed<seed>``) receives the resolved recipe,
the environment, ``metrics.jsonl``, ``last.pt``, ``best.pt`` and ``summary.json``; see
docs/training.md. Ctrl-C saves ``last.pt`` at the next batch boundary; ``--resume RUN_DIR``
continues it.
"""

from __future__ import annotations

import argparse
import os
import sys

EXAMPLE = ("examples:\n  eventcompress train nmnist-stc-scb-mtlif --data-root ../shared/realdata/nmnist/NMNIST-small\n"
           "  eventcompress train nmnist-ann --data-root DIR --epochs 5 --set training.batch_size=32\n"
           "  eventcompress train --resume runs/nmnist-stc-scb-mtlif/RUN")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", nargs="?", metavar="RECIPE",
                        help="recipe file or name from models/ (omit with --resume)")
    parser.add_argument("--data-root", required=True, metavar="DIR", help="dataset folder")
    parser.add_argument("--cache-dir", metavar="DIR",
                        help="cache folder of the stores (default: $EVENTCOMPRESS_CACHE, else "
                             "~/.cache/eventcompress)")
    parser.add_argument("--out", metavar="RUN_DIR", help="run directory (must be new or empty)")
    parser.add_argument("--epochs", type=int, metavar="N", help="= --set training.epochs=N")
    parser.add_argument("--device", default="auto", help="auto (default), cpu or cuda[:N]")
    parser.add_argument("--seed", type=int, metavar="S", help="= --set training.seed=S")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                        help="override a recipe key, e.g. training.batch_size=32 or "
                             "model.overrides.dropout=0.2 (repeatable)")
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="torch CPU threads (default: torch's choice; on a shared machine 1 "
                             "is often fastest)")
    parser.add_argument("--limit", type=int, metavar="N",
                        help="smoke runs only: at most N samples per split (a balanced subset; "
                             "the test figure is then not the official one)")
    parser.add_argument("--rebuild-cache", action="store_true",
                        help="build the recipe's cache stores anew, replacing existing ones "
                             "(e.g. after the dataset's files were copied again)")
    parser.add_argument("--nproc", type=int, metavar="N",
                        help="train with N processes on this machine (torchrun + DDP over "
                             "loopback; docs/scale-out.md); the batch size stays global")


def run(args: argparse.Namespace) -> int:
    from ..errors import EventCompressError
    from ..train import TrainingInterrupted, train

    if args.nproc is not None and args.nproc > 1 and "WORLD_SIZE" not in os.environ:
        from ..train.distributed import launch

        return launch(args.nproc, _without_nproc(sys.argv[1:]))
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    try:
        summary = train(args.recipe, args.data_root, cache_dir=args.cache_dir, out=args.out,
                        epochs=args.epochs, device=args.device, seed=args.seed, sets=args.sets,
                        resume=args.resume, quiet=args.quiet, limit=args.limit,
                        rebuild_cache=args.rebuild_cache)
    except TrainingInterrupted as exc:
        print(f"eventcompress train: {exc}", file=sys.stderr)
        return 130
    except EventCompressError as exc:
        print(f"eventcompress train: {exc}", file=sys.stderr)
        return 1
    if os.environ.get("RANK", "0") == "0":  # torchrun: one summary, from rank 0
        print(format_summary(summary))
    return 0


def _without_nproc(argv: list[str]) -> list[str]:
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--nproc":
            skip = True
        elif not a.startswith("--nproc="):
            out.append(a)
    return out


def format_summary(s: dict) -> str:
    best_over = s["best_test_acc_over_epochs"]
    lines = [
        f"run directory              {s['run_dir']}",
        "validation-selected test   " + (f"{100 * s['val_selected_test_acc']:.2f} %"
                                         if s["val_selected_test_acc"] is not None else
                                         "not computed (training.final_test = false)")
        + f"  (epoch {s['best_epoch']}, val acc {100 * s['best_val_acc']:.2f} %, val loss "
        f"{s['best_val_loss']:.4f})",
        "best test over epochs      " + (f"{100 * best_over:.2f} %  (for comparison with papers "
                                         "only; not used for selection)"
                                         if best_over is not None else "not tracked"),
        f"time steps, parameters     T = {s['time_steps']}, {s['params']:,}",
        f"SOPs per sample            {s['sops_per_sample']:.4g}",
        f"energy per sample          {s['energy_uj_per_sample']:.4g} uJ vs ANN "
        f"{s['ann_energy_uj_per_sample']:.4g} uJ (ratio {s['energy_ratio']:.3f})",
        f"training time              {s['train_seconds']:.1f} s (+ {s['data_seconds']:.1f} s "
        "data preparation)",
    ]
    return "\n".join(lines)



