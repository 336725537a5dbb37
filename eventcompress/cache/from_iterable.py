"""``build_from``: a store from any iterable of ``(events, label)``, e.g. one of tonic's
datasets, with the same format and reading API as a dataset folder's store."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .builder import SampleErrors, _base_attrs, _build_locked
from .fingerprint import SourceListing
from .format import Backend, check_codec, plan_layout, store_key, store_name


def build_from(iterable: Iterable[Any], pipeline: Any, out: str | os.PathLike[str], *,
               dataset: str = "custom", split: str = "all", sensor_size: Any = None,
               backend: Backend = "zarr", codec: str | None = None, dtype: str | None = None,
               shard_samples: int | None = None, progress: bool = True,
               allow_errors: bool = False) -> Path:
    """A store from any iterable of ``(events, label)``; events is an :class:`Events` or a
    tonic structured array (then ``sensor_size`` is needed). The key's source fingerprint is
    the sha256 of the events and labels themselves. Runs in this process; not resumable (the
    iterable cannot be replayed)."""
    from ..events import Events

    streams: list[Events] = []
    h = hashlib.sha256()
    for k, (events, label) in enumerate(iterable):
        if not isinstance(events, Events):
            if sensor_size is None:
                raise ValueError("sample 0 is a structured array: pass sensor_size=(width, "
                                 "height)")
            events = Events.from_structured(np.asarray(events), tuple(sensor_size))
        events = events.with_metadata(label=int(label), sample_id=str(k))
        for name in ("x", "y", "t", "p"):
            h.update(getattr(events, name).tobytes())
        h.update(f"{events.sensor_size}\0{int(label)}\n".encode())
        streams.append(events)
    sizes = {tuple(e.sensor_size) for e in streams}
    size = tuple(sensor_size) if sensor_size is not None else (sizes.pop() if sizes else (1, 1))
    fingerprint = h.hexdigest()
    key = store_key(dataset, split, pipeline.sha256(), fingerprint)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    final = out / store_name(dataset, split, key, backend)
    codec = check_codec(backend, codec)
    layout = plan_layout(pipeline, size, len(streams), dtype, shard_samples)
    empty = SourceListing((), np.zeros(0, np.int64), np.zeros(0, np.int64))
    attrs = _base_attrs(key, dataset, split, "iterable", pipeline, fingerprint, empty, None,
                        layout, codec, backend, len(streams), size)
    report = _build_locked(final, streams, pipeline, layout, attrs, empty, backend=backend,
                           codec=codec, jobs=1, rebuild=False, progress=progress,
                           executor="local", wait=True)
    if report.errors and not allow_errors:
        raise SampleErrors(report.path, report.errors)
    return report.path
