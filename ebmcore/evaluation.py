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

__all__ = ["evaluate", "generate", "load_experiment", "score_samples"]


def generate(exp: Experiment, n: int, *, seed: int = 0) -> SampleResult:
    """Draw ``n`` samples (initializer, then sampler) without touching the training RNG stream.

    Seeded by ``seed`` inside :func:`torch.random.fork_rng`, so generating during training never changes
    the training trajectory. Class-conditional energies get labels ``0..K-1`` in turn.

    Arguments:
        exp: the built run.
        n: number of samples.
        seed: seed of the draw.

    Returns:
        The sampler's :class:`~ebmcore.SampleResult`: ``x`` ``(n, *event_shape)``, evaluation counts, stats.

    Examples:
        >>> import torch
        >>> from ebmcore import PluginHost, build
        >>> from ebmcore.evaluation import generate
        >>> regs = PluginHost(load_entrypoints=False).registries()
        >>> exp = build({"data": {"name": "8gaussians", "n_train": 256}, "energy": {"name": "mlp", "hidden": [16]},
        ...              "initializer": {"name": "gaussian"}, "sampler": {"name": "langevin", "n_steps": 2},
        ...              "objective": {"name": "contrastive_divergence"}, "device": "cpu"}, regs=regs)
        >>> rng = torch.get_rng_state()
        >>> result = generate(exp, 8, seed=1)
        >>> tuple(result.x.shape), result.n_grad_evals
        ((8, 2), 2)
        >>> torch.equal(generate(exp, 8, seed=1).x, result.x), torch.equal(torch.get_rng_state(), rng)
        (True, True)
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


def score_samples(exp: Experiment, samples: Tensor, *, seed: int = 0) -> dict[str, float]:
    """Metrics of ``samples`` against the run's data set, with the model's energy where it has a density.

    :func:`~ebmcore.metrics.evaluate_samples` on ``samples``, given ``exp.model_energy`` for the grid
    metrics (2-D) when the objective gives the model a density, in sampling mode.

    Arguments:
        exp: the built run.
        samples: ``(n, *event_shape)`` samples (e.g. from :func:`generate`).
        seed: seed of the metrics' subsampling.

    Returns:
        ``{metric name: float}``.

    Examples:
        >>> import torch
        >>> from ebmcore import PluginHost, build
        >>> from ebmcore.evaluation import score_samples
        >>> regs = PluginHost(load_entrypoints=False).registries()
        >>> exp = build({"data": {"name": "8gaussians", "n_train": 256, "n_test": 256},
        ...              "energy": {"name": "mlp", "hidden": [16]}, "initializer": {"name": "gaussian"},
        ...              "sampler": {"name": "langevin", "n_steps": 2},
        ...              "objective": {"name": "contrastive_divergence"}, "device": "cpu"}, regs=regs)
        >>> m = score_samples(exp, exp.dataset.test)  # held-out data scored as if generated
        >>> m["modes_covered"], m["mmd2"] < 0.01, "nll_grid" in m
        (8.0, True, True)
    """
    from ebmcore.metrics import evaluate_samples

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad(), sampling_mode(exp.energy, exp.initializer):
        energy_fn = exp.model_energy if exp.objective.model_has_density else None
        return evaluate_samples(exp.dataset, samples.detach(), energy_fn=energy_fn, generator=generator)


def evaluate(exp: Experiment, n: int, *, seed: int = 0) -> dict[str, float]:
    """Metrics of ``n`` generated samples against the run's data set (see :mod:`ebmcore.metrics`).

    The samples come from :func:`generate`; :func:`~ebmcore.metrics.evaluate_samples` scores them (with the
    model's energy for the grid metrics when the objective gives it a density). The sampler's costs and
    statistics are added as ``sampler/...``.

    Arguments:
        exp: the built run.
        n: number of samples.
        seed: seed of the draw and of the metrics' subsampling.

    Returns:
        ``{metric name: float}``.

    Examples:
        >>> from ebmcore import PluginHost, build
        >>> from ebmcore.evaluation import evaluate
        >>> regs = PluginHost(load_entrypoints=False).registries()
        >>> exp = build({"data": {"name": "8gaussians", "n_train": 256}, "energy": {"name": "mlp", "hidden": [16]},
        ...              "initializer": {"name": "gaussian"}, "sampler": {"name": "langevin", "n_steps": 2},
        ...              "objective": {"name": "contrastive_divergence"}, "device": "cpu"}, regs=regs)
        >>> metrics = evaluate(exp, 64)
        >>> {"mmd2", "modes_covered", "nll_grid", "sampler/grad_evals_per_sample"} <= set(metrics)
        True
        >>> metrics["n_evaluated"], metrics["sampler/grad_evals_per_sample"]
        (64.0, 2.0)
    """
    result = generate(exp, n, seed=seed)
    metrics = score_samples(exp, result.x, seed=seed)
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

    Arguments:
        path: a run, ``checkpoints`` or ``step-*`` directory.
        regs: the registries to build with.
        use_ema: load the EMA weights where the checkpoint has them.
        device: build on this device instead of the stored one.
        overrides: ``dotted.path=value`` changes of the stored config.

    Returns:
        ``(experiment, checkpoint)``: the rebuilt :class:`~ebmcore.Experiment` with the weights loaded, and
        the :class:`~ebmcore.checkpoint.Checkpoint`.

    Raises:
        CheckpointError: no checkpoint, a component whose plugin is not installed, or weights that do not
            fit the built components.

    Examples:
        >>> import tempfile, torch
        >>> from ebmcore import PluginHost, build
        >>> from ebmcore.evaluation import load_experiment
        >>> from ebmcore.trainer import Trainer
        >>> regs = PluginHost(load_entrypoints=False).registries()
        >>> config = {"data": {"name": "8gaussians", "n_train": 256}, "energy": {"name": "mlp", "hidden": [16]},
        ...           "initializer": {"name": "gaussian"}, "sampler": {"name": "langevin", "n_steps": 2},
        ...           "objective": {"name": "contrastive_divergence"},
        ...           "trainer": {"steps": 2, "batch_size": 32}, "device": "cpu"}
        >>> with tempfile.TemporaryDirectory() as run_dir:
        ...     trainer = Trainer(build(config, regs=regs), run_dir, regs=regs, progress=False)
        ...     _ = trainer.fit()
        ...     exp, ckpt = load_experiment(run_dir, regs=regs, overrides=["sampler.n_steps=5"])
        >>> ckpt.step, exp.sampler.n_steps
        (2, 5)
        >>> trained = trainer.exp.state_dict()
        >>> all(torch.equal(v, trained[k]) for k, v in exp.state_dict().items())
        True
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
