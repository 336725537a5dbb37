"""Training on several processes: torchrun + DistributedDataParallel (docs/scale-out.md).

A process started by ``torchrun`` (``WORLD_SIZE`` > 1 in its environment) joins the process
group (gloo on the CPU, nccl on CUDA, one GPU per local rank). The recipe's ``batch_size`` stays
the *global* batch: every rank takes its share ``batch[rank::world]`` of each of the engine's
batches, and its loss is scaled by ``world * len(share) / len(batch)`` so that DDP's mean of the
ranks' gradients is the gradient of the whole batch's mean loss. Batch norm is synchronised by
default (statistics over the global batch: torch's SyncBatchNorm on CUDA, an all-reduce of sums
here on the CPU, where SyncBatchNorm refuses to run), so a run on N processes trains the same
weights as one process, up to float rounding. Evaluation gives every rank a contiguous,
unpadded block of the indices and sums the counts, so each sample counts exactly once
(``DistributedSampler`` pads by repeating samples: pytorch #25162); evaluation has no collective
inside its loop, so uneven blocks cannot hang.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn
from torch.utils.data.distributed import DistributedSampler

__all__ = ["Distributed", "RankBatchSampler", "launch", "synchronise_batchnorm"]


@dataclass
class Distributed:
    """This process's place in the run: ``world`` processes, this one ``rank``."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls, device: torch.device) -> Distributed:
        """Join the process group torchrun describes in the environment (once per process)."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        import torch.distributed as dist

        local = int(os.environ.get("LOCAL_RANK", "0"))
        if not dist.is_initialized():
            backend = "nccl" if device.type == "cuda" else "gloo"
            if device.type == "cuda":
                torch.cuda.set_device(local)
            dist.init_process_group(backend)
        return cls(dist.get_rank(), dist.get_world_size(), local)

    def barrier(self) -> None:
        if self.active:
            import torch.distributed as dist

            dist.barrier()

    def broadcast(self, value: Any) -> Any:
        """Rank 0's ``value`` on every rank."""
        if not self.active:
            return value
        import torch.distributed as dist

        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def sum(self, values: Sequence[float]) -> list[float]:
        """Element-wise sum over ranks (float64, on the CPU)."""
        if not self.active:
            return list(values)
        import torch.distributed as dist

        t = torch.tensor(list(values), dtype=torch.float64)
        if dist.get_backend() == "nccl":
            t = t.cuda()
        dist.all_reduce(t)
        return t.cpu().tolist()

    def gather(self, value: Any) -> list[Any]:
        if not self.active:
            return [value]
        import torch.distributed as dist

        out: list[Any] = [None] * self.world
        dist.all_gather_object(out, value)
        return out

    def share(self, batch: list[int]) -> list[int]:
        return batch[self.rank::self.world]

    def eval_block(self, n: int) -> range:
        """This rank's contiguous block of ``range(n)`` (blocks differ in size by at most 1)."""
        lo = self.rank * n // self.world
        return range(lo, (self.rank + 1) * n // self.world)


class RankBatchSampler(DistributedSampler):
    """This rank's share of every batch of the engine's epoch order (``batches(epoch)``, the
    global batches), from batch ``start``; ``set_epoch`` picks the epoch, as with the stock
    sampler. A last global batch smaller than the world is dropped (a rank would get none)."""

    def __init__(self, dataset: Any, batches: Callable[[int], list[list[int]]],
                 ctx: Distributed) -> None:
        super().__init__(dataset, num_replicas=ctx.world, rank=ctx.rank, shuffle=False)
        self.batches_of = batches
        self.ctx = ctx
        self.start = 0

    def global_batches(self) -> list[list[int]]:
        batches = self.batches_of(self.epoch)
        if batches and len(batches[-1]) < self.ctx.world:
            batches = batches[:-1]
        return batches[self.start:]

    def __iter__(self) -> Iterator[list[int]]:  # type: ignore[override]
        return iter([self.ctx.share(b) for b in self.global_batches()])

    def __len__(self) -> int:
        return len(self.global_batches())


def loss_scale(ctx: Distributed, local: int, batch: int) -> float:
    """Factor on a rank's mean loss that makes DDP's gradient mean the global batch mean."""
    return ctx.world * local / batch if ctx.active else 1.0


class _AllReduceSum(torch.autograd.Function):
    """Sum over ranks whose gradient is the sum over ranks of the incoming gradients (each
    rank's loss depends on every rank's sums)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        import torch.distributed as dist

        out = x.clone()
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        import torch.distributed as dist

        out = grad.clone()
        dist.all_reduce(out)
        return out


class _SummedStatsNorm:
    """Mixin for a BatchNorm class: in training, mean and variance over every rank's batch,
    from all-reduced per-channel sums (autograd flows through the all-reduce)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        import torch.distributed as dist

        # not under no_grad: the engine's batch-norm calibration runs every rank on the same
        # batches, and there the plain statistics are the single-process ones
        if not (self.training and torch.is_grad_enabled() and dist.is_initialized()
                and dist.get_world_size() > 1):
            return super().forward(x)  # type: ignore[misc]
        dims = [d for d in range(x.dim()) if d != 1]
        count = torch.tensor([x.numel() / x.shape[1]], dtype=x.dtype, device=x.device)
        sums = _AllReduceSum.apply(torch.cat([x.sum(dims), (x * x).sum(dims), count]))
        c = x.shape[1]
        n = sums[-1]
        mean = sums[:c] / n
        var = (sums[c:2 * c] / n - mean * mean).clamp_min(0)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                f = (1.0 / float(self.num_batches_tracked) if self.momentum is None
                     else self.momentum)
                self.running_mean.mul_(1 - f).add_(f * mean.detach())
                self.running_var.mul_(1 - f).add_(f * var.detach() * n / (n - 1).clamp_min(1))
        shape = [1, c] + [1] * (x.dim() - 2)
        y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y


_SYNCED: dict[type, type] = {}


def synchronise_batchnorm(model: nn.Module, device: torch.device) -> nn.Module:
    """Batch norm over the global batch: ``nn.SyncBatchNorm`` on CUDA; on the CPU every norm's
    class gains :class:`_SummedStatsNorm` in place (same parameters, buffers, state-dict
    keys, and still an instance of its BatchNorm class)."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)
    for m in model.modules():
        cls = type(m)
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and not isinstance(m, _SummedStatsNorm):
            if cls not in _SYNCED:
                _SYNCED[cls] = type(f"Summed{cls.__name__}", (_SummedStatsNorm, cls), {})
            m.__class__ = _SYNCED[cls]
    return model


def merge_evaluations(ctx: Distributed, result: dict[str, Any]) -> dict[str, Any]:
    """One rank's :func:`~.metrics.evaluate` result summed with the others'."""
    if not ctx.active:
        return result
    n_classes = len(result["confusion"])
    flat = [result["loss"] * result["n"], result["n"], result["seconds"]]
    flat += [v for row in result["confusion"] for v in row]
    total = ctx.sum(flat)
    n = int(total[1])
    confusion = [[int(v) for v in total[3 + i * n_classes:3 + (i + 1) * n_classes]]
                 for i in range(n_classes)]
    merged = {**result, "loss": total[0] / max(n, 1), "n": n, "confusion": confusion,
              "acc": sum(confusion[i][i] for i in range(n_classes)) / max(n, 1),
              "seconds": total[2] / ctx.world}
    if "activity_counts" in result:
        merged["activity"] = _sum_reports(ctx.gather(result["activity_counts"])).per_sample()
    return merged


def _sum_reports(reports: list[Any]) -> Any:
    first = reports[0]
    layer_fields = ("calls", "input_numel", "input_events", "input_spikes", "sops", "macs")
    neuron_fields = ("numel", "events", "spikes")
    layers = [replace(rows[0], **{f: sum(getattr(r, f) for r in rows) for f in layer_fields})
              for rows in zip(*(rep.layers for rep in reports))]
    neurons = [replace(rows[0], **{f: sum(getattr(r, f) for r in rows) for f in neuron_fields})
               for rows in zip(*(rep.neurons for rep in reports))]
    return replace(first, layers=layers, neurons=neurons,
                   samples=sum(rep.samples for rep in reports))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def launch(nproc: int, argv: Sequence[str]) -> int:
    """``eventcompress train ... --nproc N``: run ``argv`` (the command without ``--nproc``)
    under torchrun with N processes on this machine, on loopback; returns its exit status."""
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}",
           "--nnodes=1", "--master_addr=127.0.0.1", f"--master_port={_free_port()}",
           "-m", "eventcompress", *argv]
    return subprocess.call(cmd)
