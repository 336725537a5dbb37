"""Training throughput of the N-MNIST networks through the engine, and its data-wait share.

For each variant and T, one epoch of the real engine (``Trainer``: forward, loss, backward,
Adam, scheduler) over in-memory STC tensors of the real NMNIST-small recordings, at the recipe's
batch size: samples per second and the share of the epoch spent waiting for batches. Warm-up:
one untimed epoch first; no competitor runs in this table, so its figures are absolute ones of
this machine and hour.

``--spikingjelly``: instead, one training step of ``nmnist-plif`` (or each of ``--variants``)
against the ``nmnist-plif`` topology built from SpikingJelly's layers, same batch, T and threads,
interleaved in the same run, with our per-step reference path (``nn.fused.reference()``) as a
third contender.

    python tools/bench/bench_train.py [--quick] [--threads N] [--variants a,b] [--steps 1,2,4]
    python tools/bench/bench_train.py --spikingjelly [--variants plif,stc-scb-mtlif]
        [--steps 4,10] [--threads 2]
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
        "preprocessing.steps=[]",
        f'preprocessing.representation={{type = "stc", steps = {steps}, tau_s = 20000.0, '
        'fine_bins = 20, normalize = "max", polarity = "split"}', 'training.loss="ce"',
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


def plif_steppers(steps: int, batch: int, threads: int,
                  variant: str = "plif") -> tuple[dict, tuple[int, int]]:
    """One Adam step (forward, cross-entropy, backward) of ``nmnist-<variant>`` (``plif``: on
    its readout's firing rate), of the same network on the per-step reference path
    (``nn.fused.reference()``) and of the ``nmnist-plif`` topology built from SpikingJelly's
    multi-step layers and ``ParametricLIFNode`` (soft reset, rectangular surrogate) on the same
    batch: ``{"ours": fn, "reference": fn, "spikingjelly": fn}`` and the two parameter counts."""
    import torch
    import torch.nn.functional as F
    from spikingjelly.activation_based import functional, layer, neuron, surrogate

    from eventcompress.nn import create_model, fused

    torch.set_num_threads(threads)
    torch.manual_seed(0)

    def plif() -> torch.nn.Module:
        return neuron.ParametricLIFNode(init_tau=2.0, v_reset=None,
                                        surrogate_function=surrogate.Rect(alpha=1.0))

    theirs = torch.nn.Sequential(
        layer.Conv2d(2, 32, 3, padding=1, bias=False), layer.BatchNorm2d(32), plif(),
        layer.MaxPool2d(2),
        layer.Conv2d(32, 64, 3, padding=1, bias=False), layer.BatchNorm2d(64), plif(),
        layer.MaxPool2d(2),
        layer.Flatten(), layer.Linear(64 * 8 * 8, 128, bias=False), layer.BatchNorm1d(128),
        plif(), layer.Linear(128, 10, bias=False), layer.BatchNorm1d(10), plif())
    functional.set_step_mode(theirs, "m")
    ours = create_model(f"nmnist-{variant}", **({"readout": "rate"} if variant == "plif"
                                                  else {}))
    n_ours = sum(p.numel() for p in ours.parameters())
    n_theirs = sum(p.numel() for p in theirs.parameters())
    x = torch.bernoulli(torch.full((steps, batch, 2, 34, 34), 0.1))
    y = torch.randint(0, 10, (batch,))

    def stepper(model: torch.nn.Module, sj: bool, reference: bool = False):
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)

        def step() -> None:
            with fused.reference() if reference else torch.enable_grad():
                out = model(x).mean(0) if sj else model(x)
                loss = F.cross_entropy(out, y)
                opt.zero_grad()
                loss.backward()
            opt.step()
            if sj:
                functional.reset_net(model)
        return step

    return ({"ours": stepper(ours, False), "reference": stepper(ours, False, True),
             "spikingjelly": stepper(theirs, True)}, (n_ours, n_theirs))


def spikingjelly_step(variant: str, steps: int, batch: int, threads: int, repeat: int) -> dict:
    """ms per sample of one step of each of :func:`plif_steppers`, interleaved round by round:
    best of ``repeat`` and the range of the per-round speed ratios (a round's three steps ran
    within seconds of each other, the fairer comparison under a changing load)."""
    import time

    steps_fn, params = plif_steppers(steps, batch, threads, variant)
    times: dict[str, list[float]] = {k: [] for k in steps_fn}
    for fn in steps_fn.values():
        fn()  # warm-up (and the Numba compilation, cached on disk after the first run)
    for _ in range(repeat):
        for name, fn in steps_fn.items():
            started = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - started)
    ratios = [sj / o for sj, o in zip(times["spikingjelly"], times["ours"], strict=True)]
    gains = [r / o for r, o in zip(times["reference"], times["ours"], strict=True)]
    return {"ours_ms": 1e3 * min(times["ours"]) / batch,
            "reference_ms": 1e3 * min(times["reference"]) / batch,
            "sj_ms": 1e3 * min(times["spikingjelly"]) / batch,
            "ratio_range": (min(ratios), max(ratios)), "gain_range": (min(gains), max(gains)),
            "params": params}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--steps", default="1,2,4")
    parser.add_argument("--root", type=Path, default=NMNIST)
    parser.add_argument("--spikingjelly", action="store_true",
                        help="only the nmnist-plif comparison against SpikingJelly")
    args = parser.parse_args()
    if args.spikingjelly:
        rows = []
        variants = args.variants if args.variants != ",".join(VARIANTS) else "plif"
        for variant in variants.split(","):
            for steps in (int(s) for s in args.steps.split(",")):
                r = spikingjelly_step(variant, steps, 64, args.threads, 3 if args.quick else 7)
                lo, hi = r["ratio_range"]
                rows.append([f"nmnist-{variant}", steps, f"{r['params'][0]:,} / "
                             f"{r['params'][1]:,}", r["ours_ms"], r["reference_ms"], r["sj_ms"],
                             f"{r['sj_ms'] / r['ours_ms']:.2f}x ({lo:.2f}-{hi:.2f})",
                             "{:.2f}-{:.2f}x".format(*r["gain_range"])])
                print(rows[-1], file=sys.stderr, flush=True)
        print(report_header(f"Training step against SpikingJelly, {args.threads} thread(s), "
                            "batch 64"))
        print(markdown_table(["network", "T", "params ours / SJ", "ours ms/sample",
                              "ours, reference path", "SpikingJelly PLIF net ms/sample",
                              "our speed (per-round range)", "fused vs reference"], rows))
        return
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
