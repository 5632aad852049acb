"""NF-MLE recipes and the baselines on the same data (``ebm recipes``, ``ebm train NAME``).

Settings follow the NF-MLE method notes (sections 7 and 9): 2-D Gaussian mixtures with std 0.5, energy
MLP 2→64→64→1 (SiLU) plus the confinement ‖x‖²/72, batch 256, 800 Adam steps (1e-3, betas 0.5/0.999, ×0.1
after 70 %) for both groups; RealNVP with 8 coupling layers of 2×64 and a N(0, 3²I) base (the chains'
starting law); 256 persistent chains, 2 rounds of (1 IMH + 5 MALA) per step, MALA target acceptance 0.6;
flow loss 0.8·forward KL on the chains + 0.2·reverse KL. The baselines change only how negatives are
drawn: PCD-MALA (256 persistent chains in a replay buffer, 10 MALA steps per step) and short-run Langevin
(30 ULA steps of 0.02 from N(0, 3²I) every step).

Measured results, with commands, are in ``docs/results.md`` of the ebmcore repository.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BENCH", "RECIPES"]

_TWO_MODES = {"name": "gmm", "centers": [[-3.0, 0.0], [3.0, 0.0]], "weights": [0.2, 0.8], "std": 0.5}
_FOUR_MODES = {
    "name": "gmm",
    "centers": [[-3.0, -3.0], [-3.0, 3.0], [3.0, -3.0], [3.0, 3.0]],
    "weights": [0.1, 0.2, 0.3, 0.4],
    "std": 0.5,
}

_TOY_TRAINER: dict[str, Any] = {
    "steps": 800,
    "batch_size": 256,
    "optimizer": {"name": "adam", "lr": 1e-3, "betas": [0.5, 0.999], "schedule": "step", "step_at": 0.7,
                  "min_lr_ratio": 0.1},
    "log_every": 50,
    "checkpoint_every": 400,
}

_TOY_ENERGY = {"name": "mlp", "hidden": [64, 64], "activation": "silu", "confinement": 1.0 / 72.0}

_NFMLE_2MODES: dict[str, Any] = {
    "data": _TWO_MODES,
    "energy": _TOY_ENERGY,
    "initializer": {"name": "realnvp", "n_layers": 8, "hidden": [64, 64], "base_std": 3.0},
    "sampler": {"name": "flow_mcmc", "n_rounds": 2, "global_kernel": "imh", "local_steps": 5, "step_size": 0.05,
                "target_acceptance": 0.6, "n_chains": 256},
    "objective": {"name": "nfmle", "forward_kl_weight": 0.8},
    "trainer": _TOY_TRAINER,
    "eval": {"n_samples": 2000},
    "seed": 0,
}

_PCD: dict[str, Any] = {
    "initializer": {"name": "replay_buffer", "capacity": 256, "reinit_prob": 0.0, "fresh": "gaussian", "scale": 3.0},
    "sampler": {"name": "mala", "n_steps": 10, "step_size": 0.05},
    "objective": {"name": "contrastive_divergence"},
}
_SHORTRUN: dict[str, Any] = {
    "initializer": {"name": "gaussian", "std": 3.0},
    "sampler": {"name": "langevin", "n_steps": 30, "step_size": 0.02},
    "objective": {"name": "contrastive_divergence"},
}

_NFMLE_4MODES: dict[str, Any] = {**_NFMLE_2MODES, "data": _FOUR_MODES}
_NFMLE_8GAUSSIANS: dict[str, Any] = {**_NFMLE_2MODES, "data": {"name": "8gaussians"}}

_NFMLE_DIGITS: dict[str, Any] = {
    "data": {"name": "digits"},
    "energy": {"name": "mlp", "hidden": [256, 256], "activation": "silu", "confinement": 0.02},
    "initializer": {"name": "realnvp", "n_layers": 8, "hidden": [256, 256], "base_std": 1.0},
    "sampler": {"name": "flow_mcmc", "n_rounds": 2, "global_kernel": "imh", "local_steps": 5, "step_size": 0.001,
                "target_acceptance": 0.6, "n_chains": 256},
    "objective": {"name": "nfmle", "forward_kl_weight": 0.8, "data_weight": 0.0},
    "trainer": {
        "steps": 3000,
        "batch_size": 256,
        "optimizer": {"name": "adam", "lr": 1e-3, "betas": [0.5, 0.999], "schedule": "step", "step_at": 0.7,
                      "min_lr_ratio": 0.1},
        "log_every": 50,
        "checkpoint_every": 1000,
    },
    "eval": {"n_samples": 1000},
    "seed": 0,
}

#: name -> (config, one-line summary)
RECIPES: dict[str, tuple[dict[str, Any], str]] = {
    "nfmle-2modes": (_NFMLE_2MODES, "NF-MLE on a 2-mode mixture with weights 0.2/0.8 (RealNVP + IMH/MALA chains)."),
    "nfmle-4modes": (_NFMLE_4MODES, "NF-MLE on a 4-mode mixture with weights 0.1/0.2/0.3/0.4."),
    "nfmle-8gaussians": (_NFMLE_8GAUSSIANS, "NF-MLE on 8 Gaussians (FFJORD scale)."),
    "nfmle-digits": (_NFMLE_DIGITS, "NF-MLE on 8x8 digits: MLP energy, RealNVP 8x(2x256) flow, IMH + MALA chains."),
    "nfmle-2modes-pcd": ({**_NFMLE_2MODES, **_PCD}, "Baseline: PCD-MALA on the 2-mode 0.2/0.8 mixture, same budget."),
    "nfmle-2modes-shortrun": ({**_NFMLE_2MODES, **_SHORTRUN}, "Baseline: short-run Langevin from noise, 2-mode mixture."),
    "nfmle-4modes-pcd": ({**_NFMLE_4MODES, **_PCD}, "Baseline: PCD-MALA on the 4-mode 0.1/0.2/0.3/0.4 mixture."),
    "nfmle-4modes-shortrun": ({**_NFMLE_4MODES, **_SHORTRUN}, "Baseline: short-run Langevin from noise, 4-mode mixture."),
}

#: recipe -> the method it represents in ``ebm bench quality`` (its 2-D and digits templates)
BENCH: dict[str, str] = {
    "nfmle-8gaussians": "NF-MLE",
    "nfmle-digits": "NF-MLE",
}
