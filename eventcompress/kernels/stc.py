"""Spatio-temporal compression (STC) of an event stream into T exponentially weighted frames.

After the compression step of arXiv 2203.10006, in our own formulation (docs/preprocessing.md):
the stream ``[t0, t1)`` is cut into T windows; an event at time ``t`` in window k (end ``e_k``)
adds ``exp(-(e_k - t) / tau_s)`` to its pixel and polarity channel. ``carry=True`` also decays the
previous window's value into the next one (a first-order synapse sampled at the window ends), and
``fine_bins=M`` replaces the exact weight by that of M fine count frames per window.

Layers: :class:`STCConfig` holds and validates the settings (``compress_events(events, steps,
**kw)`` is ``STCConfig(steps=steps, **kw)(events)``); ``stc_plan`` derives once per
configuration the :class:`~._stc_kernel.STCPlan` the kernel takes; one Numba kernel per batch
(``_stc_kernel.compress_batch``) returns a status code per sample, and the errors are raised
here. A single call is a batch of one, so single calls and batches give bit-identical results.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar, Literal

import numpy as np

from ..errors import ConfigError, CoordinateRangeError
from ..events import Events
from . import _stc_kernel as K
from ._binning import POLARITY_MODES
from ._stc_kernel import STCPlan
from .common import set_field
from .packed import PackBuffers, PackedEvents, address_table
from .registry import register_config
from .representations import (
    Representation,
    check_out,
    choice,
    integral_to_int,
    into_contiguous,
    optional_time,
    polarity_channels,
    positive_int,
)

__all__ = ["STCConfig", "STCPlan", "compress_events", "stc_plan"]

STCEdges = Literal["fixed", "count"]
Normalize = Literal["none", "max", "mean-std"]

_NORMALIZE = {"none": 0, "max": 1, "mean-std": 2}


@register_config
@dataclass(frozen=True)
class STCConfig(Representation):
    """Settings of spatio-temporal compression (see ``compress_events`` for their meaning) as
    a frozen, hashable configuration; ``cfg(events)`` returns the ``(steps, P, H, W)`` float32
    array."""

    steps: int = 10
    tau_s: float = math.inf
    edges: str = "fixed"
    start_time: int | None = None
    end_time: int | None = None
    carry: bool = False
    fine_bins: int | None = None
    normalize: str = "none"
    polarity: str = "split"

    schema_version: ClassVar[int] = 1

    def __post_init__(self) -> None:
        src = type(self).__name__
        positive_int(self, "steps")
        tau = self.tau_s
        if isinstance(tau, bool) or not isinstance(tau, (int, float, np.integer, np.floating)):
            raise ConfigError(f"must be a number of microseconds, got {tau!r}", source=src,
                              key="tau_s")
        if math.isnan(tau) or tau <= 0:
            raise ConfigError(f"must be > 0 (math.inf for plain counts), got {tau!r}",
                              source=src, key="tau_s")
        set_field(self, "tau_s", float(tau))
        choice(self, "edges", ("fixed", "count"))
        optional_time(self, "start_time")
        optional_time(self, "end_time")
        if not isinstance(self.carry, (bool, np.bool_)):
            raise ConfigError(f"must be a bool, got {self.carry!r}", source=src, key="carry")
        set_field(self, "carry", bool(self.carry))
        set_field(self, "fine_bins", integral_to_int(self.fine_bins))
        positive_int(self, "fine_bins", optional=True)
        choice(self, "normalize", tuple(_NORMALIZE))
        choice(self, "polarity", tuple(POLARITY_MODES))
        # Not a field: derived once here so that calls skip validation.
        set_field(self, "_plan", stc_plan(self))

    @property
    def output_dtype(self) -> np.dtype:
        return np.dtype(np.float32)

    @property
    def n_channels(self) -> int:
        return polarity_channels(self.polarity)

    def output_shape(self, sensor_size: tuple[int, int]) -> tuple[int, int, int, int]:
        """(steps, P, H, W) for a sensor of ``(width, height)``."""
        w, h = (int(v) for v in sensor_size)
        return (self.steps, self.n_channels, h, w)

    def __call__(self, events: Events) -> np.ndarray:
        if not isinstance(events, Events):
            raise TypeError(f"STCConfig takes an Events, got {type(events).__name__}")
        out = np.empty((1, *self.output_shape(events.sensor_size)), np.float32)
        _compress_packed(PackedEvents.single(events), out, self._plan, events.metadata)
        return out[0]

    def fill_batch(self, packed: PackedEvents, out: np.ndarray) -> None:
        """``out[k] = self(packed.sample(k))`` for every sample of the packed batch, in one
        GIL-free Numba call."""
        check_out(self, out, len(packed), packed.sensor_size)
        into_contiguous(out, lambda target: _compress_packed(packed, target, self._plan))

    def fill_streams(self, streams: Sequence[Events], out: np.ndarray,
                     buffers: PackBuffers | None = None) -> None:
        """``out[k] = self(streams[k])`` for every stream, in one GIL-free Numba call that reads
        each stream where it lies, without packing a copy first (``process_many`` uses it for a
        pipeline without event steps: on small streams the copy was most of the memory
        traffic; ``buffers`` are not needed)."""
        if not streams:
            return
        check_out(self, out, len(streams), streams[0].sensor_size)
        into_contiguous(out, lambda target: _compress_streams(streams, target, self._plan))


@lru_cache(maxsize=64)
def _lo_table(inv_tau: float) -> np.ndarray:
    table = K.exp_table(1 << K.SHIFT, 1.0, inv_tau)
    table.flags.writeable = False
    return table


def stc_plan(config: STCConfig) -> STCPlan:
    """The kernel's form of a (validated) configuration."""
    inv_tau = 0.0 if math.isinf(config.tau_s) else 1.0 / config.tau_s
    return STCPlan(
        config.steps, config.n_channels, config.edges == "count", config.start_time is not None,
        config.start_time or 0, config.end_time is not None, config.end_time or 0, inv_tau,
        config.fine_bins or 0, config.carry, _NORMALIZE[config.normalize],
        POLARITY_MODES[config.polarity], _lo_table(inv_tau),
    )


_NO_TABLE = np.empty((0, 4), np.int64)


def _run(packed: PackedEvents, out: np.ndarray, plan: STCPlan,
         table: np.ndarray = _NO_TABLE) -> tuple[np.ndarray, np.ndarray]:
    n = len(packed.offsets) - 1
    status = np.empty(n, np.int64)
    aux = np.empty(n, np.int64)
    K.compress_batch(packed.x, packed.y, packed.t, packed.p, packed.offsets, table, out, plan,
                     status, aux)
    return status, aux


def _raise_for(code: int, bad: int, events: Events, plan: STCPlan) -> None:
    if code == K.OUTSIDE:
        raise CoordinateRangeError.outside(events.metadata.get("path"), bad, events.x[bad],
                                           events.y[bad], events.sensor_size)
    if code == K.LAST_IS_MAX:
        raise ValueError("a timestamp of 2**63-1 leaves no room for the exclusive end time")
    t0 = plan.start_time if plan.has_start else int(events.t[0])
    t1 = plan.end_time if plan.has_end else int(events.t[-1]) + 1
    if code == K.EMPTY_RANGE:
        raise ValueError(f"end_time ({t1}) must be greater than start_time ({t0})")
    raise ValueError(f"[{t0}, {t1}) is too long: t1 - t0 must fit int64")


def _compress_packed(packed: PackedEvents, out: np.ndarray, plan: STCPlan,
                     metadata: dict | None = None) -> None:
    """``out[k]`` = STC of ``packed.sample(k)`` for every sample, in one kernel call (unsorted
    samples are sorted and run again; the first failing sample raises). ``out`` must be
    C-contiguous float32 of the right shape."""
    status, aux = _run(packed, out, plan)
    _finish_failed(status, aux, lambda k: packed.sample(k, metadata), out, plan)


def _compress_streams(streams: Sequence[Events], out: np.ndarray, plan: STCPlan) -> None:
    """As ``_compress_packed``, reading each stream where it lies (no packed copy; see
    ``packed.address_table``)."""
    table, offsets = address_table(streams)
    first = streams[0]
    like = PackedEvents(first.x[:0], first.y[:0], first.t[:0], first.p[:0], offsets,
                        first.sensor_size)
    status, aux = _run(like, out, plan, table)
    _finish_failed(status, aux, lambda k: streams[k], out, plan)


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

    ``compress_events(events, steps, **kw)`` is ``STCConfig(steps=steps, **kw)(events)``; bad
    settings raise :class:`~eventcompress.errors.ConfigError` (a ValueError) naming the field.
    """
    return STCConfig(steps, tau_s, edges, start_time, end_time, carry, fine_bins, normalize,
                     polarity)(events)
