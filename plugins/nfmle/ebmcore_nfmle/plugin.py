"""Hook implementations of the NF-MLE plugin (registration only)."""

from __future__ import annotations

from ebmcore import ComponentRegistry, RecipeRegistry, hookimpl
from ebmcore_nfmle import flows, objective, sampler
from ebmcore_nfmle.recipes import BENCH, RECIPES


@hookimpl
def ebmcore_register_initializers(registry: ComponentRegistry) -> None:
    registry.add(
        "realnvp", flows.RealNVPFlowConfig, flows.build_realnvp,
        summary="RealNVP flow (affine coupling, bounded log-scales, identity init): log_prob + rsample with log q.",
    )
    registry.add(
        "zuko_flow", flows.ZukoFlowConfig, flows.build_zuko_flow,
        summary="A zuko flow (NSF/RealNVP/MAF) behind the same density interface; needs ebmcore-nfmle[zuko].",
    )


@hookimpl
def ebmcore_register_samplers(registry: ComponentRegistry) -> None:
    registry.add(
        "flow_mcmc", sampler.FlowMCMCSamplerConfig, sampler.build_flow_mcmc,
        summary="Flow-assisted MCMC: IMH or i-SIR with a density proposal + MALA/ULA, persistent chains.",
    )


@hookimpl
def ebmcore_register_objectives(registry: ComponentRegistry) -> None:
    registry.add(
        "nfmle", objective.NFMLEObjectiveConfig, objective.build_nfmle,
        summary="ML gradient with flow-assisted negatives + the flow's fwd/rev KL loss (groups energy, flow).",
    )


@hookimpl
def ebmcore_register_recipes(registry: RecipeRegistry) -> None:
    for name, (config, summary) in RECIPES.items():
        registry.add(name, config, summary=summary, bench=BENCH.get(name))
