"""A real wheel: built from this tree, installed into an empty folder, run from elsewhere.

The recipes of models/ must be inside the wheel (as eventcompress/_recipes, see setup.py) so
that `eventcompress models ls` lists them after a normal install, and the runtime
requirements must not name the test oracles.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(ROOT)], capture_output=True, text=True, timeout=600)
    if build.returncode != 0:
        pytest.skip(f"cannot build a wheel here: {build.stderr[-500:]}")
    (whl,) = out.glob("eventcompress-*.whl")
    return whl


@pytest.mark.slow
def test_wheel_ships_the_recipes_and_no_oracle_requirement(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        meta = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    shipped = sorted(Path(n).name for n in names if n.startswith("eventcompress/_recipes/"))
    assert shipped == sorted(p.name for p in (ROOT / "models").glob("*.toml"))
    runtime = [line for line in meta.splitlines()
               if line.startswith("Requires-Dist:") and "extra ==" not in line]
    assert runtime and not any("tonic" in line or "aedat" in line for line in runtime)


@pytest.mark.slow
def test_installed_wheel_lists_its_recipes(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                    str(site), str(wheel)], check=True, capture_output=True, timeout=600)
    env = {k: v for k, v in os.environ.items() if k != "EVENTCOMPRESS_MODELS"}
    env["PYTHONPATH"] = str(site)
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    where = subprocess.run(
        [sys.executable, "-c", "import eventcompress.recipes as r; print(r.default_folder())"],
        capture_output=True, text=True, cwd=elsewhere, env=env, check=True)
    assert Path(where.stdout.strip()) == site / "eventcompress" / "_recipes"
    out = subprocess.run([sys.executable, "-m", "eventcompress", "models", "ls"],
                         capture_output=True, text=True, cwd=elsewhere, env=env, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "no recipe folder" not in out.stdout
    for recipe in (ROOT / "models").glob("*.toml"):
        assert recipe.stem in out.stdout
