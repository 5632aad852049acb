"""CDRL and DRL recipes (``ebm recipes``, ``ebm train NAME``).

Toys follow the CDRL notes 7.1: T = 6 cosine logSNR levels in [-5.1, 9.8], K = 15, the official toy step
constants (constant c² = 134.6, step_const 1e-3), shared-noise pairs, EBM width 128 with 3 SN residual
blocks, initializer width 128 with 2 blocks, Adam (EBM) and AdamW (initializer) at lr 1e-3 with 200 warm-up
steps, grad-norm clip 1, EMA 0.999, batch 512, 1,500 steps; the 8 Gaussians are the notes' (radius 2,
std 0.15); the checkerboard trains 4,500 steps. ``drl-8gaussians`` is the same without the initializer (chains start at the noisy sample).
Digits use the data-dependent c² (the toy constants diverge in 64-D, notes B.10) with step_const 1e-3 and
lr 5e-4 (notes 7.3). The CIFAR-10 recipe mirrors the official configuration (step_const 2e-4, K = 15,
Adam 1e-4 / AdamW 1e-5 with 10k warm-up, clip 1, EMA 0.9999, batch 256) with a smaller ResNet; it needs
``data/cifar-10-batches-py`` and a GPU.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BENCH", "RECIPES"]

_TOY_SCHEDULE = {"step_const": 1e-3, "c_mode": "constant"}
_TOY_OPT = {"name": "adam", "lr": 1e-3, "warmup_steps": 200, "grad_clip": 1.0, "ema": 0.999}

_CDRL_8G: dict[str, Any] = {
    "data": {"name": "8gaussians", "radius": 2.0, "std": 0.15},
    "energy": {"name": "cdrl_mlp", "width": 128, "n_blocks": 3},
    "initializer": {"name": "cdrl_initializer", "width": 128, "n_blocks": 2},
    "sampler": {"name": "cdrl", **_TOY_SCHEDULE, "n_steps": 15},
    "objective": {"name": "cdrl", **_TOY_SCHEDULE, "n_steps": 15},
    "trainer": {"steps": 1500, "batch_size": 512, "optimizer": _TOY_OPT,
                "groups": {"initializer": {**_TOY_OPT, "name": "adamw", "weight_decay": 0.0}},
                "log_every": 100, "checkpoint_every": 500},
    "eval": {"n_samples": 2000},
    "seed": 0,
}
_DRL_8G: dict[str, Any] = {
    **_CDRL_8G,
    "initializer": {"name": "gaussian", "std": 1.0},
    "objective": {"name": "cdrl", **_TOY_SCHEDULE, "n_steps": 15, "use_initializer": False},
    "trainer": {**_CDRL_8G["trainer"], "groups": {}},
}
_CDRL_CHECKER: dict[str, Any] = {  # uniform squares with hard edges need longer than the Gaussians (results.md)
    **_CDRL_8G,
    "data": {"name": "checkerboard"},
    "trainer": {**_CDRL_8G["trainer"], "steps": 4500, "checkpoint_every": 1500},
}

_DIGITS_SCHEDULE = {"step_const": 1e-3, "c_mode": "ratio"}
_DIGITS_OPT = {"name": "adam", "lr": 5e-4, "warmup_steps": 200, "grad_clip": 1.0, "ema": 0.999}
_CDRL_DIGITS: dict[str, Any] = {
    "data": {"name": "digits"},
    "energy": {"name": "cdrl_mlp", "width": 256, "n_blocks": 3},
    "initializer": {"name": "cdrl_initializer", "width": 256, "n_blocks": 2, "conv": False},
    "sampler": {"name": "cdrl", **_DIGITS_SCHEDULE, "n_steps": 15, "clamp": [-1.0, 1.0]},
    "objective": {"name": "cdrl", **_DIGITS_SCHEDULE, "n_steps": 15},
    "trainer": {"steps": 1500, "batch_size": 256, "optimizer": _DIGITS_OPT,
                "groups": {"initializer": {**_DIGITS_OPT, "name": "adamw", "weight_decay": 0.0}},
                "log_every": 100, "checkpoint_every": 500},
    "eval": {"n_samples": 1000},
    "seed": 0,
}

_CIFAR_OPT = {"name": "adam", "lr": 1e-4, "warmup_steps": 10000, "grad_clip": 1.0, "ema": 0.9999}
_CDRL_CIFAR10: dict[str, Any] = {
    "data": {"name": "cifar10", "root": "data"},
    "energy": {"name": "cdrl_resnet", "width": 128, "n_blocks": 4, "n_resolutions": 4},
    "initializer": {"name": "cdrl_initializer", "width": 64, "n_blocks": 6},
    "sampler": {"name": "cdrl", "step_const": 2e-4, "c_mode": "ratio", "n_steps": 15, "clamp": [-1.0, 1.0]},
    "objective": {"name": "cdrl", "step_const": 2e-4, "c_mode": "ratio", "n_steps": 15},
    "trainer": {"steps": 400_000, "batch_size": 256, "optimizer": _CIFAR_OPT,
                "groups": {"initializer": {**_CIFAR_OPT, "name": "adamw", "lr": 1e-5, "weight_decay": 0.0}},
                "log_every": 100, "plot_every": 20000, "plot_samples": 64, "checkpoint_every": 20000},
    "eval": {"n_samples": 5000},
    "device": "auto",
    "seed": 0,
}

#: name -> (config, one-line summary)
RECIPES: dict[str, tuple[dict[str, Any], str]] = {
    "cdrl-8gaussians": (_CDRL_8G, "CDRL on 8 Gaussians (radius 2, std 0.15): T=6, K=15, learned initializer."),
    "cdrl-checkerboard": (_CDRL_CHECKER, "CDRL on the checkerboard, same settings, 4,500 steps."),
    "drl-8gaussians": (_DRL_8G, "DRL on 8 Gaussians: the same recovery likelihood without the initializer."),
    "cdrl-digits": (_CDRL_DIGITS, "CDRL on 8x8 digits (MLP energy and initializer, data-dependent steps)."),
    "cdrl-cifar10": (_CDRL_CIFAR10, "CDRL on CIFAR-10 mirroring the official optimisation (GPU, local data)."),
}

#: recipe -> the method it represents in ``ebm bench quality`` (its 2-D and digits templates)
BENCH: dict[str, str] = {
    "cdrl-8gaussians": "CDRL",
    "cdrl-digits": "CDRL",
}
