"""Hook implementations of the CDRL plugin (registration only)."""

from __future__ import annotations

from ebmcore import ComponentRegistry, RecipeRegistry, hookimpl
from ebmcore_cdrl import networks, objective, sampler
from ebmcore_cdrl.recipes import BENCH, RECIPES


@hookimpl
def ebmcore_register_energies(registry: ComponentRegistry) -> None:
    registry.add("cdrl_mlp", networks.CDRLEnergyConfig, networks.build_cdrl_mlp,
                 summary="CDRL noise-level-conditioned MLP energy: SN residual blocks, time-gated read-out.")
    registry.add("cdrl_resnet", networks.CDRLResNetEnergyConfig, networks.build_cdrl_resnet,
                 summary="CDRL noise-level-conditioned ResNet energy for images.",
                 example=networks.CDRLResNetEnergyConfig(width=8, n_blocks=1), event_shape=(1, 8, 8))


@hookimpl
def ebmcore_register_initializers(registry: ComponentRegistry) -> None:
    registry.add("cdrl_initializer", networks.CDRLInitializerConfig, networks.build_cdrl_initializer,
                 summary="CDRL per-level initializer x + net(x, t), zero-initialised (identity at start).")


@hookimpl
def ebmcore_register_samplers(registry: ComponentRegistry) -> None:
    registry.add("cdrl", sampler.CDRLSamplerConfig, sampler.build_cdrl_sampler,
                 summary="CDRL/DRL generation: initializer then K recovery Langevin steps per level; CFG, inpainting.",
                 example=sampler.CDRLSamplerConfig(n_levels=2, n_steps=2))


@hookimpl
def ebmcore_register_objectives(registry: ComponentRegistry) -> None:
    registry.add("cdrl", objective.CDRLObjectiveConfig, objective.build_cdrl_objective,
                 summary="Recovery likelihood across levels + cooperative initializer loss (groups energy, initializer).",
                 example=objective.CDRLObjectiveConfig(n_levels=2, n_steps=2))


@hookimpl
def ebmcore_register_recipes(registry: RecipeRegistry) -> None:
    for name, (config, summary) in RECIPES.items():
        registry.add(name, config, summary=summary, bench=BENCH.get(name))
