"""ebmcore-gebm: Generalized Energy-Based Models (GEBM) trained with KALE.

Components (registered through the ``ebmcore`` entry point ``gebm``): energies ``gebm_mlp`` and
``gebm_conv`` (smooth, truncated critics), initializers ``gebm_mlp_generator`` and ``gebm_conv_generator``
(the base G(z)), objective ``gebm`` (groups ``energy`` with the log-normaliser A, and ``base``) and sampler
``gebm_latent`` (latent ULA / kinetic Langevin, SIR, base only); recipes ``gebm-8gaussians``,
``gebm-digits``, ``gebm-cifar10``. A flow base (any density initializer) gives a GEBM with a density. See
``docs/gebm.md``.

Reference: Arbel, Zhou & Gretton, "Generalized Energy Based Models", ICLR 2021, arXiv 2003.05033.
"""

from __future__ import annotations

from ebmcore_gebm.bases import ConvGenerator, ConvGeneratorConfig, MLPGenerator, MLPGeneratorConfig
from ebmcore_gebm.energies import GEBMConvEnergy, GEBMConvEnergyConfig, GEBMMLPEnergy, GEBMMLPEnergyConfig
from ebmcore_gebm.objective import GEBMObjective, GEBMObjectiveConfig, base_sample, gebm_log_likelihood, soft_clip_grad
from ebmcore_gebm.sampler import LatentLangevinSampler, LatentLangevinSamplerConfig, kinetic_langevin

__all__ = [
    "ConvGenerator",
    "ConvGeneratorConfig",
    "GEBMConvEnergy",
    "GEBMConvEnergyConfig",
    "GEBMMLPEnergy",
    "GEBMMLPEnergyConfig",
    "GEBMObjective",
    "GEBMObjectiveConfig",
    "LatentLangevinSampler",
    "LatentLangevinSamplerConfig",
    "MLPGenerator",
    "MLPGeneratorConfig",
    "base_sample",
    "gebm_log_likelihood",
    "kinetic_langevin",
    "soft_clip_grad",
]
