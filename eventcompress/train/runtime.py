"""Process-level concerns of a training run: the device, Ctrl-C, global torch settings."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

from ..errors import ConfigError

__all__ = ["StopOnSigint", "resolve_device", "run_settings"]


def resolve_device(name: str) -> torch.device:
    """``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda`` or ``cuda:N``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            why = ("this torch build has no CUDA support" if torch.version.cuda is None
                   else "no CUDA device is visible")
            raise ConfigError(f"--device {name}: {why} (torch {torch.__version__}); use "
                              "--device cpu or auto", key="--device")
        return torch.device(name)
    if name == "cpu":
        return torch.device("cpu")
    raise ConfigError(f"unknown device {name!r}; expected auto, cpu or cuda", key="--device")


class StopOnSigint:
    """First Ctrl-C: stop at the next batch boundary; a second one interrupts at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\ninterrupt: saving last.pt at the end of this batch (Ctrl-C again to abort)",
              file=sys.stderr)

    def __enter__(self) -> StopOnSigint:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


@contextmanager
def run_settings(deterministic: bool, device: torch.device) -> Iterator[None]:
    """Process-wide settings for the duration of training only: deterministic algorithms when
    asked, and on the CPU subnormal floats flushed to zero (Adam's moments fall into them once
    the loss is small, and x86 CPUs process them very slowly)."""
    before = torch.are_deterministic_algorithms_enabled()
    benchmark = torch.backends.cudnn.benchmark
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS needs it
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
    flush = device.type == "cpu" and torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before)
        torch.backends.cudnn.benchmark = benchmark
        if flush:
            torch.set_flush_denormal(False)
