"""ebmcore-cdrl: cooperative diffusion recovery likelihood (CDRL), and DRL as its initializer-free case.

Components (entry point ``cdrl``): energies ``cdrl_mlp`` and ``cdrl_resnet`` (noise-level-conditioned, SN,
time-gated read-out), initializer ``cdrl_initializer`` (residual, identity at start), sampler ``cdrl``
(ancestral generation with classifier-free guidance and inpainting) and objective ``cdrl``; recipes
``cdrl-8gaussians``, ``cdrl-checkerboard``, ``drl-8gaussians``, ``cdrl-digits``, ``cdrl-cifar10``. See
``docs/cdrl.md``.

References: Zhu, Xie, Wu & Gao, ICLR 2024, arXiv 2309.05153; Gao et al., ICLR 2021, arXiv 2012.08125.
"""

from __future__ import annotations

from ebmcore_cdrl.networks import CDRLEnergy, CDRLEnergyConfig, CDRLInitializer, CDRLInitializerConfig
from ebmcore_cdrl.objective import CDRLObjective, CDRLObjectiveConfig, noisy_pair
from ebmcore_cdrl.sampler import CDRLSampler, CDRLSamplerConfig, compose, guided_energy
from ebmcore_cdrl.schedule import CosineSchedule, recovery_langevin

__all__ = [
    "CDRLEnergy",
    "CDRLEnergyConfig",
    "CDRLInitializer",
    "CDRLInitializerConfig",
    "CDRLObjective",
    "CDRLObjectiveConfig",
    "CDRLSampler",
    "CDRLSamplerConfig",
    "CosineSchedule",
    "compose",
    "guided_energy",
    "noisy_pair",
    "recovery_langevin",
]
