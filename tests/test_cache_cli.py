"""`eventcompress cache build|info|verify|ls|rm`."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from eventcompress.cache import open_store
from eventcompress.cli import build_parser, main
from eventcompress.commands.cache import pipeline_from_args
from eventcompress.errors import ConfigError
from eventcompress.kernels import Downsample, FrameConfig, Pipeline, Resize, STCConfig

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def small_nmnist(nmnist_small: Path, tmp_path: Path) -> Path:
    """Two recordings per digit and split: the CLI tests only need a few."""
    root = tmp_path / "data"
    for folder in ("Train", "Test"):
        for digit in range(10):
            (root / folder / str(digit)).mkdir(parents=True)
            for f in sorted((nmnist_small / folder / str(digit)).glob("*.bin"))[:2]:
                shutil.copy2(f, root / folder / str(digit) / f.name)
    return root


def _build_args(*extra: str) -> argparse.Namespace:
    return build_parser().parse_args(["cache", "build", "nmnist", "--root", "r", "--out", "o",
                                      *extra])


def test_flags_build_the_pipeline() -> None:
    p = pipeline_from_args(_build_args("--steps", "4", "--tau-s", "5e4", "--size", "17x17",
                                       "--fine-bins", "8", "--normalize", "max"), (34, 34))
    assert p == Pipeline(steps=(Downsample(2),), representation=STCConfig(
        steps=4, tau_s=5e4, fine_bins=8, normalize="max"))
    p = pipeline_from_args(_build_args("--frames", "n_time_bins=3,polarity=merge",
                                       "--size", "20x20"), (34, 34))
    assert p == Pipeline(steps=(Resize((20, 20)),),
                         representation=FrameConfig(n_time_bins=3, polarity="merge"))
    assert pipeline_from_args(_build_args("--representation", "events"), (34, 34)) == Pipeline()
    with pytest.raises(ConfigError, match="exactly one of"):
        pipeline_from_args(_build_args("--steps", "4", "--representation", "events"), (34, 34))
    with pytest.raises(ConfigError, match="exactly one of"):
        pipeline_from_args(_build_args(), (34, 34))


def test_recipe_gives_its_pipeline() -> None:
    from eventcompress import recipes

    recipe = recipes.load(recipes.find_recipe("nmnist-mtlif"))
    args = _build_args("--recipe", "nmnist-mtlif")
    assert pipeline_from_args(args, (34, 34)) == recipe.pipeline


def test_help_of_each_action_has_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    for action in ("build", "info", "verify", "ls", "rm"):
        with pytest.raises(SystemExit) as exc:
            main(["cache", action, "--help"])
        assert exc.value.code == 0
        out = capsys.readouterr().out
        assert "example:" in out and f"eventcompress cache {action}" in out


def test_build_info_verify_ls_rm(small_nmnist: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cache"
    argv = ["cache", "build", "nmnist", "--root", str(small_nmnist), "--out", str(out),
            "--steps", "3", "--tau-s", "50000", "--quiet", "--jobs", "1"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    paths = [Path(line) for line in captured.out.split()]
    assert [p.name.split("-")[1] for p in paths] == ["train", "test"]
    assert "built 20 samples" in captured.err
    assert main(argv) == 0  # found, not rebuilt
    assert capsys.readouterr().out.split() == [str(p) for p in paths]

    assert main(["cache", "info", str(paths[0])]) == 0
    info = capsys.readouterr().out
    assert '"steps":3' in info and "20 built" in info and "float16" in info
    assert "class  samples" in info and "dense [20, 3, 2, 34, 34]" in info

    assert main(["cache", "verify", str(paths[0]), "--samples", "5"]) == 0
    assert "5 entries recomputed, 0 mismatch" in capsys.readouterr().out

    # a stored entry that no longer matches its source: found by recomputing all of them
    from eventcompress.cache.shards import ShardIO, fast_path

    store = open_store(paths[0])
    block = store.read(np.arange(20))
    block[13] += np.float16(1)
    ShardIO(fast_path(paths[0] / "data")).write_shard(0, block)
    assert main(["cache", "verify", str(paths[0]), "--samples", "20"]) == 1
    assert "MISMATCH sample 13" in capsys.readouterr().out

    victim = next((small_nmnist / "Test" / "4").glob("*.bin"))
    os.utime(victim, ns=(victim.stat().st_atime_ns, victim.stat().st_mtime_ns + 10**9))
    assert main(["cache", "verify", str(paths[1])]) == 1
    assert f"Test/4/{victim.name} changed" in capsys.readouterr().err

    assert main(["cache", "ls", str(out)]) == 0
    listing = capsys.readouterr().out
    assert paths[0].name in listing and paths[1].name in listing and "complete" in listing
    assert main(["cache", "rm", str(paths[1])]) == 0
    assert not paths[1].exists() and paths[0].exists()
    capsys.readouterr()
    assert main(["cache", "rm", str(small_nmnist)]) == 1  # not a store: refused, kept
    assert "not a readable cache store" in capsys.readouterr().err and small_nmnist.exists()


def test_bad_recording_exit_status(small_nmnist: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    victim = sorted((small_nmnist / "Train" / "6").glob("*.bin"))[0]
    victim.write_bytes(victim.read_bytes()[:13])
    argv = ["cache", "build", "nmnist", "--root", str(small_nmnist), "--out",
            str(tmp_path / "c"), "--split", "train", "--frames", "n_time_bins=2", "-q",
            "--jobs", "1"]
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert str(victim) in captured.err and "1 sample(s) failed" in captured.err
    assert "(20 computed, 1 failed)" in captured.err
    (path,) = [Path(p) for p in captured.out.split()]
    assert open_store(path).status_counts() == {"built": 19, "failed": 1}
    assert main([*argv, "--allow-errors"]) == 0


def test_cache_commands_do_not_import_torch(small_nmnist: Path, tmp_path: Path) -> None:
    code = (
        "import sys\nfrom eventcompress.cli import main\n"
        f"assert main(['cache', 'build', 'nmnist', '--root', {str(small_nmnist)!r}, '--out', "
        f"{str(tmp_path / 'c')!r}, '--split', 'test', '--steps', '2', '-q']) == 0\n"
        f"assert main(['cache', 'ls', {str(tmp_path / 'c')!r}]) == 0\n"
        "print('torch' in sys.modules)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"
    plain = subprocess.run([sys.executable, "-c", "import sys, eventcompress.cli as c; "
                            "c.build_parser(); print(sorted(m for m in ('torch', 'zarr', "
                            "'h5py', 'numba') if m in sys.modules))"],
                           capture_output=True, text=True, env=env, check=True)
    assert plain.stdout.strip() == "[]"


def test_events_store_in_hdf5_from_the_command(small_nmnist: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from eventcompress.datasets import get_dataset, load_sample

    argv = ["cache", "build", "nmnist", "--root", str(small_nmnist), "--out", str(tmp_path),
            "--split", "test", "--representation", "events", "--size", "17x17", "--backend",
            "hdf5", "-q", "--jobs", "1"]
    assert main(argv) == 0
    (path,) = [Path(p) for p in capsys.readouterr().out.split()]
    assert path.suffix == ".h5"
    store = open_store(path)
    assert store.kind == "events" and store.attrs["codec"] == "lzf"
    listed = {s.id: s for s in get_dataset("nmnist").samples(small_nmnist, "test")}
    pipeline = Pipeline(steps=(Downsample(2),))
    for i in (0, 7, 19):
        ref = pipeline(load_sample(listed[str(store.sample_ids[i])]))
        ev = store.read_events(i)
        assert ev.sensor_size == (17, 17) and np.array_equal(ev.x, ref.x)
        assert np.array_equal(ev.t, ref.t) and np.array_equal(ev.p, ref.p)
    assert main(["cache", "info", str(path)]) == 0
    assert "events: " in capsys.readouterr().out
