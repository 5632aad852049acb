"""Hook implementations of the GEBM plugin (registration only)."""

from __future__ import annotations

from ebmcore import ComponentRegistry, RecipeRegistry, hookimpl
from ebmcore_gebm import bases, energies, objective, sampler
from ebmcore_gebm.recipes import BENCH, RECIPES


@hookimpl
def ebmcore_register_energies(registry: ComponentRegistry) -> None:
    registry.add(
        "gebm_mlp", energies.GEBMMLPEnergyConfig, energies.build_gebm_mlp,
        summary="GEBM critic MLP: spectral norm on hidden layers, leaky ReLU 0.1, output truncated at -10.",
    )
    registry.add(
        "gebm_conv", energies.GEBMConvEnergyConfig, energies.build_gebm_conv,
        summary="GEBM SNGAN-ConvNet-style critic for images, spectral norm, truncated output.",
        example=energies.GEBMConvEnergyConfig(channels=(8, 16)),
        event_shape=(1, 8, 8),
    )


@hookimpl
def ebmcore_register_initializers(registry: ComponentRegistry) -> None:
    registry.add(
        "gebm_mlp_generator", bases.MLPGeneratorConfig, bases.build_mlp_generator,
        summary="GEBM base: MLP generator x = G(z), z ~ N(0, I) (BatchNorm + ReLU); a LatentInitializer.",
    )
    registry.add(
        "gebm_conv_generator", bases.ConvGeneratorConfig, bases.build_conv_generator,
        summary="GEBM base: DCGAN/SNGAN-ConvNet generator for images; a LatentInitializer.",
        example=bases.ConvGeneratorConfig(latent_dim=8, channels=(16, 8)),
        event_shape=(1, 8, 8),
    )


@hookimpl
def ebmcore_register_objectives(registry: ComponentRegistry) -> None:
    registry.add(
        "gebm", objective.GEBMObjectiveConfig, objective.build_gebm,
        summary="KALE: energy + learned log-normaliser (Newton step) vs base (log-mean-exp), n_critic alternation.",
    )


@hookimpl
def ebmcore_register_samplers(registry: ComponentRegistry) -> None:
    registry.add(
        "gebm_latent", sampler.LatentLangevinSamplerConfig, sampler.build_latent_langevin,
        summary="GEBM latent MCMC on |z|^2/2 + beta E(G(z)): ULA or kinetic Langevin; SIR; base-only.",
    )


@hookimpl
def ebmcore_register_recipes(registry: RecipeRegistry) -> None:
    for name, (config, summary) in RECIPES.items():
        registry.add(name, config, summary=summary, bench=BENCH.get(name))
