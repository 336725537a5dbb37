"""Word-array helpers shared by the EVT 2.0 and EVT 3.0 readers and writers."""

from __future__ import annotations

import numpy as np
from numba import njit


def as_words(words: np.ndarray, dtype: str) -> np.ndarray:
    """``words`` as a native-order array of ``dtype``'s width (TypeError for another shape or
    width); a view when it already is one."""
    arr = np.asarray(words)
    if arr.ndim != 1 or arr.dtype.kind != "u" or arr.dtype.itemsize != np.dtype(dtype).itemsize:
        raise TypeError(
            f"expected a 1-D {np.dtype(dtype).name} word array, got {arr.dtype} {arr.shape}"
        )
    return arr.astype(np.dtype(dtype).newbyteorder("="), copy=False)


def empty_events(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    # Allocated by NumPy, not inside the kernels: NumPy requests huge pages for large buffers,
    # which makes first-touch writes of 10 M events several times cheaper on Linux.
    return (np.empty(n, np.uint16), np.empty(n, np.uint16), np.empty(n, np.int64),
            np.empty(n, np.uint8))


def encode_capacity(t: np.ndarray, words_per_event: int, wrap_shift: int) -> int:
    """Upper bound of the words a writer emits: per event, plus two per time wrap."""
    last = int(t[-1]) if len(t) else 0
    return words_per_event * len(t) + 2 * (last >> wrap_shift) + 4


@njit(cache=True, nogil=True, inline="always")
def emit_time_high(out, j, th, tw, cur_th, wraps, tag, high_max):  # noqa: ANN001, ANN202 - numba
    """Write from ``out[j]`` the TIME_HIGH words that move a reader at (``wraps``, ``cur_th``)
    to (``tw``, ``th``); returns the new (j, cur_th, wraps). ``tag`` is the word's type bits
    (``8 << 28`` in EVT 2.0, ``8 << 12`` in EVT 3.0), ``high_max`` the largest TIME_HIGH and
    ``cur_th = -1`` means nothing written yet (the reader then holds TIME_HIGH 0). Shared by
    both writers; inlined because an array argument costs reference counting per call."""
    # The reader counts a wrap whenever TIME_HIGH decreases, so crossing k wraps needs k
    # decreases: step through MAX -> 0 for every wrap but a last one it can reach directly.
    while wraps < tw:
        if wraps + 1 == tw and th < cur_th:
            out[j] = tag | th
            j += 1
            cur_th = th
            wraps = tw
        else:
            if cur_th != high_max:
                out[j] = tag | high_max
                j += 1
            out[j] = tag
            j += 1
            cur_th = 0
            wraps += 1
    if th != cur_th:
        out[j] = tag | th
        j += 1
        cur_th = th
    return j, cur_th, wraps
