"""Hook implementations of the ebmcore-nce plugin (registration only; announced by the entry point
``[project.entry-points.ebmcore] nce = "ebmcore_nce.plugin"``)."""

from __future__ import annotations

from ebmcore import ComponentRegistry, RecipeRegistry, hookimpl
from ebmcore_nce import objective, sampler
from ebmcore_nce.recipes import RECIPES


@hookimpl
def ebmcore_register_objectives(registry: ComponentRegistry) -> None:
    registry.add(
        "nce", objective.NCEObjectiveConfig, objective.build_nce,
        summary="Noise-contrastive estimation: data vs the initializer's noise, learned log-normaliser c.",
    )


@hookimpl
def ebmcore_register_samplers(registry: ComponentRegistry) -> None:
    registry.add(
        "rwm", sampler.RWMSamplerConfig, sampler.build_rwm,
        summary="Random-walk Metropolis with Gaussian proposals (gradient-free, exact).",
    )


@hookimpl
def ebmcore_register_recipes(registry: RecipeRegistry) -> None:
    for name, (config, summary) in RECIPES.items():
        registry.add(name, config, summary=summary)
