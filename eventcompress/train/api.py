"""``train`` and ``evaluate_checkpoint``: what ``eventcompress train`` and ``eval`` call."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from ..errors import ConfigError
from ..recipes import loads
from .checkpoint import load_checkpoint, load_model_state
from .data import prepare_data, recipe_network
from .distributed import Distributed
from .engine import Trainer
from .metrics import (
    activity_summary,
    evaluate,
    make_loader,
    per_class_accuracy,
    sequential_batches,
    to_model_input,
)
from .resolve import resolve_recipe
from .rundir import RunDir, environment
from .runtime import resolve_device

__all__ = ["default_run_dir", "evaluate_checkpoint", "train"]


def default_run_dir(recipe_name: str, seed: int) -> Path:
    """``runs/<recipe>/<UTC time>-seed<seed>`` under the working directory."""
    return Path("runs") / recipe_name / f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-seed{seed}"


def train(recipe: str | os.PathLike[str] | None, data_root: str | os.PathLike[str], *,
          cache_dir: str | os.PathLike[str] | None = None,
          out: str | os.PathLike[str] | None = None, epochs: int | None = None,
          device: str = "auto", seed: int | None = None, sets: Sequence[str] = (),
          resume: str | os.PathLike[str] | None = None, quiet: bool = False,
          limit: int | None = None, rebuild_cache: bool = False,
          on_step: Callable[[Trainer, int, int], None] | None = None) -> dict[str, Any]:
    """Train a recipe end to end and return the summary (also in ``RUN_DIR/summary.json``).

    With ``resume`` (a run directory) the recipe is the run's ``recipe.toml``; ``epochs`` may
    extend it, other overrides are refused (they would change what the run is).
    """
    # fail before any data is prepared; under torchrun, join the process group: only rank 0
    # writes the run directory (every rank checks it first, so that all refuse together)
    ctx = Distributed.from_env(resolve_device(device))
    if rebuild_cache and ctx.active:
        raise ConfigError("--rebuild-cache with several processes would have each rebuild the "
                          "stores the others read; run eventcompress cache build --rebuild (or "
                          "train once with one process) first", key="--rebuild-cache")
    if resume is not None:
        run = RunDir(resume)
        if not run.last.is_file():
            raise ConfigError(f"{run.path}: no last.pt to resume from", key="--resume")
        if sets or seed is not None:
            raise ConfigError("--resume continues a run as it was; --set and --seed are not "
                              "allowed with it (only --epochs, to extend it)", key="--resume")
        toml_text = run.recipe.read_text("utf-8")
        if epochs is not None:
            toml_text = _with_epochs(toml_text, epochs)
        parsed = loads(toml_text, name=_recipe_name(toml_text, run), source=run.recipe)
        _check_same_preprocessing(run, parsed)
        ctx.barrier()  # every rank has read the recipe before rank 0 rewrites it
        if epochs is not None and ctx.main:
            run.recipe.write_text(toml_text, encoding="utf-8")
    else:
        if recipe is None:
            raise ConfigError("give a RECIPE (a path or a name from models/) or --resume",
                              key="RECIPE")
        parsed, toml_text = resolve_recipe(recipe, sets, epochs=epochs, seed=seed)
        run = RunDir(out if out is not None else ctx.broadcast(
            default_run_dir(parsed.name, parsed.training.seed)))
        if run.path.exists() and any(run.path.iterdir()):
            raise ConfigError(f"{run.path} already holds files; pick another --out or continue "
                              "it with --resume", key="--out")
        ctx.barrier()
        if ctx.main:
            run.path.mkdir(parents=True, exist_ok=True)
            run.recipe.write_text(f"# name = {parsed.name}\n" + toml_text, encoding="utf-8")
    splits = ("train", "val", "test") if parsed.training.final_test else ("train", "val")
    train_set, val_set, test_set, info = prepare_data(parsed, data_root, cache_dir,
                                                      limit=limit, quiet=quiet, splits=splits,
                                                      rebuild_cache=rebuild_cache)
    data_info = {**info.to_dict(), "limit": limit}
    trainer = Trainer(parsed, toml_text, (train_set, val_set, test_set), run, device=device,
                      quiet=quiet, data_info=data_info, on_step=on_step)
    if ctx.main:
        run.write_json(run.env, {**environment(trainer.device), "data": data_info,
                                 "world_size": ctx.world})
    summary = trainer.fit(resume=resume is not None)
    summary = {**summary, "data_seconds": info.seconds, "run_dir": str(run.path),
               "world_size": ctx.world}
    if ctx.main:
        run.write_json(run.summary, summary)
    return summary


def _check_same_preprocessing(run: RunDir, recipe: Any) -> None:
    """Refuse, before any cache is built, to resume a run whose recipe now gives another
    pipeline than the one its checkpoint was trained on (an edited ``recipe.toml``)."""
    saved = (load_checkpoint(run.last).get("data") or {}).get("pipeline")
    now = recipe.pipeline.canonical_json()
    if saved is not None and saved != now:
        raise ConfigError(f"{run.last} was trained on preprocessing {saved}, but {run.recipe} "
                          f"now gives {now}; a resumed run must read the same tensors (start "
                          "a new run for other preprocessing)", key="--resume")


def _recipe_name(toml_text: str, run: RunDir) -> str:
    first = toml_text.splitlines()[0] if toml_text else ""
    if first.startswith("# name = "):
        return first.removeprefix("# name = ").strip()
    return run.path.name


def _with_epochs(toml_text: str, epochs: int) -> str:
    from ..recipes import tomllib
    from .resolve import dump_toml

    header = [line.removeprefix("# ") for line in toml_text.splitlines()
              if line.startswith("# ")]
    table = tomllib.loads(toml_text)
    table["training"]["epochs"] = int(epochs)
    return dump_toml(table, header + [f"epochs extended to {epochs} on resume"])


def evaluate_checkpoint(checkpoint: str | os.PathLike[str], data_root: str | os.PathLike[str],
                        *, split: str = "test", device: str = "auto",
                        cache_dir: str | os.PathLike[str] | None = None,
                        limit: int | None = None, quiet: bool = True,
                        latency_samples: int = 16) -> dict[str, Any]:
    """Accuracy, confusion matrix, activity, energy and latency of a checkpoint on ``split``."""
    if split not in ("train", "val", "test"):
        raise ConfigError(f"split must be train, val or test, got {split!r}", key="--split")
    dev = resolve_device(device)
    state = load_checkpoint(checkpoint)
    toml_text = state["recipe_toml"]
    recipe = loads(toml_text, name=state.get("recipe", state["network"]), source=f"{state['path']} (recipe)")
    model = recipe.create_model().to(dev)
    load_model_state(model, state, network=recipe_network(recipe), source=state["path"])
    dataset = dict(zip(("train", "val", "test"), prepare_data(
        recipe, data_root, cache_dir, limit=limit, quiet=quiet, splits=(split,))[:3]))[split]
    tr = recipe.training
    size = tr.eval_batch_size or tr.batch_size
    steps = int(dataset[0][0].shape[0])
    n_classes = int(model.config.n_classes)
    result = evaluate(model, make_loader(dataset, sequential_batches(len(dataset), size)), dev,
                      loss=tr.loss, steps=steps, n_classes=n_classes,
                      label_smoothing=tr.label_smoothing, activity=True)
    report = result.pop("activity")
    classes = list(getattr(dataset, "classes", ()) or range(n_classes))
    return {
        "checkpoint": state["path"], "network": state["network"], "epoch": state["epoch"],
        "split": split, "samples": result["n"], "accuracy": result["acc"],
        "loss": result["loss"], "classes": [str(c) for c in classes],
        "confusion_matrix": result["confusion"],
        "per_class_accuracy": per_class_accuracy(result["confusion"]),
        "time_steps": steps, "params": sum(p.numel() for p in model.parameters()),
        **activity_summary(report),
        "latency_ms_per_sample_batched": 1e3 * result["seconds"] / max(result["n"], 1),
        "latency_ms_per_sample_batch1": _latency(model, dataset, dev, latency_samples),
        "batch_size": size, "device": str(dev),
    }


@torch.no_grad()
def _latency(model: torch.nn.Module, dataset: Any, device: torch.device, n: int) -> float:
    """Milliseconds of one forward pass at batch size 1 (median of up to ``n`` samples)."""
    model.eval()
    times = []
    for i in range(min(n, len(dataset))):
        x, _ = dataset[i]
        inp = to_model_input(x[None], device)
        started = time.perf_counter()
        model(inp)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - started)
    times.sort()
    return 1e3 * times[len(times) // 2] if times else float("nan")
