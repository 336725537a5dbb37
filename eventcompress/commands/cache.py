"""`eventcompress cache build|info|verify|ls|rm`: content-keyed stores of processed datasets.

Never imports torch. The store format is described in docs/cache.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

_EXAMPLES = {
    "build": "example:\n  eventcompress cache build nmnist --root data/NMNIST --out cache/ "
             "--split all --steps 4 --tau-s 50000\n  eventcompress cache build dvsgesture "
             "--root data/DVSGesture --out cache/ --recipe dvsgesture-mtlif --jobs 2",
    "info": "example:\n  eventcompress cache info cache/nmnist-train-3f1c9a0b2d4e.zarr",
    "verify": "example:\n  eventcompress cache verify cache/nmnist-train-3f1c9a0b2d4e.zarr "
              "--samples 32",
    "ls": "example:\n  eventcompress cache ls cache/",
    "rm": "example:\n  eventcompress cache rm cache/nmnist-train-3f1c9a0b2d4e.zarr",
}
EXAMPLE = "examples:\n" + "\n".join(
    line for text in _EXAMPLES.values() for line in text.splitlines()[1:])
_HELP = {
    "build": "build (or find) the store(s) of a dataset split through a pipeline",
    "info": "describe a store: pipeline, counts, shape, dtype, size, classes, errors",
    "verify": "recompute random entries from the source and compare; check the fingerprint",
    "ls": "list the stores (and interrupted builds) in a folder",
    "rm": "delete a store",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="cache_command", metavar="ACTION", required=True)
    parsers = {}
    for name, text in _HELP.items():
        p = sub.add_parser(name, help=text, description=text, epilog=_EXAMPLES[name],
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("--quiet", "-q", action="store_true", default=argparse.SUPPRESS,
                       help="no progress bars")
        parsers[name] = p
    b = parsers["build"]
    b.add_argument("dataset", choices=["nmnist", "cifar10dvs", "dvsgesture"])
    b.add_argument("--root", required=True, help="dataset folder")
    b.add_argument("--out", required=True, help="folder of the stores")
    b.add_argument("--split", choices=["train", "test", "all"], default="all",
                   help="default: all (one store per split)")
    rep = b.add_argument_group("preprocessing (one of --recipe, --steps, --frames, "
                               "--representation events)")
    rep.add_argument("--recipe", metavar="NAME_OR_PATH", help="a model recipe's preprocessing")
    rep.add_argument("--steps", type=int, metavar="T", help="STC with T steps")
    rep.add_argument("--tau-s", type=float, metavar="US", help="STC time constant (us)")
    rep.add_argument("--fine-bins", type=int, metavar="M", help="STC fine bins per step")
    rep.add_argument("--normalize", choices=["none", "max", "mean-std"], default=None,
                     help="STC normalisation (default none)")
    rep.add_argument("--size", metavar="WxH", help="output size (Downsample when it divides "
                     "the sensor, else Resize)")
    rep.add_argument("--frames", metavar="K=V[,K=V]", help="frames, e.g. n_time_bins=10 or "
                     "time_window=50000 (stored ragged)")
    rep.add_argument("--representation", choices=["events"], help="store the events themselves")
    b.add_argument("--backend", choices=["zarr", "hdf5"], default="zarr")
    b.add_argument("--codec", default=None, help="zarr: none, blosc-lz4 (default), zstd; "
                   "hdf5: none, lzf (default), gzip")
    b.add_argument("--dtype", default=None, help="stored dtype (default float16 for STC, "
                   "uint16 for counts)")
    b.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="worker processes (default: all cores; dask LocalCluster: 2)")
    b.add_argument("--executor", choices=["local", "dask"], default="local",
                   help="local worker processes (default) or a Dask cluster (needs the "
                        "eventcompress[dask] extra; docs/scale-out.md)")
    b.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="dask: the scheduler of a running cluster (default: a LocalCluster of "
                        "--jobs workers on 127.0.0.1)")
    b.add_argument("--allow-errors", action="store_true",
                   help="exit 0 even when some recordings failed (they are marked failed)")
    b.add_argument("--rebuild", action="store_true", help="replace an existing or stale store")
    parsers["info"].add_argument("path")
    v = parsers["verify"]
    v.add_argument("path")
    v.add_argument("--samples", type=int, default=16, metavar="K",
                   help="entries to recompute (default 16)")
    v.add_argument("--seed", type=int, default=0)
    parsers["ls"].add_argument("folder")
    parsers["rm"].add_argument("path")


def _parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--size must look like 48x48, got {text!r}") from None
    return w, h


def _value(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(text.lower(), text)


def pipeline_from_args(args: argparse.Namespace, sensor_size: tuple[int, int]) -> Any:
    """The Pipeline the build flags describe (``--recipe`` uses ``recipe.pipeline``)."""
    from ..errors import ConfigError
    from ..kernels import Downsample, FrameConfig, Pipeline, Resize, STCConfig

    chosen = [flag for flag, value in (("--recipe", args.recipe), ("--steps", args.steps),
                                       ("--frames", args.frames),
                                       ("--representation", args.representation))
              if value is not None]
    if len(chosen) != 1:
        raise ConfigError("give exactly one of --recipe, --steps, --frames, --representation "
                          f"events (got {', '.join(chosen) or 'none'})")
    if args.recipe is not None:
        return _recipe_pipeline(args.recipe, args.dataset)
    steps: tuple[Any, ...] = ()
    if args.size:
        w, h = _parse_size(args.size)
        fx, fy = sensor_size[0] / w, sensor_size[1] / h
        if fx == fy and fx.is_integer() and fx >= 1:
            steps = (Downsample(int(fx)),) if fx > 1 else ()
        else:
            steps = (Resize((w, h)),)
    if args.representation == "events":
        return Pipeline(steps=steps)
    if args.frames is not None:
        kwargs = {}
        for part in args.frames.split(","):
            key, sep, value = part.partition("=")
            if not sep:
                raise ConfigError(f"--frames takes KEY=VALUE pairs, got {part!r}", key="frames")
            kwargs[key.strip()] = _value(value.strip())
        return Pipeline(steps=steps, representation=FrameConfig(**kwargs))
    stc: dict[str, Any] = {"steps": args.steps}
    for key in ("tau_s", "fine_bins", "normalize"):
        if getattr(args, key) is not None:
            stc[key] = getattr(args, key)
    return Pipeline(steps=steps, representation=STCConfig(**stc))


def _recipe_pipeline(name_or_path: str, dataset: str) -> Any:
    from .. import recipes
    from ..errors import ConfigError

    path = Path(name_or_path)
    recipe = recipes.load(path if path.suffix == ".toml" or path.exists()
                          else recipes.find_recipe(name_or_path))
    if not hasattr(recipe, "pipeline"):
        raise ConfigError("this eventcompress's recipes do not yet build their pipeline "
                          "(Recipe.pipeline); use --steps/--tau-s/... instead", key="recipe")
    wanted = getattr(recipe, "dataset", dataset)
    if wanted != dataset:
        raise ConfigError(f"recipe {recipe.name!r} is for {wanted}, not {dataset}",
                          key="recipe")
    return recipe.pipeline


def _size_on_disk(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def _build(args: argparse.Namespace) -> int:
    from ..cache.builder import SampleErrors, build_store
    from ..cache.executor import get_executor
    from ..datasets import get_dataset
    from ..errors import ConfigError

    layout = get_dataset(args.dataset)
    pipeline = pipeline_from_args(args, layout.sensor_size)
    quiet = getattr(args, "quiet", False)
    splits = ["train", "test"] if args.split == "all" else [args.split]
    status = 0
    if args.scheduler and args.executor != "dask":
        raise ConfigError("--scheduler needs --executor dask", key="--scheduler")
    options = {"scheduler": args.scheduler} if args.scheduler else {}
    with get_executor(args.executor, args.jobs, **options) as executor:  # one for every split
        for split in splits:
            # allow_errors here: the summary below reports the failures and sets the status
            report = build_store(layout, args.root, split, pipeline, args.out,
                                 backend=args.backend, rebuild=args.rebuild, allow_errors=True,
                                 progress=not quiet, codec=args.codec, dtype=args.dtype,
                                 executor=executor)
            print(report.path, flush=True)
            _summary(report, quiet)
            if report.errors and not args.allow_errors:
                print(str(SampleErrors(report.path, report.errors)), file=sys.stderr)
                status = 1
    return status


def _summary(report: Any, quiet: bool) -> None:
    if report.reused:
        if not quiet:
            print(f"  reused: {report.samples:,} samples, {len(report.errors)} failed",
                  file=sys.stderr)
        return
    sec = report.seconds
    total = sec.get("total", 0.0) + sec.get("setup", 0.0) + sec.get("finalize", 0.0)
    rate = report.computed / sec["total"] if sec.get("total") else 0.0
    size = _size_on_disk(report.path)
    line = (f"  built {report.samples:,} samples ({report.computed:,} computed, "
            f"{len(report.errors)} failed) in {total:.2f} s, {rate:,.0f} samples/s, "
            f"{_mb(size)} on disk")
    if report.saturated:
        line += f"; {report.saturated:,} values saturated to the stored dtype"
    parts = ", ".join(f"{k} {sec[k]:.2f} s" for k in ("setup", "open", "decode", "transform",
                                                     "write", "finalize") if k in sec)
    print(line + f"\n  time: {parts} (decode and transform summed over workers)",
          file=sys.stderr)


def _info(args: argparse.Namespace) -> int:
    import numpy as np

    from ..cache.store import open_store
    from .info import format_table

    store = open_store(args.path, check_source=False)
    a = store.attrs
    print(f"store     {store.path}")
    print(f"format    {a['format']} v{a['format_version']} ({a['backend']}, codec "
          f"{a['codec']}), eventcompress {a['eventcompress_version']}, created {a['created']}")
    print(f"dataset   {a['dataset']} / {a['split']} (layout {a['layout']}), "
          f"{a['n_source_files']:,} source files under {a['source_root']}")
    print(f"pipeline  {a['pipeline']}")
    print(f"          sha256 {a['pipeline_sha256']}")
    print(f"key       {a['key']}")
    counts = store.status_counts()
    print(f"samples   {len(store):,} ({', '.join(f'{v:,} {k}' for k, v in counts.items())})")
    if store.kind == "dense":
        print(f"entries   dense [{len(store)}, {', '.join(map(str, store.shape))}] {store.dtype}")
    else:
        rows = int(store.offsets[-1])
        what = "events" if store.kind == "events" else f"frames {list(store.shape)} {store.dtype}"
        print(f"entries   {store.kind}: {rows:,} {what}")
    print(f"events    {int(store.event_counts.sum()):,} decoded")
    print(f"saturated {store.saturated:,} values clipped to {store.dtype}")
    print(f"size      {_mb(_size_on_disk(store.path))} on disk")
    labels, n = np.unique(store.labels, return_counts=True)
    print(format_table(["class", "samples"], [[int(c), int(k)] for c, k in zip(labels, n)]))
    for e in store.errors:
        print(f"error     {e['file'] or e['sample_id']}: {e['reason']}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from ..cache.verify import verify_store

    report = verify_store(args.path, samples=args.samples, seed=args.seed)
    for line in report.mismatches:
        print(f"MISMATCH {line}")
    print(f"{report.path}: fingerprint ok; {len(report.checked)} entries recomputed, "
          f"{len(report.mismatches)} mismatch(es)")
    return 0 if report.ok else 1


def _ls(args: argparse.Namespace) -> int:
    from ..cache.store import read_store_attrs
    from .info import format_table

    folder = Path(args.folder)
    if not folder.is_dir():
        print(f"eventcompress cache ls: {folder} is not a folder", file=sys.stderr)
        return 2
    rows = []
    for path in sorted(folder.iterdir()):
        if path.name.endswith((".lock", ".tmp")):
            continue
        try:
            a = read_store_attrs(path)
        except Exception:
            continue
        state = "partial" if path.name.endswith(".partial") else (
            "complete" if a.get("complete") else "incomplete")
        failed = len(a.get("errors", []))
        rows.append([path.name, a["dataset"], a["split"], a["kind"], f"{a['n_samples']:,}",
                     failed, state, _mb(_size_on_disk(path))])
    if not rows:
        print(f"no stores in {folder}")
        return 0
    print(format_table(["store", "dataset", "split", "kind", "samples", "failed", "state",
                        "size"], rows))
    return 0


def _rm(args: argparse.Namespace) -> int:
    from ..cache.builder import remove_store
    from ..cache.store import read_store_attrs

    path = Path(args.path)
    read_store_attrs(path)  # refuse to delete anything that is not a store
    remove_store(path)
    lock = path.with_name(path.name.removesuffix(".partial") + ".lock")
    if lock.exists():
        os.unlink(lock)
    print(f"removed {path}")
    return 0


def run(args: argparse.Namespace) -> int:
    from ..errors import EventCompressError

    action = {"build": _build, "info": _info, "verify": _verify, "ls": _ls, "rm": _rm}
    try:
        return action[args.cache_command](args)
    except EventCompressError as exc:
        print(f"eventcompress cache {args.cache_command}: {exc}", file=sys.stderr)
        return 1
    except (ValueError, OSError) as exc:
        print(f"eventcompress cache {args.cache_command}: {exc}", file=sys.stderr)
        return 2
