"""Generated N-MNIST, CIFAR10-DVS and DVS Gesture datasets, in their original layouts and formats.

    python tools/synth.py {nmnist,cifar10dvs,dvsgesture} --out DIR [--scale F] [--seed S]
                          [--jobs N] [--quiet]

``--scale 1.0`` is the real dataset's size: N-MNIST 60,000 train + 10,000 test ``.bin`` files;
CIFAR10-DVS 10 x 1,000 AEDAT 2.0 files; DVS Gesture 29 users, 122 AEDAT 3.1 trials with 12 label
rows each (1,464 samples). Files go through our writers (``eventcompress.io``), so each layout
lists with ``eventcompress.datasets.get_dataset(name).samples(DIR, split)``. The same seed gives
the same bytes; every sample has its own random stream, so a subset is the same at any scale.

Events come from a DVS pixel model (``tools/synth_render.py``: per-pixel log-intensity
reference, threshold crossings with mismatch, background noise) watching moving shapes, so event
counts, edges and timing resemble real recordings and compression ratios are realistic. The class
decides the shape or the motion, so labels are learnable. Figures the generator aims at:

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
  ours is about the same.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eventcompress.datasets.cifar10dvs import CLASSES as CIFAR_CLASSES  # noqa: E402
from eventcompress.datasets.dvsgesture import CLASSES as GESTURE_CLASSES  # noqa: E402
from eventcompress.events import Events  # noqa: E402
from eventcompress.io import write_labels_csv  # noqa: E402
from eventcompress.io.aedat2 import write_aedat2  # noqa: E402
from eventcompress.io.aedat3 import write_aedat3  # noqa: E402
from eventcompress.io.nmnist_bin import write_bin  # noqa: E402
from tools import synth_render as render  # noqa: E402

__all__ = ["write_nmnist", "write_cifar10dvs", "write_dvsgesture", "gesture_trials", "plan", "main"]

#: Full-size figures: what --scale 1.0 means.
FULL = {"nmnist": (60_000, 10_000), "cifar10dvs": 1_000, "dvsgesture": 29}

_DATASET_CODE = {"nmnist": 1, "cifar10dvs": 2, "dvsgesture": 3}


def _rng(dataset: str, seed: int, *key: int) -> np.random.Generator:
    """One independent stream per (dataset, seed, sample key): order- and scale-independent."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), _DATASET_CODE[dataset], *key]))


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


# -- the sensor: state, noise and one kernel call ----------------------------------------------

def _noise(rng: np.random.Generator, n_steps: int, dt: int, shape: tuple[int, int],
           rate_hz: float) -> tuple[np.ndarray, ...]:
    """Background-activity events: ``rate_hz`` per pixel, uniform over pixels and time."""
    h, w = shape
    counts = rng.poisson(rate_hz * h * w * dt * 1e-6, n_steps - 1)
    at = np.zeros(n_steps, np.int64)
    np.cumsum(counts, out=at[1:])
    total = int(at[-1])
    return (at, rng.integers(0, w, total).astype(np.uint16),
            rng.integers(0, h, total).astype(np.uint16),
            rng.integers(0, 2, total).astype(np.uint8), rng.integers(0, dt, total))


def _sense(kernel: Callable[..., int], scene: tuple, level0: np.ndarray, *, rng: np.random.Generator,
           n_steps: int, dt: int, threshold: float, noise_hz: float, expect: int
           ) -> tuple[np.ndarray, ...]:
    """Run a render kernel over ``n_steps`` from t = 0 and return (x, y, t, p), sorted by t.

    Thresholds get 5 % pixel mismatch and references a random phase, as on a real sensor."""
    shape = level0.shape
    thresh = (threshold * np.clip(1.0 + 0.05 * rng.standard_normal(shape), 0.7, 1.3)
              ).astype(np.float32)
    ref0 = (level0 + (rng.random(shape, np.float32) - 0.5) * thresh).astype(np.float32)
    noise = _noise(rng, n_steps, dt, shape, noise_hz)
    cap = int(expect * 1.5) + len(noise[1]) + 1024
    while True:
        bufs = (np.empty(cap, np.uint16), np.empty(cap, np.uint16), np.empty(cap, np.int64),
                np.empty(cap, np.uint8))
        n = kernel(*scene, 0, dt, ref0.copy(), level0.copy(), thresh, *noise, *bufs)
        if n <= cap:
            return tuple(b[:n] for b in bufs)
        cap = n  # the buffers were too small: the kernel counted what it could not write


def _smooth_ramp(u: np.ndarray) -> np.ndarray:
    """0 -> 1 with zero speed at both ends (bell-shaped velocity), for u in [0, 1]."""
    u = np.clip(u, 0.0, 1.0)
    return u - np.sin(2 * np.pi * u) / (2 * np.pi)


# -- N-MNIST -----------------------------------------------------------------------------------

# Digit strokes as polylines in a unit box (x right, y down), one tuple of points per stroke.
_DIGIT_STROKES: tuple[tuple[tuple[tuple[float, float], ...], ...], ...] = (
    (tuple((0.5 + 0.32 * math.cos(a), 0.5 + 0.45 * math.sin(a))
           for a in np.linspace(0, 2 * np.pi, 17)),),
    (((0.35, 0.2), (0.55, 0.05), (0.55, 0.95)),),
    (((0.2, 0.3), (0.3, 0.1), (0.6, 0.05), (0.8, 0.25), (0.7, 0.5), (0.2, 0.95), (0.85, 0.95)),),
    (((0.2, 0.1), (0.7, 0.08), (0.8, 0.3), (0.45, 0.5), (0.8, 0.7), (0.7, 0.92), (0.2, 0.9)),),
    (((0.65, 0.95), (0.65, 0.05), (0.15, 0.65), (0.85, 0.65)),),
    (((0.8, 0.05), (0.25, 0.05), (0.2, 0.45), (0.6, 0.4), (0.8, 0.65), (0.6, 0.92), (0.2, 0.88)),),
    (((0.7, 0.05), (0.3, 0.4), (0.2, 0.7), (0.4, 0.95), (0.7, 0.9), (0.75, 0.65), (0.5, 0.5),
      (0.25, 0.65)),),
    (((0.15, 0.05), (0.85, 0.05), (0.4, 0.95)),),
    (tuple((0.5 + 0.2 * math.cos(a), 0.27 + 0.22 * math.sin(a))
           for a in np.linspace(0, 2 * np.pi, 13)),
     tuple((0.5 + 0.25 * math.cos(a), 0.72 + 0.23 * math.sin(a))
           for a in np.linspace(0, 2 * np.pi, 13))),
    (tuple((0.5 + 0.22 * math.cos(a), 0.3 + 0.23 * math.sin(a))
           for a in np.linspace(0, 2 * np.pi, 13)), ((0.72, 0.3), (0.6, 0.95))),
)
NMNIST_SIZE = (34, 34)
NMNIST_STEP_US = 1_000
NMNIST_STEPS = 314
NMNIST_PAD = 4
#: Saccade path (dx, dy) in pixels: a triangle walked once, one side per saccade.
_SACCADE_PATH = np.array([[0.0, -2.5], [2.5, 2.0], [-2.5, 2.0], [0.0, -2.5]])
NMNIST_THRESHOLD = 0.195


def nmnist_events(label: int, rng: np.random.Generator) -> Events:
    """One N-MNIST-like recording of ``label``: a jittered stroke digit under three saccades."""
    w, h = NMNIST_SIZE
    pad = NMNIST_PAD
    size = rng.uniform(19.0, 23.0)
    slant = rng.uniform(-0.25, 0.25)
    cx, cy = 17 + rng.uniform(-1.5, 1.5), 17 + rng.uniform(-1.5, 1.5)
    segs = []
    for stroke in _DIGIT_STROKES[label]:
        pts = np.array(stroke) + rng.normal(0, 0.03, (len(stroke), 2))
        x = cx + (pts[:, 0] - 0.5) * size * 0.8 + slant * (0.5 - pts[:, 1]) * size
        y = cy + (pts[:, 1] - 0.5) * size
        segs += [(x[i], y[i], x[i + 1], y[i + 1]) for i in range(len(pts) - 1)]
    tex = render.stroke_texture(np.array(segs), rng.uniform(0.0, 0.8), rng.uniform(1.0, 1.6),
                                -pad, -pad, h + 2 * pad, w + 2 * pad)

    t_ms = np.arange(NMNIST_STEPS, dtype=np.float64)
    shift = np.repeat(_SACCADE_PATH[:1], NMNIST_STEPS, 0)
    for k in range(3):
        start = 105.0 * k + rng.uniform(0.0, 5.0)
        u = _smooth_ramp((t_ms - start) / rng.uniform(92.0, 100.0))[:, None]
        shift = np.where(u > 0, _SACCADE_PATH[k] + u * (_SACCADE_PATH[k + 1] - _SACCADE_PATH[k]),
                         shift)
    shift = shift.astype(np.float32)
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    level0 = _bilinear_image(tex, gy + pad - shift[0, 1], gx + pad - shift[0, 0])
    x, y, t, p = _sense(render.texture_events, (tex, pad, shift), level0, rng=rng,
                        n_steps=NMNIST_STEPS, dt=NMNIST_STEP_US, threshold=NMNIST_THRESHOLD,
                        noise_hz=0.5, expect=6_000)
    return Events(x, y, t, p, NMNIST_SIZE)


def _write_nmnist_file(task: tuple[Path, int, int, int, int]) -> None:
    path, label, seed, split_no, i = task
    write_bin(path, nmnist_events(label, _rng("nmnist", seed, split_no, i)))


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
    blocks = [_rng("nmnist", seed, split_no, 0, b).permutation(10) for b in range(-(-n // 10))]
    return [int(d) for block in blocks for d in block][:n]


# -- CIFAR10-DVS -------------------------------------------------------------------------------

CIFAR_SIZE = (128, 128)
CIFAR_STEP_US = 2_000
CIFAR_PAD = 6
CIFAR_THRESHOLD = 0.089
#: the TEBN split takes file numbers 0-99 of each class as test: keep that share at any scale
_TEST_SHARE = 0.1


def cifar_texture(label: int, rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """A (h, w) log-intensity image: smooth random background plus a striped ellipse whose
    orientation, aspect and stripe frequency come from the class."""
    h, w = shape
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros(shape)
    for _ in range(6):
        theta, freq = rng.uniform(0, np.pi), rng.uniform(0.01, 0.06)
        img += rng.uniform(0.05, 0.15) * np.sin(
            2 * np.pi * freq * (gx * np.cos(theta) + gy * np.sin(theta)) + rng.uniform(0, 6.3))
    angle = np.pi * label / 10 + rng.normal(0, 0.08)
    ca, sa = np.cos(angle), np.sin(angle)
    cx, cy = w / 2 + rng.uniform(-8, 8), h / 2 + rng.uniform(-8, 8)
    u = (gx - cx) * ca + (gy - cy) * sa
    v = -(gx - cx) * sa + (gy - cy) * ca
    a = rng.uniform(36, 46)
    b = a * (0.35 + 0.04 * (label % 5))
    inside = np.clip((1.0 - np.sqrt((u / a) ** 2 + (v / b) ** 2)) * 8.0, 0, 1)
    stripes = np.sin(2 * np.pi * (0.06 + 0.012 * (label % 4)) * u)
    img += inside * rng.uniform(0.8, 1.2) * (0.6 + 0.4 * stripes)
    return img.astype(np.float32)


def cifar10dvs_events(label: int, rng: np.random.Generator) -> Events:
    """One CIFAR10-DVS-like recording: a textured image moved in repeated circles."""
    w, h = CIFAR_SIZE
    pad = CIFAR_PAD
    tex = cifar_texture(label, rng, (h + 2 * pad, w + 2 * pad))
    duration_us = int(rng.uniform(1.22, 1.38) * 1e6)
    n_steps = duration_us // CIFAR_STEP_US
    t = np.arange(n_steps) * (CIFAR_STEP_US * 1e-6)
    radius = rng.uniform(1.8, 2.4)
    phase = 2 * np.pi * t / (duration_us * 1e-6 / 4) + rng.uniform(0, 2 * np.pi)
    shift = np.stack([radius * np.cos(phase), radius * np.sin(phase)], -1).astype(np.float32)
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    level0 = _bilinear_image(tex, gy + pad - shift[0, 1], gx + pad - shift[0, 0])
    x, y, t_us, p = _sense(render.texture_events, (tex, pad, shift), level0, rng=rng,
                           n_steps=n_steps, dt=CIFAR_STEP_US, threshold=CIFAR_THRESHOLD,
                           noise_hz=0.5, expect=250_000)
    return Events(x, y, t_us, p, CIFAR_SIZE)


def _bilinear_image(tex: np.ndarray, fy: np.ndarray, fx: np.ndarray) -> np.ndarray:
    iy = np.clip(np.floor(fy).astype(np.int64), 0, tex.shape[0] - 2)
    ix = np.clip(np.floor(fx).astype(np.int64), 0, tex.shape[1] - 2)
    wy, wx = fy - iy, fx - ix
    top = tex[iy, ix] * (1 - wx) + tex[iy, ix + 1] * wx
    bottom = tex[iy + 1, ix] * (1 - wx) + tex[iy + 1, ix + 1] * wx
    return (top * (1 - wy) + bottom * wy).astype(np.float32)


def cifar_indices(n_per_class: int) -> list[int]:
    """File numbers of one class: the real 0-999 at full scale; else a tenth (at least one,
    when there are two or more) from 0 up (TEBN test) and the rest from 100 up (train)."""
    n_test = min(100, max(1 if n_per_class > 1 else 0, round(_TEST_SHARE * n_per_class)))
    return list(range(n_test)) + list(range(100, 100 + n_per_class - n_test))


def _write_cifar_file(task: tuple[Path, int, int, int]) -> None:
    path, label, seed, i = task
    write_aedat2(path, cifar10dvs_events(label, _rng("cifar10dvs", seed, label, i)))


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

GESTURE_SIZE = (128, 128)
GESTURE_STEP_US = 4_000
GESTURE_THRESHOLD = 0.066
#: Label rows of a trial, in the order of the real user01_natural_labels.csv (arm roll twice).
GESTURE_ROW_CLASSES = (1, 2, 3, 5, 4, 6, 7, 8, 8, 9, 10, 11)
_LIGHTING = {"F": "fluorescent", "D": "fluorescent_led", "L": "lab", "E": "led", "N": "natural"}
#: Lighting tags of users 1-29 (the 122 real trials, from realdata/dvs_gesture's md5 list).
_USER_LIGHTINGS = ("FDLEN FDLEN FDEN FDEN FDLEN FDLEN FDLE FDLE FDLEN FDLE FDN DE FDLEN FDEN "
                   "FDLEN FLEN FDLEN FDLE FDLEN FDE FDLN FDLEN FDLE FDE FE FDLEN FDEN FDLEN "
                   "FDLEN").split()
#: Contrast (log units) and background noise (Hz per pixel) per lighting.
_LIGHT_CONTRAST = {"fluorescent": 0.9, "fluorescent_led": 0.8, "lab": 0.7, "led": 0.65,
                   "natural": 1.0}
_LIGHT_NOISE_HZ = {"fluorescent": 1.0, "fluorescent_led": 0.8, "lab": 0.5, "led": 0.6,
                   "natural": 0.4}
_FIRST_TEST_USER = 24


def gesture_trials(n_users: int, trials_per_user: int | None = None) -> list[tuple[int, str]]:
    """(user, lighting) of the trials of ``n_users`` users: all 122 real trials at 29 users;
    fewer users keep the train/test proportion (users 1.. train, 24.. test). With
    ``trials_per_user`` only each user's first lightings (in the order F, D, L, E, N)."""
    if not 1 <= n_users <= 29:
        raise ValueError(f"n_users must be in 1..29, got {n_users}")
    if trials_per_user is not None and trials_per_user < 1:
        raise ValueError(f"trials_per_user must be >= 1 or None, got {trials_per_user}")
    n_test = min(6, max(1 if n_users > 1 else 0, round(n_users * 6 / 29)))
    users = list(range(1, n_users - n_test + 1)) + list(range(24, 24 + n_test))
    return [(u, _LIGHTING[code]) for u in users
            for code in _USER_LIGHTINGS[u - 1][:trials_per_user]]


def _two_link_elbow(shoulder: np.ndarray, hand: np.ndarray, l1: float, l2: float,
                    outward: float) -> tuple[np.ndarray, np.ndarray]:
    """Elbow positions of an arm reaching ``hand`` [n, 2] (clipped to its reach), bent to the
    side of ``outward`` (-1: image left, +1: image right). Returns (elbow, reachable hand)."""
    v = hand - shoulder
    d = np.linalg.norm(v, axis=1, keepdims=True)
    dc = np.clip(d, abs(l1 - l2) + 1e-3, l1 + l2 - 1e-3)
    hand = shoulder + v * (dc / np.maximum(d, 1e-9))
    a = np.arctan2(v[:, 1], v[:, 0])
    b = np.arccos(np.clip((l1 ** 2 + dc[:, 0] ** 2 - l2 ** 2) / (2 * l1 * dc[:, 0]), -1, 1))
    cands = [shoulder + l1 * np.stack([np.cos(a + sgn * b), np.sin(a + sgn * b)], 1)
             for sgn in (1, -1)]
    elbow = np.where((outward * (cands[0][:, :1] - cands[1][:, :1])) > 0, cands[0], cands[1])
    return elbow, hand


def _gesture_hands(cls: int, t: np.ndarray, body: dict, rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Hand targets (right = image left, left = image right) [n, 2] of class ``cls`` (1-11) at
    times ``t`` (s from the row start)."""
    cx, sy, sw, s = body["cx"], body["sy"], body["sw"], body["s"]
    freq = {1: 2.0, 2: 1.5, 3: 1.5, 4: 0.8, 5: 0.8, 6: 0.8, 7: 0.8, 8: 1.5, 9: 2.5, 10: 3.0,
            11: 1.0}[cls] * rng.uniform(0.85, 1.15)
    ph = 2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi)
    one = np.ones_like(t)
    rest_r, rest_l = body["rest_r"] * one[:, None], body["rest_l"] * one[:, None]

    def pt(x: np.ndarray | float, y: np.ndarray | float) -> np.ndarray:
        return np.stack([x * one, y * one], 1)

    if cls == 1:
        spread = 3 + 12 * s * (0.5 + 0.5 * np.cos(ph))
        return pt(cx - spread, sy + 24 * s), pt(cx + spread, sy + 24 * s)
    if cls in (2, 3):
        side = -1 if cls == 2 else 1
        wave = pt(cx + side * (sw + 14 * s + 9 * s * np.sin(ph)), sy - 18 * s + 2 * s * np.cos(2 * ph))
        return (wave, rest_l) if cls == 2 else (rest_r, wave)
    if cls in (4, 5, 6, 7):
        side = -1 if cls in (4, 5) else 1
        theta = ph if cls in (4, 6) else -ph  # y points down: a growing angle turns clockwise
        circle = pt(cx + side * (sw + 10 * s) + 24 * s * np.cos(theta), sy + 6 * s + 24 * s * np.sin(theta))
        return (circle, rest_l) if side < 0 else (rest_r, circle)
    if cls == 8:
        return (pt(cx - 5 * s + 7 * s * np.cos(ph), sy + 22 * s + 7 * s * np.sin(ph)),
                pt(cx + 5 * s - 7 * s * np.cos(ph), sy + 22 * s - 7 * s * np.sin(ph)))
    if cls == 9:
        return (pt(cx - 18 * s, sy + 30 * s + 8 * s * np.sin(ph)),
                pt(cx + 18 * s, sy + 30 * s - 8 * s * np.sin(ph)))
    if cls == 10:
        return (pt(cx - 8 * s + 3 * s * np.sin(ph), sy + 34 * s + 9 * s * np.sin(ph)),
                pt(cx + sw + 18 * s, sy + 14 * s + 2 * s * np.sin(0.3 * ph)))
    hands = []
    for rest in (body["rest_r"], body["rest_l"]):
        centre = (rest + np.array([cx, sy + 20 * s])) / 2
        walk = [sum(rng.uniform(4, 10) * s * np.sin(2 * np.pi * rng.uniform(0.3, 1.5) * t
                                                     + rng.uniform(0, 6.3)) for _ in range(3))
                for _ in range(2)]
        hands.append(pt(centre[0] + walk[0], centre[1] + walk[1]))
    return hands[0], hands[1]


def gesture_trial_events(user: int, lighting: str, seed: int = 0
                         ) -> tuple[Events, np.ndarray]:
    """One DVS-Gesture-like trial: (events, label rows [12, 3] of class, start_us, end_us)."""
    ub = _rng("dvsgesture", seed, user, 0)
    s = ub.uniform(0.9, 1.1)
    cx, sy, sw = 64 + ub.uniform(-6, 6), 52 + ub.uniform(-5, 5), (15 + ub.uniform(-2, 2)) * s
    body = {"cx": cx, "sy": sy, "sw": sw, "s": s,
            "rest_r": np.array([cx - sw - 6 * s, sy + 38 * s]),
            "rest_l": np.array([cx + sw + 6 * s, sy + 38 * s])}
    gain = (1 if ub.random() < 0.7 else -1) * _LIGHT_CONTRAST[lighting] * ub.uniform(0.9, 1.1)
    rng = _rng("dvsgesture", seed, user, 1 + list(_LIGHTING.values()).index(lighting))

    rows, t = [], rng.uniform(1.5, 4.0)
    for i, cls in enumerate(GESTURE_ROW_CLASSES):
        duration = rng.uniform(4.5, 8.5)
        rows.append((cls, t, t + duration))
        repeat = i + 1 < len(GESTURE_ROW_CLASSES) and GESTURE_ROW_CLASSES[i + 1] == cls
        t += duration + (rng.uniform(0.3, 1.0) if repeat else rng.uniform(0.3, 5.5))
    dt_s = GESTURE_STEP_US * 1e-6
    n_steps = int((t + 1.0) / dt_s)
    time_s = np.arange(n_steps) * dt_s
    # at rest a hand drifts a little, in 50 ms jumps: between jumps its arm costs nothing
    held = np.floor(time_s / 0.05) * 0.05
    hands = [body["rest_r"] + 0.6 * np.stack([np.sin(2 * np.pi * 0.3 * held + k),
                                              np.cos(2 * np.pi * 0.2 * held + k)], 1)
             for k in (0.0, 2.0)]
    for cls, start, end in rows:
        lo, hi = int(start / dt_s), min(int(end / dt_s), n_steps)
        local = time_s[lo:hi] - start
        w = (_smooth_ramp(local / 0.6) * _smooth_ramp((end - start - local) / 0.6))[:, None]
        for k, target in enumerate(_gesture_hands(cls, local, body, rng)):
            rest = body["rest_r"] if k == 0 else body["rest_l"]
            hands[k][lo:hi] = rest + w * (target - rest) + (hands[k][lo:hi] - rest)
    caps = np.empty((n_steps, 6, 4), np.float32)
    for k, outward in ((0, -1.0), (1, 1.0)):
        shoulder = np.array([cx + outward * sw, sy]) * np.ones((n_steps, 1))
        elbow, hand = _two_link_elbow(shoulder, hands[k], 22 * s, 20 * s, outward)
        caps[:, 3 * k] = np.concatenate([shoulder, elbow], 1)
        caps[:, 3 * k + 1] = np.concatenate([elbow, hand], 1)
        caps[:, 3 * k + 2] = np.concatenate([hand, hand], 1)
    radius = (np.array([3.5, 3.0, 4.5] * 2) * s).astype(np.float32)
    level0 = render.capsule_image(caps, radius, np.float32(gain), np.float32(0.0), 128, 128)
    group = np.array([0, 0, 0, 1, 1, 1], np.int64)
    scene = (caps, group, radius, np.float32(gain), np.float32(0.0))
    x, y, t_us, p = _sense(render.capsule_events, scene,
                           level0, rng=rng, n_steps=n_steps, dt=GESTURE_STEP_US,
                           threshold=GESTURE_THRESHOLD, noise_hz=_LIGHT_NOISE_HZ[lighting],
                           expect=int(60_000 * t))
    labels = np.array([(c, round(a * 1e6), round(b * 1e6)) for c, a, b in rows], np.int64)
    return Events(x, y, t_us, p, GESTURE_SIZE), labels


def _write_gesture_trial(task: tuple[Path, int, str, int]) -> None:
    folder, user, lighting, seed = task
    name = f"user{user:02d}_{lighting}"
    events, labels = gesture_trial_events(user, lighting, seed)
    write_aedat3(folder / f"{name}.aedat", events)
    write_labels_csv(folder / f"{name}_labels.csv", labels)


def write_dvsgesture(root: str | Path, *, n_users: int = 2, seed: int = 0,
                     trials_per_user: int | None = 1, jobs: int = 1, quiet: bool = True) -> Path:
    """Write ``root/DvsGesture/user<NN>_<lighting>.aedat`` (AEDAT 3.1) with ``_labels.csv``,
    ``trials_to_train.txt``, ``trials_to_test.txt`` and ``gesture_mapping.csv``, for the trials
    of :func:`gesture_trials` (``trials_per_user=None``: every real lighting of each user), with
    ``jobs`` processes. Returns ``root``."""
    root = Path(root)
    folder = root / "DvsGesture"
    folder.mkdir(parents=True, exist_ok=True)
    trials = gesture_trials(n_users, trials_per_user)
    _run(_write_gesture_trial, [(folder, u, light, seed) for u, light in trials], jobs,
         "DVS Gesture", quiet)
    for split, test in (("train", False), ("test", True)):
        names = [f"user{u:02d}_{light}.aedat\n" for u, light in trials
                 if (u >= _FIRST_TEST_USER) == test]
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
                        help="fraction of the real dataset's size (default 1.0 = full size)")
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
