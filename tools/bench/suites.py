"""The cases of ``tools/bench/run.py``: ours and one competitor on identical input, per benchmark.

Each suite builds its input once, checks where it can that both sides compute the same thing,
and returns :class:`Case` objects; ``run.py`` times them. The inputs and competitors come from
the single-topic scripts beside this file (``bench_<name>.py``), which stay the place for the
detailed tables; a suite is their headline comparison in the common result format.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for _p in (str(ROOT), str(HERE)):  # bench_prophesee imports ``common`` as a top-level module
    if _p not in sys.path:
        sys.path.insert(0, _p)

NMNIST_SMALL = ROOT.parent / "shared" / "realdata" / "nmnist" / "NMNIST-small"
TONIC_NMNIST_DTYPE = np.dtype([("x", int), ("y", int), ("t", int), ("p", int)])


@dataclass
class Case:
    """One comparison: ``ours()`` and ``theirs()`` do the same work on the same input."""

    name: str
    ours: Callable[[], Any]
    theirs: Callable[[], Any]
    competitor: str
    work: int  # units processed per call (events, files, samples)
    unit: str
    input: str
    min_time: float = 0.05  # each repetition loops a call until this many seconds have passed


def _nmnist_files(count: int) -> list[Path]:
    files = sorted(NMNIST_SMALL.glob("Train/*/*.bin"))
    if not files:
        raise SystemExit(f"NMNIST-small not found at {NMNIST_SMALL}")
    return files[:: max(1, len(files) // count)][:count]


def io(quick: bool, tmp: Path) -> list[Case]:
    import tonic.io as tonic_io

    from eventcompress.io.aedat2 import read_aedat2, write_aedat2
    from eventcompress.io.nmnist_bin import read_bin, write_bin
    from tools.bench.bench_io import _tonic_aedat_shim, synthetic

    n = 1_000_000 if quick else 10_000_000
    big_bin, big_aedat = tmp / "big.bin", tmp / "big2.aedat"
    write_bin(big_bin, synthetic(n, (34, 34), 2**23))
    write_aedat2(big_aedat, synthetic(n, (128, 128), 2**32))
    files = [str(f) for f in _nmnist_files(100 if quick else 1_000)]

    def tonic_aedat2() -> Any:
        with _tonic_aedat_shim(tonic_io):  # tonic 1.7.0's reader raises as shipped
            return tonic_io.read_dvs_128(str(big_aedat))

    assert len(tonic_aedat2()[1]) == len(read_aedat2(big_aedat)) == n
    return [
        Case(".bin (N-MNIST), one file", lambda: read_bin(big_bin),
             lambda: tonic_io.read_mnist_file(str(big_bin), TONIC_NMNIST_DTYPE),
             "tonic read_mnist_file", n, "events", f"{n:,} synthetic events"),
        Case("AEDAT 2.0 (DVS128), one file", lambda: read_aedat2(big_aedat),
             tonic_aedat2, "tonic read_dvs_128", n, "events",
             f"{n:,} synthetic events"),
        Case("real N-MNIST .bin files, one by one", lambda: [read_bin(f) for f in files],
             lambda: [tonic_io.read_mnist_file(f, TONIC_NMNIST_DTYPE) for f in files],
             "tonic read_mnist_file", len(files), "files", f"{len(files)} NMNIST-small files"),
    ]


def frames(quick: bool, tmp: Path) -> list[Case]:
    from tonic.transforms import ToFrame

    from eventcompress.kernels.frames import frames as ec_frames
    from eventcompress.kernels.frames import frames_spikingjelly
    from tools.bench.bench_frames import (
        SENSOR,
        T_BINS,
        make_events,
        numpy_bincount,
        spikingjelly_numpy,
    )

    n = 200_000 if quick else 2_000_000
    ev = make_events(n)
    structured = ev.to_structured()
    to_frame = ToFrame(sensor_size=(*SENSOR, 2), n_time_bins=T_BINS)
    assert np.array_equal(ec_frames(ev, n_time_bins=T_BINS, edges="tonic"), to_frame(structured))
    assert np.array_equal(frames_spikingjelly(ev, T_BINS, "number"),
                          spikingjelly_numpy(ev, T_BINS, "number"))
    assert np.array_equal(ec_frames(ev, n_time_bins=T_BINS), numpy_bincount(ev))
    what = f"{n:,} random events, 128x128, T = {T_BINS}"
    return [
        Case("frames, tonic edges", lambda: ec_frames(ev, n_time_bins=T_BINS, edges="tonic"),
             lambda: to_frame(structured), "tonic ToFrame", n, "events", what),
        Case("frames, SpikingJelly split_by=number",
             lambda: frames_spikingjelly(ev, T_BINS, "number"),
             lambda: spikingjelly_numpy(ev, T_BINS, "number"),
             "SpikingJelly's integrate_events_by_fixed_frames_number (NumPy, after its source)",
             n, "events", what),
        Case("frames, fixed edges", lambda: ec_frames(ev, n_time_bins=T_BINS),
             lambda: numpy_bincount(ev), "NumPy bincount (reference)", n, "events", what),
    ]


def stc(quick: bool, tmp: Path) -> list[Case]:
    from eventcompress.kernels.stc import compress_events
    from tools.bench.bench_frames import BYTES_PER_EVENT, DURATION_US, T_BINS, make_events

    n = 200_000 if quick else 2_000_000
    ev = make_events(n)
    src = np.ones(n * BYTES_PER_EVENT, np.uint8)
    dst = np.empty_like(src)
    return [Case("STC, tau = window / 2",
                 lambda: compress_events(ev, T_BINS, tau_s=DURATION_US / T_BINS / 2),
                 lambda: np.copyto(dst, src),
                 "memcpy of the events' bytes (physical limit: a ratio < 1 is expected)",
                 n, "events", f"{n:,} random events, 128x128, T = {T_BINS}")]


def filters(quick: bool, tmp: Path) -> list[Case]:
    import tonic.functional as F
    import tonic.transforms as T

    from eventcompress.kernels import denoise, downsample, refractory_period
    from tools.bench.bench_filters import synthetic

    n = 20_000 if quick else 100_000
    ev = synthetic(n, (128, 128), 1_000_000)
    arr = ev.to_structured()
    assert np.array_equal(denoise(ev, 5_000).to_structured(), F.denoise_numpy(arr, 5_000))
    assert np.array_equal(refractory_period(ev, 1_000).to_structured(),
                          F.refractory_period_numpy(arr, 1_000))
    m = 10 * n
    big = synthetic(m, (346, 260), 10_000_000, seed=1)
    big_arr = big.to_structured()
    what = f"{n:,} random events, 128x128, 1 s"
    return [
        Case("denoise(5 ms)", lambda: denoise(ev, 5_000), lambda: F.denoise_numpy(arr, 5_000),
             "tonic denoise_numpy", n, "events", what),
        Case("refractory_period(1 ms)", lambda: refractory_period(ev, 1_000),
             lambda: F.refractory_period_numpy(arr, 1_000), "tonic refractory_period_numpy",
             n, "events", what),
        Case("downsample(2)", lambda: downsample(big, 2),
             lambda: T.Downsample(spatial_factor=0.5)(big_arr), "tonic Downsample", m, "events",
             f"{m:,} random events, 346x260"),
    ]


def prophesee(quick: bool, tmp: Path) -> list[Case]:
    from eventcompress.io.prophesee import read_evt2, write_evt2
    from tools.bench.bench_prophesee import random_stream, read_numpy_evt2

    n = 1_000_000 if quick else 10_000_000
    path = tmp / "big.raw"
    write_evt2(path, random_stream(n, (640, 480)))
    ours = read_evt2(path)
    ref = read_numpy_evt2(path)
    assert all(np.array_equal(getattr(ours, f), r) for f, r in zip("xytp", ref))
    return [Case("EVT 2.0 file", lambda: read_evt2(path), lambda: read_numpy_evt2(path),
                 "vectorised NumPy decoder", n, "events", f"{n:,} random events, 640x480")]


def cache(quick: bool, tmp: Path) -> list[Case]:
    import tonic
    import tonic.io as tonic_io
    import tonic.transforms as T

    from eventcompress.cache import build_from
    from eventcompress.io.nmnist_bin import read_bin
    from eventcompress.kernels import FrameConfig, Pipeline

    files = _nmnist_files(100 if quick else 1_000)
    labels = [int(f.parent.name) for f in files]
    pipe = Pipeline(representation=FrameConfig(n_time_bins=4))
    to_frame = T.ToFrame(sensor_size=(34, 34, 2), n_time_bins=4)
    runs = iter(range(10**6))

    def ours() -> None:  # a fresh folder each call: a matching store would be found, not built
        out = tmp / f"ours-{next(runs)}"
        build_from(((read_bin(f), y) for f, y in zip(files, labels)), pipe, out,
                   dataset="nmnist", split="bench", progress=False)
        shutil.rmtree(out)

    class Files:
        def __len__(self) -> int:
            return len(files)

        def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
            ev = tonic_io.read_mnist_file(str(files[i]), TONIC_NMNIST_DTYPE)
            return to_frame(ev), labels[i]

    def theirs() -> None:
        out = tmp / f"tonic-{next(runs)}"
        ds = tonic.DiskCachedDataset(Files(), cache_path=str(out))
        for i in range(len(ds)):
            ds[i]
        shutil.rmtree(out)

    return [Case("build a frame cache (T = 4), 1 process", ours, theirs,
                 "tonic DiskCachedDataset (filled sample by sample)", len(files), "samples",
                 f"{len(files)} NMNIST-small files", min_time=0.0)]


def data(quick: bool, tmp: Path) -> list[Case]:
    import tonic
    import torch

    from eventcompress.data import CachedDataset
    from tools.bench.bench_data import _Tensors, _to_float32, make_store

    n = 400 if quick else 5_000
    store_path = make_store(tmp / "store", n, (34, 34), 4)
    ds = CachedDataset(store_path)
    theirs_ds = tonic.DiskCachedDataset(_Tensors(ds.store, n), cache_path=str(tmp / "tonic"),
                                        transform=_to_float32)
    for i in range(n):  # fill tonic's cache once (one HDF5 file per sample), untimed
        theirs_ds[i]
    ours_loader = ds.loader(batch_size=128, shuffle=True)
    theirs_loader = torch.utils.data.DataLoader(theirs_ds, batch_size=128, shuffle=True)

    def epoch(loader: Any) -> None:
        for x, _ in loader:
            float(x[0, 0, 0, 0, 0])

    return [Case("one epoch, batch 128, shuffled, no workers", lambda: epoch(ours_loader),
                 lambda: epoch(theirs_loader), "tonic DiskCachedDataset + DataLoader", n,
                 "samples", f"{n:,} STC samples [4, 2, 34, 34]", min_time=0.0)]


def batch(quick: bool, tmp: Path) -> list[Case]:
    from tonic.transforms import ToFrame

    from eventcompress.kernels import FrameConfig, Pipeline, process_many
    from tools.bench.bench_batch import load_streams

    count = 400 if quick else 2_000
    streams, source = load_streams(count)
    structured = [e.to_structured() for e in streams]
    pipe = Pipeline((), FrameConfig(n_time_bins=8, edges="tonic"))
    to_frame = ToFrame(sensor_size=(34, 34, 2), n_time_bins=8)
    assert np.array_equal(process_many(streams[:3], pipe)[2], to_frame(structured[2]))
    return [Case("frames of many streams (process_many, 1 thread)",
                 lambda: process_many(streams, pipe, n_jobs=1),
                 lambda: [to_frame(s) for s in structured], "tonic ToFrame per stream", count,
                 "streams", f"{count:,} streams, {source}")]


def train(quick: bool, tmp: Path) -> list[Case]:
    from tools.bench.bench_train import plif_steppers

    steps, batch_size = (4, 32) if quick else (10, 64)
    fns, params = plif_steppers(steps, batch_size, threads=1)
    return [Case(f"nmnist-plif training step, T = {steps}", fns["ours"], fns["spikingjelly"],
                 "SpikingJelly layers + ParametricLIFNode, same topology", batch_size,
                 "samples", f"batch {batch_size}, 1 thread, {params[0]:,} / {params[1]:,} "
                 "parameters (ours / theirs)", min_time=0.0)]


#: name -> (suite, the detailed script). Order: cheap first.
SUITES: dict[str, tuple[Callable[[bool, Path], list[Case]], str]] = {
    "frames": (frames, "bench_frames.py"),
    "stc": (stc, "kernel_speed.py"),
    "filters": (filters, "bench_filters.py"),
    "prophesee": (prophesee, "bench_prophesee.py"),
    "io": (io, "bench_io.py"),
    "batch": (batch, "bench_batch.py"),
    "cache": (cache, "bench_cache.py"),
    "data": (data, "bench_data.py"),
    "train": (train, "bench_train.py"),
}


def scratch() -> Path:
    return Path(tempfile.mkdtemp(prefix="ec-bench-"))
