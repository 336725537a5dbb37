"""Where frame counts are accumulated and how they become the requested output dtype."""

from __future__ import annotations

from functools import cache

import numpy as np

from ._binning import POLARITY_MODES, SIGNED

INT64_MAX = int(np.iinfo(np.int64).max)

#: Output dtypes of ``frames`` (Numba has no float16: that one is produced by a final cast).
ALLOWED_DTYPES = tuple(
    np.dtype(d)
    for d in (np.uint8, np.uint16, np.uint32, np.int8, np.int16, np.int32, np.int64,
              np.float16, np.float32, np.float64)
)


def n_channels(polarity: str) -> int:
    """Number of polarity channels P of a frame stack: 2 for "split", 1 otherwise."""
    if polarity not in POLARITY_MODES:
        raise ValueError(f"polarity must be 'split', 'merge' or 'signed', got {polarity!r}")
    return 2 if polarity == "split" else 1


def check_output_dtype(dtype, polarity: str) -> np.dtype:
    """The output dtype as ``np.dtype``, refused where it cannot hold the values."""
    dt = np.dtype(dtype)
    if dt not in ALLOWED_DTYPES:
        raise ValueError(f"frame dtype must be one of {[d.name for d in ALLOWED_DTYPES]}, got {dt}")
    if polarity == "signed" and dt.kind == "u":
        raise ValueError(f"polarity='signed' gives negative values; {dt} cannot hold them")
    return dt


# Cached: np.iinfo / np.finfo cost microseconds each, a visible share of a small frames call.
@cache
def _dtype_limits(dt: np.dtype) -> tuple[float, float]:
    if dt.kind == "f":
        info = np.finfo(dt)
        return float(info.min), float(info.max)
    info = np.iinfo(dt)
    return int(info.min), int(info.max)


@cache
def _exact_limit(dt: np.dtype) -> int:
    """Largest count that ``+= 1`` in ``dt`` reaches exactly."""
    if dt.kind == "f":
        return 2 ** (np.finfo(dt).nmant + 1)
    return int(np.iinfo(dt).max)


class Accumulator:
    """Chooses where the kernel counts: in the output itself when no count can go wrong there
    (saturating increments, or slices too short to overflow), else in a wide integer buffer that
    is clipped (or checked) into the output dtype afterwards."""

    def __init__(self, shape, dtype: np.dtype, mode: int, longest: int, on_overflow: str):
        self.shape, self.dtype, self.mode, self.on_overflow = shape, dtype, mode, on_overflow
        exact = _exact_limit(dtype)
        if mode != SIGNED and dtype.kind in "iu":
            self.buf, self.cap, self.direct = np.zeros(shape, dtype), _dtype_limits(dtype)[1], True
        elif longest <= exact and longest <= _dtype_limits(dtype)[1] and dtype != np.float16:
            # (Numba has no float16 arrays: float16 always goes through the wide buffer.)
            cap = float(INT64_MAX) if dtype.kind == "f" else INT64_MAX
            self.buf, self.cap, self.direct = np.zeros(shape, dtype), cap, True
        else:
            wide = np.int32 if longest < 2**31 else np.int64
            self.buf, self.cap, self.direct = (np.zeros(shape, wide), _dtype_limits(np.dtype(wide))[1],
                                               False)

    def finish(self, n_over: int, first_over: int) -> np.ndarray:
        if self.direct:
            if n_over and self.on_overflow == "raise":
                where = np.unravel_index(first_over, self.shape)
                self._raise(f"above {np.iinfo(self.dtype).max}", where)
            return self.buf
        lo, hi = _dtype_limits(self.dtype)
        buf = self.buf
        if self.on_overflow == "raise" and buf.size:
            big, small = int(buf.max()), int(buf.min())
            if big > hi or small < lo:
                bad = big if big > hi else small
                where = np.unravel_index(int(np.argmax(buf == bad)), self.shape)
                self._raise(bad, where)
        if buf.size and (buf.max() > hi or buf.min() < lo):
            buf = np.clip(buf, lo, hi)
        return buf.astype(self.dtype)

    def _raise(self, value, where) -> None:
        hi = _dtype_limits(self.dtype)[1]
        cell = dict(zip(("frame", "channel", "y", "x"), (int(v) for v in where)))
        raise OverflowError(
            f"frame value {value} at {cell} does not fit {self.dtype} (max {hi:g}); use a wider "
            "dtype or on_overflow='saturate'"
        )
