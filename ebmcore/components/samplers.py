r"""Core gradient-based MCMC samplers: unadjusted Langevin (:class:`LangevinSampler`), Metropolis-adjusted
Langevin with step-size adaptation (:class:`MALASampler`) and Hamiltonian Monte Carlo (:class:`HMCSampler`).

All three run on any energy callable ``(x: (B, *event_shape), **cond) -> (B,)`` (an
:class:`~ebmcore.abstract.Energy`, a tethered or latent-posterior energy, a lambda), target
:math:`p(x) \propto \exp(-E(x))` and draw their randomness from torch's global generator for the device
of the starting states. The step loops make no host synchronisation: statistics stay tensors on the
device. They do not change the energy's train/eval mode; callers wrap sampling in
:func:`~ebmcore.abstract.sampling_mode`.

Cost accounting (per chain, python ints in :class:`~ebmcore.abstract.SampleResult`):
``n_grad_evals`` counts evaluations of :math:`\nabla_x E` (one forward and one backward pass each) and
``n_energy_evals`` counts forward passes of the energy, including those made inside a gradient
evaluation. Every forward pass of these samplers is part of a gradient evaluation, so both numbers are
equal: ``n_steps`` (Langevin), ``n_steps + 1`` (MALA), ``n_trajectories * n_leapfrog + 1`` (HMC).

References:
    Roberts & Tweedie, "Exponential convergence of Langevin distributions and their discrete
    approximations", Bernoulli 1996 (ULA, MALA).
    Roberts & Rosenthal, "Optimal scaling of discrete approximations to Langevin diffusions", JRSS-B 1998
    (the 0.574 target acceptance).
    Neal, "MCMC using Hamiltonian dynamics", arXiv 1206.1901 (HMC, leapfrog).
    Andrieu & Thoms, "A tutorial on adaptive MCMC", Statistics and Computing 2008 (Robbins-Monro
    step-size adaptation).
    Du & Mordatch, "Implicit generation and generalization in energy-based models", arXiv 1903.08689
    (Langevin for EBMs, gradient clipping, decoupled noise).
"""

from __future__ import annotations

import functools
import math
from typing import Literal

import attrs
import torch
from attrs import validators as v
from torch import Tensor

from ebmcore._bases import SamplerConfig
from ebmcore.abstract import Cond, EnergyFn, SampleResult, Sampler, energy_and_grad
from ebmcore.context import BuildContext

__all__ = [
    "GridSampler",
    "GridSamplerConfig",
    "HMCSampler",
    "HMCSamplerConfig",
    "LangevinSampler",
    "LangevinSamplerConfig",
    "MALASampler",
    "MALASamplerConfig",
    "build_grid",
    "build_hmc",
    "build_langevin",
    "build_mala",
]


def _bcast(t: Tensor, x: Tensor) -> Tensor:
    """Reshape a per-chain ``(B,)`` tensor to broadcast against ``(B, *event_shape)``."""
    return t.view(-1, *([1] * (x.dim() - 1)))


def _sq_norm(x: Tensor) -> Tensor:
    """Per-chain squared norm, ``(B, *event) -> (B,)``, in at least float32."""
    return _acc(x).flatten(1).pow(2).sum(1)


def _acc(t: Tensor) -> Tensor:
    """Upcast half/bfloat16 to float32 for Metropolis-Hastings arithmetic (a no-op otherwise)."""
    return t.float() if t.dtype in (torch.float16, torch.bfloat16) else t


def _check_clamp(instance: object, attribute: attrs.Attribute[object], value: tuple[float, float] | None) -> None:
    if value is not None and not (len(value) == 2 and value[0] < value[1]):
        raise ValueError(f"'{attribute.name}' must be (min, max) with min < max, got {value!r}")


# --- step arithmetic ---------------------------------------------------------------------------------
# The element-wise work of one step, as pure functions of tensors. Random draws and gradient evaluations
# stay outside them, so a compiled step (``Sampler.compile_step``) consumes exactly the eager run's random
# numbers and fuses only arithmetic: results match eager up to floating-point reassociation.


def _langevin_update(
    x: Tensor, g: Tensor, noise: Tensor | None, eta: float, sigma: float,
    clip_grad: float | None, clip_mode: str, clamp: tuple[float, float] | None,
) -> Tensor:
    """One ULA update ``clamp(x - eta * clip(g) + sigma * noise)``; all tensors ``(B, *event_shape)``."""
    if clip_grad is not None:
        if clip_mode == "value":
            g = g.clamp(-clip_grad, clip_grad)
        else:
            scale = (clip_grad / (g.flatten(1).norm(dim=1) + 1e-12)).clamp(max=1.0)
            g = g * _bcast(scale, g)
    x = torch.add(x, g, alpha=-eta)  # the one new tensor of the step; the rest updates it in place
    if noise is not None:
        x.add_(noise, alpha=sigma)
    if clamp is not None:
        x.clamp_(*clamp)
    return x


def _mala_propose(x: Tensor, g_x: Tensor, h: Tensor, noise: Tensor) -> Tensor:
    """MALA proposal ``y = x - h g + sqrt(2h) noise``; ``h`` is a 0-dim tensor, the rest ``(B, *event_shape)``."""
    return x - h * g_x + (2.0 * h).sqrt() * noise


def _mala_log_alpha(x: Tensor, y: Tensor, g_x: Tensor, g_y: Tensor, e_x: Tensor, e_y: Tensor, h: Tensor) -> Tensor:
    """Metropolis-Hastings log acceptance ratio ``(B,)`` of a MALA move ``x -> y`` (NaN counts as reject)."""
    fwd = _sq_norm(y - x + h * g_x)  # -4h log q(y|x)
    bwd = _sq_norm(x - y + h * g_y)  # -4h log q(x|y)
    log_alpha = (_acc(e_x) - _acc(e_y)) + (fwd - bwd) / (4.0 * _acc(h))
    return torch.nan_to_num(log_alpha, nan=-math.inf)


def _hmc_log_alpha(e_x: Tensor, e_q: Tensor, p0: Tensor, p: Tensor, mass: float) -> Tensor:
    """HMC log acceptance ratio ``H(x, p0) - H(q, p)``, shape ``(B,)`` (NaN counts as reject)."""
    h0 = _acc(e_x) + _sq_norm(p0) / (2.0 * mass)
    h1 = _acc(e_q) + _sq_norm(p) / (2.0 * mass)
    return torch.nan_to_num(h0 - h1, nan=-math.inf)


def _select(accept: Tensor, new: tuple[Tensor, ...], old: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    """Per chain, ``new`` where ``accept`` (``(B,)`` bool) else ``old``; tensors ``(B, ...)``."""
    return tuple(torch.where(_bcast(accept, o), n, o) for n, o in zip(new, old))


class _Steps:
    """The step functions one sampler calls: eager by default, ``torch.compile``-d by ``compile_step``."""

    def __init__(self, compiled: bool = False) -> None:
        wrap = (lambda f: torch.compile(f, dynamic=False)) if compiled else (lambda f: f)
        self.langevin_update = wrap(_langevin_update)
        self.mala_propose = wrap(_mala_propose)
        self.mala_log_alpha = wrap(_mala_log_alpha)
        self.hmc_log_alpha = wrap(_hmc_log_alpha)
        self.select = wrap(_select)


_EAGER = _Steps()


@functools.cache
def _compiled_steps() -> _Steps:
    """The compiled step functions, made once and shared (dynamo caches per function anyway)."""
    return _Steps(compiled=True)


class _SteppedSampler(Sampler):
    """A core sampler whose step arithmetic can be compiled (:meth:`compile_step`)."""

    _steps: _Steps = _EAGER

    def compile_step(self) -> None:
        """Opt-in ``torch.compile`` of the step arithmetic (proposal, update, acceptance, selection).

        Gradient evaluations stay eager (compile the energy for those: ``compile_energy``) and the random
        draws stay outside the compiled functions, so a compiled chain sees the eager chain's random numbers
        and matches it up to floating-point reassociation. The first calls are slow while graphs compile;
        each new batch shape compiles again.
        """
        self._steps = _compiled_steps()


# --- unadjusted Langevin -----------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class LangevinSamplerConfig(SamplerConfig):
    r"""Config of :class:`LangevinSampler`.

    Attributes:
        step_size: :math:`\eta` in :math:`x \leftarrow x - \eta\nabla E + s\sqrt{2\eta}\,\xi`.
        n_steps: number of steps.
        noise_scale: :math:`s`; 1 is exact ULA for :math:`\exp(-E)`, smaller values sample a colder
            distribution (the decoupled setting of many EBM papers).
        clip_grad: clip the gradient before the step (``None``: no clipping).
        clip_mode: ``norm`` (per-chain L2 norm at most ``clip_grad``) or ``value`` (each entry in
            ``[-clip_grad, clip_grad]``).
        clamp: clamp states to ``(min, max)`` after every step (images), ``None``: no clamping.

    Examples:
        >>> from ebmcore.components.samplers import LangevinSamplerConfig
        >>> cfg = LangevinSamplerConfig(step_size=1.0, noise_scale=0.005, clip_grad=0.03, clamp=(-1.0, 1.0))
        >>> cfg.n_steps, cfg.clip_mode
        (20, 'norm')
        >>> LangevinSamplerConfig(step_size=0.0)
        Traceback (most recent call last):
        ...
        ValueError: 'step_size' must be > 0: 0.0
        >>> LangevinSamplerConfig(clamp=(1.0, -1.0))
        Traceback (most recent call last):
        ...
        ValueError: 'clamp' must be (min, max) with min < max, got (1.0, -1.0)
    """

    step_size: float = attrs.field(default=0.01, validator=v.gt(0))
    n_steps: int = attrs.field(default=20, validator=v.ge(1))
    noise_scale: float = attrs.field(default=1.0, validator=v.ge(0))
    clip_grad: float | None = attrs.field(default=None, validator=v.optional(v.gt(0)))
    clip_mode: Literal["norm", "value"] = attrs.field(default="norm", validator=v.in_(("norm", "value")))
    clamp: tuple[float, float] | None = attrs.field(default=None, validator=_check_clamp)


class LangevinSampler(_SteppedSampler):
    r"""Unadjusted Langevin algorithm (ULA), the sampler of most EBM training recipes.

    .. math:: x_{k+1} = \mathrm{clamp}\big(x_k - \eta\, \mathrm{clip}(\nabla_x E(x_k)) + s\sqrt{2\eta}\,\xi_k\big),
              \qquad \xi_k \sim \mathcal N(0, I)

    With ``noise_scale`` :math:`s = 1`, no clipping and no clamping this is the Euler-Maruyama
    discretisation of the Langevin diffusion whose stationary law is :math:`\propto \exp(-E)` (biased by
    :math:`O(\eta)`; use :class:`MALASampler` for an exact chain). The textbook form
    :math:`x - \tfrac{\epsilon^2}{2}\nabla E + \epsilon\xi` is the case :math:`\eta = \epsilon^2/2`.
    Many EBM papers (IGEBM, JEM, short-run MCMC) decouple the drift and noise magnitudes, e.g. drift
    step 1 with noise 0.01; that corresponds to :math:`\eta` = drift step and
    :math:`s = \sigma/\sqrt{2\eta}`.

    References:
        Roberts & Tweedie, Bernoulli 1996; Welling & Teh, "Bayesian learning via stochastic gradient
        Langevin dynamics", ICML 2011; Du & Mordatch, arXiv 1903.08689.

    Arguments:
        step_size: :math:`\eta > 0`.
        n_steps: number of steps.
        noise_scale: :math:`s \ge 0`.
        clip_grad: gradient clip threshold, or ``None``.
        clip_mode: ``"norm"`` (per chain) or ``"value"`` (per entry).
        clamp: ``(min, max)`` applied after each step, or ``None``.

    Sample arguments:
        energy: any energy callable ``(B, *event_shape) -> (B,)``.
        x0: starting states ``(B, *event_shape)``.
        cond: conditions passed to ``energy`` as keywords, each ``(B,)``.

    Returns:
        :class:`SampleResult` with ``x`` ``(B, *event_shape)`` (detached, dtype/device of ``x0``), stats
        ``step_size`` (float) and ``grad_norm`` (tensor: mean over chains of the per-chain gradient norm at
        the last step, before clipping); ``n_grad_evals = n_energy_evals = n_steps``.

    Examples:
        >>> import torch
        >>> from ebmcore.components.samplers import LangevinSampler
        >>> energy = lambda x: 0.5 * x.pow(2).sum(1)  # standard normal target
        >>> x0 = torch.full((1024, 2), 3.0)  # every chain starts far from the mode
        >>> out = LangevinSampler(step_size=0.05, n_steps=100).sample(energy, x0)
        >>> tuple(out.x.shape), out.n_grad_evals
        ((1024, 2), 100)
        >>> # the chains forgot their start: mean ~ 0, variance ~ 1 (ULA's O(step) bias: 1 / (1 - 0.05 / 2))
        >>> bool(out.x.mean().abs() < 0.15), bool((out.x.var() - 1.0).abs() < 0.25)
        (True, True)
        >>> # noise_scale=0 is gradient descent: x_k = (1 - step)^k x_0 on this energy
        >>> out = LangevinSampler(step_size=0.05, n_steps=20, noise_scale=0.0).sample(energy, x0)
        >>> torch.allclose(out.x, x0 * 0.95**20)
        True
        >>> # the statistic: |grad E(x)| = |x| at the start of the last step, 3 * sqrt(2) * 0.95**19
        >>> round(float(out.stats["grad_norm"]), 3)
        1.601
    """

    def __init__(
        self,
        *,
        step_size: float = 0.01,
        n_steps: int = 20,
        noise_scale: float = 1.0,
        clip_grad: float | None = None,
        clip_mode: str = "norm",
        clamp: tuple[float, float] | None = None,
    ) -> None:
        super().__init__()
        if step_size <= 0 or n_steps < 1 or noise_scale < 0:
            raise ValueError("LangevinSampler needs step_size > 0, n_steps >= 1 and noise_scale >= 0")
        if clip_mode not in ("norm", "value"):
            raise ValueError(f"clip_mode must be 'norm' or 'value', got {clip_mode!r}")
        self.step_size = float(step_size)
        self.n_steps = int(n_steps)
        self.noise_scale = float(noise_scale)
        self.clip_grad = None if clip_grad is None else float(clip_grad)
        self.clip_mode = clip_mode
        self.clamp = None if clamp is None else (float(clamp[0]), float(clamp[1]))

    def sample(self, energy: EnergyFn, x0: Tensor, cond: Cond | None = None) -> SampleResult:
        x = x0.detach().clone()
        eta = self.step_size
        sigma = self.noise_scale * math.sqrt(2.0 * eta)
        for _ in range(self.n_steps):
            _, g = energy_and_grad(energy, x, cond)
            with torch.no_grad():
                noise = torch.randn_like(x) if sigma else None
                x = self._steps.langevin_update(x, g, noise, eta, sigma, self.clip_grad, self.clip_mode, self.clamp)
        gnorm_last = g.flatten(1).norm(dim=1).mean()  # the reported statistic: the last step's gradient (n_steps >= 1)
        stats: dict[str, Tensor | float] = {"step_size": eta, "grad_norm": gnorm_last}
        return SampleResult(x, stats, n_energy_evals=self.n_steps, n_grad_evals=self.n_steps)

    def extra_repr(self) -> str:
        return f"step_size={self.step_size}, n_steps={self.n_steps}, noise_scale={self.noise_scale}"


def build_langevin(cfg: LangevinSamplerConfig, ctx: BuildContext) -> LangevinSampler:
    """Build a :class:`LangevinSampler` (it holds no tensors; ``ctx`` is not used).

    Arguments:
        cfg: the sampler's config.
        ctx: the build context (unused).

    Returns:
        The sampler.

    Examples:
        >>> import torch
        >>> from ebmcore import BuildContext
        >>> from ebmcore.components.samplers import LangevinSamplerConfig, build_langevin
        >>> cfg = LangevinSamplerConfig(step_size=0.1, n_steps=5, clamp=(-1.0, 1.0))
        >>> sampler = build_langevin(cfg, BuildContext.for_shape((2,)))
        >>> out = sampler.sample(lambda x: 0.5 * x.pow(2).sum(1), torch.randn(8, 2) * 3)
        >>> tuple(out.x.shape), bool(out.x.abs().max() <= 1.0)  # clamped into the box
        ((8, 2), True)
    """
    return LangevinSampler(**cfg.as_kwargs())


# --- MALA --------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class MALASamplerConfig(SamplerConfig):
    r"""Config of :class:`MALASampler`.

    Attributes:
        step_size: initial :math:`\eta` of the proposal :math:`y = x - \eta\nabla E(x) + \sqrt{2\eta}\,\xi`.
        n_steps: number of Metropolis-Hastings steps.
        adapt: adapt the step size towards ``target_acceptance`` during sampling (default for each call).
        target_acceptance: target mean acceptance probability (0.574 is optimal for MALA in high
            dimension).
        adapt_rate: gain :math:`\gamma` of the log-step update.
        min_step_size, max_step_size: bounds of the adapted step size.

    Examples:
        >>> from ebmcore.components.samplers import MALASamplerConfig
        >>> MALASamplerConfig(step_size=0.1, n_steps=10).target_acceptance
        0.574
        >>> MALASamplerConfig(step_size=20.0)
        Traceback (most recent call last):
        ...
        ValueError: need min_step_size <= step_size <= max_step_size, got 1e-08 <= 20.0 <= 10.0
    """

    step_size: float = attrs.field(default=0.01, validator=v.gt(0))
    n_steps: int = attrs.field(default=20, validator=v.ge(1))
    adapt: bool = True
    target_acceptance: float = attrs.field(default=0.574, validator=[v.gt(0), v.lt(1)])
    adapt_rate: float = attrs.field(default=0.05, validator=v.gt(0))
    min_step_size: float = attrs.field(default=1e-8, validator=v.gt(0))
    max_step_size: float = attrs.field(default=10.0, validator=v.gt(0))

    def __attrs_post_init__(self) -> None:
        if not self.min_step_size <= self.step_size <= self.max_step_size:
            raise ValueError(
                f"need min_step_size <= step_size <= max_step_size, got "
                f"{self.min_step_size} <= {self.step_size} <= {self.max_step_size}"
            )


class MALASampler(_SteppedSampler):
    r"""Metropolis-adjusted Langevin algorithm with acceptance-targeted step-size adaptation.

    Proposal and acceptance (same step-size convention as :class:`LangevinSampler` with noise scale 1):

    .. math::
        y = x - \eta\nabla E(x) + \sqrt{2\eta}\,\xi, \qquad
        \log q(y \mid x) = -\frac{\|y - x + \eta\nabla E(x)\|^2}{4\eta} + \text{const}

    .. math::
        \log\alpha = E(x) - E(y) + \log q(x \mid y) - \log q(y \mid x), \qquad
        \text{accept with probability } \min(1, \alpha)

    The chain leaves :math:`\exp(-E)` exactly invariant when ``adapt`` is off. With ``adapt`` on, after
    every step the shared step size follows a Robbins-Monro update of its logarithm,

    .. math:: \log\eta \leftarrow \mathrm{clip}\big(\log\eta + \gamma(\bar a - a^*)\big),

    where :math:`\bar a` is the mean acceptance probability over chains at that step and :math:`a^*` the
    target. The gain :math:`\gamma` is constant so the step size keeps tracking an energy that changes
    during training; switch adaptation off (``adapt=False``) when drawing final samples that must be exact.
    The step size is a buffer (``log_step_size``), so it is saved in checkpoints and carried between calls.

    References:
        Roberts & Tweedie, Bernoulli 1996; Roberts & Rosenthal, JRSS-B 1998 (target 0.574);
        Andrieu & Thoms, Statistics and Computing 2008 (adaptive MCMC).

    Arguments:
        step_size: initial :math:`\eta`.
        n_steps: number of MH steps.
        adapt: default of ``sample``'s ``adapt``.
        target_acceptance: :math:`a^*`.
        adapt_rate: :math:`\gamma`.
        min_step_size, max_step_size: bounds of :math:`\eta`.
        device, dtype: of the step-size buffer (kept at least float32).

    Sample arguments:
        energy: any energy callable. x0: ``(B, *event_shape)``. cond: conditions ``(B,)`` each.
        adapt: override the default adaptation for this call (default: ``adapt`` in train mode only, so
            generation under :func:`~ebmcore.abstract.sampling_mode` never changes the step size).

    Returns:
        :class:`SampleResult` with ``x`` ``(B, *event_shape)``, stats ``acceptance_rate`` (tensor: fraction
        of accepted proposals over all steps and chains) and ``step_size`` (tensor: the step size after the
        call); ``n_grad_evals = n_energy_evals = n_steps + 1``.

    Examples:
        >>> import torch
        >>> from ebmcore.components.samplers import MALASampler
        >>> energy = lambda x: 0.5 * x.pow(2).sum(1)  # standard normal target
        >>> sampler = MALASampler(step_size=0.5, n_steps=50)
        >>> x0 = torch.full((1024, 2), 3.0)
        >>> out = sampler.sample(energy, x0, adapt=False)  # exact chain: the step size stays fixed
        >>> tuple(out.x.shape), out.n_grad_evals, round(float(sampler.step_size), 3)
        ((1024, 2), 51, 0.5)
        >>> bool(out.x.mean().abs() < 0.15), bool((out.x.var() - 1.0).abs() < 0.2)
        (True, True)
        >>> 0.0 < float(out.stats["acceptance_rate"]) <= 1.0
        True
        >>> # in train mode the step size adapts towards 57.4% acceptance; it grows when acceptance is high
        >>> out = sampler.sample(energy, out.x)
        >>> bool(sampler.step_size > 0.5)
        True
    """

    log_step_size: Tensor

    def __init__(
        self,
        *,
        step_size: float = 0.01,
        n_steps: int = 20,
        adapt: bool = True,
        target_acceptance: float = 0.574,
        adapt_rate: float = 0.05,
        min_step_size: float = 1e-8,
        max_step_size: float = 10.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if not (0 < min_step_size <= step_size <= max_step_size) or n_steps < 1:
            raise ValueError("MALASampler needs 0 < min_step_size <= step_size <= max_step_size and n_steps >= 1")
        if not 0 < target_acceptance < 1:
            raise ValueError(f"target_acceptance must be in (0, 1), got {target_acceptance}")
        self.n_steps = int(n_steps)
        self.adapt = bool(adapt)
        self.target_acceptance = float(target_acceptance)
        self.adapt_rate = float(adapt_rate)
        self.log_min = math.log(min_step_size)
        self.log_max = math.log(max_step_size)
        buf_dtype = torch.float64 if dtype == torch.float64 else torch.float32
        self.register_buffer("log_step_size", torch.tensor(math.log(step_size), device=device, dtype=buf_dtype))

    @property
    def step_size(self) -> Tensor:
        """Current step size :math:`\\eta` (0-dim tensor on the buffer's device)."""
        return self.log_step_size.exp()

    def sample(
        self, energy: EnergyFn, x0: Tensor, cond: Cond | None = None, *, adapt: bool | None = None
    ) -> SampleResult:
        adapt = (self.adapt and self.training) if adapt is None else adapt  # adapt only in train mode
        x = x0.detach().clone()
        log_h = self.log_step_size.detach().to(x.device).clone()
        e_x, g_x = energy_and_grad(energy, x, cond)
        n_acc = torch.zeros((), device=x.device, dtype=_acc(x).dtype)
        for _ in range(self.n_steps):
            with torch.no_grad():
                h = log_h.exp().to(x.dtype)
                y = self._steps.mala_propose(x, g_x, h, torch.randn_like(x))
            e_y, g_y = energy_and_grad(energy, y, cond)
            with torch.no_grad():
                log_alpha = self._steps.mala_log_alpha(x, y, g_x, g_y, e_x, e_y, h)
                accept = torch.rand_like(log_alpha).log() < log_alpha
                x, g_x, e_x = self._steps.select(accept, (y, g_y, e_y), (x, g_x, e_x))
                n_acc += accept.to(n_acc.dtype).mean()
                if adapt:
                    mean_prob = log_alpha.clamp(max=0.0).exp().mean()
                    log_h = (log_h + self.adapt_rate * (mean_prob.to(log_h.dtype) - self.target_acceptance)).clamp(
                        self.log_min, self.log_max
                    )
        if adapt:
            with torch.no_grad():
                self.log_step_size.copy_(log_h.to(self.log_step_size.device))
        stats: dict[str, Tensor | float] = {
            "acceptance_rate": n_acc / self.n_steps,
            "step_size": log_h.exp(),
        }
        n = self.n_steps + 1
        return SampleResult(x, stats, n_energy_evals=n, n_grad_evals=n)

    def extra_repr(self) -> str:
        return f"n_steps={self.n_steps}, adapt={self.adapt}, target_acceptance={self.target_acceptance}"


def build_mala(cfg: MALASamplerConfig, ctx: BuildContext) -> MALASampler:
    """Build a :class:`MALASampler` with its step-size buffer on ``ctx.device``.

    Arguments:
        cfg: the sampler's config.
        ctx: the build context (``device`` and ``dtype`` of the step-size buffer).

    Returns:
        The sampler.

    Examples:
        >>> import torch
        >>> from ebmcore import BuildContext
        >>> from ebmcore.components.samplers import MALASamplerConfig, build_mala
        >>> sampler = build_mala(MALASamplerConfig(step_size=0.2, n_steps=5), BuildContext.for_shape((2,)))
        >>> sampler.log_step_size.device, "log_step_size" in sampler.state_dict()  # saved in checkpoints
        (device(type='cpu'), True)
        >>> out = sampler.sample(lambda x: 0.5 * x.pow(2).sum(1), torch.randn(8, 2))
        >>> tuple(out.x.shape), sorted(out.stats)
        ((8, 2), ['acceptance_rate', 'step_size'])
    """
    return MALASampler(**cfg.as_kwargs(), device=ctx.device, dtype=ctx.dtype)


# --- HMC ---------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class HMCSamplerConfig(SamplerConfig):
    r"""Config of :class:`HMCSampler`.

    Attributes:
        step_size: leapfrog step :math:`\epsilon`.
        n_leapfrog: leapfrog steps per trajectory :math:`L`.
        n_trajectories: number of trajectories (Metropolis-Hastings steps).
        mass: scalar mass :math:`m` (momentum :math:`p \sim \mathcal N(0, mI)`).

    Examples:
        >>> from ebmcore.components.samplers import HMCSamplerConfig
        >>> cfg = HMCSamplerConfig(step_size=0.2, n_leapfrog=5)
        >>> cfg.n_trajectories * cfg.n_leapfrog + 1  # gradient evaluations per call
        51
        >>> HMCSamplerConfig(n_leapfrog=0)
        Traceback (most recent call last):
        ...
        ValueError: 'n_leapfrog' must be >= 1: 0
    """

    step_size: float = attrs.field(default=0.1, validator=v.gt(0))
    n_leapfrog: int = attrs.field(default=10, validator=v.ge(1))
    n_trajectories: int = attrs.field(default=10, validator=v.ge(1))
    mass: float = attrs.field(default=1.0, validator=v.gt(0))


class HMCSampler(_SteppedSampler):
    r"""Hamiltonian Monte Carlo with leapfrog integration and a Metropolis correction.

    With :math:`H(x, p) = E(x) + \|p\|^2/(2m)` and :math:`p \sim \mathcal N(0, mI)` drawn afresh per
    trajectory, each trajectory runs :math:`L` leapfrog steps

    .. math::
        p \leftarrow p - \tfrac{\epsilon}{2}\nabla E(x), \quad
        x \leftarrow x + \epsilon\, p / m, \quad
        p \leftarrow p - \tfrac{\epsilon}{2}\nabla E(x)

    (the two half kicks between consecutive steps merged into one full kick), then accepts the end point
    with probability :math:`\min(1, \exp(H(x, p) - H(x', p')))`.

    Gradient reuse: the energy and gradient at a trajectory's end point are those of the next
    trajectory's start (kept on rejection), so one call costs exactly
    ``n_trajectories * n_leapfrog + 1`` gradient evaluations (forward + backward), and as many forward
    passes: one at ``x0`` and one after each position update.

    References:
        Duane et al., "Hybrid Monte Carlo", Physics Letters B 1987; Neal, "MCMC using Hamiltonian
        dynamics", arXiv 1206.1901.

    Arguments:
        step_size: :math:`\epsilon`.
        n_leapfrog: :math:`L`.
        n_trajectories: number of trajectories.
        mass: scalar :math:`m`.

    Sample arguments:
        energy: any energy callable. x0: ``(B, *event_shape)``. cond: conditions ``(B,)`` each.

    Returns:
        :class:`SampleResult` with ``x`` ``(B, *event_shape)``, stats ``acceptance_rate`` (tensor, over
        trajectories and chains) and ``step_size`` (float); ``n_grad_evals = n_energy_evals =
        n_trajectories * n_leapfrog + 1``.

    Examples:
        >>> import torch
        >>> from ebmcore.components.samplers import HMCSampler
        >>> energy = lambda x: 0.5 * x.pow(2).sum(1)  # standard normal target
        >>> sampler = HMCSampler(step_size=0.3, n_leapfrog=5, n_trajectories=20)
        >>> out = sampler.sample(energy, torch.full((1024, 2), 3.0))
        >>> tuple(out.x.shape), out.n_grad_evals
        ((1024, 2), 101)
        >>> bool(out.x.mean().abs() < 0.15), bool((out.x.var() - 1.0).abs() < 0.2)
        (True, True)
        >>> bool(out.stats["acceptance_rate"] > 0.9)  # leapfrog nearly conserves H on a Gaussian
        True
    """

    def __init__(
        self, *, step_size: float = 0.1, n_leapfrog: int = 10, n_trajectories: int = 10, mass: float = 1.0
    ) -> None:
        super().__init__()
        if step_size <= 0 or n_leapfrog < 1 or n_trajectories < 1 or mass <= 0:
            raise ValueError("HMCSampler needs step_size > 0, n_leapfrog >= 1, n_trajectories >= 1, mass > 0")
        self.step_size = float(step_size)
        self.n_leapfrog = int(n_leapfrog)
        self.n_trajectories = int(n_trajectories)
        self.mass = float(mass)

    def sample(self, energy: EnergyFn, x0: Tensor, cond: Cond | None = None) -> SampleResult:
        eps, m, L = self.step_size, self.mass, self.n_leapfrog
        x = x0.detach().clone()
        e_x, g_x = energy_and_grad(energy, x, cond)
        n_acc = torch.zeros((), device=x.device, dtype=_acc(x).dtype)
        for _ in range(self.n_trajectories):
            with torch.no_grad():
                p0 = torch.randn_like(x) * math.sqrt(m)
                p = p0 - 0.5 * eps * g_x
                q = x
            e_q, g_q = e_x, g_x
            for step in range(L):
                with torch.no_grad():
                    q = q + (eps / m) * p
                e_q, g_q = energy_and_grad(energy, q, cond)
                with torch.no_grad():
                    p = p - (eps if step < L - 1 else 0.5 * eps) * g_q
            with torch.no_grad():
                log_alpha = self._steps.hmc_log_alpha(e_x, e_q, p0, p, m)
                accept = torch.rand_like(log_alpha).log() < log_alpha
                x, g_x, e_x = self._steps.select(accept, (q, g_q, e_q), (x, g_x, e_x))
                n_acc += accept.to(n_acc.dtype).mean()
        stats: dict[str, Tensor | float] = {"acceptance_rate": n_acc / self.n_trajectories, "step_size": eps}
        n = self.n_trajectories * L + 1
        return SampleResult(x, stats, n_energy_evals=n, n_grad_evals=n)

    def extra_repr(self) -> str:
        return (
            f"step_size={self.step_size}, n_leapfrog={self.n_leapfrog}, "
            f"n_trajectories={self.n_trajectories}, mass={self.mass}"
        )


def build_hmc(cfg: HMCSamplerConfig, ctx: BuildContext) -> HMCSampler:
    """Build an :class:`HMCSampler` (it holds no tensors; ``ctx`` is not used).

    Arguments:
        cfg: the sampler's config.
        ctx: the build context (unused).

    Returns:
        The sampler.

    Examples:
        >>> import torch
        >>> from ebmcore import BuildContext
        >>> from ebmcore.components.samplers import HMCSamplerConfig, build_hmc
        >>> sampler = build_hmc(HMCSamplerConfig(n_leapfrog=3, n_trajectories=2), BuildContext.for_shape((2,)))
        >>> out = sampler.sample(lambda x: 0.5 * x.pow(2).sum(1), torch.randn(8, 2))
        >>> tuple(out.x.shape), out.n_grad_evals, out.n_energy_evals
        ((8, 2), 7, 7)
    """
    return HMCSampler(**cfg.as_kwargs())


# --- exact 2-D sampling by grid normalisation --------------------------------------------------------


@attrs.frozen(kw_only=True)
class GridSamplerConfig(SamplerConfig):
    """Config of :class:`GridSampler`.

    Attributes:
        box: ``(lo, hi)`` of both axes.
        n_grid: cells per axis.

    Examples:
        >>> from ebmcore.components.samplers import GridSamplerConfig
        >>> GridSamplerConfig(box=(-4.0, 4.0), n_grid=200).box
        (-4.0, 4.0)
        >>> GridSamplerConfig(n_grid=1)
        Traceback (most recent call last):
        ...
        ValueError: 'n_grid' must be >= 2: 1
    """

    box: tuple[float, float] = attrs.field(default=(-6.0, 6.0), validator=_check_clamp)
    n_grid: int = attrs.field(default=400, validator=v.ge(2))


class GridSampler(Sampler):
    r"""Exact samples of a 2-D energy's density :math:`\propto e^{-E}` on a box, by grid normalisation.

    Not a Markov chain: the starting states only give the number, device and dtype of the samples. It
    evaluates 2-D energies without any sampler bias (the density, not the sampler, is judged), see
    :func:`~ebmcore.metrics.grid.grid_sample`. 2-D states only.

    Arguments:
        box: ``(lo, hi)`` for both axes.
        n_grid: cells per axis (``n_grid**2`` energy evaluations per call).

    Examples:
        >>> import torch
        >>> from ebmcore.components.samplers import GridSampler
        >>> energy = lambda x: 0.5 * x.pow(2).sum(1)  # standard normal target
        >>> x0 = torch.zeros(2000, 2)  # only its shape, device and dtype matter
        >>> out = GridSampler(box=(-5.0, 5.0), n_grid=100).sample(energy, x0)
        >>> tuple(out.x.shape), out.n_grad_evals
        ((2000, 2), 0)
        >>> bool(out.x.mean().abs() < 0.15), bool((out.x.var() - 1.0).abs() < 0.2)
        (True, True)
        >>> GridSampler().sample(energy, torch.zeros(4, 3))
        Traceback (most recent call last):
        ...
        ValueError: the grid sampler draws 2-D states, got starting states of shape (4, 3)
    """

    def __init__(self, *, box: tuple[float, float] = (-6.0, 6.0), n_grid: int = 400) -> None:
        super().__init__()
        self.box = (float(box[0]), float(box[1]))
        self.n_grid = int(n_grid)

    def sample(self, energy: EnergyFn, x0: Tensor, cond: Cond | None = None) -> SampleResult:
        if x0.dim() != 2 or x0.shape[1] != 2:
            raise ValueError(f"the grid sampler draws 2-D states, got starting states of shape {tuple(x0.shape)}")
        if cond:
            raise TypeError("the grid sampler does not take conditions")
        from ebmcore.metrics.grid import grid_sample

        x = grid_sample(energy, x0.shape[0], box=self.box, n_grid=self.n_grid, device=x0.device, dtype=x0.dtype)
        return SampleResult(x, {}, n_energy_evals=0, n_grad_evals=0)

    def extra_repr(self) -> str:
        return f"box={self.box}, n_grid={self.n_grid}"


def build_grid(cfg: GridSamplerConfig, ctx: BuildContext) -> GridSampler:
    """Build a :class:`GridSampler` (it holds no tensors; ``ctx`` is not used).

    Arguments:
        cfg: the sampler's config.
        ctx: the build context (unused).

    Returns:
        The sampler.

    Examples:
        >>> import torch
        >>> from ebmcore import BuildContext
        >>> from ebmcore.components.samplers import GridSamplerConfig, build_grid
        >>> sampler = build_grid(GridSamplerConfig(box=(-3.0, 3.0), n_grid=50), BuildContext.for_shape((2,)))
        >>> out = sampler.sample(lambda x: 0.5 * x.pow(2).sum(1), torch.zeros(16, 2))
        >>> tuple(out.x.shape), bool(out.x.abs().max() <= 3.0)  # inside the box
        ((16, 2), True)
    """
    return GridSampler(**cfg.as_kwargs())
