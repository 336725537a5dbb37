"""Many event streams in one set of flat arrays, for kernels that process a batch per call.

``PackedEvents`` concatenates K streams of one sensor size; sample ``k`` occupies
``offsets[k]:offsets[k + 1]``. Every event -> event kernel in this package works on this form
(a single stream is a batch of one), so :func:`~eventcompress.kernels.batch.process_many` runs
each step over a whole chunk of samples in one GIL-free Numba call instead of paying Python
overhead per sample. Random steps draw their per-sample parameters from a counter-based hash
(:func:`uniforms`) so that a batch and a sample-by-sample loop agree exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.arrayobj import make_array, populate_array

from ..events import Events

__all__ = ["PackBuffers", "PackedEvents", "address_table", "compact", "uniforms"]


class PackBuffers:
    """Flat arrays that :meth:`PackedEvents.pack` fills and reuses from call to call.

    Packing into fresh arrays costs a page fault per 4 KiB touched, and with several threads
    each allocating and freeing megabytes per chunk the allocator keeps handing memory back to
    the kernel (unmapping it, which stalls every thread of the process) and faulting it in
    again, so packing stops scaling with threads. A worker that packs chunk after chunk into
    one ``PackBuffers`` touches its memory once. The packed arrays are views into the buffers:
    they are overwritten by the next ``pack`` with the same buffers, so use one per thread and
    drop the packed chunk before packing the next.
    """

    def __init__(self) -> None:
        self._arrays: tuple[np.ndarray, ...] = ()

    def take(self, n: int, dtypes: tuple[np.dtype, ...]) -> tuple[np.ndarray, ...]:
        """Views of length ``n`` of one array per dtype; reallocated (with 1/4 headroom, so
        that slowly growing chunks do not reallocate each time) when too short."""
        if (len(self._arrays) != len(dtypes) or self._arrays[0].shape[0] < n
                or any(a.dtype != d for a, d in zip(self._arrays, dtypes))):
            size = n + n // 4 if self._arrays else n
            self._arrays = tuple(np.empty(size, d) for d in dtypes)
        return tuple(a[:n] for a in self._arrays)


def address_table(streams: Sequence[Events]) -> tuple[np.ndarray, np.ndarray]:
    """``(table, offsets)`` of streams that share one sensor size and field dtypes:
    ``table[k]`` holds the data addresses of stream k's ``x, y, t, p`` and ``offsets`` the
    running event counts (K+1). Kernels read (or ``pack`` copies) the streams through it, so
    the GIL is held only for noting four addresses per stream (about 1 us), not for copying
    events. The table is valid while the streams are alive."""
    size = streams[0].sensor_size
    first = streams[0]
    dtypes = (first.x.dtype, first.y.dtype, first.t.dtype, first.p.dtype)
    offsets = np.zeros(len(streams) + 1, np.int64)
    np.cumsum([len(e) for e in streams], out=offsets[1:])
    table = np.empty((len(streams), 4), np.int64)
    for k, e in enumerate(streams):
        if e.sensor_size != size:
            raise ValueError(f"stream {k} has sensor size {e.sensor_size}, expected {size}")
        if (e.x.dtype, e.y.dtype, e.t.dtype, e.p.dtype) != dtypes \
                or not _note_addresses(e.x, e.y, e.t, e.p, table, k):
            raise ValueError(f"stream {k} does not have the contiguous {dtypes} fields of "
                             "stream 0; build it through Events(...)")
    return table, offsets


@dataclass(frozen=True, eq=False)
class PackedEvents:
    """K streams of one ``sensor_size`` in flat ``x, y, t, p`` arrays plus ``offsets`` (K+1)."""

    x: np.ndarray
    y: np.ndarray
    t: np.ndarray
    p: np.ndarray
    offsets: np.ndarray
    sensor_size: tuple[int, int]

    @classmethod
    def pack(cls, streams: Sequence[Events], buffers: PackBuffers | None = None
             ) -> PackedEvents:
        """Concatenate streams that share one sensor size (into ``buffers`` if given: the
        result then lives only until their next use).

        One GIL-free Numba copy of the whole chunk rather than ``np.concatenate``, which
        releases and retakes the GIL for every piece: with threads packing at the same time,
        a handoff per stream makes packing stop scaling."""
        if not streams:
            raise ValueError("pack needs at least one stream")
        first = streams[0]
        if len(streams) == 1:
            offsets = np.array([0, len(first)], np.int64)
            return cls(first.x, first.y, first.t, first.p, offsets, first.sensor_size)
        table, offsets = address_table(streams)
        n = int(offsets[-1])
        dtypes = (first.x.dtype, first.y.dtype, first.t.dtype, first.p.dtype)
        if buffers is None:
            x, y, t, p = (np.empty(n, d) for d in dtypes)
        else:
            x, y, t, p = buffers.take(n, dtypes)
        _gather_streams(table, offsets, x, y, t, p)
        return cls(x, y, t, p, offsets, first.sensor_size)

    @classmethod
    def single(cls, events: Events) -> PackedEvents:
        return cls(events.x, events.y, events.t, events.p,
                   np.array([0, len(events)], np.int64), events.sensor_size)

    def __len__(self) -> int:
        return int(self.offsets.shape[0] - 1)

    @property
    def n_events(self) -> int:
        return int(self.offsets[-1])

    def sample(self, k: int, metadata: dict | None = None) -> Events:
        """Stream ``k`` as :class:`Events` (views into the flat arrays, no copy)."""
        a, b = int(self.offsets[k]), int(self.offsets[k + 1])
        return Events._trusted(self.x[a:b], self.y[a:b], self.t[a:b], self.p[a:b],
                               self.sensor_size, {} if metadata is None else metadata)

    def unpack(self) -> list[Events]:
        return [self.sample(k) for k in range(len(self))]

    def replace(self, x=None, y=None, t=None, p=None, offsets=None, sensor_size=None
                ) -> PackedEvents:
        return PackedEvents(
            self.x if x is None else x, self.y if y is None else y,
            self.t if t is None else t, self.p if p is None else p,
            self.offsets if offsets is None else offsets,
            self.sensor_size if sensor_size is None else
            (int(sensor_size[0]), int(sensor_size[1])),
        )


@intrinsic
def array_at(typingctx, address, n, like):
    """A 1-D C array of ``like``'s dtype over ``n`` elements at ``address``, not owning them
    (the caller keeps the memory alive for as long as the view is used)."""
    arrty = types.Array(like.dtype, 1, "C")

    def codegen(context, builder, signature, args):
        address_v, n_v, _ = args
        ary = make_array(arrty)(context, builder)
        itemsize = context.get_constant(types.intp, context.get_abi_sizeof(
            context.get_data_type(like.dtype)))
        data = builder.inttoptr(address_v, context.get_data_type(like.dtype).as_pointer())
        populate_array(ary, data=data, shape=cgutils.pack_array(builder, [n_v]),
                       strides=cgutils.pack_array(builder, [itemsize]), itemsize=itemsize,
                       meminfo=None)
        return ary._getvalue()

    return arrty(types.int64, types.int64, like), codegen


@njit(cache=True, nogil=True, inline="always")
def _dense(a):
    return a.shape[0] < 2 or a.strides[0] == a.itemsize


@njit(cache=True)
def _note_addresses(x, y, t, p, table, k):
    # Holds the GIL on purpose: a call this short gains nothing from releasing it, and every
    # release would be a handoff to another packing thread. False for a strided field.
    if not (_dense(x) and _dense(y) and _dense(t) and _dense(p)):
        return False
    table[k, 0] = x.ctypes.data
    table[k, 1] = y.ctypes.data
    table[k, 2] = t.ctypes.data
    table[k, 3] = p.ctypes.data
    return True


@njit(cache=True, nogil=True)
def _gather_streams(table, offsets, x, y, t, p):
    """Stream k (fields at the addresses in ``table[k]``) into ``[offsets[k], offsets[k+1])``."""
    for k in range(table.shape[0]):
        a, b = offsets[k], offsets[k + 1]
        m = b - a
        if m:
            x[a:b] = array_at(table[k, 0], m, x)
            y[a:b] = array_at(table[k, 1], m, y)
            t[a:b] = array_at(table[k, 2], m, t)
            p[a:b] = array_at(table[k, 3], m, p)


# -- keeping a subset of the events --------------------------------------------------------------
# Indices are uint64 on purpose (as in ``_binning``): Numba wraps negative signed indices, and
# those compares and adds, with the registers they take, made the copy loop 1.5x slower.
_U = np.uint64


@njit(cache=True, nogil=True)
def _kept_counts(offsets, keep):
    """The running counts (K+1) of the events with ``keep[i]``, sample by sample."""
    n_samples = offsets.shape[0] - 1
    new_offsets = np.zeros(n_samples + 1, np.int64)
    for k in range(n_samples):
        count = 0
        for i in range(_U(offsets[k]), _U(offsets[k + 1])):
            count += keep[i]
        new_offsets[k + 1] = new_offsets[k] + count
    return new_offsets


@njit(cache=True, nogil=True)
def _compact(x, y, t, p, offsets, keep, x0, y0, new_offsets):
    # The events with keep[i], sample by sample, x and y moved by -x0[k], -y0[k] (per sample;
    # empty origins: not moved). ``new_offsets``: the running counts of kept events if the
    # mask kernel counted them (one pass less), else empty. One loop for both: a shift by 0
    # costs nothing measurable next to the stores.
    n_samples = offsets.shape[0] - 1
    if new_offsets.shape[0] == 0:
        new_offsets = _kept_counts(offsets, keep)
    total = new_offsets[n_samples]
    ox = np.empty(total, np.uint16)
    oy = np.empty(total, np.uint16)
    ot = np.empty(total, np.int64)
    op = np.empty(total, np.uint8)
    moved = x0.shape[0] != 0
    j = _U(0)
    for k in range(n_samples):
        ax = x0[k] if moved else 0
        ay = y0[k] if moved else 0
        for i in range(_U(offsets[k]), _U(offsets[k + 1])):
            if keep[i]:
                ox[j] = np.int64(x[i]) - ax
                oy[j] = np.int64(y[i]) - ay
                ot[j] = t[i]
                op[j] = p[i]
                j += _U(1)
    return ox, oy, ot, op, new_offsets


_NO_ORIGINS = np.zeros(0, np.int64)


def compact(packed: PackedEvents, keep: np.ndarray, x0: np.ndarray | None = None,
            y0: np.ndarray | None = None, new_offsets: np.ndarray | None = None
            ) -> PackedEvents:
    """The events of ``packed`` where ``keep`` (one bool per event), in order, each sample's
    coordinates moved by ``(-x0[k], -y0[k])`` if origins are given (crops); ``new_offsets``
    (K+1 running counts of kept events) where the mask kernel counted them. The one compaction
    kernel of the filters, crops and time crop; without origins and with every event kept, the
    batch itself."""
    counted = _NO_ORIGINS if new_offsets is None else new_offsets
    if x0 is None:
        if (new_offsets[-1] == packed.n_events) if new_offsets is not None else keep.all():
            return packed
        x0 = y0 = _NO_ORIGINS
    x, y, t, p, offsets = _compact(packed.x, packed.y, packed.t, packed.p, packed.offsets, keep,
                                   x0, y0, counted)
    return packed.replace(x=x, y=y, t=t, p=p, offsets=offsets)


# -- counter-based random numbers -------------------------------------------------------------
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


@njit(cache=True, nogil=True)
def splitmix64(z):
    z = z + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@njit(cache=True, nogil=True)
def _uniforms(seed, epoch, sample_indices, position, count):
    out = np.empty((sample_indices.shape[0], count), np.float64)
    base = splitmix64(np.uint64(seed))
    base = splitmix64(base ^ np.uint64(epoch))
    for k in range(sample_indices.shape[0]):
        h = splitmix64(base ^ np.uint64(sample_indices[k]))
        h = splitmix64(h ^ np.uint64(position))
        for j in range(count):
            v = splitmix64(h ^ np.uint64(j + 1))
            out[k, j] = np.float64(v >> np.uint64(11)) * (1.0 / 9007199254740992.0)
    return out


def uniforms(seed: int, epoch: int, sample_indices: np.ndarray | Sequence[int], position: int,
             count: int) -> np.ndarray:
    """``[len(sample_indices), count]`` numbers uniform in ``[0, 1)`` (53 bits), a pure function
    of ``(seed, epoch, sample_index, position, j)`` built from SplitMix64."""
    idx = np.ascontiguousarray(sample_indices, dtype=np.int64)
    for name, value in (("seed", seed), ("epoch", epoch), ("position", position)):
        if int(value) < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
    if idx.size and int(idx.min()) < 0:
        raise ValueError("sample indices must be >= 0")
    return _uniforms(int(seed), int(epoch), idx, int(position), int(count))


def scaled_draws(u: np.ndarray, n: int) -> np.ndarray:
    """``floor(u * n)`` clipped to ``n - 1``: a uniform integer in ``0..n-1`` per draw."""
    return np.minimum((np.asarray(u, np.float64) * n).astype(np.int64), n - 1)
