r"""Cooperative diffusion recovery likelihood: the EBM's recovery likelihood across levels, and the
initializer learning from the difference between refined and initial samples (method notes B.4).

Per example a level :math:`i \sim U\{1..T\}`; with **shared noise** (``variance_reduction``, default)
:math:`x_i = \sqrt{\bar\alpha_i}x_0 + \sqrt{1-\bar\alpha_i}\,\varepsilon` and :math:`x_{i-1}` from the *same* :math:`\varepsilon`, otherwise
:math:`x_{i-1}` is drawn from the DDPM posterior :math:`q(x_{i-1}\mid x_i, x_0)` (same marginals, noisier pairs). Then

* positives :math:`y^+ = \sqrt{\tilde r_i}\,x_{i-1}`; initial proposals :math:`y_0 = \mu_\phi(x_i, t_i) + \sqrt{\tilde\beta_i\tilde r_i}\,\xi`
  (``use_initializer=false`` or a non-learnable initializer: :math:`y_0 = x_i`, i.e. DRL);
* negatives :math:`y_K`: ``n_steps`` recovery Langevin steps from :math:`y_0` (energy in eval mode, detached);
* group ``energy``: :math:`L_{EBM} = \overline{w_i\,(E(y^+, t_{i-1}) - E(y_K, t_{i-1}))}` with :math:`w_i = \sigma_1/\sigma_i`
  (``level_weights``; :math:`E = -f`, so this is the code's :math:`w(f(y_K) - f(y^+))`);
* group ``initializer``: :math:`L_{init} = \overline{\|y_K - y_0\|^2}` (sum over features), gradient into
  :math:`\mu_\phi` only (the target is detached).

Labelled data with ``p_uncond > 0`` trains a class-conditional model for classifier-free guidance: each label
is replaced by :data:`~ebmcore.NULL_LABEL` with that probability, for both networks.

Reference: Zhu, Xie, Wu & Gao, ICLR 2024, arXiv 2309.05153 (code ``main_uncond.py``, ``main_cond.py``).
"""

from __future__ import annotations

import attrs
import torch
from attrs import validators as v
from torch import Tensor, nn

from ebmcore import (
    NULL_LABEL,
    Batch,
    BuildContext,
    DataLevelEnergy,
    Energy,
    Initializer,
    Objective,
    ObjectiveConfig,
    ObjectiveOutput,
    Parts,
    StateInitializer,
    sampling_mode,
)
from ebmcore_cdrl.schedule import CosineSchedule, recovery_langevin

__all__ = ["CDRLObjective", "CDRLObjectiveConfig", "build_cdrl_objective", "noisy_pair"]


def noisy_pair(x0: Tensor, i: Tensor, sch: CosineSchedule, shared: bool) -> tuple[Tensor, Tensor]:
    r"""``(x_i, x_{i-1})`` for levels ``i`` ``(B,)``: shared noise, or :math:`x_{i-1}` from the DDPM posterior.

    :math:`x_i = \sqrt{\bar\alpha_i}x_0 + \sqrt{1-\bar\alpha_i}\,\varepsilon`; with ``shared`` :math:`x_{i-1}` uses the same
    :math:`\varepsilon`, otherwise it is drawn from :math:`q(x_{i-1}\mid x_i, x_0)` (same marginals, noisier pairs).

    Arguments:
        x0: clean data ``(B, *event)``.
        i: levels ``(B,)`` (long, in ``1..T``).
        sch: the :class:`~ebmcore_cdrl.schedule.CosineSchedule`.
        shared: shared noise (CDRL's variance reduction) instead of the DDPM posterior.

    Returns:
        ``(x_i, x_{i-1})``, each ``(B, *event)``.

    Examples:
        >>> import torch
        >>> from ebmcore_cdrl import CosineSchedule, noisy_pair
        >>> sch = CosineSchedule(6)
        >>> x0, i = torch.randn(4, 2), torch.tensor([2, 3, 4, 6])
        >>> x_i, x_prev = noisy_pair(x0, i, sch, shared=True)
        >>> tuple(x_i.shape), tuple(x_prev.shape)
        ((4, 2), (4, 2))
        >>> ab, ab_prev = sch.at("alpha_bar", i, x0), sch.at("alpha_bar", i - 1, x0)
        >>> eps = (x_i - ab.sqrt() * x0) / (1 - ab).sqrt()  # the same noise made both states
        >>> torch.allclose(x_prev, ab_prev.sqrt() * x0 + (1 - ab_prev).sqrt() * eps, atol=1e-5)
        True
    """
    ab, ab_prev = sch.at("alpha_bar", i, x0), sch.at("alpha_bar", i - 1, x0)
    eps = torch.randn_like(x0)
    x_i = ab.sqrt() * x0 + (1 - ab).sqrt() * eps
    if shared:
        return x_i, ab_prev.sqrt() * x0 + (1 - ab_prev).sqrt() * eps
    r, s2 = sch.at("r", i, x0), sch.at("sigma2", i, x0)
    mean = (ab_prev.sqrt() * s2 / (1 - ab)) * x0 + (r.sqrt() * (1 - ab_prev) / (1 - ab)) * x_i
    return x_i, mean + sch.at("beta_tilde", i, x0).sqrt() * torch.randn_like(x0)


@attrs.frozen(kw_only=True)
class CDRLObjectiveConfig(ObjectiveConfig):
    """Config of :class:`CDRLObjective` (the schedule fields must match the sampler's).

    Attributes:
        n_levels, logsnr_min, logsnr_max, step_const, c_mode: the schedule.
        n_steps: Langevin steps per level in training (CDRL 15).
        use_initializer: learn the initializer (``false``: DRL).
        variance_reduction: shared noise for the level pair.
        level_weights: weights :math:`\\sigma_1/\\sigma_i` (``false``: 1).
        init_weight: weight of :math:`L_{init}`.
        p_uncond: label dropout for classifier-free guidance.

    Examples:
        >>> import torch
        >>> from ebmcore import Batch
        >>> from ebmcore_cdrl import CDRLEnergy, CDRLInitializer, CDRLObjective, CDRLObjectiveConfig
        >>> cfg = CDRLObjectiveConfig(n_levels=4, step_const=1e-3, n_steps=2, use_initializer=False)
        >>> energy = CDRLEnergy((2,), width=16, n_blocks=1, temb_dim=8)
        >>> init = CDRLInitializer((2,), width=16, n_blocks=1, temb_dim=8)
        >>> drl = CDRLObjective(energy, init, **cfg.as_kwargs())  # use_initializer=False: DRL
        >>> sorted(drl(Batch(torch.randn(8, 2)), step=0).losses)
        ['energy']
        >>> CDRLObjectiveConfig(p_uncond=1.5)
        Traceback (most recent call last):
        ...
        ValueError: 'p_uncond' must be <= 1: 1.5
    """

    n_levels: int = attrs.field(default=6, validator=v.ge(1))
    logsnr_min: float = -5.1
    logsnr_max: float = 9.8
    step_const: float = attrs.field(default=2e-4, validator=v.gt(0))
    c_mode: str = attrs.field(default="ratio", validator=v.in_(("ratio", "constant")))
    n_steps: int = attrs.field(default=15, validator=v.ge(1))
    use_initializer: bool = True
    variance_reduction: bool = True
    level_weights: bool = True
    init_weight: float = attrs.field(default=1.0, validator=v.gt(0))
    p_uncond: float = attrs.field(default=0.0, validator=[v.ge(0), v.le(1)])


class CDRLObjective(Objective):
    r"""CDRL (or DRL) training: groups ``energy`` and, with a learnable initializer, ``initializer``.

    See the module docstring for the losses. ``forward(batch, step)`` takes data ``batch.x``
    ``(B, *event_shape)`` (labels ``batch.y`` ``(B,)`` optional) and returns scalar losses per group.

    Metrics: ``energy/pos``, ``energy/neg``, ``cdrl/loss_ebm`` (should stay :math:`\lesssim 0.1` in magnitude;
    a jump means the negatives escaped), ``cdrl/loss_init``, ``cdrl/init_move`` (mean :math:`\|y_K - y_0\|`).

    References:
        Zhu, Xie, Wu & Gao, "Learning Energy-Based Models by Cooperative Diffusion Recovery Likelihood",
        ICLR 2024, arXiv 2309.05153.
        Gao, Song, Poole, Wu & Kingma, "Learning Energy-Based Models by Diffusion Recovery Likelihood",
        ICLR 2021, arXiv 2012.08125 (the initializer-free case).

    Arguments:
        energy: noise-conditioned energy accepting ``t`` (and ``y`` when labelled); an energy without ``t``
            is shared by all levels (a time-independent recovery model).
        initializer: a :class:`~ebmcore.abstract.StateInitializer` (CDRL) or any initializer (DRL).
        n_levels, logsnr_min, logsnr_max, step_const, c_mode: the schedule
            (:class:`~ebmcore_cdrl.schedule.CosineSchedule`).
        n_steps, use_initializer, variance_reduction, level_weights, init_weight, p_uncond: see
            :class:`CDRLObjectiveConfig`.

    Examples:
        >>> import torch
        >>> from ebmcore import Batch
        >>> from ebmcore_cdrl import CDRLEnergy, CDRLInitializer, CDRLObjective
        >>> energy = CDRLEnergy((2,), width=16, n_blocks=1, temb_dim=8)
        >>> init = CDRLInitializer((2,), width=16, n_blocks=1, temb_dim=8)
        >>> objective = CDRLObjective(energy, init, n_levels=4, step_const=1e-3, n_steps=2)
        >>> out = objective(Batch(torch.randn(8, 2)), step=0)
        >>> sorted(out.losses), sorted(objective.parameter_groups())
        (['energy', 'initializer'], ['energy', 'initializer'])
        >>> out.losses["energy"].shape, "cdrl/init_move" in out.metrics
        (torch.Size([]), True)
    """

    #: The model is a chain of recovery EBMs sampled level by level; core's density metrics of exp(-E)
    #: would not describe it (E is in units of each level's step size), so evaluation reports sample metrics.
    model_has_density = False

    def __init__(self, energy: Energy, initializer: Initializer, *, n_levels: int = 6, logsnr_min: float = -5.1,
                 logsnr_max: float = 9.8, step_const: float = 2e-4, c_mode: str = "ratio", n_steps: int = 15,
                 use_initializer: bool = True, variance_reduction: bool = True, level_weights: bool = True,
                 init_weight: float = 1.0, p_uncond: float = 0.0) -> None:
        super().__init__()
        self.parts = Parts(energy, None, initializer)
        self._data_level = Parts(DataLevelEnergy(energy, t_data=0.0))  # pictures: E(x, t=0); kept out of sub-modules
        self.schedule = CosineSchedule(n_levels, logsnr_min=logsnr_min, logsnr_max=logsnr_max,
                                       step_const=step_const, c_mode=c_mode)
        self.learn_init = (use_initializer and isinstance(initializer, StateInitializer)
                           and any(p.requires_grad for p in initializer.parameters()))
        self.n_steps, self.variance_reduction, self.level_weights = int(n_steps), bool(variance_reduction), bool(level_weights)
        self.init_weight, self.p_uncond = float(init_weight), float(p_uncond)

    def model_energy(self) -> nn.Module:
        """The energy at the data level, ``E(x, t=0)`` unless a level's ``t`` is given (the sampler gives it)."""
        return self._data_level.energy  # type: ignore[return-value]

    def forward(self, batch: Batch, step: int) -> ObjectiveOutput:
        energy, init = self.parts.energy, self.parts.initializer
        assert isinstance(energy, nn.Module) and init is not None
        sch, x0 = self.schedule, batch.x
        b = x0.shape[0]
        cond = batch.cond_for(energy)
        if "y" in cond and self.p_uncond:
            drop = torch.rand(b, device=x0.device) < self.p_uncond
            cond["y"] = torch.where(drop, torch.full_like(cond["y"], NULL_LABEL), cond["y"])
        i = torch.randint(1, sch.n_levels + 1, (b,), device=x0.device)
        x_i, x_prev = noisy_pair(x0, i, sch, self.variance_reduction)
        y_pos = sch.at("r_tilde", i, x0).sqrt() * x_prev
        if self.learn_init:
            assert isinstance(init, StateInitializer)
            mu = init.init_from(x_i, {**cond, "t": sch.time(i, x0)})
            y0 = mu + (sch.at("beta_tilde", i, x0) * sch.at("r_tilde", i, x0)).sqrt() * torch.randn_like(x0)
        else:
            y0 = x_i
        with sampling_mode(energy):
            y_k = recovery_langevin(energy, y0.detach(), x_i, i, sch, n_steps=self.n_steps, cond=cond)
        level_cond = {**cond, "t": sch.time(i - 1, x0)} if "t" in energy.conditions else cond
        both = {k: torch.cat([c, c]) for k, c in level_cond.items()}
        e = energy(torch.cat([y_pos, y_k]), **both)
        e_pos, e_neg = e[:b], e[b:]
        w = sch.at("weight", i, e).flatten() if self.level_weights else torch.ones_like(e_pos)
        loss_ebm = (w * (e_pos - e_neg)).mean()
        metrics = {"energy/pos": e_pos.detach().mean(), "energy/neg": e_neg.detach().mean(),
                   "cdrl/loss_ebm": loss_ebm.detach()}
        losses = {"energy": loss_ebm}
        if self.learn_init:
            loss_init = (y_k - y0).flatten(1).pow(2).sum(1).mean()
            losses["initializer"] = self.init_weight * loss_init
            metrics["cdrl/loss_init"] = loss_init.detach()
            metrics["cdrl/init_move"] = (y_k - y0.detach()).flatten(1).norm(dim=1).mean()
        return ObjectiveOutput(losses, metrics)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        energy, init = self.parts.energy, self.parts.initializer
        assert isinstance(energy, nn.Module) and init is not None
        groups = {"energy": list(energy.parameters())}
        if self.learn_init:
            groups["initializer"] = [p for p in init.parameters() if p.requires_grad]
        return groups


def build_cdrl_objective(cfg: CDRLObjectiveConfig, ctx: BuildContext) -> CDRLObjective:
    if ctx.energy is None or ctx.initializer is None:
        raise ValueError("cdrl needs an energy and an initializer")
    return CDRLObjective(ctx.energy, ctx.initializer, **cfg.as_kwargs())
