"""Prophesee RAW files: EVT 2.0 and EVT 3.0 readers, writers and pure word decoders.

The implementation lives in ``prophesee_evt2``, ``prophesee_evt3`` and ``prophesee_header``;
this module is the stable import path (``eventcompress.io.prophesee.read_evt3``, ...).
"""

from __future__ import annotations

from .prophesee_evt2 import decode_evt2, encode_evt2, read_evt2, write_evt2
from .prophesee_evt3 import decode_evt3, encode_evt3, read_evt3, write_evt3
from .prophesee_header import (
    RawHeader,
    format_header,
    parse_header,
    resolve_sensor_size,
    sensor_size_from_plugin,
)

__all__ = [
    "RawHeader",
    "decode_evt2",
    "decode_evt3",
    "encode_evt2",
    "encode_evt3",
    "format_header",
    "parse_header",
    "read_evt2",
    "read_evt3",
    "resolve_sensor_size",
    "sensor_size_from_plugin",
    "write_evt2",
    "write_evt3",
]
