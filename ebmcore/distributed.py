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

__all__ = ["all_ranks_true", "average_gradients", "barrier", "init_from_env", "rank_seed", "shutdown", "world"]


def world() -> tuple[int, int]:
    """This process's rank and the number of processes.

    Returns:
        ``(rank, world_size)``; ``(0, 1)`` when no process group is initialised.

    Examples:
        >>> from ebmcore.distributed import world
        >>> world()  # a plain single process
        (0, 1)
    """
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_from_env(device: torch.device | str = "cpu") -> bool:
    """Join the process group described by ``torchrun``'s environment (``WORLD_SIZE`` > 1).

    Uses NCCL when ``device`` is CUDA (after selecting ``LOCAL_RANK``'s GPU), gloo otherwise. A no-op in a
    plain single process, and when the group is already initialised.

    Arguments:
        device: the run's device; picks the backend.

    Returns:
        Whether training is distributed.

    Examples:
        >>> import os
        >>> from unittest import mock
        >>> from ebmcore.distributed import init_from_env
        >>> with mock.patch.dict(os.environ, {"WORLD_SIZE": "1"}):  # what a plain process (or torchrun -n 1) has
        ...     init_from_env("cpu")
        False
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or not dist.is_available():
        return False
    if not dist.is_initialized():
        cuda = torch.device(device).type == "cuda"
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    return True


def rank_seed(seed: int, rank: int) -> int:
    """The seed of rank ``rank``'s random draws (rank 0 keeps ``seed``), within torch's seed range.

    Arguments:
        seed: the run's seed.
        rank: the process's rank.

    Returns:
        ``(seed + 1_000_003 * rank) % 2**63``.

    Examples:
        >>> from ebmcore.distributed import rank_seed
        >>> [rank_seed(7, rank) for rank in range(3)]
        [7, 1000010, 2000013]
    """
    return (seed + 1_000_003 * rank) % (2**63)


def average_gradients(params: list[nn.Parameter]) -> None:
    """Replace each parameter's ``.grad`` by its mean over ranks, in one flat all-reduce. A parameter that no
    rank's loss reached keeps ``grad = None`` (as in a single process, so the optimiser skips it); one that
    only some ranks reached counts as zero on the others. Every rank must call this with the same
    parameters in the same order.

    Arguments:
        params: the parameters of every group stepped now, after the backward pass (one call per step).

    Examples:
        In a single process (world size 1) the gradients are left as they are:

        >>> import torch
        >>> from ebmcore.distributed import average_gradients
        >>> w, unused = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(1))
        >>> w.grad = torch.tensor([1.0, -2.0])
        >>> average_gradients([w, unused])
        >>> w.grad, unused.grad
        (tensor([ 1., -2.]), None)
    """
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
        p.grad = flat[offset:offset + n].view_as(p)  # views of one buffer: the next backward starts from None
        offset += n


def all_ranks_true(flag: bool, device: torch.device) -> bool:
    """``flag`` and-ed over all ranks (one small all-reduce; just ``flag`` in a single process).

    Arguments:
        flag: this rank's answer (e.g. "every loss is finite").
        device: where the all-reduce tensor lives (the run's device; CUDA for NCCL).

    Returns:
        ``True`` only when every rank passed ``True``.

    Examples:
        >>> import torch
        >>> from ebmcore.distributed import all_ranks_true
        >>> all_ranks_true(True, torch.device("cpu")), all_ranks_true(False, torch.device("cpu"))
        (True, False)
    """
    _, size = world()
    if size == 1:
        return flag
    t = torch.tensor([1 if flag else 0], device=device, dtype=torch.int32)
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return bool(t.item())


def barrier() -> None:
    """Wait until every rank reaches this point; a no-op in a single process.

    Examples:
        >>> from ebmcore.distributed import barrier, world
        >>> barrier()  # world size 1: returns at once
        >>> world()
        (0, 1)
    """
    if world()[1] > 1:
        dist.barrier()


def shutdown() -> None:
    """Leave the process group (after the last collective); a no-op in a single process.

    Examples:
        >>> from ebmcore.distributed import shutdown, world
        >>> shutdown()  # world size 1: nothing to leave
        >>> world()
        (0, 1)
    """
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def broadcast_parameters(module: nn.Module) -> None:
    """Copy rank 0's parameters to every rank (buffers stay rank-local: chains, replay buffers)."""
    if world()[1] == 1:
        return
    with torch.no_grad():
        for p in module.parameters():
            dist.broadcast(p.data, src=0)
