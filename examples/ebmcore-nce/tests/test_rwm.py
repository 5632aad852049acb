"""Random-walk Metropolis: exact invariance, per-chain acceptance, device/dtype, seeding."""

from __future__ import annotations

import math

import torch
from ebmcore_nce import RWMSampler


def _standard_normal(x):
    return 0.5 * x.flatten(1).pow(2).sum(1)


def test_rwm_leaves_a_standard_gaussian_invariant(ebm_device, ebm_dtype):
    """Chains started from the exact target stay exactly distributed after many steps: the final states
    of independent chains are i.i.d. N(0, I), so their moments match within Monte Carlo error."""
    torch.manual_seed(0)
    n, d = 8192, 2
    x0 = torch.randn(n, d, device=ebm_device, dtype=ebm_dtype)
    out = RWMSampler(step_size=0.8, n_steps=200).sample(_standard_normal, x0)
    x = out.x.double()
    moved = (out.x != x0).any(1).double().mean()
    assert moved > 0.99  # every chain has moved: the test is not passed by standing still
    se = 1 / math.sqrt(n)
    assert x.mean(0).abs().max() < 5 * se
    cov = x.T @ x / n
    torch.testing.assert_close(cov, torch.eye(d, dtype=torch.float64), atol=5 * math.sqrt(2) * se, rtol=0)
    assert (x.pow(4).mean(0) - 3.0).abs().max() < 5 * math.sqrt(96) * se  # Var(x^4) = 105 - 9
    rate = out.stats["acceptance_rate"]
    assert isinstance(rate, torch.Tensor) and rate.device.type == ebm_device.type and rate.dim() == 0
    assert 0.3 < float(rate) < 0.8
    assert out.x.dtype == ebm_dtype and out.x.device.type == ebm_device.type and not out.x.requires_grad


def test_each_chain_accepts_on_its_own(ebm_device, ebm_dtype):
    """A flat energy for chains with t = 1 (every proposal accepted) and a steep well at the start for
    chains with t = 0 (every proposal rejected): chains do not share accept decisions."""
    t = (torch.arange(64, device=ebm_device) % 2).to(ebm_dtype)

    def energy(x, t):
        return (1 - t) * 1e9 * x.pow(2).sum(1)

    x0 = torch.zeros(64, 3, device=ebm_device, dtype=ebm_dtype)
    out = RWMSampler(step_size=0.5, n_steps=10).sample(energy, x0, {"t": t})
    assert torch.equal(out.x[t == 0], x0[t == 0])
    assert bool((out.x[t == 1] != 0).all())
    assert float(out.stats["acceptance_rate"]) == 0.5


def test_rwm_is_fixed_by_the_seed_and_gradient_free(ebm_device, ebm_dtype):
    energy = torch.nn.Linear(4, 1).to(ebm_device, ebm_dtype)
    x0 = torch.randn(16, 4, device=ebm_device, dtype=ebm_dtype)
    sampler = RWMSampler(step_size=0.3, n_steps=20)
    runs = []
    for _ in range(2):
        torch.manual_seed(7)
        runs.append(sampler.sample(lambda x: energy(x).squeeze(1), x0))
    assert torch.equal(runs[0].x, runs[1].x)
    assert runs[0].n_grad_evals == 0 and all(p.grad is None for p in energy.parameters())
