r"""GEBM sampling: latent-space MCMC on the posterior of a generator base, and importance resampling.

For a base :math:`x = G(z)`, :math:`z \sim \mathcal N(0, I)`, the GEBM is the push-forward of the latent
posterior :math:`\nu(z) \propto e^{-U(z)}`, :math:`U(z) = \tfrac12\|z\|^2 + \beta\,E(G(z))`, with inverse
temperature :math:`\beta` (1 samples the GEBM; the official code samples images at :math:`\beta = 100`;
:math:`\beta > 1` trades diversity for precision). Kernels (``kernel``):

* ``ula``: :math:`z \leftarrow z - \tfrac{\gamma}{2}\nabla U(z) + \sqrt{\gamma}\,\xi`;
* ``kla``: kinetic (underdamped) Langevin with friction :math:`\kappa`, velocity from 0, the official
  A-B-O-B-A splitting with :math:`h = 2\sqrt\gamma`, :math:`C = e^{-\kappa h}`, :math:`D = \sqrt{1 - e^{-2\kappa h}}`:
  :math:`z_{1/2} = z + \tfrac h2 v`; :math:`v \leftarrow C(v - \tfrac h2\nabla U(z_{1/2})) + D\xi - \tfrac h2\nabla U(z_{1/2})`;
  :math:`z \leftarrow z_{1/2} + \tfrac h2 v`;
* ``sir``: sampling-importance-resampling: draw ``sir_pool`` × n base samples, resample n with probabilities
  :math:`\propto e^{-\beta E(x)}` (exact GEBM reweighting of the empirical base; no MCMC);
* ``none``: base samples only (the baseline a GEBM must beat).

:math:`\gamma` is multiplied by ``decay`` every ``decay_every`` steps (official 0.1 every 200). Every chain
starts at a prior draw; there are no persistent chains. ``sample(energy, x0)`` (no base) runs the chosen
Langevin kernel in the states' own space on :math:`\beta E`; ``generate(energy, base, n)`` runs in latent
space when ``base`` is a :class:`~ebmcore.abstract.LatentInitializer` and decodes the final latents.

References:
    Arbel, Zhou & Gretton, ICLR 2021, arXiv 2003.05033; code github.com/MichaelArbel/GeneralizedEBM
    (``samplers.py``: ``langevin``, ``lmc``). Cheng et al., "Underdamped Langevin MCMC: a non-asymptotic
    analysis", COLT 2018. Rubin, "Using the SIR algorithm to simulate posterior distributions", 1988.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import attrs
import torch
from attrs import validators as v
from torch import Tensor

from ebmcore import (
    BuildContext,
    Cond,
    EnergyFn,
    Initializer,
    LatentInitializer,
    Sampler,
    SamplerConfig,
    SampleResult,
    energy_and_grad,
)

__all__ = ["LatentLangevinSampler", "LatentLangevinSamplerConfig", "build_latent_langevin", "kinetic_langevin"]

KERNELS = ("ula", "kla", "sir", "none")


@attrs.frozen(kw_only=True)
class LatentLangevinSamplerConfig(SamplerConfig):
    """Config of :class:`LatentLangevinSampler`.

    Attributes:
        kernel: ``ula``, ``kla``, ``sir`` or ``none`` (base samples).
        n_steps: Langevin steps.
        step_size: :math:`\\gamma`.
        temperature: inverse temperature :math:`\\beta` on the energy.
        friction: :math:`\\kappa` of ``kla`` (official 100).
        decay, decay_every: :math:`\\gamma \\leftarrow` ``decay`` :math:`\\cdot\\gamma` every ``decay_every`` steps
            (``None``: constant).
        sir_pool: base samples per output sample for ``sir``.
        sir_replacement: resample with replacement (exact SIR; duplicates) or without (no duplicates, a
            close approximation when ``sir_pool`` is large; duplicates bias sample metrics such as MMD²).

    Examples:
        >>> from ebmcore_gebm import LatentLangevinSampler, LatentLangevinSamplerConfig
        >>> cfg = LatentLangevinSamplerConfig(kernel="kla", n_steps=50, decay_every=20)
        >>> cfg.friction, cfg.decay
        (100.0, 0.1)
        >>> LatentLangevinSampler(**cfg.as_kwargs())
        LatentLangevinSampler(kernel='kla', n_steps=50, step_size=0.001, temperature=1.0)
        >>> LatentLangevinSamplerConfig(decay=2.0)
        Traceback (most recent call last):
        ...
        ValueError: 'decay' must be <= 1: 2.0
    """

    kernel: Literal["ula", "kla", "sir", "none"] = attrs.field(default="ula", validator=v.in_(KERNELS))
    n_steps: int = attrs.field(default=300, validator=v.ge(0))
    step_size: float = attrs.field(default=1e-3, validator=v.gt(0))
    temperature: float = attrs.field(default=1.0, validator=v.gt(0))
    friction: float = attrs.field(default=100.0, validator=v.gt(0))
    decay: float = attrs.field(default=0.1, validator=[v.gt(0), v.le(1)])
    decay_every: int | None = attrs.field(default=None, validator=v.optional(v.ge(1)))
    sir_pool: int = attrs.field(default=10, validator=v.ge(1))
    sir_replacement: bool = True


def kinetic_langevin(
    potential: Callable[[Tensor], Tensor], z: Tensor, *, n_steps: int, step_size: float, friction: float,
    decay: float = 1.0, decay_every: int | None = None,
) -> Tensor:
    r"""Run the official A-B-O-B-A kinetic Langevin chain on ``potential`` from ``z`` (velocity 0).

    One gradient evaluation per step; the splitting is given in the module docstring (:math:`h = 2\sqrt\gamma`).

    Arguments:
        potential: :math:`U`, ``(B, ...) -> (B,)``.
        z: starting states ``(B, ...)``.
        n_steps: number of steps.
        step_size: :math:`\gamma`.
        friction: :math:`\kappa`.
        decay, decay_every: :math:`\gamma \leftarrow` ``decay`` :math:`\cdot\gamma` every ``decay_every``
            steps (``None``: constant).

    Returns:
        The final states, shape of ``z``, detached.

    Examples:
        Chains started far out in :math:`U(z) = \lVert z\rVert^2/2` relax towards :math:`\mathcal N(0, I)`:

        >>> import torch
        >>> from ebmcore_gebm import kinetic_langevin
        >>> z0 = torch.full((64, 2), 10.0)
        >>> z = kinetic_langevin(lambda z: 0.5 * z.pow(2).sum(1), z0, n_steps=50, step_size=1e-2, friction=1.0)
        >>> tuple(z.shape), z.requires_grad, bool(z.norm(dim=1).mean() < 3)
        ((64, 2), False, True)
    """
    v_ = torch.zeros_like(z)
    gamma = step_size
    for k in range(n_steps):
        if decay_every and k and k % decay_every == 0:
            gamma *= decay
        h = 2.0 * math.sqrt(gamma)
        c = math.exp(-friction * h)
        d = math.sqrt(1.0 - math.exp(-2.0 * friction * h))
        z_half = z + 0.5 * h * v_
        _, g = energy_and_grad(potential, z_half)
        with torch.no_grad():
            v_ = c * (v_ - 0.5 * h * g) + d * torch.randn_like(z)
            v_ = v_ - 0.5 * h * g
            z = z_half + 0.5 * h * v_
    return z.detach()


class LatentLangevinSampler(Sampler):
    r"""GEBM's latent MCMC (ULA or kinetic Langevin on :math:`U(z) = \tfrac12\|z\|^2 + \beta E(G z)`), SIR, or
    plain base samples; see the module docstring.

    ``generate(energy, base, n)`` returns a :class:`~ebmcore.abstract.SampleResult` with ``x``
    ``(n, *event_shape)`` detached; ``sir`` also sets ``log_weights`` of the pool's chosen samples and the
    stat ``sir_ess`` (normalised ESS of the pool's weights). ``n_grad_evals`` counts gradient evaluations of
    :math:`U` (each one generator and energy forward + backward) per sample.

    References:
        Arbel, Zhou & Gretton, "Generalized Energy Based Models", ICLR 2021, arXiv 2003.05033 (code
        github.com/MichaelArbel/GeneralizedEBM, ``samplers.py``).

    Arguments:
        kernel, n_steps, step_size, temperature, friction: see :class:`LatentLangevinSamplerConfig`.
        decay, decay_every, sir_pool, sir_replacement: see :class:`LatentLangevinSamplerConfig`.

    Examples:
        >>> import torch
        >>> from ebmcore_gebm import GEBMMLPEnergy, LatentLangevinSampler, MLPGenerator
        >>> energy = GEBMMLPEnergy((2,), hidden=(16,))
        >>> base = MLPGenerator((2,), hidden=(16,))
        >>> sampler = LatentLangevinSampler(kernel="ula", n_steps=5, step_size=1e-2)
        >>> out = sampler.generate(energy, base, 8)  # Langevin on z, then x = G(z)
        >>> tuple(out.x.shape), out.n_grad_evals, out.x.requires_grad
        ((8, 2), 5, False)
        >>> sir = LatentLangevinSampler(kernel="sir", sir_pool=4)
        >>> out = sir.generate(energy, base, 8)  # 8 of 32 base samples, resampled by exp(-E)
        >>> tuple(out.x.shape), tuple(out.log_weights.shape), sorted(out.stats)
        ((8, 2), (8,), ['sir_ess'])
    """

    def __init__(
        self,
        *,
        kernel: str = "ula",
        n_steps: int = 300,
        step_size: float = 1e-3,
        temperature: float = 1.0,
        friction: float = 100.0,
        decay: float = 0.1,
        decay_every: int | None = None,
        sir_pool: int = 10,
        sir_replacement: bool = True,
    ) -> None:
        super().__init__()
        if kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
        if n_steps < 0 or step_size <= 0 or temperature <= 0 or friction <= 0 or sir_pool < 1:
            raise ValueError("LatentLangevinSampler needs n_steps >= 0 and positive step_size, temperature, friction, sir_pool")
        self.kernel = kernel
        self.n_steps = int(n_steps)
        self.step_size = float(step_size)
        self.temperature = float(temperature)
        self.friction = float(friction)
        self.decay = float(decay)
        self.decay_every = decay_every
        self.sir_pool = int(sir_pool)
        self.sir_replacement = bool(sir_replacement)

    def _ula(self, potential: Callable[[Tensor], Tensor], z: Tensor) -> Tensor:
        gamma = self.step_size
        z = z.detach().clone()
        for k in range(self.n_steps):
            if self.decay_every and k and k % self.decay_every == 0:
                gamma *= self.decay
            _, g = energy_and_grad(potential, z)
            with torch.no_grad():
                z.add_(g, alpha=-0.5 * gamma).add_(torch.randn_like(z), alpha=math.sqrt(gamma))
        return z

    def _run(self, potential: Callable[[Tensor], Tensor], z: Tensor) -> Tensor:
        if self.kernel == "kla":
            return kinetic_langevin(potential, z.detach(), n_steps=self.n_steps, step_size=self.step_size,
                                    friction=self.friction, decay=self.decay, decay_every=self.decay_every)
        return self._ula(potential, z)

    def sample(self, energy: EnergyFn, x0: Tensor, cond: Cond | None = None) -> SampleResult:
        if self.kernel in ("sir", "none"):
            return SampleResult(x0.detach().clone())
        beta, kw = self.temperature, cond or {}
        x = self._run(lambda x: beta * energy(x, **kw), x0)
        return SampleResult(x, {"step_size": self.step_size}, n_energy_evals=self.n_steps, n_grad_evals=self.n_steps)

    def generate(
        self, energy: EnergyFn, initializer: Initializer, n: int, cond: Cond | None = None
    ) -> SampleResult:
        kw, beta = cond or {}, self.temperature
        if self.kernel == "none":
            return SampleResult(initializer.init(n, cond))
        if self.kernel == "sir":
            pool = initializer.init(n * self.sir_pool, cond)
            with torch.no_grad():
                logw = -beta * energy(pool, **({k: t.repeat(self.sir_pool) for k, t in kw.items()}))
                probs = torch.softmax(logw.float(), 0)
                idx = torch.multinomial(probs, n, replacement=self.sir_replacement)
                ess = 1.0 / probs.pow(2).sum() / probs.shape[0]
            return SampleResult(pool[idx], {"sir_ess": ess}, n_energy_evals=self.sir_pool, log_weights=logw[idx])
        if not isinstance(initializer, LatentInitializer):
            return self.sample(energy, initializer.init(n, cond), cond)  # no latent: Langevin in data space
        base = initializer

        def potential(z: Tensor) -> Tensor:
            return 0.5 * z.flatten(1).pow(2).sum(1) + beta * energy(base.decode(z, cond), **kw)

        z = self._run(potential, base.sample_latent(n, cond))
        with torch.no_grad():
            x = base.decode(z, cond)
        stats = {"step_size": self.step_size, "temperature": beta}
        return SampleResult(x.detach(), stats, n_energy_evals=self.n_steps + 1, n_grad_evals=self.n_steps)

    def extra_repr(self) -> str:
        return f"kernel={self.kernel!r}, n_steps={self.n_steps}, step_size={self.step_size}, temperature={self.temperature}"


def build_latent_langevin(cfg: LatentLangevinSamplerConfig, ctx: BuildContext) -> LatentLangevinSampler:
    """Build a :class:`LatentLangevinSampler` (it holds no tensors; ``ctx`` is not used)."""
    return LatentLangevinSampler(**cfg.as_kwargs())
