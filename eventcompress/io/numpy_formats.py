"""``.npy`` / ``.npz`` event files as written by tonic- and SpikingJelly-style code.

* ``.npy``, layout ``structured``: a structured array with fields x, y, t, p (any order, any
  integer or bool dtypes; t in microseconds), as ``np.save`` of a tonic event array.
* ``.npy``, layout ``tonic-dvsgesture``: tonic's pre-cut DVS Gesture samples, an unstructured
  (N, 4) array with columns x, y, p, t and **t in milliseconds** (float or int). We read
  ``t_us = round(t_ms * 1000)`` (round half to even); tonic itself multiplies by 1000 and
  truncates toward zero when casting to int64, which can be 1 us lower for fractional ms.
* ``.npz``: SpikingJelly's ``np.savez(_compressed)`` with keys t, x, y, p (any dtypes, ``>u4``
  included).

Every conversion is exact or raises: a value that does not fit, or a non-integral coordinate,
is an error rather than a silent cast.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import CoordinateRangeError, EmptyFileError, FormatError
from ..events import TONIC_DTYPE, Events, OnUnsorted, enforce_time_order
from ._common import PathLike, check_on_unsorted, sensor_tuple

LAYOUTS = ("auto", "structured", "tonic-dvsgesture")
DVSGESTURE_SENSOR = (128, 128)
_FIELDS = ("x", "y", "t", "p")
_MAX_EXACT_US = 1 << 50  # float64 t_ms round-trips to integer us exactly below this


def _require_nonempty_file(path: str, what: str) -> None:
    if os.path.getsize(path) == 0:
        raise EmptyFileError(path, "the file is empty (0 bytes)", offset=0, expected=what)


def _integral(values: np.ndarray, name: str, path: str | None) -> np.ndarray:
    """Float column to int64 when every value is a whole number; integer/bool pass through."""
    if values.dtype.kind in "biu":
        return values
    if values.dtype.kind != "f":
        raise FormatError(path, f"column {name} has dtype {values.dtype}",
                          expected="integer, bool or float columns")
    if values.size and (not np.all(np.isfinite(values)) or np.any(values != np.round(values))):
        i = int(np.flatnonzero(~np.isfinite(values) | (values != np.round(values)))[0])
        raise FormatError(path, f"column {name} holds the non-integral value {values[i]!r}",
                          row=i, expected=f"whole-number {name} values")
    return values.astype(np.int64)


def _sensor_for(x: np.ndarray, y: np.ndarray, sensor_size: Any, default: tuple[int, int] | None,
                path: str | None) -> tuple[int, int]:
    """The given sensor (checked against the events), else ``default`` grown where events lie
    beyond it, else the smallest sensor holding every event."""
    fit = (int(x.max()) + 1 if x.size else 1, int(y.max()) + 1 if y.size else 1)
    if sensor_size is None:
        if default is not None:
            return max(default[0], fit[0]), max(default[1], fit[1])
        return fit
    size = sensor_tuple(sensor_size)
    if fit[0] > size[0] or fit[1] > size[1]:
        bad = np.flatnonzero((x >= size[0]) | (y >= size[1]))
        i = int(bad[0])
        raise CoordinateRangeError(
            path, f"event {i} at (x={int(x[i])}, y={int(y[i])}) lies outside the "
            f"{size[0]}x{size[1]} sensor", row=i, expected="a sensor_size holding every event")
    return size


def _build(x, y, t, p, sensor_size, default, path, fmt, on_unsorted) -> Events:
    for name, arr in (("x", x), ("y", y)):
        if arr.size and arr.dtype.kind != "b" and int(arr.min()) < 0:
            raise CoordinateRangeError(path, f"negative {name} ({int(arr.min())})",
                                       expected=f"{name} >= 0")
    size = _sensor_for(np.asarray(x), np.asarray(y), sensor_size, default, path)
    p = np.asarray(p)
    if p.size and p.dtype.kind != "b" and (int(p.min()) < 0 or int(p.max()) > 1):
        raise FormatError(path, f"polarity values in [{int(p.min())}, {int(p.max())}]",
                          expected="p in {0, 1}")
    try:
        events = Events(x, y, t, p, size, {"format": fmt, "path": path})
    except OverflowError as exc:
        raise FormatError(path, str(exc), expected="values that fit Events' dtypes") from None
    return enforce_time_order(events, on_unsorted, path)


def from_dvsgesture_array(array: np.ndarray, sensor_size: Any = None, path: str | None = None,
                          on_unsorted: OnUnsorted = "warn") -> Events:
    """Events from tonic's DVS Gesture (N, 4) array: columns x, y, p, t[ms]."""
    if array.ndim != 2 or array.shape[1] != 4:
        raise FormatError(path, f"array of shape {array.shape}",
                          expected="an (N, 4) array with columns x, y, p, t_ms")
    x = _integral(array[:, 0], "x", path)
    y = _integral(array[:, 1], "y", path)
    p = _integral(array[:, 2], "p", path)
    t_ms = array[:, 3]
    if t_ms.dtype.kind == "f":
        t_us = np.round(t_ms.astype(np.float64) * 1000.0)
        if t_us.size and not np.all(np.abs(t_us) < _MAX_EXACT_US):
            raise FormatError(path, "t_ms values are not finite or too large to convert exactly",
                              expected="|t| < 2^50 us")
        t = t_us.astype(np.int64)
    elif t_ms.dtype.kind in "iu":
        t = t_ms.astype(np.int64) * 1000
    else:
        raise FormatError(path, f"t column has dtype {t_ms.dtype}", expected="int or float ms")
    return _build(x, y, t, p, sensor_size, DVSGESTURE_SENSOR, path, "npy", on_unsorted)


def read_npy(
    path: PathLike,
    sensor_size: tuple[int, int] | None = None,
    layout: str = "auto",
    on_unsorted: OnUnsorted = "warn",
) -> Events:
    """Read a tonic-style ``.npy`` (see the module docstring for the two layouts).

    ``layout="auto"`` takes structured arrays as ``structured`` and (N, 4) arrays as
    ``tonic-dvsgesture``. Without ``sensor_size``, DVS Gesture arrays get 128 x 128 (when every
    event fits; an axis grows where events lie beyond it) and structured arrays the smallest
    sensor holding every event.
    """
    check_on_unsorted(on_unsorted)
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}; got {layout!r}")
    spath = os.fspath(path)
    _require_nonempty_file(spath, "a NumPy .npy file")
    try:
        array = np.load(spath, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise FormatError(spath, f"not a readable .npy file ({exc})",
                          expected="a NumPy .npy file") from None
    if isinstance(array, np.lib.npyio.NpzFile):
        array.close()
        raise FormatError(spath, "this is an .npz archive", expected="a .npy file (use read_npz)")
    if layout == "auto":
        layout = "structured" if array.dtype.names else "tonic-dvsgesture"
    if layout == "tonic-dvsgesture":
        events = from_dvsgesture_array(array, sensor_size, spath, on_unsorted)
        return events.with_metadata(layout="tonic-dvsgesture")
    names = array.dtype.names or ()
    missing = [f for f in _FIELDS if f not in names]
    if array.ndim != 1 or missing:
        raise FormatError(spath, f"array of shape {array.shape} and fields {names}",
                          expected="a 1-D structured array with fields x, y, t, p")
    events = _build(array["x"], array["y"], array["t"], array["p"], sensor_size, None, spath,
                    "npy", on_unsorted)
    return events.with_metadata(layout="structured", dtype=array.dtype.descr)


def to_dvsgesture_array(events: Events, dtype: Any = np.float64) -> np.ndarray:
    """tonic's DVS Gesture layout: (N, 4) columns x, y, p, t in ms (float unless t is whole ms)."""
    dtype = np.dtype(dtype)
    t = events.t
    if dtype.kind == "f":
        if t.size and np.any(np.abs(t) >= _MAX_EXACT_US):
            raise ValueError("t beyond 2^50 us cannot be stored exactly as float ms")
        t_ms = t / 1000.0
    else:
        if np.any(t % 1000):
            i = int(np.flatnonzero(t % 1000)[0])
            raise ValueError(f"event {i}: t={int(t[i])} us is not a whole number of ms; "
                             f"use a float dtype for tonic-dvsgesture")
        t_ms = t // 1000
    out = np.empty((len(events), 4), dtype)
    for col, arr in enumerate((events.x, events.y, events.p, t_ms)):
        if dtype.kind != "f" and arr.size:
            info = np.iinfo(dtype)
            if int(arr.min()) < info.min or int(arr.max()) > info.max:
                raise OverflowError(f"column {col} values do not fit {dtype}")
        out[:, col] = arr
    return out


def write_npy(path: PathLike, events: Events, dtype: Any = None, layout: str = "structured") -> None:
    """``np.save`` the events: a structured array (tonic's default dtype unless ``dtype``) or,
    with ``layout="tonic-dvsgesture"``, the (N, 4) x, y, p, t_ms array (``dtype`` float64 by
    default). Values that do not fit ``dtype`` raise."""
    if layout == "structured":
        array = events.to_structured(TONIC_DTYPE if dtype is None else dtype)
    elif layout == "tonic-dvsgesture":
        array = to_dvsgesture_array(events, np.float64 if dtype is None else dtype)
    else:
        raise ValueError(f"layout must be 'structured' or 'tonic-dvsgesture'; got {layout!r}")
    with open(os.fspath(path), "wb") as fh:
        np.save(fh, array, allow_pickle=False)


def to_spikingjelly_dict(events: Events) -> dict[str, np.ndarray]:
    """``{"t", "x", "y", "p"}`` arrays as SpikingJelly stores them (our canonical dtypes)."""
    return {"t": events.t, "x": events.x, "y": events.y, "p": events.p}


def from_spikingjelly_dict(
    d: Mapping[str, np.ndarray], sensor_size: Any = None, *, path: str | None = None,
    on_unsorted: OnUnsorted = "warn",
) -> Events:
    """Events from a mapping with keys t, x, y, p (any integer/bool dtypes, any byte order)."""
    missing = [k for k in _FIELDS if k not in d]
    if missing:
        raise FormatError(path, f"missing keys {missing}; found {sorted(d)}",
                          expected="arrays t, x, y, p")
    cols = {}
    for k in _FIELDS:
        arr = np.asarray(d[k]).reshape(-1)
        cols[k] = _integral(arr, k, path) if arr.dtype.kind == "f" else arr
    return _build(cols["x"], cols["y"], cols["t"], cols["p"], sensor_size, None, path, "npz",
                  on_unsorted)


def read_npz(
    path: PathLike, sensor_size: tuple[int, int] | None = None, on_unsorted: OnUnsorted = "warn",
) -> Events:
    """Read a SpikingJelly ``.npz`` (keys t, x, y, p). Without ``sensor_size`` the smallest
    sensor holding every event is used."""
    check_on_unsorted(on_unsorted)
    spath = os.fspath(path)
    _require_nonempty_file(spath, "an .npz archive with keys t, x, y, p")
    try:
        archive = np.load(spath, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise FormatError(spath, f"not a readable .npz archive ({exc})",
                          expected="an .npz archive with keys t, x, y, p") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise FormatError(spath, "this is a .npy array, not an .npz archive",
                          expected="an .npz archive with keys t, x, y, p (use read_npy)")
    with archive:
        d = {k: archive[k] for k in archive.files if k in _FIELDS}
    return from_spikingjelly_dict(d, sensor_size, path=spath, on_unsorted=on_unsorted)


def write_npz(path: PathLike, events: Events, compressed: bool = True) -> None:
    """Write keys t, x, y, p with ``np.savez_compressed`` (or ``np.savez``), as SpikingJelly does."""
    save = np.savez_compressed if compressed else np.savez
    with open(os.fspath(path), "wb") as fh:
        save(fh, **to_spikingjelly_dict(events))
