"""Which jAER chip wrote an AEDAT 2.0 file, and the DAVIS address layout.

jAER names the chip in a header line ``# AEChip: <java class>``. The address bits differ per
chip, so the reader decodes only the chips whose layout jAER's extractors define publicly and
refuses every other chip by name rather than guess:

* DVS128 (``ch.unizh.ini.jaer.chip.retina.DVS128``, or its chip ``...retina.Tmpdiff128``):
  16-bit addresses, see :mod:`eventcompress.io.aedat2`. A file without an ``AEChip`` line is
  read as DVS128.
* DAVIS240 (``eu.seebetter.ini.chips.davis.DAVIS240A/B/C``, 240 x 180) and DAVIS346
  (``...davis.Davis346B/C/red/blue/mini/...``, 346 x 260), jAER's ``DavisChip`` constants:
  bit 31 set = APS (frame) sample or IMU sample, skipped; bits 11..10 == 01 = external input
  event, skipped; otherwise a DVS event with y = bits 30..22, raw x = bits 21..12, polarity
  bit 11 (1 = ON). jAER's ``DavisEventExtractor`` shows x as ``width - 1 - raw x``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from numba import njit

from ..errors import HeaderError, TruncatedFileError
from ._common import raise_out_of_range


@dataclass(frozen=True)
class ChipLayout:
    """A jAER chip this package decodes: name, pixel array, address layout, class prefixes."""

    name: str
    sensor_size: tuple[int, int]
    layout: str  # "dvs128" or "davis"
    prefixes: tuple[str, ...]  # lower-case starts of the class name's last dotted part


CHIPS: dict[str, ChipLayout] = {
    chip.name: chip
    for chip in (
        # Tmpdiff128 is the DVS128's chip; jAER's Tmpdiff128 extractor uses the same bits.
        ChipLayout("DVS128", (128, 128), "dvs128", ("dvs128", "tmpdiff128")),
        ChipLayout("DAVIS240", (240, 180), "davis", ("davis240",)),
        ChipLayout("DAVIS346", (346, 260), "davis", ("davis346",)),
    )
}
DEFAULT_CHIP = CHIPS["DVS128"]
_AECHIP_RE = re.compile(r"^#\s*AEChip:\s*(\S+)")
_SUPPORTED = ("DVS128 (ch.unizh.ini.jaer.chip.retina.DVS128 or Tmpdiff128), DAVIS240 "
              "(eu.seebetter.ini.chips.davis.DAVIS240A/B/C) or DAVIS346 "
              "(eu.seebetter.ini.chips.davis.Davis346*)")


def chip_by_name(name: str) -> ChipLayout:
    """The layout called ``name`` (``"DVS128"``, ``"DAVIS240"``, ``"DAVIS346"``, any case)."""
    chip = CHIPS.get(name.upper())
    if chip is None:
        raise ValueError(f"chip must be one of {', '.join(CHIPS)}; got {name!r}")
    return chip


def chip_from_header(lines: list[str], head: bytes, path: str | None
                     ) -> tuple[ChipLayout, str | None]:
    """(layout, the AEChip class named in the header or None). An ``AEChip`` class that is not
    DVS128/DAVIS240/DAVIS346 raises HeaderError naming it (offset of its line)."""
    for line in lines:
        m = _AECHIP_RE.match(line)
        if m is None:
            continue
        cls = m.group(1)
        short = cls.rsplit(".", 1)[-1].lower()
        for chip in CHIPS.values():
            if short.startswith(chip.prefixes):
                return chip, cls
        offset = head.find(line.encode("utf-8"))
        raise HeaderError(
            path, f"the header names the chip {cls!r}, whose address layout eventcompress does "
            "not decode (refused rather than guessed)", offset=offset if offset >= 0 else None,
            expected=f"an AEChip of {_SUPPORTED}; pass chip='DVS128'/'DAVIS240'/'DAVIS346' "
                     "if the file is known to use that layout")
    return DEFAULT_CHIP, None


@njit(cache=True, nogil=True)
def decode_davis_kernel(body, flip_x, width, height, x, y, t, p):  # pragma: no cover
    """DVS events of a DAVIS AEDAT 2.0 body (8-byte big-endian records).

    Returns (events written, first out-of-range record or -1, any decreasing timestamp,
    APS/IMU samples skipped, external input events skipped).
    """
    j = 0
    bad = -1
    unsorted = False
    aps = 0
    external = 0
    prev = np.int64(-1)
    for i in range(body.shape[0] // 8):
        k = 8 * i
        a = ((np.int64(body[k]) << 24) | (np.int64(body[k + 1]) << 16)
             | (np.int64(body[k + 2]) << 8) | np.int64(body[k + 3]))
        if a & 0x80000000:
            aps += 1
            continue
        if (a & 0xC00) == 0x400:
            external += 1
            continue
        ts = ((np.int64(body[k + 4]) << 24) | (np.int64(body[k + 5]) << 16)
              | (np.int64(body[k + 6]) << 8) | np.int64(body[k + 7]))
        rx = (a >> 12) & 0x3FF
        ry = (a >> 22) & 0x1FF
        if rx >= width or ry >= height:
            if bad < 0:
                bad = i
            rx = 0
            ry = 0
        unsorted |= ts < prev
        prev = ts
        x[j] = width - 1 - rx if flip_x else rx
        y[j] = ry
        t[j] = ts
        p[j] = (a >> 11) & 1
        j += 1
    return j, bad, unsorted, aps, external


def decode_davis_body(body: np.ndarray, chip: ChipLayout, version: str, convention: str,
                      size: tuple[int, int], path: str | None, body_offset: int = 0
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, int]]:
    """(x, y, t, p, info) of the DVS events of a DAVIS body (see aedat2_chips)."""
    if convention == "spikingjelly":
        raise ValueError(f"convention 'spikingjelly' is defined for DVS128 (CIFAR10-DVS) only; "
                         f"use 'jaer' or 'raw' for a {chip.name} file")
    if not version.startswith("2."):
        raise HeaderError(path, f"a {chip.name} file with AEDAT {version} records",
                          expected=f"AEDAT 2.0: {chip.name} addresses need 32 bits")
    body = np.ascontiguousarray(body, dtype=np.uint8).reshape(-1)
    n = body.shape[0] // 8
    if body.shape[0] != 8 * n:
        raise TruncatedFileError(
            path, f"body of {body.shape[0]} bytes is not a whole number of 8-byte AEDAT "
            f"{version} records", offset=body_offset + 8 * n,
            expected="8-byte (address, timestamp) records")
    x = np.empty(n, np.uint16)
    y = np.empty(n, np.uint16)
    t = np.empty(n, np.int64)
    p = np.empty(n, np.uint8)
    j, bad, unsorted, aps, external = decode_davis_kernel(
        body, convention == "jaer", size[0], size[1], x, y, t, p)
    if bad >= 0:
        a = int.from_bytes(body[8 * int(bad):8 * int(bad) + 4].tobytes(), "big")
        raw_x, raw_y = (a >> 12) & 0x3FF, (a >> 22) & 0x1FF
        raise_out_of_range(path, int(bad), raw_x, raw_y, size, body_offset + 8 * int(bad),
                           hint=f"{chip.name} addresses are raw x < {chip.sensor_size[0]}, "
                                f"raw y < {chip.sensor_size[1]}; pass a larger sensor_size")
    if j < n:
        x, y, t, p = x[:j].copy(), y[:j].copy(), t[:j].copy(), p[:j].copy()
    info = {"special_events": int(n - j), "aps_imu_samples": int(aps),
            "external_events": int(external), "unsorted": int(unsorted)}
    return x, y, t, p, info
