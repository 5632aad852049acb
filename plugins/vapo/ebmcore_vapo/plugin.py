"""Hook implementations of the VAPO plugin (registration only)."""

from __future__ import annotations

from ebmcore import ComponentRegistry, RecipeRegistry, hookimpl
from ebmcore_vapo import energies, objective, sampler
from ebmcore_vapo.recipes import BENCH, RECIPES


@hookimpl
def ebmcore_register_energies(registry: ComponentRegistry) -> None:
    registry.add(
        "vapo_mlp", energies.VAPOMLPEnergyConfig, energies.build_vapo_mlp,
        summary="VAPO MLP potential Phi(x,t) (Fourier time features); forward = energy read-out at t (0.9).",
    )
    registry.add(
        "vapo_unet", energies.VAPOUNetEnergyConfig, energies.build_vapo_unet,
        summary="VAPO autoencoder potential 1/2||x - U(x,t)||^2 with a small UNet; energy read-out.",
        event_shape=(1, 8, 8),
    )


@hookimpl
def ebmcore_register_objectives(registry: ComponentRegistry) -> None:
    registry.add(
        "vapo", objective.VAPOObjectiveConfig, objective.build_vapo_objective,
        summary="VAPO energy loss (Deep Ritz / gradient-field flow matching), grad or phi form.",
    )


@hookimpl
def ebmcore_register_samplers(registry: ComponentRegistry) -> None:
    registry.add(
        "vapo_ode", sampler.VAPOODESamplerConfig, sampler.build_vapo_ode,
        summary="VAPO potential-flow ODE from N(0,I) (torchdiffeq dopri5/rk4/euler), exact NFE count.",
    )


@hookimpl
def ebmcore_register_recipes(registry: RecipeRegistry) -> None:
    for name, (config, summary) in RECIPES.items():
        registry.add(name, config, summary=summary, bench=BENCH.get(name))
