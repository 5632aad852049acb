r"""Flow-assisted MCMC: a global kernel with a tractable-density proposal, interleaved with local MALA.

One *round* is one global step followed by ``local_steps`` local steps; a call runs ``n_rounds`` rounds
(spec section 3). For fixed parameters every kernel leaves :math:`p(x) \propto e^{-E(x)}` invariant, so
their composition does too; the proposal only changes how fast chains mix, never the target.

* ``imh`` (independent Metropolis-Hastings): per chain draw :math:`y \sim q`, accept with probability
  :math:`\min\{1, w(y)/w(x)\}`, :math:`\log w = -E - \log q`.
* ``isir`` (iterated sampling-importance-resampling, Ex2MCMC's global kernel): draw :math:`M` proposals,
  add the current state, pick one of the :math:`M+1` with probability :math:`\propto w`.
* ``none``: local steps only (with persistent chains this is PCD-MALA, the baseline).

Local kernels are core's :class:`~ebmcore.components.samplers.MALASampler` (exact, step size adapted
towards a target acceptance with one step size shared by all chains, changed only between steps) or
:class:`~ebmcore.components.samplers.LangevinSampler` (ULA, not exact). The proposal is any
:class:`~ebmcore.abstract.DensityInitializer`: this plugin's flows, core's Gaussian, a user's own.

Persistent chains (``persistent=True``): ``n_chains`` states kept in the ``chains`` buffer (saved in
checkpoints), started from the proposal's samples (never from data: that would hide the failure NF-MLE
fixes), advanced by every training call and returned as negatives. Outside training (``eval()``, as in
``ebm sample``), and always with ``persistent=False``, chains start fresh from the proposal: IMH-corrected
flow samples, the amortised sampler of a trained NF-MLE model. The caches of :math:`E` and
:math:`\log q` are recomputed at the start of every call, because parameters change between calls (the
stale-cache bug spec section 3 warns about cannot occur).

References:
    Grenioux, Moulines & Gabrié, arXiv 2306.00684 (NF-assisted EBM training).
    Gabrié, Rotskoff & Vanden-Eijnden, "Adaptive Monte Carlo augmented with normalizing flows", PNAS 2022,
    arXiv 2105.12603 (IMH with a flow + local walkers).
    Samsonov et al., "Local-global MCMC kernels: the best of both worlds", NeurIPS 2022 (i-SIR, Ex2MCMC).
    Tierney, "Markov chains for exploring posterior distributions", Annals of Statistics 1994 (IMH).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import attrs
import torch
from attrs import validators as v
from torch import Tensor, nn

from ebmcore import (
    BuildContext,
    Cond,
    DensityInitializer,
    EnergyFn,
    Initializer,
    Sampler,
    SamplerConfig,
    SampleResult,
)
from ebmcore.components.samplers import LangevinSampler, MALASampler

__all__ = ["FlowMCMCSampler", "FlowMCMCSamplerConfig", "build_flow_mcmc", "imh_step", "isir_step"]


def _bcast(mask: Tensor, x: Tensor) -> Tensor:
    return mask.view(-1, *([1] * (x.dim() - 1)))


@torch.no_grad()
def imh_step(
    energy: EnergyFn, proposal: DensityInitializer, x: Tensor, e_x: Tensor, lq_x: Tensor, cond: Cond | None = None
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    r"""One independent Metropolis-Hastings step per chain with proposal :math:`q`.

    Arguments:
        energy: target energy, ``(B, *event_shape) -> (B,)``.
        proposal: a density initializer (``sample_with_log_prob``, ``log_prob``).
        x: current states ``(B, *event_shape)``.
        e_x, lq_x: their energies and proposal log-densities, each ``(B,)``.
        cond: conditions passed to the energy and the proposal, each ``(B,)``; ``None``: none.

    Returns:
        ``(x, e_x, lq_x, accepted)``: new states and caches, and the ``(B,)`` boolean acceptance mask.
        One energy evaluation per chain (the proposals).

    Examples:
        When the proposal is the target itself every importance weight :math:`e^{-E}/q` is the same, so
        every proposal is accepted:

        >>> import torch
        >>> from ebmcore.components.initializers import GaussianInitializer
        >>> from ebmcore_nfmle import imh_step
        >>> energy = lambda x: 0.5 * x.pow(2).sum(1)  # N(0, I), up to a constant
        >>> proposal = GaussianInitializer((2,))
        >>> x = torch.full((6, 2), 5.0)  # chains stuck far out
        >>> x, e_x, lq_x, accepted = imh_step(energy, proposal, x, energy(x), proposal.log_prob(x))
        >>> accepted
        tensor([True, True, True, True, True, True])
        >>> torch.allclose(e_x, energy(x)), torch.allclose(lq_x, proposal.log_prob(x))  # caches follow
        (True, True)
    """
    n = x.shape[0]
    y, lq_y = proposal.sample_with_log_prob(n, cond)
    e_y = energy(y, **(cond or {}))
    log_ratio = (lq_x - lq_y) + (e_x - e_y)  # log w(y) - log w(x), log w = -E - log q
    log_ratio = torch.nan_to_num(log_ratio.float(), nan=-math.inf)
    accept = torch.rand_like(log_ratio).log() < log_ratio
    return (
        torch.where(_bcast(accept, x), y.to(x.dtype), x),
        torch.where(accept, e_y, e_x),
        torch.where(accept, lq_y, lq_x),
        accept,
    )


@torch.no_grad()
def isir_step(
    energy: EnergyFn,
    proposal: DensityInitializer,
    x: Tensor,
    e_x: Tensor,
    lq_x: Tensor,
    n_proposals: int,
    cond: Cond | None = None,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    r"""One i-SIR step per chain: :math:`M` proposals plus the current state, one kept :math:`\propto w`.

    Each chain draws its own ``n_proposals`` candidates; the importance weight is
    :math:`w = e^{-E}/q`. Conditions are not supported (a ``TypeError`` is raised).

    Arguments:
        energy: target energy, ``(B, *event_shape) -> (B,)``.
        proposal: a density initializer (``sample_with_log_prob``, ``log_prob``).
        x: current states ``(B, *event_shape)``.
        e_x, lq_x: their energies and proposal log-densities, each ``(B,)``.
        n_proposals: proposals :math:`M` per chain.
        cond: must be empty or ``None``.

    Returns:
        ``(x, e_x, lq_x, moved, ess)``: new states and caches, the ``(B,)`` mask of chains that moved
        to a proposal, and the mean normalised effective sample size :math:`(\sum w)^2 / ((M+1)\sum w^2)` of
        the :math:`M+1` weights (a 0-d tensor). :math:`M` energy evaluations per chain.

    Examples:
        >>> import torch
        >>> from ebmcore.components.initializers import GaussianInitializer
        >>> from ebmcore_nfmle import isir_step
        >>> energy = lambda x: 0.5 * x.pow(2).sum(1)
        >>> proposal = GaussianInitializer((2,))
        >>> x = proposal.init(6)
        >>> x, e_x, lq_x, moved, ess = isir_step(energy, proposal, x, energy(x), proposal.log_prob(x), 4)
        >>> tuple(x.shape), tuple(moved.shape), moved.dtype
        ((6, 2), (6,), torch.bool)
        >>> round(float(ess), 4)  # an exact proposal: equal weights, full ESS
        1.0
    """
    if cond:
        raise TypeError("isir_step does not support conditions (proposals are shared across a chain's candidates)")
    b, m = x.shape[0], n_proposals
    y, lq_y = proposal.sample_with_log_prob(b * m)
    e_y = energy(y)
    cand = torch.cat([x.unsqueeze(1), y.to(x.dtype).view(b, m, *x.shape[1:])], 1)  # (B, M+1, ...)
    e_c = torch.cat([e_x.unsqueeze(1), e_y.view(b, m)], 1)
    lq_c = torch.cat([lq_x.unsqueeze(1), lq_y.view(b, m)], 1)
    logw = torch.nan_to_num((-e_c - lq_c).float(), nan=-math.inf)
    probs = torch.softmax(logw, dim=1)
    idx = torch.multinomial(probs, 1).squeeze(1)
    rows = torch.arange(b, device=x.device)
    ess = (1.0 / probs.pow(2).sum(1)).mean() / (m + 1)
    return cand[rows, idx], e_c[rows, idx], lq_c[rows, idx], idx > 0, ess


@attrs.frozen(kw_only=True)
class FlowMCMCSamplerConfig(SamplerConfig):
    """Config of :class:`FlowMCMCSampler`.

    Attributes:
        n_rounds: rounds per call; a round is one global step then ``local_steps`` local steps.
        global_kernel: ``imh``, ``isir`` or ``none`` (local steps only).
        n_proposals: proposals per chain of an ``isir`` step.
        local_kernel: ``mala`` (exact, adaptive step) or ``ula`` (unadjusted Langevin).
        local_steps: local steps per round (0: global moves only).
        step_size: (initial) local step size.
        target_acceptance: MALA's adaptation target.
        adapt_rate: MALA's log-step gain.
        persistent: keep ``n_chains`` chains across training calls.
        n_chains: number of persistent chains (must be at least the negatives asked for per step).

    Examples:
        >>> from ebmcore_nfmle import FlowMCMCSampler, FlowMCMCSamplerConfig
        >>> cfg = FlowMCMCSamplerConfig(global_kernel="isir", n_proposals=4, n_chains=16)
        >>> cfg.local_kernel, cfg.local_steps, cfg.persistent
        ('mala', 5, True)
        >>> FlowMCMCSampler((2,), **cfg.as_kwargs()).extra_repr()
        "n_rounds=2, global_kernel='isir', local_steps=5, persistent=True, n_chains=16"
        >>> FlowMCMCSamplerConfig(target_acceptance=1.0)
        Traceback (most recent call last):
        ...
        ValueError: 'target_acceptance' must be < 1: 1.0
    """

    n_rounds: int = attrs.field(default=2, validator=v.ge(1))
    global_kernel: Literal["imh", "isir", "none"] = attrs.field(
        default="imh", validator=v.in_(("imh", "isir", "none"))
    )
    n_proposals: int = attrs.field(default=16, validator=v.ge(1))
    local_kernel: Literal["mala", "ula"] = attrs.field(default="mala", validator=v.in_(("mala", "ula")))
    local_steps: int = attrs.field(default=5, validator=v.ge(0))
    step_size: float = attrs.field(default=0.05, validator=v.gt(0))
    target_acceptance: float = attrs.field(default=0.6, validator=[v.gt(0), v.lt(1)])
    adapt_rate: float = attrs.field(default=0.05, validator=v.gt(0))
    persistent: bool = True
    n_chains: int = attrs.field(default=256, validator=v.ge(1))


class FlowMCMCSampler(Sampler):
    r"""NF-assisted MCMC (flowMC / adaptive MCMC): global proposal moves plus local MALA, persistent chains.

    See the module docstring for the kernels. ``sample(energy, x0, cond, proposal=None)`` runs the rounds
    from ``x0``; without a proposal it runs the local steps only. ``generate(energy, initializer, n, cond)``
    uses ``initializer`` as the proposal when it is a :class:`~ebmcore.abstract.DensityInitializer`
    (required unless ``global_kernel='none'``) and, in train mode with ``persistent``, continues the
    persistent chains and returns ``n`` of them.

    Both return a :class:`~ebmcore.abstract.SampleResult` with ``x`` ``(n, *event_shape)`` detached and stats
    ``global_acceptance`` (fraction of chains moved by global steps, averaged over rounds),
    ``local_acceptance`` and ``step_size`` (MALA), ``ess`` (i-SIR), as device tensors.
    ``n_energy_evals``/``n_grad_evals`` count per chain: forward passes (cache refresh, proposals,
    and those inside gradient evaluations) and input-gradient evaluations.

    References:
        Grenioux, Moulines & Gabrié, "Balanced Training of Energy-Based Models with Adaptive Flow
        Sampling", ICML 2023 SPIGM workshop, arXiv 2306.00684.
        Gabrié, Rotskoff & Vanden-Eijnden, "Adaptive Monte Carlo augmented with normalizing flows",
        PNAS 2022, arXiv 2105.12603.

    Arguments:
        event_shape: shape of one state (for the persistent-chain buffer).
        n_rounds, global_kernel, n_proposals, local_kernel, local_steps: see :class:`FlowMCMCSamplerConfig`.
        step_size, target_acceptance, adapt_rate, persistent, n_chains: see :class:`FlowMCMCSamplerConfig`.
        device, dtype: of the chain buffer and MALA's step-size buffer.

    Examples:
        >>> import torch
        >>> from ebmcore.components.initializers import GaussianInitializer
        >>> from ebmcore_nfmle import FlowMCMCSampler
        >>> energy = lambda x: 0.5 * x.pow(2).sum(1)
        >>> proposal = GaussianInitializer((2,))  # exact here: every IMH move is accepted
        >>> sampler = FlowMCMCSampler((2,), n_rounds=2, local_steps=3, n_chains=16)
        >>> out = sampler.generate(energy, proposal, 8)  # train mode: advances the persistent chains
        >>> tuple(out.x.shape), bool(sampler.chains_ready), float(out.stats["global_acceptance"])
        ((8, 2), True, 1.0)
        >>> sorted(out.stats)
        ['global_acceptance', 'local_acceptance', 'step_size']
        >>> out.n_energy_evals, out.n_grad_evals  # 2 rounds of (cache, proposals, 4 MALA forwards/gradients)
        (12, 8)
        >>> _ = sampler.eval()
        >>> tuple(sampler.generate(energy, proposal, 4).x.shape)  # fresh chains from the proposal
        (4, 2)
    """

    chains: Tensor
    chains_ready: Tensor

    def __init__(
        self,
        event_shape: Sequence[int],
        *,
        n_rounds: int = 2,
        global_kernel: str = "imh",
        n_proposals: int = 16,
        local_kernel: str = "mala",
        local_steps: int = 5,
        step_size: float = 0.05,
        target_acceptance: float = 0.6,
        adapt_rate: float = 0.05,
        persistent: bool = True,
        n_chains: int = 256,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if global_kernel not in ("imh", "isir", "none"):
            raise ValueError(f"global_kernel must be 'imh', 'isir' or 'none', got {global_kernel!r}")
        if local_kernel not in ("mala", "ula"):
            raise ValueError(f"local_kernel must be 'mala' or 'ula', got {local_kernel!r}")
        if n_rounds < 1 or local_steps < 0 or n_proposals < 1 or n_chains < 1:
            raise ValueError("FlowMCMCSampler needs n_rounds >= 1, local_steps >= 0, n_proposals >= 1, n_chains >= 1")
        if global_kernel == "none" and local_steps == 0:
            raise ValueError("with global_kernel='none' at least one local step is needed")
        self.event_shape = tuple(int(s) for s in event_shape)
        self.n_rounds = int(n_rounds)
        self.global_kernel = global_kernel
        self.n_proposals = int(n_proposals)
        self.local_steps = int(local_steps)
        self.persistent = bool(persistent)
        self.n_chains = int(n_chains)
        self.local: nn.Module | None = None
        if local_steps:
            if local_kernel == "mala":
                self.local = MALASampler(
                    step_size=step_size, n_steps=local_steps, target_acceptance=target_acceptance,
                    adapt_rate=adapt_rate, device=device, dtype=dtype,
                )
            else:
                self.local = LangevinSampler(step_size=step_size, n_steps=local_steps)
        dtype = dtype or torch.get_default_dtype()
        self.register_buffer("chains", torch.zeros((self.n_chains, *self.event_shape), device=device, dtype=dtype))
        self.register_buffer("chains_ready", torch.zeros((), device=device, dtype=torch.bool))
        self._ready = False

    def _load_from_state_dict(self, *args: object, **kwargs: object) -> None:  # type: ignore[override]
        super()._load_from_state_dict(*args, **kwargs)  # type: ignore[arg-type]
        self._ready = False  # re-read chains_ready from the loaded state on the next call

    # --- the rounds ---------------------------------------------------------------------------------
    def sample(
        self,
        energy: EnergyFn,
        x0: Tensor,
        cond: Cond | None = None,
        *,
        proposal: DensityInitializer | None = None,
    ) -> SampleResult:
        use_global = self.global_kernel != "none" and proposal is not None
        x = x0.detach().clone()
        cond_kw = cond or {}
        zero = torch.zeros((), device=x.device, dtype=torch.float32)
        g_acc, l_acc, ess = zero.clone(), zero.clone(), zero.clone()
        n_fwd = n_grad = 0
        step_size: Tensor | float = float("nan")
        for _ in range(self.n_rounds):
            if use_global:
                assert proposal is not None
                with torch.no_grad():  # fresh caches: parameters or states changed since they were computed
                    e_x = energy(x, **cond_kw)
                    lq_x = proposal.log_prob(x, cond)
                n_fwd += 1
                if self.global_kernel == "imh":
                    x, e_x, lq_x, moved = imh_step(energy, proposal, x, e_x, lq_x, cond)
                    n_fwd += 1
                else:
                    x, e_x, lq_x, moved, round_ess = isir_step(energy, proposal, x, e_x, lq_x, self.n_proposals, cond)
                    ess = ess + round_ess
                    n_fwd += self.n_proposals
                g_acc = g_acc + moved.float().mean()
            if self.local is not None:
                res = self.local.sample(energy, x, cond)
                x = res.x
                n_fwd += res.n_energy_evals
                n_grad += res.n_grad_evals
                if "acceptance_rate" in res.stats:
                    l_acc = l_acc + res.stats["acceptance_rate"]
                step_size = res.stats["step_size"]
        stats: dict[str, Tensor | float] = {"step_size": step_size}
        if use_global:
            stats["global_acceptance"] = g_acc / self.n_rounds
            if self.global_kernel == "isir":
                stats["ess"] = ess / self.n_rounds
        if isinstance(self.local, MALASampler):
            stats["local_acceptance"] = l_acc / self.n_rounds
        return SampleResult(x, stats, n_energy_evals=n_fwd, n_grad_evals=n_grad)

    def generate(
        self, energy: EnergyFn, initializer: Initializer, n: int, cond: Cond | None = None
    ) -> SampleResult:
        proposal = initializer if isinstance(initializer, DensityInitializer) else None
        if proposal is None and self.global_kernel != "none":
            raise TypeError(
                f"flow_mcmc with global_kernel={self.global_kernel!r} needs an initializer with a density "
                f"(log_prob and sample_with_log_prob, e.g. 'realnvp' or 'gaussian'); "
                f"{type(initializer).__name__} has none. Use global_kernel='none' for local steps only."
            )
        if not (self.persistent and self.training):
            return self.sample(energy, initializer.init(n, cond), cond, proposal=proposal)
        if cond:
            raise TypeError(f"persistent chains do not support conditions {sorted(cond)}; set persistent=false")
        if n > self.n_chains:
            raise ValueError(f"asked for {n} negatives but flow_mcmc keeps n_chains={self.n_chains}; raise n_chains")
        if not self._ready:  # one host read per run (and after loading a state), not per step
            self._ready = bool(self.chains_ready)
        with torch.no_grad():
            start = self.chains if self._ready else initializer.init(self.n_chains).to(self.chains.dtype)
        result = self.sample(energy, start, None, proposal=proposal)
        with torch.no_grad():
            self.chains.copy_(result.x)
            self.chains_ready.fill_(True)
        self._ready = True
        if n == self.n_chains:
            return result
        return SampleResult(result.x[:n], result.stats, result.n_energy_evals, result.n_grad_evals)

    def extra_repr(self) -> str:
        return (
            f"n_rounds={self.n_rounds}, global_kernel={self.global_kernel!r}, local_steps={self.local_steps}, "
            f"persistent={self.persistent}, n_chains={self.n_chains}"
        )


def build_flow_mcmc(cfg: FlowMCMCSamplerConfig, ctx: BuildContext) -> FlowMCMCSampler:
    """Build a :class:`FlowMCMCSampler` with its buffers on ``ctx.device``/``ctx.dtype``."""
    return FlowMCMCSampler(ctx.event_shape, **cfg.as_kwargs(), device=ctx.device, dtype=ctx.dtype)
