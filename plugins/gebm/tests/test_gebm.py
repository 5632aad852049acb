"""Behaviour tests of the GEBM plugin (CPU, one thread)."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from ebmcore_gebm import (
    GEBMMLPEnergy,
    GEBMObjective,
    LatentLangevinSampler,
    MLPGenerator,
    kinetic_langevin,
    soft_clip_grad,
)
from ebmcore_gebm.objective import gebm_log_likelihood
from ebmcore_gebm.recipes import RECIPES, trainer_steps
from torch import Tensor

from ebmcore import Batch, Energy, build, registries, structure_config
from ebmcore.components.initializers import GaussianInitializer
from ebmcore.evaluation import evaluate
from ebmcore.testing.contract import check_component
from ebmcore.trainer import Trainer

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def regs():
    return registries()  # discovered plugins: this one must be installed


class Quadratic(Energy):
    """E(x) = a ||x||² / 2 (no parameters beyond a dummy, so it can be trained or frozen)."""

    def __init__(self, a: float, d: int = 2) -> None:
        super().__init__()
        self.event_shape = (d,)
        self.a = torch.nn.Parameter(torch.tensor(float(a), dtype=torch.float64))

    def forward(self, x: Tensor, **cond: Tensor) -> Tensor:
        return 0.5 * self.a * x.pow(2).sum(1)


# --- the log-normaliser A ------------------------------------------------------------------------------


def test_newton_steps_drive_a_to_the_log_mean_exp_optimum():
    torch.manual_seed(0)
    energy = GEBMMLPEnergy((2,), hidden=(16,), dtype=torch.float64)
    base = GaussianInitializer((2,), std=1.5, dtype=torch.float64)
    obj = GEBMObjective(energy, base, gp_weight=0.0, soft_clip=False, a_init_samples=64)
    batch = Batch(torch.randn(64, 2, dtype=torch.float64))
    x_fake = base_draws(base, seed=1, n=64)
    a_star = torch.logsumexp(-energy(x_fake), 0).detach() - math.log(64)
    obj.initialize_log_normalizer()
    obj.log_normalizer.data.fill_(float(a_star) + 1.0)  # one nat above the optimum (Newton on exp overshoots
    # from far above and creeps up by 1 per step from far below; near the optimum it converges quadratically)
    for _ in range(8):  # SGD with lr 1 on the Newton-transformed gradient, same base draws every time
        torch.manual_seed(1)
        out = obj(batch, step=0)
        (g,) = torch.autograd.grad(out.losses["energy"], obj.log_normalizer)
        obj.log_normalizer.data -= g
    torch.manual_seed(1)
    out = obj(batch, step=0)
    assert float(obj.log_normalizer.detach()) == pytest.approx(float(a_star), abs=1e-9)  # A* = log mean exp(-E)
    assert float(out.metrics["gebm/mean_exp"]) == pytest.approx(1.0, abs=1e-9)  # dF/dA = 1 - m = 0 there


def base_draws(base: GaussianInitializer, *, seed: int, n: int) -> Tensor:
    torch.manual_seed(seed)
    return base.sample_with_log_prob(n)[0]


def test_monte_carlo_initialisation_of_a():
    torch.manual_seed(0)
    energy = GEBMMLPEnergy((2,), hidden=(16,), dtype=torch.float64)
    base = GaussianInitializer((2,), dtype=torch.float64)
    obj = GEBMObjective(energy, base, a_init_samples=2000)
    torch.manual_seed(3)
    obj.initialize_log_normalizer()
    torch.manual_seed(3)
    draws = torch.cat([base.sample_with_log_prob(1024)[0], base.sample_with_log_prob(976)[0]])
    with torch.no_grad():
        expected = torch.logsumexp(-energy.eval()(draws), 0) - math.log(2000)  # A is initialised in eval mode
    assert float(obj.log_normalizer.detach()) == pytest.approx(float(expected), abs=1e-12)


def test_soft_clip_bounds_gradients_and_zeroes_non_finite_ones():
    p = torch.tensor([0.0, 1.0, 2.0, 3.0], requires_grad=True)
    (soft_clip_grad(p) * torch.tensor([100.0, 1.0, math.inf, -0.5])).sum().backward()
    torch.testing.assert_close(p.grad, torch.tensor([2 * 100 / (1 + 100**2), 1.0, 0.0, -0.8]))


# --- the schedule and the groups -----------------------------------------------------------------------


def test_schedule_matches_the_official_alternation():
    energy = GEBMMLPEnergy((2,), hidden=(8,))
    obj = GEBMObjective(energy, MLPGenerator((2,), hidden=(8,)), burst_steps=4, n_critic=2, burst_every=3)
    phases = "".join("B" if obj.phase(s) == "base" else "e" for s in range(22))
    # base iterations 0, 1: 4 critic steps (bursts); 2: 2; 3: burst (3 % 3 == 0); 4: 2
    assert phases == "eeeeB" + "eeeeB" + "eeB" + "eeeeB" + "eeB" + "e"
    assert trainer_steps(5, n_critic=2, burst_steps=4, burst_every=3) == 21


def test_each_step_trains_one_group_and_the_base_loss_leaves_the_energy_alone():
    torch.manual_seed(0)
    energy = GEBMMLPEnergy((2,), hidden=(16,))
    base = MLPGenerator((2,), hidden=(16,))
    obj = GEBMObjective(energy, base, burst_steps=1, n_critic=1, a_init_samples=64)
    batch = Batch(torch.randn(32, 2))
    out_e = obj(batch, step=0)
    assert set(out_e.losses) == {"energy"} and "kale" in out_e.metrics
    e_params = obj.parameter_groups()["energy"]
    assert any(p is obj.log_normalizer for p in e_params)
    out_b = obj(batch, step=1)
    assert set(out_b.losses) == {"base"}
    grads = torch.autograd.grad(out_b.losses["base"], e_params, allow_unused=True, retain_graph=True)
    assert all(g is None or not g.abs().sum() for g in grads)
    gb = torch.autograd.grad(out_b.losses["base"], obj.parameter_groups()["base"], allow_unused=True)
    assert any(g is not None and g.abs().sum() > 0 for g in gb)


def test_a_generator_base_requires_latents_or_density():
    from ebmcore.components.initializers import UniformInitializer

    with pytest.raises(TypeError, match="reparameterised samples"):
        GEBMObjective(GEBMMLPEnergy((2,)), UniformInitializer((2,)))


# --- sampling ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kernel", ["kla", "ula"])
def test_langevin_with_zero_energy_leaves_the_latent_prior_invariant(kernel):
    torch.manual_seed(0)
    z0 = torch.randn(10000, 2, dtype=torch.float64)

    def prior(z: Tensor) -> Tensor:
        return 0.5 * z.pow(2).sum(1)

    if kernel == "kla":
        z = kinetic_langevin(prior, z0, n_steps=500, step_size=1e-3, friction=100.0)
    else:
        z = LatentLangevinSampler(kernel="ula", n_steps=500, step_size=1e-2)._run(prior, z0)
    assert float(z.mean(0).abs().max()) < 0.05
    assert float((z.var(0) - 1).abs().max()) < 0.05
    assert float((z - z0).abs().mean()) > 0.3  # the chains really moved


def test_latent_sampling_never_leaves_the_base_support():
    """Latent MCMC moves z; samples stay G(z): a base whose image is the line y = 0 keeps every sample there."""
    torch.manual_seed(0)
    base = MLPGenerator((2,), latent_dim=1, hidden=(8,), batch_norm=False)
    with torch.no_grad():
        base.net[-1].weight[1].zero_()
        base.net[-1].bias[1] = 0.0
    energy = GEBMMLPEnergy((2,), hidden=(16,))
    out = LatentLangevinSampler(kernel="kla", n_steps=50, step_size=1e-2, temperature=10.0).generate(energy, base, 256)
    assert float(out.x[:, 1].abs().max()) == 0.0
    sir = LatentLangevinSampler(kernel="sir", sir_pool=4).generate(energy, base, 256)
    assert float(sir.x[:, 1].abs().max()) == 0.0 and 0 < float(sir.stats["sir_ess"]) <= 1


# --- a density base --------------------------------------------------------------------------------------


def test_gebm_log_likelihood_with_a_gaussian_base_is_exact_for_a_gaussian_model():
    # base N(0, 2²I), energy a|x|²/2 with a = 1 - 1/4: Q ∝ exp(-|x|²/2) g(x)/... = N(0, I) exactly
    torch.manual_seed(0)
    base = GaussianInitializer((2,), std=2.0, dtype=torch.float64)
    energy = Quadratic(1.0 - 0.25)
    x = torch.randn(50, 2, dtype=torch.float64)
    log_q, ess = gebm_log_likelihood(energy, base, x, n_samples=200000)
    exact = -0.5 * x.pow(2).sum(1) - math.log(2 * math.pi)
    torch.testing.assert_close(log_q, exact, atol=0.02, rtol=0)
    assert 0.2 < float(ess) <= 1.0


# --- registration and a short run ------------------------------------------------------------------------


@pytest.mark.parametrize("role,name", [("energy", "gebm_mlp"), ("energy", "gebm_conv"), ("initializer", "gebm_mlp_generator"),
                                       ("initializer", "gebm_conv_generator"), ("objective", "gebm"),
                                       ("sampler", "gebm_latent")])
def test_components_pass_the_core_contract(regs, role, name):
    for dtype in (torch.float32, torch.float64):
        check_component(regs.role(role).get(name), regs, torch.device("cpu"), dtype)


def test_every_recipe_is_a_valid_config(regs):
    for name, (config, _) in RECIPES.items():
        structure_config(config, regs)
        assert name in regs.recipe.names()


def test_short_toy_run_improves_on_its_base_and_stays_finite(regs, tmp_path):
    cfg = copy.deepcopy(RECIPES["gebm-8gaussians"][0])
    cfg["trainer"] = {**cfg["trainer"], "steps": trainer_steps(300), "batch_size": 128, "log_every": 100,
                      "checkpoint_every": 10**6}
    cfg.update(device="cpu")
    exp = build(structure_config(cfg, regs), regs=regs)
    trainer = Trainer(exp, tmp_path / "run", regs=regs, progress=False)
    trainer.fit()
    import json

    logs = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    kale = [r["kale"] for r in logs if "kale" in r]
    assert kale and all(math.isfinite(k) for k in kale)
    refined = evaluate(exp, 2000, seed=1)
    assert "nll_grid" not in refined  # an implicit base: no density metrics of exp(-E) alone
    exp.sampler.kernel = "none"
    base_only = evaluate(exp, 2000, seed=1)
    assert refined["modes_covered"] <= base_only["modes_covered"]
    assert refined["share_within_3std"] >= base_only["share_within_3std"] + 0.05


def test_a_flow_base_gives_a_gebm_with_a_density(regs, tmp_path):
    """Any density initializer is a base (here ebmcore-nfmle's RealNVP): the GEBM then has a density,
    evaluated exactly on the grid (E - log g) and by importance sampling in any dimension."""
    pytest.importorskip("ebmcore_nfmle")
    cfg = copy.deepcopy(RECIPES["gebm-8gaussians"][0])
    cfg["initializer"] = {"name": "realnvp", "n_layers": 4, "hidden": [32, 32]}
    cfg["sampler"] = {"name": "gebm_latent", "kernel": "sir", "temperature": 1.0}
    cfg["trainer"] = {**cfg["trainer"], "steps": trainer_steps(20, burst_steps=10), "batch_size": 128,
                      "log_every": 50, "checkpoint_every": 10**6}
    cfg["objective"] = {**cfg["objective"], "burst_steps": 10}
    cfg.update(device="cpu")
    exp = build(structure_config(cfg, regs), regs=regs)
    Trainer(exp, tmp_path / "run", regs=regs, progress=False).fit()
    m = evaluate(exp, 500, seed=1)
    assert math.isfinite(m["nll_grid"])
    x = exp.dataset.test[:200]
    with torch.no_grad():
        log_q, ess = gebm_log_likelihood(exp.energy.eval(), exp.initializer, x, n_samples=20000)
    from ebmcore.metrics.grid import grid_log_normalizer

    with torch.no_grad():
        exact = -(exp.model_energy(x)) - grid_log_normalizer(exp.model_energy, box=(-6.0, 6.0), n_grid=300)
    torch.testing.assert_close(log_q.double(), exact.double(), atol=0.05, rtol=0)  # IS estimate vs quadrature
    assert 0 < float(ess) <= 1
