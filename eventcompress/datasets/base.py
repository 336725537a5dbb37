"""What every dataset layout shares: the ``Sample`` record, loading, and layout errors.

A layout only walks folders and parses small label files; it never decodes events, so listing
70,000 N-MNIST samples costs a directory scan. Events are read on demand by ``load_sample``.
"""

from __future__ import annotations

import os
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

from ..errors import LayoutError
from ..events import Events

SPLITS: tuple[str, ...] = ("train", "test")


@dataclass(frozen=True)
class Sample:
    """One labelled sample of a dataset.

    ``id`` is stable and unique within a dataset (e.g. ``"Train/3/00012"``,
    ``"user01_natural#4"``). ``time_slice`` is ``(start, end)`` in microseconds on the file's
    clock, half-open (``start <= t < end``), or None for the whole file. ``format`` is the
    reader format of ``path`` (see ``eventcompress.io``). ``metadata`` holds dataset-specific
    facts (MNIST index, user, lighting, label-row index, ...) and takes no part in hashing.
    """

    id: str
    path: Path
    label: int
    split: str
    time_slice: tuple[int, int] | None = None
    format: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


class LayoutMatch(NamedTuple):
    """The result of ``discover``: which layout was found and the folder that holds it."""

    layout: str
    data_root: Path


def load_sample(sample: Sample, **reader_kwargs: Any) -> Events:
    """Read ``sample.path`` and cut it to ``sample.time_slice``.

    ``reader_kwargs`` go to ``eventcompress.io.read`` (e.g. ``on_unsorted="sort"``). The returned
    events carry ``sample_id``, ``label`` and ``split`` in their metadata.
    """
    events = read_sample_file(sample, **reader_kwargs)
    return slice_sample(sample, events)


def read_sample_file(sample: Sample, **reader_kwargs: Any) -> Events:
    """Decode the whole file behind ``sample`` (several samples may share one file)."""
    read = _READ or _load_reader()
    return read(sample.path, format=sample.format, **reader_kwargs)


_READ: Any = None


def _load_reader() -> Any:
    """``eventcompress.io.read``, imported on first use (listing samples must not need the
    readers) and kept: an import statement per file costs a microsecond or two."""
    global _READ
    from ..io import read

    _READ = read
    return read


def slice_sample(sample: Sample, events: Events) -> Events:
    """Apply ``sample.time_slice`` to the decoded file and tag the result with the sample."""
    if sample.time_slice is not None:
        events = events.time_slice(*sample.time_slice)
    return events.with_metadata(sample_id=sample.id, label=sample.label, split=sample.split)


_DIGIT_RUNS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple[Any, ...]:
    """Sort key that orders digit runs by value: ``a2 < a10``. Ties fall back to the name."""
    # a precompiled pattern and a list (not a generator): 5 -> 3 us a name, twice per sample
    key = [(0, int(p)) if p.isdigit() else (1, p) for p in _DIGIT_RUNS.split(name) if p]
    key.append((2, name))
    return tuple(key)


def list_dir(path: Path, ordered: bool = True) -> list[os.DirEntry[str]]:
    """Entries of ``path`` without hidden ones (``.DS_Store``, ``._foo``, ``.staging``), in
    natural order of their names (in the file system's order when not ``ordered``: samples
    are sorted once at the end anyway)."""
    with os.scandir(path) as it:
        visible = [e for e in it if not e.name.startswith(".")]
    if ordered:
        visible.sort(key=lambda e: natural_key(e.name))
    return visible


def describe_found(root: Path, limit: int = 12) -> str:
    """A short listing of what is actually in ``root`` for error messages."""
    if not root.exists():
        return f"{root} does not exist"
    if not root.is_dir():
        return f"{root} is a file, not a folder"
    entries = list_dir(root)
    if not entries:
        return f"{root} is empty"
    shown = [e.name + ("/" if e.is_dir() else "") for e in entries[:limit]]
    more = f" ... (+{len(entries) - limit} more)" if len(entries) > limit else ""
    return f"found in {root}: " + ", ".join(shown) + more


class DatasetLayout(ABC):
    """Base class of the dataset layouts. Subclasses set the class attributes and implement
    ``discover`` and ``_samples``; options (split scheme, seed, row mode) live on the instance."""

    name: ClassVar[str]
    title: ClassVar[str]
    classes: ClassVar[tuple[str, ...]]
    sensor_size: ClassVar[tuple[int, int]]
    #: layout name -> expected tree (shown in LayoutError messages)
    expected_trees: ClassVar[dict[str, str]]

    @abstractmethod
    def discover(self, root: str | os.PathLike[str]) -> LayoutMatch:
        """Identify the layout under ``root``; raise LayoutError showing the expected trees."""

    @abstractmethod
    def _samples(self, match: LayoutMatch) -> list[Sample]:
        """Every sample of the dataset under ``match``, any order."""

    def _split_samples(self, match: LayoutMatch, split: str | None) -> list[Sample]:
        """The samples of ``split`` (all when None), any order. Layouts whose splits are
        separate folders override it to walk only the folder asked for."""
        found = self._samples(match)
        return found if split is None else [s for s in found if s.split == split]

    def samples(self, root: str | os.PathLike[str], split: str | None = None) -> list[Sample]:
        """Samples under ``root`` sorted by ``(split, label, id)`` (natural order of ids), all
        splits when ``split`` is None."""
        if split is not None and split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS} or None, got {split!r}")
        match = self.discover(root)
        found = self._split_samples(match, split)
        order = {name: i for i, name in enumerate(SPLITS)}
        return sorted(found, key=lambda s: (order[s.split], s.label, natural_key(s.id)))

    def layout_error(self, root: Path, problem: str | None = None) -> LayoutError:
        """A LayoutError that shows every accepted layout as a tree and what ``root`` holds."""
        lines = [f"{root} does not look like a {self.title} folder"
                 + (f": {problem}" if problem else ".")]
        lines.append("Expected one of these layouts (ROOT = the folder you passed):")
        for layout, tree in self.expected_trees.items():
            lines.append(f"  [{layout}]")
            lines.extend("    " + row for row in tree.strip("\n").splitlines())
        lines.append(describe_found(root))
        return LayoutError("\n".join(lines))

    def class_name(self, label: int) -> str:
        return self.classes[label]

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

