"""Several processes, one result: embedding and fine-tuning under ``torchrun``.

Under ``torchrun`` (``WORLD_SIZE`` > 1) the process group starts on first use: NCCL with one
GPU per process (``LOCAL_RANK``), gloo on CPU. Work is split in contiguous parts in rank
order, so gathering the parts rebuilds exactly the single-process order: a global batch of
B clips is B/world clips per process, and the contrastive loss still sees all B, so results
match one process at the same global batch. Without ``torchrun`` every helper is the identity.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

import torch
import torch.distributed as dist
from torch import Tensor

T = TypeVar("T")


def world() -> tuple[int, int]:
    """``(rank, size)`` of this process, starting the process group when launched by torchrun."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return 0, 1
    if not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
            dist.init_process_group("nccl")
        else:
            dist.init_process_group("gloo")
    return dist.get_rank(), dist.get_world_size()


def is_main() -> bool:
    """Whether this process writes shared outputs (records, checkpoints, tables) and shows
    progress; read from torchrun's ``RANK`` without starting the process group."""
    return int(os.environ.get("RANK", "0")) == 0


def from_main(compute: Callable[[], T]) -> T:
    """``compute()`` run by the main process, its result on every process.

    For decisions read from disk (is this unit done?): every rank must take the same branch,
    or their collective calls would no longer pair up.
    """
    rank, size = world()
    if size == 1:
        return compute()
    return broadcast(compute() if rank == 0 else None)


def broadcast(obj: T) -> T:
    """The main process's ``obj`` on every process."""
    if world()[1] == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def finish() -> None:
    """Leave the process group together (a rank that tears gloo down first aborts the others)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def bounds(n: int) -> list[tuple[int, int]]:
    """``[start, stop)`` of every rank's contiguous part of ``n`` items (sizes differ by at most 1)."""
    _, size = world()
    base, extra = divmod(n, size)
    edges = [0]
    for rank in range(size):
        edges.append(edges[-1] + base + (rank < extra))
    return list(zip(edges[:-1], edges[1:]))


def part(items: Sequence) -> Sequence:
    """This rank's contiguous part of ``items``."""
    start, stop = bounds(len(items))[world()[0]]
    return items[start:stop]


def gather_objects(obj: object) -> list:
    """Every rank's ``obj``, in rank order."""
    _, size = world()
    if size == 1:
        return [obj]
    gathered: list = [None] * size
    dist.all_gather_object(gathered, obj)
    return gathered


class _GatherRows(torch.autograd.Function):
    """All ranks' rows concatenated; the gradient of each rank's rows is summed over ranks."""

    @staticmethod
    def forward(ctx, local: Tensor, sizes: tuple[int, ...], rank: int) -> Tensor:
        ctx.sizes, ctx.rank = sizes, rank
        longest = max(sizes)
        padded = local.new_zeros((longest, *local.shape[1:]))
        padded[: local.shape[0]] = local
        parts = [torch.empty_like(padded) for _ in sizes]
        dist.all_gather(parts, padded.contiguous())
        return torch.cat([p[:n] for p, n in zip(parts, sizes)])

    @staticmethod
    def backward(ctx, grad: Tensor):
        grad = grad.contiguous()
        dist.all_reduce(grad)
        start = sum(ctx.sizes[: ctx.rank])
        return grad[start : start + ctx.sizes[ctx.rank]], None, None


def gather_rows(local: Tensor, total: int) -> Tensor:
    """Concatenate the ranks' parts of ``total`` rows (from :func:`part`), keeping gradients.

    Every rank then computes the same loss over all rows; :func:`average_gradients` turns the
    per-rank gradients into the single-process gradient.
    """
    rank, size = world()
    if size == 1:
        return local
    sizes = tuple(stop - start for start, stop in bounds(total))
    return _GatherRows.apply(local, sizes, rank)


def average_gradients(parameters: Iterable[Tensor]) -> None:
    """Average gradients over ranks (missing ones count as zero), as DDP does."""
    _, size = world()
    if size == 1:
        return
    for param in parameters:
        if param.grad is None:
            param.grad = torch.zeros_like(param)
        dist.all_reduce(param.grad)
        param.grad /= size
