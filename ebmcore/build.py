"""Build a run from its config: data set, energy, initializer, sampler, objective."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import torch
from torch import nn

from ebmcore._loader import registries as default_registries
from ebmcore._registry import Registries
from ebmcore.abstract import Energy, EnergyFn, Initializer, Objective, Sampler
from ebmcore.config import ConfigError, ObjectiveConfig, RunConfig, structure_config
from ebmcore.context import BuildContext
from ebmcore.data.dataset import Dataset

__all__ = ["Experiment", "build", "resolve_device", "resolve_dtype"]


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; anything else as given."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def resolve_dtype(name: str) -> torch.dtype:
    dtype = getattr(torch, name, None)
    if not isinstance(dtype, torch.dtype):
        raise ValueError(f"unknown dtype {name!r}")
    return dtype


class Experiment(nn.Module):
    """The parts of one run, as sub-modules (so one ``state_dict`` holds all weights and buffers).

    Usually made by :func:`build`. Each argument is kept as the attribute of the same name.

    Arguments:
        energy, initializer, sampler, objective: the four roles.
        dataset: the training data (not a module; kept on CPU).
        config: the structured run config (``None`` for parts assembled by hand).

    Examples:
        >>> from ebmcore import Experiment, PluginHost, build
        >>> exp = build({
        ...     "data": {"name": "8gaussians", "n_train": 256, "n_test": 0},
        ...     "energy": {"name": "mlp", "hidden": [16]},
        ...     "initializer": {"name": "gaussian"},
        ...     "sampler": {"name": "langevin", "n_steps": 5},
        ...     "objective": {"name": "contrastive_divergence"},
        ...     "device": "cpu",
        ... }, regs=PluginHost(load_entrypoints=False).registries())
        >>> isinstance(exp, Experiment), type(exp.energy).__name__, tuple(exp.dataset.x.shape)
        (True, 'MLPEnergy', (256, 2))
        >>> sorted({key.split(".")[0] for key in exp.state_dict()})  # all weights; only the energy has any here
        ['energy']
        >>> list(exp.parameter_groups()), exp.model_energy is exp.energy
        (['energy'], True)
        >>> out = exp.sampler.generate(exp.model_energy, exp.initializer, 8)
        >>> tuple(out.x.shape)
        (8, 2)
    """

    def __init__(
        self,
        *,
        energy: Energy,
        initializer: Initializer,
        sampler: Sampler,
        objective: Objective,
        dataset: Dataset,
        config: RunConfig | None = None,
    ) -> None:
        super().__init__()
        self.energy = energy
        self.initializer = initializer
        self.sampler = sampler
        self.objective = objective
        self.dataset = dataset
        self.config = config

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {k: list(v) for k, v in self.objective.parameter_groups().items()}

    @property
    def model_energy(self) -> EnergyFn:
        """The energy of the trained model: the objective's :meth:`~ebmcore.abstract.Objective.model_energy`
        when it defines one (a flow-tilted model), else :attr:`energy`."""
        custom = self.objective.model_energy()
        return self.energy if custom is None else custom


T = TypeVar("T")


def _constructed(section: str, name: str, make: Callable[[], T]) -> T:
    """Run a component factory; a factory that rejects its config (``ValueError``/``TypeError``) or cannot
    allocate what it asks for (``RuntimeError``/``MemoryError``/``OverflowError``, e.g. a size of 10^10)
    is reported as a :class:`~ebmcore.config.ConfigError` at the component's path, not as a traceback."""
    try:
        return make()
    except ConfigError:
        raise
    except (ValueError, TypeError, RuntimeError, MemoryError, OverflowError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ConfigError([f"cannot build {section} {name!r}: {type(exc).__name__}: {first} @ $.{section}"]) from exc


def build(
    config: RunConfig | Mapping[str, Any],
    *,
    regs: Registries | None = None,
    dataset: Dataset | None = None,
) -> Experiment:
    """Build an :class:`Experiment` from a :class:`RunConfig` (or a plain mapping, structured first).

    Seeds torch with ``config.seed`` before building, so initial weights and data are reproducible.
    Build order: data set, energy, initializer, sampler, objective; each factory gets the
    :class:`BuildContext` filled so far. A factory that rejects its config is reported as a
    :class:`~ebmcore.config.ConfigError` at that component's path.

    Arguments:
        config: the run config, structured or plain (as read from a file or a recipe).
        regs: the registries that resolve component names (default: the process-wide plugin host's,
            which loads the installed plugins).
        dataset: use this data set instead of building ``config.data`` (its ``event_shape`` and
            ``num_classes`` still size the components).

    Returns:
        The :class:`Experiment` holding the built parts, on ``config.device`` in ``config.dtype``.

    Examples:
        >>> import torch
        >>> from ebmcore import ConfigError, PluginHost, build
        >>> from ebmcore.data import Dataset
        >>> regs = PluginHost(load_entrypoints=False).registries()
        >>> config = {
        ...     "data": {"name": "8gaussians", "n_train": 256, "n_test": 0},
        ...     "energy": {"name": "mlp", "hidden": [16]},
        ...     "initializer": {"name": "gaussian"},
        ...     "sampler": {"name": "langevin", "n_steps": 5},
        ...     "objective": {"name": "contrastive_divergence"},
        ...     "device": "cpu",
        ...     "seed": 3,
        ... }
        >>> exp = build(config, regs=regs)
        >>> exp.config.seed, exp.energy.event_shape, next(exp.energy.parameters()).device
        (3, (2,), device(type='cpu'))
        >>> same = build(config, regs=regs)  # the seed fixes the initial weights
        >>> all(torch.equal(a, b) for a, b in zip(exp.energy.parameters(), same.energy.parameters()))
        True
        >>> own = build(config, regs=regs, dataset=Dataset(x=torch.zeros(10, 3)))  # sized by the given data
        >>> own.energy.event_shape
        (3,)
        >>> build({**config, "sampler": {"name": "langevin", "n_step": 5}}, regs=regs)
        Traceback (most recent call last):
        ...
        ebmcore.config.ConfigError: invalid config (1 problem):
          unknown key(s) ['n_step'] @ $.sampler
    """
    regs = regs or default_registries()
    cfg: RunConfig = config if isinstance(config, RunConfig) else structure_config(config, regs)
    device, dtype = resolve_device(cfg.device), resolve_dtype(cfg.dtype)
    torch.manual_seed(cfg.seed)
    if dataset is None:
        dataset = _constructed("data", regs.dataset.name_of(cfg.data),
                               lambda: regs.dataset.for_config(cfg.data).factory(cfg.data, cfg.seed))
    assert dataset is not None
    ctx = BuildContext(
        device=device,
        dtype=dtype,
        event_shape=dataset.event_shape,
        num_classes=dataset.num_classes,
        dataset=dataset,
    )

    def build_objective(ocfg: ObjectiveConfig) -> Objective:
        obj: Objective = _constructed("objective", regs.objective.name_of(ocfg),
                                      lambda: regs.objective.for_config(ocfg).factory(ocfg, ctx).to(device))
        return obj

    ctx.build_objective = build_objective
    ctx.energy = _constructed("energy", regs.energy.name_of(cfg.energy),
                              lambda: regs.energy.for_config(cfg.energy).factory(cfg.energy, ctx).to(device, dtype))
    if cfg.compile_energy:
        ctx.energy.compile()  # in place: parameter names (and checkpoints) are unchanged
    ctx.initializer = _constructed(
        "initializer", regs.initializer.name_of(cfg.initializer),
        lambda: regs.initializer.for_config(cfg.initializer).factory(cfg.initializer, ctx).to(device, dtype))
    ctx.sampler = _constructed("sampler", regs.sampler.name_of(cfg.sampler),
                               lambda: regs.sampler.for_config(cfg.sampler).factory(cfg.sampler, ctx).to(device))
    if cfg.compile_sampler:
        try:
            ctx.sampler.compile_step()
        except NotImplementedError as err:
            raise ConfigError([f"{err}; set compile_sampler=false @ $.compile_sampler"]) from None
    objective = build_objective(cfg.objective)
    return Experiment(
        energy=ctx.energy,
        initializer=ctx.initializer,
        sampler=ctx.sampler,
        objective=objective,
        dataset=dataset,
        config=cfg,
    )
