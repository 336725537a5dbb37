"""Building a store: ``build`` (a dataset folder) and ``build_from`` (any iterable of events).

``build`` lists the samples, fingerprints the source files and derives the store key; a
finished store with that key is returned as it is. Otherwise, under the key's lock, it builds
into ``<name>.partial`` (resuming the shards already done there), then renames it: a store
under its final name is always complete and is never written again.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import StoreError
from .compute import Task, compute_task
from .executor import TaskExecutor, get_executor
from .fingerprint import SourceListing, list_sources
from .format import (
    BACKEND_SUFFIX,
    FAILED,
    FORMAT_NAME,
    MISSING,
    STORE_FORMAT_VERSION,
    TASK_SAMPLES,
    Backend,
    StoreLayout,
    check_codec,
    plan_layout,
    shard_bounds,
    store_key,
    store_name,
)
from .lock import build_lock
from .shard_task import ShardTask, compute_and_write_shard
from .writer import StoreWriter, ragged_resume_point
from .zarr_backend import ZarrWriter


class SampleErrors(StoreError):
    """Some samples failed (the store is complete, with them marked failed); ``errors`` lists
    them as dicts with ``index``, ``sample_id``, ``file`` and ``reason``."""

    def __init__(self, path: Path, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        shown = "\n".join(f"  {e['file'] or e['sample_id']}: {e['reason']}" for e in errors[:10])
        more = f"\n  ... and {len(errors) - 10} more" if len(errors) > 10 else ""
        super().__init__(path, f"{len(errors)} sample(s) failed and are marked failed in the "
                         f"store:\n{shown}{more}\n(allow_errors=True / --allow-errors accepts "
                         "such a store)")


@dataclass
class BuildReport:
    """What a build did: the store, whether it was reused, counts and where the time went."""

    path: Path
    reused: bool = False
    samples: int = 0
    computed: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    saturated: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _samples_digest(samples: list[Any]) -> str:
    h = hashlib.sha256()
    for s in samples:
        h.update(f"{s.id}\0{s.label}\0{s.time_slice}\n".encode())
    return h.hexdigest()


def source_fingerprint(listing: SourceListing, samples: list[Any]) -> str:
    """The files' listing hash and the sample list (ids, labels, time slices: they come from
    label files too), hashed together."""
    text = f"{listing.sha256()}\n{_samples_digest(samples)}"
    return hashlib.sha256(text.encode()).hexdigest()


def group_by_file(samples: list[Any]) -> list[Any]:
    """The samples with those of one file next to each other (files in order of first
    appearance, samples in listed order within a file), so that a worker decodes each file
    once. A dataset of one sample per file (N-MNIST, CIFAR10-DVS) keeps its listed order; DVS
    Gesture's label-sorted cuts come out trial by trial."""
    by_file: dict[Any, list[Any]] = {}
    for s in samples:
        by_file.setdefault(_file_key(s.path), []).append(s)
    if len(by_file) == len(samples):  # one sample per file: the listed order
        return list(samples)
    return [s for group in by_file.values() for s in group]


def _file_key(path: Any) -> Any:
    """``path`` as its string: a ``Path`` hashes a tuple of its parts on first use (~2 us),
    its string is needed anyway (the fingerprint and the reader use it, and keep it)."""
    return path if path is None or path.__class__ is str else os.fspath(path)


def _align_shards(layout: StoreLayout, samples: list[Any]) -> StoreLayout:
    """When every file holds the same number ``g > 1`` of samples, round the shard down to a
    multiple of ``g`` so that no file straddles two shards (and is decoded twice)."""
    counts: dict[Any, int] = {}
    for s in samples:
        key = _file_key(s.path)
        counts[key] = counts.get(key, 0) + 1
    sizes = set(counts.values())
    if len(sizes) != 1:
        return layout
    g = sizes.pop()
    if g <= 1 or layout.shard_samples <= g or layout.shard_samples >= len(samples):
        return layout
    return dataclasses.replace(layout, shard_samples=(layout.shard_samples // g) * g)


def _dataset_spec(dataset: Any) -> tuple[Any, str]:
    from ..datasets import get_dataset

    layout = get_dataset(dataset) if isinstance(dataset, str) else dataset
    return layout, layout.name


def build(dataset: Any, root: str | os.PathLike[str], split: str, pipeline: Any,
          out: str | os.PathLike[str], *, backend: Backend = "zarr", jobs: int | None = None,
          rebuild: bool = False, allow_errors: bool = False, progress: bool = True,
          codec: str | None = None, dtype: str | None = None, shard_samples: int | None = None,
          shard_rows: int | None = None, executor: str | TaskExecutor = "local",
          wait: bool = True) -> Path:
    """Build (or find) the store of ``dataset`` (a name or a layout object) under ``root``,
    ``split`` through ``pipeline``, in the folder ``out``; returns its path. See
    :func:`build_store` for the report and docs/cache.md for the format."""
    return build_store(dataset, root, split, pipeline, out, backend=backend, jobs=jobs,
                       rebuild=rebuild, allow_errors=allow_errors, progress=progress,
                       codec=codec, dtype=dtype, shard_samples=shard_samples,
                       shard_rows=shard_rows, executor=executor, wait=wait).path


def build_store(dataset: Any, root: str | os.PathLike[str], split: str, pipeline: Any,
                out: str | os.PathLike[str], *, backend: Backend = "zarr",
                jobs: int | None = None, rebuild: bool = False, allow_errors: bool = False,
                progress: bool = True, codec: str | None = None, dtype: str | None = None,
                shard_samples: int | None = None, shard_rows: int | None = None,
                executor: str | TaskExecutor = "local", wait: bool = True,
                on_wait: Any = None) -> BuildReport:
    """:func:`build`, returning a :class:`BuildReport`. Raises :class:`SampleErrors` after
    completing the store when samples failed, unless ``allow_errors``."""
    from ..kernels.pipeline import Pipeline

    if not isinstance(pipeline, Pipeline):
        raise TypeError(f"pipeline must be an eventcompress Pipeline, got {type(pipeline)}")
    t0 = time.perf_counter()
    layout_obj, name = _dataset_spec(dataset)
    samples = group_by_file(layout_obj.samples(root, split))
    match = layout_obj.discover(root)
    listing = list_sources(root, [s.path for s in samples])
    fingerprint = source_fingerprint(listing, samples)
    key = store_key(repr(layout_obj), split, pipeline.sha256(), fingerprint)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    final = out / store_name(name, split, key, backend)
    # asked for explicitly: a finished store of the same key written otherwise is not reused
    explicit = [k for k, v in (("codec", codec), ("dtype", dtype)) if v is not None]
    codec = check_codec(backend, codec)
    store_layout = plan_layout(pipeline, layout_obj.sensor_size, len(samples), dtype,
                               shard_samples, shard_rows)
    if shard_samples is None:
        store_layout = _align_shards(store_layout, samples)
    attrs = _base_attrs(key, name, split, match.layout, pipeline, fingerprint, listing, root,
                        store_layout, codec, backend, len(samples), layout_obj.sensor_size)
    attrs["dataset_options"] = repr(layout_obj)
    setup_s = time.perf_counter() - t0
    report = _build_locked(final, samples, pipeline, store_layout, attrs, listing,
                           backend=backend, codec=codec, jobs=jobs, rebuild=rebuild,
                           progress=progress, executor=executor, wait=wait, on_wait=on_wait,
                           stale_check=(name, split, pipeline.sha256(), fingerprint),
                           asked={k: attrs[k] for k in explicit})
    report.seconds["setup"] = setup_s
    if report.errors and not allow_errors:
        raise SampleErrors(report.path, report.errors)
    return report


def _base_attrs(key: str, dataset: str, split: str, layout_name: str, pipeline: Any,
                fingerprint: str, listing: SourceListing | None, root: Any,
                store_layout: StoreLayout, codec: str, backend: str, n: int,
                sensor_size: tuple[int, int]) -> dict[str, Any]:
    from .. import __version__

    rep = pipeline.representation
    return {
        "format": FORMAT_NAME, "format_version": STORE_FORMAT_VERSION,
        "eventcompress_version": __version__, "key": key, "dataset": dataset, "split": split,
        "layout": layout_name, "pipeline": pipeline.canonical_json(),
        "pipeline_sha256": pipeline.sha256(), "source_fingerprint": fingerprint,
        "source_root": None if root is None else str(Path(root).resolve()),
        "n_source_files": 0 if listing is None else len(listing.paths),
        "n_samples": n, "sensor_size": [int(v) for v in sensor_size], **store_layout.to_attrs(),
        "source_dtype": "events" if rep is None else str(pipeline.output_dtype),
        "codec": codec, "backend": backend, "created": _now(), "complete": False,
        "errors": [], "saturated_by_shard": {},
    }


def _build_locked(final: Path, items: list[Any], pipeline: Any, layout: StoreLayout,
                  attrs: dict[str, Any], listing: SourceListing, *, backend: Backend,
                  codec: str, jobs: int | None, rebuild: bool, progress: bool,
                  executor: str | TaskExecutor, wait: bool, on_wait: Any = None,
                  stale_check: tuple[str, str, str, str] | None = None,
                  asked: dict[str, Any] | None = None) -> BuildReport:
    partial = final.with_name(final.name + ".partial")
    say = on_wait or (lambda msg: print(f"{final.name}: {msg}", file=sys.stderr))
    with build_lock(final.with_name(final.name + ".lock"), wait=wait, on_wait=say):
        if final.exists():
            if not rebuild:
                _check_asked(final, asked or {})
                return _reused(final)
            remove_store(final)
            if partial.exists():
                shutil.rmtree(partial)
        if stale_check is not None:
            _check_stale(final.parent, *stale_check, rebuild=rebuild)
        # an HDF5 store is staged as an uncompressed zarr store (see hdf5_backend)
        staging_codec = codec if backend == "zarr" else "none"
        report = _run(partial, items, pipeline, layout, attrs, listing, codec=staging_codec,
                      jobs=jobs, progress=progress, executor=executor)
        t = time.perf_counter()
        _finalize(partial, final, backend, codec)
        report.seconds["finalize"] = time.perf_counter() - t
        report.path = final
        return report


def _check_asked(final: Path, asked: dict[str, Any]) -> None:
    """The codec and dtype are not part of the key (the same samples, stored otherwise): a
    finished store of the key written with another one than asked for is refused, not served."""
    from .store import read_store_attrs

    if not asked:
        return
    attrs = read_store_attrs(final)
    differ = [f"{k} {attrs.get(k)!r} (asked for {v!r})" for k, v in asked.items()
              if attrs.get(k) != v]
    if differ:
        raise StoreError(final, f"this store of the same samples and pipeline holds "
                         f"{', '.join(differ)}; rebuild=True (--rebuild) replaces it, or build "
                         "into another folder")


def _reused(final: Path) -> BuildReport:
    from .store import open_store

    store = open_store(final)
    return BuildReport(final, reused=True, samples=len(store), errors=store.errors,
                       saturated=store.saturated)


def _check_stale(folder: Path, dataset: str, split: str, pipeline_sha: str, fingerprint: str,
                 *, rebuild: bool) -> None:
    """A finished store of the same dataset, split and pipeline but another source or format
    version is refused (naming what differs) unless ``rebuild``, which removes it."""
    from .store import open_store, read_store_attrs

    for path in sorted(folder.glob(f"{dataset}-{split}-*")):
        if path.suffix not in BACKEND_SUFFIX.values():
            continue
        try:
            attrs = read_store_attrs(path)
        except StoreError:
            continue
        if attrs.get("pipeline_sha256") != pipeline_sha:
            continue
        if attrs.get("format_version") == STORE_FORMAT_VERSION \
                and attrs.get("source_fingerprint") == fingerprint:
            continue
        if rebuild:
            remove_store(path)
            continue
        open_store(path)  # raises StoreError naming the changed files or the format version
        raise StoreError(path, "this store was built from other source files (the sample list "
                         "or labels changed); rebuild=True / --rebuild replaces it")


def _run(partial: Path, items: list[Any], pipeline: Any, layout: StoreLayout,
         attrs: dict[str, Any], listing: SourceListing, *, codec: str, jobs: int | None,
         progress: bool, executor: str | TaskExecutor) -> BuildReport:
    from tqdm.auto import tqdm

    n = len(items)
    t0 = time.perf_counter()
    ex = get_executor(executor, jobs)
    ex.start()
    zw = _open_partial(partial, layout, codec, items, listing, attrs)
    done = zw.done()
    bounds = shard_bounds(n, layout.shard_samples)
    start_row = skip_rows = 0
    if layout.kind == "dense":
        todo = [s for s, (lo, hi) in enumerate(bounds) if np.any(done[lo:hi] == MISSING)]
    else:
        first, start_row, skip_rows = ragged_resume_point(layout, done, zw.lengths())
        todo = list(range(first, len(bounds)))
    dense = layout.kind == "dense"
    compressor = zw.compressor() if dense else None
    tasks: list[tuple[int, Task]] = []
    for s in todo:
        for a, b in _task_bounds(items, *bounds[s]):
            tasks.append((s, Task(a, items[a:b], pipeline, layout, dense, compressor)))
    computed = sum(len(t.items) for _, t in tasks)
    work: list[tuple[int, Any]] = list(tasks)
    fn: Any = compute_task
    if dense and ex.writes_shards:  # one task per shard, writing it on the worker
        work = [(s, ShardTask(s, str(partial), [t for k, t in tasks if k == s],
                              attrs.get("source_root"))) for s in todo]
        fn = compute_and_write_shard
    per_shard = {s: sum(1 for t, _ in work if t == s) for s in todo}
    writer = StoreWriter(zw, todo, per_shard, start_row=start_row, skip_rows=skip_rows)
    report = BuildReport(partial, samples=n, computed=computed)
    decode_s = transform_s = 0.0
    already = n - report.computed
    t_setup = time.perf_counter() - t0
    with tqdm(total=n, initial=already, unit="sample", desc=partial.name[:-len(".partial")],
              disable=None if progress else True, smoothing=0.1) as bar:
        try:
            for position, result in ex.imap_unordered(fn, (t for _, t in work),
                                                      window=max(4, 4 * ex.jobs)):
                decode_s += result.decode_s
                transform_s += result.transform_s
                bar.update(writer.add(work[position][0], result))
            writer.finish()
        finally:
            if not isinstance(executor, TaskExecutor):
                ex.close()
    for stray in partial.glob("*/c/**/.*.tmp"):  # left by a worker killed mid-write
        stray.unlink(missing_ok=True)
    report.errors = writer.error_list()
    report.saturated = sum(writer.saturated.values())
    status = zw.done()
    zw.update_attrs(complete=True, errors=report.errors,
                    status_counts={"built": int(np.sum(status == 1)),
                                   "failed": int(np.sum(status == FAILED)),
                                   "missing": int(np.sum(status == MISSING))})
    if np.any(status == MISSING):
        raise StoreError(partial, f"{int(np.sum(status == MISSING))} sample(s) were never "
                         "written (a bug: please report it); the partial store is kept")
    report.seconds.update(open=t_setup, decode=decode_s, transform=transform_s,
                          write=writer.write_s, total=time.perf_counter() - t0)
    return report


def _task_bounds(items: list[Any], lo: int, hi: int) -> list[tuple[int, int]]:
    """Runs of about TASK_SAMPLES samples of ``lo:hi``, cut where the source file changes
    when one is near (a task decodes each file once; DVS Gesture cuts 12 samples per file)."""
    out = []
    start = lo
    for i in range(lo + 1, hi):
        size = i - start
        new_file = getattr(items[i], "path", None) != getattr(items[i - 1], "path", None)
        if size >= 2 * TASK_SAMPLES or (size >= TASK_SAMPLES and new_file):
            out.append((start, i))
            start = i
    if start < hi:
        out.append((start, hi))
    return out


def _open_partial(partial: Path, layout: StoreLayout, codec: str, items: list[Any],
                  listing: SourceListing, attrs: dict[str, Any]) -> ZarrWriter:
    if partial.exists():
        try:
            zw = ZarrWriter.open(partial)
            old = zw.attrs
        except Exception:
            old = {}
        if old.get("key") == attrs["key"] and old.get("format_version") == STORE_FORMAT_VERSION \
                and StoreLayout.from_attrs(old) == layout and old.get("codec") == attrs["codec"]:
            return zw
        shutil.rmtree(partial)  # another key, format or layout: start again
    labels = np.array([_label(it) for it in items], np.int64)
    ids = [_sample_id(it, i) for i, it in enumerate(items)]
    return ZarrWriter.create(partial, layout, codec, labels, ids, listing, attrs)


def _label(item: Any) -> int:
    return int(item.label) if hasattr(item, "label") else int(item.metadata.get("label", -1))


def _sample_id(item: Any, index: int) -> str:
    return str(item.id) if hasattr(item, "id") else str(item.metadata.get("sample_id", index))


def _finalize(partial: Path, final: Path, backend: Backend, codec: str) -> None:
    if backend == "hdf5":
        from .hdf5_backend import convert_to_hdf5

        tmp = final.with_name(final.name + ".tmp")
        convert_to_hdf5(partial, tmp, codec)
        os.replace(tmp, final)
        shutil.rmtree(partial)
    else:
        os.rename(partial, final)


def remove_store(path: str | os.PathLike[str]) -> None:
    """Delete a store (folder or file) and its ``.partial`` / ``.lock`` companions."""
    path = Path(path)
    for p in (path, path.with_name(path.name + ".partial"), path.with_name(path.name + ".tmp")):
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()
