"""Behaviour tests of the VAPO plugin (CPU, each well under a minute with one thread)."""

from __future__ import annotations

import math

import pytest
import torch
from ebmcore_vapo import (
    HasPotential,
    VAPOMLPEnergy,
    VAPOObjective,
    VAPOODESampler,
    VAPOUNetEnergy,
    get_path,
    slerp,
)
from ebmcore_vapo.energies import _PotentialEnergy
from ebmcore_vapo.recipes import RECIPES
from torch import Tensor, nn

import ebmcore
from ebmcore import Batch, BuildContext, registries, sampling_mode, structure_config
from ebmcore.evaluation import generate
from ebmcore.metrics import mmd2, mode_statistics
from ebmcore.testing.contract import check_component
from ebmcore.trainer import Trainer

torch.set_num_threads(1)

# --- an analytic case: data N(m, s^2 I), linear path -> rho_t = N(t m, (t^2 s^2 + (1-t)^2) I) ------------

M = (1.0, -2.0)
S = 0.5


def _var(t: Tensor) -> Tensor:
    return t.pow(2) * S**2 + (1 - t).pow(2)


def _quad(x: Tensor, t: Tensor) -> Tensor:
    """-log rho_t(x) without its normaliser (a function of t only), (B,)."""
    m = torch.tensor(M, dtype=x.dtype)
    return (x - t[:, None] * m).pow(2).sum(1) / (2 * _var(t))


def _neg_log_rho(x: Tensor, t: Tensor) -> Tensor:
    """Exact -log rho_t(x), (B,)."""
    return _quad(x, t) + 0.5 * x.shape[1] * torch.log(2 * math.pi * _var(t))


class GaussianPotential(_PotentialEnergy):
    """Exact potential Phi*(x, t) = |x|^2/(2t) + ((1-t)/t) log rho_t(x) + c(t), times a learnable scale ``a``.

    c(t) cancels rho_t's normaliser: Phi is defined up to c(t), and a large c(t) ~ 1/t only adds variance to
    the phi-form estimator."""

    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        self.event_shape = (2,)
        self.conditions = frozenset({"t"})
        self.path = get_path("linear")
        self.readout_t = 0.99
        self.a = nn.Parameter(torch.tensor(float(scale), dtype=torch.float64))
        self.calls = 0

    def potential(self, x: Tensor, t: Tensor, **cond: Tensor) -> Tensor:
        self.calls += 1
        t = t.to(x.dtype).reshape(-1).expand(x.shape[0])
        phi = x.pow(2).sum(1) / (2 * t) - (1 - t) / t * _quad(x, t)
        return self.a.to(x.dtype) * phi


class GaussianEnergy(nn.Module):
    """The same path as an ordinary (non-potential) time-conditioned energy: E_t = -log rho_t."""

    conditions = frozenset({"t"})

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        return _neg_log_rho(x, t.to(x.dtype))


def _exact_endpoint(x0: Tensor, t0: float, t1: float) -> Tensor:
    """Flow map of the exact velocity: x_t - t m scales by sqrt(var_t / var_t0)."""
    m = torch.tensor(M, dtype=x0.dtype)
    r = (_var(torch.tensor(t1, dtype=x0.dtype)) / _var(torch.tensor(t0, dtype=x0.dtype))).sqrt()
    return t1 * m + r * (x0 - t0 * m)


@pytest.mark.parametrize(
    ("method", "rtol", "tol"),
    [("rk4", 1e-3, 1e-4), ("dopri5", 1e-7, 1e-4), ("dopri5", 1e-3, 0.15), ("euler", 1e-3, 0.15)],
)
def test_ode_matches_closed_form_flow(method, rtol, tol):
    torch.manual_seed(0)
    pot = GaussianPotential()
    sampler = VAPOODESampler(method=method, n_steps=100, rtol=rtol, atol=rtol)
    x0 = torch.randn(256, 2, dtype=torch.float64)
    res = sampler.sample(pot, x0)
    exact = _exact_endpoint(x0, sampler.t_min, 1 - sampler.t_min)
    assert res.x.dtype == torch.float64 and res.x.shape == x0.shape and not res.x.requires_grad
    assert (res.x - exact).abs().max() < tol
    # NFE is counted exactly: every drift evaluation is one potential call
    assert res.n_grad_evals == res.n_energy_evals == pot.calls == int(res.stats["nfe"])
    if method == "rk4":
        assert res.n_grad_evals == 400
    if method == "euler":
        assert res.n_grad_evals == 100
    # the endpoint is a sample of the data distribution N(m, s^2 I)
    assert (res.x.mean(0) - torch.tensor(M, dtype=torch.float64)).abs().max() < 0.1
    assert (res.x.std(0) - S).abs().max() < 0.06


def test_ode_converts_time_conditioned_energies():
    """A non-potential energy E_t = -log rho_t gives the same flow via v = (x - (1-t) grad E) / t."""
    torch.manual_seed(0)
    x0 = torch.randn(64, 2, dtype=torch.float64)
    sampler = VAPOODESampler(method="rk4", n_steps=100)
    res = sampler.sample(GaussianEnergy(), x0)
    assert not isinstance(GaussianEnergy(), HasPotential)
    assert (res.x - _exact_endpoint(x0, sampler.t_min, 1 - sampler.t_min)).abs().max() < 1e-4


def test_float32_sampling_keeps_dtype():
    pot = GaussianPotential().float()
    x0 = torch.randn(32, 2)
    res = VAPOODESampler(method="dopri5").sample(pot, x0)
    assert res.x.dtype == torch.float32 and torch.isfinite(res.x).all()


def test_energy_readout_matches_log_density():
    """forward(x) (t = 0.99 by default) = -log rho_0.99(x) + const for the exact potential."""
    pot = GaussianPotential()
    x = 3 * torch.randn(500, 2, dtype=torch.float64)
    e = pot(x)
    t = torch.full((500,), 0.99, dtype=torch.float64)
    diff = e - _neg_log_rho(x, t)
    assert diff.std() < 1e-6 * diff.abs().max().clamp_min(1.0)
    # at another t too, and the conversion energy -> potential -> energy round trips
    t2 = torch.full((500,), 0.3, dtype=torch.float64)
    diff2 = pot(x, t=t2) - _neg_log_rho(x, t2)
    assert diff2.std() < 1e-8
    path = get_path("linear")
    sq = x.pow(2).sum(1)
    e0 = _neg_log_rho(x, t2)
    assert torch.allclose(path.energy_from_potential(path.potential_from_energy(e0, sq, t2), sq, t2), e0)
    # the read-out of a VAPO energy is the potential's transform
    net = VAPOMLPEnergy((2,), hidden=(16,), dtype=torch.float64)
    phi = net.potential(x, t.clone())
    assert torch.allclose(net(x, t=t), (0.5 * sq - 0.99 * phi) / 0.01)
    assert net.readout_t == 0.9 and torch.allclose(net(x), net(x, t=torch.full((500,), 0.9, dtype=torch.float64)))


@pytest.mark.parametrize("form", ["grad", "phi"])
def test_loss_is_stationary_at_the_exact_potential(form):
    """dL/da = 0 in expectation at Phi = Phi* (a = 1) and > 0 at a = 1.5: both estimators target Phi*."""
    torch.manual_seed(0)
    data = torch.tensor(M, dtype=torch.float64) + S * torch.randn(20000, 2, dtype=torch.float64)
    slopes = []
    for a in (1.0, 1.5):
        torch.manual_seed(1)
        pot = GaussianPotential(a)
        obj = VAPOObjective(pot, form=form, t_min=1e-3)
        loss = obj(Batch(data), 0).losses["energy"]
        (g,) = torch.autograd.grad(loss, [pot.a])
        slopes.append(float(g))
    assert abs(slopes[0]) < 0.15 * slopes[1], slopes  # phi form: noisier (score-function estimator)


def _objective(energy, form, **kw):
    return VAPOObjective(energy, form=form, **kw)


@pytest.mark.parametrize("form", ["grad", "phi"])
@pytest.mark.parametrize("kind", ["mlp", "unet"])
def test_gradient_reaches_all_parameters(form, kind):
    torch.manual_seed(0)
    if kind == "mlp":
        energy = VAPOMLPEnergy((2,), hidden=(32, 32))
        x = torch.randn(32, 2)
    else:
        energy = VAPOUNetEnergy((1, 8, 8), channels=(8, 16), zero_init=False)
        x = torch.randn(8, 1, 8, 8)
    obj = _objective(energy, form, time_penalty=0.1)
    out = obj(Batch(x), 0)
    loss = out.losses["energy"]
    assert loss.shape == () and torch.isfinite(loss)
    params = list(obj.parameter_groups()["energy"])
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    names = [n for n, _ in energy.named_parameters()]
    dead = [n for n, g in zip(names, grads) if g is None or g.abs().sum() == 0]
    if kind == "mlp" and form == "grad":  # grad_x Phi and d_t Phi do not depend on the output bias
        assert dead == ["out.bias"]
        dead = []
    assert not dead, dead
    assert {"vapo/sq_norm", "vapo/cross", "vapo/grad_norm", "vapo/fm_residual", "vapo/time_penalty"} <= set(out.metrics)
    assert all(not m.requires_grad for m in out.metrics.values())


def test_unet_shapes_and_zero_init():
    torch.manual_seed(0)
    for shape, ch in (((1, 8, 8), (8, 16)), ((3, 32, 32), (8, 16, 16))):
        net = VAPOUNetEnergy(shape, channels=ch, num_res_blocks=1)
        x = torch.randn(2, *shape)
        t = torch.rand(2)
        # zero-initialised output: U = 0, Phi = |x|^2 / 2
        assert torch.allclose(net.potential(x, t), 0.5 * x.flatten(1).pow(2).sum(1))
        assert net(x).shape == (2,)
    with pytest.raises(ValueError, match="divisible"):
        VAPOUNetEnergy((1, 6, 6), channels=(8, 16, 16))


def test_objective_accepts_other_energies():
    """Core energies: with t when they declare it, without it otherwise; gradients reach the time embedding."""
    regs = registries()
    ctx = BuildContext.for_shape((2,))
    mlp_t = regs.energy.get("mlp").factory(regs.energy.get("mlp").config_cls(time_conditioned=True), ctx)
    out = VAPOObjective(mlp_t, t_min=0.05)(Batch(torch.randn(16, 2)), 0)
    out.losses["energy"].backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in mlp_t.cond.parameters())
    mlp = regs.energy.get("mlp").factory(regs.energy.get("mlp").config_cls(), ctx)
    out = VAPOObjective(mlp, form="phi")(Batch(torch.randn(16, 2)), 0)
    assert torch.isfinite(out.losses["energy"])


def test_contracts_of_vapo_components():
    regs = registries()
    for role, name in (("energy", "vapo_mlp"), ("energy", "vapo_unet"), ("sampler", "vapo_ode"), ("objective", "vapo")):
        check_component(regs.role(role).get(name), regs, torch.device("cpu"), torch.float32)


def test_recipes_are_valid_configs():
    regs = registries()
    for name, (config, _) in RECIPES.items():
        structure_config(config, regs)  # raises ConfigError on any problem
        assert name in regs.recipe.names()


def _train_8gaussians(tmp_path, cross_sign: float):
    cfg = {**RECIPES["vapo-8gaussians"][0]}
    cfg.update(
        data={"name": "8gaussians", "n_train": 20000, "n_test": 2000},
        objective={"name": "vapo", "form": "grad", "cross_sign": cross_sign},
        trainer={**cfg["trainer"], "steps": 600, "log_every": 600, "checkpoint_every": 0},
        device="cpu",
    )
    regs = registries()
    exp = ebmcore.build(cfg, regs=regs)
    Trainer(exp, tmp_path / f"run{cross_sign}", regs=regs, progress=False).fit()
    res = generate(exp, 2000, seed=1)
    stats = mode_statistics(res.x, exp.dataset.mixture)
    return stats.modes_with_share_above(0.02), float(mmd2(res.x, exp.dataset.test[:2000])), res


def test_8gaussians_grad_form_learns_and_flipped_sign_fails(tmp_path):
    modes, mmd, res = _train_8gaussians(tmp_path, 1.0)
    assert res.n_grad_evals == 400 and torch.isfinite(res.x).all()
    assert modes >= 7 and mmd < 0.06, (modes, mmd)
    modes_bad, mmd_bad, _ = _train_8gaussians(tmp_path, -1.0)
    assert not (modes_bad >= 7 and mmd_bad < 0.06), (modes_bad, mmd_bad)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_composition_vapo_then_core_mala(dtype):
    """VAPO ODE samples as starting states for core MALA on another (core ``mlp``) energy."""
    torch.manual_seed(0)
    regs = registries()
    ctx = BuildContext.for_shape((2,), dtype=dtype)
    vapo_energy = VAPOMLPEnergy((2,), hidden=(32, 32), dtype=dtype)
    ode = VAPOODESampler(method="rk4", n_steps=10)
    init = regs.initializer.get("gaussian").factory(regs.initializer.get("gaussian").config_cls(), ctx).to(dtype=dtype)
    other = regs.energy.get("mlp").factory(regs.energy.get("mlp").config_cls(), ctx)
    mala = regs.sampler.get("mala").factory(regs.sampler.get("mala").config_cls(n_steps=5), ctx)
    with sampling_mode(vapo_energy, other, mala):
        start = ode.generate(vapo_energy, init, 64)
        refined = mala.sample(other, start.x)
    assert start.x.dtype == refined.x.dtype == dtype
    assert refined.x.shape == (64, 2) and torch.isfinite(refined.x).all() and not refined.x.requires_grad
    assert not torch.equal(refined.x, start.x)


def test_interpolation_and_inpainting():
    torch.manual_seed(0)
    pot = GaussianPotential()
    sampler = VAPOODESampler(method="rk4", n_steps=20)
    a, b = torch.randn(2, dtype=torch.float64), torch.randn(2, dtype=torch.float64)
    z = slerp(a, b, torch.linspace(0, 1, 5, dtype=torch.float64))
    assert torch.allclose(z[0], a) and torch.allclose(z[-1], b)
    al = torch.linspace(0, 1, 5, dtype=torch.float64)
    lin = (1 - al) * a.norm() + al * b.norm()
    assert torch.allclose(z.norm(dim=1), lin)
    res = sampler.interpolate(pot, a, b, 5)
    assert res.x.shape == (5, 2)
    assert torch.allclose(res.x[0], sampler.sample(pot, a[None]).x[0])
    # inpainting a 2-D Gaussian with independent coordinates: the known coordinate is kept exactly, the
    # unknown one is a draw from its marginal N(m_1, s^2)
    x_known = torch.tensor(M, dtype=torch.float64).repeat(4000, 1) + S * torch.randn(4000, 2, dtype=torch.float64)
    mask = torch.tensor([True, False])
    out = sampler.inpaint(pot, x_known, mask)
    assert torch.equal(out.x[:, 0], x_known[:, 0])
    assert abs(float(out.x[:, 1].mean()) - M[1]) < 0.05 and abs(float(out.x[:, 1].std()) - S) < 0.05
    # images: shape and known pixels kept
    net = VAPOUNetEnergy((1, 8, 8), channels=(8, 16))
    img = torch.rand(3, 1, 8, 8) * 2 - 1
    mask_img = torch.zeros(1, 1, 8, 8, dtype=torch.bool)
    mask_img[..., :4, :] = True
    with sampling_mode(net):
        res_img = sampler.inpaint(net, img, mask_img)
    assert res_img.x.shape == img.shape and torch.equal(res_img.x[..., :4, :], img[..., :4, :])
