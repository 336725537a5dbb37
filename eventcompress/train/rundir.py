"""The run directory: what a training run writes, and reading it back.

::

    RUN_DIR/
      recipe.toml        the resolved recipe (file + --set overrides), as trained
      environment.json   versions, device, threads, command line, data preparation
      metrics.jsonl      one JSON object per finished epoch
      last.pt            the latest state (end of an epoch, or where a Ctrl-C stopped)
      best.pt            the validation-selected epoch
      summary.json       the results (written when training ends)
"""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

__all__ = ["RunDir", "environment"]


def environment(device: Any) -> dict[str, Any]:
    """Versions, device and thread settings of this process."""
    import numba
    import numpy
    import torch

    from .. import __version__

    env: dict[str, Any] = {
        "eventcompress": __version__, "python": platform.python_version(),
        "torch": torch.__version__, "numpy": numpy.__version__, "numba": numba.__version__,
        "platform": platform.platform(), "processor": platform.processor(),
        "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "numba_threads": numba.config.NUMBA_NUM_THREADS, "device": str(device),
        "command": sys.argv,
    }
    if str(device).startswith("cuda"):
        env["cuda"] = torch.version.cuda
        env["gpu"] = torch.cuda.get_device_name(device)
    return env


class RunDir:
    """Paths of one run directory and its small JSON files."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    recipe = property(lambda self: self.path / "recipe.toml")
    env = property(lambda self: self.path / "environment.json")
    metrics = property(lambda self: self.path / "metrics.jsonl")
    last = property(lambda self: self.path / "last.pt")
    best = property(lambda self: self.path / "best.pt")
    summary = property(lambda self: self.path / "summary.json")

    def write_json(self, path: Path, data: Any) -> None:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
        os.replace(tmp, path)

    def append_metrics(self, row: dict[str, Any]) -> None:
        with open(self.metrics, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")

    def read_metrics(self) -> list[dict[str, Any]]:
        if not self.metrics.is_file():
            return []
        return [json.loads(line) for line in self.metrics.read_text("utf-8").splitlines()
                if line.strip()]

    def keep_metrics(self, epochs: int) -> None:
        """Drop the rows after epoch ``epochs`` (a resumed run rewrites them)."""
        rows = [r for r in self.read_metrics() if r["epoch"] <= epochs]
        self.metrics.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")

    def read_summary(self) -> dict[str, Any]:
        return json.loads(self.summary.read_text("utf-8"))
