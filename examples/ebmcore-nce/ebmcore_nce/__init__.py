"""ebmcore-nce: an example third-party plugin for ebmcore.

Components (registered through the ``ebmcore`` entry point ``nce``): objective ``nce``
(:class:`NCEObjective`, noise-contrastive estimation with a learned log-normaliser) and sampler ``rwm``
(:class:`RWMSampler`, random-walk Metropolis); recipe ``nce-8gaussians``. The walk-through is
``docs/write-a-plugin.md`` of the ebmcore repository.

References:
    Gutmann & Hyvärinen, "Noise-contrastive estimation: A new estimation principle for unnormalized
    statistical models", AISTATS 2010.
    Metropolis, Rosenbluth, Rosenbluth, Teller & Teller, "Equation of state calculations by fast computing
    machines", Journal of Chemical Physics 1953.
"""

from __future__ import annotations

from ebmcore_nce.objective import NCEObjective, NCEObjectiveConfig, build_nce, nce_loss
from ebmcore_nce.sampler import RWMSampler, RWMSamplerConfig, build_rwm

__all__ = [
    "NCEObjective",
    "NCEObjectiveConfig",
    "RWMSampler",
    "RWMSamplerConfig",
    "build_nce",
    "build_rwm",
    "nce_loss",
]
