"""Scenes of ``tools/synth.py``: what each generated sample shows and how it moves.

``nmnist_events``, ``cifar10dvs_events`` and ``gesture_trial_events`` build one recording each
from a seeded generator (``sample_rng``), feeding a scene to the DVS pixel model of
:mod:`tools.synth_render`. The figures they aim at and their sources are in the docstring of
``tools/synth.py`` and in docs/datasets.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from eventcompress.events import Events
from tools import synth_render as render

_DATASET_CODE = {"nmnist": 1, "cifar10dvs": 2, "dvsgesture": 3}


def sample_rng(dataset: str, seed: int, *key: int) -> np.random.Generator:
    """One independent stream per (dataset, seed, sample key): order- and scale-independent."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), _DATASET_CODE[dataset], *key]))


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
    return _moving_texture(tex, pad, shift, rng, NMNIST_SIZE, dt=NMNIST_STEP_US,
                           threshold=NMNIST_THRESHOLD, expect=6_000)


def _moving_texture(tex: np.ndarray, pad: int, shift: np.ndarray, rng: np.random.Generator,
                    size: tuple[int, int], *, dt: int, threshold: float, expect: int,
                    noise_hz: float = 0.5) -> Events:
    """The sensor of ``size`` watching ``tex`` (sensor plus ``pad`` on every side) shifted by
    ``shift[s] = (dx, dy)`` at step s, one step every ``dt`` us."""
    w, h = size
    shift = shift.astype(np.float32)
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    level0 = _bilinear_image(tex, gy + pad - shift[0, 1], gx + pad - shift[0, 0])
    x, y, t, p = _sense(render.texture_events, (tex, pad, shift), level0, rng=rng,
                        n_steps=len(shift), dt=dt, threshold=threshold, noise_hz=noise_hz,
                        expect=expect)
    return Events(x, y, t, p, size)


# -- CIFAR10-DVS -------------------------------------------------------------------------------


CIFAR_SIZE = (128, 128)
CIFAR_STEP_US = 2_000
CIFAR_PAD = 6
CIFAR_THRESHOLD = 0.089


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
    shift = np.stack([radius * np.cos(phase), radius * np.sin(phase)], -1)
    return _moving_texture(tex, pad, shift, rng, CIFAR_SIZE, dt=CIFAR_STEP_US,
                           threshold=CIFAR_THRESHOLD, expect=250_000)


def _bilinear_image(tex: np.ndarray, fy: np.ndarray, fx: np.ndarray) -> np.ndarray:
    iy = np.clip(np.floor(fy).astype(np.int64), 0, tex.shape[0] - 2)
    ix = np.clip(np.floor(fx).astype(np.int64), 0, tex.shape[1] - 2)
    wy, wx = fy - iy, fx - ix
    top = tex[iy, ix] * (1 - wx) + tex[iy, ix + 1] * wx
    bottom = tex[iy + 1, ix] * (1 - wx) + tex[iy + 1, ix + 1] * wx
    return (top * (1 - wy) + bottom * wy).astype(np.float32)


# -- DVS Gesture -------------------------------------------------------------------------------

GESTURE_SIZE = (128, 128)
GESTURE_STEP_US = 4_000
GESTURE_THRESHOLD = 0.066
#: Label rows of a trial, in the order of the real user01_natural_labels.csv (arm roll twice).
GESTURE_ROW_CLASSES = (1, 2, 3, 5, 4, 6, 7, 8, 8, 9, 10, 11)
LIGHTING_CODES = {"F": "fluorescent", "D": "fluorescent_led", "L": "lab", "E": "led", "N": "natural"}
#: Contrast (log units) and background noise (Hz per pixel) per lighting.
_LIGHT_CONTRAST = {"fluorescent": 0.9, "fluorescent_led": 0.8, "lab": 0.7, "led": 0.65,
                   "natural": 1.0}
_LIGHT_NOISE_HZ = {"fluorescent": 1.0, "fluorescent_led": 0.8, "lab": 0.5, "led": 0.6,
                   "natural": 0.4}


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
    ub = sample_rng("dvsgesture", seed, user, 0)
    s = ub.uniform(0.9, 1.1)
    cx, sy, sw = 64 + ub.uniform(-6, 6), 52 + ub.uniform(-5, 5), (15 + ub.uniform(-2, 2)) * s
    body = {"cx": cx, "sy": sy, "sw": sw, "s": s,
            "rest_r": np.array([cx - sw - 6 * s, sy + 38 * s]),
            "rest_l": np.array([cx + sw + 6 * s, sy + 38 * s])}
    gain = (1 if ub.random() < 0.7 else -1) * _LIGHT_CONTRAST[lighting] * ub.uniform(0.9, 1.1)
    rng = sample_rng("dvsgesture", seed, user, 1 + list(LIGHTING_CODES.values()).index(lighting))

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
