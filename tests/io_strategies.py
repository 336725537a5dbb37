"""Hypothesis strategies and oracles shared by the tests/test_io_*.py and kernel test files."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from eventcompress.events import Events


@st.composite
def event_streams(
    draw: st.DrawFn,
    sensor_size: tuple[int, int],
    t_max: int,
    *,
    max_size: int = 300,
    sort: bool = True,
    forbid_y: int | None = None,
) -> Events:
    """Events on ``sensor_size`` with 0 <= t <= t_max (sorted unless ``sort=False``)."""
    w, h = sensor_size
    n = draw(st.integers(0, max_size))
    x = draw(arrays(np.int64, n, elements=st.integers(0, w - 1)))
    y_values = st.integers(0, h - 1)
    if forbid_y is not None:
        y_values = y_values.filter(lambda v: v != forbid_y)
    y = draw(arrays(np.int64, n, elements=y_values))
    t = draw(arrays(np.int64, n, elements=st.integers(0, t_max)))
    p = draw(arrays(np.int64, n, elements=st.integers(0, 1)))
    if sort:
        t = np.sort(t)
    return Events(x, y, t, p, sensor_size)


def edge_events(sensor_size: tuple[int, int], t_max: int, forbid_y: int | None = None) -> Events:
    """Corners of the sensor, t = 0 and t = t_max, both polarities."""
    w, h = sensor_size
    ys = [0, h - 1] if forbid_y != h - 1 else [0, h - 2]
    x = np.array([0, w - 1, 0, w - 1, w - 1, 0])
    y = np.array([ys[0], ys[0], ys[1], ys[1], ys[1], ys[0]])
    t = np.array([0, 0, 1, t_max - 1, t_max, t_max])
    p = np.array([0, 1, 1, 0, 1, 0])
    return Events(x, y, t, p, sensor_size)


def patch_tonic_aedat_header(monkeypatch, tonic_io) -> None:
    """tonic 1.7.0's read_dvs_128/read_dvs_ibm unpack two values from
    read_aedat_header_from_file, which returns three (version, data start, start timestamp),
    so both raise ValueError as shipped. Make the helper return the first two so tonic's own
    decoding code can serve as the oracle."""
    original = tonic_io.read_aedat_header_from_file
    monkeypatch.setattr(tonic_io, "read_aedat_header_from_file", lambda f: original(f)[:2])


@st.composite
def stream_chunks(draw: st.DrawFn, max_events: int, t_shift: int, t_spread: int) -> list[Events]:
    """1-6 streams of one sensor size: empty, single-event, unsorted or plain ones, for the
    batch kernels. Times start within +-``t_shift`` and span up to ``t_spread`` µs."""
    w, h = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    out = []
    for _ in range(draw(st.integers(1, 6))):
        n = draw(st.sampled_from([0, 1, draw(st.integers(2, max_events))]))
        ints = st.lists(st.integers(0, 10**6), min_size=n, max_size=n)
        arr = [np.array(draw(ints), dtype=np.int64) for _ in range(4)]
        t = draw(st.integers(-t_shift, t_shift)) + arr[2] % (draw(st.integers(0, t_spread)) + 1)
        if draw(st.booleans()):
            t = np.sort(t)
        out.append(Events(arr[0] % w, arr[1] % h, t, arr[3] % 2, (w, h)))
    return out
