"""Prophesee EVT 2.0: 32-bit little-endian words, type in bits 31..28.

=========  =====  =====================================================================
type       code   payload
=========  =====  =====================================================================
CD_OFF     0x0    bits 27..22 timestamp LSBs (6), bits 21..11 x (11), bits 10..0 y (11)
CD_ON      0x1    same as CD_OFF, polarity 1
TIME_HIGH  0x8    bits 27..0 timestamp MSBs (28)
EXT_TRIG   0xA    skipped
OTHERS     0xE    skipped
CONTINUED  0xF    skipped
=========  =====  =====================================================================

Time of a CD event: ``t = (n_wraps << 34) | (time_high << 6) | lsb6`` microseconds, where
``n_wraps`` counts the TIME_HIGH words whose 28-bit value is smaller than the previous
TIME_HIGH's (the 34-bit counter wraps every 2**34 us, about 4.8 hours). CD words before the first
TIME_HIGH are kept with ``time_high = 0``; ``metadata["n_events_before_time_high"]`` counts
them.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
from numba import njit

from ..events import Events, OnUnsorted, enforce_time_order
from .prophesee_header import check_writable, finish_read, format_header, load_payload
from .prophesee_words import as_words, emit_time_high, empty_events, encode_capacity

_TIME_HIGH_MAX = (1 << 28) - 1
_TIME_HIGH_WORD = 8 << 28  # type bits of a TIME_HIGH word


@njit(cache=True, nogil=True)
def _decode_evt2_kernel(words, x, y, t, p):  # noqa: ANN001, ANN202 - numba
    """Fill x, y, t, p (at least len(words) long); returns (n_events, n_before_first_time_high,
    n_unknown_words, index_of_first_unknown_word, max_x, max_y, n_time_decreases)."""
    k = 0
    max_x = 0
    max_y = 0
    last_t = np.int64(0)
    n_back = 0
    high = np.int64(0)  # (n_wraps << 34) | (time_high << 6)
    prev_th = np.int64(0)
    wraps = np.int64(0)
    n_before = -1
    n_unknown = 0
    first_unknown = -1
    for i in range(words.shape[0]):
        w = np.int64(words[i])
        kind = w >> 28
        if kind <= 1:
            # max and order are tracked here so readers skip two more passes over the output
            tv = high | ((w >> 22) & 0x3F)
            xv = (w >> 11) & 0x7FF
            yv = w & 0x7FF
            t[k] = tv
            x[k] = xv
            y[k] = yv
            p[k] = kind
            k += 1
            n_back += tv < last_t
            last_t = tv
            max_x = max(max_x, xv)
            max_y = max(max_y, yv)
        elif kind == 8:
            th = w & 0x0FFFFFFF
            if th < prev_th:
                wraps += 1
            prev_th = th
            high = (wraps << 34) | (th << 6)
            if n_before < 0:
                n_before = k
        elif kind != 0xA and kind != 0xE and kind != 0xF:
            if first_unknown < 0:
                first_unknown = i
            n_unknown += 1
    if n_before < 0:
        n_before = k
    return k, n_before, n_unknown, first_unknown, max_x, max_y, n_back


def _trim(arrays: tuple[np.ndarray, ...], k: int, n: int) -> tuple[np.ndarray, ...]:
    # Views keep the over-allocated buffers alive; copy only when most of them would be waste.
    if k * 4 < n * 3:
        return tuple(a[:k].copy() for a in arrays)
    return tuple(a[:k] for a in arrays)


def decode_evt2(words: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Decode EVT 2.0 words (uint32) into CD events ``(x, y, t, p)`` in stream order.

    x, y are uint16, t int64 microseconds, p uint8 (1 = ON). Non-CD words are skipped.
    """
    w = as_words(words, "<u4")
    out = empty_events(len(w))
    k = _decode_evt2_kernel(w, *out)[0]
    return _trim(out, k, len(w))  # type: ignore[return-value]


def read_evt2(
    path: str | os.PathLike[str],
    sensor_size: tuple[int, int] | None = None,
    on_unsorted: OnUnsorted = "warn",
    check_range: bool = True,
) -> Events:
    """Read a Prophesee RAW file in EVT 2.0 encoding.

    ``sensor_size`` (width, height), when given, overrides the header; otherwise it comes from
    ``% geometry`` / ``% format``, else from the plugin name (Gen3 -> 640x480, Gen4.1 / IMX636
    -> 1280x720, GenX320 -> 320x320), else HeaderError. ``check_range`` raises
    CoordinateRangeError for an event outside the sensor (else such events are kept).
    """
    header, words, spath = load_payload(path, "<u4", "2.0", "read_evt2")
    out = empty_events(len(words))
    k, n_before, n_unknown, first_unknown, max_x, max_y, n_back = _decode_evt2_kernel(words, *out)
    decoded = _trim(out, k, len(words))
    if n_unknown:
        warnings.warn(
            f"{spath}: skipped {n_unknown} EVT 2.0 word(s) of unknown type, the first at byte "
            f"offset {header.payload_offset + 4 * first_unknown}; is this really EVT 2.0?",
            UserWarning, stacklevel=2,
        )

    def word_of_event(i: int) -> int:
        return int(np.flatnonzero((words >> 28) <= 1)[i])

    events = finish_read(
        decoded, header=header, path=spath, fmt="evt2", sensor_size=sensor_size,
        check_range=check_range, word_of_event=word_of_event, word_size=4, max_xy=(max_x, max_y),
        metadata={"n_events_before_time_high": int(n_before), "n_unknown_words": int(n_unknown)},
    )
    return enforce_time_order(events, on_unsorted, spath) if n_back else events


@njit(cache=True, nogil=True)
def _encode_evt2_kernel(x, y, t, p, out):  # noqa: ANN001, ANN202 - numba
    n = t.shape[0]
    j = 0
    wraps = np.int64(0)
    cur_th = np.int64(-1)  # nothing written yet: forces the first TIME_HIGH word
    for i in range(n):
        ti = t[i]
        tw = ti >> 34
        th = (ti >> 6) & _TIME_HIGH_MAX
        if tw != wraps or th != cur_th:
            j, cur_th, wraps = emit_time_high(out, j, th, tw, cur_th, wraps, _TIME_HIGH_WORD,
                                               _TIME_HIGH_MAX)
        out[j] = np.uint32(
            (np.int64(p[i]) << 28) | ((ti & 0x3F) << 22) | (np.int64(x[i]) << 11) | np.int64(y[i])
        )
        j += 1
    return j


def _encode_evt2(events: Events) -> np.ndarray:
    out = np.empty(encode_capacity(events.t, 2, 34), np.uint32)
    j = _encode_evt2_kernel(events.x, events.y, events.t, events.p, out)
    return out[:j]


def encode_evt2(events: Events) -> np.ndarray:
    """EVT 2.0 words (uint32) for time-sorted ``events`` (see write_evt2)."""
    check_writable(events, "<memory>", "EVT 2.0")
    return _encode_evt2(events)


def write_evt2(
    path: str | os.PathLike[str], events: Events, header: dict[str, object] | None = None,
) -> None:
    """Write ``events`` (time-sorted, non-negative t, inside sensor_size <= 2048x2048, p in {0,1})
    as an EVT 2.0 RAW file; ``header`` adds ``% key value`` lines (e.g. metadata["header"] of a
    file read before). ``% evt``, ``% format``, ``% geometry`` and ``% end`` are always written.
    TIME_HIGH words are emitted only where the 28 high time bits change."""
    spath = os.fspath(path)
    check_writable(events, spath, "EVT 2.0")
    words = _encode_evt2(events)
    with open(spath, "wb") as fh:
        fh.write(format_header("2.0", events.sensor_size, header))
        words.astype("<u4", copy=False).tofile(fh)
