"""Tests of the core samplers (LangevinSampler, MALASampler, HMCSampler)."""

from __future__ import annotations

import cattrs
import pytest
import torch

from ebmcore.abstract import SampleResult, Sampler
from ebmcore.components.energies import MLPEnergy
from ebmcore.components.initializers import GaussianInitializer
from ebmcore.components.samplers import (
    HMCSampler,
    HMCSamplerConfig,
    LangevinSampler,
    LangevinSamplerConfig,
    MALASampler,
    MALASamplerConfig,
    build_hmc,
    build_langevin,
    build_mala,
)
from ebmcore.context import BuildContext

torch.set_num_threads(1)


def std_normal(x, **cond):
    return 0.5 * x.flatten(1).pow(2).sum(1)


def aniso(sigma):
    s = torch.as_tensor(sigma)

    def energy(x, **cond):
        return 0.5 * (x / s.to(x)).pow(2).sum(1)

    return energy


class Counter:
    """Wraps an energy; counts forward calls and backward passes through its output."""

    def __init__(self, fn):
        self.fn, self.forward, self.backward = fn, 0, 0

    def _hook(self, grad):
        self.backward += 1
        return grad

    def __call__(self, x, **cond):
        self.forward += 1
        e = self.fn(x, **cond)
        if e.requires_grad:
            e.register_hook(self._hook)
        return e


def all_samplers():
    return [
        LangevinSampler(step_size=0.05, n_steps=4),
        MALASampler(step_size=0.1, n_steps=4),
        HMCSampler(step_size=0.2, n_leapfrog=3, n_trajectories=2),
    ]


# --- generic behaviour ---------------------------------------------------------------------------------


@pytest.mark.parametrize("sampler", all_samplers(), ids=lambda s: type(s).__name__)
def test_plain_lambda_energy_shapes_dtype_counts(sampler):
    torch.manual_seed(0)
    x0 = torch.randn(16, 3, dtype=torch.float64)
    counter = Counter(lambda x, **c: 0.5 * (x**2).sum(-1))
    res = sampler.sample(counter, x0)
    assert isinstance(res, SampleResult) and isinstance(sampler, Sampler)
    assert res.x.shape == x0.shape and res.x.dtype == torch.float64 and res.x.device == x0.device
    assert not res.x.requires_grad
    assert counter.forward == res.n_energy_evals == res.n_grad_evals
    assert counter.backward == res.n_grad_evals
    for val in res.stats.values():
        assert isinstance(val, (float, torch.Tensor))


@pytest.mark.parametrize("sampler", all_samplers(), ids=lambda s: type(s).__name__)
def test_x0_not_modified_and_images(sampler):
    x0 = torch.randn(4, 1, 5, 5)
    keep = x0.clone()
    res = sampler.sample(lambda x, **c: 0.5 * x.flatten(1).pow(2).sum(1), x0)
    assert torch.equal(x0, keep)
    assert res.x.shape == (4, 1, 5, 5)


@pytest.mark.parametrize("sampler", all_samplers(), ids=lambda s: type(s).__name__)
def test_determinism_under_seed(sampler):
    out = []
    for _ in range(2):
        torch.manual_seed(7)
        s = type(sampler)(**{"step_size": 0.1})
        out.append(s.sample(std_normal, torch.randn(8, 2)).x)
    assert torch.equal(out[0], out[1])


@pytest.mark.parametrize("sampler", all_samplers(), ids=lambda s: type(s).__name__)
def test_conditions_passed_through(sampler):
    seen = []

    def energy(x, t, y):
        seen.append((t.shape, y.shape))
        return 0.5 * (x**2).sum(-1) * (1 + t) + 0.0 * y

    cond = {"t": torch.rand(6), "y": torch.zeros(6, dtype=torch.long)}
    sampler.sample(energy, torch.randn(6, 2), cond)
    assert seen and all(s == ((6,), (6,)) for s in seen)


@pytest.mark.parametrize("sampler", all_samplers(), ids=lambda s: type(s).__name__)
def test_time_conditioned_mlp_and_generate(sampler):
    torch.manual_seed(0)
    e = MLPEnergy((2,), hidden=(16,), time_conditioned=True)
    init = GaussianInitializer((2,))
    res = sampler.generate(e, init, 5, {"t": torch.full((5,), 0.3)})
    assert res.x.shape == (5, 2)
    assert torch.isfinite(res.x).all()


# --- Langevin --------------------------------------------------------------------------------------------


def test_langevin_converges_from_far_away():
    torch.manual_seed(0)
    s = LangevinSampler(step_size=0.05, n_steps=400)
    res = s.sample(std_normal, torch.full((4000, 2), 10.0))
    assert res.x.mean(0).abs().max() < 0.1
    # ULA's stationary variance is 1 / (1 - step/2) ~ 1.026 for this target
    assert ((res.x.var(0) - 1.0).abs() < 0.1).all()
    assert res.n_grad_evals == 400 and res.stats["step_size"] == 0.05
    assert isinstance(res.stats["grad_norm"], torch.Tensor)


def test_langevin_noise_free_is_gradient_descent_and_clipping():
    x0 = torch.tensor([[3.0, 4.0]])
    res = LangevinSampler(step_size=0.1, n_steps=1, noise_scale=0.0).sample(std_normal, x0)
    torch.testing.assert_close(res.x, x0 * 0.9)
    # per-chain norm clipping: gradient (3, 4) has norm 5, clipped to 1
    res = LangevinSampler(step_size=0.1, n_steps=1, noise_scale=0.0, clip_grad=1.0).sample(std_normal, x0)
    torch.testing.assert_close(res.x, x0 - 0.1 * x0 / 5.0)
    res = LangevinSampler(step_size=0.1, n_steps=1, noise_scale=0.0, clip_grad=1.0, clip_mode="value").sample(
        std_normal, x0
    )
    torch.testing.assert_close(res.x, x0 - 0.1)
    torch.testing.assert_close(res.stats["grad_norm"], torch.tensor(5.0))


def test_langevin_clamp():
    torch.manual_seed(0)
    res = LangevinSampler(step_size=0.5, n_steps=5, clamp=(-0.5, 0.5)).sample(std_normal, torch.randn(100, 3) * 3)
    assert res.x.min() >= -0.5 and res.x.max() <= 0.5


# --- MALA ------------------------------------------------------------------------------------------------


def test_mala_leaves_standard_normal_invariant():
    # a step this large gives ULA a stationary variance of 1 / (1 - 0.5/2) = 1.33; MALA stays exact
    torch.manual_seed(0)
    n = 40000
    s = MALASampler(step_size=0.5, n_steps=20, adapt=False)
    res = s.sample(std_normal, torch.randn(n, 2, dtype=torch.float64))
    assert res.x.mean(0).abs().max() < 4 / n**0.5
    assert ((res.x.var(0) - 1).abs() < 5 * (2 / n) ** 0.5).all()
    acc = res.stats["acceptance_rate"]
    assert isinstance(acc, torch.Tensor) and 0.5 < acc < 1.0
    torch.testing.assert_close(s.step_size, torch.tensor(0.5, dtype=torch.float32))  # not adapted


def test_mala_anisotropic_gaussian():
    torch.manual_seed(1)
    sigma = torch.tensor([0.5, 1.5], dtype=torch.float64)
    s = MALASampler(step_size=0.1, n_steps=300, adapt=False)
    res = s.sample(aniso(sigma), torch.randn(4000, 2, dtype=torch.float64) + 3.0)
    assert res.x.mean(0).abs().max() < 0.1
    torch.testing.assert_close(res.x.var(0), sigma**2, rtol=0.1, atol=0.0)


@pytest.mark.parametrize("start", [0.01, 3.0])
def test_mala_adaptation_moves_acceptance_to_target(start):
    torch.manual_seed(0)
    s = MALASampler(step_size=start, n_steps=20, target_acceptance=0.574, adapt_rate=0.1)
    energy = aniso(torch.ones(10))
    x = torch.randn(500, 10)
    first = s.sample(energy, x, adapt=False).stats["acceptance_rate"]
    assert s.step_size.item() == pytest.approx(start)  # adapt=False per call leaves the buffer alone
    for _ in range(10):
        res = s.sample(energy, x)
        x = res.x
    last = s.sample(energy, x, adapt=False).stats["acceptance_rate"]
    assert abs(last - 0.574) < abs(first - 0.574)
    assert abs(last - 0.574) < 0.1
    assert s.step_size.item() != pytest.approx(start)


def test_mala_step_size_is_checkpointed():
    torch.manual_seed(0)
    s = MALASampler(step_size=0.01, n_steps=10)
    s.sample(std_normal, torch.randn(100, 4))
    state = s.state_dict()
    assert set(state) == {"log_step_size"}
    other = MALASampler(step_size=0.01, n_steps=10)
    other.load_state_dict(state)
    torch.testing.assert_close(other.step_size, s.step_size)
    assert other.step_size.item() != pytest.approx(0.01)


def test_mala_built_in_float64():
    s = build_mala(MALASamplerConfig(step_size=0.2), BuildContext.for_shape((2,), dtype=torch.float64))
    assert s.log_step_size.dtype == torch.float64
    res = s.sample(std_normal, torch.randn(10, 2, dtype=torch.float64))
    assert res.x.dtype == torch.float64 and res.n_grad_evals == 21


# --- HMC -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_traj,n_leap", [(1, 1), (3, 5), (7, 2)])
def test_hmc_exact_gradient_count(n_traj, n_leap):
    counter = Counter(std_normal)
    res = HMCSampler(step_size=0.1, n_leapfrog=n_leap, n_trajectories=n_traj).sample(counter, torch.randn(5, 2))
    assert counter.forward == counter.backward == n_traj * n_leap + 1
    assert res.n_grad_evals == res.n_energy_evals == n_traj * n_leap + 1


def test_hmc_leaves_standard_normal_invariant():
    torch.manual_seed(0)
    n = 40000
    res = HMCSampler(step_size=0.9, n_leapfrog=3, n_trajectories=10).sample(
        std_normal, torch.randn(n, 2, dtype=torch.float64)
    )
    assert res.x.mean(0).abs().max() < 4 / n**0.5
    assert ((res.x.var(0) - 1).abs() < 5 * (2 / n) ** 0.5).all()
    assert 0.3 < res.stats["acceptance_rate"] < 1.0


def test_hmc_anisotropic_gaussian_from_far_away():
    torch.manual_seed(2)
    sigma = torch.tensor([0.5, 2.0], dtype=torch.float64)
    res = HMCSampler(step_size=0.25, n_leapfrog=7, n_trajectories=60).sample(
        aniso(sigma), torch.full((4000, 2), 5.0, dtype=torch.float64)
    )
    assert res.x.mean(0).abs().max() < 0.12
    torch.testing.assert_close(res.x.var(0), sigma**2, rtol=0.1, atol=0.0)


def test_hmc_rejects_unstable_steps():
    torch.manual_seed(0)
    # a step far beyond the leapfrog stability limit (2 sigma) is (almost) always rejected: chains stay put
    x0 = torch.randn(200, 2)
    res = HMCSampler(step_size=5.0, n_leapfrog=10, n_trajectories=2).sample(aniso([0.1, 0.1]), x0 * 0.1)
    assert res.stats["acceptance_rate"] < 0.05


# --- configs ---------------------------------------------------------------------------------------------


def test_configs_validate_and_round_trip():
    with pytest.raises(ValueError):
        LangevinSamplerConfig(step_size=0.0)
    with pytest.raises(ValueError):
        LangevinSamplerConfig(clamp=(1.0, -1.0))
    with pytest.raises(ValueError):
        MALASamplerConfig(target_acceptance=1.5)
    with pytest.raises(ValueError):
        MALASamplerConfig(step_size=100.0)
    with pytest.raises(ValueError):
        HMCSamplerConfig(n_leapfrog=0)
    conv = cattrs.Converter(forbid_extra_keys=True)
    ctx = BuildContext.for_shape((2,))
    for cfg, build, cls in [
        (LangevinSamplerConfig(clamp=(-1.0, 1.0), clip_grad=0.5), build_langevin, LangevinSampler),
        (MALASamplerConfig(adapt=False), build_mala, MALASampler),
        (HMCSamplerConfig(mass=2.0), build_hmc, HMCSampler),
    ]:
        assert conv.structure(conv.unstructure(cfg), type(cfg)) == cfg
        assert isinstance(build(cfg, ctx), cls)
