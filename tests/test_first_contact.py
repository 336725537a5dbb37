"""First contact (issue 10): CLI text, `info` on bad paths and single files, the demo, progress
bars that stay out of logs, and a runtime that never imports tonic."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import eventcompress.io as ec_io
from eventcompress.cli import COMMANDS, build_parser, main
from eventcompress.events import Events

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None
            ) -> subprocess.CompletedProcess[str]:
    """The CLI in a subprocess whose stdout/stderr are pipes (not terminals), as in a log."""
    full = {**os.environ, "PYTHONPATH": str(ROOT), "NUMBA_NUM_THREADS": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "eventcompress.cli", *args], capture_output=True,
                          text=True, cwd=cwd or ROOT, env=full, timeout=600)


# -- help text ---------------------------------------------------------------------------------

def test_top_level_help_describes_the_package_and_workflows(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "spiking neural networks" in out and "workflows:" in out
    for name in COMMANDS:
        assert f"eventcompress {name}" in out.split("workflows:")[1], name


def test_every_subcommand_has_a_description_and_an_example(capsys) -> None:
    parser = build_parser()
    for name, (_, one_line) in COMMANDS.items():
        assert "\n" not in one_line and len(one_line) < 100
        with pytest.raises(SystemExit):
            parser.parse_args([name, "--help"])
        out = capsys.readouterr().out
        assert one_line in " ".join(out.split()), name
        assert "example" in out and f"eventcompress {name}" in out.split("example")[1], name


def test_models_info_has_a_description_and_no_r_alias(capsys) -> None:
    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["models", "info", "--help"])
    assert "[model.overrides]" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        parser.parse_args(["models", "ls", "--help"])
    out = capsys.readouterr().out
    assert "--no-recipes" in out and "-r," not in out
    with pytest.raises(SystemExit):
        parser.parse_args(["models", "ls", "-r"])


# -- info ---------------------------------------------------------------------------------------

def test_info_nonexistent_path_gives_the_cause_alone(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "nope"
    assert main(["info", str(missing), "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"eventcompress info: {missing}: no such file or folder"]


def test_info_wrong_folder_puts_the_cause_first(tmp_path: Path, capsys) -> None:
    (tmp_path / "stuff").mkdir()
    assert main(["info", str(tmp_path), "-q"]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert "does not hold any known dataset layout" in lines[0]
    assert lines[1] == f"found in {tmp_path}: stuff/"
    assert any("Train/" in line for line in lines[3:])


def _nmnist_tree(root: Path) -> list[Path]:
    files = []
    for split, digit, k in (("Train", 1, 1), ("Train", 2, 1), ("Train", 2, 2), ("Test", 3, 1)):
        d = root / split / str(digit)
        d.mkdir(parents=True, exist_ok=True)
        f = d / f"{k:05d}.bin"
        ec_io.write(f, Events([1, 2, 3], [4, 5, 6], [10, 20, 30 + k], [1, 0, 1], (34, 34)))
        files.append(f)
    return files


def test_info_reports_an_unreadable_recording_and_goes_on(tmp_path: Path, capsys) -> None:
    files = _nmnist_tree(tmp_path)
    files[1].write_bytes(files[1].read_bytes()[:-2])  # 13 bytes: a partial record
    assert main(["info", str(tmp_path), "-q"]) == 1
    captured = capsys.readouterr()
    assert f"skipped {files[1]}" in captured.err and "not a multiple of 5" in captured.err
    assert "decoded 4 of 4 samples (3 files)" in captured.out
    assert "1 file(s) could not be decoded" in captured.out
    assert main(["info", str(tmp_path), "-q", "--strict"]) == 1
    captured = capsys.readouterr()
    assert "--strict: stopped here" in captured.err and "decoded" not in captured.out


def test_info_on_one_recording(tmp_path: Path, capsys) -> None:
    f = tmp_path / "one.bin"
    t = np.array([100, 200, 300, 250_100])
    ec_io.write(f, Events([1, 2, 3, 4], [4, 5, 6, 7], t, [1, 1, 1, 0], (34, 34)))
    assert main(["info", str(f)]) == 0
    out = capsys.readouterr().out
    assert "format    bin (N-MNIST" in out and "sensor    34 x 34" in out
    assert "events    4" in out and "duration 250.0 ms" in out
    assert "rate      16.0 events/s" in out
    assert "3 ON (75.0%), 1 OFF (25.0%)" in out and "time-ordered" in out
    f.write_bytes(b"\x01\x02\x03")
    assert main(["info", str(f)]) == 1
    assert "one.bin (byte offset 0): file size 3" in capsys.readouterr().err


# -- progress bars --------------------------------------------------------------------------------

def test_process_many_bar_is_on_by_default_but_not_in_logs(capsys) -> None:
    import inspect

    from eventcompress.kernels import STCConfig
    from eventcompress.kernels.batch import process_many
    from eventcompress.kernels.pipeline import Pipeline

    assert inspect.signature(process_many).parameters["quiet"].default is None
    events = [Events([1, 2], [3, 4], [10, 20], [1, 0], (8, 8))] * 3
    process_many(events, Pipeline(representation=STCConfig(steps=2)))
    assert capsys.readouterr().err == ""  # stderr is not a terminal under capsys
    process_many(events, Pipeline(representation=STCConfig(steps=2)), quiet=False)
    assert "process_many" in capsys.readouterr().err


# -- the demo -------------------------------------------------------------------------------------

def test_demo_on_real_nmnist_without_tonic(nmnist_small: Path, tmp_path: Path) -> None:
    png = tmp_path / "demo.png"
    # A meta-path hook that refuses tonic: the demo must not need it.
    code = ("import sys\n"
            "class NoTonic:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name == 'tonic' or name.startswith('tonic.'):\n"
            "            raise ImportError('tonic is a test oracle only')\n"
            "sys.meta_path.insert(0, NoTonic())\n"
            "from eventcompress.cli import main\n"
            f"sys.exit(main(['demo', {str(nmnist_small)!r}, '--samples', '4', "
            f"'--png', {str(png)!r}]))\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NUMBA_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, env=env, timeout=600)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "4 of 1,000 N-MNIST train recordings" in text
    assert "float32 [4, 4, 2, 34, 34]" in text and "int16 [4, 4, 2, 34, 34]" in text
    assert "us/sample" in text and "M events/s" in text
    assert "%|" not in out.stderr  # no leftover tqdm bar in a log
    pytest.importorskip("matplotlib")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_info_progress_bar_leaves_nothing_in_a_log(nmnist_small: Path) -> None:
    out = run_cli("info", str(nmnist_small), "--split", "test", "--limit", "20")
    assert out.returncode == 0, out.stderr
    assert "%|" not in out.stderr and "decoded 20 of 100 samples" in out.stdout


# -- tonic stays a test oracle ----------------------------------------------------------------------

def test_runtime_imports_never_pull_tonic() -> None:
    # (scipy is left out: Numba imports it on its own whenever it is installed.)
    code = ("import sys, eventcompress, eventcompress.io, eventcompress.cli as c\n"
            "import eventcompress.datasets, eventcompress.kernels\n"
            "c.build_parser()\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('tonic', 'librosa', 'sklearn')))")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True)
    assert out.stdout.strip() == "[]"


def test_tonic_is_only_a_test_extra() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not any(d.startswith("tonic") for d in project["dependencies"])
    for extra, deps in project["optional-dependencies"].items():
        if any(d.startswith("tonic") for d in deps):
            assert extra in ("test", "dev"), extra
