r"""GEBM's KALE objective: the energy (with the log-normaliser :math:`A`) and the base, as two groups.

Model: :math:`Q(dx) = e^{-E(x) - A_{G,E}}\,G(dx)`, :math:`A_{G,E} = \log \mathbb E_G[e^{-E}]`. With the free
scalar :math:`A`, :math:`F(E, A) = -\mathbb E_P[E + A] - \mathbb E_G[e^{-(E + A)}] + 1` and
:math:`\mathrm{KALE}(P\|G) = \sup_{E, A} F \le \mathrm{KL}(P\|G)` (method notes C.2). Per step (C.3):

* group ``energy`` (:math:`\psi` and :math:`A`; base samples :math:`\tilde x = G(z)` without gradient, base in
  eval mode): :math:`L_E = \overline{E(x) + A} + \overline{e^{-(E(\tilde x) + A)}} - 1 + \lambda_{gp}\,\overline{\|\nabla_x E(\hat x)\|^2}`
  with :math:`\hat x = \alpha x + (1 - \alpha)\tilde x`, :math:`\alpha \sim U(0, 1)` per example (squared norm,
  target 0). Two gradient transforms of the official code are part of the loss, not of the trainer:
  *soft clipping* :math:`g \leftarrow 2g/(1 + g^2)` of every energy-parameter gradient (non-finite → 0), applied
  by routing the energy's parameters through an identity whose backward transforms the gradient
  (:func:`torch.func.functional_call`); and the *Newton step for A*: the loss's A-gradient is
  :math:`(1 - m)/m`, :math:`m = \overline{e^{-(E(\tilde x) + A)}}`, instead of :math:`1 - m`. :math:`A` is
  initialised by Monte Carlo, :math:`A = \log \overline{e^{-E(G z)}}` over ``a_init_samples`` base draws,
  when the objective is built.
* group ``base`` (:math:`\theta`; energy frozen in eval mode): the batch log-mean-exp form
  :math:`L_G = -\big(\mathrm{logsumexp}_n(-E(\tilde x_n)) - \log B\big)`, whose gradient weights each base sample by
  its self-normalised GEBM weight :math:`\mathrm{softmax}(-E(\tilde x))` (the KALE envelope gradient).

Alternation (``which_step`` of the official code): base iteration :math:`g` is preceded by
:math:`n_d = 100` energy steps when :math:`g < 2` or :math:`g \bmod 500 = 0`, else ``n_critic`` = 5. The schedule is
a pure function of the trainer's global step (no state), so resumed runs follow it exactly, and each trainer
step returns a loss for one group only: no special case in the trainer.

With a density base (a flow, :class:`~ebmcore.abstract.DensityInitializer`) the model has a density,
:math:`\log Q(x) = \log g(x) - E(x) - A_{G,E}`; :meth:`GEBMObjective.model_energy` returns
:math:`E - \log g` so core's evaluation normalises it on a grid (2-D), and :func:`gebm_log_likelihood`
estimates it with importance sampling in any dimension. With an implicit generator the model has no density
on data space and density metrics are skipped (``model_has_density``).

References:
    Arbel, Zhou & Gretton, "Generalized Energy Based Models", ICLR 2021, arXiv 2003.05033; code
    github.com/MichaelArbel/GeneralizedEBM (``trainer.py``, ``compute.py``).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable

import attrs
import torch
from attrs import validators as v
from torch import Tensor, nn
from torch.func import functional_call

from ebmcore import (
    Batch,
    BuildContext,
    DensityInitializer,
    Energy,
    Initializer,
    LatentInitializer,
    Objective,
    ObjectiveConfig,
    ObjectiveOutput,
    Parts,
    TiltedEnergy,
    sampling_mode,
)

__all__ = [
    "GEBMObjective",
    "GEBMObjectiveConfig",
    "base_sample",
    "build_gebm",
    "critic_steps_before",
    "gebm_log_likelihood",
    "soft_clip_grad",
]


def critic_steps_before(g: int, *, n_critic: int, burst_steps: int, initial_bursts: int, burst_every: int) -> int:
    """Energy (critic) steps before base iteration ``g``: ``burst_steps`` in the first ``initial_bursts``
    iterations and every ``burst_every``-th, ``n_critic`` otherwise (the official GEBM schedule)."""
    burst = g < initial_bursts or (g > 0 and g % burst_every == 0)
    return burst_steps if burst else n_critic


class _SoftClipGrad(torch.autograd.Function):
    """Identity whose backward maps the gradient to ``2g / (1 + g²)`` (non-finite entries to 0)."""

    @staticmethod
    def forward(ctx: object, p: Tensor) -> Tensor:  # type: ignore[override]
        return p.view_as(p)

    @staticmethod
    def backward(ctx: object, g: Tensor) -> Tensor:  # type: ignore[override]
        g = torch.nan_to_num(g, nan=0.0, posinf=0.0, neginf=0.0)
        return 2.0 * g / (1.0 + g * g)


def soft_clip_grad(p: Tensor) -> Tensor:
    """``p`` unchanged in the forward pass; its gradient soft-clipped to ``2g/(1+g²)`` in ``[-1, 1]``.

    Non-finite gradient entries become 0. :class:`GEBMObjective` routes the energy's parameters through it
    (``soft_clip=True``), as the official code clips the critic's gradients.

    Arguments:
        p: any tensor (typically a parameter).

    Returns:
        A tensor equal to ``p`` whose backward pass soft-clips the incoming gradient.

    Examples:
        >>> import torch
        >>> from ebmcore_gebm import soft_clip_grad
        >>> p = torch.tensor([0.0, 1.0, 3.0], requires_grad=True)
        >>> q = soft_clip_grad(p)
        >>> torch.equal(q, p)
        True
        >>> (q * torch.tensor([0.5, 1.0, 3.0])).sum().backward()  # raw gradients 0.5, 1, 3
        >>> p.grad
        tensor([0.8000, 1.0000, 0.6000])
    """
    return _SoftClipGrad.apply(p)  # type: ignore[no-any-return]


def base_sample(base: Initializer, n: int) -> Tensor:
    """``n`` reparameterised base samples ``(n, *event_shape)``, differentiable in the base's weights.

    ``decode(sample_latent(n))`` for a generator (a latent initializer), ``sample_with_log_prob(n)[0]`` for
    a flow (a density initializer), else ``init(n)`` (not differentiable).

    Arguments:
        base: the GEBM base, an initializer.
        n: number of samples.

    Returns:
        Samples ``(n, *event_shape)``.

    Examples:
        >>> from ebmcore.components.initializers import GaussianInitializer
        >>> from ebmcore_gebm import MLPGenerator, base_sample
        >>> x = base_sample(MLPGenerator((2,), hidden=(16,)), 4)
        >>> tuple(x.shape), x.requires_grad  # gradients reach the generator
        ((4, 2), True)
        >>> tuple(base_sample(GaussianInitializer((2,)), 4).shape)
        (4, 2)
    """
    if isinstance(base, LatentInitializer):
        return base.decode(base.sample_latent(n))
    if isinstance(base, DensityInitializer):
        return base.sample_with_log_prob(n)[0]
    return base.init(n)


def _lme(t: Tensor) -> Tensor:
    """log-mean-exp over the first dimension."""
    return torch.logsumexp(t, 0) - math.log(t.shape[0])


@torch.no_grad()
def gebm_log_likelihood(energy: Callable[..., Tensor], base: DensityInitializer, x: Tensor, *, n_samples: int = 10000,
                        chunk: int = 4096) -> tuple[Tensor, Tensor]:
    r"""Log-likelihood of ``x`` ``(B, *event_shape)`` under a GEBM with a density base, and the ESS.

    :math:`\log Q(x) = \log g(x) - E(x) - \hat A`, :math:`\hat A = \log\frac1M\sum_m e^{-E(y_m)}`, :math:`y_m \sim g`
    (importance sampling with the base as proposal; :math:`\hat A` is biased low by Jensen, so the NLL is
    optimistic by :math:`O(1/(M\cdot\mathrm{ESS}))`: trust it when the normalised ESS is not tiny).

    Arguments:
        energy: the GEBM energy, ``(M, *event_shape) -> (M,)``.
        base: the density base :math:`g` (``sample_with_log_prob``, ``log_prob``), e.g. a flow.
        x: points ``(B, *event_shape)`` to evaluate.
        n_samples: base samples :math:`M` of the estimate of :math:`\hat A`.
        chunk: base samples per energy evaluation (bounds the memory).

    Returns:
        ``(log_q (B,), ess)`` with ``ess`` :math:`= (\sum w)^2 / (M \sum w^2)` of the weights :math:`e^{-E(y_m)}`
        (a 0-d float64 tensor).

    Examples:
        A constant energy leaves the base unchanged: :math:`\hat A` absorbs the constant and the weights are
        equal.

        >>> import torch
        >>> from ebmcore.components.initializers import GaussianInitializer
        >>> from ebmcore_gebm import gebm_log_likelihood
        >>> base = GaussianInitializer((2,))
        >>> x = torch.randn(3, 2)
        >>> log_q, ess = gebm_log_likelihood(lambda x: torch.full((x.shape[0],), 3.0), base, x, n_samples=100)
        >>> torch.allclose(log_q, base.log_prob(x)), round(float(ess), 6)
        (True, 1.0)
    """
    neg_e = []
    left = n_samples
    while left > 0:
        y, _ = base.sample_with_log_prob(min(chunk, left))
        neg_e.append(-energy(y))
        left -= y.shape[0]
    logw = torch.cat(neg_e).double()
    a_hat = _lme(logw)
    ess = torch.exp(2 * torch.logsumexp(logw, 0) - torch.logsumexp(2 * logw, 0)) / logw.shape[0]
    return base.log_prob(x) - energy(x) - a_hat.to(x.dtype), ess


@attrs.frozen(kw_only=True)
class GEBMObjectiveConfig(ObjectiveConfig):
    """Config of :class:`GEBMObjective`.

    Attributes:
        gp_weight: :math:`\\lambda_{gp}` of the squared-norm gradient penalty (official 1 on images, 0.1 toys).
        n_critic: energy steps per base step.
        burst_steps: energy steps before base iterations ``< initial_bursts`` and every ``burst_every``-th.
        initial_bursts, burst_every: see ``burst_steps`` (official 2 and 500).
        soft_clip: soft-clip the energy's gradients (``2g/(1+g²)``).
        newton_a: Newton-preconditioned gradient for :math:`A`.
        a_init_samples: base samples of the Monte-Carlo initialisation of :math:`A`.
        train_base: train the base (``false``: a fixed base, e.g. a pre-trained flow).

    Examples:
        >>> from ebmcore_gebm import GEBMObjectiveConfig
        >>> cfg = GEBMObjectiveConfig(gp_weight=1.0, n_critic=2)
        >>> cfg.burst_steps, cfg.initial_bursts, cfg.burst_every
        (100, 2, 500)
        >>> GEBMObjectiveConfig(a_init_samples=1)
        Traceback (most recent call last):
        ...
        ValueError: 'a_init_samples' must be >= 2: 1
    """

    gp_weight: float = attrs.field(default=0.1, validator=v.ge(0))
    n_critic: int = attrs.field(default=5, validator=v.ge(1))
    burst_steps: int = attrs.field(default=100, validator=v.ge(1))
    initial_bursts: int = attrs.field(default=2, validator=v.ge(0))
    burst_every: int = attrs.field(default=500, validator=v.ge(1))
    soft_clip: bool = True
    newton_a: bool = True
    a_init_samples: int = attrs.field(default=4096, validator=v.ge(2))
    train_base: bool = True


class GEBMObjective(Objective):
    r"""GEBM / KALE training: groups ``energy`` (:math:`\psi`, :math:`A`) and ``base`` (:math:`\theta`).

    See the module docstring for the losses, transforms and schedule. Each call ``forward(batch, step)``
    returns the loss of one group, chosen by :meth:`phase`.

    Metrics: ``kale`` (:math:`F(E, A)` on the batch, the KALE estimate; ≥ 0 when the energy is informative),
    ``gebm/A``, ``gebm/A_batch`` (:math:`\log\overline{e^{-E(\tilde x)}}`, what :math:`A` should track),
    ``gebm/mean_exp`` (:math:`m`, should stay near 1), ``gebm/grad_penalty``, ``gebm/base_ess``
    (normalised ESS of the base step's softmax weights), ``energy/pos``, ``energy/neg``.

    References:
        Arbel, Zhou & Gretton, "Generalized Energy Based Models", ICLR 2021, arXiv 2003.05033 (code
        github.com/MichaelArbel/GeneralizedEBM, ``trainer.py``).

    Arguments:
        energy: :math:`E_\psi`, ``(B, *event_shape) -> (B,)``, unconditional.
        base: the base :math:`G` (a :class:`~ebmcore.abstract.LatentInitializer` generator or a
            :class:`~ebmcore.abstract.DensityInitializer` flow).
        gp_weight, n_critic, burst_steps, initial_bursts, burst_every: see :class:`GEBMObjectiveConfig`.
        soft_clip, newton_a, a_init_samples, train_base: see :class:`GEBMObjectiveConfig`.

    Examples:
        >>> import torch
        >>> from ebmcore import Batch
        >>> from ebmcore_gebm import GEBMMLPEnergy, GEBMObjective, MLPGenerator
        >>> energy = GEBMMLPEnergy((2,), hidden=(16,))
        >>> base = MLPGenerator((2,), hidden=(16,))
        >>> objective = GEBMObjective(energy, base, n_critic=2, burst_steps=3, a_init_samples=64)
        >>> [objective.phase(step) for step in range(9)]  # 3 critic steps before base steps 0, 1; then 2
        ['energy', 'energy', 'energy', 'base', 'energy', 'energy', 'energy', 'base', 'energy']
        >>> batch = Batch(torch.randn(8, 2))
        >>> out = objective(batch, 0)
        >>> sorted(out.losses), torch.equal(out.metrics["gebm/A"], objective.log_normalizer.detach())
        (['energy'], True)
        >>> sorted(out.metrics)
        ['energy/neg', 'energy/pos', 'gebm/A', 'gebm/A_batch', 'gebm/grad_penalty', 'gebm/mean_exp', 'kale']
        >>> sorted(objective(batch, 3).losses)
        ['base']
        >>> objective.model_has_density  # an implicit generator: no density on data space
        False
    """

    log_normalizer: nn.Parameter

    def __init__(
        self,
        energy: Energy,
        base: Initializer,
        *,
        gp_weight: float = 0.1,
        n_critic: int = 5,
        burst_steps: int = 100,
        initial_bursts: int = 2,
        burst_every: int = 500,
        soft_clip: bool = True,
        newton_a: bool = True,
        a_init_samples: int = 4096,
        train_base: bool = True,
    ) -> None:
        super().__init__()
        if energy.conditions:
            raise TypeError(f"gebm trains unconditional energies; this one accepts {sorted(energy.conditions)}")
        if not isinstance(base, (LatentInitializer, DensityInitializer)):
            raise TypeError(
                f"gebm needs a base that can draw reparameterised samples: a generator (latent_shape, "
                f"sample_latent, decode; e.g. 'gebm_mlp_generator') or a flow (sample_with_log_prob); got "
                f"{type(base).__name__}"
            )
        self.parts = Parts(energy, None, base)
        ref = next(iter([*energy.parameters(), *energy.buffers()]))
        self.log_normalizer = nn.Parameter(torch.zeros((), device=ref.device, dtype=ref.dtype))
        self.gp_weight = float(gp_weight)
        self.n_critic = int(n_critic)
        self.burst_steps = int(burst_steps)
        self.initial_bursts = int(initial_bursts)
        self.burst_every = int(burst_every)
        self.soft_clip = bool(soft_clip)
        self.newton_a = bool(newton_a)
        self.a_init_samples = int(a_init_samples)
        self.train_base = bool(train_base) and any(p.requires_grad for p in base.parameters())
        # E - log g for a density base, kept in an attrs holder so its weights are not registered twice
        self._density = Parts(TiltedEnergy(energy, base)) if isinstance(base, DensityInitializer) else None
        self._bounds: list[int] = [0]  # memo of the schedule: step at which base iteration g starts
        self.initialize_log_normalizer()  # before any step, as the official code does (restored on resume)

    # --- schedule ----------------------------------------------------------------------------------
    def critic_steps(self, g: int) -> int:
        """Energy steps before base iteration ``g``."""
        return critic_steps_before(g, n_critic=self.n_critic, burst_steps=self.burst_steps,
                                   initial_bursts=self.initial_bursts, burst_every=self.burst_every)

    def phase(self, step: int) -> str:
        """``"energy"`` or ``"base"``: which group trainer step ``step`` (0-based) trains."""
        if not self.train_base:
            return "energy"
        while self._bounds[-1] <= step:
            g = len(self._bounds) - 1
            self._bounds.append(self._bounds[-1] + self.critic_steps(g) + 1)
        g = bisect.bisect_right(self._bounds, step) - 1
        return "base" if step - self._bounds[g] == self.critic_steps(g) else "energy"

    # --- model ---------------------------------------------------------------------------------------
    @property
    def model_has_density(self) -> bool:  # type: ignore[override]
        """Only a density base gives the GEBM a density on data space."""
        return self._density is not None

    def model_energy(self) -> nn.Module | None:
        return None if self._density is None else self._density.energy  # type: ignore[return-value]

    @torch.no_grad()
    def initialize_log_normalizer(self) -> None:
        """:math:`A \\leftarrow \\log\\overline{e^{-E(G z)}}` over ``a_init_samples`` base draws (base and energy in eval)."""
        energy, base = self.parts.energy, self.parts.initializer
        assert isinstance(energy, nn.Module) and base is not None
        with sampling_mode(energy, base):
            neg_e = [-energy(base_sample(base, min(1024, self.a_init_samples - i)))
                     for i in range(0, self.a_init_samples, 1024)]
        self.log_normalizer.copy_(_lme(torch.cat(neg_e).double()).to(self.log_normalizer.dtype))

    def forward(self, batch: Batch, step: int) -> ObjectiveOutput:
        return self._base_step(batch) if self.phase(step) == "base" else self._energy_step(batch)

    def _clipped_energy(self) -> Callable[[Tensor], Tensor]:
        energy = self.parts.energy
        assert isinstance(energy, nn.Module)
        if not self.soft_clip:
            return energy
        params = {k: soft_clip_grad(p) for k, p in energy.named_parameters()}
        return lambda x: functional_call(energy, params, (x,))

    def _energy_step(self, batch: Batch) -> ObjectiveOutput:
        energy, base = self.parts.energy, self.parts.initializer
        assert isinstance(energy, nn.Module) and base is not None
        x = batch.x
        b = x.shape[0]
        with torch.no_grad(), sampling_mode(base):
            x_fake = base_sample(base, b).to(x.dtype)
        e_fn = self._clipped_energy()
        e = e_fn(torch.cat([x, x_fake]))
        e_pos, e_neg = e[:b], e[b:]
        a = self.log_normalizer
        a_d = a.detach()
        m = torch.exp(-(e_neg + a_d)).mean()
        loss = e_pos.mean() + m - 1.0
        if self.newton_a:  # dL/dA = (1 - m)/m: the Newton step for A
            loss = loss + a * ((1.0 - m) / m).detach()
        else:
            loss = loss + a * (1.0 - m).detach()
        metrics: dict[str, Tensor] = {}
        if self.gp_weight:
            alpha = torch.rand(b, *([1] * (x.dim() - 1)), device=x.device, dtype=x.dtype)
            x_hat = (alpha * x + (1 - alpha) * x_fake).requires_grad_(True)
            (g,) = torch.autograd.grad(e_fn(x_hat).sum(), x_hat, create_graph=True)
            gp = g.flatten(1).pow(2).sum(1).mean()
            loss = loss + self.gp_weight * gp
            metrics["gebm/grad_penalty"] = gp.detach()
        with torch.no_grad():
            kale = -(e_pos.mean() + a_d) - m + 1.0
            metrics.update({
                "kale": kale,
                "gebm/A": a_d.clone(),
                "gebm/A_batch": _lme(-e_neg.detach()),
                "gebm/mean_exp": m.detach(),
                "energy/pos": e_pos.detach().mean(),
                "energy/neg": e_neg.detach().mean(),
            })
        return ObjectiveOutput({"energy": loss}, metrics)

    def _base_step(self, batch: Batch) -> ObjectiveOutput:
        energy, base = self.parts.energy, self.parts.initializer
        assert isinstance(energy, nn.Module) and base is not None
        b = batch.x.shape[0]
        x_fake = base_sample(base, b)
        with sampling_mode(energy):  # frozen and in eval: no power iteration, no gradient to psi
            neg_e = -energy(x_fake)
            with torch.no_grad():
                e_pos = energy(batch.x)
        lme = _lme(neg_e)
        loss = -lme
        with torch.no_grad():
            w = torch.softmax(neg_e.detach(), 0)
            metrics = {
                "kale_base": -e_pos.mean() - lme.detach(),
                "gebm/base_ess": 1.0 / w.pow(2).sum() / b,
            }
        return ObjectiveOutput({"base": loss}, metrics)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        energy, base = self.parts.energy, self.parts.initializer
        assert isinstance(energy, nn.Module) and base is not None
        groups = {"energy": [*energy.parameters(), self.log_normalizer]}
        if self.train_base:
            groups["base"] = [p for p in base.parameters() if p.requires_grad]
        return groups


def build_gebm(cfg: GEBMObjectiveConfig, ctx: BuildContext) -> GEBMObjective:
    if ctx.energy is None or ctx.initializer is None:
        raise ValueError("gebm needs an energy and a base (the initializer)")
    return GEBMObjective(ctx.energy, ctx.initializer, **cfg.as_kwargs())
