"""One builder per store key: an advisory ``flock`` on ``<name>.lock`` next to the store.

The kernel releases the lock when its holder dies (SIGKILL included), so a crashed build never
leaves a stale lock behind; the lock file itself may stay and is harmless.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import StoreError


@contextmanager
def build_lock(path: str | os.PathLike[str], *, wait: bool = True,
               on_wait: Callable[[str], None] | None = None,
               timeout: float | None = None) -> Iterator[None]:
    """Hold the lock ``path`` for the block. When another process holds it: ``on_wait`` is told
    who, then this waits (``wait``, up to ``timeout`` seconds) or raises StoreError at once."""
    path = Path(path)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
            message = (f"another process (pid {holder}) is building this store; "
                       + ("waiting for it to finish" if wait else "try again when it has finished"))
            if not wait:
                raise StoreError(path.with_suffix(""), message) from None
            if on_wait is not None:
                on_wait(message)
            _wait_for(fd, path, timeout)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode("ascii"), 0)
        yield
    finally:
        os.close(fd)  # closing releases the flock


def _wait_for(fd: int, path: Path, timeout: float | None) -> None:
    if timeout is None:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise StoreError(path.with_suffix(""), f"the build lock {path} is still held "
                                 f"after {timeout:g} s") from None
            time.sleep(0.05)
