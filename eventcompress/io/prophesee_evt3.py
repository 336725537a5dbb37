"""Prophesee EVT 3.0: 16-bit little-endian words, type in bits 15..12, decoded as a state machine.

===========  =====  ===============================================================
type         code   payload / effect
===========  =====  ===============================================================
ADDR_Y       0x0    bits 10..0 y (bit 11 = master/slave, ignored) -> current y
ADDR_X       0x2    bit 11 polarity, bits 10..0 x -> ONE event (x, y, t, p)
VECT_BASE_X  0x3    bit 11 polarity, bits 10..0 x -> vector base x and polarity
VECT_12      0x4    bits 11..0 mask -> event at base + k for each set bit k; base += 12
VECT_8       0x5    bits 7..0 mask -> same; base += 8
TIME_LOW     0x6    bits 11..0 -> time bits 11..0
CONTINUED_4  0x7    skipped
TIME_HIGH    0x8    bits 11..0 -> time bits 23..12
EXT_TRIGGER  0xA    skipped
OTHERS       0xE    skipped
CONTINUED_12 0xF    skipped
===========  =====  ===============================================================

Time: ``t = (n_wraps << 24) | (time_high << 12) | time_low`` microseconds, where ``n_wraps``
counts TIME_HIGH words whose value is smaller than the previous TIME_HIGH's (the 24-bit counter
wraps every 2**24 us = 16.8 s). Events before the first TIME_HIGH use time_high = 0 and are
counted in ``metadata["n_events_before_time_high"]``; before the first ADDR_Y, y = 0.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
from numba import njit

from ..events import Events, OnUnsorted, enforce_time_order
from .prophesee_header import check_writable, finish_read, format_header, load_payload
from .prophesee_words import as_words, emit_time_high, empty_events, encode_capacity

_HIGH_MAX = (1 << 12) - 1
_TIME_HIGH_WORD = 8 << 12  # type bits of a TIME_HIGH word


@njit(cache=True, nogil=True, inline="always")
def _popcount12(v):  # noqa: ANN001, ANN202 - numba
    v = v - ((v >> 1) & 0x555)
    v = (v & 0x333) + ((v >> 2) & 0x333)
    v = (v + (v >> 4)) & 0x0F0F
    return (v + (v >> 8)) & 0x1F


@njit(cache=True, nogil=True)
def _count_evt3_kernel(words, stop_after):  # noqa: ANN001, ANN202 - numba
    """Number of CD events; with ``stop_after >= 0``, the index of the word that emits event
    number ``stop_after`` instead."""
    n_ev = 0
    for i in range(words.shape[0]):
        w = np.int64(words[i])
        kind = w >> 12
        if kind == 2:
            n_ev += 1
        elif kind == 4:
            n_ev += _popcount12(w & 0xFFF)
        elif kind == 5:
            n_ev += _popcount12(w & 0xFF)
        else:
            continue
        if 0 <= stop_after < n_ev:
            return i
    return n_ev


@njit(cache=True, nogil=True)
def _decode_evt3_kernel(words, x, y, t, p):  # noqa: ANN001, ANN202 - numba
    """Fill x, y, t, p (exactly as long as _count_evt3_kernel says); returns
    (n_before_first_time_high, n_unknown_words, index_of_first_unknown_word, max_x, max_y,
    n_time_decreases)."""
    k = 0
    max_x = 0
    max_y = 0
    last_t = np.int64(0)
    n_back = 0
    cur_y = 0
    high = np.int64(0)  # (n_wraps << 24) | (time_high << 12)
    low = np.int64(0)
    now = np.int64(0)
    prev_th = np.int64(0)
    wraps = np.int64(0)
    base_x = 0
    vpol = 0
    n_before = -1
    n_unknown = 0
    first_unknown = -1
    for i in range(words.shape[0]):
        w = np.int64(words[i])
        kind = w >> 12
        if kind == 2:
            xv = w & 0x7FF
            x[k] = xv
            y[k] = cur_y
            t[k] = now
            p[k] = (w >> 11) & 1
            k += 1
            # max and order are tracked here so readers skip two more passes over the output
            max_x = max(max_x, xv)
            max_y = max(max_y, cur_y)
            n_back += now < last_t
            last_t = now
        elif kind == 0:
            cur_y = w & 0x7FF
        elif kind == 4 or kind == 5:
            mask = w & (0xFFF if kind == 4 else 0xFF)
            if mask:
                max_y = max(max_y, cur_y)
                n_back += now < last_t
                last_t = now
            xx = base_x
            while mask:
                if mask & 1:
                    x[k] = xx
                    y[k] = cur_y
                    t[k] = now
                    p[k] = vpol
                    k += 1
                mask >>= 1
                xx += 1
            if xx > base_x:
                max_x = max(max_x, xx - 1)  # the highest set bit
            base_x += 12 if kind == 4 else 8
        elif kind == 3:
            base_x = w & 0x7FF
            vpol = (w >> 11) & 1
        elif kind == 6:
            low = w & 0xFFF
            now = high | low
        elif kind == 8:
            th = w & 0xFFF
            if th < prev_th:
                wraps += 1
            prev_th = th
            high = (wraps << 24) | (th << 12)
            now = high | low
            if n_before < 0:
                n_before = k
        elif kind != 7 and kind != 0xA and kind != 0xE and kind != 0xF:
            if first_unknown < 0:
                first_unknown = i
            n_unknown += 1
    if n_before < 0:
        n_before = k
    return n_before, n_unknown, first_unknown, max_x, max_y, n_back


def decode_evt3(words: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Decode EVT 3.0 words (uint16) into CD events ``(x, y, t, p)`` in stream order.

    x, y are uint16, t int64 microseconds, p uint8 (1 = ON). Two passes: count, then fill
    arrays of exactly that length.
    """
    w = as_words(words, "<u2")
    out = empty_events(_count_evt3_kernel(w, -1))
    _decode_evt3_kernel(w, *out)
    return out


def read_evt3(
    path: str | os.PathLike[str],
    sensor_size: tuple[int, int] | None = None,
    on_unsorted: OnUnsorted = "warn",
    check_range: bool = True,
) -> Events:
    """Read a Prophesee RAW file in EVT 3.0 encoding (see read_evt2 for the arguments)."""
    header, words, spath = load_payload(path, "<u2", "3.0", "read_evt3")
    out = empty_events(_count_evt3_kernel(words, -1))
    n_before, n_unknown, first_unknown, max_x, max_y, n_back = _decode_evt3_kernel(words, *out)
    if n_unknown:
        warnings.warn(
            f"{spath}: skipped {n_unknown} EVT 3.0 word(s) of unknown type, the first at byte "
            f"offset {header.payload_offset + 2 * first_unknown}; is this really EVT 3.0?",
            UserWarning, stacklevel=2,
        )
    events = finish_read(
        out, header=header, path=spath, fmt="evt3", sensor_size=sensor_size,
        check_range=check_range, word_of_event=lambda i: _count_evt3_kernel(words, i),
        word_size=2, max_xy=(max_x, max_y),
        metadata={"n_events_before_time_high": int(n_before), "n_unknown_words": int(n_unknown)},
    )
    return enforce_time_order(events, on_unsorted, spath) if n_back else events


@njit(cache=True, nogil=True)
def _encode_evt3_kernel(x, y, t, p, use_vectors, out):  # noqa: ANN001, ANN202 - numba
    n = t.shape[0]
    j = 0
    wraps = np.int64(0)
    cur_th = np.int64(-1)  # nothing written yet (the reader holds TIME_HIGH 0, TIME_LOW 0)
    cur_low = np.int64(0)
    cur_t = np.int64(-1)
    cur_y = -1
    vbase = -1  # vector base x the reader holds (-1: none, or not to be relied on)
    vpol = -1
    i = 0
    while i < n:
        ti = t[i]
        if ti != cur_t:
            tw = ti >> 24
            th = (ti >> 12) & _HIGH_MAX
            if tw != wraps or th != cur_th:
                j, cur_th, wraps = emit_time_high(out, j, th, tw, cur_th, wraps,
                                                   _TIME_HIGH_WORD, _HIGH_MAX)
            lo = ti & 0xFFF
            if lo != cur_low:
                out[j] = np.uint16((6 << 12) | lo)
                j += 1
                cur_low = lo
            cur_t = ti
        yi = np.int64(y[i])
        if yi != cur_y:
            out[j] = np.uint16(yi)
            j += 1
            cur_y = yi
        pi = np.int64(p[i])
        # A group: consecutive events sharing t, y, p with strictly increasing x, so the
        # vector decoding order (ascending x) is the input order.
        g_end = i + 1
        if use_vectors:
            while (
                g_end < n and t[g_end] == ti and y[g_end] == y[i] and p[g_end] == p[i]
                and x[g_end] > x[g_end - 1]
            ):
                g_end += 1
        # Vector state is reused only by the vector word right after a vector word, as cameras
        # emit it: decoders such as expelliarmus share one polarity between ADDR_X and vectors.
        vbase = -1
        a = i
        while a < g_end:
            xa = np.int64(x[a])
            if vbase >= 0 and vpol == pi and vbase <= xa < vbase + 12:
                base = vbase
                need_base = 0
            else:
                base = xa
                need_base = 1
            b = a
            mask = 0
            while b < g_end and np.int64(x[b]) < base + 12:
                mask |= 1 << (np.int64(x[b]) - base)
                b += 1
            if use_vectors and 1 + need_base <= b - a:
                if need_base:
                    out[j] = np.uint16((3 << 12) | (pi << 11) | base)
                    j += 1
                if b == g_end and mask < 256:
                    out[j] = np.uint16((5 << 12) | mask)
                    vbase = base + 8
                else:
                    out[j] = np.uint16((4 << 12) | mask)
                    vbase = base + 12
                j += 1
                vpol = pi
            else:
                for c in range(a, b):
                    out[j] = np.uint16((2 << 12) | (pi << 11) | np.int64(x[c]))
                    j += 1
                vbase = -1
            a = b
        i = g_end
    return j


def _encode_evt3(events: Events, use_vectors: bool) -> np.ndarray:
    # per event at most TIME_HIGH, TIME_LOW, ADDR_Y and one ADDR_X / vector word
    out = np.empty(encode_capacity(events.t, 4, 24), np.uint16)
    j = _encode_evt3_kernel(events.x, events.y, events.t, events.p, bool(use_vectors), out)
    return out[:j]


def encode_evt3(events: Events, use_vectors: bool = True) -> np.ndarray:
    """EVT 3.0 words (uint16) for time-sorted ``events`` (see write_evt3)."""
    check_writable(events, "<memory>", "EVT 3.0")
    return _encode_evt3(events, use_vectors)


def write_evt3(
    path: str | os.PathLike[str],
    events: Events,
    header: dict[str, object] | None = None,
    use_vectors: bool = True,
) -> None:
    """Write ``events`` (time-sorted, non-negative t, inside sensor_size <= 2048x2048, p in {0,1})
    as an EVT 3.0 RAW file.

    TIME_HIGH / TIME_LOW / ADDR_Y words are emitted only when their value changes. With
    ``use_vectors``, runs of events sharing t, y and p at increasing x within a 12-pixel window
    become VECT_BASE_X + VECT_12 (or VECT_8 for a run's last chunk that fits in 8 pixels)
    whenever that takes no more words than ADDR_X words would.
    """
    spath = os.fspath(path)
    check_writable(events, spath, "EVT 3.0")
    words = _encode_evt3(events, use_vectors)
    with open(spath, "wb") as fh:
        fh.write(format_header("3.0", events.sensor_size, header))
        words.astype("<u2", copy=False).tofile(fh)
