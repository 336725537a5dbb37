"""The CI guards of tests/conftest.py: oracles fail instead of skipping, and a run in which no
test passed fails, both only under EVENTCOMPRESS_CI=1."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CI_ENV, ORACLES, ci_exit_status, require_oracle

HERE = Path(__file__).resolve().parent


def test_oracle_list() -> None:
    assert ORACLES == {"tonic", "aedat"}
    with pytest.raises(ValueError, match="not a registered oracle"):
        require_oracle("numpy")


def test_missing_oracle_skips_locally_and_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "aedat", None)  # makes `import aedat` raise ImportError
    monkeypatch.delenv(CI_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception):
        require_oracle("aedat")
    monkeypatch.setenv(CI_ENV, "0")
    with pytest.raises(pytest.skip.Exception):
        require_oracle("aedat")
    monkeypatch.setenv(CI_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match=r"oracle 'aedat'.*EVENTCOMPRESS_CI=1"):
        require_oracle("aedat")


def test_present_oracle_is_returned_in_both_modes(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = type(sys)("tonic")
    fake_io = type(sys)("tonic.io")
    fake.io = fake_io
    monkeypatch.setitem(sys.modules, "tonic", fake)
    monkeypatch.setitem(sys.modules, "tonic.io", fake_io)
    for ci in ("", "1"):
        monkeypatch.setenv(CI_ENV, ci)
        assert require_oracle("tonic") is fake
        assert require_oracle("tonic.io") is fake_io


@pytest.mark.parametrize(("exitstatus", "passed", "ci", "expected"), [
    (0, 0, True, 1), (5, 0, True, 1), (0, 3, True, 0), (1, 0, True, 1), (2, 0, True, 2),
    (0, 0, False, 0), (5, 0, False, 5), (1, 2, False, 1),
])
def test_ci_exit_status(exitstatus: int, passed: int, ci: bool, expected: int) -> None:
    assert ci_exit_status(exitstatus, passed, ci) == expected


def _run_pytest(tmp_path: Path, body: str, ci: bool) -> subprocess.CompletedProcess[str]:
    """pytest in a fresh process on one test file, with a copy of our conftest."""
    shutil.copy(HERE / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_probe.py").write_text(body)
    env = {k: v for k, v in os.environ.items() if k != CI_ENV}
    if ci:
        env[CI_ENV] = "1"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )


SKIP_ONLY = "import pytest\n\ndef test_skipped():\n    pytest.skip('no data')\n"
PASS_AND_MISSING_ORACLE = """\
import sys
from conftest import require_oracle

def test_passes():
    assert 1 + 1 == 2

def test_needs_oracle(monkeypatch):
    monkeypatch.setitem(sys.modules, "aedat", None)
    require_oracle("aedat")
"""


def test_session_without_a_passed_test_fails_under_ci(tmp_path: Path) -> None:
    ci = _run_pytest(tmp_path, SKIP_ONLY, ci=True)
    assert ci.returncode == 1, ci.stdout + ci.stderr
    assert "1 skipped" in ci.stdout and "no test passed" in ci.stdout
    local = _run_pytest(tmp_path, SKIP_ONLY, ci=False)
    assert local.returncode == 0, local.stdout + local.stderr


def test_missing_oracle_fails_the_ci_session(tmp_path: Path) -> None:
    ci = _run_pytest(tmp_path, PASS_AND_MISSING_ORACLE, ci=True)
    assert ci.returncode == 1 and "1 failed, 1 passed" in ci.stdout, ci.stdout + ci.stderr
    assert "cannot be imported" in ci.stdout
