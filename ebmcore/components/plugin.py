"""Core's own components, registered through the same hooks as any third-party plugin."""

from __future__ import annotations

from ebmcore._registry import ComponentRegistry, RecipeRegistry
from ebmcore.components import energies, initializers, objectives, samplers
from ebmcore.components.datasets import DATASETS
from ebmcore.components.recipes import BENCH, RECIPES
from ebmcore.hookspecs import hookimpl


@hookimpl
def ebmcore_register_energies(registry: ComponentRegistry) -> None:
    registry.add(
        "mlp", energies.MLPEnergyConfig, energies.build_mlp_energy,
        summary="MLP energy, optionally time/label-conditioned, smooth activations, optional spectral norm.",
    )
    registry.add(
        "conv", energies.ConvEnergyConfig, energies.build_conv_energy,
        summary="Small convolutional energy for images.", event_shape=(1, 8, 8),
    )


@hookimpl
def ebmcore_register_samplers(registry: ComponentRegistry) -> None:
    registry.add("langevin", samplers.LangevinSamplerConfig, samplers.build_langevin,
                 summary="Unadjusted Langevin dynamics (ULA).")
    registry.add("mala", samplers.MALASamplerConfig, samplers.build_mala,
                 summary="Metropolis-adjusted Langevin with acceptance-targeted step size.")
    registry.add("hmc", samplers.HMCSamplerConfig, samplers.build_hmc,
                 summary="Hamiltonian Monte Carlo; leapfrog reuses gradients (L+1 per trajectory).")
    registry.add("grid", samplers.GridSamplerConfig, samplers.build_grid,
                 summary="Exact samples of a 2-D energy by grid normalisation (evaluation without sampler bias).")


@hookimpl
def ebmcore_register_initializers(registry: ComponentRegistry) -> None:
    registry.add("gaussian", initializers.GaussianInitializerConfig, initializers.build_gaussian_initializer,
                 summary="Independent Gaussian starting states.")
    registry.add("uniform", initializers.UniformInitializerConfig, initializers.build_uniform_initializer,
                 summary="Independent uniform starting states.")
    registry.add("data", initializers.DataInitializerConfig, initializers.build_data_initializer,
                 summary="Start from (optionally noised) training data (CD-k).")
    registry.add("replay_buffer", initializers.ReplayBufferInitializerConfig, initializers.build_replay_buffer,
                 summary="Persistent chains with re-initialisation (PCD, IGEBM replay buffer).")


@hookimpl
def ebmcore_register_objectives(registry: ComponentRegistry) -> None:
    registry.add(
        "contrastive_divergence", objectives.ContrastiveDivergenceConfig, objectives.build_contrastive_divergence,
        summary="Maximum likelihood with sampled negatives (CD/PCD), optional energy-squared penalty.",
    )
    registry.add(
        "weighted_sum", objectives.WeightedSumConfig, objectives.build_weighted_sum,
        summary="Weighted sum of objectives, group by group (compose losses in config).",
        example=objectives.WeightedSumConfig(terms=(
            objectives.WeightedTerm(objective=objectives.ContrastiveDivergenceConfig()),
            objectives.WeightedTerm(weight=0.1, objective=objectives.EnergyMagnitudePenaltyConfig()),
        )),
    )
    registry.add("energy_l2", objectives.EnergyMagnitudePenaltyConfig, objectives.build_energy_l2,
                 summary="Energy magnitude on data, E(x+)^2 (a regulariser term).")
    registry.add("gradient_penalty", objectives.GradientPenaltyConfig, objectives.build_gradient_penalty,
                 summary="Squared input-gradient norm on (noisy) data (a regulariser term).")


@hookimpl
def ebmcore_register_datasets(registry: ComponentRegistry) -> None:
    from ebmcore.components.datasets import GaussianMixtureConfig

    for name, (cfg_cls, factory, summary) in DATASETS.items():
        example = GaussianMixtureConfig(centers=((-3.0, 0.0), (3.0, 0.0)), weights=(0.2, 0.8)) if name == "gmm" else None
        registry.add(name, cfg_cls, factory, summary=summary, example=example)


@hookimpl
def ebmcore_register_recipes(registry: RecipeRegistry) -> None:
    for name, (config, summary) in RECIPES.items():
        registry.add(name, config, summary=summary, bench=BENCH.get(name))
