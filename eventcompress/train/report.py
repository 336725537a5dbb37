"""Reports over run directories: a Markdown comparison table and PNG plots."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import EventCompressError
from .rundir import RunDir

__all__ = ["markdown_table", "write_report"]

PLOT_HINT = ("plots skipped: matplotlib is not installed; install the plot extra "
             "(pip install 'eventcompress[plot]') or pass --no-plots")


def _load(path: str | os.PathLike[str]) -> tuple[RunDir, dict[str, Any], list[dict[str, Any]]]:
    run = RunDir(path)
    if not run.summary.is_file():
        what = "an unfinished run (no summary.json yet)" if run.metrics.is_file() else \
            "not a run directory (no summary.json)"
        raise EventCompressError(f"{run.path}: {what}")
    return run, run.read_summary(), run.read_metrics()


def _pct(v: Any) -> str:
    return "-" if v is None else f"{100 * v:.2f}"


def markdown_table(runs: Sequence[tuple[RunDir, dict[str, Any], list[dict[str, Any]]]]) -> str:
    header = ["run", "recipe", "seed", "val-selected test %", "best val %", "epoch",
              "best test over epochs % (not selected)", "T", "params", "SOPs/sample",
              "energy uJ/sample", "ANN energy uJ/sample", "train s"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for run, s, _ in runs:
        cells = [run.path.name, s.get("recipe", "?"), str(s.get("seed", "?")),
                 _pct(s["val_selected_test_acc"]), _pct(s["best_val_acc"]), str(s["best_epoch"]),
                 _pct(s["best_test_acc_over_epochs"]), str(s["time_steps"]), f"{s['params']:,}",
                 f"{s['sops_per_sample']:.4g}", f"{s['energy_uj_per_sample']:.4g}",
                 f"{s['ann_energy_uj_per_sample']:.4g}", f"{s['train_seconds']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_curves(runs: Sequence[tuple[RunDir, dict[str, Any], list[dict[str, Any]]]],
                path: Path) -> Path:
    """Loss and accuracy per epoch of every run (train dashed, validation solid) to ``path``."""
    plt = _pyplot()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    for run, _, rows in runs:
        epochs = [r["epoch"] for r in rows]
        for key, style in (("train", "--"), ("val", "-")):
            ax_loss.plot(epochs, [r[f"{key}_loss"] for r in rows], style,
                         label=f"{run.path.name} {key}")
            ax_acc.plot(epochs, [r[f"{key}_acc"] for r in rows], style,
                        label=f"{run.path.name} {key}")
    for ax, name in ((ax_loss, "loss"), (ax_acc, "accuracy")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.legend(fontsize="small")
    return _save(plt, fig, path)


def _save(plt: Any, fig: Any, path: Path) -> Path:
    """Lay out, write and close one figure (both report plots end alike)."""
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_firing_rates(runs: Sequence[tuple[RunDir, dict[str, Any], list[dict[str, Any]]]],
                      path: Path) -> Path:
    """Validation firing rate of every neuron layer per epoch, one panel per run, to ``path``."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(runs), figsize=(5.5 * len(runs), 4), squeeze=False)
    for ax, (run, _, rows) in zip(axes[0], runs):
        layers = list(rows[0]["firing_rates"]) if rows else []
        for layer in layers:
            ax.plot([r["epoch"] for r in rows], [r["firing_rates"].get(layer) for r in rows],
                    label=layer)
        ax.set_title(run.path.name, fontsize="small")
        ax.set_xlabel("epoch")
        ax.set_ylabel("firing rate (validation)")
        ax.legend(fontsize="x-small")
    return _save(plt, fig, path)


def _plots(runs: Sequence[tuple[RunDir, dict[str, Any], list[dict[str, Any]]]],
           out: Path) -> list[Path]:
    return [plot_curves(runs, out / "curves.png"),
            plot_firing_rates(runs, out / "firing_rates.png")]


def write_report(run_dirs: Sequence[str | os.PathLike[str]],
                 out: str | os.PathLike[str] | None = None, *,
                 plots: bool = True) -> tuple[list[Path], str]:
    """Write ``report.md`` (and the plots) to ``out``; returns the paths and a note."""
    runs = [_load(p) for p in run_dirs]
    target = Path(out) if out is not None else runs[0][0].path
    target.mkdir(parents=True, exist_ok=True)
    report = target / "report.md"
    report.write_text("# Training runs\n\nTest accuracy of the epoch selected on validation "
                      "first; the best test accuracy over epochs is shown for comparison only "
                      "(it was never used to select).\n\n" + markdown_table(runs),
                      encoding="utf-8")
    written, note = [report], ""
    if plots:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            note = PLOT_HINT
        else:
            written += _plots(runs, target)
    return written, note
