r"""CDRL / DRL generation: from :math:`x_T \sim \mathcal N(0, I)` down the levels, initializer then Langevin.

At level :math:`i = T..1` (method notes B.5): :math:`y_0 = \mu_\phi(x_i, t_i) + \sqrt{\tilde\beta_i\tilde r_i}\,\xi` when the
initializer is a :class:`~ebmcore.abstract.StateInitializer` (CDRL), else :math:`y_0 = x_i` (DRL); then ``n_steps``
recovery Langevin steps (:func:`~ebmcore_cdrl.schedule.recovery_langevin`) and :math:`x_{i-1} = y_K/\sqrt{\tilde r_i}`.
Works with any energy accepting ``t`` (a noise-conditioned energy); images are clamped to ``clamp`` at the end.

* **Classifier-free guidance** (``guidance`` :math:`w`, labels ``y`` in ``cond``): energy
  :math:`(1+w)E(\cdot, c) - wE(\cdot, \varnothing)` and initializer mean :math:`(1+w)\mu(\cdot, c) - w\mu(\cdot, \varnothing)`,
  :math:`\varnothing` = :data:`~ebmcore.NULL_LABEL`; :math:`w = 0` is the conditional model exactly.
* **Inpainting** (:meth:`CDRLSampler.inpaint`): after the initializer proposal and after every Langevin step
  the known pixels are overwritten with the observation noised to that level (one :math:`\varepsilon` per chain,
  shared across levels); the output keeps the observed pixels.
* **Composition**: pass a sum of energies (:func:`compose`) as the energy: a product of experts.

References: Zhu et al., ICLR 2024, arXiv 2309.05153 (``gen_samples``, CFG in ``main_cond.py``; inpainting and
composition reconstructed in the notes B.7); Gao et al., ICLR 2021, arXiv 2012.08125.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
import torch
from attrs import validators as v
from torch import Tensor

from ebmcore import NULL_LABEL, BuildContext, Cond, EnergyFn, Initializer, Sampler, SamplerConfig, SampleResult, StateInitializer
from ebmcore_cdrl.schedule import CosineSchedule, recovery_langevin

__all__ = ["CDRLSampler", "CDRLSamplerConfig", "build_cdrl_sampler", "compose", "guided_energy"]


def guided_energy(energy: EnergyFn, w: float) -> EnergyFn:
    r"""Classifier-free guidance: :math:`(1+w)E(x, c) - wE(x, \varnothing)`, with :math:`\varnothing` = ``NULL_LABEL``.

    The plain energy when ``w == 0`` or no label ``y`` is given.

    Arguments:
        energy: a class-conditional energy ``(B, *event), y=(B,) -> (B,)`` trained with label dropout.
        w: the guidance weight :math:`w \ge 0` (0: the conditional model).

    Returns:
        The guided energy, a callable with the same signature and ``conditions`` (``energy`` itself when
        ``w == 0``).

    Examples:
        >>> import torch
        >>> from ebmcore import NULL_LABEL
        >>> from ebmcore_cdrl import guided_energy
        >>> def energy(x, **cond):  # 1 for a real label, 0 for the null label
        ...     return x.sum(1) + (cond["y"] != NULL_LABEL).float()
        >>> guided = guided_energy(energy, 2.0)
        >>> guided(torch.zeros(2, 3), y=torch.tensor([0, 1]))  # (1 + 2) * 1 - 2 * 0
        tensor([3., 3.])
        >>> guided_energy(energy, 0.0) is energy
        True
    """
    if w == 0:
        return energy

    def e(x: Tensor, **cond: Tensor) -> Tensor:
        if "y" not in cond:
            return energy(x, **cond)
        null = {**cond, "y": torch.full_like(cond["y"], NULL_LABEL)}
        return (1 + w) * energy(x, **cond) - w * energy(x, **null)

    e.conditions = getattr(energy, "conditions", frozenset({"t", "y"}))  # type: ignore[attr-defined]
    return e


def compose(*energies: EnergyFn) -> EnergyFn:
    r"""The product of experts :math:`\sum_j E_j(x, \cdot)` (each gets the same conditions).

    Arguments:
        *energies: energy callables ``(B, *event), **cond -> (B,)``.

    Returns:
        Their sum as one energy callable, whose ``conditions`` are the union of theirs.

    Examples:
        >>> import torch
        >>> from ebmcore_cdrl import CDRLEnergy, compose
        >>> def well(x, **cond):
        ...     return x.pow(2).sum(1)
        >>> def tilt(x, **cond):
        ...     return x.sum(1)
        >>> compose(well, tilt)(torch.ones(2, 3))
        tensor([6., 6.])
        >>> sorted(compose(CDRLEnergy((3,), width=8, n_blocks=1, temb_dim=8), well).conditions)
        ['t']
    """

    def e(x: Tensor, **cond: Tensor) -> Tensor:
        return torch.stack([en(x, **cond) for en in energies]).sum(0)

    e.conditions = frozenset().union(*(getattr(en, "conditions", frozenset()) for en in energies))  # type: ignore[attr-defined]
    return e


@attrs.frozen(kw_only=True)
class CDRLSamplerConfig(SamplerConfig):
    """Config of :class:`CDRLSampler` (the schedule fields must match the objective's).

    Attributes:
        n_levels, logsnr_min, logsnr_max, step_const, c_mode: the schedule
            (:class:`~ebmcore_cdrl.schedule.CosineSchedule`).
        n_steps: Langevin steps per level (CDRL 15; DRL 30).
        guidance: classifier-free guidance weight :math:`w`.
        clamp: clamp the final samples (images), ``None``: off.

    Examples:
        >>> from ebmcore_cdrl import CDRLSampler, CDRLSamplerConfig
        >>> cfg = CDRLSamplerConfig(n_levels=4, n_steps=2, clamp=(-1.0, 1.0))
        >>> CDRLSampler(**cfg.as_kwargs())
        CDRLSampler(n_levels=4, n_steps=2, guidance=0.0)
        >>> CDRLSamplerConfig(guidance=-1.0)
        Traceback (most recent call last):
        ...
        ValueError: 'guidance' must be >= 0: -1.0
    """

    n_levels: int = attrs.field(default=6, validator=v.ge(1))
    logsnr_min: float = -5.1
    logsnr_max: float = 9.8
    step_const: float = attrs.field(default=2e-4, validator=v.gt(0))
    c_mode: str = attrs.field(default="ratio", validator=v.in_(("ratio", "constant")))
    n_steps: int = attrs.field(default=15, validator=v.ge(0))
    guidance: float = attrs.field(default=0.0, validator=v.ge(0))
    clamp: tuple[float, float] | None = None


class CDRLSampler(Sampler):
    r"""Ancestral generation through the levels (see the module docstring).

    ``generate(energy, initializer, n)`` (CDRL with a :class:`~ebmcore.abstract.StateInitializer`, else DRL),
    ``sample(energy, x0)`` (DRL from :math:`x_T` = ``x0``) and ``inpaint(energy, initializer, x_obs, mask)``
    return a :class:`~ebmcore.abstract.SampleResult` with ``x`` ``(n, *event_shape)``; ``n_grad_evals`` =
    ``n_levels * n_steps`` (times 2 with guidance: conditional and unconditional energies).

    References:
        Zhu, Xie, Wu & Gao, "Learning Energy-Based Models by Cooperative Diffusion Recovery Likelihood",
        ICLR 2024, arXiv 2309.05153.
        Gao, Song, Poole, Wu & Kingma, "Learning Energy-Based Models by Diffusion Recovery Likelihood",
        ICLR 2021, arXiv 2012.08125.

    Arguments:
        n_levels, logsnr_min, logsnr_max, step_const, c_mode, n_steps, guidance, clamp: see
            :class:`CDRLSamplerConfig`.

    Examples:
        >>> import torch
        >>> from ebmcore_cdrl import CDRLEnergy, CDRLInitializer, CDRLSampler
        >>> energy = CDRLEnergy((2,), width=16, n_blocks=1, temb_dim=8)
        >>> init = CDRLInitializer((2,), width=16, n_blocks=1, temb_dim=8)
        >>> sampler = CDRLSampler(n_levels=3, n_steps=2, step_const=1e-3)
        >>> out = sampler.generate(energy, init, 5)
        >>> tuple(out.x.shape), out.n_grad_evals
        ((5, 2), 6)
        >>> x_obs, mask = torch.randn(5, 2), torch.tensor([1.0, 0.0])  # the first coordinate is known
        >>> filled = sampler.inpaint(energy, init, x_obs, mask).x
        >>> torch.equal(filled[:, 0], x_obs[:, 0])
        True
    """

    def __init__(self, *, n_levels: int = 6, logsnr_min: float = -5.1, logsnr_max: float = 9.8,
                 step_const: float = 2e-4, c_mode: str = "ratio", n_steps: int = 15, guidance: float = 0.0,
                 clamp: tuple[float, float] | None = None) -> None:
        super().__init__()
        self.schedule = CosineSchedule(n_levels, logsnr_min=logsnr_min, logsnr_max=logsnr_max,
                                       step_const=step_const, c_mode=c_mode)
        self.n_steps, self.guidance, self.clamp = int(n_steps), float(guidance), clamp

    def _propose(self, init: Initializer | None, x: Tensor, i: Tensor, cond: Cond) -> Tensor:
        if not isinstance(init, StateInitializer):
            return x  # DRL: chains start at the noisy sample
        sch = self.schedule
        c = {**cond, "t": sch.time(i, x)}
        mu = init.init_from(x, c)
        if self.guidance and "y" in cond:
            mu0 = init.init_from(x, {**c, "y": torch.full_like(cond["y"], NULL_LABEL)})
            mu = (1 + self.guidance) * mu - self.guidance * mu0
        return mu + (sch.at("beta_tilde", i, x) * sch.at("r_tilde", i, x)).sqrt() * torch.randn_like(x)

    def _levels(self, energy: EnergyFn, init: Initializer | None, x: Tensor, cond: Cond,
                project: Callable[[Tensor, Tensor], Tensor] | None = None) -> Tensor:
        sch = self.schedule
        e = guided_energy(energy, self.guidance)
        for level in range(sch.n_levels, 0, -1):
            i = torch.full((x.shape[0],), level, device=x.device, dtype=torch.long)
            with torch.no_grad():
                y = self._propose(init, x, i, cond)
            if project is not None:
                y = project(y, i)
                for _ in range(self.n_steps):
                    y = project(recovery_langevin(e, y, x, i, sch, n_steps=1, cond=cond), i)
            else:
                y = recovery_langevin(e, y, x, i, sch, n_steps=self.n_steps, cond=cond)
            x = y / sch.at("r_tilde", i, y).sqrt()
        return x.clamp(*self.clamp) if self.clamp is not None else x

    def sample(self, energy: EnergyFn, x0: Tensor, cond: Cond | None = None) -> SampleResult:
        """DRL generation (no initializer) from ``x0`` taken as :math:`x_T`."""
        x = self._levels(energy, None, x0.detach(), dict(cond or {}))
        return self._result(x)

    def generate(self, energy: EnergyFn, initializer: Initializer, n: int, cond: Cond | None = None) -> SampleResult:
        x_top = initializer.init(n)
        return self._result(self._levels(energy, initializer, x_top, dict(cond or {})))

    def inpaint(self, energy: EnergyFn, initializer: Initializer | None, x_obs: Tensor, mask: Tensor,
                cond: Cond | None = None) -> SampleResult:
        r"""Fill the pixels where ``mask`` is 0 given ``x_obs`` ``(B, *event)`` (``mask`` 1 = known, same shape
        or broadcastable). Returns samples with ``x[mask] = x_obs[mask]``."""
        sch = self.schedule
        eps = torch.randn_like(x_obs)
        m = mask.to(x_obs.dtype).expand_as(x_obs)

        def project(y: Tensor, i: Tensor) -> Tensor:
            ab = sch.at("alpha_bar", i - 1, y)
            known = sch.at("r_tilde", i, y).sqrt() * (ab.sqrt() * x_obs + (1 - ab).sqrt() * eps)
            return m * known + (1 - m) * y

        x_top = torch.randn_like(x_obs)
        x = self._levels(energy, initializer, x_top, dict(cond or {}), project)
        return self._result(m * x_obs + (1 - m) * x)

    def _result(self, x: Tensor) -> SampleResult:
        n = self.schedule.n_levels * self.n_steps * (2 if self.guidance else 1)
        return SampleResult(x.detach(), {"guidance": self.guidance}, n_energy_evals=n, n_grad_evals=n)

    def extra_repr(self) -> str:
        return f"n_levels={self.schedule.n_levels}, n_steps={self.n_steps}, guidance={self.guidance}"


def build_cdrl_sampler(cfg: CDRLSamplerConfig, ctx: BuildContext) -> CDRLSampler:
    """Build a :class:`CDRLSampler` (it holds no tensors; ``ctx`` is not used)."""
    return CDRLSampler(**cfg.as_kwargs())

