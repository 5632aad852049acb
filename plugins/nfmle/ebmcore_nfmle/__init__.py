"""ebmcore-nfmle: NF-assisted maximum-likelihood training of energy-based models.

Components (registered through the ``ebmcore`` entry point ``nfmle``): initializers ``realnvp`` (this
plugin's coupling flow) and ``zuko_flow`` (optional extra), sampler ``flow_mcmc`` (IMH / i-SIR with a
density proposal interleaved with MALA, persistent chains) and objective ``nfmle`` (ML gradient with those
negatives + the flow's loss, groups ``energy`` and ``flow``); recipes ``nfmle-2modes``, ``nfmle-4modes``,
``nfmle-8gaussians``, ``nfmle-digits`` and the PCD / short-run baselines ``nfmle-{2,4}modes-{pcd,shortrun}``.
See ``docs/nfmle.md``.

Reference: Grenioux, Moulines & Gabrié, "Balanced training of energy-based models with adaptive flow
sampling", arXiv 2306.00684 (ICML 2023 SPIGM workshop).
"""

from __future__ import annotations

from ebmcore_nfmle.flows import RealNVPFlow, RealNVPFlowConfig, ZukoFlow, ZukoFlowConfig
from ebmcore_nfmle.objective import NFMLEObjective, NFMLEObjectiveConfig, TiltedEnergy
from ebmcore_nfmle.sampler import FlowMCMCSampler, FlowMCMCSamplerConfig, imh_step, isir_step

__all__ = [
    "FlowMCMCSampler",
    "FlowMCMCSamplerConfig",
    "NFMLEObjective",
    "NFMLEObjectiveConfig",
    "RealNVPFlow",
    "RealNVPFlowConfig",
    "TiltedEnergy",
    "ZukoFlow",
    "ZukoFlowConfig",
    "imh_step",
    "isir_step",
]
