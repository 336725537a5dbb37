"""Shared fixtures and CI guards: the path of ../shared/realdata, hypothesis profiles, oracles.

Under ``EVENTCOMPRESS_CI=1`` (set by ``.ci/run``) a run must prove something: the session fails
when no test passed, and a missing test oracle (tonic, the ``aedat`` package; see
:data:`ORACLES`) fails the tests that need it instead of skipping them. Missing real data may
still skip: it lives outside the repository.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType

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

CI_ENV = "EVENTCOMPRESS_CI"
#: Top-level packages that serve as test oracles (dev extras): required under CI.
ORACLES = frozenset({"tonic", "aedat"})


def in_ci() -> bool:
    return os.environ.get(CI_ENV, "") == "1"


def require_oracle(module: str) -> ModuleType:
    """Import a test oracle such as ``"tonic.io"`` or ``"aedat"``.

    Like ``pytest.importorskip``, except under ``EVENTCOMPRESS_CI=1``, where a missing oracle
    fails the test: a CI run that silently skipped every comparison would prove nothing.
    """
    if module.split(".")[0] not in ORACLES:
        raise ValueError(f"{module!r} is not a registered oracle ({sorted(ORACLES)})")
    if not in_ci():
        return pytest.importorskip(module)
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        pytest.fail(f"test oracle {module!r} cannot be imported ({exc}) and {CI_ENV}=1 forbids "
                    "skipping: install the dev extras (pip install -e '.[dev]')", pytrace=False)


def ci_exit_status(exitstatus: int, passed: int, ci: bool) -> int:
    """The session's exit status: under CI a run that would end green (or with "no tests
    collected") although no test passed fails with status 1; other statuses stay."""
    ok = (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED)
    if ci and passed == 0 and exitstatus in ok:
        return int(pytest.ExitCode.TESTS_FAILED)
    return int(exitstatus)


class _PassCounter:
    """Counts tests whose call phase passed."""

    name = "eventcompress-pass-counter"

    def __init__(self) -> None:
        self.passed = 0

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" and report.passed:
            self.passed += 1


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(_PassCounter(), _PassCounter.name)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    counter = session.config.pluginmanager.get_plugin(_PassCounter.name)
    passed = counter.passed if counter is not None else 0
    status = ci_exit_status(exitstatus, passed, in_ci())
    if status != exitstatus:
        session.exitstatus = status
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"{CI_ENV}=1: no test passed, so the run fails", red=True)


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
