"""Event streams shared by the kernel, pipeline and batch tests: a Hypothesis strategy of small
random streams and a seeded NumPy generator of N-MNIST-like ones."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from eventcompress import Events


@st.composite
def sensor_streams(draw: st.DrawFn, *, max_side: int, max_n: int, t_min: int, t_max: int,
                   min_n: int = 0, time_sorted: bool = True,
                   metadata: dict | None = None) -> Events:
    """Events on a random sensor of at most ``max_side`` a side, ``min_n..max_n`` events with
    ``t_min <= t <= t_max`` (sorted unless ``time_sorted=False``)."""
    w = draw(st.integers(1, max_side))
    h = draw(st.integers(1, max_side))
    n = draw(st.integers(min_n, max_n))
    x = draw(arrays(np.int64, n, elements=st.integers(0, w - 1)))
    y = draw(arrays(np.int64, n, elements=st.integers(0, h - 1)))
    t = draw(arrays(np.int64, n, elements=st.integers(t_min, t_max)))
    if time_sorted:
        t = np.sort(t)
    p = draw(arrays(np.int64, n, elements=st.integers(0, 1)))
    return Events(x, y, t, p, (w, h), metadata or {})


def uniform_stream(rng: np.random.Generator, n: int, size: tuple[int, int] = (34, 34),
                   t_max: int = 300_000) -> Events:
    """``n`` events uniform over the sensor and ``[0, t_max)``, sorted by time."""
    return Events(rng.integers(0, size[0], n), rng.integers(0, size[1], n),
                  np.sort(rng.integers(0, t_max, n)), rng.integers(0, 2, n), size)
