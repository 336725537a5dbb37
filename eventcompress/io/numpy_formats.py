"""``.npy`` / ``.npz`` event files as written by tonic- and SpikingJelly-style code.

* ``.npy``, layout ``structured``: a structured array with fields x, y, t, p (any order, any
  integer or bool dtypes; t in microseconds), as ``np.save`` of a tonic event array.
* ``.npy``, layout ``tonic-dvsgesture``: tonic's pre-cut DVS Gesture samples, an unstructured
  (N, 4) array with columns x, y, p, t and **t in milliseconds** (float or int). We read
  ``t_us = round(t_ms * 1000)`` (round half to even); tonic itself multiplies by 1000 and
  truncates toward zero when casting to int64, which can be 1 us lower for fractional ms.
* ``.npz``: SpikingJelly's ``np.savez(_compressed)`` with keys t, x, y, p (any dtypes, ``>u4``
  included).

One rule for every layout: each field is 1-D (one value per event) and all have the same
length; integer and bool fields are taken as they are, float fields when every value is a whole
number. Every conversion is exact or raises FormatError naming the file and the field: a value
that does not fit, or a non-integral value, is an error rather than a silent cast. Pickled
(object) data is never loaded.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import (
    CoordinateRangeError,
    EmptyFileError,
    EventFieldError,
    FormatError,
    TruncatedFileError,
)
from ..events import (
    TONIC_DTYPE,
    Events,
    OnUnsorted,
    enforce_time_order,
    polarity_from_signed,
)
from ._common import PathLike, check_on_unsorted, sensor_tuple

LAYOUTS = ("auto", "structured", "tonic-dvsgesture")
DVSGESTURE_SENSOR = (128, 128)
_FIELDS = ("x", "y", "t", "p")
_XYTP = _FIELDS
_MAX_EXACT_US = 1 << 50  # float64 t_ms round-trips to integer us exactly below this


def _require_nonempty_file(path: str, what: str, magic: tuple[bytes, ...], kind: str) -> None:
    """EmptyFileError for a 0-byte file; FormatError for one not starting with ``magic``
    (checked here so NumPy never falls back to unpickling, nor suggests it)."""
    with open(path, "rb") as fh:
        head = fh.read(8)
    if not head:
        raise EmptyFileError(path, "the file is empty (0 bytes)", offset=0, expected=what)
    if not any(head.startswith(m) or (len(head) < len(m) and m.startswith(head)) for m in magic):
        raise FormatError(path, f"not {kind}: the file starts with {head!r}", offset=0,
                          expected=f"{what} (magic {' or '.join(repr(m) for m in magic)})")


def _no_pickle(exc: Exception) -> str:
    """NumPy's reason, without its advice to load pickled data unsafely."""
    text = f"{type(exc).__name__}: {exc}"
    if "pickle" in text:
        return "it holds Python objects (pickled data), which eventcompress never loads"
    return text


def _field(values: Any, name: str, path: str | None) -> np.ndarray:
    """One event field of a file: 1-D, integer/bool or whole-number float (see the module
    docstring)."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise FormatError(path, f"field {name} has shape {arr.shape}",
                          expected=f"a 1-D {name} array (one value per event)")
    return _integral(arr, name, path)


def _integral(values: np.ndarray, name: str, path: str | None) -> np.ndarray:
    """Float column to int64 when every value is a whole number; integer/bool pass through."""
    if values.dtype.kind in "biu":
        return values
    if values.dtype.kind != "f":
        raise FormatError(path, f"field {name} has dtype {values.dtype}",
                          expected="integer, bool or whole-number float values")
    if values.size and (not np.all(np.isfinite(values)) or np.any(values != np.round(values))):
        i = int(np.flatnonzero(~np.isfinite(values) | (values != np.round(values)))[0])
        raise FormatError(path, f"field {name} holds the non-integral value {float(values[i])!r}",
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


def _polarity(p: Any, path: str | None, signed_polarity: bool) -> Any:
    """p as given, or -1/+1 converted to 0/1 with ``signed_polarity`` (FormatError naming the
    first value that is neither). Plain 0/1 is checked by Events itself (see ``_build``)."""
    if not signed_polarity:
        return p
    try:
        return polarity_from_signed(p)
    except EventFieldError as exc:
        raise FormatError(path, f"field p holds {exc.value} at row {exc.index}", row=exc.index,
                          expected="p in {-1, +1} (signed_polarity=True)") from None


def _build(x, y, t, p, sensor_size, default, path, fmt, on_unsorted,
           signed_polarity: bool = False) -> Events:
    x, y, t, p = (_field(v, k, path) for k, v in zip(_XYTP, (x, y, t, p)))
    lengths = {k: len(v) for k, v in zip(_XYTP, (x, y, t, p))}
    if len(set(lengths.values())) > 1:
        raise FormatError(path, "fields differ in length: " + ", ".join(
            f"{k}={n}" for k, n in lengths.items()), expected="x, y, t, p of equal length")
    for name, arr in (("x", x), ("y", y)):
        if arr.size and arr.dtype.kind != "b" and int(arr.min()) < 0:
            raise CoordinateRangeError(path, f"negative {name} ({int(arr.min())})",
                                       expected=f"{name} >= 0")
    size = _sensor_for(np.asarray(x), np.asarray(y), sensor_size, default, path)
    p = _polarity(p, path, signed_polarity)
    try:
        events = Events(x, y, t, p, size, {"format": fmt, "path": path})
    except EventFieldError as exc:  # the file's polarity is not 0/1: name the file and row
        hint = f" ({exc.hint})" if exc.hint else ""
        raise FormatError(path, f"field {exc.field} holds {exc.value} at row {exc.index}{hint}",
                          row=exc.index, expected="p in {0, 1} (0 = OFF, 1 = ON)") from None
    except OverflowError as exc:
        raise FormatError(path, str(exc), expected="values that fit Events' dtypes") from None
    return enforce_time_order(events, on_unsorted, path)


def from_dvsgesture_array(array: np.ndarray, sensor_size: Any = None, path: str | None = None,
                          on_unsorted: OnUnsorted = "warn", signed_polarity: bool = False
                          ) -> Events:
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
    return _build(x, y, t, p, sensor_size, DVSGESTURE_SENSOR, path, "npy", on_unsorted,
                  signed_polarity)


def read_npy(
    path: PathLike,
    sensor_size: tuple[int, int] | None = None,
    layout: str = "auto",
    on_unsorted: OnUnsorted = "warn",
    signed_polarity: bool = False,
) -> Events:
    """Read a tonic-style ``.npy`` (see the module docstring for the two layouts).

    ``layout="auto"`` takes structured arrays as ``structured`` and (N, 4) arrays as
    ``tonic-dvsgesture``. Without ``sensor_size``, DVS Gesture arrays get 128 x 128 (when every
    event fits; an axis grows where events lie beyond it) and structured arrays the smallest
    sensor holding every event. p must be 0/1 (or bool); ``signed_polarity=True`` reads -1/+1
    files instead (-1 -> 0).
    """
    check_on_unsorted(on_unsorted)
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}; got {layout!r}")
    spath = os.fspath(path)
    _require_nonempty_file(spath, "a NumPy .npy file", (b"\x93NUMPY",),
                           "a readable .npy file")
    try:
        array = np.load(spath, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise FormatError(spath, f"not a readable .npy file ({_no_pickle(exc)})",
                          expected="a NumPy .npy file") from None
    if isinstance(array, np.lib.npyio.NpzFile):
        array.close()
        raise FormatError(spath, "this is an .npz archive", expected="a .npy file (use read_npz)")
    if layout == "auto":
        layout = "structured" if array.dtype.names else "tonic-dvsgesture"
    if layout == "tonic-dvsgesture":
        events = from_dvsgesture_array(array, sensor_size, spath, on_unsorted, signed_polarity)
        return events.with_metadata(layout="tonic-dvsgesture")
    names = array.dtype.names or ()
    missing = [f for f in _FIELDS if f not in names]
    if array.ndim != 1 or missing:
        raise FormatError(spath, f"array of shape {array.shape} and fields {names}",
                          expected="a 1-D structured array with fields x, y, t, p")
    events = _build(array["x"], array["y"], array["t"], array["p"], sensor_size, None, spath,
                    "npy", on_unsorted, signed_polarity)
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
    on_unsorted: OnUnsorted = "warn", signed_polarity: bool = False,
) -> Events:
    """Events from a mapping with keys t, x, y, p (any integer/bool dtypes, any byte order);
    p is 0/1, or -1/+1 with ``signed_polarity=True``."""
    missing = [k for k in _FIELDS if k not in d]
    if missing:
        raise FormatError(path, f"missing keys {missing}; found {sorted(d)}",
                          expected="arrays t, x, y, p")
    return _build(d["x"], d["y"], d["t"], d["p"], sensor_size, None, path, "npz",
                  on_unsorted, signed_polarity)


_ZIP_LOCAL_MAGIC = b"PK\x03\x04"
_ZIP_END_MAGIC = b"PK\x05\x06"
_ZIP_END_SEARCH = 22 + 0xFFFF  # end record + longest archive comment
_NPZ_EXPECTED = "an .npz archive (zip) with arrays t, x, y, p"
_MEMBER_ERRORS = (zipfile.BadZipFile, zlib.error, ValueError, OSError, EOFError)


def _zip_end_complete(tail: bytes) -> bool:
    """Whether ``tail`` (the last bytes of a file) ends with a whole end-of-central-directory
    record: 22 bytes from its signature plus the comment length it declares."""
    k = tail.rfind(_ZIP_END_MAGIC)
    if k < 0 or len(tail) - k < 22:
        return False
    comment = int.from_bytes(tail[k + 20:k + 22], "little")
    return len(tail) - k >= 22 + comment


def _npz_open_error(path: str, exc: Exception) -> FormatError:
    """Why np.load could not open ``path``: a zip cut short (no whole end record) is a
    truncated file, anything else is not an .npz archive."""
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        head = fh.read(len(_ZIP_LOCAL_MAGIC))
        fh.seek(max(0, size - _ZIP_END_SEARCH))
        tail = fh.read()
    if head == _ZIP_LOCAL_MAGIC[:len(head)] and not _zip_end_complete(tail):
        return TruncatedFileError(
            path, f"the zip archive stops after {size} bytes, before the end of its "
            "end-of-central-directory record", offset=size,
            expected=f"{_NPZ_EXPECTED}, complete to its end record")
    return FormatError(path, f"not a readable .npz archive ({_no_pickle(exc)})",
                       offset=0, expected=_NPZ_EXPECTED)


def _npz_member(archive: Any, key: str, path: str) -> np.ndarray:
    """``archive[key]``; a corrupt member (bad CRC, broken deflate stream, bad .npy header)
    becomes FormatError naming the member and where its entry starts."""
    try:
        return archive[key]
    except _MEMBER_ERRORS as exc:
        name = f"{key}.npy"
        try:
            offset = archive.zip.getinfo(name).header_offset
        except (KeyError, AttributeError):
            offset = None
        raise FormatError(path, f"member {name} cannot be read ({_no_pickle(exc)})",
                          offset=offset, expected=f"{_NPZ_EXPECTED}, each a valid .npy") from None


def read_npz(
    path: PathLike, sensor_size: tuple[int, int] | None = None, on_unsorted: OnUnsorted = "warn",
    signed_polarity: bool = False,
) -> Events:
    """Read a SpikingJelly ``.npz`` (keys t, x, y, p). Without ``sensor_size`` the smallest
    sensor holding every event is used; ``signed_polarity=True`` reads -1/+1 polarity.

    A zip cut short raises TruncatedFileError (offset = file size); a corrupt archive or
    member raises FormatError naming it."""
    check_on_unsorted(on_unsorted)
    spath = os.fspath(path)
    _require_nonempty_file(spath, "an .npz archive (zip) with keys t, x, y, p",
                           (_ZIP_LOCAL_MAGIC, _ZIP_END_MAGIC), "an .npz archive")
    try:
        archive = np.load(spath, allow_pickle=False)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise _npz_open_error(spath, exc) from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise FormatError(spath, "this is a .npy array, not an .npz archive",
                          expected="an .npz archive with keys t, x, y, p (use read_npy)")
    with archive:
        d = {k: _npz_member(archive, k, spath) for k in archive.files if k in _FIELDS}
    return from_spikingjelly_dict(d, sensor_size, path=spath, on_unsorted=on_unsorted,
                                  signed_polarity=signed_polarity)


def write_npz(path: PathLike, events: Events, compressed: bool = True) -> None:
    """Write keys t, x, y, p with ``np.savez_compressed`` (or ``np.savez``), as SpikingJelly does."""
    save = np.savez_compressed if compressed else np.savez
    with open(os.fspath(path), "wb") as fh:
        save(fh, **to_spikingjelly_dict(events))
