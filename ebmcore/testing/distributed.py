"""Multi-process checks any plugin can run on its objective: ``check_gradient_averaging(config)`` trains one
step of ``config`` in two gloo processes and returns each rank's gradients and the single-process
reference (the mean of the two per-rank gradients computed one after the other in this process).

Used by ``tests/test_distributed.py`` for every installed method; a third-party objective passes when the
three gradient sets agree, whatever path its loss takes to the weights (∇x E included).
"""

from __future__ import annotations

import copy
import os
import pathlib
import socket
import tempfile
import time
from typing import Any

import torch
import torch.multiprocessing as mp

__all__ = ["check_gradient_averaging", "check_resume_exact"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _spawn(worker: Any, args: tuple[Any, ...], world_size: int, out: str) -> None:
    """Run ``worker(rank, world_size, port, *args)`` in ``world_size`` spawned processes.

    gloo occasionally aborts a process in C++ while the process group is torn down ("terminate called
    without an active exception"), after all work is done. Each worker writes ``done-<rank>`` once it has
    written its results and passed the final barrier; a signal death after every rank has done so is that
    teardown abort, and the results stand. A death before that is retried once on a fresh port; a Python
    exception in a worker is never retried.
    """
    for attempt in range(2):
        for stale in pathlib.Path(out).glob("done-*"):
            stale.unlink()
        try:
            mp.start_processes(worker, args=(world_size, _free_port(), *args), nprocs=world_size, join=True,
                               start_method="spawn")
            return
        except mp.ProcessExitedException:
            if all((pathlib.Path(out) / f"done-{r}").exists() for r in range(world_size)):
                return
            if attempt == 1:
                raise


def _mark_done(out: str, rank: int) -> None:
    (pathlib.Path(out) / f"done-{rank}").touch()


def _abort_worker(rank: int, world_size: int, port: int, out: str, after_done: bool) -> None:
    """For the tests of :func:`_spawn`: die by SIGABRT, after or before marking the work done."""
    root = pathlib.Path(out)
    (root / f"started-{rank}-{os.getpid()}").touch()
    deadline = time.monotonic() + 60

    def wait_for(pattern: str) -> None:  # until every rank of this attempt got here
        while len(list(root.glob(pattern))) % world_size and time.monotonic() < deadline:
            time.sleep(0.01)

    wait_for("started-*")
    if after_done:  # as after the final barrier: every rank has marked its work done before anyone dies
        _mark_done(out, rank)
        wait_for("done-*")
    os.abort()


def _one_step_grads(cfg: dict[str, Any], run_dir: pathlib.Path, rank: int) -> dict[str, torch.Tensor]:
    from ebmcore import Batch, build, registries, structure_config
    from ebmcore.distributed import rank_seed, world
    from ebmcore.trainer import Trainer

    regs = registries()
    exp = build(structure_config(cfg, regs), regs=regs)
    trainer = Trainer(exp, run_dir, regs=regs, progress=False)
    if world()[1] == 1:  # the reference replays rank `rank`'s random draws
        torch.manual_seed(rank_seed(trainer.cfg.seed, rank))
    x, y = exp.dataset.random_batch(trainer.cfg.trainer.batch_size, trainer.device)
    out = exp.objective(Batch(x, y), 0)
    trainer._backward(out.losses)
    return {n: p.grad.detach().clone() for n, p in exp.named_parameters() if p.grad is not None}


def _group_worker(rank: int, world_size: int, port: int, out: str, body: Any, *args: Any) -> None:
    """Join a gloo group, run ``body(rank, out, *args)``, meet at a final barrier, mark done, leave."""
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size)
    try:
        body(rank, out, *args)
        dist.barrier()  # nobody tears down gloo while another rank still talks
        _mark_done(out, rank)
    finally:
        dist.destroy_process_group()


def _grads_body(rank: int, out: str, cfg: dict[str, Any]) -> None:
    from safetensors.torch import save_file

    grads = _one_step_grads(cfg, pathlib.Path(out) / f"rank{rank}", rank)
    save_file({k: v.contiguous() for k, v in grads.items()}, str(pathlib.Path(out) / f"grads-{rank}.safetensors"))


def check_gradient_averaging(config: dict[str, Any], world_size: int = 2) -> tuple[list[dict[str, torch.Tensor]], dict[str, torch.Tensor]]:
    """``(per-rank gradients, single-process reference)`` for one training step of ``config`` (CPU, gloo).

    Gradient clipping is switched off for the comparison: in a multi-process run it clips the averaged
    gradient, which the mean of separately clipped per-rank gradients would not reproduce.

    Arguments:
        config: an unstructured run config (its ``device`` is forced to ``"cpu"``).
        world_size: number of gloo processes to spawn.

    Returns:
        ``(ranks, reference)``: each rank's gradients ``{parameter name: tensor}`` after averaging, and the
        single-process mean of the per-rank gradients. An objective passes when every entry of ``ranks``
        equals ``reference`` (up to round-off).

    Examples:
        Spawning the processes takes several seconds (each imports torch), more than a docstring example
        may, so this only shows the call; ``tests/test_distributed.py`` runs it:

        >>> from ebmcore.testing.distributed import check_gradient_averaging
        >>> callable(check_gradient_averaging)
        True

        A test does::

            ranks, reference = check_gradient_averaging(config, world_size=2)
            for grads in ranks:
                for name, g in reference.items():
                    torch.testing.assert_close(grads[name], g)
    """
    from safetensors.torch import load_file

    cfg = copy.deepcopy(config)
    cfg["device"] = "cpu"
    # gradient clipping acts on the averaged gradient (as on a full batch in one process), so the per-rank
    # reference is compared without it
    trainer = cfg.setdefault("trainer", {})
    trainer["optimizer"] = {**trainer.get("optimizer", {}), "grad_clip": None}
    trainer["groups"] = {g: {**o, "grad_clip": None} for g, o in trainer.get("groups", {}).items()}
    with tempfile.TemporaryDirectory() as tmp:
        _spawn(_group_worker, (tmp, _grads_body, cfg), world_size, tmp)
        ranks = [load_file(str(pathlib.Path(tmp) / f"grads-{r}.safetensors")) for r in range(world_size)]
        per_rank = [_one_step_grads(cfg, pathlib.Path(tmp) / f"ref{r}", r) for r in range(world_size)]
    names = set().union(*per_rank)
    reference = {n: sum(g[n] for g in per_rank if n in g) / world_size for n in names}  # absent: zero
    return ranks, reference


def _resume_body(rank: int, out: str, cfg: dict[str, Any], crash_at: int) -> None:
    import torch.distributed as dist
    from safetensors.torch import save_file

    from ebmcore import registries
    from ebmcore.testing.resume import crash_and_resume

    root = pathlib.Path(out)
    # every rank dies at the same step, before any collective, and waits for the others before resuming
    full, resumed = crash_and_resume(cfg, root, regs=registries(), crash_at=crash_at, after_crash=dist.barrier)
    resumed.fit()
    for name, trainer in (("full", full), ("resumed", resumed)):
        state = {k: v.detach().contiguous().clone() for k, v in trainer.exp.state_dict().items()}
        save_file(state, str(root / f"{name}-{rank}.safetensors"))


def check_resume_exact(config: dict[str, Any], *, crash_at: int, world_size: int = 2) -> list[tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]]:
    """Per rank, the final state of an uninterrupted and of a crashed-and-resumed multi-process run.

    Runs ``config`` in ``world_size`` gloo processes on the CPU twice: once straight through, once with a
    simulated crash of every rank at step ``crash_at`` followed by :meth:`~ebmcore.trainer.Trainer.resume`
    from the last checkpoint. Exact resume means both final states are equal (weights and every
    rank-local buffer: chains, replay buffers).

    Arguments:
        config: an unstructured run config (its ``device`` is forced to ``"cpu"``); it should write a
            checkpoint before ``crash_at`` (``trainer.checkpoint_every``).
        crash_at: the step at which every rank fails.
        world_size: number of processes to spawn.

    Returns:
        One ``(uninterrupted state, resumed state)`` pair of ``{name: tensor}`` per rank.

    Examples:
        Spawning the processes and training twice takes several seconds, more than a docstring example
        may, so this only shows the call; ``tests/test_distributed.py`` runs it:

        >>> from ebmcore.testing.distributed import check_resume_exact
        >>> callable(check_resume_exact)
        True

        A test does::

            for full, resumed in check_resume_exact(config, crash_at=6, world_size=2):
                assert all(torch.equal(full[k], resumed[k]) for k in full)
    """
    from safetensors.torch import load_file

    cfg = copy.deepcopy(config)
    cfg["device"] = "cpu"
    with tempfile.TemporaryDirectory() as tmp:
        _spawn(_group_worker, (tmp, _resume_body, cfg, crash_at), world_size, tmp)
        return [(load_file(str(pathlib.Path(tmp) / f"full-{r}.safetensors")),
                 load_file(str(pathlib.Path(tmp) / f"resumed-{r}.safetensors"))) for r in range(world_size)]
