"""Shared fixtures: the path of ../shared/realdata and hypothesis profiles."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Numba compiles on first call, which can exceed hypothesis' default 200 ms deadline.
settings.register_profile(
    "dev", deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci", deadline=None, max_examples=40, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

ROOT = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("EVENTCOMPRESS_REALDATA", ROOT.parent / "shared" / "realdata"))


@pytest.fixture(scope="session")
def realdata() -> Path:
    """../shared/realdata, or skip the test with a message saying where it was looked for."""
    if not REALDATA.is_dir():
        pytest.skip(f"real sample data not found at {REALDATA} (set EVENTCOMPRESS_REALDATA)")
    return REALDATA


@pytest.fixture(scope="session")
def nmnist_small(realdata: Path) -> Path:
    root = realdata / "nmnist" / "NMNIST-small"
    if not root.is_dir():
        pytest.skip(f"NMNIST-small not found at {root}")
    return root
