"""Checksums and safe extraction of zip / tar(.gz) archives.

Every member is checked before anything is written: absolute names, ``..`` components, links and
special files are refused (FormatError naming the member), so an archive can never write outside
the folder it is extracted into. Extraction goes to a hidden staging folder that is renamed into
place at the end, so an interrupted extraction never leaves a half-filled dataset folder behind.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from tqdm.auto import tqdm

from ..errors import ChecksumError, FormatError

_CHUNK = 1 << 20


def md5sum(path: str | os.PathLike[str], quiet: bool = True) -> str:
    """Hex md5 of a file, read in 1 MiB chunks (progress bar unless ``quiet``)."""
    h = hashlib.md5(usedforsecurity=False)
    size = os.path.getsize(path)
    with open(path, "rb") as f, tqdm(total=size, unit="B", unit_scale=True, disable=quiet,
                                     desc=f"md5 {Path(path).name}", leave=False) as bar:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            bar.update(len(chunk))
    return h.hexdigest()


def verify_md5(path: str | os.PathLike[str], expected: str, quiet: bool = True) -> None:
    """Raise ChecksumError unless the md5 of ``path`` is ``expected``."""
    actual = md5sum(path, quiet=quiet)
    if actual != expected.lower():
        raise ChecksumError(path, expected.lower(), actual)


def _check_member_name(archive: Path, name: str) -> None:
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise FormatError(archive, f"member {name!r} has an absolute path",
                          expected="relative member paths inside the archive folder")
    if ".." in pure.parts:
        raise FormatError(archive, f"member {name!r} escapes the extraction folder",
                          expected="member paths without '..'")


def _zip_members(archive: Path, zf: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    members = zf.infolist()
    for info in members:
        _check_member_name(archive, info.filename)
        mode = info.external_attr >> 16
        if mode and (mode & 0o170000) not in (0, 0o100000, 0o040000):
            raise FormatError(archive, f"member {info.filename!r} is a link or special file",
                              expected="regular files and folders only")
    return members


def _tar_members(archive: Path, tf: tarfile.TarFile) -> list[tarfile.TarInfo]:
    members = tf.getmembers()
    for info in members:
        _check_member_name(archive, info.name)
        if not (info.isfile() or info.isdir()):
            raise FormatError(archive, f"member {info.name!r} is a link or special file",
                              expected="regular files and folders only")
    return members


def archive_kind(path: str | os.PathLike[str]) -> str:
    name = os.fspath(path).lower()
    if name.endswith(".zip"):
        return "zip"
    if name.endswith((".tar.gz", ".tgz", ".tar")):
        return "tar"
    raise ValueError(f"{path}: not a .zip, .tar or .tar.gz archive")


def extract_archive(
    archive: str | os.PathLike[str], dest: str | os.PathLike[str], quiet: bool = True
) -> list[Path]:
    """Extract ``archive`` safely into ``dest`` (created if needed) and return the top-level
    paths it created there. Existing entries of the same name are replaced."""
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    staging = dest / f".staging-{archive.name}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    try:
        if archive_kind(archive) == "zip":
            with zipfile.ZipFile(archive) as zf:
                members = _zip_members(archive, zf)
                for info in tqdm(members, desc=f"extract {archive.name}", disable=quiet,
                                 leave=False):
                    zf.extract(info, staging)
        else:
            with tarfile.open(archive) as tf:
                members = _tar_members(archive, tf)
                for info in tqdm(members, desc=f"extract {archive.name}", disable=quiet,
                                 leave=False):
                    tf.extract(info, staging, filter="data")
        created = []
        for entry in sorted(staging.iterdir()):
            target = dest / entry.name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
            entry.rename(target)
            created.append(target)
        return created
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        raise FormatError(archive, f"cannot be extracted ({exc})",
                          expected="a complete zip / tar archive") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
