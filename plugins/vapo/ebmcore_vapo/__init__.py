"""ebmcore-vapo: Variational Potential Flow (VAPO) for ebmcore.

Components (registered through the ``ebmcore`` entry point ``vapo``): energies ``vapo_mlp`` and
``vapo_unet`` (scalar potentials Φθ(x, t) with an energy read-out), objective ``vapo`` and sampler
``vapo_ode``; recipes ``vapo-8gaussians``, ``vapo-moons``, ``vapo-checkerboard``, ``vapo-digits``,
``vapo-cifar10``. See ``docs/vapo.md``.

References: Loo et al., arXiv 2407.15238 and arXiv 2504.16262; code github.com/ljun0004/VAPO.
"""

from __future__ import annotations

from ebmcore_vapo.energies import (
    HasPotential,
    VAPOMLPEnergy,
    VAPOMLPEnergyConfig,
    VAPOUNetEnergy,
    VAPOUNetEnergyConfig,
    potential_of,
    velocity_of,
)
from ebmcore_vapo.objective import VAPOObjective, VAPOObjectiveConfig
from ebmcore_vapo.paths import CosinePath, LinearPath, PathSchedule, get_path
from ebmcore_vapo.sampler import VAPOODESampler, VAPOODESamplerConfig, slerp

__all__ = [
    "CosinePath",
    "HasPotential",
    "LinearPath",
    "PathSchedule",
    "VAPOMLPEnergy",
    "VAPOMLPEnergyConfig",
    "VAPOODESampler",
    "VAPOODESamplerConfig",
    "VAPOObjective",
    "VAPOObjectiveConfig",
    "VAPOUNetEnergy",
    "VAPOUNetEnergyConfig",
    "get_path",
    "potential_of",
    "slerp",
    "velocity_of",
]
