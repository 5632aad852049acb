"""Crash-and-resume runs for tests of exact resumption (issue 9): one helper, used by core's, the plugins'
and the multi-process resume tests."""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from typing import Any

from ebmcore._registry import Registries
from ebmcore.build import build
from ebmcore.config import structure_config
from ebmcore.trainer import Trainer

__all__ = ["crash_and_resume"]


def crash_and_resume(
    config: dict[str, Any],
    root: str | pathlib.Path,
    *,
    regs: Registries,
    crash_at: int,
    after_crash: Callable[[], None] | None = None,
) -> tuple[Trainer, Trainer]:
    """Train ``config`` uninterrupted, then again with a crash at step ``crash_at``, and resume the second.

    The crashed run raises inside its objective at step ``crash_at`` (before any update of that step), so
    only its checkpoints on disk survive; the resumed trainer is rebuilt from the latest of them with
    :meth:`Trainer.resume`, exactly as ``ebm train --resume`` would.

    Arguments:
        config: an unstructured run config; set ``trainer.checkpoint_every`` below ``crash_at``.
        root: directory for the two runs (``full/`` and ``part/``).
        regs: registries to build with.
        crash_at: the step whose objective call raises.
        after_crash: called between the crash and the resume (a multi-process run's barrier).

    Returns:
        ``(full, resumed)``: the uninterrupted trainer, trained to the end, and the resumed trainer, not yet
        trained further (its ``step`` is the checkpoint it resumed from). Call ``resumed.fit()`` and compare
        states.

    Examples:
        >>> import tempfile, torch
        >>> from ebmcore import PluginHost
        >>> from ebmcore.testing.resume import crash_and_resume
        >>> regs = PluginHost(load_entrypoints=False).registries()
        >>> cfg = {"data": {"name": "8gaussians", "n_train": 256, "n_test": 32},
        ...        "energy": {"name": "mlp", "hidden": [16]}, "initializer": {"name": "gaussian"},
        ...        "sampler": {"name": "langevin", "n_steps": 2}, "objective": {"name": "contrastive_divergence"},
        ...        "trainer": {"steps": 8, "batch_size": 16, "checkpoint_every": 4}, "device": "cpu"}
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     full, resumed = crash_and_resume(cfg, tmp, regs=regs, crash_at=6)
        ...     start = resumed.step
        ...     _ = resumed.fit()
        >>> start, all(torch.equal(a, b) for a, b in zip(full.exp.state_dict().values(),
        ...                                             resumed.exp.state_dict().values()))
        (4, True)
    """
    root = pathlib.Path(root)
    full = Trainer(build(structure_config(config, regs), regs=regs), root / "full", regs=regs, progress=False)
    full.fit()
    part = Trainer(build(structure_config(config, regs), regs=regs), root / "part", regs=regs, progress=False)
    forward = part.exp.objective.forward

    def crash(batch: Any, step: int) -> Any:
        if step == crash_at:
            raise RuntimeError("simulated crash")
        return forward(batch, step)

    part.exp.objective.forward = crash  # type: ignore[method-assign]
    try:
        part.fit()
    except RuntimeError as exc:
        if str(exc) != "simulated crash":
            raise
    else:
        raise AssertionError(f"the run finished without reaching step {crash_at}")
    del part
    if after_crash is not None:
        after_crash()
    return full, Trainer.resume(root / "part", regs=regs, progress=False)
