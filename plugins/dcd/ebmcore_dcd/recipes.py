"""DCD recipes and the CD baseline on the same data (``ebm recipes``, ``ebm train NAME``).

Settings follow the DCD method notes (B.7, B.10): 8 Gaussians (FFJORD scale), MLP energy 3×256 SiLU,
Adam 1e-3 with cosine decay and EMA 0.999 (our addition, for all three toy recipes), batch 256, 3,000 steps; VE kernel s = 0.5 with SNIS (M = 16, w = 1) or posterior Langevin
(K = 5, η = 0.1 s²); the CD-10 baseline is core's contrastive divergence with data-initialised Langevin
(10 steps, η = 0.01) and α = 0.1. 2-D runs are evaluated with exact grid samples (core's ``grid`` sampler),
so the numbers judge the energy, not a sampler. Digits: MLP 3×256, Adam 1e-3, batch 128, 1,500 steps,
SNIS with s = 0.1, M = 8 (``dcd-digits``, generation by 1,000 Langevin steps from uniform noise) or
s = 0.3 (``dcd-digits-denoise``, trained at the denoising noise level); ``dcd-digits-time`` is the
time-dependent mode (6 VP levels, posterior Langevin K = 5, ``confinement`` 0.5) sampled by ancestral
recovery with the training's chain (K = 5, the same step), since the level energies are short-run ones.
The CelebA recipe trains one time-conditioned conv energy with the time-dependent mode (6 VP levels,
30 posterior steps, DRL's settings) and samples by ancestral recovery; it needs ``data/img_align_celeba``
and a GPU.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BENCH", "RECIPES"]

_TOY_ENERGY = {"name": "mlp", "hidden": [256, 256, 256], "activation": "silu"}
# cosine decay + EMA 0.999: the final weights of a constant-lr run fluctuate in their mode masses (seed 0 of
# SNIS had MMD2 0.038 with masses 7.2-19.8 %; 0.0045 with decay and EMA). All three toy recipes share it.
_TOY_TRAINER: dict[str, Any] = {"steps": 3000, "batch_size": 256,
                                "optimizer": {"name": "adam", "lr": 1e-3, "schedule": "cosine", "ema": 0.999},
                                "log_every": 100, "checkpoint_every": 1000}

_DCD_8G: dict[str, Any] = {
    "data": {"name": "8gaussians"},
    "energy": _TOY_ENERGY,
    "initializer": {"name": "gaussian", "std": 3.0},
    "sampler": {"name": "grid", "box": [-6.0, 6.0], "n_grid": 400},
    "objective": {"name": "dcd", "kernel": "ve", "noise": 0.5, "estimator": "snis", "n_proposals": 16, "data_weight": 1.0},
    "trainer": _TOY_TRAINER,
    "eval": {"n_samples": 2000},
    "seed": 0,
}
_DCD_8G_LANGEVIN: dict[str, Any] = {
    **_DCD_8G,
    "objective": {"name": "dcd", "kernel": "ve", "noise": 0.5, "estimator": "langevin", "n_steps": 5, "step_frac": 0.1},
}
_CD_8G: dict[str, Any] = {  # evaluate with exact grid samples too: ebm eval RUN 'sampler={name: grid}'
    **_DCD_8G,
    "initializer": {"name": "data"},
    "sampler": {"name": "langevin", "step_size": 0.01, "n_steps": 10},
    "objective": {"name": "contrastive_divergence", "alpha": 0.1},
}

_DIGITS_TRAINER: dict[str, Any] = {"steps": 1500, "batch_size": 128, "optimizer": {"name": "adam", "lr": 1e-3},
                                   "log_every": 100, "checkpoint_every": 500}
_DCD_DIGITS: dict[str, Any] = {
    "data": {"name": "digits"},
    "energy": {"name": "mlp", "hidden": [256, 256, 256], "activation": "silu"},
    "initializer": {"name": "uniform", "low": -1.0, "high": 1.0},
    "sampler": {"name": "langevin", "step_size": 1e-3, "n_steps": 1000, "clamp": [-1.0, 1.0]},
    "objective": {"name": "dcd", "kernel": "ve", "noise": 0.1, "estimator": "snis", "n_proposals": 8},
    "trainer": _DIGITS_TRAINER,
    "eval": {"n_samples": 1000},
    "seed": 0,
}
_DCD_DIGITS_DENOISE: dict[str, Any] = {
    **_DCD_DIGITS,
    "objective": {"name": "dcd", "kernel": "ve", "noise": 0.3, "estimator": "snis", "n_proposals": 8},
}

_DCD_DIGITS_TIME: dict[str, Any] = {  # the time-dependent mode on digits; recovery uses the training's chain
    **_DCD_DIGITS,
    "energy": {"name": "mlp", "hidden": [256, 256, 256], "activation": "silu", "time_conditioned": True,
               "confinement": 0.5},
    "initializer": {"name": "gaussian", "std": 1.0},
    "sampler": {"name": "recovery", "n_levels": 6, "n_steps": 5, "step_frac": 0.1},
    "objective": {"name": "dcd", "time_dependent": True, "n_levels": 6, "estimator": "langevin", "n_steps": 5,
                  "step_frac": 0.1, "alpha": 0.1},
}

_DCD_CELEBA: dict[str, Any] = {
    "data": {"name": "celeba32", "root": "data"},
    "energy": {"name": "conv", "channels": [64, 128, 256], "time_conditioned": True, "spectral_norm": True},
    "initializer": {"name": "gaussian", "std": 1.0},
    "sampler": {"name": "recovery", "n_levels": 6, "n_steps": 30, "step_frac": 0.1},
    "objective": {"name": "dcd", "time_dependent": True, "n_levels": 6, "estimator": "langevin", "n_steps": 30,
                  "step_frac": 0.1, "alpha": 0.1},
    "trainer": {"steps": 200_000, "batch_size": 128,
                "optimizer": {"name": "adam", "lr": 1e-4, "betas": [0.5, 0.999], "ema": 0.999, "grad_clip": 1.0},
                "log_every": 100, "plot_every": 5000, "plot_samples": 64, "checkpoint_every": 5000},
    "eval": {"n_samples": 2000},
    "device": "auto",
    "seed": 0,
}

#: name -> (config, one-line summary)
RECIPES: dict[str, tuple[dict[str, Any], str]] = {
    "dcd-8gaussians": (_DCD_8G, "DCD-VE on 8 Gaussians, MCMC-free SNIS estimator (M=16, s=0.5)."),
    "dcd-8gaussians-langevin": (_DCD_8G_LANGEVIN, "DCD-VE on 8 Gaussians, posterior Langevin (K=5, eta=0.1 s^2)."),
    "dcd-8gaussians-cd": (_CD_8G, "Baseline: CD-10 (data-initialised Langevin, alpha 0.1) on 8 Gaussians, same budget."),
    "dcd-digits": (_DCD_DIGITS, "DCD-VE SNIS (s=0.1, M=8) on 8x8 digits; Langevin generation from noise."),
    "dcd-digits-denoise": (_DCD_DIGITS_DENOISE, "DCD-VE SNIS trained at s=0.3 on digits, for denoising at sigma 0.3."),
    "dcd-digits-time": (_DCD_DIGITS_TIME, "Time-dependent DCD on digits: 6 VP levels, K=5, ancestral recovery with the same chain."),
    "dcd-celeba32": (_DCD_CELEBA, "Time-dependent DCD on CelebA 32x32 (6 VP levels, recovery sampling; GPU, local data)."),
}

#: recipe -> the method it represents in ``ebm bench quality`` (its 2-D and digits templates)
BENCH: dict[str, str] = {
    "dcd-8gaussians": "DCD",
    "dcd-digits-time": "DCD",
}
