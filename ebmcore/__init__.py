"""ebmcore: composable energy-based models for PyTorch.

The public surface is re-exported here. Importing ebmcore loads no plugin: plugins are discovered on the
first call to :func:`registries` (or any CLI command).
"""

from __future__ import annotations

from typing import Any

from ebmcore._bases import (
    ComponentConfig,
    DatasetConfig,
    EnergyConfig,
    InitializerConfig,
    ObjectiveConfig,
    SamplerConfig,
)
from ebmcore._loader import PluginError, PluginHost, PluginWarning, get_plugin_host, registries, reset_plugin_host
from ebmcore._registry import (
    Component,
    ComponentRegistry,
    DuplicateComponentError,
    Provenance,
    Recipe,
    RecipeRegistry,
    Registries,
    UnknownComponentError,
)
from ebmcore.abstract import (
    NULL_LABEL,
    Batch,
    Cond,
    DataLevelEnergy,
    DensityInitializer,
    Energy,
    EnergyFn,
    Initializer,
    LatentInitializer,
    Objective,
    ObjectiveOutput,
    Parts,
    SampleResult,
    Sampler,
    StateInitializer,
    TiltedEnergy,
    energy_and_grad,
    sampling_mode,
)
from ebmcore.build import Experiment, build
from ebmcore.config import (
    ConfigError,
    EvalConfig,
    OptimizerConfig,
    RunConfig,
    TrainerConfig,
    apply_overrides,
    read_config_file,
    structure_config,
    unstructure_config,
)
from ebmcore.context import BuildContext
from ebmcore.hookspecs import hookimpl

__all__ = [
    "NULL_LABEL",
    "Batch",
    "BuildContext",
    "Component",
    "ComponentConfig",
    "ComponentRegistry",
    "Cond",
    "ConfigError",
    "DataLevelEnergy",
    "DatasetConfig",
    "DensityInitializer",
    "DuplicateComponentError",
    "Energy",
    "EnergyConfig",
    "EnergyFn",
    "EvalConfig",
    "Experiment",
    "Initializer",
    "InitializerConfig",
    "LatentInitializer",
    "Objective",
    "ObjectiveConfig",
    "ObjectiveOutput",
    "OptimizerConfig",
    "Parts",
    "PluginError",
    "PluginHost",
    "PluginWarning",
    "Provenance",
    "Recipe",
    "RecipeRegistry",
    "Registries",
    "RunConfig",
    "SampleResult",
    "Sampler",
    "SamplerConfig",
    "StateInitializer",
    "TiltedEnergy",
    "TrainerConfig",
    "UnknownComponentError",
    "__version__",
    "apply_overrides",
    "build",
    "energy_and_grad",
    "get_plugin_host",
    "hookimpl",
    "read_config_file",
    "registries",
    "reset_plugin_host",
    "sampling_mode",
    "structure_config",
    "unstructure_config",
]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("ebmcore")
        except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
            return "0+unknown"
    raise AttributeError(f"module 'ebmcore' has no attribute {name!r}")
