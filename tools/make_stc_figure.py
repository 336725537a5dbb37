"""Draw docs/img/stc.svg: one real N-MNIST sample as plain counts and as STC currents.

Pure Python SVG (no plotting dependency). Top row: event counts per window (tau_s = inf);
bottom row: STC with tau_s = 30 ms and carry; a weight curve on the right shows how an event's
contribution decays with its distance to the window end.

    python tools/make_stc_figure.py [SAMPLE.bin] [OUT.svg]
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

import eventcompress as ec

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SAMPLE = ROOT.parent / "shared/realdata/nmnist/NMNIST-small/Train/5/00001.bin"
STEPS, TAU = 4, 30_000.0
CELL = 4  # pixels per sensor pixel in the drawing


def _heatmap(img: np.ndarray, x0: float, y0: float, vmax: float) -> list[str]:
    """ON minus OFF as a diverging map: red = ON, blue = OFF."""
    h, w = img.shape
    out = [f'<rect x="{x0}" y="{y0}" width="{w * CELL}" height="{h * CELL}" fill="#fff" '
           'stroke="#999" stroke-width="0.5"/>']
    for r in range(h):
        for c in range(w):
            v = float(img[r, c]) / vmax if vmax > 0 else 0.0
            if abs(v) < 1e-3:
                continue
            a = min(1.0, abs(v))
            color = f"rgba(200,30,30,{a:.3f})" if v > 0 else f"rgba(30,60,200,{a:.3f})"
            out.append(f'<rect x="{x0 + c * CELL}" y="{y0 + r * CELL}" width="{CELL}" '
                       f'height="{CELL}" fill="{color}"/>')
    return out


def draw(sample: Path, out: Path) -> None:
    events = ec.read(sample)
    counts = ec.compress_events(events, steps=STEPS)
    stc = ec.compress_events(events, steps=STEPS, tau_s=TAU, carry=True)
    size = events.sensor_size[0] * CELL
    gap, left, top = 12, 130, 40
    width = left + STEPS * (size + gap) + 330
    height = top + 2 * (size + 40) + 30
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           'font-family="sans-serif" font-size="11">',
           f'<text x="10" y="20" font-size="13">N-MNIST {sample.parent.name}/{sample.name}: '
           f'{len(events):,} events, {events.duration / 1000:.0f} ms, T = {STEPS} windows</text>']
    rows = [("counts", "tau_s = inf", counts), ("STC", f"tau_s = {TAU / 1000:g} ms, carry", stc)]
    for i, (name, detail, rep) in enumerate(rows):
        y0 = top + i * (size + 40)
        svg.append(f'<text x="10" y="{y0 + size / 2}">{name}</text>')
        svg.append(f'<text x="10" y="{y0 + size / 2 + 14}" fill="#555">{detail}</text>')
        signed = rep[:, 1] - rep[:, 0]
        vmax = float(np.abs(signed).max())
        for k in range(STEPS):
            x0 = left + k * (size + gap)
            svg += _heatmap(signed[k], x0, y0, vmax)
            svg.append(f'<text x="{x0}" y="{y0 + size + 14}" fill="#555">k = {k}, '
                       f'sum {rep[k].sum():,.0f}</text>')
    # weight curve w(d) = exp(-d / tau) over one window
    gx, gy, gw, gh = left + STEPS * (size + gap) + 40, top + 20, 190, 150
    window = events.duration / STEPS
    pts = []
    for i in range(101):
        d = window * (1 - i / 100)
        pts.append(f"{gx + gw * i / 100:.1f},{gy + gh * (1 - math.exp(-d / TAU)):.1f}")
    svg += [
        f'<text x="{gx}" y="{gy - 8}">event weight within window k</text>',
        f'<line x1="{gx}" y1="{gy + gh}" x2="{gx + gw}" y2="{gy + gh}" stroke="#333"/>',
        f'<line x1="{gx}" y1="{gy}" x2="{gx}" y2="{gy + gh}" stroke="#333"/>',
        f'<polyline points="{" ".join(pts)}" fill="none" stroke="#c81e1e" stroke-width="2"/>',
        f'<line x1="{gx}" y1="{gy}" x2="{gx + gw}" y2="{gy}" stroke="#999" stroke-dasharray="3"/>',
        f'<text x="{gx - 14}" y="{gy + 4}">1</text>',
        f'<text x="{gx - 14}" y="{gy + gh + 4}">0</text>',
        f'<text x="{gx}" y="{gy + gh + 16}">b_k</text>',
        f'<text x="{gx + gw - 14}" y="{gy + gh + 16}">e_k</text>',
        f'<text x="{gx}" y="{gy + gh + 34}" fill="#555">w = exp(-(e_k - t) / tau_s), '
        f'window {window / 1000:.0f} ms</text>',
        f'<text x="{gx}" y="{gy + gh + 50}" fill="#555">red = ON, blue = OFF (ON - OFF shown)</text>',
        "</svg>",
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(svg) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    sample = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SAMPLE
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "docs/img/stc.svg"
    draw(sample, target)
