"""The fast extension test of ``sniff_bytes`` (headerless files) against ``os.path.splitext``:
the same format, or the same error, for any file name."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eventcompress.errors import HeaderError, UnknownFormatError
from eventcompress.io.formats import FORMAT_BY_EXTENSION, HEADER_BY_EXTENSION
from eventcompress.io.sniff import sniff_bytes

HEADERLESS = b"\x05\x11\x80\x00\x10"  # an N-MNIST record: no magic number, no header


def _by_splitext(path: str) -> str | type[Exception]:
    ext = os.path.splitext(path)[1].lower()
    name = FORMAT_BY_EXTENSION.get(ext)
    if name is not None and ext not in HEADER_BY_EXTENSION:
        return name
    return HeaderError if ext in HEADER_BY_EXTENSION else UnknownFormatError


def _sniffed(path: str) -> str | type[Exception]:
    try:
        return sniff_bytes(HEADERLESS, path)
    except (HeaderError, UnknownFormatError) as exc:
        return type(exc)


_EXTS = sorted(FORMAT_BY_EXTENSION) + [".BIN", ".Bin", ".NPY", ".raw", ".aedat", ".txt", "."]
_part = st.text(alphabet="ab.0", max_size=4)
_name = st.builds(lambda stem, ext: stem + ext, _part, st.sampled_from(_EXTS + [""]))
_path = st.lists(st.one_of(_part, _name), min_size=1, max_size=4).map("/".join)


@settings(max_examples=400, deadline=None)
@given(_path)
def test_fast_extension_test_agrees_with_splitext(path: str) -> None:
    assert _sniffed(path) == _by_splitext(path)


@pytest.mark.parametrize("path", [
    "/d/00012.bin", "/d/.bin", "/d/..bin", "/d/a..bin", "/d.bin/x", "/d/x.BIN", "x.bin",
    ".bin", "/d/.hidden.bin", "/d/x.bs2", "/d/x.npy", "/d/x.aedat", "/d/x", "/d/x.",
])
def test_edge_names(path: str) -> None:
    assert _sniffed(path) == _by_splitext(path)
