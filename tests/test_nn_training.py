"""Every variant learns a small synthetic two-class spike-pattern task on CPU."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from eventcompress.nn import create_model
from eventcompress.nn.networks import VARIANTS

SIZE = 12
TINY = {"channels": (4, 8), "hidden": 16, "input_size": SIZE, "n_classes": 2}


@pytest.fixture(autouse=True)
def fast_cpu_settings():
    """One thread, subnormals flushed to zero.

    Adam's moments underflow into subnormal floats once the loss is small, which slows x86 CPUs
    down by up to two orders of magnitude; and the tensors here are too small to gain from a
    second thread, which only spins when the machine is shared. Neither changes the test's
    outcome.
    """
    threads = torch.get_num_threads()
    torch.set_flush_denormal(True)
    torch.set_num_threads(1)
    yield
    torch.set_flush_denormal(False)
    torch.set_num_threads(threads)


def make_batch(gen: torch.Generator, n: int, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Class 0: extra ON events in the left half; class 1: extra OFF events in the right half.

    Background noise fires everywhere at 10 %, the class region at 30 %, so a single sample is
    ambiguous at some pixels and the loss cannot collapse to zero in a few steps.
    """
    labels = torch.randint(0, 2, (n,), generator=gen)
    p = torch.full((steps, n, 2, SIZE, SIZE), 0.1)
    half = SIZE // 2
    p[:, labels == 0, 0, :, :half] = 0.3
    p[:, labels == 1, 1, :, half:] = 0.3
    return torch.bernoulli(p, generator=gen), labels


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_loss_decreases(variant):
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    steps = 1 if variant == "s3nn" else 4
    model = create_model(f"nmnist-{variant}", **TINY)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    x_eval, y_eval = make_batch(gen, 128, steps)

    def eval_loss() -> float:
        model.eval()
        with torch.no_grad():
            loss = F.cross_entropy(model(x_eval), y_eval).item()
        model.train()
        return loss

    initial = eval_loss()
    for _ in range(200):
        x, y = make_batch(gen, 16, steps)
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    final = eval_loss()
    assert initial > 0.5
    assert final < 0.5 * initial, (variant, initial, final)
    model.eval()
    with torch.no_grad():
        accuracy = (model(x_eval).argmax(1) == y_eval).float().mean().item()
    assert accuracy > 0.9, (variant, accuracy)
