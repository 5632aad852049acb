"""Opt-in ``torch.compile`` of the energy and of the sampler step (issue 9), tested on CPU: the compiled run
matches the eager fp32 run within tolerance, and its checkpoints have the eager keys."""

from __future__ import annotations

import copy
import importlib.util
import shutil

import pytest
import torch

from ebmcore import build, energy_and_grad, structure_config
from ebmcore.checkpoint import load_checkpoint
from ebmcore.components.energies import MLPEnergy
from ebmcore.components.samplers import HMCSampler, LangevinSampler, MALASampler
from ebmcore.config import ConfigError
from ebmcore.trainer import Trainer

needs_compiler = pytest.mark.skipif(
    not (shutil.which("c++") or shutil.which("g++")) or importlib.util.find_spec("torch._inductor") is None,
    reason="torch.compile on CPU needs inductor and a C++ compiler")

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


def _build(regs, **changes):
    """The small run of ``RUN`` with top-level ``changes`` (``trainer`` entries are merged)."""
    cfg = copy.deepcopy(RUN)
    cfg["trainer"].update(changes.pop("trainer", {}))
    cfg.update(changes)
    return build(structure_config(cfg, regs), regs=regs)


def _fit(exp, regs, run_dir):
    Trainer(exp, run_dir, regs=regs, progress=False).fit()
    return exp


@pytest.mark.slow
@needs_compiler
def test_compiled_energy_matches_eager(ebm_regs, tmp_path):
    runs = {}
    for compiled in (False, True):
        exp = _build(ebm_regs, compile_energy=compiled)
        x = torch.randn(16, 2, generator=torch.Generator().manual_seed(0))
        e, g = energy_and_grad(exp.energy, x)
        _fit(exp, ebm_regs, tmp_path / str(compiled))
        runs[compiled] = (e, g, exp.energy.state_dict())
    (e0, g0, w0), (e1, g1, w1) = runs[False], runs[True]
    torch.testing.assert_close(e1, e0, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(g1, g0, rtol=1e-5, atol=1e-5)
    assert w0.keys() == w1.keys()
    for k in w0:
        torch.testing.assert_close(w1[k], w0[k], rtol=1e-4, atol=1e-5)
    assert set(load_checkpoint(tmp_path / "True").model_state) == set(load_checkpoint(tmp_path / "False").model_state)


SAMPLERS = {
    "langevin": lambda: LangevinSampler(step_size=0.05, n_steps=6, clip_grad=0.5, clamp=(-3.0, 3.0)),
    "mala": lambda: MALASampler(step_size=0.05, n_steps=6),
    "hmc": lambda: HMCSampler(step_size=0.1, n_leapfrog=3, n_trajectories=2),
}


@pytest.mark.slow
@needs_compiler
@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_compiled_sampler_step_matches_eager(name):
    """Same seed, same energy: the compiled chain ends where the eager chain ends, and MALA's adapted step
    size agrees (random draws stay eager, so both chains consume the same random numbers)."""
    torch.manual_seed(0)
    energy = MLPEnergy((2,), hidden=(32, 32)).requires_grad_(False)
    x0 = torch.randn(64, 2, generator=torch.Generator().manual_seed(1)) * 2
    out = {}
    for compiled in (False, True):
        sampler = SAMPLERS[name]().train()
        if compiled:
            sampler.compile_step()
        torch.manual_seed(7)
        res = sampler.sample(energy, x0)
        out[compiled] = (res, dict(sampler.state_dict()))
    (r0, s0), (r1, s1) = out[False], out[True]
    assert not torch.equal(r0.x, x0)  # the chains moved
    torch.testing.assert_close(r1.x, r0.x, rtol=1e-5, atol=1e-5)
    for key in r0.stats:
        torch.testing.assert_close(torch.as_tensor(r1.stats[key]), torch.as_tensor(r0.stats[key]), rtol=1e-5, atol=1e-6)
    for key in s0:
        torch.testing.assert_close(s1[key], s0[key])


@pytest.mark.slow
@needs_compiler
def test_compile_sampler_run_matches_eager(ebm_regs, tmp_path):
    """``compile_sampler=true`` through build and the Trainer: the weights after 3 CD steps match eager."""
    weights = {c: _fit(_build(ebm_regs, compile_sampler=c), ebm_regs, tmp_path / str(c)).energy.state_dict()
               for c in (False, True)}
    for k in weights[False]:
        torch.testing.assert_close(weights[True][k], weights[False][k], rtol=1e-4, atol=1e-5)


def test_compile_sampler_without_a_compilable_step_is_a_config_error(ebm_regs):
    with pytest.raises(ConfigError, match=r"GridSampler has no compilable step.*@ \$\.compile_sampler"):
        _build(ebm_regs, compile_sampler=True, sampler={"name": "grid"})


@pytest.mark.cuda
def test_bf16_autocast_matches_fp32_on_cuda(ebm_regs, tmp_path):
    """trainer.autocast (bf16 on CUDA) against the fp32 path; sampling stays fp32 (sampling_mode turns
    autocast off), so only the loss's forward runs in bf16. Skipped without a GPU."""
    weights = {}
    for autocast in (False, True):
        exp = _fit(_build(ebm_regs, device="cuda", trainer={"autocast": autocast}), ebm_regs, tmp_path / str(autocast))
        weights[autocast] = {k: v.float().cpu() for k, v in exp.energy.state_dict().items()}
    for k in weights[False]:
        torch.testing.assert_close(weights[True][k], weights[False][k], rtol=2e-2, atol=2e-3)
