"""``cache verify``: recompute random entries of a store from its source and compare them.

The source fingerprint is checked first (a changed file is reported by name). Then ``samples``
entries, drawn with a seeded generator among the built ones, are decoded again and run through
the store's own pipeline, cast to the stored dtype exactly as the builder does, and compared
bit for bit; a failed entry must still fail.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import StoreError
from .compute import Task, compute_task
from .format import BUILT, StoreLayout
from .store import open_store


@dataclass
class VerifyReport:
    path: Path
    checked: list[int] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches


def verify_store(path: str | os.PathLike[str], samples: int = 16, seed: int = 0
                 ) -> VerifyReport:
    """Check the fingerprint, then recompute ``samples`` random entries (all when fewer).
    StoreError when the source changed or cannot be found."""
    from ..datasets import get_dataset

    store = open_store(path, check_source=True)
    attrs = store.attrs
    if attrs.get("source_root") is None:
        raise StoreError(store.path, "built from an iterable (build_from): there is no source "
                         "to recompute it from")
    layout_obj = get_dataset(attrs["dataset"])
    if repr(layout_obj) != attrs.get("dataset_options", repr(layout_obj)):
        raise StoreError(store.path, f"built with dataset options {attrs['dataset_options']}; "
                         "verify knows only the defaults")
    listed = {s.id: s for s in layout_obj.samples(attrs["source_root"], attrs["split"])}
    rng = np.random.default_rng(seed)
    n = len(store)
    picked = np.sort(rng.choice(n, size=min(samples, n), replace=False)) if n else []
    report = VerifyReport(store.path)
    layout = StoreLayout.from_attrs(attrs)
    ids = store.sample_ids
    for i in (int(v) for v in picked):
        sample = listed.get(str(ids[i]))
        if sample is None:
            report.mismatches.append(f"sample {i} ({ids[i]}) is no longer in the dataset")
            continue
        result = compute_task(Task(i, [sample], store.pipeline, layout))
        report.checked.append(i)
        stored_status = int(store.status[i])
        if int(result.status[0]) != stored_status:
            report.mismatches.append(f"sample {i} ({ids[i]}): status {stored_status} in the "
                                     f"store, {int(result.status[0])} now")
            continue
        if stored_status != BUILT:
            continue
        if layout.kind == "dense":
            same = np.array_equal(store.read([i])[0], result.dense[0], equal_nan=True)
        else:
            got = store.read_one(i)
            if layout.kind == "events":
                same = all(np.array_equal(got[name], result.rows[name]) for name in
                           ("x", "y", "t", "p"))
            else:
                same = np.array_equal(got, result.rows["data"], equal_nan=True)
        if not same:
            report.mismatches.append(f"sample {i} ({ids[i]}, {sample.path}): the stored entry "
                                     "differs from the recomputed one")
    return report
