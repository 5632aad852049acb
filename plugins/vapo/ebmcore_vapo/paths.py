r"""Gaussian probability paths (homotopies) for VAPO: :math:`x_t = \mu(t)\,\bar x + \sigma(t)\,\varepsilon`.

Time runs from the prior (:math:`t = 0`, :math:`\mu = 0`, :math:`\sigma = 1`) to the data (:math:`t = 1`,
:math:`\mu = 1`, :math:`\sigma = 0`). A :class:`PathSchedule` gives :math:`\mu, \sigma`, their time
derivatives, the conditional velocity :math:`u = \mu'\bar x + \sigma'\varepsilon`, the conditional
time-score :math:`\partial_t \log\rho(x\mid\bar x, t)` used by VAPO's Deep-Ritz ("Φ-form") loss, and the
exact conversions between a potential :math:`\Phi` (velocity :math:`+\nabla_x\Phi`) and an energy
:math:`E = -\log\bar\rho_t + \text{const}` of the path's marginal.

Conversions (derived from Tweedie's formula; VAPO method notes A.3(e, f)). With the Wronskian
:math:`W(t) = \mu'\sigma - \sigma'\mu` the exact marginal velocity of a Gaussian path is a gradient,

.. math::
    u^*(x, t) = \frac{\mu'\,x - \sigma W\,\nabla_x E_t(x)}{\mu}, \qquad
    \Phi^*(x, t) = \frac{\mu'\,\lVert x\rVert^2/2 - \sigma W\,E_t(x)}{\mu} + c(t),

and conversely :math:`E_t(x) = \big(\mu'\lVert x\rVert^2/2 - \mu\,\Phi(x, t)\big) / (\sigma W)` up to a
constant in :math:`x`. For the linear ("fmot", rectified-flow) path :math:`\mu = t`, :math:`\sigma = 1-t`,
:math:`W = 1`:

.. math:: E_t(x) = \frac{\lVert x\rVert^2/2 - t\,\Phi(x,t)}{1-t}, \qquad
          u(x,t) = \frac{x - (1-t)\nabla_x E_t(x)}{t}.

References:
    Loo et al., "Variational Potential Flow", arXiv 2407.15238; Loo et al., "Learning Energy-Based
    Generative Models via Potential Flow", arXiv 2504.16262 (TMLR 2025); official code ljun0004/VAPO
    (``scheduling='fmot'``).
    Lipman et al., "Flow Matching for Generative Modeling", arXiv 2210.02747; Liu et al., "Flow Straight
    and Fast", arXiv 2209.03003 (the linear path).
    Albergo & Vanden-Eijnden, "Building Normalizing Flows with Stochastic Interpolants", arXiv 2209.15571
    (the trigonometric/cosine interpolant).
"""

from __future__ import annotations

import abc
import math
from typing import Literal

import torch
from torch import Tensor

__all__ = ["PATHS", "CosinePath", "LinearPath", "PathName", "PathSchedule", "get_path"]

PathName = Literal["linear", "cosine"]


def _bcast(t: Tensor, x: Tensor) -> Tensor:
    """``(B,)`` -> broadcastable against ``(B, *event_shape)``."""
    return t.reshape(-1, *([1] * (x.dim() - 1)))


class PathSchedule(abc.ABC):
    r"""A Gaussian path :math:`x_t = \mu(t)\bar x + \sigma(t)\varepsilon`, :math:`\varepsilon\sim N(0, I)`.

    All methods take ``t`` as a tensor ``(B,)`` (or 0-d) and return tensors of the same shape, except the
    ``(B, *event_shape)`` helpers. Subclasses implement :meth:`mu`, :meth:`sigma`, :meth:`dmu`,
    :meth:`dsigma`; the Wronskian, the conditional velocity and time-score and the potential/energy
    conversions follow from them.

    Examples:
        A quadratic schedule :math:`\mu = t^2`, :math:`\sigma = 1 - t^2`, defined by its four methods:

        >>> import torch
        >>> from ebmcore_vapo import PathSchedule
        >>> class QuadraticPath(PathSchedule):
        ...     name = "quadratic"
        ...     def mu(self, t): return t**2
        ...     def sigma(self, t): return 1 - t**2
        ...     def dmu(self, t): return 2 * t
        ...     def dsigma(self, t): return -2 * t
        >>> path = QuadraticPath()
        >>> t = torch.tensor([0.25, 0.5])
        >>> path.wronskian(t)  # mu' sigma - sigma' mu = 2t
        tensor([0.5000, 1.0000])
        >>> xbar, eps = torch.ones(2, 3), torch.zeros(2, 3)
        >>> x_t, u_t = path.interpolate(xbar, eps, t)
        >>> x_t[:, 0], u_t[:, 0]
        (tensor([0.0625, 0.2500]), tensor([0.5000, 1.0000]))

        Energy and potential are converted exactly, one into the other:

        >>> e, sq = torch.tensor([1.0, -2.0]), torch.tensor([3.0, 0.5])
        >>> phi = path.potential_from_energy(e, sq, t)
        >>> torch.allclose(path.energy_from_potential(phi, sq, t), e)
        True
    """

    name: str

    @abc.abstractmethod
    def mu(self, t: Tensor) -> Tensor: ...

    @abc.abstractmethod
    def sigma(self, t: Tensor) -> Tensor: ...

    @abc.abstractmethod
    def dmu(self, t: Tensor) -> Tensor: ...

    @abc.abstractmethod
    def dsigma(self, t: Tensor) -> Tensor: ...

    def wronskian(self, t: Tensor) -> Tensor:
        r""":math:`W(t) = \mu'\sigma - \sigma'\mu` (1 for the linear path, π/2 for the cosine path)."""
        return self.dmu(t) * self.sigma(t) - self.dsigma(t) * self.mu(t)

    # --- samples of the conditional path ------------------------------------------------------------
    def interpolate(self, xbar: Tensor, eps: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        r"""``(x_t, u_t)`` with :math:`x_t = \mu\bar x + \sigma\varepsilon` and the conditional velocity
        :math:`u_t = \mu'\bar x + \sigma'\varepsilon`; ``xbar``, ``eps``: ``(B, *event)``, ``t``: ``(B,)``."""
        mu, sig = _bcast(self.mu(t), xbar), _bcast(self.sigma(t), xbar)
        dmu, dsig = _bcast(self.dmu(t), xbar), _bcast(self.dsigma(t), xbar)
        return mu * xbar + sig * eps, dmu * xbar + dsig * eps

    def scaled_time_score(self, xbar: Tensor, eps: Tensor, t: Tensor) -> Tensor:
        r""":math:`s = \sigma(t)\,\partial_t\log\rho(x_t\mid\bar x, t)
        = \mu'\,\bar x\cdot\varepsilon + \sigma'(\lVert\varepsilon\rVert^2 - D)`, shape ``(B,)``.

        Multiplying by :math:`\sigma` removes the :math:`1/\sigma` blow-up at :math:`t\to 1`; its conditional
        mean is 0. Linear path: :math:`s = \bar x\cdot\varepsilon - \lVert\varepsilon\rVert^2 + D`.
        """
        d = eps[0].numel()
        dot = (xbar * eps).flatten(1).sum(1)
        sq = eps.flatten(1).pow(2).sum(1)
        return self.dmu(t) * dot + self.dsigma(t) * (sq - d)

    # --- potential <-> energy -----------------------------------------------------------------------
    def energy_from_potential(self, phi: Tensor, sq_norm: Tensor, t: Tensor) -> Tensor:
        r""":math:`E_t = (\mu'\lVert x\rVert^2/2 - \mu\Phi)/(\sigma W)`.

        ``phi``, ``sq_norm`` (``‖x‖²``), ``t``: ``(B,)``."""
        return (self.dmu(t) * 0.5 * sq_norm - self.mu(t) * phi) / (self.sigma(t) * self.wronskian(t))

    def potential_from_energy(self, energy: Tensor, sq_norm: Tensor, t: Tensor) -> Tensor:
        r""":math:`\Phi = (\mu'\lVert x\rVert^2/2 - \sigma W E_t)/\mu` (the exact relation for the optimum)."""
        return (self.dmu(t) * 0.5 * sq_norm - self.sigma(t) * self.wronskian(t) * energy) / self.mu(t)

    def velocity_from_energy_grad(self, x: Tensor, grad_e: Tensor, t: Tensor) -> Tensor:
        r"""Probability-flow velocity of the path given the score :math:`-\nabla_x E_t`:
        :math:`v = (\mu' x - \sigma W\nabla_x E_t)/\mu`."""
        mu, dmu = _bcast(self.mu(t), x), _bcast(self.dmu(t), x)
        sw = _bcast(self.sigma(t) * self.wronskian(t), x)
        return (dmu * x - sw * grad_e) / mu

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class LinearPath(PathSchedule):
    r"""The linear ("fmot", rectified-flow) path of the official VAPO code: :math:`\mu = t`, :math:`\sigma = 1 - t`.

    Its conditional velocity is :math:`u = \bar x - \varepsilon` and its Wronskian is 1.

    References:
        Loo et al., "Learning Energy-Based Generative Models via Potential Flow", arXiv 2504.16262 (official
        code ljun0004/VAPO, ``scheduling='fmot'``); Liu et al., "Flow Straight and Fast", arXiv 2209.03003.

    Examples:
        >>> import torch
        >>> from ebmcore_vapo import LinearPath
        >>> path = LinearPath()
        >>> xbar, eps = torch.randn(4, 2), torch.randn(4, 2)
        >>> t = torch.tensor([0.0, 0.25, 0.5, 1.0])
        >>> x_t, u_t = path.interpolate(xbar, eps, t)
        >>> torch.allclose(x_t, t[:, None] * xbar + (1 - t[:, None]) * eps), torch.allclose(u_t, xbar - eps)
        (True, True)
        >>> torch.equal(x_t[0], eps[0]), torch.equal(x_t[-1], xbar[-1])  # prior at t = 0, data at t = 1
        (True, True)
        >>> path.wronskian(t)
        tensor([1., 1., 1., 1.])
    """

    name = "linear"

    def mu(self, t: Tensor) -> Tensor:
        return t

    def sigma(self, t: Tensor) -> Tensor:
        return 1.0 - t

    def dmu(self, t: Tensor) -> Tensor:
        return torch.ones_like(t)

    def dsigma(self, t: Tensor) -> Tensor:
        return -torch.ones_like(t)

    def wronskian(self, t: Tensor) -> Tensor:
        return torch.ones_like(t)


class CosinePath(PathSchedule):
    r"""The trigonometric (variance-preserving) path :math:`\mu = \sin(\pi t/2)`, :math:`\sigma = \cos(\pi t/2)`.

    Its Wronskian is :math:`W = \pi/2` and :math:`\mu^2 + \sigma^2 = 1`, so a unit-variance data set keeps
    unit variance along the path. Not used by the official code; offered for comparison.

    References:
        Albergo & Vanden-Eijnden, "Building Normalizing Flows with Stochastic Interpolants", arXiv 2209.15571.

    Examples:
        >>> import torch
        >>> from ebmcore_vapo import CosinePath
        >>> path = CosinePath()
        >>> t = torch.linspace(0, 1, 5)
        >>> torch.allclose(path.mu(t) ** 2 + path.sigma(t) ** 2, torch.ones(5))
        True
        >>> path.mu(torch.tensor([0.0, 1.0])), path.wronskian(t[:2])
        (tensor([0., 1.]), tensor([1.5708, 1.5708]))
        >>> xbar, eps = torch.randn(5, 3), torch.randn(5, 3)
        >>> x_t, u_t = path.interpolate(xbar, eps, t)
        >>> tuple(x_t.shape), tuple(path.scaled_time_score(xbar, eps, t).shape)
        ((5, 3), (5,))
    """

    name = "cosine"

    def mu(self, t: Tensor) -> Tensor:
        return torch.sin(0.5 * math.pi * t)

    def sigma(self, t: Tensor) -> Tensor:
        return torch.cos(0.5 * math.pi * t)

    def dmu(self, t: Tensor) -> Tensor:
        return 0.5 * math.pi * torch.cos(0.5 * math.pi * t)

    def dsigma(self, t: Tensor) -> Tensor:
        return -0.5 * math.pi * torch.sin(0.5 * math.pi * t)

    def wronskian(self, t: Tensor) -> Tensor:
        return torch.full_like(t, 0.5 * math.pi)


#: name -> schedule class
PATHS: dict[str, type[PathSchedule]] = {"linear": LinearPath, "cosine": CosinePath}


def get_path(name: str) -> PathSchedule:
    """The schedule registered under ``name`` (``linear`` or ``cosine``).

    Arguments:
        name: a key of ``PATHS``: ``"linear"`` (the official VAPO path) or ``"cosine"``.

    Returns:
        A new :class:`PathSchedule` instance.

    Examples:
        >>> from ebmcore_vapo import LinearPath, get_path
        >>> get_path("cosine")
        CosinePath()
        >>> isinstance(get_path("linear"), LinearPath)
        True
        >>> get_path("quadratic")
        Traceback (most recent call last):
        ...
        ValueError: unknown VAPO path 'quadratic'; available: ['cosine', 'linear']
    """
    try:
        return PATHS[name]()
    except KeyError:
        raise ValueError(f"unknown VAPO path {name!r}; available: {sorted(PATHS)}") from None
