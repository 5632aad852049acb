"""Behaviour tests of the DCD plugin (CPU, one thread)."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from ebmcore_dcd import DCDObjective, RecoverySampler, VPSchedule, denoise, posterior_langevin, psnr
from ebmcore_dcd.celeba import CelebA32Config, load_celeba32
from ebmcore_dcd.recipes import RECIPES
from torch import Tensor, nn

from ebmcore import Batch, ConfigError, Energy, build, registries, structure_config
from ebmcore.testing.contract import check_component
from ebmcore.trainer import Trainer, TrainingDiverged

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def regs():
    return registries()  # discovered plugins: this one must be installed


class GaussianEnergy(Energy):
    """E(x) = |x|² / (2 θ): the model N(0, θ I); θ is the parameter."""

    def __init__(self, theta: float, d: int = 1) -> None:
        super().__init__()
        self.event_shape = (d,)
        self.theta = nn.Parameter(torch.tensor(theta, dtype=torch.float64))

    def forward(self, x: Tensor, **cond: Tensor) -> Tensor:
        return x.pow(2).sum(1) / (2 * self.theta)


def _exact_dcd_grad(theta: float, v_d: float, s: float) -> float:
    """d/dθ of DCD for data N(0, v_d), model N(0, θ), VE noise s (method notes B.3, in closed form)."""
    tau2 = 1.0 / (1.0 / theta + 1.0 / s**2)  # posterior variance of x' given y
    ex2_neg = tau2 + (tau2 / s**2) ** 2 * (v_d + s**2)  # E[x'^2] over y ~ N(0, v_d + s^2)
    return -v_d / (2 * theta**2) + ex2_neg / (2 * theta**2)


@pytest.mark.parametrize("estimator", ["snis", "langevin"])
def test_estimator_gradient_matches_the_exact_recovery_likelihood_gradient(estimator):
    torch.manual_seed(0)
    theta, v_d, s = 0.5, 2.0, 0.7
    energy = GaussianEnergy(theta)
    kw = dict(estimator="snis", n_proposals=4000, data_weight=0.0) if estimator == "snis" else dict(
        estimator="langevin", n_steps=40, step_frac=0.5, metropolis=True)
    obj = DCDObjective(energy, kernel="ve", noise=s, **kw)
    x = torch.randn(4000 if estimator == "snis" else 40000, 1, dtype=torch.float64) * math.sqrt(v_d)
    (g,) = torch.autograd.grad(obj(Batch(x), 0).losses["energy"], energy.theta)
    exact = _exact_dcd_grad(theta, v_d, s)
    assert float(g) == pytest.approx(exact, rel=0.05)
    assert exact < 0  # the model is too narrow: the gradient widens it


def test_the_data_point_proposal_only_adds_an_o_1_over_m_bias():
    torch.manual_seed(0)
    energy = GaussianEnergy(0.5)
    x = torch.randn(4000, 1, dtype=torch.float64) * math.sqrt(2.0)
    obj = DCDObjective(energy, noise=0.7, estimator="snis", n_proposals=4000, data_weight=1.0)
    (g,) = torch.autograd.grad(obj(Batch(x), 0).losses["energy"], energy.theta)
    assert float(g) == pytest.approx(_exact_dcd_grad(0.5, 2.0, 0.7), rel=0.05)


def test_one_big_unadjusted_posterior_step_is_refused_with_the_reason(regs):
    cfg = copy.deepcopy(RECIPES["dcd-8gaussians-langevin"][0])
    cfg["objective"].update(n_steps=1, step_frac=0.5)
    with pytest.raises(ConfigError, match="diverge"):
        structure_config(cfg, regs)
    cfg["objective"]["metropolis"] = True  # exact MALA steps are safe at any step size
    structure_config(cfg, regs)


def test_mala_posterior_steps_leave_the_exact_posterior_invariant():
    torch.manual_seed(0)
    theta, s = 0.5, 0.7
    energy = GaussianEnergy(theta)
    y0 = torch.full((20000, 1), 1.5, dtype=torch.float64)
    tau2 = 1.0 / (1.0 / theta + 1.0 / s**2)
    mu = tau2 * 1.5 / s**2
    s2 = torch.full((20000,), s**2, dtype=torch.float64)
    x, acc = posterior_langevin(energy, y0, s2, n_steps=30, step=1.0 * s2, metropolis=True)
    assert float(x.mean()) == pytest.approx(mu, abs=0.02)
    assert float(x.var()) == pytest.approx(tau2, rel=0.05)
    assert 0.2 < float(acc) <= 1.0


def test_ancestral_recovery_with_exact_level_energies_returns_the_data_law():
    """Data N(0, v): level k's marginal is N(0, ā_k² v + 1 - ā_k²); with those energies the sampler must end at N(0, v)."""
    torch.manual_seed(0)
    v = 0.25
    sch = VPSchedule(4)

    class LevelEnergy(Energy):
        event_shape = (1,)
        conditions = frozenset({"t"})

        def forward(self, x: Tensor, **cond: Tensor) -> Tensor:
            k = torch.round(cond["t"] * sch.n_levels).long()
            a_bar = sch.a_bar.to(x.dtype)[k]
            var = a_bar.pow(2) * v + 1 - a_bar.pow(2)
            return x.pow(2).sum(1) / (2 * var)

    a_bar_n = float(sch.a_bar[-1])
    x_n = torch.randn(20000, 1, dtype=torch.float64) * math.sqrt(a_bar_n**2 * v + 1 - a_bar_n**2)
    out = RecoverySampler(n_levels=4, n_steps=100, step_frac=1.0, metropolis=True).sample(LevelEnergy(), x_n)
    assert float(out.x.var()) == pytest.approx(v, rel=0.06)
    assert out.n_grad_evals == 4 * 101


def test_vp_schedule_reaches_noise_and_starts_at_the_data():
    sch = VPSchedule(6)
    assert float(sch.a_bar[0]) == 1.0 and float(sch.a_bar[-1]) < 0.01
    assert bool(((sch.a > 0) & (sch.a < 1)).all())


def test_map_denoising_of_gaussian_data_is_the_wiener_filter():
    torch.manual_seed(0)
    v, sigma = 0.09, 0.3
    energy = GaussianEnergy(v, d=4)
    x = torch.randn(500, 4, dtype=torch.float64) * math.sqrt(v)
    y = x + sigma * torch.randn_like(x)
    out = denoise(energy, y, sigma, method="map", n_steps=400, step_frac=0.1)
    torch.testing.assert_close(out, (y * v / (v + sigma**2)).clamp(-1, 1), atol=1e-4, rtol=0)
    assert psnr(out, x) > psnr(y, x) + 2.5  # the Wiener gain at v = sigma² is 10 log10(2) = 3.0 dB


def test_time_dependent_mode_trains_a_time_conditioned_energy(regs):
    from ebmcore.components.energies import MLPEnergy

    torch.manual_seed(0)
    energy = MLPEnergy((2,), hidden=(16,), time_conditioned=True)
    obj = DCDObjective(energy, time_dependent=True, n_levels=3, estimator="langevin", n_steps=2)
    out = obj(Batch(torch.randn(32, 2)), 0)
    grads = torch.autograd.grad(out.losses["energy"], list(energy.parameters()), allow_unused=True)
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
    with pytest.raises(TypeError, match="accepts 't'"):
        DCDObjective(MLPEnergy((2,), hidden=(16,)), time_dependent=True)


def test_celeba_loader_reads_local_jpegs(tmp_path):
    from PIL import Image

    folder = tmp_path / "img_align_celeba"
    folder.mkdir()
    for i in range(4):
        Image.new("RGB", (178, 218), color=(60 * i, 20, 200)).save(folder / f"{i:06d}.jpg")
    ds = load_celeba32(CelebA32Config(root=str(tmp_path), test_fraction=0.25), 0)
    assert ds.x.shape == (3, 3, 32, 32) and ds.test is not None and ds.test.shape == (1, 3, 32, 32)
    assert float(ds.x.min()) >= -1 and float(ds.x.max()) <= 1
    with pytest.raises(FileNotFoundError, match="nothing is downloaded"):
        load_celeba32(CelebA32Config(root=str(tmp_path / "missing")), 0)


@pytest.mark.parametrize("role,name", [("objective", "dcd"), ("sampler", "recovery"), ("dataset", "celeba32")])
def test_components_pass_the_core_contract(regs, role, name):
    for dtype in (torch.float32, torch.float64):
        check_component(regs.role(role).get(name), regs, torch.device("cpu"), dtype)


def test_every_recipe_is_a_valid_config(regs):
    for name, (config, _) in RECIPES.items():
        structure_config(config, regs)
        assert name in regs.recipe.names()


# --- a short toy run, and the sign-flip control --------------------------------------------------------


def _short(regs, tmp_path, objective: dict, name: str) -> float:
    cfg = copy.deepcopy(RECIPES["dcd-8gaussians"][0])
    cfg["energy"]["hidden"] = [128, 128]
    cfg["objective"] = objective
    cfg["trainer"] = {**cfg["trainer"], "steps": 600, "batch_size": 128, "log_every": 100, "checkpoint_every": 10**6}
    cfg.update(device="cpu")
    exp = build(structure_config(cfg, regs), regs=regs)
    try:
        Trainer(exp, tmp_path / name, regs=regs, progress=False).fit()
    except TrainingDiverged:
        return math.inf
    from ebmcore.metrics.grid import grid_nll

    return grid_nll(exp.energy.eval(), exp.dataset.test, box=(-6.0, 6.0), n_grid=300)


def test_short_snis_run_reaches_low_nll_and_a_sign_flip_does_not(regs, tmp_path):
    dcd = {"name": "dcd", "noise": 0.5, "estimator": "snis", "n_proposals": 16}
    nll = _short(regs, tmp_path, dcd, "dcd")
    assert nll < 3.4  # true 2.83; N(0, 3²I) scores about 4.5
    flipped = _short(regs, tmp_path, {"name": "weighted_sum", "terms": [{"weight": -1.0, "objective": dcd}]}, "flip")
    assert flipped > 3.4


def test_a_time_dependent_run_is_evaluated_at_the_data_level(regs, tmp_path):
    """The model density of the time mode is exp(-E(x, t=0)): 2-D evaluation (grid NLL) and sampling run."""
    from ebmcore.evaluation import evaluate

    cfg = copy.deepcopy(RECIPES["dcd-8gaussians"][0])
    cfg["energy"] = {"name": "mlp", "hidden": [32, 32], "time_conditioned": True}
    cfg["objective"] = {"name": "dcd", "time_dependent": True, "n_levels": 3, "estimator": "langevin", "n_steps": 2}
    cfg["sampler"] = {"name": "recovery", "n_levels": 3, "n_steps": 3}
    cfg["trainer"] = {**cfg["trainer"], "steps": 20, "batch_size": 64, "log_every": 10, "checkpoint_every": 10**6}
    cfg.update(device="cpu")
    exp = build(structure_config(cfg, regs), regs=regs)
    Trainer(exp, tmp_path / "run", regs=regs, progress=False).fit()
    m = evaluate(exp, 200, seed=1)
    assert math.isfinite(m["nll_grid"]) and math.isfinite(m["mmd2"])


def test_time_mode_generation_walks_the_levels_while_evaluation_sees_the_data_level(regs):
    """The model energy defaults to t = 0 only when no level is given: the recovery sampler still passes each
    level's t (a regression: generation once ran every level at t = 0)."""
    from ebmcore.evaluation import generate

    cfg = copy.deepcopy(RECIPES["dcd-8gaussians"][0])
    cfg["energy"] = {"name": "mlp", "hidden": [16], "time_conditioned": True}
    cfg["objective"] = {"name": "dcd", "time_dependent": True, "n_levels": 3, "estimator": "langevin", "n_steps": 2}
    cfg["sampler"] = {"name": "recovery", "n_levels": 3, "n_steps": 1}
    cfg.update(device="cpu")
    exp = build(structure_config(cfg, regs), regs=regs)
    seen = []
    forward = exp.energy.forward
    exp.energy.forward = lambda x, **cond: (seen.append(float(cond["t"][0])), forward(x, **cond))[1]
    generate(exp, 8, seed=0)
    level_times = sorted(set(seen))
    assert len(level_times) == 3 and level_times[0] == 0.0 and level_times[-1] > 0
    seen.clear()
    exp.model_energy(torch.zeros(4, 2))
    assert seen == [0.0]
