"""Pictures of event streams, cached tensors and training runs (PNG files via matplotlib).

matplotlib is the optional ``plot`` extra (``pip install 'eventcompress[plot]'``); every function
here imports it on call and raises :class:`PlotUnavailableError` with the install line when it
is missing. The learning curves reuse the report's plots (:mod:`eventcompress.train.report`).

>>> import eventcompress as ec
>>> from eventcompress.plot import plot_events
>>> plot_events(ec.read("Train/3/00012.bin"), "events.png")
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .errors import EventCompressError
from .events import Events

__all__ = ["PlotUnavailableError", "plot_events", "plot_run", "plot_sample", "plot_tensor"]

INSTALL_HINT = ("matplotlib is not installed; it is the optional plot extra: "
                "pip install 'eventcompress[plot]' (or pip install matplotlib)")

#: ON events red, OFF events blue (the usual event-camera convention).
ON_COLOUR, OFF_COLOUR = "#d62728", "#1f77b4"

#: Raster panels draw at most this many events (an even subsample beyond it): a scatter of
#: millions of points is slow to draw and no more readable.
MAX_RASTER_EVENTS = 60_000


class PlotUnavailableError(EventCompressError):
    """matplotlib (the ``plot`` extra) is not installed."""


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise PlotUnavailableError(INSTALL_HINT) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _finish(fig: Any, path: str | os.PathLike[str] | None, dpi: int) -> Any:
    """The figure itself when ``path`` is None, else the path it was saved (and closed) to."""
    if path is None:
        return fig
    plt = _pyplot()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=dpi)
    plt.close(fig)
    return target


def _accumulated_rgb(events: Events) -> np.ndarray:
    """[H, W, 3] image on black: ON counts light the red channel, OFF counts the blue one (both:
    magenta), each scaled to its 99th percentile (a few hot pixels would otherwise leave the
    rest dark)."""
    w, h = events.sensor_size
    levels = []
    for polarity in (1, 0):
        sel = events.p == polarity
        counts = np.bincount(events.y[sel].astype(np.int64) * w + events.x[sel],
                             minlength=w * h).reshape(h, w).astype(np.float64)
        nonzero = counts[counts > 0]
        scale = max(float(np.percentile(nonzero, 99)), 1.0) if nonzero.size else 1.0
        levels.append(np.clip(counts / scale, 0.0, 1.0))
    on, off = levels
    return np.stack([on, 0.25 * np.minimum(on, off), off], axis=-1)


def plot_events(events: Events, path: str | os.PathLike[str] | None = None, *,
                title: str | None = None, dpi: int = 100) -> Any:
    """x–t and y–t rasters and the accumulated image of one stream, ON red / OFF blue.

    Writes a PNG to ``path`` when given and returns the figure otherwise (closed once saved).
    Time is shown in milliseconds from the first event.
    """
    plt = _pyplot()
    if len(events) == 0:
        raise EventCompressError("plot_events: the stream has no events")
    step = max(1, len(events) // MAX_RASTER_EVENTS)
    sub = slice(None, None, step)
    t_ms = (events.t[sub] - events.t[0]) / 1000.0
    on = events.p[sub] == 1
    w, h = events.sensor_size
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8),
                             gridspec_kw={"width_ratios": [2.2, 2.2, 1.2]})
    for ax, coord, size, name in ((axes[0], events.x[sub], w, "x"),
                                  (axes[1], events.y[sub], h, "y")):
        ax.scatter(t_ms[~on], coord[~on], s=1.5, c=OFF_COLOUR, lw=0, label="OFF")
        ax.scatter(t_ms[on], coord[on], s=1.5, c=ON_COLOUR, lw=0, label="ON")
        ax.set_xlabel("t (ms)")
        ax.set_ylabel(f"{name} (pixel)")
        ax.set_ylim(-0.5, size - 0.5)
        ax.set_title(f"{name}–t raster", fontsize="medium")
    axes[0].legend(loc="upper right", markerscale=6, fontsize="small")
    axes[2].imshow(_accumulated_rgb(events), interpolation="nearest")
    axes[2].set_title("accumulated (ON red, OFF blue)", fontsize="medium")
    axes[2].set_xlabel("x")
    axes[2].set_ylabel("y")
    shown = "" if step == 1 else f", every {step}th shown"
    fig.suptitle(title or f"{len(events):,} events, {w}x{h}, "
                 f"{(events.t[-1] - events.t[0]) / 1000:.0f} ms{shown}", fontsize="medium")
    fig.tight_layout()
    return _finish(fig, path, dpi)


def plot_tensor(tensor: np.ndarray, path: str | os.PathLike[str] | None = None, *,
                title: str = "", dpi: int = 100) -> Any:
    """The T steps of one ``[T, P, H, W]`` sample, a row per polarity channel (channel 0 = OFF,
    1 = ON, as in the frames and STC kernels), one colour scale per row."""
    plt = _pyplot()
    x = np.asarray(tensor, dtype=np.float64)
    if x.ndim != 4:
        raise EventCompressError(f"plot_tensor: expected a [T, P, H, W] array, got shape "
                                 f"{tuple(x.shape)}")
    steps, channels = x.shape[:2]
    names = {0: "OFF", 1: "ON"} if channels == 2 else {}
    cmaps = {0: "Blues", 1: "Reds"} if channels == 2 else {}
    fig, axes = plt.subplots(channels, steps, figsize=(1.6 * steps + 1.2, 1.7 * channels + 0.6),
                             squeeze=False)
    for c in range(channels):
        top = float(x[:, c].max()) or 1.0
        for t in range(steps):
            ax = axes[c, t]
            image = ax.imshow(x[t, c], cmap=cmaps.get(c, "viridis"), vmin=0.0, vmax=top,
                              interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_title(f"t = {t}", fontsize="small")
            if t == 0:
                ax.set_ylabel(names.get(c, f"channel {c}"), fontsize="small")
        fig.colorbar(image, ax=list(axes[c]), shrink=0.8, pad=0.01)
    fig.suptitle(title, fontsize="medium")
    return _finish(fig, path, dpi)


def plot_sample(store: Any, index: int, path: str | os.PathLike[str] | None = None, *,
                dpi: int = 100) -> Any:
    """Sample ``index`` of a dense cache store (a path or an open
    :class:`~eventcompress.cache.Store`) drawn by :func:`plot_tensor`, titled with its label
    (and class name where the dataset is known) and sample id."""
    from .cache import open_store

    st = open_store(store) if isinstance(store, (str, os.PathLike)) else store
    if st.ragged:
        raise EventCompressError(f"{st.path}: a store of events, not tensors; plot one "
                                 "recording with plot_events (eventcompress plot events FILE)")
    if not 0 <= index < len(st):
        raise EventCompressError(f"{st.path}: index {index} out of range (the store holds "
                                 f"{len(st)} samples: 0..{len(st) - 1})")
    label = int(st.labels[index])
    name = _class_name(st.attrs.get("dataset"), label)
    shape = "x".join(str(v) for v in st.shape)
    title = (f"sample {index} ({st.sample_ids[index]}): label {label}{name}; "
             f"[T, P, H, W] = {shape}, {st.dtype}")
    return plot_tensor(st.read([index])[0], path, title=title, dpi=dpi)


def _class_name(dataset: str | None, label: int) -> str:
    if not dataset:
        return ""
    from .datasets import get_dataset

    try:
        name = get_dataset(dataset).class_name(label)
    except (EventCompressError, IndexError, KeyError):
        return ""
    return "" if name == str(label) else f" = {name}"


def plot_run(run_dir: str | os.PathLike[str], path: str | os.PathLike[str], *,
             firing_rates: bool = True) -> list[Path]:
    """Learning curves (loss and accuracy per epoch, train dashed, validation solid) of a run
    directory, finished or not, from its ``metrics.jsonl``; with ``firing_rates`` also the
    validation firing rate of every neuron layer, written next to ``path`` as
    ``<stem>-firing_rates.png``. The same plots as ``eventcompress report``."""
    _pyplot()
    from .train.report import plot_curves, plot_firing_rates
    from .train.rundir import RunDir

    run = RunDir(run_dir)
    rows = run.read_metrics()
    if not rows:
        raise EventCompressError(f"{run.path}: no finished epoch yet (no rows in metrics.jsonl)"
                                 if run.path.is_dir() else f"{run.path}: no such run directory")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    runs = [(run, {}, rows)]
    written = [plot_curves(runs, target)]
    if firing_rates and rows[0].get("firing_rates"):
        written.append(plot_firing_rates(runs, target.with_name(
            f"{target.stem}-firing_rates{target.suffix}")))
    return written
