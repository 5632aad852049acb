"""ebmcore-dcd: diffusion contrastive divergence (DCD) for energy-based models.

Components (registered through the ``ebmcore`` entry point ``dcd``): objective ``dcd`` (VE/VP kernels;
estimators ``langevin``, ``snis``, ``expansion``; a time-dependent mode), sampler ``recovery`` (ancestral
recovery sampling for noise-conditioned energies), data set ``celeba32`` (local files); recipes
``dcd-8gaussians``, ``dcd-8gaussians-langevin``, ``dcd-8gaussians-cd`` (CD baseline), ``dcd-digits``,
``dcd-digits-denoise``, ``dcd-celeba32``. Denoising: :func:`denoise`, :func:`psnr`. See ``docs/dcd.md``.

Reference: Luo et al., "Training energy-based models with diffusion contrastive divergences",
arXiv 2307.01668 (full text unavailable to us; the method is reconstructed in the project's notes).
"""

from __future__ import annotations

from ebmcore_dcd.denoise import denoise, psnr
from ebmcore_dcd.diffusion import VPSchedule, diffuse, posterior_langevin, tethered
from ebmcore_dcd.objective import DCDObjective, DCDObjectiveConfig
from ebmcore_dcd.sampler import RecoverySampler, RecoverySamplerConfig

__all__ = [
    "DCDObjective",
    "DCDObjectiveConfig",
    "RecoverySampler",
    "RecoverySamplerConfig",
    "VPSchedule",
    "denoise",
    "diffuse",
    "posterior_langevin",
    "psnr",
    "tethered",
]
