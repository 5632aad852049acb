"""Exact resume for every method recipe with learnable initializers or persistent chains (issue 9): a run
killed mid-way and resumed from its last checkpoint ends bit-identical to the uninterrupted run (CPU)."""

from __future__ import annotations

import copy

import pytest
import torch

from ebmcore import build, registries, structure_config
from ebmcore.trainer import Trainer

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
    cfg = _small(regs.recipe.get(recipe).config)
    full = Trainer(build(structure_config(cfg, regs), regs=regs), tmp_path / "full", regs=regs, progress=False)
    full.fit()
    part = Trainer(build(structure_config(cfg, regs), regs=regs), tmp_path / "part", regs=regs, progress=False)
    forward = part.exp.objective.forward

    def crash_at_step_6(batch, step):
        if step == 6:
            raise RuntimeError("simulated crash")
        return forward(batch, step)

    part.exp.objective.forward = crash_at_step_6
    with pytest.raises(RuntimeError, match="simulated crash"):
        part.fit()
    del part
    resumed = Trainer.resume(tmp_path / "part", regs=regs, progress=False)
    assert resumed.step == 4
    resumed.fit()
    a, b = full.exp.state_dict(), resumed.exp.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f"{recipe}: {k} ({RECIPES[recipe]})"
    ea, eb = full.ema_state(), resumed.ema_state()
    assert ea.keys() == eb.keys() and all(torch.equal(ea[k], eb[k]) for k in ea)
