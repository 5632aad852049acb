"""Generation and evaluation of a trained run (used by ``ebm train``, ``ebm sample`` and ``ebm eval``)."""

from __future__ import annotations

import pathlib
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from ebmcore._registry import Registries
from ebmcore.abstract import SampleResult, sampling_mode
from ebmcore.build import Experiment, build
from ebmcore.checkpoint import load_checkpoint
from ebmcore.config import apply_overrides, structure_config

__all__ = ["evaluate", "generate", "load_experiment"]


def generate(exp: Experiment, n: int, *, seed: int = 0) -> SampleResult:
    """Draw ``n`` samples (initializer, then sampler) without touching the training RNG stream.

    Seeded by ``seed`` inside :func:`torch.random.fork_rng`, so generating during training never changes
    the training trajectory. Class-conditional energies get labels ``0..K-1`` in turn.
    """
    device = next(iter(exp.state_dict().values())).device
    cond: dict[str, Tensor] = {}
    if exp.dataset.num_classes and "y" in getattr(exp.energy, "conditions", ()):
        cond["y"] = torch.arange(n, device=device) % exp.dataset.num_classes
    cuda_devices = list(range(torch.cuda.device_count())) if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda_devices):
        torch.manual_seed(seed)
        with sampling_mode(exp.energy, exp.initializer, exp.sampler):  # the sampler in eval: no adaptation
            return exp.sampler.generate(exp.model_energy, exp.initializer, n, cond or None)


def evaluate(exp: Experiment, n: int, *, seed: int = 0) -> dict[str, float]:
    """Metrics of ``n`` generated samples against the run's data set (see :mod:`ebmcore.metrics`)."""
    from ebmcore.metrics import evaluate_samples

    result = generate(exp, n, seed=seed)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad(), sampling_mode(exp.energy, exp.initializer):
        energy_fn = exp.model_energy if exp.objective.model_has_density else None
        metrics = evaluate_samples(exp.dataset, result.x.detach(), energy_fn=energy_fn, generator=generator)
    metrics["sampler/grad_evals_per_sample"] = float(result.n_grad_evals)
    metrics["sampler/energy_evals_per_sample"] = float(result.n_energy_evals)
    for k, v in result.stats.items():
        metrics[f"sampler/{k}"] = float(v.float().mean()) if isinstance(v, Tensor) else float(v)
    return metrics


def load_experiment(
    path: str | pathlib.Path,
    *,
    regs: Registries,
    use_ema: bool = True,
    device: str | None = None,
    overrides: Sequence[str] = (),
) -> tuple[Experiment, Any]:
    """Rebuild the run stored in a checkpoint, with EMA weights swapped in when present and asked for.

    ``overrides`` (``dotted.path=value``) change the stored config before building, e.g. to evaluate the
    same weights with another sampler setting (``sampler.n_steps=100``).
    """
    from ebmcore.checkpoint import check_components_installed, load_model_state

    ckpt = load_checkpoint(path)
    run = apply_overrides(ckpt.config["run"], overrides)
    if device is not None:
        run["device"] = device
    check_components_installed(ckpt, run, regs)
    cfg = structure_config(run, regs)
    exp = build(cfg, regs=regs)
    target = next(iter(exp.state_dict().values())).device
    state = dict(ckpt.model_state)
    if use_ema and ckpt.ema_state:
        state.update(ckpt.ema_state)
    load_model_state(exp, {k: v.to(target) for k, v in state.items()}, ckpt)
    return exp, ckpt
