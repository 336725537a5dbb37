"""Spatio-temporal compression (STC) of an event stream into T exponentially weighted frames.

After the compression step of arXiv 2203.10006, in our own formulation (docs/preprocessing.md):
the stream ``[t0, t1)`` is cut into T windows; an event at time ``t`` in window k (end ``e_k``)
adds ``exp(-(e_k - t) / tau_s)`` to its pixel and polarity channel. ``carry=True`` also decays the
previous window's value into the next one (a first-order synapse sampled at the window ends), and
``fine_bins=M`` replaces the exact weight by that of M fine count frames per window.

The work is done by one Numba kernel per batch (``_stc_kernel.compress_batch``);
``compress_events`` is a batch of one and ``compress_packed`` fills a whole packed chunk, so both
give bit-identical results.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Literal, NamedTuple

import numpy as np

from ..errors import CoordinateRangeError
from ..events import Events
from . import _stc_kernel as K
from ._binning import POLARITY_MODES
from .packed import PackedEvents, address_table

STCEdges = Literal["fixed", "count"]
Normalize = Literal["none", "max", "mean-std"]

_INT64_MAX = int(np.iinfo(np.int64).max)
_INT64_MIN = int(np.iinfo(np.int64).min)
_NORMALIZE = {"none": 0, "max": 1, "mean-std": 2}


class STCPlan(NamedTuple):
    """Validated arguments of ``compress_events`` in the form the kernel takes."""

    steps: int
    n_channels: int
    edges_count: bool
    has_start: bool
    start_time: int
    has_end: bool
    end_time: int
    inv_tau: float
    fine_bins: int
    carry: bool
    normalize: int
    pmode: int
    lo_tab: np.ndarray


@lru_cache(maxsize=64)
def _lo_table(inv_tau: float) -> np.ndarray:
    table = K.exp_table(1 << K.SHIFT, 1.0, inv_tau)
    table.flags.writeable = False
    return table


def stc_plan(steps, tau_s, edges, start_time, end_time, carry, fine_bins, normalize,
             polarity) -> STCPlan:
    """Validate the arguments of ``compress_events`` (ValueError / TypeError) into a plan."""
    check_stc_arguments(steps, tau_s, edges, carry, fine_bins, normalize, polarity)
    for name, v in (("start_time", start_time), ("end_time", end_time)):
        if v is not None and (isinstance(v, bool) or not float(v).is_integer()
                              or not _INT64_MIN <= int(v) <= _INT64_MAX):
            raise ValueError(f"{name} must be an integer number of microseconds in the int64 "
                             f"range, got {v!r}")
    inv_tau = 0.0 if math.isinf(tau_s) else 1.0 / float(tau_s)
    return STCPlan(
        int(steps), 2 if polarity == "split" else 1, edges == "count", start_time is not None,
        0 if start_time is None else int(start_time), end_time is not None,
        0 if end_time is None else int(end_time), inv_tau,
        0 if fine_bins is None else int(fine_bins), bool(carry), _NORMALIZE[normalize],
        POLARITY_MODES[polarity], _lo_table(inv_tau),
    )


_NO_TABLE = np.empty((0, 4), np.int64)


def _run(packed: PackedEvents, out: np.ndarray, plan: STCPlan,
         table: np.ndarray = _NO_TABLE) -> tuple[np.ndarray, np.ndarray]:
    n = len(packed.offsets) - 1
    status = np.empty(n, np.int64)
    aux = np.empty(n, np.int64)
    K.compress_batch(packed.x, packed.y, packed.t, packed.p, packed.offsets, table, out,
                     plan.edges_count, plan.has_start, plan.start_time, plan.has_end,
                     plan.end_time, plan.inv_tau, plan.fine_bins, plan.carry, plan.normalize,
                     plan.pmode, plan.lo_tab, status, aux)
    return status, aux


def _raise_for(code: int, bad: int, events: Events, plan: STCPlan) -> None:
    w, h = events.sensor_size
    if code == K.OUTSIDE:
        raise CoordinateRangeError(
            events.metadata.get("path"),
            f"event at (x={events.x[bad]}, y={events.y[bad]}) lies outside the sensor {w}x{h}",
            expected="0 <= x < width and 0 <= y < height",
        )
    if code == K.LAST_IS_MAX:
        raise ValueError("a timestamp of 2**63-1 leaves no room for the exclusive end time")
    t0 = plan.start_time if plan.has_start else int(events.t[0])
    t1 = plan.end_time if plan.has_end else int(events.t[-1]) + 1
    if code == K.EMPTY_RANGE:
        raise ValueError(f"end_time ({t1}) must be greater than start_time ({t0})")
    raise ValueError(f"[{t0}, {t1}) is too long: t1 - t0 must fit int64")


def compress_packed(packed: PackedEvents, out: np.ndarray, plan: STCPlan,
                    metadata: dict | None = None) -> None:
    """``out[k] = compress_events(packed.sample(k), ...)`` for every sample, in one kernel call
    (unsorted samples are sorted and run again; the first failing sample raises)."""
    _check_out(out, len(packed), packed.sensor_size, plan)
    status, aux = _run(packed, out, plan)
    _finish_failed(status, aux, lambda k: packed.sample(k, metadata), out, plan)


def compress_streams(streams: Sequence[Events], out: np.ndarray, plan: STCPlan) -> None:
    """``out[k] = compress_events(streams[k], ...)`` for every stream, in one kernel call that
    reads each stream where it lies (no packed copy; see ``packed.address_table``)."""
    if not streams:
        return
    _check_out(out, len(streams), streams[0].sensor_size, plan)
    table, offsets = address_table(streams)
    first = streams[0]
    like = PackedEvents(first.x[:0], first.y[:0], first.t[:0], first.p[:0], offsets,
                        first.sensor_size)
    status, aux = _run(like, out, plan, table)
    _finish_failed(status, aux, lambda k: streams[k], out, plan)


def _check_out(out: np.ndarray, n: int, sensor_size: tuple[int, int], plan: STCPlan) -> None:
    w, h = sensor_size
    shape = (n, plan.steps, plan.n_channels, h, w)
    if out.shape != shape or out.dtype != np.float32 or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous float32 array of shape {shape}, got "
                         f"{out.dtype} {out.shape}")


def _finish_failed(status: np.ndarray, aux: np.ndarray, sample: Callable[[int], Events],
                   out: np.ndarray, plan: STCPlan) -> None:
    """Sort and run again the unsorted samples; raise for the first sample that failed."""
    for k in np.flatnonzero(status):
        events = sample(int(k))
        code, bad = int(status[k]), int(aux[k])
        if code == K.UNSORTED:
            events = events.sorted_by_time()
            code, bad = (int(v[0]) for v in _run(PackedEvents.single(events), out[k:k + 1],
                                                  plan))
        if code != K.OK:
            _raise_for(code, bad, events, plan)


def check_stc_arguments(steps, tau_s, edges, carry, fine_bins, normalize, polarity) -> None:
    """Raise ValueError / TypeError for arguments ``compress_events`` cannot take."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps <= 0:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    if isinstance(tau_s, bool) or not isinstance(tau_s, (int, float, np.integer, np.floating)):
        raise TypeError(f"tau_s must be a number of microseconds, got {tau_s!r}")
    if math.isnan(tau_s) or tau_s <= 0:
        raise ValueError(f"tau_s must be > 0 (math.inf for plain counts), got {tau_s!r}")
    if edges not in ("fixed", "count"):
        raise ValueError(f"edges must be 'fixed' or 'count', got {edges!r}")
    if not isinstance(carry, (bool, np.bool_)):
        raise TypeError(f"carry must be a bool, got {carry!r}")
    if fine_bins is not None and (isinstance(fine_bins, bool)
                                  or not isinstance(fine_bins, (int, np.integer)) or fine_bins <= 0):
        raise ValueError(f"fine_bins must be a positive integer or None, got {fine_bins!r}")
    if normalize not in ("none", "max", "mean-std"):
        raise ValueError(f"normalize must be 'none', 'max' or 'mean-std', got {normalize!r}")
    if polarity not in POLARITY_MODES:
        raise ValueError(f"polarity must be 'split', 'merge' or 'signed', got {polarity!r}")


def compress_events(
    events: Events,
    steps: int,
    *,
    tau_s: float = math.inf,
    edges: STCEdges = "fixed",
    start_time: int | None = None,
    end_time: int | None = None,
    carry: bool = False,
    fine_bins: int | None = None,
    normalize: Normalize = "none",
    polarity: Literal["split", "merge", "signed"] = "split",
) -> np.ndarray:
    """Spatio-temporal compression into a float32 array of shape ``(steps, P, H, W)``.

    Windows: ``edges="fixed"`` cuts ``[start_time, end_time)`` (default first event to last
    event + 1 us) into ``steps`` windows of equal duration (integer edges
    ``t0 + ceil(k (t1 - t0) / steps)``, so an event falls in window
    ``floor((t - t0) steps / (t1 - t0))``); ``edges="count"`` into windows of ``N // steps`` events,
    the last one taking the remainder, window k ending at the first event of window k+1.

    An event at ``t`` in window k (end ``e_k``) adds ``exp(-(e_k - t) / tau_s)`` (``tau_s`` in
    microseconds; ``math.inf`` gives plain counts). ``fine_bins=M`` uses the quantised weight
    ``lambda_k ** (M - 1 - j)`` of the fine bin j (of M equal bins of the window) holding the
    event, ``lambda_k = exp(-(e_k - b_k) / (M tau_s))``. ``carry=True`` adds
    ``exp(-(e_k - e_{k-1}) / tau_s) * I_{k-1}`` to window k. ``normalize``: "none", "max"
    (divide by the largest value if > 0) or "mean-std" (subtract the mean, divide by the
    population standard deviation if > 0), over the whole tensor. Weights and sums are computed
    in float64. An unsorted stream is sorted first (stable); the result does not depend on order
    within a timestamp.
    """
    if not isinstance(events, Events):
        raise TypeError(f"compress_events takes an Events, got {type(events).__name__}")
    plan = stc_plan(steps, tau_s, edges, start_time, end_time, carry, fine_bins, normalize,
                    polarity)
    w, h = events.sensor_size
    out = np.empty((1, plan.steps, plan.n_channels, h, w), np.float32)
    compress_packed(PackedEvents.single(events), out, plan, events.metadata)
    return out[0]
