"""Download, verify and unpack dataset archives (urllib only), resuming partial downloads.

Archives are kept in ``ROOT/archives/``. A download is written to ``<name>.part``; when that file
exists the next attempt asks only for the missing bytes (HTTP ``Range``). A server that answers
``200`` instead of ``206`` is sending the whole file again, so the part file is restarted from
byte 0. The finished file is renamed to its final name only after its md5 matches; on a mismatch
the part file is deleted and ChecksumError raised, so a bad file is never unpacked or kept.
"""

from __future__ import annotations

import os
import shutil
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from tqdm.auto import tqdm

from .. import __version__
from ..errors import ChecksumError, LayoutError
from .archive import extract_archive, md5sum, verify_md5
from .cifar10dvs import CLASSES as CIFAR_CLASSES
from .gesture_checksums import TRIAL_AEDAT_MD5
from .sources import Resource, Source, get_source

MIRROR_ENV = "EVENTCOMPRESS_MIRROR"
_CHUNK = 1 << 20


class ManualDownloadRequired(LayoutError):
    """The dataset (or one archive) must be fetched by hand; the message says how."""


def fetch(url: str, dest: str | os.PathLike[str], md5: str | None = None, *, quiet: bool = False,
          timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest`` via ``dest.part``, resuming a previous partial download.

    Returns ``dest``. Raises ChecksumError (part file deleted) when ``md5`` does not match, and
    OSError / urllib errors for network failures (part file kept, so a retry resumes).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": f"eventcompress/{__version__}"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                          timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code != 416 or not offset:
            raise
        # 416: nothing left past our offset, i.e. the part file already holds the whole file
        # (or is longer than it). The md5 decides; a bad part restarts from scratch once.
        exc.close()
        return _finish(part, dest, md5, quiet, restart=lambda: fetch(url, dest, md5, quiet=quiet,
                                                                     timeout=timeout))
    with response:
        resumed = offset > 0 and response.status == 206
        if resumed:
            content_range = response.headers.get("Content-Range", "")
            if not content_range.startswith(f"bytes {offset}-"):
                raise OSError(f"{url}: asked for bytes {offset}- but got Content-Range "
                              f"{content_range!r}")
        else:
            offset = 0
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length is not None else None
        with open(part, "ab" if resumed else "wb") as f, tqdm(
            total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
            desc=dest.name, disable=quiet, leave=False,
        ) as bar:
            while chunk := response.read(_CHUNK):
                f.write(chunk)
                bar.update(len(chunk))
    size = part.stat().st_size
    if total is not None and size != total:
        raise OSError(f"{url}: connection ended after {size} of {total} bytes; run again to resume")
    return _finish(part, dest, md5, quiet)


def _finish(part: Path, dest: Path, md5: str | None, quiet: bool,
            restart: Callable[[], Path] | None = None) -> Path:
    if md5 is not None:
        actual = md5sum(part, quiet=quiet)
        if actual != md5.lower():
            part.unlink()
            if restart is not None:
                return restart()
            raise ChecksumError(dest, md5.lower(), actual)
    part.replace(dest)
    return dest


def resolve_mirror(mirror: str | None) -> str | None:
    """The mirror base URL: the argument, else ``$EVENTCOMPRESS_MIRROR``, else None."""
    mirror = mirror or os.environ.get(MIRROR_ENV) or None
    return mirror.rstrip("/") if mirror else None


def _resource_url(resource: Resource, mirror: str | None) -> str | None:
    return f"{mirror}/{resource.filename}" if mirror else resource.url


def _find_placed(root: Path, resource: Resource) -> Path | None:
    for folder in (root / "archives", root):
        for name in (resource.filename, *resource.alt_names):
            if (folder / name).is_file():
                return folder / name
    return None


def _move_into(src: Path, target: Path) -> None:
    if target.is_dir():
        shutil.rmtree(target)
    elif target.exists():
        target.unlink()
    target.parent.mkdir(parents=True, exist_ok=True)
    src.rename(target)


def _unpack_into(archive: Path, root: Path, name: str, quiet: bool) -> None:
    """Unpack ``archive`` into ``root/name``, dropping a single top-level folder ``name``."""
    tmp = root / f".unpack-{archive.name}"
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        created = extract_archive(archive, tmp, quiet=quiet)
        if len(created) == 1 and created[0].is_dir() and created[0].name == name:
            _move_into(created[0], root / name)
        else:
            _move_into(tmp, root / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _unpack_nested(archive: Path, root: Path, quiet: bool) -> None:
    """tonic's CIFAR10DVS.zip: per-class zips (or class folders) somewhere inside."""
    tmp = root / f".unpack-{archive.name}"
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        extract_archive(archive, tmp, quiet=quiet)
        for cls in CIFAR_CLASSES:
            inner = sorted(tmp.rglob(f"{cls}.zip"))
            folders = sorted(p for p in tmp.rglob(cls) if p.is_dir())
            if inner:
                _unpack_into(inner[0], root, cls, quiet)
            elif folders:
                _move_into(folders[0], root / cls)
            else:
                raise LayoutError(f"{archive}: holds neither {cls}.zip nor a {cls}/ folder")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _install(archive: Path, root: Path, resource: Resource, quiet: bool) -> None:
    if resource.nested:
        _unpack_nested(archive, root, quiet)
    else:
        _unpack_into(archive, root, resource.extract_to, quiet)
    (root / "archives").mkdir(exist_ok=True)
    (root / "archives" / f"{resource.filename}.done").write_text(resource.md5 + "\n")


def _say(quiet: bool, message: str) -> None:
    if not quiet:
        print(message, file=sys.stderr)


def download(
    dataset: str,
    root: str | os.PathLike[str],
    *,
    source: str = "original",
    mirror: str | None = None,
    quiet: bool = False,
    timeout: float = 60.0,
) -> Path:
    """Fetch (or take the user-placed copies of), verify and unpack a dataset into ``root``.

    ``mirror`` (or ``$EVENTCOMPRESS_MIRROR``) replaces the public base URL: every archive is then
    fetched from ``<mirror>/<filename>``. Already installed archives (``archives/<name>.done``
    present) are skipped. Raises ManualDownloadRequired with step-by-step instructions when an
    archive has no public URL and was not placed in ``root/archives/``, or when the download
    from a public URL fails for a dataset that documents manual steps (N-MNIST; the part file
    is kept, so a rerun resumes). Returns ``root``.
    """
    src: Source = get_source(dataset, source)
    root = Path(root).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    base = resolve_mirror(mirror)
    steps = src.manual.format(root=root, archives=root / "archives") if src.manual else None
    for resource in src.resources:
        done = root / "archives" / f"{resource.filename}.done"
        target = root / resource.extract_to if resource.extract_to else None
        if done.is_file() and done.read_text().strip() == resource.md5 and (
            target is None or target.exists()
        ):
            _say(quiet, f"{resource.filename}: already verified and unpacked")
            continue
        archive = _find_placed(root, resource)
        if archive is not None:
            _say(quiet, f"{resource.filename}: checking md5 of {archive}")
            verify_md5(archive, resource.md5, quiet=quiet)
        else:
            url = _resource_url(resource, base)
            if url is None:
                if src.dataset == "dvsgesture" and (root / "DvsGesture").is_dir():
                    verify_gesture_trials(root / "DvsGesture", quiet=quiet)
                    continue
                raise ManualDownloadRequired(
                    steps or f"{resource.filename} has no download URL; pass --mirror")
            _say(quiet, f"{resource.filename}: downloading {url}")
            try:
                archive = fetch(url, root / "archives" / resource.filename, resource.md5,
                                quiet=quiet, timeout=timeout)
            except OSError as exc:  # urllib's URLError/HTTPError included; ChecksumError is not
                if steps is None or base is not None:
                    raise
                raise ManualDownloadRequired(
                    f"{resource.filename}: downloading {url} failed ({exc}); running the "
                    f"command again resumes it.\n{steps}") from exc
        _say(quiet, f"{resource.filename}: md5 ok, unpacking")
        _install(archive, root, resource, quiet)
        if src.dataset == "dvsgesture" and src.name == "original":
            verify_gesture_trials(root / "DvsGesture", quiet=quiet)
    return root


def verify_gesture_trials(folder: str | os.PathLike[str], quiet: bool = True,
                          require_all: bool = True) -> dict[str, str]:
    """Check the md5 of every DVS Gesture trial ``.aedat`` in ``folder`` against the published
    table. Returns ``{file name: md5}`` of the checked files; raises ChecksumError on the first
    mismatch, LayoutError for unknown trial files or (with ``require_all``) missing ones."""
    folder = Path(folder)
    present = sorted(p.name for p in folder.glob("*.aedat"))
    unknown = [n for n in present if n not in TRIAL_AEDAT_MD5]
    if unknown:
        raise LayoutError(f"{folder}: trial files not in the published list: {unknown[:5]}")
    missing = sorted(set(TRIAL_AEDAT_MD5) - set(present))
    if require_all and missing:
        raise LayoutError(f"{folder}: {len(missing)} of 122 trials missing, e.g. {missing[:3]}")
    checked = {}
    for name in tqdm(present, desc="md5 trials", disable=quiet, leave=False):
        verify_md5(folder / name, TRIAL_AEDAT_MD5[name])
        checked[name] = TRIAL_AEDAT_MD5[name]
    return checked
