"""Regenerate the pictures that docs/ embeds, from the real N-MNIST recordings.

    python tools/make_figures.py [--root ../shared/realdata/nmnist/NMNIST-small]

Writes docs/img/events_nmnist.png (``eventcompress plot events`` of one training recording) and
docs/img/sample_nmnist.png (``eventcompress plot sample`` of the same recording, STC with T = 5,
through a store built here in a temporary folder). The speed-up chart docs/img/speedups.png
comes from ``python tools/bench/run.py --plot``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMG = ROOT / "docs" / "img"
NMNIST_SMALL = ROOT.parent / "shared" / "realdata" / "nmnist" / "NMNIST-small"
#: the recording drawn: the first training sample of class 3 (a digit with a clear shape)
DIGIT = 3
#: PNG files stay small enough for the repository (checked after writing)
MAX_BYTES = 200_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=NMNIST_SMALL, help="NMNIST-small folder")
    parser.add_argument("--out", type=Path, default=IMG, help="output folder")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from eventcompress.cache import build_from
    from eventcompress.datasets import get_dataset, load_sample
    from eventcompress.kernels import Pipeline, STCConfig
    from eventcompress.plot import plot_events, plot_sample

    samples = [s for s in get_dataset("nmnist").samples(args.root, split="train")
               if s.label == DIGIT]
    if not samples:
        raise SystemExit(f"no training recording of digit {DIGIT} under {args.root}")
    sample = samples[0]
    events = load_sample(sample)
    written = [plot_events(events, args.out / "events_nmnist.png",
                           title=f"N-MNIST {sample.id}: digit {DIGIT}, {len(events):,} events")]
    with tempfile.TemporaryDirectory() as tmp:
        store = build_from([(events, sample.label)],
                           Pipeline(representation=STCConfig(steps=5, tau_s=50_000.0)),
                           tmp, dataset="nmnist", split="figure", progress=False)
        written.append(plot_sample(store, 0, args.out / "sample_nmnist.png"))
    for path in written:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise SystemExit(f"{path}: {size:,} bytes, over the {MAX_BYTES:,} limit")
        print(f"{path} ({size / 1000:.0f} kB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
