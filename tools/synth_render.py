"""Numba kernels of ``tools/synth.py``: a DVS pixel model driven by moving scenes.

Every pixel keeps a reference log intensity ``ref`` and fires one event each time the scene's
log intensity ``L`` moves a threshold ``C`` (per pixel, with mismatch) away from it: ON when
``L`` rises, OFF when it falls; the reference then steps by ``C``. Time runs in steps of ``dt``
microseconds; a crossing inside a step gets its timestamp by linear interpolation of ``L``
between the two steps, so timestamps have microsecond resolution. Background-activity noise
events (precomputed per step by the caller) join the step's events, and each step's events are
sorted by time, so a whole stream comes out sorted.

Two scenes: ``texture_events`` translates one texture image (N-MNIST digit, CIFAR10-DVS image)
along a sub-pixel path; ``capsule_events`` draws moving capsules (segments with a radius: arms,
hands) over a uniform background and evaluates only the pixels near capsules that moved.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, inline="always")
def _cross(level, y, x, ref, prev, thresh, t0, dt, ox, oy, ot, op, n):  # pragma: no cover
    """Events of pixel (x, y) whose log intensity went from ``prev`` to ``level``; returns the
    new event count (events past the buffers' capacity are counted, not written)."""
    r = ref[y, x]
    c = thresh[y, x]
    lp = prev[y, x]
    prev[y, x] = level
    d = level - r
    if -c < d < c:
        return n
    cap = ot.shape[0]
    span = level - lp
    k = int(abs(d) / c)
    sign = 1.0 if d > 0 else -1.0
    for j in range(1, k + 1):
        crossing = r + sign * j * c
        f = (crossing - lp) / span if span != 0.0 else 1.0
        f = min(max(f, 0.0), 1.0)
        if n < cap:
            ox[n] = x
            oy[n] = y
            ot[n] = t0 + np.int64(f * (dt - 1))
            op[n] = 1 if d > 0 else 0
        n += 1
    ref[y, x] = r + sign * k * c
    return n


@njit(cache=True, nogil=True)
def _close_step(start, n, t0, step, noise_at, nx, ny, npol, ntt, ox, oy, ot, op):  # pragma: no cover
    """Append the noise events of ``step`` and sort the step's events by time."""
    cap = ot.shape[0]
    for i in range(noise_at[step], noise_at[step + 1]):
        if n < cap:
            ox[n] = nx[i]
            oy[n] = ny[i]
            ot[n] = t0 + ntt[i]
            op[n] = npol[i]
        n += 1
    if n > cap or n - start < 2:
        return n
    # stable counting sort on the offset within the step (0 <= t - t0 < dt)
    m = n - start
    span = 0
    for i in range(start, n):
        span = max(span, ot[i] - t0 + 1)
    count = np.zeros(span + 1, np.int64)
    for i in range(start, n):
        count[ot[i] - t0 + 1] += 1
    for k in range(1, span + 1):
        count[k] += count[k - 1]
    sx = ox[start:n].copy()
    sy = oy[start:n].copy()
    st = ot[start:n].copy()
    sp = op[start:n].copy()
    for i in range(m):
        k = count[st[i] - t0]
        count[st[i] - t0] += 1
        ox[start + k] = sx[i]
        oy[start + k] = sy[i]
        ot[start + k] = st[i]
        op[start + k] = sp[i]
    return n


@njit(cache=True, nogil=True)
def texture_events(tex, pad, shift, t_start, dt, ref, prev, thresh, noise_at, nx, ny, npol, ntt,
                   ox, oy, ot, op):  # pragma: no cover
    """Events of the texture ``tex`` (log intensity, sensor plus ``pad`` pixels on every side)
    seen through the sensor while it is shifted by ``shift[s] = (dx, dy)`` at step ``s``
    (``|dx|, |dy| < pad - 1``). A shift is the same for every pixel, so each step has one pair
    of integer offsets and one set of bilinear weights.

    ``ref``/``prev`` are (H, W) state arrays, already holding the step-0 image. Returns the
    number of events (more than the buffers hold when they were too small).
    """
    h, w = ref.shape
    n = 0
    row = np.empty(w, np.float32)
    fire = np.empty(w, np.bool_)
    for s in range(1, shift.shape[0]):
        t0 = t_start + np.int64(s - 1) * dt
        start = n
        fx = pad - shift[s, 0]
        fy = pad - shift[s, 1]
        ix = int(np.floor(fx))
        iy = int(np.floor(fy))
        wx = np.float32(fx - ix)
        wy = np.float32(fy - iy)
        w00 = (1 - wx) * (1 - wy)
        w01 = wx * (1 - wy)
        w10 = (1 - wx) * wy
        w11 = wx * wy
        for y in range(h):
            row0 = tex[y + iy, ix:ix + w + 1]
            row1 = tex[y + iy + 1, ix:ix + w + 1]
            ref_row = ref[y]
            thresh_row = thresh[y]
            # a vectorisable pass finds the pixels that fire; the rest only update prev
            for x in range(w):
                row[x] = (w00 * row0[x] + w01 * row0[x + 1] + w10 * row1[x] + w11 * row1[x + 1])
                fire[x] = abs(row[x] - ref_row[x]) >= thresh_row[x]
            for x in range(w):
                if fire[x]:
                    n = _cross(row[x], y, x, ref, prev, thresh, t0, dt, ox, oy, ot, op, n)
            prev[y] = row
        n = _close_step(start, n, t0, s - 1, noise_at, nx, ny, npol, ntt, ox, oy, ot, op)
    return n


@njit(cache=True, nogil=True, inline="always")
def _capsule_level(geo, gain, base, fx, fy):  # pragma: no cover
    """Log intensity at (fx, fy): ``base`` plus ``gain`` times the largest capsule coverage
    (1 up to ``radius - 0.5`` from its segment, 0 from ``radius + 0.5``, linear in between):
    one solid silhouette. ``geo`` is :func:`_capsule_geometry` of the step."""
    cover = 0.0
    for c in range(geo.shape[0]):
        if fx < geo[c, 8] or fx > geo[c, 9] or fy < geo[c, 10] or fy > geo[c, 11]:
            continue
        wx = fx - geo[c, 0]
        wy = fy - geo[c, 1]
        u = min(max((wx * geo[c, 2] + wy * geo[c, 3]) * geo[c, 4], 0.0), 1.0)
        ex = wx - u * geo[c, 2]
        ey = wy - u * geo[c, 3]
        d2 = ex * ex + ey * ey
        if d2 >= geo[c, 6]:
            continue
        if d2 <= geo[c, 5]:
            return base + gain
        cover = max(cover, geo[c, 7] - np.sqrt(d2))
    return base + gain * cover


@njit(cache=True, nogil=True)
def _capsule_geometry(caps, s, radius, geo):  # pragma: no cover
    """Per capsule at step s: start point, direction, 1/|direction|^2, squared radii of full
    and zero coverage, radius + 0.5, and the bounding box of its support."""
    for c in range(caps.shape[1]):
        ax = np.float64(caps[s, c, 0])
        ay = np.float64(caps[s, c, 1])
        vx = np.float64(caps[s, c, 2]) - ax
        vy = np.float64(caps[s, c, 3]) - ay
        vv = vx * vx + vy * vy
        r = np.float64(radius[c])
        geo[c, 0] = ax
        geo[c, 1] = ay
        geo[c, 2] = vx
        geo[c, 3] = vy
        geo[c, 4] = 1.0 / vv if vv > 0.0 else 0.0
        geo[c, 5] = max(r - 0.5, 0.0) ** 2
        geo[c, 6] = (r + 0.5) ** 2
        geo[c, 7] = r + 0.5
        m = r + 0.5
        geo[c, 8] = min(ax, ax + vx) - m
        geo[c, 9] = max(ax, ax + vx) + m
        geo[c, 10] = min(ay, ay + vy) - m
        geo[c, 11] = max(ay, ay + vy) + m


@njit(cache=True, nogil=True)
def _mark_rows(caps, q, c, radius, xlo, xhi):  # pragma: no cover
    """Widen the per-row x ranges ``[xlo[y], xhi[y])`` to cover capsule c's support at step q
    (the pixels within ``m = radius + 0.5`` of its segment): for row y, the part of the segment
    within ``m`` rows of y, widened by ``m`` pixels."""
    h = xlo.shape[0]
    ax = np.float64(caps[q, c, 0])
    ay = np.float64(caps[q, c, 1])
    vx = np.float64(caps[q, c, 2]) - ax
    vy = np.float64(caps[q, c, 3]) - ay
    m = np.float64(radius[c]) + 0.5  # the support's reach: coverage is 0 from there on
    y_first = max(int(np.floor(min(ay, ay + vy) - m)), 0)
    y_last = min(int(np.floor(max(ay, ay + vy) + m)) + 1, h)
    for y in range(y_first, y_last):
        if vy != 0.0:
            u0 = min(max((y - m - ay) / vy, 0.0), 1.0)
            u1 = min(max((y + m - ay) / vy, 0.0), 1.0)
        else:
            u0 = 0.0
            u1 = 1.0
        xa = ax + u0 * vx
        xb = ax + u1 * vx
        xlo[y] = min(xlo[y], int(np.floor(min(xa, xb) - m)))
        xhi[y] = max(xhi[y], int(np.floor(max(xa, xb) + m)) + 1)


@njit(cache=True, nogil=True)
def capsule_events(caps, group, radius, gain, base, t_start, dt, ref, prev, thresh, noise_at, nx,
                   ny, npol, ntt, ox, oy, ot, op):  # pragma: no cover
    """Events of capsules ``caps[s, c] = (ax, ay, bx, by)`` (step s, capsule c) with ``radius[c]``,
    of log intensity ``base + gain`` over a uniform ``base``. ``ref``/``prev`` hold the
    step-0 image. Returns the number of events.

    Only the support of capsules that moved (at steps s-1 and s) is evaluated: nothing else
    changed. Capsules are visited by ``group`` (e.g. one arm), each group as per-row x ranges;
    ranges of two groups may overlap: a pixel seen twice in a step has already caught up with
    its level, so it fires no second time.
    """
    h, w = ref.shape
    n = 0
    n_caps = caps.shape[1]
    row = np.empty(w, np.float32)
    fire = np.empty(w, np.bool_)
    xlo = np.empty(h, np.int64)
    xhi = np.empty(h, np.int64)
    geo = np.empty((n_caps, 12), np.float64)
    for s in range(1, caps.shape[0]):
        t0 = t_start + np.int64(s - 1) * dt
        start = n
        _capsule_geometry(caps, s, radius, geo)
        for g in range(group.max() + 1):
            xlo[:] = w
            xhi[:] = 0
            for c in range(n_caps):
                if group[c] != g:
                    continue
                moved = False
                for k in range(4):
                    moved |= caps[s, c, k] != caps[s - 1, c, k]
                if moved:
                    _mark_rows(caps, s - 1, c, radius, xlo, xhi)
                    _mark_rows(caps, s, c, radius, xlo, xhi)
            for y in range(h):
                x0 = max(xlo[y], 0)
                x1 = min(xhi[y], w)
                if x0 >= x1:
                    continue
                ref_row = ref[y]
                thresh_row = thresh[y]
                for x in range(x0, x1):
                    row[x] = _capsule_level(geo, gain, base, np.float64(x), np.float64(y))
                    fire[x] = abs(row[x] - ref_row[x]) >= thresh_row[x]
                for x in range(x0, x1):
                    if fire[x]:
                        n = _cross(row[x], y, x, ref, prev, thresh, t0, dt, ox, oy, ot, op, n)
                prev[y, x0:x1] = row[x0:x1]
        n = _close_step(start, n, t0, s - 1, noise_at, nx, ny, npol, ntt, ox, oy, ot, op)
    return n


@njit(cache=True, nogil=True)
def capsule_image(caps, radius, gain, base, h, w):  # pragma: no cover
    """The (h, w) log-intensity image of step 0 of ``caps`` (initial pixel state)."""
    out = np.empty((h, w), np.float32)
    geo = np.empty((caps.shape[1], 12), np.float64)
    _capsule_geometry(caps, 0, radius, geo)
    for y in range(h):
        for x in range(w):
            out[y, x] = _capsule_level(geo, gain, base, np.float64(x), np.float64(y))
    return out


@njit(cache=True, nogil=True)
def stroke_texture(segs, radius, amp, x0, y0, h, w):  # pragma: no cover
    """(h, w) image of pixel centres ``(x0 + x, y0 + y)``: ``amp`` times the stroke coverage, a
    linear ramp from 1 at ``radius`` to 0 at ``radius + 2`` pixels from the nearest segment
    ``segs[i] = (ax, ay, bx, by)`` (the soft edge of an anti-aliased digit)."""
    out = np.empty((h, w), np.float32)
    for y in range(h):
        for x in range(w):
            fx = x0 + x
            fy = y0 + y
            best = 1e9
            for i in range(segs.shape[0]):
                ax = segs[i, 0]
                ay = segs[i, 1]
                vx = segs[i, 2] - ax
                vy = segs[i, 3] - ay
                vv = vx * vx + vy * vy
                u = ((fx - ax) * vx + (fy - ay) * vy) / vv if vv > 0.0 else 0.0
                u = min(max(u, 0.0), 1.0)
                ex = fx - ax - u * vx
                ey = fy - ay - u * vy
                best = min(best, ex * ex + ey * ey)
            out[y, x] = amp * min(max((radius + 2.0 - np.sqrt(best)) / 2.0, 0.0), 1.0)
    return out
