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
    """Base of all component configs (no fields)."""

    def as_kwargs(self) -> dict[str, Any]:
        """The fields as keyword arguments (not recursive), for factories whose module takes the same
        names: ``MyModule(ctx.event_shape, **cfg.as_kwargs(), device=ctx.device)``."""
        return attrs.asdict(self, recurse=False)


@attrs.frozen(kw_only=True)
class EnergyConfig(ComponentConfig):
    """Base of energy configs."""


@attrs.frozen(kw_only=True)
class SamplerConfig(ComponentConfig):
    """Base of sampler configs."""


@attrs.frozen(kw_only=True)
class InitializerConfig(ComponentConfig):
    """Base of initializer configs."""


@attrs.frozen(kw_only=True)
class ObjectiveConfig(ComponentConfig):
    """Base of objective configs."""


@attrs.frozen(kw_only=True)
class DatasetConfig(ComponentConfig):
    """Base of dataset configs."""
