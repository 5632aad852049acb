r"""Random-walk Metropolis (RWM): Gaussian proposals, accept or reject per chain, no gradients.

One step, for every chain independently:

.. math::
    y = x + \sigma\xi,\quad \xi \sim \mathcal N(0, I), \qquad
    \text{accept with probability } \min\{1, \exp(E(x) - E(y))\}.

The proposal is symmetric, so the Metropolis ratio is the energy difference alone and the chain leaves
:math:`p(x) \propto e^{-E(x)}` exactly invariant. It needs only energy evaluations (one per step and
chain, plus one at the start), so it runs on energies without a usable gradient.

References:
    Metropolis, Rosenbluth, Rosenbluth, Teller & Teller, "Equation of state calculations by fast computing
    machines", Journal of Chemical Physics 1953.
    Roberts, Gelman & Gilks, "Weak convergence and optimal scaling of random walk Metropolis algorithms",
    Annals of Applied Probability 1997 (acceptance near 0.234 in high dimension).
    Robert, "The Metropolis-Hastings algorithm", arXiv 1504.01896 (a review).
"""

from __future__ import annotations

import math

import attrs
import torch
from attrs import validators as v
from torch import Tensor

from ebmcore import BuildContext, Cond, EnergyFn, Sampler, SamplerConfig, SampleResult

__all__ = ["RWMSampler", "RWMSamplerConfig", "build_rwm"]


@attrs.frozen(kw_only=True)
class RWMSamplerConfig(SamplerConfig):
    r"""Config of :class:`RWMSampler` (registered as sampler ``rwm``).

    Attributes:
        step_size: standard deviation :math:`\sigma` of the Gaussian proposal.
        n_steps: number of Metropolis steps per call.

    Examples:
        >>> from ebmcore_nce import RWMSamplerConfig
        >>> RWMSamplerConfig(step_size=0.3).as_kwargs()
        {'step_size': 0.3, 'n_steps': 100}
        >>> RWMSamplerConfig(n_steps=0)
        Traceback (most recent call last):
        ...
        ValueError: 'n_steps' must be >= 1: 0
    """

    step_size: float = attrs.field(default=0.1, validator=v.gt(0))
    n_steps: int = attrs.field(default=100, validator=v.ge(1))


class RWMSampler(Sampler):
    r"""Random-walk Metropolis with isotropic Gaussian proposals and per-chain acceptance.

    Runs on any energy callable ``(B, *event_shape) -> (B,)`` (an :class:`ebmcore.Energy`, a lambda),
    in the device and dtype of the starting states (the Metropolis ratio is computed in at least
    float32). Draws come from torch's global generator of that device, proposal then acceptance at every
    step, so a seed fixes the chain. The loop makes no host synchronisation: the acceptance rate stays a
    tensor on the device. Energies are evaluated without gradient; chains that propose a non-finite
    energy reject.

    References:
        Metropolis, Rosenbluth, Rosenbluth, Teller & Teller, "Equation of state calculations by fast
        computing machines", Journal of Chemical Physics 1953 (no arXiv version).
        Robert, "The Metropolis-Hastings algorithm", arXiv 1504.01896 (a review).

    Arguments:
        step_size: proposal standard deviation :math:`\sigma > 0`.
        n_steps: Metropolis steps per call.

    Sample arguments:
        energy: any energy callable ``(B, *event_shape) -> (B,)``.
        x0: starting states ``(B, *event_shape)``.
        cond: conditions passed to ``energy`` as keywords, each ``(B,)``.

    Sample returns:
        :class:`ebmcore.SampleResult` with ``x`` ``(B, *event_shape)`` (detached, dtype/device of ``x0``),
        stats ``acceptance_rate`` (0-dim tensor on the device: accepted proposals over all steps and
        chains) and ``step_size`` (float); ``n_energy_evals = n_steps + 1``, ``n_grad_evals = 0``.

    Examples:
        >>> import torch
        >>> from ebmcore_nce import RWMSampler
        >>> energy = lambda x: 0.5 * x.pow(2).sum(1)  # standard normal target
        >>> x0 = torch.full((2048, 2), 3.0)  # every chain starts far from the mode
        >>> out = RWMSampler(step_size=1.0, n_steps=200).sample(energy, x0)
        >>> tuple(out.x.shape), out.n_energy_evals, out.n_grad_evals
        ((2048, 2), 201, 0)
        >>> # the chains forgot their start: mean ~ 0, variance ~ 1
        >>> bool(out.x.mean().abs() < 0.1), bool((out.x.var() - 1.0).abs() < 0.1)
        (True, True)
        >>> rate = out.stats["acceptance_rate"]
        >>> rate.device == x0.device, 0.4 < float(rate) < 0.8
        (True, True)
    """

    def __init__(self, *, step_size: float = 0.1, n_steps: int = 100) -> None:
        super().__init__()
        if not step_size > 0 or n_steps < 1:
            raise ValueError(f"RWMSampler needs step_size > 0 and n_steps >= 1, got {step_size}, {n_steps}")
        self.step_size = float(step_size)
        self.n_steps = int(n_steps)

    def sample(self, energy: EnergyFn, x0: Tensor, cond: Cond | None = None) -> SampleResult:
        cond = dict(cond or {})
        x = x0.detach().clone()
        with torch.no_grad():
            e_x = self._energy(energy, x, cond)
            n_acc = torch.zeros((), device=x.device, dtype=e_x.dtype)
            for _ in range(self.n_steps):
                y = x + self.step_size * torch.randn_like(x)
                e_y = self._energy(energy, y, cond)
                log_alpha = torch.nan_to_num(e_x - e_y, nan=-math.inf)
                accept = torch.rand_like(log_alpha).log() < log_alpha  # per chain, (B,)
                x = torch.where(accept.view(-1, *([1] * (x.dim() - 1))), y, x)
                e_x = torch.where(accept, e_y, e_x)
                n_acc += accept.to(n_acc.dtype).mean()
        stats: dict[str, Tensor | float] = {"acceptance_rate": n_acc / self.n_steps, "step_size": self.step_size}
        return SampleResult(x, stats, n_energy_evals=self.n_steps + 1, n_grad_evals=0)

    @staticmethod
    def _energy(energy: EnergyFn, x: Tensor, cond: dict[str, Tensor]) -> Tensor:
        """``E(x)`` as ``(B,)`` in at least float32 (half-precision energies are upcast for the ratio)."""
        e = energy(x, **cond)
        if e.shape != x.shape[:1]:
            raise ValueError(f"an energy must return shape (B,) = {tuple(x.shape[:1])}, got {tuple(e.shape)}")
        return e.float() if e.dtype in (torch.float16, torch.bfloat16) else e

    def extra_repr(self) -> str:
        return f"step_size={self.step_size}, n_steps={self.n_steps}"


def build_rwm(cfg: RWMSamplerConfig, ctx: BuildContext) -> RWMSampler:
    """Build an :class:`RWMSampler` (it holds no tensors; ``ctx`` is not used).

    Arguments:
        cfg: the sampler's config.
        ctx: the build context (unused).

    Returns:
        The sampler.

    Examples:
        >>> import torch
        >>> from ebmcore import BuildContext
        >>> from ebmcore_nce import RWMSamplerConfig, build_rwm
        >>> sampler = build_rwm(RWMSamplerConfig(step_size=0.5, n_steps=10), BuildContext.for_shape((1, 4, 4)))
        >>> out = sampler.sample(lambda x: x.flatten(1).pow(2).sum(1), torch.zeros(3, 1, 4, 4, dtype=torch.float64))
        >>> tuple(out.x.shape), out.x.dtype  # any event shape; the dtype of the starting states
        ((3, 1, 4, 4), torch.float64)
    """
    return RWMSampler(**cfg.as_kwargs())
