"""Noise-contrastive estimation: gradient signs, self-normalisation, the density-initializer error."""

from __future__ import annotations

import math

import pytest
import torch
from ebmcore_nce import NCEObjective, nce_loss
from ebmcore_nce.recipes import RECIPES

from ebmcore import Batch, ConfigError, Energy, build
from ebmcore.components.energies import MLPEnergy
from ebmcore.components.initializers import GaussianInitializer, UniformInitializer


def test_the_loss_raises_the_log_ratio_on_data_and_lowers_it_on_noise():
    g_data = torch.randn(32, requires_grad=True)
    g_noise = torch.randn(96, requires_grad=True)
    nce_loss(g_data, g_noise).backward()
    assert bool((g_data.grad < 0).all()) and bool((g_noise.grad > 0).all())


class _Recording(Energy):
    """Wraps an energy and keeps the gradient of the loss with respect to its last output."""

    def __init__(self, inner: Energy) -> None:
        super().__init__()
        self.inner = inner
        self.event_shape = inner.event_shape
        self.last: torch.Tensor | None = None

    def forward(self, x, **cond):
        e = self.inner(x, **cond)
        e.retain_grad()
        self.last = e
        return e


def test_the_gradient_pushes_energy_down_on_data_and_up_on_noise(ebm_device, ebm_dtype):
    torch.manual_seed(0)
    energy = _Recording(MLPEnergy((2,), hidden=(32,), device=ebm_device, dtype=ebm_dtype))
    noise = GaussianInitializer((2,), std=2.0, device=ebm_device, dtype=ebm_dtype)
    objective = NCEObjective(energy, noise, noise_ratio=3.0, device=ebm_device, dtype=ebm_dtype)
    x = 0.3 * torch.randn(64, 2, device=ebm_device, dtype=ebm_dtype) + 1.0
    out = objective(Batch(x), step=0)
    out.losses["energy"].backward()
    de = energy.last.grad  # dL/dE for the 64 data points, then the 192 noise points
    assert de.shape == (64 + 192,)
    assert bool((de[:64] > 0).all()) and bool((de[64:] < 0).all())  # descent lowers E(data), raises E(noise)

    # and a few optimizer steps separate them: noise energy rises above data energy, accuracy > chance
    opt = torch.optim.Adam(objective.parameter_groups()["energy"], lr=1e-2)
    for step in range(100):
        opt.zero_grad()
        out = objective(Batch(x), step)
        out.losses["energy"].backward()
        opt.step()
    assert float(out.metrics["energy/noise"] - out.metrics["energy/data"]) > 1.0
    assert float(out.metrics["nce/accuracy"]) > 0.75


def test_the_log_normalizer_converges_to_log_z():
    """With a fixed energy E(x) = |x|^2 / 2 whose exp(-E) is N(0, I) up to Z = 2 pi, only c trains; NCE's
    optimum is the self-normalised model, c = log Z."""
    torch.manual_seed(0)
    objective = NCEObjective(lambda x: 0.5 * x.pow(2).sum(1), GaussianInitializer((2,), std=1.5), noise_ratio=2.0)
    (c,) = objective.parameter_groups()["energy"]
    opt = torch.optim.Adam([c], lr=0.05)
    for step in range(400):
        opt.zero_grad()
        objective(Batch(torch.randn(512, 2)), step).losses["energy"].backward()
        opt.step()
    assert float(c.detach()) == pytest.approx(math.log(2 * math.pi), abs=0.1)


def test_a_run_without_a_density_initializer_is_a_clear_error(nce_regs):
    with pytest.raises(TypeError, match="must have a tractable density .* UniformInitializer has none"):
        NCEObjective(MLPEnergy((2,), hidden=(8,)), UniformInitializer((2,)))
    config = {**RECIPES["nce-8gaussians"][0], "initializer": {"name": "uniform", "low": -4.0, "high": 4.0}}
    with pytest.raises(ConfigError) as err:
        build(config, regs=nce_regs)
    assert "cannot build objective 'nce'" in str(err.value) and "DensityInitializer" in str(err.value)


def test_conditional_energies_are_refused():
    with pytest.raises(TypeError, match=r"unconditional energies.*\['y'\]"):
        NCEObjective(MLPEnergy((2,), hidden=(8,), num_classes=3), GaussianInitializer((2,)))
