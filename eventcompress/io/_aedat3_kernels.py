"""Numba kernels of the AEDAT 3.1 reader: scan the packet headers, then decode the polarity
packets (a branch-free fast path, and an exact path that compacts invalid events and locates
the first out-of-range one). Pure functions over the file's bytes; messages are built by
:mod:`eventcompress.io.aedat3`."""

from __future__ import annotations

import sys

import numpy as np
from numba import njit

# Status codes of the packet scan (kernel -> Python error message).
(_OK, _SHORT_HEADER, _PAST_END, _BAD_SIZE, _NEGATIVE, _NUMBER_GT_CAPACITY, _BAD_TS_OFFSET,
 _NEGATIVE_OVERFLOW) = range(8)
_LITTLE_ENDIAN_HOST = sys.byteorder == "little"  # a compile-time constant in the kernels


@njit(cache=True, nogil=True, inline="always")
def _u32(b, k):  # pragma: no cover - compiled
    """The little-endian uint32 at byte ``k`` of ``b``, as int64 (any host byte order)."""
    return (np.int64(b[k]) | (np.int64(b[k + 1]) << 8) | (np.int64(b[k + 2]) << 16)
            | (np.int64(b[k + 3]) << 24))


@njit(cache=True, nogil=True)
def _i32(b, k):  # pragma: no cover - compiled
    v = _u32(b, k)
    return v - (np.int64(1) << 32) if v >= (np.int64(1) << 31) else v


@njit(cache=True, nogil=True, inline="always")
def _packet_fields(body, pos):  # pragma: no cover - compiled
    """(eventType, eventSize, eventTSOverflow, eventCapacity, eventNumber) of the 28-byte packet
    header at ``pos``, for the decoders (the scan has already validated them)."""
    return (_i32(body, pos) & 0xFFFF, _i32(body, pos + 4), _i32(body, pos + 12),
            _i32(body, pos + 16), _i32(body, pos + 20))


@njit(cache=True, nogil=True)
def _scan_packets(body):  # pragma: no cover - compiled
    """Walk the packet headers. Returns (status, packet index, packet offset, polarity slots,
    packets, skipped non-polarity packets, detail value)."""
    pos = 0
    size = body.shape[0]
    slots = 0
    packets = 0
    skipped = 0
    while pos < size:
        if size - pos < 28:
            return _SHORT_HEADER, packets, pos, slots, packets, skipped, size - pos
        etype = _i32(body, pos) & 0xFFFF
        esize = _i32(body, pos + 4)
        tsoff = _i32(body, pos + 8)
        overflow = _i32(body, pos + 12)
        cap = _i32(body, pos + 16)
        num = _i32(body, pos + 20)
        if esize < 0 or cap < 0 or num < 0:
            return _NEGATIVE, packets, pos, slots, packets, skipped, min(esize, cap, num)
        end = pos + 28 + cap * esize
        if end > size:
            return _PAST_END, packets, pos, slots, packets, skipped, cap * esize
        if etype == 1:
            if esize != 8:
                return _BAD_SIZE, packets, pos, slots, packets, skipped, esize
            if tsoff != 4:
                return _BAD_TS_OFFSET, packets, pos, slots, packets, skipped, tsoff
            if num > cap:
                return _NUMBER_GT_CAPACITY, packets, pos, slots, packets, skipped, num
            if overflow < 0:
                return _NEGATIVE_OVERFLOW, packets, pos, slots, packets, skipped, overflow
            slots += num
        else:
            skipped += 1
        packets += 1
        pos = end
    return _OK, packets, pos, slots, packets, skipped, 0


@njit(cache=True, nogil=True)
def _decode_packet(body, base, num, high, width, height, x, y, t, p, prev):  # pragma: no cover
    """One polarity packet into the views x, y, t, p (length ``num``). Integer counters and
    per-packet views (not ``x[j + e]``) let LLVM vectorise. On little-endian hosts the packet
    is read as uint32 words (possibly unaligned, which x86-64 and AArch64 allow): 4x faster
    than assembling each word from bytes. The OR of the raw timestamps is returned too: its bit
    31 says whether some int32 timestamp is negative (a malformed packet)."""
    words = body[base:base + 8 * num].view(np.uint32)  # host byte order
    bad = 0
    unsorted = 0
    invalid = 0
    raw_or = np.int64(0)
    for e in range(num):
        if _LITTLE_ENDIAN_HOST:
            d = np.int64(words[2 * e])
            raw = np.int64(words[2 * e + 1])
        else:
            d = _u32(body, base + 8 * e)
            raw = _u32(body, base + 8 * e + 4)
        raw_or |= raw
        ts = high | raw
        xi = (d >> 17) & 0x7FFF
        yi = (d >> 2) & 0x7FFF
        invalid += (d & 1) == 0
        bad += (xi >= width) | (yi >= height)
        unsorted += ts < prev
        prev = ts
        x[e] = xi
        y[e] = yi
        t[e] = ts
        p[e] = (d >> 1) & 1
    return bad, unsorted, invalid, prev, raw_or


@njit(cache=True, nogil=True)
def _decode_polarity_fast(body, width, height, x, y, t, p):  # pragma: no cover - compiled
    """Fast path: decode every polarity event in place, branch-free inside a packet.

    Returns (events written, any out-of-range event, any decreasing timestamp, invalid events,
    any negative int32 timestamp). When invalid events must be dropped, or one is out of range, the caller re-decodes with
    :func:`_decode_polarity` for compaction and exact error positions.
    """
    pos = 0
    size = body.shape[0]
    j = 0
    bad = 0
    unsorted = 0
    invalid = 0
    raw_or = np.int64(0)
    prev = np.int64(-1)
    while pos < size:
        etype, esize, overflow, cap, num = _packet_fields(body, pos)
        if etype == 1:
            high = np.int64(overflow) << 31
            b, u, inv, prev, r = _decode_packet(body, pos + 28, num, high, width, height,
                                             x[j:j + num], y[j:j + num], t[j:j + num],
                                             p[j:j + num], prev)
            bad += b
            unsorted += u
            invalid += inv
            raw_or |= r
            j += num
        pos += 28 + cap * esize
    return j, bad > 0, unsorted > 0, invalid, (raw_or >> 31) & 1


@njit(cache=True, nogil=True)
def _decode_polarity(body, drop_invalid, width, height, x, y, t, p):  # pragma: no cover
    """Fill x, y, t, p from every polarity packet. Returns (events written, byte offset of the
    first out-of-range event or -1, its ordinal, any decreasing timestamp, invalid dropped)."""
    pos = 0
    size = body.shape[0]
    j = 0
    seen = 0
    bad_off = -1
    bad_idx = -1
    unsorted = False
    dropped = 0
    prev = np.int64(-1)
    while pos < size:
        etype, esize, overflow, cap, num = _packet_fields(body, pos)
        if etype == 1:
            high = np.int64(overflow) << 31
            k = pos + 28
            for _ in range(num):
                data = _u32(body, k)
                ts = _u32(body, k + 4)
                if (data & 1) == 0 and drop_invalid:
                    dropped += 1
                else:
                    xi = np.int64((data >> 17) & 0x7FFF)
                    yi = np.int64((data >> 2) & 0x7FFF)
                    if (xi >= width or yi >= height) and bad_off < 0:
                        bad_off = k
                        bad_idx = seen
                    ti = high | ts
                    unsorted |= ti < prev
                    prev = ti
                    x[j] = xi
                    y[j] = yi
                    t[j] = ti
                    p[j] = (data >> 1) & 1
                    j += 1
                seen += 1
                k += 8
        pos += 28 + cap * esize
    return j, bad_off, bad_idx, unsorted, dropped


@njit(cache=True, nogil=True)
def _first_negative_timestamp(body):  # pragma: no cover - compiled
    """(packet index, packet offset, event index in the packet, int32 value) of the first
    polarity event whose timestamp is negative, or (-1, -1, -1, 0)."""
    pos = 0
    index = 0
    while pos < body.shape[0]:
        etype, esize, overflow, cap, num = _packet_fields(body, pos)
        if etype == 1:
            for e in range(num):
                ts = _i32(body, pos + 28 + 8 * e + 4)
                if ts < 0:
                    return index, pos, e, ts
        index += 1
        pos += 28 + cap * esize
    return -1, -1, -1, 0
