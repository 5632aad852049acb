"""The training loop: one optimizer per trainable group, no special case per method.

Each step: draw a data batch, call the objective, back-propagate each group's loss into that group's
parameters only, check everything is finite, clip, step, update EMAs. The objective decides which
groups get a loss at a step (alternating schemes skip groups); the trainer steps only those.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import pathlib
import random
import statistics
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import attrs
import torch
from torch import Tensor, nn

from ebmcore import distributed
from ebmcore._registry import Registries
from ebmcore.abstract import Batch
from ebmcore.build import Experiment, build, resolve_device
from ebmcore.checkpoint import (
    Checkpoint,
    check_components_installed,
    component_provenance,
    load_checkpoint,
    load_model_state,
    load_rank_state,
    save_checkpoint,
    save_rank_state,
    step_dir,
)
from ebmcore.config import OptimizerConfig, apply_overrides, RunConfig, structure_config, unstructure_config
from ebmcore.ema import EMA

__all__ = ["Trainer", "TrainingDiverged", "make_optimizer", "make_schedule"]

log = logging.getLogger("ebmcore.trainer")


class TrainingDiverged(RuntimeError):
    """A loss, metric or gradient became NaN/inf; names the step, the quantity and the last good checkpoint.

    Arguments:
        step: the step at which the non-finite value appeared (for a refused update, the step it would have
            completed).
        quantity: what was non-finite, e.g. ``"loss[energy]"``, ``"grad_norm[energy]"`` or ``"weights"``.
        value: the offending value (``nan`` or ``inf``).
        checkpoint: the last good checkpoint, or ``None`` when none was written.

    Examples:
        >>> import pathlib
        >>> from ebmcore.trainer import TrainingDiverged
        >>> err = TrainingDiverged(7, "loss[energy]", float("nan"), pathlib.Path("run/checkpoints/step-0000004"))
        >>> err.step, err.quantity, err.checkpoint.name, isinstance(err, RuntimeError)
        (7, 'loss[energy]', 'step-0000004', True)
        >>> print(err)
        training diverged at step 7: loss[energy] = nan; last good checkpoint: run/checkpoints/step-0000004. The update was not applied. ...
    """

    def __init__(self, step: int, quantity: str, value: float, checkpoint: pathlib.Path | None) -> None:
        self.step, self.quantity, self.value, self.checkpoint = step, quantity, value, checkpoint
        where = f"; last good checkpoint: {checkpoint}" if checkpoint else "; no checkpoint was written"
        super().__init__(
            f"training diverged at step {step}: {quantity} = {value}{where}. The update was not applied. "
            "Try a smaller learning rate or step size, gradient clipping, or a stronger energy regulariser."
        )


def make_optimizer(cfg: OptimizerConfig, params: list[nn.Parameter]) -> torch.optim.Optimizer:
    """The torch optimizer an :class:`~ebmcore.OptimizerConfig` describes, over one group's parameters.

    ``adam`` and ``adamw`` use ``lr``, ``betas``, ``weight_decay``; ``sgd`` uses ``lr``, ``momentum``,
    ``weight_decay``. The schedule is applied by the trainer (see :func:`make_schedule`).

    Arguments:
        cfg: the group's optimizer config.
        params: the group's parameters.

    Returns:
        A ``torch.optim.Adam``, ``AdamW`` or ``SGD``.

    Examples:
        >>> import torch
        >>> from ebmcore import OptimizerConfig
        >>> from ebmcore.trainer import make_optimizer
        >>> net = torch.nn.Linear(2, 1)
        >>> opt = make_optimizer(OptimizerConfig(name="sgd", lr=0.1, momentum=0.9), list(net.parameters()))
        >>> type(opt).__name__, opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"]
        ('SGD', 0.1, 0.9)
        >>> type(make_optimizer(OptimizerConfig(name="adamw", weight_decay=0.01), list(net.parameters()))).__name__
        'AdamW'
    """
    if cfg.name == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    if cfg.name == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def make_schedule(cfg: OptimizerConfig, total_steps: int) -> Callable[[int], float]:
    """Learning-rate multiplier for the update made at global step ``step`` (0-based).

    Linear warm-up over ``warmup_steps`` updates, then ``constant``, or ``cosine``/``linear`` decay that
    reaches ``min_lr_ratio`` at the last step (``total_steps - 1``). The clock is the trainer's global
    step, so a group stepped only on some steps (alternating schemes) follows the same schedule.

    Arguments:
        cfg: the group's optimizer config (``warmup_steps``, ``schedule``, ``min_lr_ratio``, ``step_at``).
        total_steps: the run's number of steps (``trainer.steps``).

    Returns:
        ``factor(step) -> float``, the multiplier of ``cfg.lr`` at 0-based ``step``.

    Examples:
        >>> from ebmcore import OptimizerConfig
        >>> from ebmcore.trainer import make_schedule
        >>> factor = make_schedule(OptimizerConfig(warmup_steps=2, schedule="cosine", min_lr_ratio=0.1), 10)
        >>> [round(factor(step), 3) for step in range(10)]
        [0.5, 1.0, 1.0, 0.955, 0.831, 0.65, 0.45, 0.269, 0.145, 0.1]
    """

    def factor(step: int) -> float:
        if cfg.warmup_steps and step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        if cfg.schedule == "constant":
            return 1.0
        if cfg.schedule == "step":
            return 1.0 if step < cfg.step_at * total_steps else cfg.min_lr_ratio
        span = max(1, total_steps - 1 - cfg.warmup_steps)
        progress = min(1.0, (step - cfg.warmup_steps) / span)
        shape = 0.5 * (1 + math.cos(math.pi * progress)) if cfg.schedule == "cosine" else 1 - progress
        return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * shape

    return factor


@attrs.define
class _Group:
    name: str
    params: list[nn.Parameter]
    cfg: OptimizerConfig
    optimizer: torch.optim.Optimizer
    lr_factor: Callable[[int], float]
    ema: EMA | None

    def set_lr(self, step: int, scale: float = 1.0) -> None:
        lr = self.cfg.lr * self.lr_factor(step) * scale
        for pg in self.optimizer.param_groups:
            pg["lr"] = lr


def _rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: Mapping[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(_tuplify(state["python"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


_GET_TOTAL_NORM = getattr(torch.nn.utils, "get_total_norm", None)  # torch >= 2.6


def _total_norm(grads: list[Tensor]) -> Tensor:
    """The 2-norm of all ``grads`` together (``torch.nn.utils.get_total_norm`` where it exists)."""
    if _GET_TOTAL_NORM is not None:
        return _GET_TOTAL_NORM(grads)
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))


def _rank_rng(seed: int, rank: int) -> dict[str, Any]:
    """A fresh RNG state for a rank that a (single-process) checkpoint holds nothing for."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(distributed.rank_seed(seed, rank))
        return _rng_state()


def _tuplify(x: Any) -> Any:
    return tuple(_tuplify(i) for i in x) if isinstance(x, (list, tuple)) else x


class Trainer:
    """Trains an :class:`~ebmcore.build.Experiment`, writing metrics, pictures and checkpoints to ``run_dir``.

    Arguments:
        experiment: the built run.
        run_dir: output directory (``metrics.jsonl``, ``samples-*.png``, ``checkpoints/``).
        regs: registries used to serialise the config into checkpoints.
        progress: show a tqdm bar (``None``: only on a terminal).

    Raises:
        ValueError: the experiment was not built from a run config, or the trainable groups do not fit
            ``trainer.groups``.

    Examples:
        A 2-step run of a tiny config, then resumed from its checkpoint for one more step:

        >>> import tempfile
        >>> from ebmcore import PluginHost, build
        >>> from ebmcore.trainer import Trainer
        >>> regs = PluginHost(load_entrypoints=False).registries()
        >>> config = {"data": {"name": "8gaussians", "n_train": 256}, "energy": {"name": "mlp", "hidden": [16]},
        ...           "initializer": {"name": "gaussian"}, "sampler": {"name": "langevin", "n_steps": 2},
        ...           "objective": {"name": "contrastive_divergence"},
        ...           "trainer": {"steps": 2, "batch_size": 32}, "device": "cpu"}
        >>> with tempfile.TemporaryDirectory() as run_dir:
        ...     trainer = Trainer(build(config, regs=regs), run_dir, regs=regs, progress=False)
        ...     last = trainer.fit()
        ...     print(trainer.step, trainer.last_checkpoint.name, sorted(p.name for p in trainer.run_dir.iterdir()))
        ...     resumed = Trainer.resume(run_dir, regs=regs, overrides=["trainer.steps=3"], progress=False)
        ...     print(resumed.step, end=" -> ")
        ...     _ = resumed.fit()
        ...     print(resumed.step)
        2 step-0000002 ['checkpoints', 'metrics.jsonl']
        2 -> 3
        >>> sorted(k for k in last if k.startswith(("loss/", "lr/")))
        ['loss/energy', 'lr/energy']
    """

    def __init__(
        self,
        experiment: Experiment,
        run_dir: str | pathlib.Path,
        *,
        regs: Registries,
        progress: bool | None = None,
    ) -> None:
        if experiment.config is None:
            raise ValueError("Trainer needs an experiment built from a RunConfig")
        self.exp = experiment
        self.cfg: RunConfig = experiment.config
        self.regs = regs
        self.run_dir = pathlib.Path(run_dir)
        self.progress = progress
        self.step = 0
        self.last_checkpoint: pathlib.Path | None = None
        self.lr_scale = 1.0  # lowered by each divergence rollback; saved in checkpoints
        self.rollbacks = 0
        self._gap_history: list[float] = []  # |energy gap| at each log step (telemetry only)
        self._gap_warned = 0.0
        self.device = resolve_device(self.cfg.device)
        names = {id(p): n for n, p in experiment.named_parameters(remove_duplicate=False)}
        self.groups: dict[str, _Group] = {}
        groups = experiment.parameter_groups()
        if not groups:
            raise ValueError("the objective declares no trainable group")
        for gname, params in groups.items():
            if not params:
                raise ValueError(f"trainable group {gname!r} has no parameters")
            ocfg = self.cfg.trainer.optimizer_for(gname)
            opt = make_optimizer(ocfg, params)
            sched = make_schedule(ocfg, self.cfg.trainer.steps)
            ema = EMA({names[id(p)]: p for p in params}, ocfg.ema) if ocfg.ema else None
            self.groups[gname] = _Group(gname, params, ocfg, opt, sched, ema)
        distributed.init_from_env(self.device)  # under torchrun: join the group on the run's device
        self.rank, self.world_size = distributed.world()
        if self.world_size > 1:  # identical weights everywhere; every other random draw is rank-local
            distributed.broadcast_parameters(self.exp)
            torch.manual_seed(distributed.rank_seed(self.cfg.seed, self.rank))
        unknown = set(self.cfg.trainer.groups) - set(self.groups)
        if unknown:
            raise ValueError(
                f"trainer.groups names unknown group(s) {sorted(unknown)}; this objective trains {sorted(self.groups)}"
            )

    # --- public API ---------------------------------------------------------------------------------
    @classmethod
    def resume(
        cls, path: str | pathlib.Path, *, regs: Registries, overrides: Sequence[str] = (), **kw: Any
    ) -> Trainer:
        """Rebuild a run from a checkpoint and restore every state, so training continues the same trajectory.

        ``overrides`` (``dotted.path=value``) change the stored config, e.g. ``trainer.steps=4000``.
        """
        ckpt = load_checkpoint(path)
        run = apply_overrides(ckpt.config["run"], overrides)
        check_components_installed(ckpt, run, regs)
        cfg = structure_config(run, regs)
        exp = build(cfg, regs=regs)
        run_dir = kw.pop("run_dir", ckpt.path.parent.parent)
        trainer = cls(exp, run_dir, regs=regs, **kw)
        trainer.load_state(ckpt)
        return trainer

    def load_state(self, ckpt: Checkpoint) -> None:
        own = load_rank_state(ckpt.path, self.rank) if self.rank > 0 else None
        if own is not None:  # this rank's chains, buffers and RNG
            model_state, rng = own
        elif self.rank > 0:  # a single-process checkpoint: rank 0's state, this rank's own seed
            model_state, rng = ckpt.model_state, _rank_rng(self.cfg.seed, self.rank)
        else:
            model_state, rng = ckpt.model_state, ckpt.trainer_state["rng"]
        load_model_state(self.exp, {k: v.to(self.device) for k, v in model_state.items()}, ckpt)
        state = ckpt.trainer_state
        for gname, group in self.groups.items():
            gstate = state["groups"].get(gname)
            if gstate is None:
                raise KeyError(f"checkpoint has no state for trainable group {gname!r}")
            group.optimizer.load_state_dict(gstate["optimizer"])
            if group.ema is not None:
                if ckpt.ema_state is None:
                    raise KeyError("checkpoint has no EMA weights but the config asks for EMA")
                group.ema.load_state_dict({k: v.to(self.device) for k, v in ckpt.ema_state.items() if k in group.ema.shadow})
        self.step = int(state["step"])
        self.lr_scale = float(state.get("lr_scale", 1.0))
        self.rollbacks = int(state.get("rollbacks", 0))
        _set_rng_state(rng)
        self.last_checkpoint = ckpt.path

    def ema_state(self) -> dict[str, Tensor]:
        out: dict[str, Tensor] = {}
        for g in self.groups.values():
            if g.ema is not None:
                out.update(g.ema.state_dict())
        return out

    @contextlib.contextmanager
    def ema_applied(self) -> Iterator[None]:
        """Use EMA weights (where groups keep them) for the duration of the block."""
        with contextlib.ExitStack() as stack:
            for g in self.groups.values():
                if g.ema is not None:
                    stack.enter_context(g.ema.applied())
            yield

    def save(self) -> pathlib.Path:
        """Write a checkpoint of the current state; refuses (raises :class:`TrainingDiverged`) when any
        weight or floating buffer is non-finite, so a checkpoint on disk is always finite."""
        model_state = self.exp.state_dict()
        floats = [t for t in model_state.values() if t.is_floating_point()]
        finite = not floats or bool(torch.stack([torch.isfinite(t).all() for t in floats]).all())
        if not distributed.all_ranks_true(finite, self.device):
            raise TrainingDiverged(self.step, "weights", float("nan"), self.last_checkpoint)
        state = {
            "step": self.step,
            "groups": {
                g.name: {"optimizer": g.optimizer.state_dict()}
                for g in self.groups.values()
            },
            "rng": _rng_state(),
            "lr_scale": self.lr_scale,
            "rollbacks": self.rollbacks,
        }
        target = step_dir(self.run_dir / "checkpoints", self.step)
        if self.rank > 0:  # each other rank's own chains, buffers and RNG, before 'latest' moves
            save_rank_state(target, self.rank, model_state, state["rng"])
        distributed.barrier()
        if self.rank == 0:
            save_checkpoint(
                self.run_dir / "checkpoints",
                step=self.step,
                model_state=model_state,
                ema_state=self.ema_state() or None,
                config=self.checkpoint_config(),
                trainer_state=state,
            )
        distributed.barrier()
        self.last_checkpoint = target
        return self.last_checkpoint

    def checkpoint_config(self) -> dict[str, Any]:
        from ebmcore._loader import get_plugin_host

        plugins = {
            r.name: r.provenance.version for r in get_plugin_host().records.values() if r.status == "loaded"
        }
        run = unstructure_config(self.cfg, self.regs)
        return {
            "run": run,
            "versions": {"torch": torch.__version__, "plugins": plugins},
            "components": component_provenance(run, self.regs),
        }

    def fit(self, until: int | None = None) -> dict[str, float]:
        """Train until step ``until`` (default: ``trainer.steps``); returns the last logged metrics.

        Raises :class:`TrainingDiverged` on a non-finite loss, metric or gradient, after saving the last
        good state as a checkpoint (the offending update is never applied).
        """
        from ebmcore.plotting import save_sample_plot

        tcfg = self.cfg.trainer
        stop = min(until if until is not None else tcfg.steps, tcfg.steps)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        metrics_path = self.run_dir / "metrics.jsonl"
        dtype = next(iter(self.groups.values())).params[0].dtype
        last: dict[str, float] = {}
        t0 = time.perf_counter()
        bar = _progress(self.step, stop, self.progress)
        if tcfg.on_divergence == "rollback" and self.last_checkpoint is None:
            self.save()  # a known-good state to roll back to
        with open(metrics_path if self.rank == 0 else os.devnull, "a") as log_file:  # rank 0 writes the log
            while self.step < stop:
                try:
                    out, grad_norms = self._train_step(dtype, stop)
                except TrainingDiverged as exc:
                    if tcfg.on_divergence != "rollback" or self.rollbacks >= tcfg.max_rollbacks or exc.checkpoint is None:
                        raise
                    self._roll_back(exc, log_file)
                    continue
                self.step += 1
                if bar is not None:
                    bar.update(1)
                if self.step % tcfg.log_every == 0 or self.step == stop:
                    last = self._log(log_file, out.losses, out.metrics, grad_norms, time.perf_counter() - t0)
                    if bar is not None:
                        bar.set_postfix({_short(k): f"{v:.3g}" for k, v in last.items() if _on_bar(k)})
                if tcfg.plot_every and self.step % tcfg.plot_every == 0:
                    if self.rank == 0:
                        save_sample_plot(self, self.run_dir / f"samples-{self.step:07d}.png")
                if tcfg.checkpoint_every and self.step % tcfg.checkpoint_every == 0:
                    self.save()
        if bar is not None:
            bar.close()
        if self.last_checkpoint is None or self.last_checkpoint.name != f"step-{self.step:07d}":
            self.save()
        return last

    # --- internals ----------------------------------------------------------------------------------
    def _train_step(self, dtype: torch.dtype, stop: int) -> tuple[Any, dict[str, Tensor]]:
        """One optimisation step (without advancing ``self.step``); raises :class:`TrainingDiverged` before
        any update is applied when a checked quantity is non-finite."""
        tcfg = self.cfg.trainer
        x, y = self.exp.dataset.random_batch(tcfg.batch_size, self.device)
        batch = Batch(x.to(dtype), y)
        with self._autocast():
            out = self.exp.objective(batch, self.step)
        if not out.losses:
            raise ValueError(f"objective returned no loss at step {self.step}")
        grad_norms = self._backward(out.losses)
        nxt = self.step + 1
        if nxt % tcfg.check_finite_every == 0 or nxt == stop or (
            tcfg.checkpoint_every and nxt % tcfg.checkpoint_every == 0
        ):  # a checkpointed step is always checked
            self._check_finite(out.losses, out.metrics, grad_norms)
        for gname in out.losses:
            group = self.groups[gname]
            group.set_lr(self.step, self.lr_scale)
            group.optimizer.step()
            if group.ema is not None:
                group.ema.update()
        return out, grad_norms

    def _roll_back(self, exc: TrainingDiverged, log_file: Any) -> None:
        """Reload the last good checkpoint (weights, optimizers, EMA, step, RNG) and lower the learning rate."""
        assert exc.checkpoint is not None
        tcfg = self.cfg.trainer
        scale, count = self.lr_scale * tcfg.rollback_lr_factor, self.rollbacks + 1
        self.load_state(load_checkpoint(exc.checkpoint))
        self.lr_scale, self.rollbacks = scale, count
        event = {"step": self.step, "event": "rollback", "diverged_at": exc.step, "quantity": exc.quantity,
                 "value": exc.value if math.isfinite(exc.value) else str(exc.value), "lr_scale": scale,
                 "rollback": count}
        log_file.write(json.dumps(event) + "\n")
        log_file.flush()
        log.warning(
            "training diverged at step %d (%s = %s); rolled back to step %d and scaled the learning rate by %g "
            "(rollback %d of %d)", exc.step, exc.quantity, exc.value, self.step, scale, count, tcfg.max_rollbacks)

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.cfg.trainer.autocast and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _backward(self, losses: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Back-propagate each group's loss into that group's parameters only; return grad norms."""
        unknown = set(losses) - set(self.groups)
        if unknown:
            raise KeyError(f"objective returned loss(es) for unknown group(s) {sorted(unknown)}; groups: {sorted(self.groups)}")
        names = list(losses)
        for gname in names:
            for p in self.groups[gname].params:
                p.grad = None
        trainable = {g: [p for p in self.groups[g].params if p.requires_grad] for g in names}
        for i, gname in enumerate(names):
            torch.autograd.backward(losses[gname], inputs=trainable[gname], retain_graph=i < len(names) - 1)
        if self.world_size > 1:  # the mean gradient over ranks, whatever path reached the weights (groups share
            distributed.average_gradients([p for g in names for p in trainable[g]])  # no parameter: one call)
        norms = {}
        for gname in names:
            group = self.groups[gname]
            params = [p for p in group.params if p.grad is not None]
            if not params:
                continue
            if group.cfg.grad_clip is None:  # the norm only: clipping at inf would rescale every gradient by 1
                norms[gname] = _total_norm([p.grad for p in params])
            else:
                norms[gname] = torch.nn.utils.clip_grad_norm_(params, group.cfg.grad_clip)
        return norms

    def _check_finite(
        self, losses: Mapping[str, Tensor], metrics: Mapping[str, Tensor], grad_norms: Mapping[str, Tensor]
    ) -> None:
        named = (
            [(f"loss[{k}]", v) for k, v in losses.items()]
            + [(f"metric[{k}]", v) for k, v in metrics.items()]
            + [(f"grad_norm[{k}]", v) for k, v in grad_norms.items()]
        )
        finite = torch.stack([torch.isfinite(v.detach()).all().to(self.device) for _, v in named])
        ok = bool(finite.all())  # one host sync per check
        if distributed.all_ranks_true(ok, self.device):  # one rank's NaN stops (or rolls back) every rank
            return
        if ok:  # another rank diverged: report it from here too
            quantity, value = "another rank", math.nan
        else:
            bad = int((~finite).nonzero()[0, 0])
            quantity, tensor = named[bad][0], named[bad][1].detach().float().flatten()
            value = float(tensor[~torch.isfinite(tensor)][0])
        for g in self.groups.values():  # drop the bad gradients; the update is not applied
            for p in g.params:
                p.grad = None
        # No checkpoint is written now: the failed step already touched component state (replay buffers,
        # adapted step sizes, RNG), so the last periodic checkpoint is the last known-good state.
        raise TrainingDiverged(self.step + 1, quantity, value, self.last_checkpoint)

    def _log(
        self,
        log_file: Any,
        losses: Mapping[str, Tensor],
        metrics: Mapping[str, Tensor],
        grad_norms: Mapping[str, Tensor],
        elapsed: float,
    ) -> dict[str, float]:
        row: dict[str, float] = {}
        for k, v in losses.items():
            row[f"loss/{k}"] = float(v.detach())
        for k, v in grad_norms.items():
            row[f"grad_norm/{k}"] = float(v)
        for g in self.groups.values():
            row[f"lr/{g.name}"] = g.optimizer.param_groups[0]["lr"]
        for k, v in metrics.items():
            row[k] = float(v.detach().float().mean()) if isinstance(v, Tensor) else float(v)
        self._health(row)
        log_file.write(json.dumps({"step": self.step, "wall_time": round(elapsed, 4), **row}) + "\n")
        log_file.flush()
        return row

    def _health(self, row: dict[str, float]) -> None:
        """Training-health telemetry: ``health/gap`` = mean E(data) - mean E(negatives) whenever the objective
        reports ``energy/pos`` and ``energy/neg``, and a warning when its size explodes (more than
        ``GAP_EXPLOSION`` times the median of the earlier logged sizes, and at least 1)."""
        if "energy/pos" not in row or "energy/neg" not in row:
            return
        gap = row["energy/pos"] - row["energy/neg"]
        row["health/gap"] = gap
        history = self._gap_history
        if len(history) >= 3:
            ref = max(1.0, statistics.median_high(history))
            if abs(gap) > GAP_EXPLOSION * ref and abs(gap) > self._gap_warned * GAP_EXPLOSION:
                self._gap_warned = abs(gap)
                row["health/gap_exploded"] = 1.0
                log.warning(
                    "energy gap E(data) - E(negatives) = %.3g at step %d, %.0fx its typical size %.3g: the negatives "
                    "no longer reach the data's energy level. Usual causes: sampler steps too few or too small for "
                    "the current energy, a learning rate that is too high, or no energy regulariser (alpha). "
                    "Training may diverge next.", gap, self.step, abs(gap) / ref, ref)
        history.append(abs(gap))


#: the energy-gap warning fires when |gap| exceeds this many times its median over the earlier log steps
GAP_EXPLOSION = 10.0


def _on_bar(key: str) -> bool:
    """The progress bar shows losses, the energy gap, sampler acceptance and gradient norms."""
    return key.startswith(("loss/", "grad_norm/")) or key == "health/gap" or key.endswith(("acceptance_rate", "acceptance"))


def _short(key: str) -> str:
    return {"health/gap": "gap"}.get(key, key.replace("grad_norm/", "|g|/").replace("sampler/", ""))


def _progress(start: int, stop: int, enabled: bool | None) -> Any:
    if enabled is False:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=stop, initial=start, disable=None if enabled is None else not enabled, desc="train", unit="step")
