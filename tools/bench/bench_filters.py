"""Filters and geometry transforms: ours vs tonic on the same streams, single core.

1. Noise filters on one synthetic 128x128 stream of 100 k events over 1 s (20 k with
   --quick): ``denoise`` vs ``tonic.functional.denoise_numpy``, ``refractory_period`` vs
   ``tonic.functional.refractory_period_numpy`` (both Python loops in tonic, so the stream is
   kept modest), hot-pixel removal vs ``tonic.transforms.DropPixel(hot_pixel_frequency=...)``.
   Outputs are checked to be identical before timing.
2. Geometry on 2 M events (400 k with --quick): throughput of ours vs the matching tonic
   transform (NumPy code) where one exists.

Run: ``python tools/bench/bench_filters.py [--quick]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tools.bench.common import best_time, markdown_table, report_header, single_thread  # noqa: E402

if __name__ == "__main__":  # a script run is single-threaded; an import changes nothing
    single_thread()

from eventcompress.events import Events  # noqa: E402
from eventcompress.kernels import (  # noqa: E402
    center_crop,
    crop_time,
    denoise,
    downsample,
    flip_lr,
    flip_polarity,
    refractory_period,
    remove_hot_pixels,
    resize,
)


def synthetic(n: int, size: tuple[int, int], t_max: int, seed: int = 0) -> Events:
    rng = np.random.default_rng(seed)
    return Events(rng.integers(0, size[0], n), rng.integers(0, size[1], n),
                  np.sort(rng.integers(0, t_max, n)), rng.integers(0, 2, n), size)


def _row(name: str, n: int, ours, theirs) -> list:
    t_ours = best_time(ours)
    if theirs is None:
        return [name, f"{n / t_ours / 1e6:,.1f}", "-", "-"]
    t_theirs = best_time(theirs, repeat=2, min_time=0.0)
    ratio = t_theirs / t_ours
    return [name, f"{n / t_ours / 1e6:,.1f}", f"{n / t_theirs / 1e6:,.3f}",
            f"{ratio:,.1f}x" if ratio < 10 else f"{ratio:,.0f}x"]


def bench_filters(n: int) -> str:
    import tonic.functional as F
    import tonic.transforms as T

    ev = synthetic(n, (128, 128), 1_000_000)
    arr = ev.to_structured()
    checks = [
        (denoise(ev, 5_000), F.denoise_numpy(arr, 5_000)),
        (refractory_period(ev, 1_000), F.refractory_period_numpy(arr, 1_000)),
        (remove_hot_pixels(ev, max_rate_hz=8.0), T.DropPixel(hot_pixel_frequency=8)(arr)),
    ]
    for ours, theirs in checks:
        if not np.array_equal(ours.to_structured(), theirs):
            raise SystemExit("outputs differ from tonic; not timing")
    rows = [
        _row("denoise(5 ms)", n, lambda: denoise(ev, 5_000),
             lambda: F.denoise_numpy(arr, 5_000)),
        _row("refractory_period(1 ms)", n, lambda: refractory_period(ev, 1_000),
             lambda: F.refractory_period_numpy(arr, 1_000)),
        _row("remove_hot_pixels(rate 8 Hz)", n, lambda: remove_hot_pixels(ev, max_rate_hz=8.0),
             lambda: T.DropPixel(hot_pixel_frequency=8)(arr)),
    ]
    head = ["filter", "ours (M ev/s)", "tonic (M ev/s)", "speed-up"]
    return (f"Noise filters, {n:,} events, 128x128, identical output to tonic\n\n"
            + markdown_table(head, rows))


def bench_geometry(n: int) -> str:
    import tonic.transforms as T

    ev = synthetic(n, (346, 260), 10_000_000, seed=1)
    arr = ev.to_structured()
    sensor = (346, 260, 2)
    rows = [
        _row("downsample(2)", n, lambda: downsample(ev, 2),
             lambda: T.Downsample(spatial_factor=0.5)(arr)),
        _row("resize(128x96)", n, lambda: resize(ev, (128, 96)),
             lambda: T.Downsample(sensor_size=sensor, target_size=(128, 96))(arr)),
        _row("center_crop(128)", n, lambda: center_crop(ev, 128),
             lambda: T.CenterCrop(sensor_size=sensor, size=128)(arr)),
        _row("flip_lr", n, lambda: flip_lr(ev), lambda: T.RandomFlipLR(sensor, p=1.0)(arr)),
        _row("flip_polarity", n, lambda: flip_polarity(ev),
             lambda: T.RandomFlipPolarity(p=1.0)(arr)),
        _row("crop_time(2 s, 5 s) sorted", n, lambda: crop_time(ev, 2_000_000, 5_000_000),
             None),
    ]
    head = ["transform", "ours (M ev/s)", "tonic (M ev/s)", "speed-up"]
    return f"Geometry, {n:,} events, 346x260\n\n" + markdown_table(head, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller streams")
    parser.add_argument("--quiet", "-q", action="store_true", help="accepted for run_all")
    args = parser.parse_args()
    print(report_header("Filters and geometry vs tonic (single core)"))
    print(bench_filters(20_000 if args.quick else 100_000))
    print(bench_geometry(400_000 if args.quick else 2_000_000))


if __name__ == "__main__":
    main()
