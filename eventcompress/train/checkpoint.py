"""Checkpoints: model, optimiser, scheduler, RNG and loop state in one ``torch.save`` file.

A checkpoint also carries the resolved recipe text and the network name, so that ``eval`` can
rebuild the network and its data, and so that loading it into another network fails with the
name of the first parameter that differs rather than a ``load_state_dict`` traceback.
Files are written to a temporary name and renamed, so an interrupted save never leaves half a
checkpoint where the previous one was.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import EventCompressError

__all__ = ["CheckpointError", "FORMAT", "capture_rng", "load_checkpoint", "load_model_state",
           "restore_rng", "save_checkpoint"]

#: Format tag and version of the checkpoint dictionary.
FORMAT = ("eventcompress-checkpoint", 1)


class CheckpointError(EventCompressError):
    """A checkpoint is missing, unreadable, or does not fit the network it is loaded into."""


def capture_rng() -> dict[str, Any]:
    """Every global random state training draws from (torch CPU and CUDA, ``random``); the
    engine itself draws from seeded generators only."""
    state = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | os.PathLike[str], state: dict[str, Any]) -> Path:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"format": FORMAT, **state}, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (tensors on the CPU)."""
    path = Path(path)
    if path.is_dir():
        for name in ("best.pt", "last.pt"):
            if (path / name).is_file():
                path = path / name
                break
        else:
            raise CheckpointError(f"{path}: a run directory without best.pt or last.pt")
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises many types for a damaged file
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(exc).__name__}: "
                              f"{exc})") from None
    if not isinstance(state, dict) or tuple(state.get("format", ())) != FORMAT:
        raise CheckpointError(f"{path}: not an eventcompress checkpoint (expected format "
                              f"{FORMAT[0]} version {FORMAT[1]})")
    state["path"] = str(path)
    return state


def load_model_state(model: nn.Module, state: dict[str, Any], *, network: str,
                     source: Any = "checkpoint") -> None:
    """``model.load_state_dict(state["model"])`` after checking that the tensors fit.

    ``network`` names ``model``; a mismatch names both networks and the first missing,
    unexpected or differently shaped tensor.
    """
    saved = state["model"]
    theirs = state.get("network", "?")
    own = model.state_dict()
    problems = []
    missing = [k for k in own if k not in saved]
    unexpected = [k for k in saved if k not in own]
    if missing:
        problems.append(f"missing {missing[0]!r}" + (f" (+{len(missing) - 1} more)"
                                                       if len(missing) > 1 else ""))
    if unexpected:
        problems.append(f"unexpected {unexpected[0]!r}" + (
            f" (+{len(unexpected) - 1} more)" if len(unexpected) > 1 else ""))
    for key, tensor in own.items():
        if key in saved and tuple(saved[key].shape) != tuple(tensor.shape):
            problems.append(f"{key!r} has shape {list(saved[key].shape)} in the checkpoint, "
                            f"{list(tensor.shape)} in the network")
            break
    if problems:
        raise CheckpointError(f"{source}: the checkpoint holds network {theirs!r}, which does "
                              f"not fit {network!r}: {'; '.join(problems)}")
    model.load_state_dict(saved)
