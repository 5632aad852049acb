"""Behaviour tests of the NF-MLE plugin (CPU, one thread; the two training checks take a few seconds each)."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from ebmcore_nfmle import (
    FlowMCMCSampler,
    NFMLEObjective,
    RealNVPFlow,
    TiltedEnergy,
    ZukoFlow,
    imh_step,
    isir_step,
)
from ebmcore_nfmle.recipes import RECIPES
from torch import Tensor, nn

from ebmcore import Batch, Energy, build, registries, structure_config
from ebmcore.components.initializers import GaussianInitializer
from ebmcore.metrics.grid import grid_mode_weights
from ebmcore.testing.contract import check_component
from ebmcore.testing.resume import crash_and_resume
from ebmcore.trainer import Trainer

torch.set_num_threads(1)


def _perturbed_flow(d: int = 2, seed: int = 0, dtype: torch.dtype = torch.float64) -> RealNVPFlow:
    """A RealNVP flow moved away from the identity (random last layers), in float64."""
    torch.manual_seed(seed)
    flow = RealNVPFlow((d,), n_layers=4, hidden=(16,), base_std=1.5, dtype=dtype)
    with torch.no_grad():
        for layer in flow.layers:
            last = layer.net[-1]
            last.weight.normal_(0, 0.5)
            last.bias.normal_(0, 0.3)
    return flow


class FlowTargetEnergy(Energy):
    """E(x) = -log q(x) for a given flow: the flow is the exact target."""

    def __init__(self, flow: nn.Module) -> None:
        super().__init__()
        self.flow = flow
        self.event_shape = flow.event_shape

    def forward(self, x: Tensor, **cond: Tensor) -> Tensor:
        return -self.flow.log_prob(x)


class MixtureEnergy(Energy):
    """-log of the 1-D mixture 0.3 N(-2, 0.5²) + 0.7 N(2, 0.5²) (normalised)."""

    event_shape = (1,)

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("means", torch.tensor([-2.0, 2.0], dtype=torch.float64))
        self.register_buffer("logw", torch.tensor([0.3, 0.7], dtype=torch.float64).log())

    def forward(self, x: Tensor, **cond: Tensor) -> Tensor:
        z = (x - self.means) / 0.5  # (B, 2)
        comp = self.logw - 0.5 * z.pow(2) - math.log(0.5 * math.sqrt(2 * math.pi))
        return -torch.logsumexp(comp, dim=1)

    def sample(self, n: int) -> Tensor:
        right = torch.rand(n, dtype=torch.float64) < 0.7
        return (torch.where(right, 2.0, -2.0) + 0.5 * torch.randn(n, dtype=torch.float64)).unsqueeze(1)


# --- the flow ---------------------------------------------------------------------------------------


def test_realnvp_starts_as_its_base_and_both_directions_agree():
    flow = RealNVPFlow((2,), n_layers=8, hidden=(32, 32), base_std=3.0, dtype=torch.float64)
    x = torch.randn(64, 2, dtype=torch.float64) * 3
    expected = GaussianInitializer((2,), std=3.0, dtype=torch.float64).log_prob(x)
    torch.testing.assert_close(flow.log_prob(x), expected)  # identity at initialisation
    flow = _perturbed_flow()
    torch.manual_seed(1)
    y, lq = flow.sample_with_log_prob(256)
    torch.testing.assert_close(flow.log_prob(y), lq, rtol=1e-9, atol=1e-9)
    z, logdet_inv = flow.inverse_transform(y)
    y2, logdet_fwd = flow.forward_transform(z)
    torch.testing.assert_close(y2, y)
    torch.testing.assert_close(logdet_inv, -logdet_fwd)


def test_realnvp_density_integrates_to_one_and_samples_are_reparameterised():
    flow = _perturbed_flow()
    g = torch.linspace(-30, 30, 1201, dtype=torch.float64)  # the perturbed flow has heavy tails
    xx, yy = torch.meshgrid(g, g, indexing="xy")
    pts = torch.stack([xx.reshape(-1), yy.reshape(-1)], 1)
    with torch.no_grad():
        mass = flow.log_prob(pts).exp().sum() * (g[1] - g[0]) ** 2
    assert abs(float(mass) - 1.0) < 1e-4
    x, lq = flow.sample_with_log_prob(32)
    (x.sum() + lq.sum()).backward()
    assert all(p.grad is not None for p in flow.parameters())


def test_realnvp_rejects_conditions_and_one_feature():
    with pytest.raises(ValueError, match="at least 2 features"):
        RealNVPFlow((1,))
    with pytest.raises(TypeError, match="unconditional"):
        RealNVPFlow((2,)).log_prob(torch.zeros(3, 2), {"y": torch.zeros(3, dtype=torch.long)})


def test_zuko_flow_has_a_consistent_density():
    pytest.importorskip("zuko")
    torch.manual_seed(0)
    flow = ZukoFlow((2,), flow="nsf", transforms=2, hidden=(16,), base_std=2.0, dtype=torch.float64)
    x, lq = flow.sample_with_log_prob(64)
    torch.testing.assert_close(flow.log_prob(x), lq, rtol=1e-6, atol=1e-6)
    assert flow.init(5).shape == (5, 2) and not flow.init(5).requires_grad


# --- the kernels --------------------------------------------------------------------------------------


def test_imh_with_the_exact_target_as_proposal_accepts_everything():
    flow = _perturbed_flow()
    target = FlowTargetEnergy(flow)
    torch.manual_seed(0)
    x = flow.init(4096)
    with torch.no_grad():
        e_x, lq_x = target(x), flow.log_prob(x)
    for _ in range(3):
        x, e_x, lq_x, accepted = imh_step(target, flow, x, e_x, lq_x)
        assert bool(accepted.all())
    sampler = FlowMCMCSampler((2,), n_rounds=3, local_steps=0, persistent=False, dtype=torch.float64).eval()
    result = sampler.generate(target, flow, 2048)
    assert float(result.stats["global_acceptance"]) == 1.0


def test_isir_with_the_exact_target_has_full_ess():
    flow = _perturbed_flow()
    target = FlowTargetEnergy(flow)
    x = flow.init(512)
    with torch.no_grad():
        e_x, lq_x = target(x), flow.log_prob(x)
    *_, ess = isir_step(target, flow, x, e_x, lq_x, n_proposals=8)
    assert float(ess) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("kernel", ["imh", "isir"])
def test_flow_mcmc_leaves_a_1d_mixture_invariant_and_mixes_across_modes(kernel):
    torch.manual_seed(0)
    target = MixtureEnergy()
    proposal = GaussianInitializer((1,), std=3.0, dtype=torch.float64)
    sampler = FlowMCMCSampler(
        (1,), n_rounds=40, global_kernel=kernel, n_proposals=4, local_steps=3, step_size=0.05,
        persistent=False, dtype=torch.float64,
    ).eval()  # eval: no step-size adaptation, an exact fixed kernel
    x0 = target.sample(20000)
    out = sampler.sample(target, x0, proposal=proposal).x
    assert float((out > 0).double().mean()) == pytest.approx(0.7, abs=0.015)  # stationary from stationary
    assert float(out.mean()) == pytest.approx(0.4 * 2.0, abs=0.05)
    assert float(out.var()) == pytest.approx(0.25 + 4.0 - 0.8**2, rel=0.03)  # mixture variance 3.61
    stuck = torch.full((20000, 1), -2.0, dtype=torch.float64)  # every chain in the minority mode
    moved = sampler.sample(target, stuck, proposal=proposal).x
    assert float((moved > 0).double().mean()) == pytest.approx(0.7, abs=0.02)
    local_only = FlowMCMCSampler((1,), n_rounds=10, global_kernel="none", local_steps=3, step_size=0.05,
                                 persistent=False, dtype=torch.float64).eval()
    assert float((local_only.sample(target, stuck).x > 0).double().mean()) < 0.01  # MALA alone cannot cross


def test_flow_mcmc_errors_name_what_is_missing():
    sampler = FlowMCMCSampler((2,), n_chains=8)
    energy = FlowTargetEnergy(_perturbed_flow(dtype=torch.float32))

    from ebmcore.components.initializers import UniformInitializer

    with pytest.raises(TypeError, match="needs an initializer with a density"):
        sampler.generate(energy, UniformInitializer((2,)), 8)
    with pytest.raises(ValueError, match="raise n_chains"):
        sampler.generate(energy, GaussianInitializer((2,)), 16)


def test_persistent_chains_continue_and_eval_does_not_touch_them():
    torch.manual_seed(0)
    flow = _perturbed_flow(dtype=torch.float32)
    energy = FlowTargetEnergy(_perturbed_flow(seed=1, dtype=torch.float32))
    sampler = FlowMCMCSampler((2,), n_chains=64, local_steps=2, dtype=torch.float32)
    assert not bool(sampler.chains_ready)
    first = sampler.generate(energy, flow, 32).x
    torch.testing.assert_close(first, sampler.chains[:32])
    saved = sampler.chains.clone()
    sampler.eval()
    sampler.generate(energy, flow, 64)
    assert torch.equal(sampler.chains, saved)  # generation never moves the training chains
    sampler.train()
    restored = FlowMCMCSampler((2,), n_chains=64, local_steps=2, dtype=torch.float32)
    restored.load_state_dict(sampler.state_dict())
    torch.manual_seed(5)
    a = sampler.generate(energy, flow, 64).x
    torch.manual_seed(5)
    b = restored.generate(energy, flow, 64).x
    assert torch.equal(a, b)  # chains (and the MALA step size) live in the state dict


# --- the objective -------------------------------------------------------------------------------------


def _objective(model: str = "plain", negatives: str = "chains") -> NFMLEObjective:
    torch.manual_seed(0)
    from ebmcore.components.energies import MLPEnergy

    energy = MLPEnergy((2,), hidden=(16,), confinement=0.05)
    flow = RealNVPFlow((2,), n_layers=2, hidden=(8,), base_std=2.0)
    sampler = FlowMCMCSampler((2,), n_chains=32, local_steps=2)
    return NFMLEObjective(energy, sampler, flow, model=model, negatives=negatives)


@pytest.mark.parametrize("model,negatives", [("plain", "chains"), ("plain", "snis"), ("tilted", "chains")])
def test_each_group_gets_gradient_only_from_its_own_loss(model, negatives):
    obj = _objective(model, negatives)
    out = obj(Batch(torch.randn(32, 2) * 2), 0)
    groups = obj.parameter_groups()
    assert set(out.losses) == {"energy", "flow"}
    e_params, f_params = groups["energy"], groups["flow"]
    g_ee = torch.autograd.grad(out.losses["energy"], e_params, retain_graph=True, allow_unused=True)
    assert any(g is not None and g.abs().sum() > 0 for g in g_ee)
    g_fe = torch.autograd.grad(out.losses["flow"], e_params, retain_graph=True, allow_unused=True)
    assert all(g is None or g.abs().sum() == 0 for g in g_fe)  # the reverse KL leaves the energy alone
    g_ff = torch.autograd.grad(out.losses["flow"], f_params, allow_unused=True)
    assert any(g is not None and g.abs().sum() > 0 for g in g_ff)
    if negatives == "snis":
        assert 0 < float(out.metrics["snis/ess"]) <= 1
    else:
        assert 0 <= float(out.metrics["sampler/global_acceptance"]) <= 1


def test_tilted_model_energy_is_energy_minus_flow_log_density():
    obj = _objective("tilted")
    x = torch.randn(10, 2)
    model = obj.model_energy()
    assert isinstance(model, TiltedEnergy)
    torch.testing.assert_close(model(x), obj.parts.energy(x) - obj.parts.initializer.log_prob(x))
    assert _objective("plain").model_energy() is None


def test_a_fixed_gaussian_proposal_trains_the_energy_alone():
    from ebmcore.components.energies import MLPEnergy

    energy = MLPEnergy((2,), hidden=(16,))
    obj = NFMLEObjective(energy, FlowMCMCSampler((2,), n_chains=16), GaussianInitializer((2,), std=2.0))
    assert set(obj.parameter_groups()) == {"energy"}
    assert set(obj(Batch(torch.randn(16, 2)), 0).losses) == {"energy"}


# --- registration ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def regs():
    return registries()  # discovered plugins: this one must be installed


@pytest.mark.parametrize("role,name", [("initializer", "realnvp"), ("initializer", "zuko_flow"),
                                       ("sampler", "flow_mcmc"), ("objective", "nfmle")])
def test_components_pass_the_core_contract(regs, role, name):
    if name == "zuko_flow":
        pytest.importorskip("zuko")
    for dtype in (torch.float32, torch.float64):
        check_component(regs.role(role).get(name), regs, torch.device("cpu"), dtype)


def test_every_recipe_is_a_valid_config(regs):
    for name, (config, _) in RECIPES.items():
        structure_config(config, regs)
        assert name in regs.recipe.names()


# --- training: the mode-weight claim, small and seeded ------------------------------------------------


def _short_run(regs, tmp_path, name: str, steps: int, n: int = 128, seed: int = 0) -> list[float]:
    cfg = copy.deepcopy(RECIPES[name][0])
    cfg["trainer"] = {**cfg["trainer"], "steps": steps, "batch_size": n, "log_every": 50, "checkpoint_every": 10**6}
    if cfg["sampler"]["name"] == "flow_mcmc":
        cfg["sampler"]["n_chains"] = n
    cfg.update(seed=seed, device="cpu")
    exp = build(structure_config(cfg, regs), regs=regs)
    Trainer(exp, tmp_path / name, regs=regs, progress=False).fit()
    weights = grid_mode_weights(exp.model_energy, exp.dataset.mixture, box=(-9.0, 9.0), n_grid=300)
    return [float(w) for w in weights]


def test_short_run_langevin_collapses_the_minority_mode_while_nf_mle_keeps_it(regs, tmp_path):
    shortrun = _short_run(regs, tmp_path, "nfmle-2modes-shortrun", steps=200)
    assert shortrun[0] < 0.05  # the density drops the 0.2 mode (its samples still show it; docs/results.md)
    nf = _short_run(regs, tmp_path, "nfmle-2modes", steps=200)
    assert abs(nf[0] - 0.2) <= 0.1


def test_nfmle_run_resumes_exactly(regs, tmp_path):
    cfg = copy.deepcopy(RECIPES["nfmle-2modes"][0])
    cfg["trainer"] = {**cfg["trainer"], "steps": 10, "batch_size": 32, "log_every": 5, "checkpoint_every": 4}
    cfg["sampler"]["n_chains"] = 32
    cfg["initializer"]["n_layers"] = 2
    cfg.update(device="cpu")
    # the latest checkpoint is step 4; steps 5-6 are lost
    full, resumed = crash_and_resume(cfg, tmp_path, regs=regs, crash_at=6)
    assert resumed.step == 4
    resumed.fit()
    a, b = full.exp.state_dict(), resumed.exp.state_dict()
    for k in a:
        assert torch.equal(a[k], b[k]), k  # energy, flow, persistent chains, MALA step size
