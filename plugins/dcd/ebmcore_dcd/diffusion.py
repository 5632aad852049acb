r"""The θ-free diffusion kernels of DCD and the posterior ("recovery") Langevin sampler they need.

VE kernel :math:`\Phi(y\mid x) = \mathcal N(y; x, s^2 I)`; VP kernel :math:`\Phi(y\mid x) = \mathcal N(y; a x, (1 - a^2) I)`.
The VP kernel is the VE kernel applied to :math:`y/a` with :math:`s^2 = (1 - a^2)/a^2`, so both reduce to the
*tethered* (recovery) energy

.. math:: U(x' \mid y) = E_\theta(x') + \frac{\|x' - y_0\|^2}{2 s^2}, \qquad y_0 = y \text{ (VE) or } y/a \text{ (VP)},

whose Boltzmann density is the recovery posterior :math:`p_\theta(x' \mid y) \propto e^{-E_\theta(x')}\Phi(y \mid x')`
(method notes B.3). :class:`VPSchedule` discretises a DDPM-style VP diffusion into levels for the
time-dependent mode (B.5).

References:
    Luo et al., "Training energy-based models with diffusion contrastive divergences", arXiv 2307.01668.
    Gao et al., "Learning energy-based models by diffusion recovery likelihood", ICLR 2021, arXiv 2012.08125.
    Ho et al., "Denoising diffusion probabilistic models", arXiv 2006.11239 (the linear β schedule).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from ebmcore import EnergyFn, energy_and_grad

__all__ = ["VPSchedule", "diffuse", "posterior_langevin", "tethered"]


def _bcast(t: Tensor, x: Tensor) -> Tensor:
    return t.view(-1, *([1] * (x.dim() - 1)))


def diffuse(x: Tensor, kernel: str, s: float) -> tuple[Tensor, Tensor]:
    r"""One θ-free diffusion step of ``x`` ``(B, ...)``: returns ``(y, y0)``, the diffused states and the
    tether centre ``y0`` (``y`` for VE, ``y / a`` for VP with :math:`a = 1/\sqrt{1 + s^2}`).

    Arguments:
        x: clean states ``(B, *event)``.
        kernel: ``ve`` (:math:`y = x + s\xi`) or ``vp`` (:math:`y = a x + \sqrt{1 - a^2}\,\xi`); any other
            value is treated as ``vp``.
        s: the VE noise standard deviation :math:`s` (VP: the one with the same tether).

    Returns:
        ``(y, y0)``, each ``(B, *event)``.

    Examples:
        >>> import torch
        >>> from ebmcore_dcd import diffuse
        >>> x = torch.zeros(1000, 2)
        >>> y, y0 = diffuse(x, "ve", 0.5)
        >>> torch.equal(y, y0), round(float(y.std()), 1)
        (True, 0.5)
        >>> y, y0 = diffuse(x + 1.0, "vp", 0.75)  # a = 1 / sqrt(1 + 0.75^2) = 0.8
        >>> torch.allclose(y0, y / 0.8), round(float(y.mean()), 1)
        (True, 0.8)
    """
    if kernel == "ve":
        y = x + s * torch.randn_like(x)
        return y, y
    a = 1.0 / math.sqrt(1.0 + s * s)
    y = a * x + math.sqrt(1.0 - a * a) * torch.randn_like(x)
    return y, y / a


def posterior_langevin(
    energy: EnergyFn,
    y0: Tensor,
    s2: Tensor,
    *,
    n_steps: int,
    step: Tensor,
    metropolis: bool = False,
    cond: dict[str, Tensor] | None = None,
    start: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    r"""``n_steps`` Langevin steps on :math:`U(x'\mid y) = E(x') + \|x' - y_0\|^2/(2 s^2)` from :math:`y_0`.

    Arguments:
        energy: ``(B, *event) -> (B,)``, called with ``cond``.
        y0: tether centres and starting states ``(B, *event)``.
        s2: per-example tether variance :math:`s^2`, ``(B,)``.
        n_steps: Langevin (or MALA) steps.
        step: per-example Langevin step :math:`\eta`, ``(B,)`` (single level: ``step_frac`` :math:`\cdot s^2`; across
            VP levels: ``step_frac`` :math:`\cdot(1 - a_k^2)`, which stays small where :math:`a_k` is small and
            :math:`s_k^2 = (1 - a_k^2)/a_k^2` is huge).
        metropolis: MALA instead of ULA (exact for the posterior; safe at large steps).
        cond: conditions passed to ``energy``, each ``(B,)`` (e.g. the level time ``t``).
        start: starting states (default ``y0``). Across VP levels the chains start at :math:`a_k y`, the
            posterior mean under a unit-variance Gaussian prior, instead of :math:`y/a_k`, which is
            :math:`1/a_k^2` times too far out at the noisy levels.

    Returns:
        ``(x', acceptance)``: the detached final states ``(B, *event)`` and the mean acceptance, a scalar
        tensor (1 for ULA).

    Examples:
        >>> import torch
        >>> from ebmcore_dcd import posterior_langevin
        >>> def prior(x, **cond):  # N(0, 1); with y0 = 2 and s^2 = 1 the posterior is N(1, 1/2)
        ...     return 0.5 * x.pow(2).sum(1)
        >>> y0, s2 = torch.full((500, 1), 2.0), torch.ones(500)
        >>> x, acc = posterior_langevin(prior, y0, s2, n_steps=50, step=0.2 * s2, metropolis=True)
        >>> tuple(x.shape), abs(float(x.mean()) - 1.0) < 0.1, float(acc) > 0.9
        ((500, 1), True, True)
    """
    cond = cond or {}
    eta = _bcast(step, y0)

    u = tethered(energy, y0, s2)
    z = (y0 if start is None else start).detach().clone()
    e_z, g_z = energy_and_grad(u, z, cond)
    acc = torch.zeros((), device=z.device, dtype=torch.float32)
    for _ in range(n_steps):
        with torch.no_grad():
            prop = z - eta * g_z + (2.0 * eta).sqrt() * torch.randn_like(z)
        if not metropolis:
            z = prop
            if _ < n_steps - 1:
                e_z, g_z = energy_and_grad(u, z, cond)
            continue
        e_p, g_p = energy_and_grad(u, prop, cond)
        with torch.no_grad():
            fwd = (prop - z + eta * g_z).flatten(1).pow(2).sum(1)
            bwd = (z - prop + eta * g_p).flatten(1).pow(2).sum(1)
            log_a = (e_z - e_p) + (fwd - bwd) / (4.0 * eta.flatten())
            accept = torch.rand_like(log_a).log() < torch.nan_to_num(log_a, nan=-math.inf)
            m = _bcast(accept, z)
            z, g_z, e_z = torch.where(m, prop, z), torch.where(m, g_p, g_z), torch.where(accept, e_p, e_z)
            acc = acc + accept.float().mean()
    acceptance = acc / max(n_steps, 1) if metropolis else torch.ones((), device=z.device)
    return z.detach(), acceptance


class VPSchedule:
    r"""A VP diffusion discretised into ``n_levels`` levels (method notes B.5, DRL's schedule).

    DDPM's linear :math:`\beta \in [\beta_{\min}, \beta_{\max}]` over ``n_ddpm`` steps is split into ``n_levels``
    equal blocks; level :math:`k` has the one-step coefficient :math:`a_k = \sqrt{\prod_{\text{block } k}(1 - \beta)}`,
    :math:`\sigma_k^2 = 1 - a_k^2`, and the cumulative :math:`\bar a_k = \prod_{j < k} a_j` (:math:`\bar a_0 = 1`:
    level 0 is the data). The energy's time input for level :math:`k` is :math:`t_k = k / N`.

    Arguments:
        n_levels: :math:`N`.
        beta_min, beta_max, n_ddpm: the DDPM linear schedule (defaults 1e-4, 2e-2, 1000).

    Attributes:
        a: the one-step coefficients :math:`a_k`, float64 ``(N,)``.
        a_bar: the cumulative :math:`\bar a_k`, float64 ``(N + 1,)``.

    Examples:
        >>> import torch
        >>> from ebmcore_dcd import VPSchedule
        >>> sch = VPSchedule(6)
        >>> tuple(sch.a.shape), tuple(sch.a_bar.shape), float(sch.a_bar[0])
        ((6,), (7,), 1.0)
        >>> bool((sch.a[1:] < sch.a[:-1]).all())  # later levels add more noise
        True
        >>> a_bar, a, s2 = sch.coeffs(torch.tensor([0, 5]), torch.zeros(2))
        >>> torch.allclose(s2, (1 - a**2) / a**2), sch.level_time(torch.tensor([0, 3]), torch.zeros(2))
        (True, tensor([0.0000, 0.5000]))
    """

    def __init__(self, n_levels: int = 6, *, beta_min: float = 1e-4, beta_max: float = 2e-2, n_ddpm: int = 1000) -> None:
        if n_levels < 1 or n_ddpm < n_levels or not 0 < beta_min <= beta_max < 1:
            raise ValueError("VPSchedule needs 1 <= n_levels <= n_ddpm and 0 < beta_min <= beta_max < 1")
        betas = torch.linspace(beta_min, beta_max, n_ddpm, dtype=torch.float64)
        blocks = betas.tensor_split(n_levels)
        self.n_levels = n_levels
        self.a = torch.stack([torch.log1p(-b).sum().mul(0.5).exp() for b in blocks])  # (N,)
        self.a_bar = torch.cat([torch.ones(1, dtype=torch.float64), torch.cumprod(self.a, 0)])  # (N + 1,)

    def level_time(self, k: Tensor, like: Tensor) -> Tensor:
        """:math:`t_k = k/N` as a ``(B,)`` tensor with the dtype/device of ``like``."""
        return k.to(like.dtype) / self.n_levels

    def level_step(self, k: Tensor, like: Tensor, step_frac: float) -> Tensor:
        r"""Posterior Langevin step at level ``k``: ``step_frac`` :math:`\cdot (1 - a_k^2)` (the level's noise variance)."""
        a = self.a.to(like.device)[k].to(like.dtype)
        return step_frac * (1.0 - a * a)

    def coeffs(self, k: Tensor, like: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(a_bar_k, a_k, s2_k)`` for level indices ``k`` ``(B,)``, on ``like``'s device/dtype; :math:`s_k^2 = (1 - a_k^2)/a_k^2`."""
        a = self.a.to(like.device)[k].to(like.dtype)
        a_bar = self.a_bar.to(like.device)[k].to(like.dtype)
        return a_bar, a, (1.0 - a * a) / (a * a)


def tethered(energy: EnergyFn, y0: Tensor, s2: Tensor | float) -> Callable[..., Tensor]:
    r"""The recovery energy :math:`U(x' \mid y) = E(x') + \|x' - y_0\|^2/(2 s^2)` as a callable (for samplers from
    other packages).

    Arguments:
        energy: :math:`E`, ``(B, *event) -> (B,)``.
        y0: the tether centres ``(B, *event)``.
        s2: the tether variance :math:`s^2`, a float or ``(B,)``.

    Returns:
        :math:`U`, a callable ``(B, *event), **cond -> (B,)`` (conditions go to ``energy``).

    Examples:
        >>> import torch
        >>> from ebmcore_dcd import tethered
        >>> def energy(x, **cond):
        ...     return x.pow(2).sum(1)
        >>> u = tethered(energy, torch.ones(2, 3), 0.5)
        >>> u(torch.zeros(2, 3))  # 0 + 3 / (2 * 0.5)
        tensor([3., 3.])
        >>> u(torch.ones(2, 3))  # at the centre: the energy alone
        tensor([3., 3.])
    """

    def u(z: Tensor, **c: Tensor) -> Tensor:
        return energy(z, **c) + (z - y0).flatten(1).pow(2).sum(1) / (2.0 * s2)

    return u
