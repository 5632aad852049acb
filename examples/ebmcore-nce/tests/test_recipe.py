"""A short run of the nce-8gaussians recipe improves held-out NLL and MMD over the initial model."""

from __future__ import annotations

import torch

from ebmcore import apply_overrides, build
from ebmcore.evaluation import generate
from ebmcore.metrics import evaluate_samples
from ebmcore.trainer import Trainer


def _scores(exp):
    samples = generate(exp, 1000, seed=1).x
    with torch.no_grad():  # held-out points: dataset.test
        return evaluate_samples(exp.dataset, samples, energy_fn=exp.energy, generator=torch.Generator().manual_seed(0))


def test_a_short_run_improves_held_out_nll_and_mmd(nce_regs, ebm_device, tmp_path):
    config = apply_overrides(nce_regs.recipe.get("nce-8gaussians").config,
                             ["trainer.steps=400", "trainer.checkpoint_every=0", f"device={ebm_device}"])
    exp = build(config, regs=nce_regs)
    before = _scores(exp)
    Trainer(exp, tmp_path, regs=nce_regs, progress=False).fit()
    after = _scores(exp)
    assert after["nll_grid"] < before["nll_grid"] - 1.0, (before["nll_grid"], after["nll_grid"])
    assert after["mmd2"] < 0.1 * before["mmd2"], (before["mmd2"], after["mmd2"])
    assert after["modes_covered"] == 8
