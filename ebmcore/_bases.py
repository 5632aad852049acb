"""Marker base classes for component configs.

Every component's config is a frozen attrs class deriving from one of these. The ``name`` that selects
a component in a config file lives in the registry, not on the class, so a plugin cannot typo it or
collide by accident.
"""

from __future__ import annotations

from typing import Any

import attrs

__all__ = [
    "ComponentConfig",
    "DatasetConfig",
    "EnergyConfig",
    "InitializerConfig",
    "ObjectiveConfig",
    "SamplerConfig",
]


@attrs.frozen(kw_only=True)
class ComponentConfig:
    """Base of all component configs (no fields).

    A component's config is a frozen, keyword-only attrs class deriving from the marker base of its role
    (``EnergyConfig``, ``SamplerConfig``, ...), which derives from this class. Its fields are the
    keys a config file may set next to ``name``; ``name`` itself is given at registration.

    Examples:
        >>> import attrs
        >>> from ebmcore import ComponentConfig, EnergyConfig
        >>> @attrs.frozen(kw_only=True)
        ... class ToyEnergyConfig(EnergyConfig):
        ...     width: int = 16
        ...     scale: float = 1.0
        >>> cfg = ToyEnergyConfig(width=8)
        >>> isinstance(cfg, ComponentConfig)
        True
        >>> cfg.as_kwargs()
        {'width': 8, 'scale': 1.0}
    """

    def as_kwargs(self) -> dict[str, Any]:
        """The fields as keyword arguments (not recursive), for factories whose module takes the same
        names: ``MyModule(ctx.event_shape, **cfg.as_kwargs(), device=ctx.device)``."""
        return attrs.asdict(self, recurse=False)


@attrs.frozen(kw_only=True)
class EnergyConfig(ComponentConfig):
    """Base of energy configs.

    An energy's config must derive from this class: the energy registry rejects any other config class.

    Examples:
        >>> import attrs
        >>> from ebmcore import ComponentRegistry, EnergyConfig, SamplerConfig
        >>> @attrs.frozen(kw_only=True)
        ... class ToyEnergyConfig(EnergyConfig):
        ...     scale: float = 1.0
        >>> @attrs.frozen(kw_only=True)
        ... class ToySamplerConfig(SamplerConfig):
        ...     n_steps: int = 5
        >>> registry = ComponentRegistry("energy")
        >>> registry.add("toy", ToyEnergyConfig, lambda cfg, ctx: None)
        >>> registry.names()
        ['toy']
        >>> try:
        ...     registry.add("wrong", ToySamplerConfig, lambda cfg, ctx: None)
        ... except TypeError as err:
        ...     print(err)
        energy 'wrong' from <python>: config class must be an attrs class deriving from ebmcore.EnergyConfig, got ...
    """


@attrs.frozen(kw_only=True)
class SamplerConfig(ComponentConfig):
    """Base of sampler configs.

    Examples:
        >>> from ebmcore import PluginHost, SamplerConfig
        >>> from ebmcore.components.samplers import LangevinSamplerConfig
        >>> issubclass(LangevinSamplerConfig, SamplerConfig)
        True
        >>> regs = PluginHost(load_entrypoints=False).registries()
        >>> all(issubclass(c.config_cls, SamplerConfig) for c in regs.sampler)
        True
        >>> regs.sampler.for_config(LangevinSamplerConfig(n_steps=5)).name
        'langevin'
    """


@attrs.frozen(kw_only=True)
class InitializerConfig(ComponentConfig):
    """Base of initializer configs.

    Examples:
        >>> from ebmcore import InitializerConfig, PluginHost
        >>> from ebmcore.components.initializers import GaussianInitializerConfig
        >>> issubclass(GaussianInitializerConfig, InitializerConfig)
        True
        >>> regs = PluginHost(load_entrypoints=False).registries()
        >>> regs.initializer.name_of(GaussianInitializerConfig(std=2.0))
        'gaussian'
    """


@attrs.frozen(kw_only=True)
class ObjectiveConfig(ComponentConfig):
    """Base of objective configs.

    Examples:
        >>> from ebmcore import ObjectiveConfig, PluginHost
        >>> from ebmcore.components.objectives import ContrastiveDivergenceConfig
        >>> issubclass(ContrastiveDivergenceConfig, ObjectiveConfig)
        True
        >>> regs = PluginHost(load_entrypoints=False).registries()
        >>> regs.objective.name_of(ContrastiveDivergenceConfig(alpha=0.1))
        'contrastive_divergence'
    """


@attrs.frozen(kw_only=True)
class DatasetConfig(ComponentConfig):
    """Base of dataset configs.

    A data set's factory is ``factory(cfg, seed) -> ebmcore.data.Dataset`` (no build context).

    Examples:
        >>> from ebmcore import DatasetConfig, PluginHost
        >>> regs = PluginHost(load_entrypoints=False).registries()
        >>> comp = regs.dataset.get("8gaussians")
        >>> issubclass(comp.config_cls, DatasetConfig)
        True
        >>> data = comp.factory(comp.config_cls(n_train=100, n_test=0), 0)
        >>> tuple(data.x.shape), data.kind
        ((100, 2), 'points')
    """
