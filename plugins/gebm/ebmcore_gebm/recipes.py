"""GEBM recipes (``ebm recipes``, ``ebm train NAME``).

Toy and digits settings follow the GEBM method notes (7.2, 7.4): base MLP generator with BatchNorm + ReLU
(latent 2 on the toy, 16 with a tanh output on digits), critic MLP with spectral norm, leaky ReLU 0.1 and
truncation at -10, squared-norm gradient penalty 0.1, Adam 1e-4 (betas 0.5/0.999) for both groups, batch
256, 5 critic steps per base step with 100-step bursts before base iterations 0, 1 and every 500th.
Trainer steps count both kinds: 2,000 base iterations are 12,475 steps. Evaluation samples with latent ULA
(γ = 1e-3, 300 steps) at inverse temperature 10 on the toy (the notes' acceptance setting) and 1 on digits
(where β = 10 costs diversity and DigitsFID; docs/results.md); base-only, SIR, other temperatures and
kinetic Langevin are overrides away (``sampler.kernel=none|sir|kla``, ``sampler.temperature=...``).

The CIFAR-10 recipe mirrors the official configuration (SNGAN ConvNet generator and critic, latent 100,
λ_gp = 1, Adam 1e-4, batch 128, 150k base iterations, ULA γ = 1e-4 for 1000 steps with ×0.1 every 200,
β = 100); it needs the data in ``data/cifar-10-batches-py`` and a GPU. Measured results: ``docs/results.md``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BENCH", "RECIPES", "trainer_steps"]


def trainer_steps(base_iterations: int, *, n_critic: int = 5, burst_steps: int = 100, initial_bursts: int = 2,
                  burst_every: int = 500) -> int:
    """Trainer steps (energy + base) that make ``base_iterations`` base iterations of the GEBM schedule."""
    from ebmcore_gebm.objective import critic_steps_before

    return sum(critic_steps_before(g, n_critic=n_critic, burst_steps=burst_steps, initial_bursts=initial_bursts,
                                   burst_every=burst_every) + 1 for g in range(base_iterations))


_OPT = {"name": "adam", "lr": 1e-4, "betas": [0.5, 0.999]}

_GEBM_8GAUSSIANS: dict[str, Any] = {
    "data": {"name": "8gaussians", "radius": 2.0, "std": 0.15},
    "energy": {"name": "gebm_mlp", "hidden": [128, 128, 128]},
    "initializer": {"name": "gebm_mlp_generator", "latent_dim": 2, "hidden": [128, 128]},
    "sampler": {"name": "gebm_latent", "kernel": "ula", "n_steps": 300, "step_size": 1e-3, "temperature": 10.0},
    "objective": {"name": "gebm", "gp_weight": 0.1},
    "trainer": {"steps": trainer_steps(2000), "batch_size": 256, "optimizer": _OPT, "log_every": 200,
                "checkpoint_every": 4000},
    "eval": {"n_samples": 2000},
    "seed": 0,
}

_GEBM_DIGITS: dict[str, Any] = {
    "data": {"name": "digits"},
    "energy": {"name": "gebm_mlp", "hidden": [256, 256, 256]},
    "initializer": {"name": "gebm_mlp_generator", "latent_dim": 16, "hidden": [256, 256], "output": "tanh"},
    "sampler": {"name": "gebm_latent", "kernel": "ula", "n_steps": 300, "step_size": 1e-3, "temperature": 1.0},
    "objective": {"name": "gebm", "gp_weight": 0.1},
    "trainer": {"steps": trainer_steps(2000), "batch_size": 256, "optimizer": _OPT, "log_every": 200,
                "checkpoint_every": 4000},
    "eval": {"n_samples": 1000},
    "seed": 0,
}

_GEBM_CIFAR10: dict[str, Any] = {
    "data": {"name": "cifar10", "root": "data"},
    "energy": {"name": "gebm_conv", "channels": [64, 128, 256]},
    "initializer": {"name": "gebm_conv_generator", "latent_dim": 100, "channels": [512, 256, 128, 64]},
    "sampler": {"name": "gebm_latent", "kernel": "ula", "n_steps": 1000, "step_size": 1e-4, "temperature": 100.0,
                "decay": 0.1, "decay_every": 200},
    "objective": {"name": "gebm", "gp_weight": 1.0},
    "trainer": {"steps": trainer_steps(150_000), "batch_size": 128, "optimizer": _OPT, "log_every": 500,
                "plot_every": 20000, "plot_samples": 64, "checkpoint_every": 20000},
    "eval": {"n_samples": 5000},
    "device": "auto",
    "seed": 0,
}

#: name -> (config, one-line summary)
RECIPES: dict[str, tuple[dict[str, Any], str]] = {
    "gebm-8gaussians": (_GEBM_8GAUSSIANS, "GEBM on 8 Gaussians (radius 2, std 0.15): MLP base + SN critic, latent ULA at beta 10."),
    "gebm-digits": (_GEBM_DIGITS, "GEBM on 8x8 digits: MLP base (latent 16, tanh) + SN critic, latent ULA at beta 1."),
    "gebm-cifar10": (_GEBM_CIFAR10, "GEBM on CIFAR-10 mirroring the official SNGAN-ConvNet setup (GPU, local data)."),
}

#: recipe -> the method it represents in ``ebm bench quality`` (its 2-D and digits templates)
BENCH: dict[str, str] = {
    "gebm-8gaussians": "GEBM",
    "gebm-digits": "GEBM",
}
