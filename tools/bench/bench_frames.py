"""Frames and STC throughput against tonic's ToFrame, a SpikingJelly-style NumPy pipeline and a
NumPy bincount, single core.

Same input for every method in one run: N uniformly random events, sorted by time, on a 128 x 128
sensor over one second; T = 10 time bins, two polarity channels, int16 frames. Reported: best
time per call, million events per second, speed-up over tonic, and the memory traffic the call
implies (x, y, t, p = 2 + 2 + 8 + 1 = 13 bytes read per event, plus the output written once) as
an effective bandwidth: how close the kernel is to the machine's physical limit.

    python tools/bench/bench_frames.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tools.bench.common import (  # noqa: E402
    best_time,
    markdown_table,
    report_header,
    single_thread,
)

SENSOR = (128, 128)
T_BINS = 10
DURATION_US = 1_000_000
BYTES_PER_EVENT = 2 + 2 + 8 + 1


def make_events(n: int, seed: int = 0):
    from eventcompress.events import Events

    rng = np.random.default_rng(seed)
    return Events(
        rng.integers(0, SENSOR[0], n), rng.integers(0, SENSOR[1], n),
        np.sort(rng.integers(0, DURATION_US, n)), rng.integers(0, 2, n), SENSOR,
    )


def numpy_bincount(ev) -> np.ndarray:
    """The physical reference: one vectorised bin index per event, one bincount."""
    w, h = ev.sensor_size
    start, end = int(ev.t[0]), int(ev.t[-1]) + 1
    k = ((ev.t - start) * T_BINS) // (end - start)
    flat = ((k * 2 + ev.p) * h + ev.y.astype(np.int64)) * w + ev.x
    counts = np.bincount(flat, minlength=T_BINS * 2 * h * w)
    return counts.reshape(T_BINS, 2, h, w).astype(np.int16)


def spikingjelly_numpy(ev, frames_number: int, split_by: str) -> np.ndarray:
    """SpikingJelly's documented frame rule as its NumPy code does it: segment indices per frame
    (by count, or by boolean masks over time), then one ``np.bincount`` per frame and polarity
    into a float64 ``(M, 2, H, W)`` array. The competitor for SpikingJelly users."""
    w, h = ev.sensor_size
    n = len(ev)
    lo = np.zeros(frames_number, np.int64)
    hi = np.zeros(frames_number, np.int64)
    if split_by == "number":
        step = n // frames_number
        lo[:] = np.arange(frames_number) * step
        hi[:] = lo + step
    else:
        step = (int(ev.t[-1]) - int(ev.t[0])) // frames_number
        idx = np.arange(n)
        for i in range(frames_number):
            t_lo = int(ev.t[0]) + i * step
            sel = idx[(ev.t >= t_lo) & (ev.t < t_lo + step)]
            lo[i], hi[i] = sel[0], sel[-1] + 1
    hi[-1] = n
    out = np.zeros((frames_number, 2, h * w))
    for i in range(frames_number):
        x = ev.x[lo[i]:hi[i]].astype(np.int64)
        y = ev.y[lo[i]:hi[i]].astype(np.int64)
        p = ev.p[lo[i]:hi[i]]
        for c in range(2):
            counts = np.bincount(y[p == c] * w + x[p == c])
            out[i, c, :counts.size] += counts
    return out.reshape(frames_number, 2, h, w)


def bench_size(n: int, timing: dict) -> list[list]:
    from eventcompress.kernels.frames import frames
    from eventcompress.kernels.stc import compress_events

    ev = make_events(n)
    structured = ev.to_structured()
    out_bytes = T_BINS * 2 * SENSOR[0] * SENSOR[1] * 2  # int16 frames
    stc_bytes = out_bytes * 2  # float32 output (int16 frames: 2 B a cell); the window scratch stays in cache
    tau = DURATION_US / T_BINS / 2
    methods = {}
    try:
        from tonic.transforms import ToFrame
    except ImportError:
        print("tonic is not installed: no tonic figures", file=sys.stderr)
    else:
        to_frame = ToFrame(sensor_size=(*SENSOR, 2), n_time_bins=T_BINS)
        methods["tonic ToFrame"] = (lambda: to_frame(structured), out_bytes)
        # same slices as tonic, checked value for value
        assert np.array_equal(frames(ev, n_time_bins=T_BINS, edges="tonic"), to_frame(structured))
    assert np.array_equal(frames(ev, n_time_bins=T_BINS), numpy_bincount(ev))
    from eventcompress.kernels.frames import frames_spikingjelly

    for split in ("number", "time"):
        assert np.array_equal(frames_spikingjelly(ev, T_BINS, split),
                              spikingjelly_numpy(ev, T_BINS, split))
    methods["SpikingJelly-style NumPy, split_by=number"] = (
        lambda: spikingjelly_numpy(ev, T_BINS, "number"), out_bytes * 4)
    methods["ours, SpikingJelly split_by=number"] = (
        lambda: frames_spikingjelly(ev, T_BINS, "number"), out_bytes * 2)
    methods["SpikingJelly-style NumPy, split_by=time"] = (
        lambda: spikingjelly_numpy(ev, T_BINS, "time"), out_bytes * 4)
    methods["ours, SpikingJelly split_by=time"] = (
        lambda: frames_spikingjelly(ev, T_BINS, "time"), out_bytes * 2)
    methods["NumPy bincount (reference)"] = (lambda: numpy_bincount(ev), out_bytes)
    methods["frames, fixed edges"] = (lambda: frames(ev, n_time_bins=T_BINS), out_bytes)
    methods["frames, tonic edges"] = (
        lambda: frames(ev, n_time_bins=T_BINS, edges="tonic"), out_bytes)
    methods["STC, tau = window/2"] = (
        lambda: compress_events(ev, T_BINS, tau_s=tau), stc_bytes)
    methods["STC, fine_bins=8"] = (
        lambda: compress_events(ev, T_BINS, tau_s=tau, fine_bins=8), stc_bytes)
    methods["STC, count edges + carry"] = (
        lambda: compress_events(ev, T_BINS, tau_s=tau, edges="count", carry=True), stc_bytes)

    rows = []
    tonic_s = None
    sj_s = {}
    for name, (fn, written) in methods.items():
        sec = best_time(fn, **timing)
        if name == "tonic ToFrame":
            tonic_s = sec
        split = name.rsplit("split_by=", 1)[-1] if "split_by=" in name else None
        if name.startswith("SpikingJelly-style"):
            sj_s[split] = sec
        gbps = (n * BYTES_PER_EVENT + written) / sec / 1e9
        ratio = f"{tonic_s / sec:.1f}x" if tonic_s else "n/a"
        sj_ratio = f"{sj_s[split] / sec:.1f}x" if split in sj_s else ""
        rows.append([f"{n:,}", name, sec * 1e3, n / sec / 1e6, ratio, sj_ratio, gbps])
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200k events only, fewer repeats")
    parser.add_argument("--quiet", "-q", action="store_true", help="accepted for run_all")
    args = parser.parse_args()
    single_thread()
    sizes = [200_000] if args.quick else [200_000, 2_000_000]
    timing = {"repeat": 3, "min_time": 0.05} if args.quick else {"repeat": 5, "min_time": 0.2}
    rows = [row for n in sizes for row in bench_size(n, timing)]
    print(report_header("Event frames and STC, single core"))
    print(f"{SENSOR[0]}x{SENSOR[1]} sensor, T = {T_BINS}, 2 channels, events uniform over "
          f"{DURATION_US:,} us; traffic = {BYTES_PER_EVENT} B/event read + output written "
          "(STC: float32 output; its float64 scratch holds one window and stays in cache).\n")
    print(markdown_table(
        ["events", "method", "ms / call", "M events/s", "vs tonic", "vs SpikingJelly-style",
         "effective GB/s"], rows))
    print("Targets: frames >= 300 M events/s and >= 15x tonic; STC >= 150 M events/s.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
