"""`eventcompress plot` and eventcompress.plot: PNGs of real recordings, cached samples and runs;
a clear message without matplotlib."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from train_helpers import make_trainer, one_thread, synthetic_sets, tiny_recipe  # noqa: F401

from eventcompress import plot
from eventcompress.cli import main
from eventcompress.events import Events

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png(path: Path) -> None:
    assert path.is_file(), f"{path} not written"
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert 5_000 < path.stat().st_size < 400_000


def _first_train_file(nmnist_small: Path) -> Path:
    return sorted((nmnist_small / "Train" / "0").glob("*.bin"))[0]


def test_plot_events_of_a_real_recording(nmnist_small, tmp_path, capsys):
    out = tmp_path / "ev.png"
    assert main(["plot", "events", str(_first_train_file(nmnist_small)), "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    _png(out)


def test_accumulated_image_colours_polarities_apart():
    # pixel (1, 0): ON only; (2, 1): OFF only; (0, 2): both; (3, 3): nothing
    ev = Events(np.array([1, 1, 2, 0, 0, 0]), np.array([0, 0, 1, 2, 2, 2]),
                np.arange(6), np.array([1, 1, 0, 1, 1, 0]), (4, 4))
    rgb = plot._accumulated_rgb(ev)
    assert rgb.shape == (4, 4, 3)
    np.testing.assert_array_equal(rgb[0, 1], [1.0, 0.0, 0.0])   # ON: red
    np.testing.assert_array_equal(rgb[1, 2], [0.0, 0.0, 1.0])   # OFF: blue
    np.testing.assert_array_equal(rgb[2, 0], [1.0, 0.25, 1.0])  # both: magenta
    np.testing.assert_array_equal(rgb[3, 3], [0.0, 0.0, 0.0])


def test_plot_sample_of_a_real_store(nmnist_small, tmp_path, capsys):
    from eventcompress.cache import build_from
    from eventcompress.datasets import get_dataset, load_sample
    from eventcompress.kernels import Pipeline, STCConfig

    samples = get_dataset("nmnist").samples(nmnist_small, split="train")[::250]
    store = build_from(((load_sample(s), s.label) for s in samples),
                       Pipeline(representation=STCConfig(steps=3, tau_s=50_000.0)),
                       tmp_path / "cache", dataset="nmnist", split="plot", progress=False)
    out = tmp_path / "s.png"
    assert main(["plot", "sample", str(store), "2", "--out", str(out)]) == 0
    _png(out)
    fig = plot.plot_sample(store, 2)
    assert f"label {samples[2].label}" in fig._suptitle.get_text()
    assert len(fig.axes) == 3 * 2 + 2  # T x P panels and a colour bar per polarity
    assert main(["plot", "sample", str(store), "9"]) == 1
    assert "out of range" in capsys.readouterr().err


def test_plot_run_from_metrics_of_a_real_training(tmp_path, capsys):
    run = tmp_path / "run"
    make_trainer(run, tiny_recipe(epochs=2), synthetic_sets(n=16)).fit()
    assert main(["plot", "run", str(run)]) == 0
    written = [Path(p) for p in capsys.readouterr().out.split()]
    assert written == [run / "curves.png", run / "curves-firing_rates.png"]
    for path in written:
        _png(path)
    assert main(["plot", "run", str(tmp_path / "nothing")]) == 1
    assert "no such run directory" in capsys.readouterr().err


def test_missing_matplotlib_gives_the_install_line(tmp_path, monkeypatch, capsys):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    ev = Events(np.array([0]), np.array([0]), np.array([0]), np.array([1]), (2, 2))
    with pytest.raises(plot.PlotUnavailableError, match=r"pip install 'eventcompress\[plot\]'"):
        plot.plot_events(ev, tmp_path / "x.png")
    from eventcompress.io import write

    write(tmp_path / "one.npy", ev)
    assert main(["plot", "events", str(tmp_path / "one.npy")]) == 1
    assert "eventcompress[plot]" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_make_figures_writes_small_pngs_from_real_data(nmnist_small, tmp_path):
    from tools import make_figures

    assert make_figures.main(["--root", str(nmnist_small), "--out", str(tmp_path)]) == 0
    for name in ("events_nmnist.png", "sample_nmnist.png"):
        _png(tmp_path / name)
        assert (tmp_path / name).stat().st_size < make_figures.MAX_BYTES
