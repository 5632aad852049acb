"""Hook implementations of the DCD plugin (registration only)."""

from __future__ import annotations

from ebmcore import ComponentRegistry, RecipeRegistry, hookimpl
from ebmcore_dcd import celeba, objective, sampler
from ebmcore_dcd.recipes import BENCH, RECIPES


@hookimpl
def ebmcore_register_objectives(registry: ComponentRegistry) -> None:
    registry.add(
        "dcd", objective.DCDObjectiveConfig, objective.build_dcd,
        summary="Diffusion contrastive divergence: VE/VP kernel, posterior Langevin / SNIS / expansion; time mode.",
    )


@hookimpl
def ebmcore_register_samplers(registry: ComponentRegistry) -> None:
    registry.add(
        "recovery", sampler.RecoverySamplerConfig, sampler.build_recovery,
        summary="Ancestral recovery sampling through VP levels for any energy accepting 't'.",
        example=sampler.RecoverySamplerConfig(n_levels=2, n_steps=2),
    )


@hookimpl
def ebmcore_register_datasets(registry: ComponentRegistry) -> None:
    registry.add("celeba32", celeba.CelebA32Config, celeba.load_celeba32,
                 summary="CelebA 32x32 from local aligned JPEGs (center crop 140, no download).")


@hookimpl
def ebmcore_register_recipes(registry: RecipeRegistry) -> None:
    for name, (config, summary) in RECIPES.items():
        registry.add(name, config, summary=summary, bench=BENCH.get(name))
