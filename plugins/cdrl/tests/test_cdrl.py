"""Behaviour tests of the CDRL plugin (CPU, one thread)."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from ebmcore_cdrl import (
    CDRLEnergy,
    CDRLInitializer,
    CDRLObjective,
    CDRLSampler,
    CosineSchedule,
    guided_energy,
    noisy_pair,
    recovery_langevin,
)
from ebmcore_cdrl.recipes import RECIPES
from torch import Tensor

from ebmcore import NULL_LABEL, Batch, build, registries, structure_config
from ebmcore.evaluation import evaluate
from ebmcore.testing.contract import check_component
from ebmcore.trainer import Trainer

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def regs():
    return registries()  # discovered plugins: this one must be installed


def test_schedule_matches_the_notes_tables():
    sch = CosineSchedule(6, step_const=2e-4, c_mode="ratio")
    torch.testing.assert_close(sch.logsnr, torch.tensor([9.800, 2.689, 1.197, 0.141, -0.876, -2.172, -5.100],
                                                        dtype=torch.float64), atol=1e-3, rtol=0)
    torch.testing.assert_close(sch.alpha_bar, torch.tensor([0.99994, 0.93636, 0.76797, 0.53521, 0.29399, 0.10226,
                                                            0.00606], dtype=torch.float64), atol=1e-5, rtol=0)
    sigma = sch.sigma2.sqrt()[1:]
    torch.testing.assert_close(sigma, torch.tensor([0.2522, 0.4241, 0.5505, 0.6713, 0.8076, 0.9699],
                                                   dtype=torch.float64), atol=1e-4, rtol=0)
    torch.testing.assert_close(sch.beta_tilde[1:], torch.tensor([0.00006, 0.0493, 0.1513, 0.2967, 0.5129, 0.8497],
                                                                dtype=torch.float64), atol=1e-4, rtol=0)
    torch.testing.assert_close(sch.s2.sqrt()[1:], torch.tensor([0.0050, 0.0494, 0.0886, 0.1285, 0.1716, 0.2188],
                                                               dtype=torch.float64), atol=1e-4, rtol=0)
    torch.testing.assert_close(sch.weight[1:], torch.tensor([1.000, 0.595, 0.458, 0.376, 0.312, 0.260],
                                                            dtype=torch.float64), atol=1e-3, rtol=0)
    assert float(sch.r_tilde[-1]) == 1.0 and float(sch.tether[-1]) == 0.0  # the top level is a marginal EBM
    toy = CosineSchedule(6, step_const=1e-3, c_mode="constant")
    # 1/sqrt(1 - sigmoid(9.8)) = 134.29; the notes print 134.6 (a rounding of 1 - alpha_bar_0 = 5.5e-5)
    assert float(toy.c2[1]) == pytest.approx(134.29, abs=0.01)
    torch.testing.assert_close(toy.s2[1:] / toy.sigma2[1:], torch.full((6,), 0.2686, dtype=torch.float64), atol=1e-3, rtol=0)


@pytest.mark.parametrize("level", [2, 6])
def test_one_noiseless_langevin_step_on_a_quadratic_matches_the_closed_form(level):
    sch = CosineSchedule(6, step_const=2e-4)
    m = torch.tensor([[0.3, -0.7]], dtype=torch.float64)

    def energy(y: Tensor, **cond: Tensor) -> Tensor:  # f(y) = -|y - m|²/2, E = -f
        return 0.5 * (y - m).pow(2).sum(1)

    y = torch.tensor([[1.0, 2.0], [-0.5, 0.1]], dtype=torch.float64)
    x = torch.tensor([[0.2, 0.2], [0.0, -1.0]], dtype=torch.float64)
    i = torch.full((2,), level)
    out = recovery_langevin(energy, y, x, i, sch, n_steps=1, noise=False)
    final = level == 6
    expected = y + 0.5 * (m - y) - 2e-4 * float(sch.c2[level]) * (y - x) * (0 if final else 1)
    torch.testing.assert_close(out, expected)


def test_the_initializer_is_the_identity_at_initialisation():
    torch.manual_seed(0)
    for shape in [(2,), (1, 8, 8)]:
        init = CDRLInitializer(shape, width=16, n_blocks=2)
        x = torch.randn(5, *shape)
        assert torch.equal(init.init_from(x, {"t": torch.rand(5)}), x)


def test_shared_noise_pairs_are_coupled_and_have_the_right_marginals():
    torch.manual_seed(0)
    sch = CosineSchedule(6)
    x0 = torch.randn(1, 3, dtype=torch.float64).expand(20000, 3)
    i = torch.full((20000,), 3)
    ab3, ab2 = sch.alpha_bar[3], sch.alpha_bar[2]

    def coupled(x_i: Tensor) -> Tensor:  # the shared-noise partner of x_i: a function of (x0, x_i) only
        return ab2.sqrt() * x0 + ((1 - ab2) / (1 - ab3)).sqrt() * (x_i - ab3.sqrt() * x0)

    x_i, x_prev = noisy_pair(x0, i, sch, shared=True)
    x_i2, x_prev2 = noisy_pair(x0, i, sch, shared=False)
    assert float((x_prev - coupled(x_i)).abs().max()) < 1e-12  # deterministic given (x0, x_i) when shared
    # the DDPM-posterior pair keeps the posterior variance beta_tilde around its mean
    assert float((x_prev2 - coupled(x_i2)).var(0).min()) > 0.5 * float(sch.beta_tilde[3])
    ab = float(sch.alpha_bar[2])
    for xp in (x_prev, x_prev2):  # same marginal N(sqrt(ab) x0, 1 - ab)
        torch.testing.assert_close(xp.mean(0), math.sqrt(ab) * x0[0], atol=0.03, rtol=0)
        torch.testing.assert_close(xp.var(0), torch.full((3,), 1 - ab, dtype=torch.float64), atol=0.03, rtol=0)


def test_guidance_weight_zero_is_the_conditional_model():
    torch.manual_seed(0)
    energy = CDRLEnergy((2,), width=16, n_blocks=1, num_classes=3).eval()  # eval: no power iteration
    x, t, y = torch.randn(6, 2), torch.rand(6), torch.tensor([0, 1, 2, 0, 1, 2])
    assert torch.equal(guided_energy(energy, 0.0)(x, t=t, y=y), energy(x, t=t, y=y))
    null = energy(x, t=t, y=torch.full_like(y, NULL_LABEL))
    torch.testing.assert_close(guided_energy(energy, 2.0)(x, t=t, y=y), 3 * energy(x, t=t, y=y) - 2 * null)
    init = CDRLInitializer((2,), width=8, num_classes=3)
    with torch.no_grad():
        init.out.weight.normal_()
    sampler0 = CDRLSampler(n_levels=2, n_steps=2, guidance=0.0)
    torch.manual_seed(1)
    a = sampler0.generate(energy, init, 6, {"y": y}).x
    torch.manual_seed(1)
    b = CDRLSampler(n_levels=2, n_steps=2).generate(energy, init, 6, {"y": y}).x
    assert torch.equal(a, b)


def test_inpainting_keeps_the_known_pixels():
    torch.manual_seed(0)
    energy = CDRLEnergy((1, 8, 8), conv=True, width=8, n_blocks=1)
    init = CDRLInitializer((1, 8, 8), width=8, n_blocks=1)
    x_obs = torch.rand(3, 1, 8, 8) * 2 - 1
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., :4, :] = 1
    out = CDRLSampler(n_levels=2, n_steps=2, clamp=(-1.0, 1.0)).inpaint(energy, init, x_obs, mask).x
    assert torch.equal(out[..., :4, :], x_obs[..., :4, :])
    assert not torch.equal(out[..., 4:, :], x_obs[..., 4:, :])


def test_groups_and_drl_case():
    torch.manual_seed(0)
    energy = CDRLEnergy((2,), width=16, n_blocks=1)
    init = CDRLInitializer((2,), width=16, n_blocks=1)
    obj = CDRLObjective(energy, init, n_steps=2)
    out = obj(Batch(torch.randn(32, 2)), 0)
    assert set(out.losses) == {"energy", "initializer"}
    g = torch.autograd.grad(out.losses["initializer"], list(energy.parameters()), allow_unused=True)
    assert all(x is None or not x.abs().sum() for x in g)  # the initializer's loss leaves the EBM alone
    drl = CDRLObjective(energy, init, n_steps=2, use_initializer=False)
    assert set(drl(Batch(torch.randn(32, 2)), 0).losses) == {"energy"}
    assert set(drl.parameter_groups()) == {"energy"}


@pytest.mark.parametrize("role,name", [("energy", "cdrl_mlp"), ("energy", "cdrl_resnet"), ("initializer", "cdrl_initializer"),
                                       ("sampler", "cdrl"), ("objective", "cdrl")])
def test_components_pass_the_core_contract(regs, role, name):
    for dtype in (torch.float32, torch.float64):
        check_component(regs.role(role).get(name), regs, torch.device("cpu"), dtype)


def test_every_recipe_is_a_valid_config(regs):
    for name, (config, _) in RECIPES.items():
        structure_config(config, regs)
        assert name in regs.recipe.names()


def test_short_toy_run_finds_at_least_seven_modes(regs, tmp_path):
    cfg = copy.deepcopy(RECIPES["cdrl-8gaussians"][0])
    cfg["trainer"] = {**cfg["trainer"], "steps": 300, "batch_size": 256, "log_every": 100, "checkpoint_every": 10**6}
    cfg["energy"]["width"] = cfg["initializer"]["width"] = 64
    cfg.update(device="cpu")
    exp = build(structure_config(cfg, regs), regs=regs)
    Trainer(exp, tmp_path / "run", regs=regs, progress=False).fit()
    m = evaluate(exp, 1000, seed=1)
    assert m["modes_covered"] >= 7
    assert "nll_grid" not in m  # a chain of recovery EBMs: sample metrics only


def test_composition_is_a_product_of_experts():
    from ebmcore_cdrl import compose

    torch.manual_seed(0)
    e1 = CDRLEnergy((2,), width=8, n_blocks=1).eval()
    e2 = CDRLEnergy((2,), width=8, n_blocks=1).eval()
    x, t = torch.randn(5, 2), torch.rand(5)
    torch.testing.assert_close(compose(e1, e2)(x, t=t), e1(x, t=t) + e2(x, t=t))
    out = CDRLSampler(n_levels=2, n_steps=2).sample(compose(e1, e2), torch.randn(7, 2))
    assert out.x.shape == (7, 2) and torch.isfinite(out.x).all()
