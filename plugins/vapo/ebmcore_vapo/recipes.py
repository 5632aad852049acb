"""VAPO recipes: named, ready-to-run configs (``ebm recipes``, ``ebm train NAME``).

Settings follow the VAPO method notes (A.6, A.9): MLP potential 256 × 3 with Fourier time features on the
2-D sets (512 × 3 on 8×8 digits), ∇Φ-form loss on the linear (fmot) path, Adam 1e-3 with a cosine decay and
gradient-norm clipping 1.0, batch 256, RK4 with 100 steps from N(0, I) (the notes' acceptance setting; the
adaptive ``dopri5`` sampler is one override away: ``sampler.method=dopri5``). The CIFAR-10 recipe mirrors
the official code's optimisation (Adam 1e-4, 5000 warm-up steps, EMA 0.9999, RK45 rtol = atol = 1e-3) with
a smaller UNet without attention; it needs the data in ``data/cifar-10-batches-py`` and a GPU.

Measured results, with commands, are in ``docs/results.md`` of the ebmcore repository.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BENCH", "RECIPES"]

_TOY_TRAINER: dict[str, Any] = {
    "steps": 3000,
    "batch_size": 256,
    "optimizer": {"name": "adam", "lr": 1e-3, "schedule": "cosine", "grad_clip": 1.0},
    "log_every": 100,
    "checkpoint_every": 1000,
}

_VAPO_8GAUSSIANS: dict[str, Any] = {
    "data": {"name": "8gaussians"},
    "energy": {"name": "vapo_mlp", "hidden": [256, 256, 256], "activation": "silu"},
    "initializer": {"name": "gaussian", "std": 1.0},
    "sampler": {"name": "vapo_ode", "method": "rk4", "n_steps": 100},
    "objective": {"name": "vapo", "form": "grad"},
    "trainer": _TOY_TRAINER,
    "eval": {"n_samples": 2000},
    "seed": 0,
}

_VAPO_MOONS: dict[str, Any] = {**_VAPO_8GAUSSIANS, "data": {"name": "moons", "noise": 0.05}}

_VAPO_CHECKERBOARD: dict[str, Any] = {**_VAPO_8GAUSSIANS, "data": {"name": "checkerboard"}}

_VAPO_DIGITS: dict[str, Any] = {
    "data": {"name": "digits"},
    "energy": {"name": "vapo_mlp", "hidden": [512, 512, 512], "activation": "silu"},
    "initializer": {"name": "gaussian", "std": 1.0},
    "sampler": {"name": "vapo_ode", "method": "rk4", "n_steps": 100, "clamp": [-1.0, 1.0]},
    "objective": {"name": "vapo", "form": "grad"},
    "trainer": {**_TOY_TRAINER, "steps": 4000},
    "eval": {"n_samples": 1000},
    "seed": 0,
}

_VAPO_CIFAR10: dict[str, Any] = {
    "data": {"name": "cifar10", "root": "data"},
    "energy": {"name": "vapo_unet", "channels": [256, 256, 256], "num_res_blocks": 4, "dropout": 0.3},
    "initializer": {"name": "gaussian", "std": 1.0},
    "sampler": {"name": "vapo_ode", "method": "dopri5", "rtol": 1e-3, "atol": 1e-3, "clamp": [-1.0, 1.0]},
    "objective": {"name": "vapo", "form": "grad", "normalize_by_dim": True},
    "trainer": {
        "steps": 1_000_000,
        "batch_size": 128,
        "optimizer": {"name": "adam", "lr": 1e-4, "warmup_steps": 5000, "schedule": "constant",
                      "grad_clip": 1.0, "ema": 0.9999},
        "log_every": 100,
        "plot_every": 10000,
        "plot_samples": 64,
        "checkpoint_every": 10000,
    },
    "eval": {"n_samples": 2000},
    "device": "auto",
    "seed": 0,
}

#: name -> (config, one-line summary)
RECIPES: dict[str, tuple[dict[str, Any], str]] = {
    "vapo-8gaussians": (_VAPO_8GAUSSIANS, "VAPO potential flow (grad form, MLP 256x3) on 8 Gaussians, RK4 100 steps."),
    "vapo-moons": (_VAPO_MOONS, "VAPO potential flow on two moons (noise 0.05), RK4 100 steps."),
    "vapo-checkerboard": (_VAPO_CHECKERBOARD, "VAPO potential flow on the checkerboard, RK4 100 steps."),
    "vapo-digits": (_VAPO_DIGITS, "VAPO potential flow (MLP 512x3) on 8x8 digits, 4000 steps, RK4 100 steps."),
    "vapo-cifar10": (_VAPO_CIFAR10, "VAPO with a UNet autoencoder potential on CIFAR-10 (GPU, local data), RK45."),
}

#: recipe -> the method it represents in ``ebm bench quality`` (its 2-D and digits templates)
BENCH: dict[str, str] = {
    "vapo-8gaussians": "VAPO",
    "vapo-digits": "VAPO",
}
