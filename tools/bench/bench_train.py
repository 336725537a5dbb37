"""Training throughput of the N-MNIST networks through the engine, and its data-wait share.

For each variant and T, one epoch of the real engine (``Trainer``: forward, loss, backward,
Adam, scheduler) over in-memory STC tensors of the real NMNIST-small recordings, at the recipe's
batch size: samples per second and the share of the epoch spent waiting for batches. Warm-up:
one untimed epoch first. No competitor runs here yet (the SpikingJelly comparison of issue 13
is still to be written), so these are absolute figures of this machine and hour.

    python tools/bench/bench_train.py [--quick] [--threads N] [--variants a,b] [--steps 1,2,4]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tools.bench.common import markdown_table, report_header  # noqa: E402

VARIANTS = ("stc-scb-mtlif", "mtlif", "plif", "s3nn", "stcb", "ann")
NMNIST = ROOT.parent / "shared" / "realdata" / "nmnist" / "NMNIST-small"


def measure(variant: str, steps: int, samples: int, threads: int, root: Path) -> dict:
    import torch

    from eventcompress.train.data import prepare_data
    from eventcompress.train.engine import Trainer
    from eventcompress.train.resolve import resolve_recipe
    from eventcompress.train.rundir import RunDir

    torch.set_num_threads(threads)
    # The bench measures the network on one input: every variant gets the same STC tensors.
    recipe, text = resolve_recipe(f"nmnist-{variant}", (
        'preprocessing.representation="stc"', "preprocessing.tau_s=20000.0",
        "preprocessing.fine_bins=20", 'preprocessing.normalize="max"',
        f"preprocessing.steps={steps}", 'training.loss="ce"',
        "model.overrides.readout=\"membrane\"", "schedule.warmup_epochs=0",
        "training.test_every_epoch=false", "training.bn_calibration_batches=0"), epochs=2)
    train, val, test, _ = prepare_data(recipe, root, limit=samples)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(recipe, text, (train, val, test), RunDir(tmp), device="cpu",
                          quiet=True)
        trainer._train_epoch(_NoStop())  # warm-up
        row = trainer._train_epoch(_NoStop())
    return {"samples_per_s": row["samples_per_s"], "data_wait_share": row["data_wait_share"],
            "batch": recipe.training.batch_size}


class _NoStop:
    requested = False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--steps", default="1,2,4")
    parser.add_argument("--root", type=Path, default=NMNIST)
    args = parser.parse_args()
    if not args.root.is_dir():
        sys.exit(f"NMNIST-small not found at {args.root}")
    samples = 128 if args.quick else 256
    rows = []
    for variant in args.variants.split(","):
        for steps in (int(s) for s in args.steps.split(",")):
            r = measure(variant, steps, samples, args.threads, args.root)
            rows.append([f"nmnist-{variant}", steps, r["batch"], r["samples_per_s"],
                         f"{100 * r['data_wait_share']:.2f} %"])
            print(rows[-1], file=sys.stderr, flush=True)
    print(report_header(f"Training throughput, {args.threads} thread(s), {samples} samples"))
    print(markdown_table(["network", "T", "batch", "samples/s", "data wait"], rows))


if __name__ == "__main__":
    main()
