"""`eventcompress info` and `eventcompress download` through ``eventcompress.cli.main``."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

import eventcompress.io as ec_io
from eventcompress.cli import main


def bin_records(x, y, t, p) -> bytes:
    """N-MNIST .bin bytes written from the byte table in FORMATS.md 1.3 (independent of io)."""
    x, y, t, p = (np.asarray(v, np.int64) for v in (x, y, t, p))
    out = np.empty((x.size, 5), np.uint8)
    out[:, 0], out[:, 1] = x, y
    out[:, 2] = (p << 7) | ((t >> 16) & 0x7F)
    out[:, 3], out[:, 4] = (t >> 8) & 0xFF, t & 0xFF
    return out.tobytes()


def table_row(text: str, first: str) -> list[str]:
    """Cells of the table line whose first cell is ``first``, split on runs of 2+ spaces or 1."""
    for line in text.splitlines():
        cells = line.split()
        if cells and cells[0] == first:
            return cells
    raise AssertionError(f"no row {first!r} in:\n{text}")


def num(cell: str) -> float:
    return float(cell.replace(",", ""))


def make_synthetic(root: Path) -> dict[str, list[tuple[int, int]]]:
    """N-MNIST tree with known (n_events, duration_us) per split."""
    specs = {"Train": {0: [(3, 1000), (5, 250_000)], 4: [(1, 0)]}, "Test": {9: [(7, 70_000)]}}
    truth: dict[str, list[tuple[int, int]]] = {"train": [], "test": []}
    for folder, classes in specs.items():
        for digit, files in classes.items():
            d = root / folder / str(digit)
            d.mkdir(parents=True)
            for k, (n, dur) in enumerate(files):
                t = np.linspace(100, 100 + dur, n).astype(np.int64)
                data = bin_records(np.arange(n) % 34, (np.arange(n) * 7) % 34, t, np.arange(n) % 2)
                (d / f"{k + 1:05d}.bin").write_bytes(data)
                truth[folder.lower()].append((n, int(t[-1] - t[0]) if n > 1 else 0))
    return truth


def test_info_synthetic(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    truth = make_synthetic(tmp_path)
    assert main(["info", str(tmp_path), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "N-MNIST (nmnist), layout 'original'" in out and "34 x 34" in out
    assert table_row(out, "0")[1:] == ["2", "0", "2"]
    assert table_row(out, "4")[1:] == ["1", "0", "1"]
    assert table_row(out, "9")[1:] == ["0", "1", "1"]
    assert table_row(out, "total")[1:] == ["3", "1", "4"]
    assert "decoded 4 of 4 samples (4 files)" in out
    for split in ("train", "test"):
        n = np.array([a for a, _ in truth[split]], float)
        d = np.array([b for _, b in truth[split]], float) / 1000
        cells = table_row(out, split)
        assert num(cells[1]) == n.size
        assert [num(c) for c in cells[2:5]] == [round(n.mean()), n.min(), n.max()]
        assert [num(c) for c in cells[5:8]] == [round(d.mean(), 1), round(d.min(), 1),
                                                 round(d.max(), 1)]
    assert re.search(r"decode speed .*events/s, .* files/s \(16 events in", out)


def test_info_split_and_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_synthetic(tmp_path)
    assert main(["info", str(tmp_path), "--quiet", "--split", "train", "--limit", "2"]) == 0
    out = capsys.readouterr().out
    assert table_row(out, "total")[1:] == ["3", "3"]
    assert "decoded 2 of 3 samples" in out and "test" not in out.split("decoded")[1]
    assert main(["info", str(tmp_path), "--quiet", "--limit", "0"]) == 0
    assert "decoding skipped" in capsys.readouterr().out


def test_info_real_nmnist_small(nmnist_small: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(nmnist_small), "-q"]) == 0
    out = capsys.readouterr().out
    assert table_row(out, "total")[1:] == ["1,000", "100", "1,100"]
    for digit in range(10):
        n_train = len(os.listdir(nmnist_small / "Train" / str(digit)))
        n_test = len(os.listdir(nmnist_small / "Test" / str(digit)))
        assert table_row(out, str(digit))[1:] == [f"{n_train:,}", f"{n_test}",
                                                  f"{n_train + n_test:,}"]
    assert "decoded 1,100 of 1,100 samples (1,100 files)" in out
    # events per sample straight from the file sizes (5 bytes per event)
    for split, folder in (("train", "Train"), ("test", "Test")):
        sizes = np.array([f.stat().st_size // 5 for f in (nmnist_small / folder).rglob("*.bin")])
        cells = table_row(out, split)
        assert [num(c) for c in cells[2:5]] == [round(sizes.mean()), sizes.min(), sizes.max()]


def test_info_wrong_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "stuff").mkdir()
    assert main(["info", str(tmp_path), "-q"]) == 1
    err = capsys.readouterr().err
    assert "does not hold any known dataset layout" in err and "Train/" in err
    make_synthetic(tmp_path)
    assert main(["info", str(tmp_path), "-q", "--dataset", "cifar10dvs"]) == 1
    assert "CIFAR10-DVS" in capsys.readouterr().err


def test_download_cli_manual(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVENTCOMPRESS_MIRROR", raising=False)
    assert main(["download", "dvsgesture", "--root", str(tmp_path), "-q"]) == 2
    err = capsys.readouterr().err
    assert "DvsGesture.tar.gz" in err and str(tmp_path / "archives") in err
    assert main(["download", "nmnist", "--root", str(tmp_path), "--source", "tonic", "-q"]) == 2
    assert "no download source 'tonic'" in capsys.readouterr().err


def test_info_gesture_decodes_each_trial_once(tmp_path: Path, realdata: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from eventcompress.events import Events

    csv = realdata / "dvs_gesture" / "user01_natural_labels.csv"
    data = tmp_path / "DvsGesture"
    data.mkdir()
    (data / "user01_natural_labels.csv").write_bytes(csv.read_bytes())
    t = np.arange(50_000_000, 180_000_000, 50_000, dtype=np.int64)
    n = t.size
    ec_io.write(data / "user01_natural.aedat",
                Events(np.arange(n) % 128, np.arange(n) % 97, t, np.arange(n) % 2, (128, 128)),
                "aedat3")
    assert main(["info", str(tmp_path), "-q", "--mode", "dedupe"]) == 0
    out = capsys.readouterr().out
    assert "DVS128 Gesture (dvsgesture), layout 'original'" in out
    assert "decoded 11 of 11 samples (1 files)" in out
    assert table_row(out, "7")[1:] == ["arm_roll", "1", "0", "1"]
    from eventcompress.datasets import gesture_segments
    from eventcompress.io import read_labels_csv

    segs = gesture_segments(read_labels_csv(csv), "dedupe")
    counts = [int(np.sum((t >= g.start) & (t < g.end))) for g in segs]
    cells = table_row(out, "train")
    assert num(cells[1]) == 11
    assert [num(c) for c in cells[3:5]] == [min(counts), max(counts)]
    assert f"({n:,} events in" in out
