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
    :meth:`dsigma`.
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
    r"""The linear ("fmot", rectified-flow) path of the official VAPO code: :math:`\mu = t`,
    :math:`\sigma = 1 - t`, :math:`u = \bar x - \varepsilon`."""

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
    r"""The trigonometric (variance-preserving) path :math:`\mu = \sin(\pi t/2)`,
    :math:`\sigma = \cos(\pi t/2)`, :math:`W = \pi/2`. Not used by the official code; offered for
    comparison."""

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
    """The schedule registered under ``name`` (``linear`` or ``cosine``)."""
    try:
        return PATHS[name]()
    except KeyError:
        raise ValueError(f"unknown VAPO path {name!r}; available: {sorted(PATHS)}") from None
