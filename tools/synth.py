"""Generated N-MNIST, CIFAR10-DVS and DVS Gesture datasets, in their original layouts and formats.

    python tools/synth.py {nmnist,cifar10dvs,dvsgesture} --out DIR [--scale F] [--seed S]
                          [--jobs N] [--quiet]

``--scale 1.0`` is the real dataset's size: N-MNIST 60,000 train + 10,000 test ``.bin`` files;
CIFAR10-DVS 10 x 1,000 AEDAT 2.0 files; DVS Gesture 29 users, 122 AEDAT 3.1 trials with 12 label
rows each (1,464 samples). Files go through our writers (``eventcompress.io``), so each layout
lists with ``eventcompress.datasets.get_dataset(name).samples(DIR, split)``. The same seed gives
the same bytes, whatever ``--jobs``; every sample has its own random stream, so a smaller scale
is a subset of a larger one.

Events come from a DVS pixel model (``tools/synth_render.py``: per-pixel log-intensity
reference, threshold crossings with mismatch, background noise) watching moving shapes
(``tools/synth_scenes.py``), so event counts, edges and timing resemble real recordings and
compression ratios are realistic. The class decides the shape or the motion, so labels are
learnable. Figures the generator aims at (measured ones: docs/datasets.md):

* N-MNIST (measured on 1,100 real files, ../shared/FORMATS.md section 1.4): 34 x 34 ATIS, mean
  4,108 events (1,069 to 7,152), three saccades of ~100 ms at 105 ms spacing along a triangle,
  last event at 297-336 ms, 50 % ON. Here: a stroke-drawn digit (per-class polylines, jittered
  slant, scale, stroke width, contrast) under the three saccades.
* CIFAR10-DVS (Li et al., Front. Neurosci. 11:309, 2017): 128 x 128 DVS128, 10 x 1,000
  recordings, a CIFAR-10 image upscaled on an LCD and moved by a "repeated closed-loop smooth"
  movement. Mean 205,071 events and 1.298 s per recording, over all 10,000 (computed by
  github.com/jackd/stsc ``examples/cifar10-dvs/dataset-info.py``). Here: a textured image (a
  smooth random background plus a class-oriented striped ellipse) translated along a circle of
  radius ~2 px, four loops per ~1.3 s recording; the path shape and radius are our assumption
  (the paper's exact path parameters were not found).
* DVS Gesture (Amir et al., CVPR 2017): 128 x 128 DVS128, 29 users, 122 trials (the real
  user/lighting list, from the md5 list in ../shared/realdata/dvs_gesture), 12 label rows per
  trial in the real order 1,2,3,5,4,6,7,8,8,9,10,11 (``user01_natural_labels.csv``). Mean
  gesture sample 362,239 events and 6.46 s over the 1,176 training rows (jackd/stsc
  ``examples/dvs-gesture/dataset-info.py``); gaps between rows 0.3-5.5 s as in
  ``user01_natural_labels.csv``. Here: two arms (upper arm, forearm, hand capsules with
  two-link elbows) moving per class -- clap, waves, arm circles (direction shows in polarity),
  arm roll, drums, guitar, random -- with rest poses and background noise between rows.
  The real extracted data is "5 GB" for 122 trials (dataset README), about 5 M events a trial;
  ours is about 4.5 GB. Assumed (no figure found): per-lighting contrast and noise, and 1.5-4 s
  before the first row.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eventcompress.datasets.cifar10dvs import CLASSES as CIFAR_CLASSES  # noqa: E402
from eventcompress.datasets.dvsgesture import CLASSES as GESTURE_CLASSES  # noqa: E402
from eventcompress.datasets.dvsgesture import LAST_TRAIN_USER  # noqa: E402
from eventcompress.io import write_labels_csv  # noqa: E402
from eventcompress.io.aedat2 import write_aedat2  # noqa: E402
from eventcompress.io.aedat3 import write_aedat3  # noqa: E402
from eventcompress.io.nmnist_bin import write_bin  # noqa: E402
from tools.synth_scenes import (  # noqa: E402
    GESTURE_ROW_CLASSES,
    LIGHTING_CODES,
    cifar10dvs_events,
    gesture_trial_events,
    nmnist_events,
    sample_rng,
)

__all__ = [
    "write_nmnist", "write_cifar10dvs", "write_dvsgesture", "nmnist_labels", "cifar_indices",
    "gesture_trials", "plan", "main", "nmnist_events", "cifar10dvs_events",
    "gesture_trial_events", "sample_rng", "GESTURE_ROW_CLASSES",
]

#: Full-size figures: what --scale 1.0 means.
FULL = {"nmnist": (60_000, 10_000), "cifar10dvs": 1_000, "dvsgesture": 29}


def _run(write: Callable[[Any], None], tasks: list[Any], jobs: int, desc: str,
         quiet: bool) -> None:
    """``write(task)`` for every task, in ``jobs`` forked processes when ``jobs > 1`` (each
    task draws from its own seeded stream, so the files do not depend on ``jobs``)."""
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    with tqdm(total=len(tasks), desc=desc, unit="file", disable=True if quiet else None) as bar:
        if jobs == 1 or len(tasks) < 2:
            for task in tasks:
                write(task)
                bar.update()
            return
        context = multiprocessing.get_context("fork")  # workers inherit the compiled kernels
        chunk = max(1, min(64, len(tasks) // (8 * jobs)))
        with ProcessPoolExecutor(jobs, mp_context=context) as pool:
            for _ in pool.map(write, tasks, chunksize=chunk):
                bar.update()


# -- N-MNIST -----------------------------------------------------------------------------------

def _write_nmnist_file(task: tuple[Path, int, int, int, int]) -> None:
    path, label, seed, split_no, i = task
    write_bin(path, nmnist_events(label, sample_rng("nmnist", seed, split_no, i)))


def write_nmnist(root: str | Path, *, n_train: int = 20, n_test: int = 10, seed: int = 0,
                 jobs: int = 1, quiet: bool = True) -> Path:
    """Write ``root/Train|Test/<digit>/<NNNNN>.bin`` (5-digit 1-based index, digits from
    :func:`nmnist_labels`) with ``jobs`` processes. Returns ``root``."""
    root = Path(root)
    tasks = []
    for split_no, (folder, n) in enumerate((("Train", n_train), ("Test", n_test))):
        for d in range(10):
            (root / folder / str(d)).mkdir(parents=True, exist_ok=True)
        tasks += [(root / folder / str(label) / f"{i:05d}.bin", label, seed, split_no, i)
                  for i, label in enumerate(nmnist_labels(n, seed, split_no), start=1)]
    _run(_write_nmnist_file, tasks, jobs, "N-MNIST", quiet)
    return root


def nmnist_labels(n: int, seed: int, split_no: int) -> list[int]:
    """Digits of indices 1..n: every block of ten consecutive indices holds each digit once,
    in a seeded order per block (so a digit's files do not depend on ``n``)."""
    blocks = [sample_rng("nmnist", seed, split_no, 0, b).permutation(10) for b in range(-(-n // 10))]
    return [int(d) for block in blocks for d in block][:n]


# -- CIFAR10-DVS -------------------------------------------------------------------------------

#: the TEBN split takes file numbers 0-99 of each class as test: keep that share at any scale
_TEST_SHARE = 0.1


def cifar_indices(n_per_class: int) -> list[int]:
    """File numbers of one class: the real 0-999 at full scale; else a tenth (at least one,
    when there are two or more) from 0 up (TEBN test) and the rest from 100 up (train)."""
    n_test = min(100, max(1 if n_per_class > 1 else 0, round(_TEST_SHARE * n_per_class)))
    return list(range(n_test)) + list(range(100, 100 + n_per_class - n_test))


def _write_cifar_file(task: tuple[Path, int, int, int]) -> None:
    path, label, seed, i = task
    write_aedat2(path, cifar10dvs_events(label, sample_rng("cifar10dvs", seed, label, i)))


def write_cifar10dvs(root: str | Path, *, n_per_class: int = 4, seed: int = 0, jobs: int = 1,
                     quiet: bool = True) -> Path:
    """Write ``root/<class>/cifar10_<class>_<i>.aedat`` (AEDAT 2.0, jAER convention; numbers
    from :func:`cifar_indices`) with ``jobs`` processes. Returns ``root``."""
    root = Path(root)
    tasks = []
    for label, cls in enumerate(CIFAR_CLASSES):
        (root / cls).mkdir(parents=True, exist_ok=True)
        tasks += [(root / cls / f"cifar10_{cls}_{i}.aedat", label, seed, i)
                  for i in cifar_indices(n_per_class)]
    _run(_write_cifar_file, tasks, jobs, "CIFAR10-DVS", quiet)
    return root


# -- DVS Gesture -------------------------------------------------------------------------------

#: Lighting tags (``LIGHTING_CODES``) of users 1-29: the 122 real trials, from the md5 list in
#: ../shared/realdata/dvs_gesture.
_USER_LIGHTINGS = ("FDLEN FDLEN FDEN FDEN FDLEN FDLEN FDLE FDLE FDLEN FDLE FDN DE FDLEN FDEN "
                   "FDLEN FLEN FDLEN FDLE FDLEN FDE FDLN FDLEN FDLE FDE FE FDLEN FDEN FDLEN "
                   "FDLEN").split()


def gesture_trials(n_users: int, trials_per_user: int | None = None) -> list[tuple[int, str]]:
    """(user, lighting) of the trials of ``n_users`` users: all 122 real trials at 29 users;
    fewer users keep the train/test proportion (users 1.. train, 24.. test). With
    ``trials_per_user`` only each user's first lightings (in the order F, D, L, E, N)."""
    if not 1 <= n_users <= 29:
        raise ValueError(f"n_users must be in 1..29, got {n_users}")
    if trials_per_user is not None and trials_per_user < 1:
        raise ValueError(f"trials_per_user must be >= 1 or None, got {trials_per_user}")
    n_test = min(6, max(1 if n_users > 1 else 0, round(n_users * 6 / 29)))
    first_test = LAST_TRAIN_USER + 1
    users = list(range(1, n_users - n_test + 1)) + list(range(first_test, first_test + n_test))
    return [(u, LIGHTING_CODES[code]) for u in users
            for code in _USER_LIGHTINGS[u - 1][:trials_per_user]]


def _write_gesture_trial(task: tuple[Path, int, str, int]) -> None:
    folder, user, lighting, seed = task
    name = f"user{user:02d}_{lighting}"
    events, labels = gesture_trial_events(user, lighting, seed)
    write_aedat3(folder / f"{name}.aedat", events)
    write_labels_csv(folder / f"{name}_labels.csv", labels)


def write_dvsgesture(root: str | Path, *, n_users: int = 2, seed: int = 0,
                     trials_per_user: int | None = None, jobs: int = 1, quiet: bool = True
                     ) -> Path:
    """Write ``root/DvsGesture/user<NN>_<lighting>.aedat`` (AEDAT 3.1) with ``_labels.csv``,
    ``trials_to_train.txt``, ``trials_to_test.txt`` and ``gesture_mapping.csv``, for the trials
    of :func:`gesture_trials`, with ``jobs`` processes. ``n_users=29`` is the full dataset
    (122 trials); ``trials_per_user=1`` keeps one trial a user (tests). Returns ``root``."""
    root = Path(root)
    folder = root / "DvsGesture"
    folder.mkdir(parents=True, exist_ok=True)
    trials = gesture_trials(n_users, trials_per_user)
    _run(_write_gesture_trial, [(folder, u, light, seed) for u, light in trials], jobs,
         "DVS Gesture", quiet)
    for split, test in (("train", False), ("test", True)):
        names = [f"user{u:02d}_{light}.aedat\n" for u, light in trials
                 if (u > LAST_TRAIN_USER) == test]
        (folder / f"trials_to_{split}.txt").write_text("".join(names))
    mapping = "".join(f"{name},{i}\n" for i, name in enumerate(GESTURE_CLASSES, start=1))
    (folder / "gesture_mapping.csv").write_text("action,label\n" + mapping)
    return root


# -- command line ------------------------------------------------------------------------------

def _scaled(full: int, scale: float, least: int = 1) -> int:
    return max(least, round(full * scale))


def plan(dataset: str, scale: float) -> tuple[Callable[..., Path], dict[str, int], str]:
    """(writer, its size arguments, a description) of ``dataset`` at ``scale`` (1.0 = full)."""
    if dataset == "nmnist":
        n_train, n_test = (_scaled(n, scale) for n in FULL["nmnist"])
        return (write_nmnist, {"n_train": n_train, "n_test": n_test},
                f"{n_train} train + {n_test} test .bin files")
    if dataset == "cifar10dvs":
        n = min(_scaled(FULL["cifar10dvs"], scale), 1000)
        return write_cifar10dvs, {"n_per_class": n}, f"10 x {n} AEDAT 2.0 files"
    if dataset == "dvsgesture":
        users = min(_scaled(FULL["dvsgesture"], scale, least=2), 29)
        trials = len(gesture_trials(users))
        return (write_dvsgesture, {"n_users": users, "trials_per_user": None},
                f"{users} users, {trials} AEDAT 3.1 trials, {12 * trials} label rows")
    raise ValueError(f"unknown dataset {dataset!r}; known: {', '.join(FULL)}")


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python tools/synth.py", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", choices=sorted(FULL))
    parser.add_argument("--out", required=True, type=Path, help="folder to write (the layout root)")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="fraction of the real dataset's size (default 1.0 = full size; "
                             "CIFAR10-DVS and DVS Gesture stop at 1.0)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1,
                        help=f"processes (default 1; this machine has {os.cpu_count()} CPUs)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar, no summary")
    args = parser.parse_args(None if argv is None else list(argv))
    if not args.scale > 0:
        parser.error(f"--scale must be positive, got {args.scale}")
    writer, sizes, what = plan(args.dataset, args.scale)
    if not args.quiet:
        print(f"{args.dataset}: writing {what} to {args.out}", file=sys.stderr)
    if args.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")
    root = writer(args.out, seed=args.seed, jobs=args.jobs, quiet=args.quiet, **sizes)
    if not args.quiet:
        print(root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
