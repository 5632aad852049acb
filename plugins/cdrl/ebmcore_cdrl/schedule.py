r"""CDRL's noise schedule and the recovery-likelihood Langevin step (method notes A.4, B.2, B.3).

Levels :math:`i = 0..T` at times :math:`t_i = i/T`; a cosine schedule in logSNR truncated to
:math:`[\lambda_{\min}, \lambda_{\max}]`: :math:`\lambda(t) = -2\log\tan(a t + b)`, :math:`b = \arctan e^{-\lambda_{\max}/2}`,
:math:`a = \arctan e^{-\lambda_{\min}/2} - b`. Then :math:`\bar\alpha_i = \mathrm{sigmoid}(\lambda_i)` (a variance),
:math:`r_i = \bar\alpha_i/\bar\alpha_{i-1}`, :math:`\sigma_i^2 = 1 - r_i`, the DDPM posterior variance
:math:`\tilde\beta_i = \sigma_i^2(1 - \bar\alpha_{i-1})/(1 - \bar\alpha_i)`, and :math:`\tilde r_i = r_i` except
:math:`\tilde r_T = 1` (the top level is a marginal EBM: no tether, no rescaling).

The EBM at level :math:`i-1` lives on :math:`y = \sqrt{\tilde r_i}\,x_{i-1}`; given :math:`x_i` its recovery density is
:math:`\log p(y \mid x_i) = f(y, t_{i-1})/s_i^2 - \|y - x_i\|^2/(2\sigma_i^2)\,[i < T]` with :math:`f = -E`. Langevin
on it with step :math:`s_i^2` is

.. math:: y \leftarrow y + \tfrac12\nabla_y\big[f(y, t_{i-1}) - k\,c_i^2\,\|y - x_i\|^2\,[i<T]\big] + s_i\,\xi,
          \qquad s_i^2 = 2k\,c_i^2\,\sigma_i^2,

with ``step_const`` :math:`k` (official images 2e-4; toy 1e-3) and :math:`c_i^2 = \sqrt{1-\bar\alpha_{i-1}}/\sqrt{1-\bar\alpha_0}`
(``c_mode='ratio'``, a ratio of standard deviations as in the code) or the constant :math:`1/\sqrt{1-\bar\alpha_0}`
(``c_mode='constant'``, the official 2-D toy; it diverges in 64-D, notes B.10). Writing the density as
:math:`f/s^2` makes the energy's drift :math:`\tfrac12\nabla f` independent of the level's step size.

References:
    Zhu, Xie, Wu & Gao, "Learning energy-based models by cooperative diffusion recovery likelihood", ICLR 2024,
    arXiv 2309.05153; code github.com/AlvinZhuyx/CDRL (``main_uncond.py``).
    Gao et al., "Learning energy-based models by diffusion recovery likelihood", ICLR 2021, arXiv 2012.08125.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ebmcore import Cond, EnergyFn, energy_and_grad

__all__ = ["CosineSchedule", "recovery_langevin"]


class CosineSchedule:
    """The level constants of a truncated-cosine logSNR schedule, as float64 tensors indexed by level.

    Every attribute below is a float64 tensor ``(T+1,)`` indexed by the level ``i``; the entries at ``i = 0``
    of the per-transition quantities (all but ``logsnr`` and ``alpha_bar``) are unused. See the module
    docstring for the formulas.

    Arguments:
        n_levels: :math:`T`.
        logsnr_min, logsnr_max: truncation of :math:`\\lambda` (official -5.1, 9.8).
        step_const: :math:`k` of the Langevin step (see the module docstring).
        c_mode: ``ratio`` or ``constant``.

    Attributes:
        logsnr, alpha_bar: :math:`\\lambda_i` and :math:`\\bar\\alpha_i = \\mathrm{sigmoid}(\\lambda_i)`.
        r, sigma2, beta_tilde, r_tilde: :math:`r_i`, :math:`\\sigma_i^2`, :math:`\\tilde\\beta_i`, :math:`\\tilde r_i`.
        c2, s2, tether: :math:`c_i^2`, the Langevin step :math:`s_i^2` and the tether strength
            :math:`k c_i^2` (0 at the top level).
        weight: the loss weights :math:`\\sigma_1/\\sigma_i`.

    Examples:
        >>> import torch
        >>> from ebmcore_cdrl import CosineSchedule
        >>> sch = CosineSchedule(6, step_const=2e-4)
        >>> [round(float(a), 3) for a in sch.alpha_bar]  # from (almost) data to (almost) noise
        [1.0, 0.936, 0.768, 0.535, 0.294, 0.102, 0.006]
        >>> float(sch.r_tilde[-1]), float(sch.tether[-1])  # the top level is a marginal EBM
        (1.0, 0.0)
        >>> sch.time(torch.tensor([0, 3, 6]), torch.zeros(3))
        tensor([0.0000, 0.5000, 1.0000])
        >>> tuple(sch.at("s2", torch.tensor([1, 6]), torch.zeros(2, 3, 8, 8)).shape)  # broadcastable
        (2, 1, 1, 1)
        >>> CosineSchedule(6, c_mode="linear")
        Traceback (most recent call last):
        ...
        ValueError: CosineSchedule needs n_levels >= 1, ...
    """

    def __init__(self, n_levels: int = 6, *, logsnr_min: float = -5.1, logsnr_max: float = 9.8,
                 step_const: float = 2e-4, c_mode: str = "ratio") -> None:
        if n_levels < 1 or logsnr_min >= logsnr_max or step_const <= 0 or c_mode not in ("ratio", "constant"):
            raise ValueError("CosineSchedule needs n_levels >= 1, logsnr_min < logsnr_max, step_const > 0, "
                             "c_mode 'ratio' or 'constant'")
        self.n_levels = n_levels
        t = torch.arange(n_levels + 1, dtype=torch.float64) / n_levels
        b = math.atan(math.exp(-logsnr_max / 2))
        a = math.atan(math.exp(-logsnr_min / 2)) - b
        self.logsnr = -2.0 * torch.log(torch.tan(a * t + b))
        self.alpha_bar = torch.sigmoid(self.logsnr)
        ab, ab_prev = self.alpha_bar, torch.cat([self.alpha_bar[:1], self.alpha_bar[:-1]])
        self.r = ab / ab_prev
        self.sigma2 = 1.0 - self.r
        self.beta_tilde = torch.where(t > 0, self.sigma2 * (1 - ab_prev) / (1 - ab), torch.zeros_like(t))
        self.r_tilde = self.r.clone()
        self.r_tilde[-1] = 1.0
        if c_mode == "ratio":
            self.c2 = (1 - ab_prev).sqrt() / math.sqrt(1 - float(ab[0]))
        else:
            self.c2 = torch.full_like(t, 1.0 / math.sqrt(1 - float(ab[0])))
        self.s2 = 2.0 * step_const * self.c2 * self.sigma2
        self.tether = step_const * self.c2
        self.tether[-1] = 0.0  # the top level is a marginal EBM
        sigma = self.sigma2.sqrt()
        self.weight = torch.where(t > 0, sigma[1] / sigma, torch.zeros_like(t))

    def time(self, i: Tensor, like: Tensor) -> Tensor:
        """:math:`t_i = i/T` as ``(B,)`` in ``like``'s dtype and device."""
        return i.to(device=like.device, dtype=like.dtype) / self.n_levels

    def at(self, name: str, i: Tensor, like: Tensor) -> Tensor:
        """Per-example constant ``name`` at levels ``i`` ``(B,)``, shaped to broadcast against ``like``."""
        v = getattr(self, name).to(device=like.device, dtype=like.dtype)[i]
        return v.view(-1, *([1] * (like.dim() - 1)))


def recovery_langevin(
    energy: EnergyFn,
    y0: Tensor,
    x_cond: Tensor,
    i: Tensor,
    schedule: CosineSchedule,
    *,
    n_steps: int,
    cond: Cond | None = None,
    noise: bool = True,
) -> Tensor:
    r"""``n_steps`` recovery-likelihood Langevin steps at levels ``i`` ``(B,)`` (transition :math:`i-1 \leftarrow i`).

    Arguments:
        energy: :math:`E = -f`, called as ``energy(y, t=t_{i-1}, **cond)`` (without ``t`` when its
            ``conditions`` do not include it: one energy shared by all levels).
        y0: starting states ``(B, *event)`` (detached here).
        x_cond: the noisier states :math:`x_i` ``(B, *event)`` the chains are tethered to.
        i: the levels ``(B,)`` (long, in ``1..T``) of the transitions.
        schedule: the :class:`CosineSchedule` giving the step sizes and tethers.
        n_steps: Langevin steps :math:`K`.
        cond: further conditions passed to ``energy`` (e.g. labels ``y`` ``(B,)``).
        noise: add the :math:`s_i\xi` noise (off: the deterministic drift, for tests).

    Returns:
        :math:`y_K` ``(B, *event)``, detached.

    Examples:
        >>> import torch
        >>> from ebmcore_cdrl import CosineSchedule, recovery_langevin
        >>> sch = CosineSchedule(6)
        >>> def energy(y, **cond):  # E = |y|^2 / 2, so the drift is -y / 2
        ...     return 0.5 * y.pow(2).sum(1)
        >>> x = torch.randn(4, 2)
        >>> top = torch.full((4,), 6)  # the top level has no tether
        >>> y = recovery_langevin(energy, x, x, top, sch, n_steps=1, noise=False)
        >>> torch.allclose(y, 0.5 * x)
        True
        >>> y = recovery_langevin(energy, x, x, torch.full((4,), 2), sch, n_steps=5)
        >>> tuple(y.shape), y.requires_grad
        ((4, 2), False)
    """
    c = dict(cond or {})
    if "t" in getattr(energy, "conditions", ("t",)):  # an energy without 't' is shared by all levels
        c["t"] = schedule.time(i - 1, y0)
    tether = schedule.at("tether", i, y0)
    s = schedule.at("s2", i, y0).sqrt()
    y = y0.detach()
    for _ in range(n_steps):
        _, g = energy_and_grad(energy, y, c)
        with torch.no_grad():
            y = y - 0.5 * g - tether * (y - x_cond)
            if noise:
                y = y + s * torch.randn_like(y)
    return y.detach()
