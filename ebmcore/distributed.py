"""Multi-process training with ``torch.distributed`` (launched by ``torchrun``): the one place that knows.

``torchrun --nproc_per_node=N -m ebmcore.cli train RECIPE`` starts N processes; :func:`init_from_env`
joins them (gloo on CPU, NCCL on CUDA). The :class:`~ebmcore.trainer.Trainer` then

* seeds each rank's random draws with :func:`rank_seed` (data batches, chains, replay buffers are
  rank-local) after building identical initial weights from the run seed;
* averages every trainable group's gradients across ranks with :func:`average_gradients` *after*
  autograd, on ``.grad`` itself. ``DistributedDataParallel`` averages through hooks on the autograd graph
  and silently skips (or errors on) parameters that a loss reaches only through ``∇x E`` (VAPO, the DCD
  expansion estimator, score-style penalties); averaging ``.grad`` after the backward pass covers every
  objective the same way;
* agrees across ranks on whether a step diverged (:func:`all_ranks_true`), so one rank's NaN stops or
  rolls back every rank instead of leaving the others waiting;
* writes metrics, pictures and the checkpoint from rank 0, and each other rank's own state (its chains,
  buffers and RNG) into the same checkpoint directory, so a resumed run continues every rank.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn

__all__ = ["all_ranks_true", "average_gradients", "barrier", "init_from_env", "rank_seed", "world"]


def world() -> tuple[int, int]:
    """``(rank, world_size)``; ``(0, 1)`` when no process group is initialised."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_from_env(device: torch.device | str = "cpu") -> bool:
    """Join the process group described by ``torchrun``'s environment (``WORLD_SIZE`` > 1); returns whether
    training is distributed. A no-op in a plain single process."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or not dist.is_available():
        return False
    if not dist.is_initialized():
        cuda = torch.device(device).type == "cuda"
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    return True


def rank_seed(seed: int, rank: int) -> int:
    """The seed of rank ``rank``'s random draws (rank 0 keeps ``seed``), within torch's seed range."""
    return (seed + 1_000_003 * rank) % (2**63)


def average_gradients(params: list[nn.Parameter]) -> None:
    """Replace each parameter's ``.grad`` by its mean over ranks, in one flat all-reduce. A parameter that no
    rank's loss reached keeps ``grad = None`` (as in a single process, so the optimiser skips it); one that
    only some ranks reached counts as zero on the others. Every rank must call this with the same
    parameters in the same order."""
    _, size = world()
    if size == 1 or not params:
        return
    device = params[0].device
    reached = torch.tensor([p.grad is not None for p in params], dtype=torch.int32, device=device)
    dist.all_reduce(reached, op=dist.ReduceOp.MAX)
    used = [p for p, r in zip(params, reached.tolist()) if r]
    if not used:
        return
    flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in used])
    dist.all_reduce(flat)
    flat /= size
    offset = 0
    for p in used:
        n = p.numel()
        p.grad = flat[offset:offset + n].view_as(p).clone()
        offset += n


def all_ranks_true(flag: bool, device: torch.device) -> bool:
    """``flag`` and-ed over all ranks (one small all-reduce; just ``flag`` in a single process)."""
    _, size = world()
    if size == 1:
        return flag
    t = torch.tensor([1 if flag else 0], device=device, dtype=torch.int32)
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return bool(t.item())


def barrier() -> None:
    if world()[1] > 1:
        dist.barrier()


def broadcast_parameters(module: nn.Module) -> None:
    """Copy rank 0's parameters to every rank (buffers stay rank-local: chains, replay buffers)."""
    if world()[1] == 1:
        return
    with torch.no_grad():
        for p in module.parameters():
            dist.broadcast(p.data, src=0)
