"""Hook specifications: how a plugin adds components to ebmcore.

Every hook receives a registry and adds named components to it. Each plugin's implementation is called
on its own (see :mod:`ebmcore._loader`), so each component records which plugin provided it, and a plugin
that raises is skipped and reported while the others still register. Hooks are called once per registry
build, never inside a training or sampling loop. Hook wrappers are not supported on these hooks.

A plugin module looks like::

    from ebmcore import hookimpl

    @hookimpl
    def ebmcore_register_samplers(registry):
        registry.add("my_sampler", MySamplerConfig, build_my_sampler, summary="One line.")

and is announced in its ``pyproject.toml``::

    [project.entry-points.ebmcore]
    mymethod = "ebmcore_mymethod.plugin"
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from ebmcore._registry import ComponentRegistry, RecipeRegistry

__all__ = [
    "PROJECT_NAME",
    "ebmcore_register_datasets",
    "ebmcore_register_energies",
    "ebmcore_register_initializers",
    "ebmcore_register_objectives",
    "ebmcore_register_recipes",
    "ebmcore_register_samplers",
    "hookimpl",
    "hookspec",
]

PROJECT_NAME = "ebmcore"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def ebmcore_register_energies(registry: ComponentRegistry) -> None:
    """Add energies: ``registry.add(name, ConfigClass, factory, summary=...)``.

    The factory is ``factory(cfg, ctx: BuildContext) -> ebmcore.Energy``.

    Arguments:
        registry: the energy ``ComponentRegistry`` (a view stamped with the plugin's provenance); config
            classes derive from ``ebmcore.EnergyConfig``.

    Examples:
        >>> import attrs, torch
        >>> from ebmcore import BuildContext, Energy, EnergyConfig, PluginHost, hookimpl
        >>> @attrs.frozen(kw_only=True)
        ... class QuadraticConfig(EnergyConfig):
        ...     scale: float = 1.0
        >>> class Quadratic(Energy):
        ...     def __init__(self, event_shape, scale):
        ...         super().__init__()
        ...         self.event_shape, self.scale = event_shape, scale
        ...     def forward(self, x, **cond):
        ...         return 0.5 * self.scale * x.flatten(1).pow(2).sum(dim=1)
        >>> class MyPlugin:
        ...     @hookimpl
        ...     def ebmcore_register_energies(self, registry):
        ...         registry.add("quadratic", QuadraticConfig,
        ...                      lambda cfg, ctx: Quadratic(ctx.event_shape, cfg.scale), summary="E = s |x|^2 / 2.")
        >>> host = PluginHost(load_entrypoints=False)
        >>> _ = host.register(MyPlugin(), name="myplugin")
        >>> comp = host.registries().energy.get("quadratic")
        >>> comp.provenance.plugin
        'myplugin'
        >>> energy = comp.factory(QuadraticConfig(scale=2.0), BuildContext.for_shape((2,)))
        >>> energy(torch.ones(3, 2))
        tensor([2., 2., 2.])
    """


@hookspec
def ebmcore_register_samplers(registry: ComponentRegistry) -> None:
    """Add samplers; factory ``(cfg, ctx) -> ebmcore.Sampler``.

    Arguments:
        registry: the sampler ``ComponentRegistry`` (a view stamped with the plugin's provenance); config
            classes derive from ``ebmcore.SamplerConfig``.

    Examples:
        >>> import attrs, torch
        >>> from ebmcore import BuildContext, PluginHost, SamplerConfig, hookimpl
        >>> from ebmcore.components.samplers import LangevinSampler
        >>> @attrs.frozen(kw_only=True)
        ... class ColdLangevinConfig(SamplerConfig):
        ...     n_steps: int = 5
        >>> class MyPlugin:
        ...     @hookimpl
        ...     def ebmcore_register_samplers(self, registry):
        ...         registry.add("cold_langevin", ColdLangevinConfig,
        ...                      lambda cfg, ctx: LangevinSampler(n_steps=cfg.n_steps, noise_scale=0.0),
        ...                      summary="Noise-free Langevin.")
        >>> host = PluginHost(load_entrypoints=False)
        >>> _ = host.register(MyPlugin(), name="myplugin")
        >>> comp = host.registries().sampler.get("cold_langevin")
        >>> sampler = comp.factory(ColdLangevinConfig(n_steps=3), BuildContext.for_shape((2,)))
        >>> out = sampler.sample(lambda x: 0.5 * x.pow(2).sum(dim=1), torch.ones(4, 2))
        >>> tuple(out.x.shape), out.n_grad_evals, bool((out.x < 1).all())  # moved towards the minimum
        ((4, 2), 3, True)
    """


@hookspec
def ebmcore_register_objectives(registry: ComponentRegistry) -> None:
    """Add objectives; factory ``(cfg, ctx) -> ebmcore.Objective``.

    The factory finds the parts built before it in ``ctx`` (``ctx.energy``, ``ctx.sampler``,
    ``ctx.initializer``).

    Arguments:
        registry: the objective ``ComponentRegistry`` (a view stamped with the plugin's provenance); config
            classes derive from ``ebmcore.ObjectiveConfig``.

    Examples:
        >>> import attrs, torch
        >>> from ebmcore import (Batch, BuildContext, Objective, ObjectiveConfig, ObjectiveOutput, Parts,
        ...                      PluginHost, hookimpl)
        >>> @attrs.frozen(kw_only=True)
        ... class MeanEnergyConfig(ObjectiveConfig):
        ...     weight: float = 1.0
        >>> class MeanEnergy(Objective):
        ...     def __init__(self, energy, weight):
        ...         super().__init__()
        ...         self.parts, self.weight = Parts(energy), weight
        ...     def forward(self, batch, step):
        ...         return ObjectiveOutput({"energy": self.weight * self.parts.energy(batch.x).mean()})
        ...     def parameter_groups(self):
        ...         return {"energy": list(self.parts.energy.parameters())}
        >>> class MyPlugin:
        ...     @hookimpl
        ...     def ebmcore_register_objectives(self, registry):
        ...         registry.add("mean_energy", MeanEnergyConfig,
        ...                      lambda cfg, ctx: MeanEnergy(ctx.energy, cfg.weight), summary="Mean data energy.")
        >>> host = PluginHost(load_entrypoints=False)
        >>> _ = host.register(MyPlugin(), name="myplugin")
        >>> comp = host.registries().objective.get("mean_energy")
        >>> energy = torch.nn.Sequential(torch.nn.Linear(2, 1), torch.nn.Flatten(0))  # (B, 2) -> (B,)
        >>> objective = comp.factory(MeanEnergyConfig(), BuildContext.for_shape((2,), energy=energy))
        >>> out = objective(Batch(torch.zeros(8, 2)), step=0)
        >>> sorted(out.losses), out.losses["energy"].shape
        (['energy'], torch.Size([]))
    """


@hookspec
def ebmcore_register_initializers(registry: ComponentRegistry) -> None:
    """Add initializers; factory ``(cfg, ctx) -> ebmcore.Initializer``.

    Arguments:
        registry: the initializer ``ComponentRegistry`` (a view stamped with the plugin's provenance);
            config classes derive from ``ebmcore.InitializerConfig``.

    Examples:
        >>> import attrs, torch
        >>> from ebmcore import BuildContext, Initializer, InitializerConfig, PluginHost, hookimpl
        >>> @attrs.frozen(kw_only=True)
        ... class ConstantConfig(InitializerConfig):
        ...     value: float = 0.0
        >>> class Constant(Initializer):
        ...     def __init__(self, event_shape, value, dtype):
        ...         super().__init__()
        ...         self.event_shape, self.value, self.dtype = event_shape, value, dtype
        ...     def init(self, n, cond=None):
        ...         return torch.full((n, *self.event_shape), self.value, dtype=self.dtype)
        >>> class MyPlugin:
        ...     @hookimpl
        ...     def ebmcore_register_initializers(self, registry):
        ...         registry.add("constant", ConstantConfig,
        ...                      lambda cfg, ctx: Constant(ctx.event_shape, cfg.value, ctx.dtype), summary="x0 = c.")
        >>> host = PluginHost(load_entrypoints=False)
        >>> _ = host.register(MyPlugin(), name="myplugin")
        >>> comp = host.registries().initializer.get("constant")
        >>> init = comp.factory(ConstantConfig(value=0.5), BuildContext.for_shape((1, 2, 2)))
        >>> x0 = init.init(3)
        >>> tuple(x0.shape), x0.unique().tolist()
        ((3, 1, 2, 2), [0.5])
    """


@hookspec
def ebmcore_register_datasets(registry: ComponentRegistry) -> None:
    """Add data sets; factory ``(cfg, seed: int) -> ebmcore.data.Dataset``.

    Arguments:
        registry: the data-set ``ComponentRegistry`` (a view stamped with the plugin's provenance); config
            classes derive from ``ebmcore.DatasetConfig``.

    Examples:
        >>> import attrs, torch
        >>> from ebmcore import DatasetConfig, PluginHost, hookimpl
        >>> from ebmcore.data import Dataset
        >>> @attrs.frozen(kw_only=True)
        ... class LineConfig(DatasetConfig):
        ...     n_train: int = 100
        >>> def make_line(cfg, seed):
        ...     t = torch.rand(cfg.n_train, 1, generator=torch.Generator().manual_seed(seed))
        ...     return Dataset(x=torch.cat([t, 2 * t], dim=1), name="line")
        >>> class MyPlugin:
        ...     @hookimpl
        ...     def ebmcore_register_datasets(self, registry):
        ...         registry.add("line", LineConfig, make_line, summary="Points on y = 2x.")
        >>> host = PluginHost(load_entrypoints=False)
        >>> _ = host.register(MyPlugin(), name="myplugin")
        >>> comp = host.registries().dataset.get("line")
        >>> data = comp.factory(LineConfig(n_train=10), 0)
        >>> tuple(data.x.shape), data.event_shape, torch.equal(data.x, comp.factory(LineConfig(n_train=10), 0).x)
        ((10, 2), (2,), True)
    """


@hookspec
def ebmcore_register_recipes(registry: RecipeRegistry) -> None:
    """Add recipes: named, ready-to-run run configs, ``registry.add(name, config_dict, summary=...)``.

    Arguments:
        registry: the ``RecipeRegistry`` (a view stamped with the plugin's provenance).

    Examples:
        >>> from ebmcore import PluginHost, hookimpl, structure_config
        >>> class MyPlugin:
        ...     @hookimpl
        ...     def ebmcore_register_recipes(self, registry):
        ...         registry.add("cd-moons", {
        ...             "data": {"name": "moons"},
        ...             "energy": {"name": "mlp", "hidden": [16]},
        ...             "initializer": {"name": "gaussian"},
        ...             "sampler": {"name": "langevin", "n_steps": 10},
        ...             "objective": {"name": "contrastive_divergence"},
        ...         }, summary="CD on two moons.")
        >>> host = PluginHost(load_entrypoints=False)
        >>> _ = host.register(MyPlugin(), name="myplugin")
        >>> regs = host.registries()
        >>> recipe = regs.recipe.get("cd-moons")
        >>> recipe.summary, recipe.provenance.plugin
        ('CD on two moons.', 'myplugin')
        >>> structure_config(recipe.config, regs).sampler.n_steps  # a recipe is a valid run config
        10
    """
