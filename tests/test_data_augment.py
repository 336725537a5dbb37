"""Tensor augmentations: the exact effect of each on a known tensor, seeding, composition."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from eventcompress.data import augment as A
from eventcompress.kernels.packed import uniforms


def known(t: int = 3, p: int = 2, h: int = 4, w: int = 5) -> torch.Tensor:
    """Every value different: x[t, p, y, x] = 1000 t + 100 p + 10 y + x."""
    ti, pi, yi, xi = torch.meshgrid(torch.arange(t), torch.arange(p), torch.arange(h),
                                    torch.arange(w), indexing="ij")
    return (1000 * ti + 100 * pi + 10 * yi + xi).float()


def test_random_crop_with_padding_cuts_the_documented_window():
    x = known()
    aug = A.RandomCrop((3, 4), padding=1)
    u = np.array([0.7, 0.2])  # i = floor(0.7 * (6 - 3 + 1)) = 2, j = floor(0.2 * (7 - 4 + 1)) = 0
    out = aug.apply(x, u)
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1))
    assert torch.equal(out, padded[..., 2:5, 0:4])
    assert out[0, 0, 0, 0] == 0 and out[0, 0, 0, 1] == x[0, 0, 1, 0]  # the left zero border
    with pytest.raises(ValueError, match="larger"):
        A.RandomCrop(9).apply(x, u)


def test_flip_mirrors_width_keeps_polarity_and_respects_p():
    x = known()
    out = A.RandomFlip(p=0.5).apply(x, np.array([0.49]))
    assert torch.equal(out[..., 0], x[..., 4]) and torch.equal(out[:, 1], x[:, 1].flip(-1))
    assert A.RandomFlip(p=0.5).apply(x, np.array([0.5])) is x
    assert torch.equal(A.RandomFlip(1.0, vertical=True).apply(x, np.array([0.0])), x.flip(-2))


@pytest.mark.parametrize("mode", ["shift", "roll"])
def test_translate_moves_by_the_drawn_offsets(mode):
    x = known()
    aug = A.RandomTranslate((1, 2), mode=mode)
    u = np.array([0.99, 0.1])  # dy = floor(0.99 * 3) - 1 = 1, dx = floor(0.1 * 5) - 2 = -2
    assert aug.offsets(u) == (1, -2)
    out = aug.apply(x, u)
    if mode == "roll":
        assert torch.equal(out, torch.roll(x, (1, -2), (-2, -1)))
        return
    # out[y, x] = in[y - 1, x + 2], zero where that lies outside
    assert torch.equal(out[..., 1:, :3], x[..., :3, 2:])
    assert out[..., 0, :].abs().sum() == 0 and out[..., :, 3:].abs().sum() == 0


def test_pixel_dropout_zeros_whole_pixels_where_u_below_p():
    x = known() + 1
    u = np.linspace(0, 1, 20, endpoint=False)  # pixel (y, x) gets u[5 y + x]
    out = A.PixelDropout(p=0.3).apply(x, u)
    dropped = (u < 0.3).reshape(4, 5)
    assert torch.all(out[..., torch.from_numpy(dropped)] == 0)
    assert torch.equal(out[..., torch.from_numpy(~dropped)], x[..., torch.from_numpy(~dropped)])


def test_pixel_dropout_with_seed_uses_the_counter_based_numbers():
    x = known() + 1
    aug = A.PixelDropout(p=0.5, seed=9)
    u = uniforms(9, 2, np.array([41]), 0, 20)[0]
    assert torch.equal(aug(x, index=41, epoch=2), aug.apply(x, u))


def test_reverse_time_reverses_steps_and_swaps_polarity():
    x = known()
    out = A.ReverseTime(p=1.0).apply(x, np.array([0.0]))
    for t in range(3):
        assert torch.equal(out[t, 0], x[2 - t, 1]) and torch.equal(out[t, 1], x[2 - t, 0])
    kept = A.ReverseTime(p=1.0, swap_polarity=False).apply(x, np.array([0.0]))
    assert torch.equal(kept, x.flip(0))
    assert A.ReverseTime(p=0.2).apply(x, np.array([0.3])) is x


def test_mixup_exact_effect():
    x = torch.stack([known(), 2 * known(), -known()])
    y = torch.tensor([0, 2, 1])
    perm = torch.tensor([2, 0, 1])
    xm, ym = A.Mixup(num_classes=3).mix(x, y, 0.75, perm)
    assert torch.allclose(xm[0], 0.75 * x[0] + 0.25 * x[2])
    assert torch.equal(ym[0], torch.tensor([0.75, 0.25, 0.0]))
    assert torch.allclose(ym.sum(1), torch.ones(3))


def test_cutmix_exact_effect():
    x = torch.stack([known(h=10, w=10), -known(h=10, w=10)])
    y = torch.tensor([1, 0])
    aug = A.CutMix(num_classes=2)
    lam, u = 0.64, np.array([0.0, 0.99])  # box 6 x 6 (sqrt(0.36) = 0.6), origin (0, 4)
    assert aug.box(x.shape, lam, u) == (0, 6, 4, 10)
    xm, ym = aug.mix(x, y, lam, torch.tensor([1, 0]), u)
    assert torch.equal(xm[0, ..., :6, 4:], x[1, ..., :6, 4:])
    assert torch.equal(xm[0, ..., 6:, :], x[0, ..., 6:, :])
    assert torch.allclose(ym[0], torch.tensor([0.36, 0.64]))


def test_batch_mix_is_seeded():
    x, y = torch.randn(8, 2, 2, 6, 6), torch.arange(8) % 4
    a = A.CutMix(4, alpha=0.5, seed=3)(x, y)
    b = A.CutMix(4, alpha=0.5, seed=3)(x, y)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert A.Mixup(4, p=0.0, seed=1)(x, y)[0].equal(x)  # p = 0: lam = 1


def test_compose_seeded_is_a_function_of_index_and_epoch():
    x = known(h=8, w=8)
    aug = A.Compose(A.RandomCrop(6, padding=2, seed=1), A.RandomFlip(seed=1),
                    A.PixelDropout(0.2, seed=1), A.ReverseTime(seed=1))
    a = aug(x, index=5, epoch=1)
    assert torch.equal(a, aug(x, index=5, epoch=1))
    assert not torch.equal(a, aug(x, index=6, epoch=1))
    assert not torch.equal(a, aug(x, index=5, epoch=2))
    # step k of the chain draws at position k
    crop_u = uniforms(1, 1, np.array([5]), 0, 2)[0]
    flip_u = uniforms(1, 1, np.array([5]), 1, 1)[0]
    manual = A.RandomFlip().apply(A.RandomCrop(6, padding=2).apply(x, crop_u), flip_u)
    drop_u = uniforms(1, 1, np.array([5]), 2, 36)[0]
    manual = A.PixelDropout(0.2).apply(manual, drop_u)
    manual = A.ReverseTime().apply(manual, uniforms(1, 1, np.array([5]), 3, 1)[0])
    assert torch.equal(a, manual)


def test_unseeded_draws_follow_torch_global_generator():
    x = known(h=8, w=8)
    aug = A.RandomCrop(4)
    torch.manual_seed(0)
    a = aug(x)
    torch.manual_seed(0)
    assert torch.equal(a, aug(x))
