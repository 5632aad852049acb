r"""Core objectives: contrastive divergence, the ``weighted_sum`` composite and two regularisers.

References:
    Hinton, "Training products of experts by minimizing contrastive divergence", Neural Computation 2002.
    Tieleman, "Training restricted Boltzmann machines using approximations to the likelihood gradient"
    (PCD), ICML 2008.
    Du & Mordatch, "Implicit generation and generalization in energy-based models", arXiv 1903.08689
    (energy-squared regulariser, replay buffer).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs
import torch
from attrs import validators as v
from torch import Tensor, nn

from ebmcore._bases import ObjectiveConfig
from ebmcore.abstract import (
    Batch,
    Energy,
    Initializer,
    Objective,
    ObjectiveOutput,
    Parts,
    Sampler,
    energy_and_grad,
    sampling_mode,
)
from ebmcore.context import BuildContext

__all__ = [
    "ContrastiveDivergence",
    "ContrastiveDivergenceConfig",
    "EnergyMagnitudePenalty",
    "EnergyMagnitudePenaltyConfig",
    "GradientPenalty",
    "GradientPenaltyConfig",
    "WeightedSum",
    "WeightedSumConfig",
    "WeightedTerm",
    "build_contrastive_divergence",
    "build_energy_l2",
    "build_gradient_penalty",
    "build_weighted_sum",
]


def _stat_metrics(
    prefix: str, stats: Mapping[str, Tensor | float], device: torch.device, **counts: int
) -> dict[str, Tensor]:
    out: dict[str, Tensor] = {}
    for key, val in stats.items():
        out[f"{prefix}/{key}"] = val.detach() if isinstance(val, Tensor) else torch.tensor(float(val), device=device)
    for key, val in counts.items():
        out[f"{prefix}/{key}"] = torch.tensor(float(val), device=device)
    return out


# --- contrastive divergence -------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ContrastiveDivergenceConfig(ObjectiveConfig):
    """Config of :class:`ContrastiveDivergence`.

    Attributes:
        alpha: weight of the energy-squared regulariser ``α (E(x⁺)² + E(x⁻)²)``.
        n_negatives: number of negative samples per step (``None``: the batch size).

    Examples:
        >>> from ebmcore.components.objectives import ContrastiveDivergenceConfig
        >>> ContrastiveDivergenceConfig(alpha=1.0).as_kwargs()
        {'alpha': 1.0, 'n_negatives': None}
        >>> ContrastiveDivergenceConfig(n_negatives=0)
        Traceback (most recent call last):
        ...
        ValueError: 'n_negatives' must be >= 1: 0
    """

    alpha: float = attrs.field(default=0.0, validator=v.ge(0))
    n_negatives: int | None = attrs.field(default=None, validator=v.optional(v.ge(1)))


class ContrastiveDivergence(Objective):
    r"""Maximum likelihood with sampled negatives (CD / PCD).

    .. math:: L(\theta) = \mathbb{E}_{x^+}[E_\theta(x^+)] - \mathbb{E}_{x^-}[E_\theta(\mathrm{sg}\,x^-)]
              + \alpha\,(\mathbb{E}[E_\theta(x^+)^2] + \mathbb{E}[E_\theta(x^-)^2])

    Negatives come from ``sampler.generate(energy, initializer, n)`` under :func:`sampling_mode`; the
    initializer then observes them, so a replay-buffer initializer gives PCD and a data initializer gives
    CD-k. Trains one group, ``energy``.

    Arguments:
        energy: the energy, ``(B, *event_shape) -> (B,)``.
        sampler: draws negatives.
        initializer: starting states of the chains.
        alpha: energy-squared regulariser weight.
        n_negatives: negatives per step (``None``: batch size).

    Examples:
        >>> import torch
        >>> from ebmcore import Batch
        >>> from ebmcore.components.energies import MLPEnergy
        >>> from ebmcore.components.initializers import GaussianInitializer
        >>> from ebmcore.components.objectives import ContrastiveDivergence
        >>> from ebmcore.components.samplers import LangevinSampler
        >>> energy = MLPEnergy((2,), hidden=(16,))
        >>> cd = ContrastiveDivergence(energy, LangevinSampler(n_steps=5), GaussianInitializer((2,)), alpha=0.1)
        >>> out = cd(Batch(torch.randn(8, 2)), step=0)
        >>> loss = out.losses["energy"]
        >>> loss.dim(), bool(torch.isfinite(loss)), loss.requires_grad
        (0, True, True)
        >>> sorted(out.metrics)
        ['cd_gap', 'energy/neg', 'energy/pos', 'sampler/grad_evals', 'sampler/grad_norm', 'sampler/step_size']
        >>> len(cd.parameter_groups()["energy"]) == len(list(energy.parameters()))
        True
    """

    def __init__(
        self,
        energy: Energy,
        sampler: Sampler,
        initializer: Initializer,
        *,
        alpha: float = 0.0,
        n_negatives: int | None = None,
    ) -> None:
        super().__init__()
        self.parts = Parts(energy, sampler, initializer)
        self.alpha = alpha
        self.n_negatives = n_negatives

    def forward(self, batch: Batch, step: int) -> ObjectiveOutput:
        energy, sampler, initializer = self.parts.energy, self.parts.sampler, self.parts.initializer
        assert sampler is not None and initializer is not None
        b = batch.x.shape[0]
        n = self.n_negatives or b
        cond = batch.cond_for(energy)
        if n == b:
            neg_cond = cond
        else:  # conditions of the negatives drawn from the batch's, so E(x-|c) matches E(x+|c)
            idx = torch.randint(b, (n,), device=batch.x.device)
            neg_cond = {k: v[idx] for k, v in cond.items()}
        with sampling_mode(energy if isinstance(energy, nn.Module) else None):
            result = sampler.generate(energy, initializer, n, neg_cond)
        initializer.observe(result.x)
        x_neg = result.x.detach()
        joint = {k: torch.cat([cond[k], neg_cond[k]]) for k in cond}
        e = energy(torch.cat([batch.x, x_neg]), **joint)
        e_pos, e_neg = e[:b], e[b:]
        cd = e_pos.mean() - e_neg.mean()
        loss = cd + self.alpha * (e_pos.pow(2).mean() + e_neg.pow(2).mean()) if self.alpha else cd
        metrics = {
            "energy/pos": e_pos.detach().mean(),
            "energy/neg": e_neg.detach().mean(),
            "cd_gap": cd.detach(),
            **_stat_metrics("sampler", result.stats, e.device, grad_evals=result.n_grad_evals),
        }
        return ObjectiveOutput({"energy": loss}, metrics)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        energy = self.parts.energy
        return {"energy": list(energy.parameters()) if isinstance(energy, nn.Module) else []}


def build_contrastive_divergence(cfg: ContrastiveDivergenceConfig, ctx: BuildContext) -> ContrastiveDivergence:
    """Build a :class:`ContrastiveDivergence` on the energy, sampler and initializer built so far.

    Arguments:
        cfg: the objective's config.
        ctx: the build context; ``ctx.energy``, ``ctx.sampler`` and ``ctx.initializer`` must be set.

    Returns:
        The objective (one group, ``energy``).

    Examples:
        >>> import torch
        >>> from ebmcore import Batch, BuildContext
        >>> from ebmcore.components.energies import MLPEnergy
        >>> from ebmcore.components.initializers import GaussianInitializer
        >>> from ebmcore.components.objectives import ContrastiveDivergenceConfig, build_contrastive_divergence
        >>> from ebmcore.components.samplers import LangevinSampler
        >>> ctx = BuildContext.for_shape(
        ...     (2,), energy=MLPEnergy((2,), hidden=(16,)), sampler=LangevinSampler(n_steps=5),
        ...     initializer=GaussianInitializer((2,)))
        >>> cd = build_contrastive_divergence(ContrastiveDivergenceConfig(n_negatives=4), ctx)
        >>> loss = cd(Batch(torch.randn(8, 2)), step=0).losses["energy"]
        >>> loss.dim(), bool(torch.isfinite(loss))
        (0, True)
        >>> build_contrastive_divergence(ContrastiveDivergenceConfig(), BuildContext.for_shape((2,)))
        Traceback (most recent call last):
        ...
        ValueError: contrastive_divergence needs an energy, a sampler and an initializer
    """
    if ctx.energy is None or ctx.sampler is None or ctx.initializer is None:
        raise ValueError("contrastive_divergence needs an energy, a sampler and an initializer")
    return ContrastiveDivergence(
        ctx.energy, ctx.sampler, ctx.initializer, alpha=cfg.alpha, n_negatives=cfg.n_negatives
    )


# --- regularisers ------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class EnergyMagnitudePenaltyConfig(ObjectiveConfig):
    """Config of :class:`EnergyMagnitudePenalty` (no fields; scale it with ``weighted_sum``).

    Examples:
        >>> from ebmcore.components.objectives import EnergyMagnitudePenaltyConfig, WeightedTerm
        >>> WeightedTerm(weight=0.1, objective=EnergyMagnitudePenaltyConfig()).weight
        0.1
    """


class EnergyMagnitudePenalty(Objective):
    r"""Energy magnitude on data, :math:`\mathbb{E}_{x^+}[E_\theta(x^+)^2]`; group ``energy``.

    Meant as a term of ``weighted_sum`` next to a method's loss.

    Arguments:
        energy: the energy, ``(B, *event_shape) -> (B,)``, evaluated on the batch ``x`` ``(B, *event_shape)``.

    Examples:
        >>> import torch
        >>> from ebmcore import Batch
        >>> from ebmcore.components.energies import MLPEnergy
        >>> from ebmcore.components.objectives import EnergyMagnitudePenalty
        >>> energy = MLPEnergy((2,), hidden=(16,))
        >>> batch = Batch(torch.randn(8, 2))
        >>> out = EnergyMagnitudePenalty(energy)(batch, step=0)
        >>> loss = out.losses["energy"]
        >>> loss.dim(), torch.allclose(loss, energy(batch.x).pow(2).mean()), sorted(out.metrics)
        (0, True, ['energy_l2'])
    """

    def __init__(self, energy: Energy) -> None:
        super().__init__()
        self.parts = Parts(energy)

    def forward(self, batch: Batch, step: int) -> ObjectiveOutput:
        e = self.parts.energy(batch.x, **batch.cond_for(self.parts.energy))
        loss = e.pow(2).mean()
        return ObjectiveOutput({"energy": loss}, {"energy_l2": loss.detach()})

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"energy": list(self.parts.energy.parameters())}  # type: ignore[union-attr]


def build_energy_l2(cfg: EnergyMagnitudePenaltyConfig, ctx: BuildContext) -> EnergyMagnitudePenalty:
    """Build an :class:`EnergyMagnitudePenalty` on ``ctx.energy``.

    Arguments:
        cfg: the objective's config (no fields).
        ctx: the build context; ``ctx.energy`` must be set.

    Returns:
        The objective (one group, ``energy``).

    Examples:
        >>> import torch
        >>> from ebmcore import Batch, BuildContext
        >>> from ebmcore.components.energies import MLPEnergy
        >>> from ebmcore.components.objectives import EnergyMagnitudePenaltyConfig, build_energy_l2
        >>> ctx = BuildContext.for_shape((2,), energy=MLPEnergy((2,), hidden=(16,)))
        >>> penalty = build_energy_l2(EnergyMagnitudePenaltyConfig(), ctx)
        >>> loss = penalty(Batch(torch.randn(8, 2)), step=0).losses["energy"]
        >>> loss.dim(), bool(loss >= 0)
        (0, True)
    """
    if ctx.energy is None:
        raise ValueError("energy_l2 needs an energy")
    return EnergyMagnitudePenalty(ctx.energy)


@attrs.frozen(kw_only=True)
class GradientPenaltyConfig(ObjectiveConfig):
    """Config of :class:`GradientPenalty`.

    Attributes:
        noise_std: evaluate the penalty at data points plus N(0, noise_std²) noise.

    Examples:
        >>> from ebmcore.components.objectives import GradientPenaltyConfig
        >>> GradientPenaltyConfig(noise_std=0.1).noise_std
        0.1
        >>> GradientPenaltyConfig(noise_std=-1.0)
        Traceback (most recent call last):
        ...
        ValueError: 'noise_std' must be >= 0: -1.0
    """

    noise_std: float = attrs.field(default=0.0, validator=v.ge(0))


class GradientPenalty(Objective):
    r"""Squared input-gradient norm on (noisy) data, :math:`\mathbb{E}\|\nabla_x E_\theta(x)\|^2`.

    Differentiates through :math:`\nabla_x E` (``create_graph=True``); group ``energy``.

    Arguments:
        energy: the energy, ``(B, *event_shape) -> (B,)``.
        noise_std: standard deviation of the Gaussian noise added to the batch ``x`` ``(B, *event_shape)``
            before the gradient is taken (0: on the data points).

    Examples:
        >>> import torch
        >>> from ebmcore import Batch
        >>> from ebmcore.components.energies import MLPEnergy
        >>> from ebmcore.components.objectives import GradientPenalty
        >>> energy = MLPEnergy((2,), hidden=(16,))
        >>> x = torch.randn(8, 2)
        >>> loss = GradientPenalty(energy)(Batch(x), step=0).losses["energy"]
        >>> xg = x.clone().requires_grad_(True)
        >>> (grad,) = torch.autograd.grad(energy(xg).sum(), xg)
        >>> torch.allclose(loss, grad.pow(2).sum(1).mean()), loss.requires_grad  # differentiable in theta
        (True, True)
    """

    def __init__(self, energy: Energy, *, noise_std: float = 0.0) -> None:
        super().__init__()
        self.parts = Parts(energy)
        self.noise_std = noise_std

    def forward(self, batch: Batch, step: int) -> ObjectiveOutput:
        x = batch.x
        if self.noise_std:
            x = x + self.noise_std * torch.randn_like(x)
        _, grad = energy_and_grad(self.parts.energy, x, batch.cond_for(self.parts.energy), create_graph=True)
        loss = grad.flatten(1).pow(2).sum(1).mean()
        return ObjectiveOutput({"energy": loss}, {"grad_penalty": loss.detach()})

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"energy": list(self.parts.energy.parameters())}  # type: ignore[union-attr]


def build_gradient_penalty(cfg: GradientPenaltyConfig, ctx: BuildContext) -> GradientPenalty:
    """Build a :class:`GradientPenalty` on ``ctx.energy``.

    Arguments:
        cfg: the objective's config.
        ctx: the build context; ``ctx.energy`` must be set.

    Returns:
        The objective (one group, ``energy``).

    Examples:
        >>> import torch
        >>> from ebmcore import Batch, BuildContext
        >>> from ebmcore.components.energies import MLPEnergy
        >>> from ebmcore.components.objectives import GradientPenaltyConfig, build_gradient_penalty
        >>> ctx = BuildContext.for_shape((2,), energy=MLPEnergy((2,), hidden=(16,)))
        >>> penalty = build_gradient_penalty(GradientPenaltyConfig(noise_std=0.1), ctx)
        >>> loss = penalty(Batch(torch.randn(8, 2)), step=0).losses["energy"]
        >>> loss.dim(), bool(torch.isfinite(loss))
        (0, True)
        >>> build_gradient_penalty(GradientPenaltyConfig(), BuildContext.for_shape((2,)))
        Traceback (most recent call last):
        ...
        ValueError: gradient_penalty needs an energy
    """
    if ctx.energy is None:
        raise ValueError("gradient_penalty needs an energy")
    return GradientPenalty(ctx.energy, noise_std=cfg.noise_std)


# --- weighted sum ------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class WeightedTerm:
    """One term of ``weighted_sum``: a weight and any objective config (nested ``name`` dispatch).

    Attributes:
        weight: the term's weight :math:`w_i` (default 1).
        objective: the config of the term's objective.

    Examples:
        >>> from ebmcore.components.objectives import ContrastiveDivergenceConfig, WeightedTerm
        >>> term = WeightedTerm(objective=ContrastiveDivergenceConfig(alpha=0.1))
        >>> term.weight, term.objective.alpha
        (1.0, 0.1)
    """

    weight: float = 1.0
    objective: ObjectiveConfig


@attrs.frozen(kw_only=True)
class WeightedSumConfig(ObjectiveConfig):
    """Config of :class:`WeightedSum`: a non-empty list of weighted terms.

    Attributes:
        terms: the weighted terms (at least one).

    Examples:
        >>> from ebmcore.components.objectives import (
        ...     ContrastiveDivergenceConfig, EnergyMagnitudePenaltyConfig, WeightedSumConfig, WeightedTerm)
        >>> cfg = WeightedSumConfig(terms=(
        ...     WeightedTerm(objective=ContrastiveDivergenceConfig()),
        ...     WeightedTerm(weight=0.1, objective=EnergyMagnitudePenaltyConfig()),
        ... ))
        >>> [t.weight for t in cfg.terms]
        [1.0, 0.1]
        >>> WeightedSumConfig(terms=())
        Traceback (most recent call last):
        ...
        ValueError: Length of 'terms' must be >= 1: 0
    """

    terms: tuple[WeightedTerm, ...] = attrs.field(validator=v.min_len(1))


class WeightedSum(Objective):
    r"""A weighted sum of objectives, group by group: :math:`L_g = \sum_i w_i L^{(i)}_g`.

    A group receives a loss at a step when any term gives it one. Metrics are prefixed ``term<i>/``.

    Arguments:
        terms: ``(weight, objective)`` pairs.

    Examples:
        >>> import torch
        >>> from ebmcore import Batch
        >>> from ebmcore.components.energies import MLPEnergy
        >>> from ebmcore.components.objectives import EnergyMagnitudePenalty, GradientPenalty, WeightedSum
        >>> energy = MLPEnergy((2,), hidden=(16,))
        >>> total = WeightedSum([(1.0, EnergyMagnitudePenalty(energy)), (0.5, GradientPenalty(energy))])
        >>> out = total(Batch(torch.randn(8, 2)), step=0)
        >>> m = out.metrics
        >>> torch.allclose(out.losses["energy"], m["term0/loss/energy"] + 0.5 * m["term1/loss/energy"])
        True
        >>> sorted(m)
        ['term0/energy_l2', 'term0/loss/energy', 'term1/grad_penalty', 'term1/loss/energy']
        >>> len(total.parameter_groups()["energy"]) == len(list(energy.parameters()))  # shared, counted once
        True
    """

    def __init__(self, terms: Sequence[tuple[float, Objective]]) -> None:
        super().__init__()
        if not terms:
            raise ValueError("weighted_sum needs at least one term")
        self.weights = [float(w) for w, _ in terms]
        self.terms = nn.ModuleList([obj for _, obj in terms])

    def forward(self, batch: Batch, step: int) -> ObjectiveOutput:
        losses: dict[str, Tensor] = {}
        metrics: dict[str, Tensor] = {}
        for i, (w, term) in enumerate(zip(self.weights, self.terms)):
            out = term(batch, step)
            for group, loss in out.losses.items():
                losses[group] = losses[group] + w * loss if group in losses else w * loss
                metrics[f"term{i}/loss/{group}"] = loss.detach()
            for key, val in out.metrics.items():
                metrics[f"term{i}/{key}"] = val
        return ObjectiveOutput(losses, metrics)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        groups: dict[str, list[nn.Parameter]] = {}
        for term in self.terms:
            for name, params in term.parameter_groups().items():
                seen = {id(p) for p in groups.setdefault(name, [])}
                groups[name].extend(p for p in params if id(p) not in seen)
        return groups


def build_weighted_sum(cfg: WeightedSumConfig, ctx: BuildContext) -> WeightedSum:
    """Build a :class:`WeightedSum`, each term's objective built by ``ctx.build_objective``.

    Arguments:
        cfg: the objective's config.
        ctx: the build context; ``ctx.build_objective`` (set by the builder) builds a nested objective
            config.

    Returns:
        The weighted sum of the terms' objectives.

    Examples:
        >>> import torch
        >>> from ebmcore import Batch, BuildContext
        >>> from ebmcore.components.energies import MLPEnergy
        >>> from ebmcore.components.objectives import (
        ...     EnergyMagnitudePenaltyConfig, GradientPenaltyConfig, WeightedSumConfig, WeightedTerm,
        ...     build_energy_l2, build_gradient_penalty, build_weighted_sum)
        >>> ctx = BuildContext.for_shape((2,), energy=MLPEnergy((2,), hidden=(16,)))
        >>> builders = {EnergyMagnitudePenaltyConfig: build_energy_l2, GradientPenaltyConfig: build_gradient_penalty}
        >>> ctx.build_objective = lambda c: builders[type(c)](c, ctx)  # what the builder provides
        >>> cfg = WeightedSumConfig(terms=(
        ...     WeightedTerm(objective=EnergyMagnitudePenaltyConfig()),
        ...     WeightedTerm(weight=0.1, objective=GradientPenaltyConfig()),
        ... ))
        >>> loss = build_weighted_sum(cfg, ctx)(Batch(torch.randn(8, 2)), step=0).losses["energy"]
        >>> loss.dim(), bool(torch.isfinite(loss))
        (0, True)
    """
    if ctx.build_objective is None:
        raise ValueError("weighted_sum needs ctx.build_objective to build its terms")
    return WeightedSum([(t.weight, ctx.build_objective(t.objective)) for t in cfg.terms])
