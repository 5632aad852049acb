"""Exact resume for every method recipe with learnable initializers or persistent chains (issue 9): a run
killed mid-way and resumed from its last checkpoint ends bit-identical to the uninterrupted run (CPU)."""

from __future__ import annotations

import copy

import pytest
import torch

from ebmcore import registries
from ebmcore.testing.resume import crash_and_resume

# recipe -> what makes its state more than weights
RECIPES = {
    "pcd-8gaussians": "replay buffer",
    "nfmle-2modes": "flow initializer + persistent chains + adapted MALA step",
    "cdrl-8gaussians": "learnable initializer, two optimiser groups, EMA",
    "gebm-8gaussians": "base generator, learned log-normaliser, critic/base phases",
}


def _small(recipe_cfg):
    cfg = copy.deepcopy(dict(recipe_cfg))
    cfg["data"] = {**cfg["data"], "n_train": 512, "n_test": 64}
    cfg["trainer"] = {**cfg["trainer"], "steps": 8, "batch_size": 32, "log_every": 2, "checkpoint_every": 4,
                      "plot_every": 0}
    cfg["device"] = "cpu"
    return cfg


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_killed_and_resumed_method_run_is_bit_identical(recipe, tmp_path):
    regs = registries()
    if recipe not in regs.recipe:
        pytest.skip(f"recipe {recipe} not installed")
    full, resumed = crash_and_resume(_small(regs.recipe.get(recipe).config), tmp_path, regs=regs, crash_at=6)
    assert resumed.step == 4
    resumed.fit()
    a, b = full.exp.state_dict(), resumed.exp.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f"{recipe}: {k} ({RECIPES[recipe]})"
    ea, eb = full.ema_state(), resumed.ema_state()
    assert ea.keys() == eb.keys() and all(torch.equal(ea[k], eb[k]) for k in ea)
