"""`eventcompress eval CHECKPOINT --data-root DIR`: accuracy, confusion, activity, energy.

CHECKPOINT is a ``best.pt`` / ``last.pt`` (or a run directory: its ``best.pt``). The network and
its preprocessing are rebuilt from the recipe the checkpoint carries. Prints accuracy, the
confusion matrix, per-class accuracy, spikes and synaptic operations per sample, the firing rate
of every neuron layer, the energy estimate against the ANN of the same topology, and the
latency per sample; ``--json`` prints all of it as one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys

EXAMPLE = ("examples:\n  eventcompress eval runs/nmnist-stc-scb-mtlif/RUN/best.pt --data-root DIR\n"
           "  eventcompress eval runs/RUN/best.pt --data-root DIR --split test --json")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", metavar="CHECKPOINT", help="best.pt, last.pt or a run dir")
    parser.add_argument("--data-root", required=True, metavar="DIR", help="dataset folder")
    parser.add_argument("--cache-dir", metavar="DIR",
                        help="cache folder of the stores (default: $EVENTCOMPRESS_CACHE, else "
                             "~/.cache/eventcompress)")
    parser.add_argument("--split", choices=["train", "val", "test"], default="test",
                        help="split to evaluate (default: test)")
    parser.add_argument("--device", default="auto", help="auto (default), cpu or cuda[:N]")
    parser.add_argument("--limit", type=int, metavar="N", help="at most N samples per split")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    from ..errors import EventCompressError
    from ..train import evaluate_checkpoint

    try:
        result = evaluate_checkpoint(args.checkpoint, args.data_root, split=args.split,
                                     device=args.device, cache_dir=args.cache_dir,
                                     limit=args.limit, quiet=args.quiet)
    except EventCompressError as exc:
        print(f"eventcompress eval: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2) if args.json else format_result(result))
    return 0


def format_result(r: dict) -> str:
    from .models import format_table

    n = len(r["classes"])
    lines = [f"{r['network']} (epoch {r['epoch']}) on {r['split']}: {r['samples']} samples, "
             f"accuracy {100 * r['accuracy']:.2f} %, loss {r['loss']:.4f}", "",
             "confusion matrix (rows: true class, columns: predicted)"]
    lines.append(format_table(["true"] + [str(i) for i in range(n)] + ["acc"], [
        [f"{i} {r['classes'][i]}"] + row
        + ["-" if r["per_class_accuracy"][i] is None else f"{r['per_class_accuracy'][i]:.3f}"]
        for i, row in enumerate(r["confusion_matrix"])], right=range(1, n + 2)))
    lines += ["", format_table(["neuron layer", "firing rate"],
                               [[k, f"{v:.4f}"] for k, v in r["firing_rates"].items()],
                               right=(1,)), ""]
    lines += [f"spikes per sample   {r['spikes_per_sample']:.4g}",
              f"SOPs per sample     {r['sops_per_sample']:.4g}",
              f"energy per sample   {r['energy_uj_per_sample']:.4g} uJ vs ANN "
              f"{r['ann_energy_uj_per_sample']:.4g} uJ (ratio {r['energy_ratio']:.3f})",
              f"latency per sample  {r['latency_ms_per_sample_batched']:.3f} ms at batch "
              f"{r['batch_size']}, {r['latency_ms_per_sample_batch1']:.3f} ms at batch 1 "
              f"({r['device']})"]
    return "\n".join(lines)
