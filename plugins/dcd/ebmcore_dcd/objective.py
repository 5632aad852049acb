r"""Diffusion contrastive divergence: :math:`D_\Phi = \mathrm{KL}(p_d\|p_\theta) - \mathrm{KL}(\Phi p_d\|\Phi p_\theta)`.

For a θ-free Gaussian diffusion kernel :math:`\Phi` (VE or VP), :math:`D_\Phi \ge 0` (KL contraction) and its exact
gradient is :math:`\mathbb E_{x\sim p_d}[\nabla_\theta E(x)] - \mathbb E_{x \sim p_d, y\sim\Phi(\cdot\mid x), x'\sim p_\theta(\cdot\mid y)}[\nabla_\theta E(x')]`:
the partition-function terms cancel and, unlike CD, no extra term is dropped (method notes B.2–B.3).
Minimising it maximises the recovery likelihood of clean data given diffused data. Negative-phase
estimators (``estimator``, B.4):

* ``langevin`` (E1): ``n_steps`` Langevin steps on the tethered energy from :math:`y_0`, step
  :math:`\eta = ` ``step_frac`` :math:`\cdot s^2` (time-dependent mode: ``step_frac`` :math:`\cdot (1 - a_k^2)`);
  ``metropolis=true`` makes them MALA steps (exact, safe at large steps).
* ``snis`` (E2, MCMC-free): :math:`M` proposals :math:`x'_j = y_0 + s\xi_j` and, with weight :math:`w`, the data
  point itself; loss :math:`E(x) + \mathrm{logsumexp}([\log w - E(x), -E(x'_1), \dots]) - \log M`, whose gradient
  replaces the posterior by the self-normalised weights (the effective sample size is logged).
* ``expansion`` (E3): the small-noise expansion
  :math:`\overline{E(x)} - \overline{E(y)} + \tfrac{s^2}{2}\overline{\|\nabla E(y)\|^2 - \Delta E(y)}` with a Hutchinson
  Laplacian (a finite-difference form of score matching).

**CD is the special case** :math:`\Phi = T_\theta^K` (K steps of the EBM's own Langevin kernel started at the
data): core's ``contrastive_divergence`` objective with the ``data`` initializer and a ``langevin`` sampler of
K steps, used as the baseline ``dcd-8gaussians-cd``. Because that kernel depends on θ, CD drops a gradient
term DCD does not have.

**Time-dependent mode** (``time_dependent=true``, B.5): one energy :math:`E(x, t)` over a VP diffusion
discretised into levels (:class:`~ebmcore_dcd.diffusion.VPSchedule`); per example a level :math:`k` is drawn,
the data diffused to it, one more step taken, and DCD applied at that level with the posterior
:math:`\propto e^{-E(x', t_k)}\Phi_k(y\mid x')`; losses are weighted by :math:`\sigma_1/\sigma_{k}` as in DRL. Sample with
the ``recovery`` sampler (ancestral recovery).

**Known failure, guarded**: one large unadjusted posterior step diverges (B.4, measured in the notes). The
config refuses ``step_frac`` above ``0.25`` unless ``metropolis`` is on, with a message saying why.

References:
    Luo et al., "Training energy-based models with diffusion contrastive divergences", arXiv 2307.01668.
    Schröder et al., "Energy discrepancies", NeurIPS 2023, arXiv 2307.06431 (the SNIS estimator with w).
    Gao et al., ICLR 2021, arXiv 2012.08125 (recovery likelihood, level weights).
    Hutchinson, "A stochastic estimator of the trace of the influence matrix", 1989.
"""

from __future__ import annotations

import math
from typing import Literal

import attrs
import torch
from attrs import validators as v
from torch import Tensor, nn

from ebmcore import (
    Batch,
    BuildContext,
    DataLevelEnergy,
    Energy,
    Objective,
    ObjectiveConfig,
    ObjectiveOutput,
    Parts,
    energy_and_grad,
    sampling_mode,
)
from ebmcore_dcd.diffusion import VPSchedule, diffuse, posterior_langevin

__all__ = ["DCDObjective", "DCDObjectiveConfig", "MAX_ULA_STEP_FRAC", "build_dcd"]

#: Largest unadjusted posterior step, as a fraction of s² (the notes measured 0.1 stable, 0.5 diverging).
MAX_ULA_STEP_FRAC = 0.25


@attrs.frozen(kw_only=True)
class DCDObjectiveConfig(ObjectiveConfig):
    """Config of :class:`DCDObjective`.

    Settings known to fail are refused: an unadjusted (``metropolis=false``) ``langevin`` step above
    ``MAX_ULA_STEP_FRAC`` (0.25) diverges, and the time-dependent mode has no ``expansion`` estimator.

    Attributes:
        kernel: ``ve`` or ``vp`` diffusion kernel (single-level mode).
        noise: VE standard deviation :math:`s` (VP: :math:`a = 1/\\sqrt{1 + s^2}`, the same tether).
        estimator: ``langevin``, ``snis`` or ``expansion``.
        n_steps, step_frac, metropolis: posterior Langevin (``langevin``).
        n_proposals, data_weight: ``snis``'s :math:`M` and :math:`w`.
        n_probes: Hutchinson probes (``expansion``).
        alpha: energy-magnitude regulariser :math:`\\alpha(\\overline{E^{+2}} + \\overline{E^{-2}})` (the notes need 0.1
            for ``langevin`` in 64-D).
        time_dependent: one :math:`E(x, t)` across a VP diffusion with ``n_levels`` levels.
        n_levels: levels of the time-dependent mode.

    Examples:
        >>> from ebmcore.components.energies import MLPEnergy
        >>> from ebmcore_dcd import DCDObjective, DCDObjectiveConfig
        >>> cfg = DCDObjectiveConfig(estimator="langevin", n_steps=5, step_frac=0.1)
        >>> objective = DCDObjective(MLPEnergy((2,), hidden=(16,)), **cfg.as_kwargs())
        >>> objective.estimator, objective.kernel, objective.noise
        ('langevin', 've', 0.5)
        >>> DCDObjectiveConfig(estimator="langevin", step_frac=0.5)
        Traceback (most recent call last):
        ...
        ValueError: step_frac=0.5 is an unadjusted posterior step larger than 0.25·s²: such steps diverge ...
        >>> DCDObjectiveConfig(estimator="langevin", step_frac=0.5, metropolis=True).metropolis
        True
    """

    kernel: Literal["ve", "vp"] = attrs.field(default="ve", validator=v.in_(("ve", "vp")))
    noise: float = attrs.field(default=0.5, validator=v.gt(0))
    estimator: Literal["langevin", "snis", "expansion"] = attrs.field(
        default="snis", validator=v.in_(("langevin", "snis", "expansion"))
    )
    n_steps: int = attrs.field(default=5, validator=v.ge(1))
    step_frac: float = attrs.field(default=0.1, validator=v.gt(0))
    metropolis: bool = False
    n_proposals: int = attrs.field(default=16, validator=v.ge(1))
    data_weight: float = attrs.field(default=1.0, validator=v.ge(0))
    n_probes: int = attrs.field(default=1, validator=v.ge(1))
    alpha: float = attrs.field(default=0.0, validator=v.ge(0))
    time_dependent: bool = False
    n_levels: int = attrs.field(default=6, validator=v.ge(1))

    def __attrs_post_init__(self) -> None:
        _check_settings(self.estimator, self.step_frac, self.metropolis, self.time_dependent)


def _check_settings(estimator: str, step_frac: float, metropolis: bool, time_dependent: bool) -> None:
    """Refuse the settings known to fail (shared by the config and the objective's constructor)."""
    if estimator == "langevin" and not metropolis and step_frac > MAX_ULA_STEP_FRAC:
        raise ValueError(
            f"step_frac={step_frac} is an unadjusted posterior step larger than {MAX_ULA_STEP_FRAC}·s²: "
            f"such steps diverge (energies run off to ±1e6 within a few hundred iterations, DCD notes B.4). "
            f"Use step_frac <= {MAX_ULA_STEP_FRAC} with n_steps >= 5, or metropolis=true"
        )
    if time_dependent and estimator == "expansion":
        raise ValueError("the time-dependent mode supports estimator 'langevin' or 'snis', not 'expansion'")


class DCDObjective(Objective):
    r"""DCD training of an energy (group ``energy``); see the module docstring for the estimators.

    ``forward(batch, step)`` takes data ``batch.x`` ``(B, *event_shape)`` and returns the scalar loss of the
    group ``energy``. With ``time_dependent`` the model's density on data space is :math:`E(x, t=0)`
    (``model_energy()``).

    Metrics: ``energy/pos``, ``energy/neg``, ``dcd/gap`` (:math:`\overline{E^+} - \overline{E^-}`), ``dcd/ess``
    (``snis``: mean normalised ESS of the weights), ``dcd/acceptance`` (MALA), ``dcd/move``
    (mean :math:`\|x' - y_0\|`, ``langevin``).

    References:
        Luo, Jiang, Hu, Sun, Li & Zhang, "Training Energy-Based Models with Diffusion Contrastive
        Divergences", arXiv 2307.01668, 2023.
        Gao, Song, Poole, Wu & Kingma, "Learning Energy-Based Models by Diffusion Recovery Likelihood",
        ICLR 2021, arXiv 2012.08125 (the time-dependent mode's levels and weights).

    Arguments:
        energy: :math:`E_\theta`, ``(B, *event_shape) -> (B,)``; with ``time_dependent`` it must accept ``t``.
        kernel, noise, estimator, n_steps, step_frac, metropolis: see :class:`DCDObjectiveConfig`.
        n_proposals, data_weight, n_probes, alpha, time_dependent, n_levels: see :class:`DCDObjectiveConfig`.

    Examples:
        >>> import torch
        >>> from ebmcore import Batch
        >>> from ebmcore.components.energies import MLPEnergy
        >>> from ebmcore_dcd import DCDObjective
        >>> energy = MLPEnergy((2,), hidden=(16,))
        >>> objective = DCDObjective(energy, estimator="snis", noise=0.5, n_proposals=4)
        >>> out = objective(Batch(torch.randn(8, 2)), step=0)
        >>> sorted(out.losses), sorted(out.metrics)
        (['energy'], ['dcd/ess', 'dcd/gap', 'energy/neg', 'energy/pos'])
        >>> out.losses["energy"].backward()  # a scalar loss with gradients for the energy's weights
        >>> all(p.grad is not None for p in energy.parameters())
        True
        >>> DCDObjective(energy, time_dependent=True)
        Traceback (most recent call last):
        ...
        TypeError: the time-dependent DCD mode needs an energy that accepts 't' ...
    """

    def __init__(
        self,
        energy: Energy,
        *,
        kernel: str = "ve",
        noise: float = 0.5,
        estimator: str = "snis",
        n_steps: int = 5,
        step_frac: float = 0.1,
        metropolis: bool = False,
        n_proposals: int = 16,
        data_weight: float = 1.0,
        n_probes: int = 1,
        alpha: float = 0.0,
        time_dependent: bool = False,
        n_levels: int = 6,
    ) -> None:
        super().__init__()
        _check_settings(estimator, step_frac, metropolis, time_dependent)
        if time_dependent and "t" not in getattr(energy, "conditions", ()):
            raise TypeError("the time-dependent DCD mode needs an energy that accepts 't' (e.g. mlp with time_conditioned=true)")
        self.parts = Parts(energy)
        self.kernel, self.noise, self.estimator = kernel, float(noise), estimator
        self.n_steps, self.step_frac, self.metropolis = int(n_steps), float(step_frac), bool(metropolis)
        self.n_proposals, self.data_weight, self.n_probes = int(n_proposals), float(data_weight), int(n_probes)
        self.alpha = float(alpha)
        self.schedule = VPSchedule(n_levels) if time_dependent else None
        # time mode: the data-level energy E(x, 0) is the model's density (kept outside the sub-modules)
        self._data_level = Parts(DataLevelEnergy(energy, t_data=0.0)) if time_dependent else None

    def model_energy(self) -> nn.Module | None:
        return None if self._data_level is None else self._data_level.energy  # type: ignore[return-value]

    # --- the diffusion -----------------------------------------------------------------------------
    def _diffuse(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, dict[str, Tensor], Tensor | None]:
        """``(x_pos, y, y0, s2 (B,), step (B,), cond)``: the positives (diffused to their level in the time
        mode), the diffused states, the tether centres and variances, and the posterior Langevin steps."""
        b = x.shape[0]
        if self.schedule is None:
            y, y0 = diffuse(x, self.kernel, self.noise)
            s2 = torch.full((b,), self.noise**2, device=x.device, dtype=x.dtype)
            return x, y, y0, s2, self.step_frac * s2, {}, None
        sch = self.schedule
        k = torch.randint(sch.n_levels, (b,), device=x.device)
        a_bar, a, s2 = sch.coeffs(k, x)
        shape = (-1, *([1] * (x.dim() - 1)))
        x_k = a_bar.view(shape) * x + (1 - a_bar.pow(2)).sqrt().view(shape) * torch.randn_like(x)
        y = a.view(shape) * x_k + (1 - a.pow(2)).sqrt().view(shape) * torch.randn_like(x)
        start = a.view(shape) * y  # the chains' start (see posterior_langevin)
        return x_k, y, y / a.view(shape), s2, sch.level_step(k, x, self.step_frac), {"t": sch.level_time(k, x)}, start

    def forward(self, batch: Batch, step: int) -> ObjectiveOutput:
        energy = self.parts.energy
        assert isinstance(energy, nn.Module)
        x_pos, y, y0, s2, step_size, cond, start = self._diffuse(batch.x)
        weights = None
        if self.schedule is not None:  # DRL's per-level weights sigma_1 / sigma_k (sigma_k^2 = 1 - a_k^2)
            sigma = (1.0 - 1.0 / (1.0 + s2)).sqrt()
            weights = sigma.min() / sigma
        metrics: dict[str, Tensor] = {}
        if self.estimator == "langevin":
            with sampling_mode(energy):
                x_neg, acc = posterior_langevin(energy, y0, s2, n_steps=self.n_steps, step=step_size,
                                                metropolis=self.metropolis, cond=cond, start=start)
            e = energy(torch.cat([x_pos, x_neg]), **{k: torch.cat([c, c]) for k, c in cond.items()})
            e_pos, e_neg = e.chunk(2)
            per = e_pos - e_neg
            metrics["dcd/move"] = (x_neg - y0).flatten(1).norm(dim=1).mean().detach()
            if self.metropolis:
                metrics["dcd/acceptance"] = acc
        elif self.estimator == "snis":
            b, m = x_pos.shape[0], self.n_proposals
            sd = s2.sqrt().view(-1, 1, *([1] * (x_pos.dim() - 1)))
            props = (y0.unsqueeze(1) + sd * torch.randn(b, m, *x_pos.shape[1:], device=x_pos.device, dtype=x_pos.dtype))
            rep = {k: c.repeat_interleave(m) for k, c in cond.items()}
            e_pos = energy(x_pos, **cond)
            e_neg = energy(props.flatten(0, 1), **rep).view(b, m)
            logits = -e_neg
            if self.data_weight > 0:
                logits = torch.cat([math.log(self.data_weight) - e_pos.unsqueeze(1), logits], 1)
            per = e_pos + torch.logsumexp(logits, 1) - math.log(m)
            with torch.no_grad():
                w = torch.softmax(logits, 1)
                metrics["dcd/ess"] = (1.0 / w.pow(2).sum(1) / w.shape[1]).mean()
            e_neg = e_neg.flatten()
        else:
            e_pos = energy(x_pos)
            e_y, g_y = energy_and_grad(energy, y, create_graph=True)
            lap = sum(_hutchinson(energy, y, torch.randint_like(y, 2) * 2 - 1) for _ in range(self.n_probes))
            lap = lap / self.n_probes
            per = e_pos - e_y + 0.5 * s2 * (g_y.flatten(1).pow(2).sum(1) - lap)
            e_neg = e_y
        loss_per = per if weights is None else weights * per
        loss = loss_per.mean()
        if self.alpha:
            loss = loss + self.alpha * (e_pos.pow(2).mean() + e_neg.pow(2).mean())
        metrics.update({
            "energy/pos": e_pos.detach().mean(),
            "energy/neg": e_neg.detach().mean(),
            "dcd/gap": (e_pos.detach().mean() - e_neg.detach().mean()),
        })
        return ObjectiveOutput({"energy": loss}, metrics)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        energy = self.parts.energy
        return {"energy": list(energy.parameters()) if isinstance(energy, nn.Module) else []}


def _hutchinson(energy: Energy, y: Tensor, probe: Tensor) -> Tensor:
    """:math:`v^\\top \\nabla_y(\\nabla_y E \\cdot v)`, an unbiased estimate of :math:`\\Delta E(y)` for Rademacher ``v``; ``(B,)``,
    differentiable in the energy's weights."""
    y_in = y.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(energy(y_in).sum(), y_in, create_graph=True)
    (hv,) = torch.autograd.grad((g * probe).sum(), y_in, create_graph=True)
    return (hv * probe).flatten(1).sum(1)


def build_dcd(cfg: DCDObjectiveConfig, ctx: BuildContext) -> DCDObjective:
    if ctx.energy is None:
        raise ValueError("dcd needs an energy")
    return DCDObjective(ctx.energy, **cfg.as_kwargs())
