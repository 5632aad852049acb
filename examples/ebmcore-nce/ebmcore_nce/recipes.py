"""The plugin's recipe (``ebm recipes``, ``ebm train nce-8gaussians``).

NCE trains the energy against Gaussian noise from core's ``gaussian`` initializer (a
:class:`ebmcore.DensityInitializer`); random-walk Metropolis from the same Gaussian generates the samples
that ``ebm train`` scores at the end. Measured result and command: ``docs/write-a-plugin.md`` of the
ebmcore repository.
"""

from __future__ import annotations

from typing import Any

__all__ = ["RECIPES"]

_NCE_8GAUSSIANS: dict[str, Any] = {
    "data": {"name": "8gaussians"},
    "energy": {"name": "mlp", "hidden": [64, 64], "activation": "silu", "confinement": 1.0 / 72.0},
    "initializer": {"name": "gaussian", "std": 2.5},
    "sampler": {"name": "rwm", "step_size": 0.3, "n_steps": 300},
    "objective": {"name": "nce", "noise_ratio": 4.0},
    "trainer": {
        "steps": 2000,
        "batch_size": 256,
        "optimizer": {"name": "adam", "lr": 2e-3, "ema": 0.99},
        "log_every": 100,
        "checkpoint_every": 1000,
    },
    "eval": {"n_samples": 2000},
    "seed": 0,
}

#: name -> (config, one-line summary)
RECIPES: dict[str, tuple[dict[str, Any], str]] = {
    "nce-8gaussians": (_NCE_8GAUSSIANS, "NCE against N(0, 2.5^2 I) noise on 8 Gaussians; RWM samples (~20 s CPU)."),
}
