"""Canonical JSON and hashing of configuration objects (they key the cache)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from dataclasses import FrozenInstanceError, dataclass

import numpy as np
import pytest

from eventcompress.config import FrozenConfig, canonical_json


@dataclass(frozen=True)
class _Demo(FrozenConfig):
    steps: int = 4
    tau_s: float = math.inf
    size: tuple[int, int] = (34, 34)
    mode: str = "fixed"
    extra: dict | None = None


def test_canonical_json_is_sorted_compact_and_typed():
    text = _Demo(extra={"b": 1, "a": 2}).canonical_json()
    assert text == (
        '{"extra":{"a":2,"b":1},"mode":"fixed","size":[34,34],"steps":4,'
        '"tau_s":"inf","type":"_Demo","version":1}'
    )
    assert json.loads(text)["tau_s"] == "inf"


def test_hash_changes_with_any_field_and_with_schema_version():
    base = _Demo()
    assert base.sha256() == _Demo().sha256()
    assert base.sha256() != _Demo(steps=5).sha256()
    assert base.sha256() != _Demo(tau_s=1e4).sha256()

    @dataclass(frozen=True)
    class _DemoV2(_Demo):
        schema_version = 2

    assert _DemoV2().to_dict()["version"] == 2
    assert _DemoV2().sha256() != base.sha256()


def test_numpy_scalars_hash_like_python_scalars():
    assert _Demo(steps=np.int64(4), tau_s=np.float32(0.5)).sha256() == _Demo(tau_s=0.5).sha256()


def test_nan_and_unknown_types_are_rejected():
    with pytest.raises(ValueError, match="NaN"):
        _Demo(tau_s=math.nan).canonical_json()
    with pytest.raises(TypeError, match="not allowed"):
        canonical_json({"f": object()})


def test_configs_are_frozen():
    with pytest.raises(FrozenInstanceError):
        _Demo().steps = 3  # type: ignore[misc]


def test_hash_is_stable_across_processes_and_hash_seeds():
    code = (
        "import math, sys; sys.path.insert(0, 'tests');"
        "from test_config import _Demo; print(_Demo(extra={'z': 1, 'a': [1.5, 2]}).sha256())"
    )
    ours = _Demo(extra={"z": 1, "a": [1.5, 2]}).sha256()
    for seed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env=env, check=True, cwd=os.path.dirname(os.path.dirname(__file__)))
        assert out.stdout.strip() == ours
