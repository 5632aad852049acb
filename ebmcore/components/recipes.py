"""Core's built-in recipes: named, ready-to-run configs (``ebm recipes``, ``ebm train NAME``).

Each recipe's measured results, with the command that produced them, are in ``docs/results.md``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BENCH", "RECIPES"]

_CD_8GAUSSIANS: dict[str, Any] = {
    "data": {"name": "8gaussians"},
    "energy": {"name": "mlp", "hidden": [128, 128, 128], "activation": "silu"},
    "initializer": {"name": "gaussian", "std": 2.0},
    "sampler": {"name": "langevin", "step_size": 0.05, "n_steps": 40},
    "objective": {"name": "contrastive_divergence", "alpha": 0.1},
    "trainer": {
        "steps": 1500,
        "batch_size": 256,
        "optimizer": {"name": "adam", "lr": 1e-3, "betas": [0.0, 0.999], "ema": 0.99},
        "log_every": 50,
        "checkpoint_every": 500,
    },
    "eval": {"n_samples": 2000},
    "seed": 0,
}

_PCD_8GAUSSIANS: dict[str, Any] = {
    **_CD_8GAUSSIANS,
    "initializer": {"name": "replay_buffer", "capacity": 10000, "reinit_prob": 0.05, "fresh": "gaussian", "scale": 2.0},
    "sampler": {"name": "langevin", "step_size": 0.05, "n_steps": 20},
}

_CD_DIGITS: dict[str, Any] = {
    "data": {"name": "digits"},
    "energy": {"name": "conv", "channels": [32, 64], "activation": "silu"},
    "initializer": {"name": "replay_buffer", "capacity": 5000, "reinit_prob": 0.05, "fresh": "uniform", "scale": 1.0},
    "sampler": {"name": "langevin", "step_size": 1.0, "noise_scale": 0.005, "n_steps": 40, "clamp": [-1.0, 1.0]},
    "objective": {"name": "contrastive_divergence", "alpha": 0.1},
    "trainer": {
        "steps": 2000,
        "batch_size": 128,
        "optimizer": {"name": "adam", "lr": 1e-4, "betas": [0.0, 0.999], "ema": 0.999},
        "log_every": 50,
        "checkpoint_every": 500,
    },
    "eval": {"n_samples": 1000},
    "seed": 0,
}

#: name -> (config, one-line summary)
RECIPES: dict[str, tuple[dict[str, Any], str]] = {
    "cd-8gaussians": (_CD_8GAUSSIANS, "CD with short-run Langevin from noise on 8 Gaussians (the quick start, ~1 min CPU)."),
    "pcd-8gaussians": (_PCD_8GAUSSIANS, "Persistent CD with a replay buffer on 8 Gaussians."),
    "cd-digits": (_CD_DIGITS, "PCD with a conv energy on the 8x8 digits (replay buffer, Langevin)."),
}

#: recipe -> the method it represents in ``ebm bench quality`` (its 2-D and digits templates)
BENCH: dict[str, str] = {
    "cd-8gaussians": "CD",
    "pcd-8gaussians": "PCD",
    "cd-digits": "PCD",
}
