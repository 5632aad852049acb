"""Opt-in ``torch.compile`` of the energy (issue 9), tested on CPU: the compiled run matches the eager fp32
run within tolerance, and its checkpoints have the eager keys."""

from __future__ import annotations

import copy
import shutil

import pytest
import torch

from ebmcore import build, energy_and_grad, structure_config
from ebmcore.checkpoint import load_checkpoint
from ebmcore.trainer import Trainer

RUN = {
    "data": {"name": "8gaussians", "n_train": 512, "n_test": 64},
    "energy": {"name": "mlp", "hidden": [32, 32]},
    "initializer": {"name": "gaussian", "std": 2.0},
    "sampler": {"name": "langevin", "n_steps": 3, "step_size": 0.05},
    "objective": {"name": "contrastive_divergence", "alpha": 0.1},
    "trainer": {"steps": 3, "batch_size": 64, "log_every": 1},
    "device": "cpu",
    "seed": 1,
}


@pytest.mark.slow
@pytest.mark.skipif(not (shutil.which("c++") or shutil.which("g++")), reason="torch.compile on CPU needs a C++ compiler")
def test_compiled_energy_matches_eager(ebm_regs, tmp_path):
    pytest.importorskip("torch._inductor")
    runs = {}
    for compiled in (False, True):
        cfg = copy.deepcopy(RUN)
        cfg["compile_energy"] = compiled
        exp = build(structure_config(cfg, ebm_regs), regs=ebm_regs)
        x = torch.randn(16, 2, generator=torch.Generator().manual_seed(0))
        e, g = energy_and_grad(exp.energy, x)
        trainer = Trainer(exp, tmp_path / str(compiled), regs=ebm_regs, progress=False)
        trainer.fit()
        runs[compiled] = (e, g, exp.energy.state_dict())
    (e0, g0, w0), (e1, g1, w1) = runs[False], runs[True]
    torch.testing.assert_close(e1, e0, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(g1, g0, rtol=1e-5, atol=1e-5)
    assert w0.keys() == w1.keys()
    for k in w0:
        torch.testing.assert_close(w1[k], w0[k], rtol=1e-4, atol=1e-5)
    assert set(load_checkpoint(tmp_path / "True").model_state) == set(load_checkpoint(tmp_path / "False").model_state)


@pytest.mark.cuda
def test_bf16_autocast_matches_fp32_on_cuda(ebm_regs, tmp_path):
    """trainer.autocast (bf16 on CUDA) against the fp32 path; sampling stays fp32 (sampling_mode turns
    autocast off), so only the loss's forward runs in bf16. Skipped without a GPU."""
    weights = {}
    for autocast in (False, True):
        cfg = copy.deepcopy(RUN)
        cfg["device"] = "cuda"
        cfg["trainer"] = {**cfg["trainer"], "autocast": autocast}
        exp = build(structure_config(cfg, ebm_regs), regs=ebm_regs)
        Trainer(exp, tmp_path / str(autocast), regs=ebm_regs, progress=False).fit()
        weights[autocast] = {k: v.float().cpu() for k, v in exp.energy.state_dict().items()}
    for k in weights[False]:
        torch.testing.assert_close(weights[True][k], weights[False][k], rtol=2e-2, atol=2e-3)
