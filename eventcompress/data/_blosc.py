"""c-blosc's own ``blosc_decompress_ctx``, called without numcodecs' Python wrapper.

``numcodecs.blosc.decompress(src, out)`` spends about 6 us of Python per call before any byte is
decompressed (``ensure_contiguous_ndarray`` checks ``out`` against a runtime ``Protocol``, and
the threading policy is looked up on every call), while LZ4 itself takes about 7 us for an
18.5 kB N-MNIST STC sample (CPU time, docs/benchmarks.md "Data loading"). numcodecs' extension
module links c-blosc 1.x statically and exports its C API, so ctypes can call the decompressor
directly at about 1 us per call. ``blosc_decompress_ctx`` keeps its state on the stack and runs
in the calling thread (one internal thread), so it is safe next to other threads using
numcodecs and never starts Blosc's thread pool.

:func:`direct_decompress` returns None where that is unavailable (another numcodecs build, a
Blosc 2 library), and the caller falls back to ``numcodecs.blosc.decompress``.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from functools import cache

__all__ = ["HEADER_BYTES", "direct_decompress"]

#: a Blosc 1 chunk starts with 16 header bytes: version, versionlz, flags, typesize, then
#: uint32 little-endian nbytes (decompressed), blocksize and cbytes (the whole chunk)
HEADER_BYTES = 16


@cache
def direct_decompress() -> Callable[[int, int, int, int], int] | None:
    """``f(src_address, dest_address, dest_size, 1) -> bytes written (negative: error)``, or
    None when numcodecs' Blosc is not a c-blosc 1.x that exports ``blosc_decompress_ctx``."""
    try:
        from numcodecs import blosc

        lib = ctypes.CDLL(blosc.__file__)
        version = lib.blosc_get_version_string
        version.restype = ctypes.c_char_p
        if not version().startswith(b"1."):
            return None
        fn = lib.blosc_decompress_ctx
    except (ImportError, OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    fn.restype = ctypes.c_int
    return fn
