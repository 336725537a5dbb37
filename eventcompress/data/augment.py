"""Augmentations of event tensors ``[T, P, H, W]`` (any ``[..., H, W]`` for the spatial ones).

Per-sample transforms (:class:`RandomCrop`, :class:`RandomFlip`, :class:`RandomTranslate`,
:class:`PixelDropout`, :class:`ReverseTime`, chained by :class:`Compose`) are called as
``aug(x, index=i, epoch=e)`` by :class:`~eventcompress.data.CachedDataset` and
:class:`~eventcompress.data.EventDataset`. Their random numbers:

* ``seed=None`` (default): torch's global generator, which the DataLoader seeds differently in
  every worker (``base_seed + worker_id``), so workers never repeat each other;
* ``seed=S``: ``uniforms(S, epoch, index, position)`` (the counter-based numbers of
  :mod:`eventcompress.kernels.packed`), so sample ``i`` of epoch ``e`` is augmented alike with
  any number of workers, batch size or order; called without an index they come from a
  ``torch.Generator`` seeded with ``S``.

:class:`Mixup` and :class:`CutMix` mix whole batches ``(x [N, ...], labels [N])`` into soft
labels ``[N, C]`` (NDA / EventMix-style training). Each class documents its exact effect.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ..kernels.packed import uniforms

__all__ = [
    "CutMix",
    "Compose",
    "Mixup",
    "PixelDropout",
    "RandomCrop",
    "RandomFlip",
    "RandomTranslate",
    "ReverseTime",
    "TensorAugment",
]


def _pair(value: int | Sequence[int], name: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or any(int(v) != v or v < 0 for v in pair):
        raise ValueError(f"{name} must be an int >= 0 or a pair of them, got {value!r}")
    return int(pair[0]), int(pair[1])


def _probability(p: float, name: str = "p") -> float:
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {p}")
    return p


class TensorAugment:
    """Base of the per-sample augmentations: ``__call__(x, *, index=None, epoch=0,
    position=0)``; subclasses implement ``apply(x, u)`` given ``n_draws`` uniform numbers."""

    #: uniform numbers one call draws
    n_draws: int = 1
    #: CachedDataset / EventDataset pass index and epoch to callables that set this
    takes_index = True

    def __init__(self, seed: int | None = None) -> None:
        if seed is not None and (not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"seed must be an int >= 0 or None, got {seed!r}")
        self.seed = None if seed is None else int(seed)
        self._generator: torch.Generator | None = None

    def draws(self, count: int, index: int | None, epoch: int, position: int) -> np.ndarray:
        """``count`` uniform numbers in ``[0, 1)`` for this call (see the module docstring)."""
        if self.seed is None:
            return torch.rand(count, dtype=torch.float64).numpy()
        if index is None:
            if self._generator is None:
                self._generator = torch.Generator().manual_seed(self.seed)
            return torch.rand(count, dtype=torch.float64, generator=self._generator).numpy()
        return uniforms(self.seed, epoch, np.array([int(index)]), position, count)[0]

    def apply(self, x: torch.Tensor, u: np.ndarray) -> torch.Tensor:
        raise NotImplementedError

    def __call__(self, x: torch.Tensor, *, index: int | None = None, epoch: int = 0,
                 position: int = 0) -> torch.Tensor:
        return self.apply(x, self.draws(self.n_draws, index, epoch, position))

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_generator": None}

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items() if not k.startswith("_"))
        return f"{type(self).__name__}({fields})"


class Compose(TensorAugment):
    """Apply ``transforms`` in order; transform ``k`` draws at ``position = k`` (so two
    transforms with one seed still draw independently)."""

    def __init__(self, *transforms: Any) -> None:
        super().__init__(None)
        if len(transforms) == 1 and isinstance(transforms[0], (list, tuple)):
            transforms = tuple(transforms[0])
        self.transforms = tuple(transforms)

    def __call__(self, x, *, index=None, epoch=0, position=0):
        for k, t in enumerate(self.transforms):
            if getattr(t, "takes_index", False):
                x = t(x, index=index, epoch=epoch, position=position + k)
            else:
                x = t(x)
        return x


class RandomCrop(TensorAugment):
    """Zero-pad H and W by ``padding`` on each side, then cut ``size = (h, w)`` at a uniform
    origin: ``out = pad(x)[..., i:i + h, j:j + w]`` with ``i = floor(u0 (H + 2 pad_h - h + 1))``,
    ``j = floor(u1 (W + 2 pad_w - w + 1))`` (torchvision's ``RandomCrop(size, padding)``)."""

    n_draws = 2

    def __init__(self, size: int | Sequence[int], padding: int | Sequence[int] = 0,
                 seed: int | None = None) -> None:
        super().__init__(seed)
        self.size = _pair(size, "size")
        self.padding = _pair(padding, "padding")

    def apply(self, x, u):
        h, w = self.size
        ph, pw = self.padding
        if ph or pw:
            x = torch.nn.functional.pad(x, (pw, pw, ph, ph))
        free_h, free_w = x.shape[-2] - h, x.shape[-1] - w
        if free_h < 0 or free_w < 0:
            raise ValueError(f"crop {self.size} is larger than the padded input "
                             f"{tuple(x.shape[-2:])}")
        i = min(int(u[0] * (free_h + 1)), free_h)
        j = min(int(u[1] * (free_w + 1)), free_w)
        return x[..., i:i + h, j:j + w]


class RandomFlip(TensorAugment):
    """Mirror the width axis (``out[..., x] = in[..., W - 1 - x]``) with probability ``p``
    (``u0 < p``); ``vertical=True`` mirrors the height axis instead.

    Polarity channels are kept: a mirrored scene brightens and darkens at the mirrored pixels
    in the same way, so ON stays ON (unlike :class:`ReverseTime`)."""

    def __init__(self, p: float = 0.5, vertical: bool = False, seed: int | None = None) -> None:
        super().__init__(seed)
        self.p = _probability(p)
        self.vertical = bool(vertical)

    def apply(self, x, u):
        if u[0] < self.p:
            return torch.flip(x, dims=(-2 if self.vertical else -1,))
        return x


class RandomTranslate(TensorAugment):
    """Move the image by ``(dy, dx)`` pixels, ``dy = floor(u0 (2 max_dy + 1)) - max_dy`` (and dx
    from u1): ``out[..., y, x] = in[..., y - dy, x - dx]``. ``mode="shift"`` fills the uncovered
    border with zeros (events leaving the sensor are lost); ``"roll"`` wraps them around."""

    n_draws = 2

    def __init__(self, max_shift: int | Sequence[int], mode: str = "shift",
                 seed: int | None = None) -> None:
        super().__init__(seed)
        self.max_shift = _pair(max_shift, "max_shift")  # (dy, dx)
        if mode not in ("shift", "roll"):
            raise ValueError(f"mode must be 'shift' or 'roll', got {mode!r}")
        self.mode = mode

    def offsets(self, u: np.ndarray) -> tuple[int, int]:
        my, mx = self.max_shift
        return (min(int(u[0] * (2 * my + 1)), 2 * my) - my,
                min(int(u[1] * (2 * mx + 1)), 2 * mx) - mx)

    def apply(self, x, u):
        dy, dx = self.offsets(u)
        if self.mode == "roll":
            return torch.roll(x, shifts=(dy, dx), dims=(-2, -1))
        out = torch.zeros_like(x)
        h, w = x.shape[-2:]
        if abs(dy) >= h or abs(dx) >= w:
            return out
        out[..., max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
            x[..., max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
        return out


class PixelDropout(TensorAugment):
    """Zero every value of a pixel (all steps and polarities) with probability ``p``: pixel
    ``(y, x)`` is dropped iff ``u[y * W + x] < p`` (``H * W`` numbers per call), the tensor
    analogue of dropping all of a pixel's events."""

    def __init__(self, p: float = 0.1, seed: int | None = None) -> None:
        super().__init__(seed)
        self.p = _probability(p)

    def __call__(self, x, *, index=None, epoch=0, position=0):
        h, w = x.shape[-2:]
        u = self.draws(h * w, index, epoch, position)
        return self.apply(x, u)

    def apply(self, x, u):
        h, w = x.shape[-2:]
        keep = torch.from_numpy(np.asarray(u).reshape(h, w) >= self.p)
        return x * keep.to(x.dtype)


class ReverseTime(TensorAugment):
    """Reverse the order of the time steps with probability ``p`` (``u0 < p``): ``out[t] =
    in[T - 1 - t]`` (dimension ``-4`` of ``[..., T, P, H, W]``). With ``swap_polarity``
    (default) the two polarity channels are exchanged too, because a brightness increase played
    backwards is a decrease: reversed ON events are OFF events."""

    def __init__(self, p: float = 0.5, swap_polarity: bool = True,
                 seed: int | None = None) -> None:
        super().__init__(seed)
        self.p = _probability(p)
        self.swap_polarity = bool(swap_polarity)

    def apply(self, x, u):
        if u[0] >= self.p:
            return x
        dims = (-4, -3) if self.swap_polarity and x.shape[-3] == 2 else (-4,)
        return torch.flip(x, dims=dims)


def _one_hot(labels: torch.Tensor, num_classes: int, dtype: torch.dtype) -> torch.Tensor:
    if labels.ndim == 2:
        return labels.to(dtype)
    return torch.nn.functional.one_hot(labels.long(), num_classes).to(dtype)


class _BatchMix:
    """Mix a batch with a permutation of itself; ``lam`` from ``Beta(alpha, alpha)``."""

    def __init__(self, num_classes: int, alpha: float = 1.0, p: float = 1.0,
                 seed: int | None = None) -> None:
        if alpha <= 0:
            raise ValueError(f"alpha must be > 0, got {alpha}")
        self.num_classes = int(num_classes)
        self.alpha = float(alpha)
        self.p = _probability(p)
        self.seed = seed
        self._rng: np.random.Generator | None = None

    def _draw(self, n: int) -> tuple[float, np.ndarray, np.ndarray]:
        if self._rng is None:
            seed = int(torch.initial_seed()) if self.seed is None else int(self.seed)
            self._rng = np.random.default_rng(seed)
        lam = float(self._rng.beta(self.alpha, self.alpha)) if self._rng.random() < self.p \
            else 1.0
        return lam, self._rng.permutation(n), self._rng.random(2)

    def __call__(self, x: torch.Tensor, labels: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        lam, perm, u = self._draw(x.shape[0])
        return self.mix(x, labels, lam, torch.from_numpy(perm), u)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_rng": None}


class Mixup(_BatchMix):
    """``x' = lam x + (1 - lam) x[perm]``, ``y' = lam onehot(y) + (1 - lam) onehot(y[perm])``
    with ``lam ~ Beta(alpha, alpha)`` (with probability ``p``; else ``lam = 1``) and a random
    permutation ``perm`` of the batch (dimension 0)."""

    def mix(self, x, labels, lam, perm, u=None):
        y = _one_hot(labels, self.num_classes, x.dtype if x.is_floating_point()
                     else torch.float32)
        return lam * x + (1.0 - lam) * x[perm], lam * y + (1.0 - lam) * y[perm]


class CutMix(_BatchMix):
    """Paste a box of the permuted batch: the box is ``floor(H sqrt(1 - lam)) x
    floor(W sqrt(1 - lam))`` pixels with its origin ``floor(u (H - h + 1))`` (resp. W) and
    covers every step and polarity; ``y' = a onehot(y) + (1 - a) onehot(y[perm])`` with ``a``
    the share of the image left unpasted (EventMix pastes spatio-temporal regions the same
    way)."""

    def box(self, shape: Sequence[int], lam: float, u: np.ndarray) -> tuple[int, int, int, int]:
        """``(y0, y1, x0, x1)`` of the pasted box."""
        h, w = int(shape[-2]), int(shape[-1])
        r = math.sqrt(max(0.0, 1.0 - lam))
        bh, bw = int(h * r), int(w * r)
        y0 = min(int(u[0] * (h - bh + 1)), h - bh)
        x0 = min(int(u[1] * (w - bw + 1)), w - bw)
        return y0, y0 + bh, x0, x0 + bw

    def mix(self, x, labels, lam, perm, u=None):
        u = np.array([0.5, 0.5]) if u is None else u
        y0, y1, x0, x1 = self.box(x.shape, lam, u)
        out = x.clone()
        out[..., y0:y1, x0:x1] = x[perm][..., y0:y1, x0:x1]
        kept = 1.0 - (y1 - y0) * (x1 - x0) / (x.shape[-2] * x.shape[-1])
        y = _one_hot(labels, self.num_classes, x.dtype if x.is_floating_point()
                     else torch.float32)
        return out, kept * y + (1.0 - kept) * y[perm]
