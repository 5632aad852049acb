r"""The VAPO energy loss (Deep-Ritz form of the density-weighted Poisson equation).

For each time :math:`t` the potential flow :math:`\dot x = \nabla_x\Phi(x,t)` transports the prior along the
path :math:`\bar\rho_t` iff :math:`-\nabla\cdot(\bar\rho_t\nabla\Phi) = \partial_t\bar\rho_t`, the
Euler-Lagrange equation of

.. math:: J_t(\Phi) = \mathbb E_{\bar x\sim p_d}\,\mathbb E_{x\sim\rho(\cdot\mid\bar x, t)}
          \big[\tfrac12\lVert\nabla_x\Phi\rVert^2 - \Phi\,\partial_t\log\rho(x\mid\bar x, t)\big].

Integration by parts gives the pathwise, low-variance equivalent
:math:`J_t = \mathbb E[\tfrac12\lVert\nabla_x\Phi\rVert^2 - \nabla_x\Phi\cdot u(x\mid\bar x, t)]`, i.e.
conditional flow matching with a gradient-field velocity (method notes A.3(c, d), A.4.1). Two estimators:

* ``form="grad"`` (default): :math:`L = \mathrm{mean}_i\,[\tfrac12\lVert g_i\rVert^2 - c\,g_i\cdot u_i]`,
  :math:`g_i = \nabla_x\Phi_\theta(x_i, t_i)` (kept in the graph: ``create_graph=True``).
* ``form="phi"``:
  :math:`L = \mathrm{mean}_i\,[\sigma_i^2\,\tfrac12\lVert g_i\rVert^2 - c\,\sigma_i\,\Phi_\theta(x_i, t_i)\,s_i]`
  with the scaled time-score :math:`s_i = \sigma\,\partial_t\log\rho` (linear path:
  :math:`\bar x\cdot\varepsilon - \lVert\varepsilon\rVert^2 + D`), centred over the batch; the weight
  :math:`\sigma^2 = (1-t)^2` removes the :math:`1/(1-t)` blow-up. Unbiased but high-variance
  (score-function estimator).

:math:`c` is ``cross_sign`` (1; -1 is a diagnostic that must break training). Optional
:math:`\lambda_t\,\mathbb E[(\partial_t\Phi)^2]` (``time_penalty``, the official code's 0.1 "temb" term).
``x̄``, ``ε``, ``t``, ``u`` and ``s`` are constants; gradients reach θ through :math:`\Phi` and
:math:`\nabla_x\Phi` (second-order autograd).

The energy may be any ebmcore energy: :class:`~ebmcore_vapo.energies.HasPotential` energies give
:math:`\Phi` directly; others are converted with the path's exact relation
:math:`\Phi = (\mu'\lVert x\rVert^2/2 - \sigma W E_t)/\mu` (linear: :math:`(\lVert x\rVert^2/2 - (1-t)E)/t`),
which turns the ∇Φ-form into denoising score matching with weight :math:`((1-t)/t)^2`. An energy
without ``t`` in its ``conditions`` is used at every ``t`` (it can only fit the path approximately).

References:
    Loo et al., arXiv 2407.15238 and arXiv 2504.16262 (VAPO / VAPO Flow Bayes); E & Yu, "The Deep Ritz
    method", arXiv 1710.00211; Lipman et al., arXiv 2210.02747 (conditional flow matching).
"""

from __future__ import annotations

from typing import Literal

import attrs
import torch
from attrs import validators as v
from torch import nn

from ebmcore import Batch, BuildContext, Energy, Objective, ObjectiveConfig, ObjectiveOutput, Parts
from ebmcore_vapo.energies import potential_of
from ebmcore_vapo.paths import PATHS, PathSchedule, get_path

__all__ = ["VAPOObjective", "VAPOObjectiveConfig", "build_vapo_objective"]


def _check_t_min(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 < value < 0.5:
        raise ValueError(f"'{attribute.name}' must lie in (0, 0.5), got {value}")


@attrs.frozen(kw_only=True)
class VAPOObjectiveConfig(ObjectiveConfig):
    r"""Config of :class:`VAPOObjective`.

    Attributes:
        form: ``grad`` (pathwise :math:`\nabla\Phi\cdot u` cross term, recommended) or ``phi`` (Deep-Ritz
            :math:`\Phi\times` time-score cross term, weight :math:`\sigma^2`).
        t_min: times are drawn uniformly in ``[t_min, 1 - t_min]``.
        path: probability path, ``linear`` (fmot, the official code's) or ``cosine``.
        time_penalty: :math:`\lambda_t` of :math:`\lambda_t\,\mathbb E[(\partial_t\Phi)^2]` (0: off).
        cross_sign: sign of the cross term. **Diagnostic only**: -1 flips it, which must make training
            fail (samples drift away from the data); keep 1.
        normalize_by_dim: divide the loss by the data dimension ``D`` (the official code's per-dimension
            means); only rescales the loss (and interacts with gradient clipping). Default ``False``
            (the setting of the method notes' toy measurements); the CIFAR-10 recipe turns it on.
        center_time_score: centre the time-score over the batch (``phi`` form; unbiased, lower variance).

    Examples:
        >>> from ebmcore_vapo import VAPOMLPEnergy, VAPOObjective, VAPOObjectiveConfig
        >>> cfg = VAPOObjectiveConfig(form="phi", time_penalty=0.1)
        >>> cfg.path, cfg.t_min, cfg.cross_sign
        ('linear', 1e-05, 1.0)
        >>> VAPOObjective(VAPOMLPEnergy((2,), hidden=(16,)), **cfg.as_kwargs())
        VAPOObjective(form=phi, path=linear, t_min=1e-05, cross_sign=1.0)
        >>> VAPOObjectiveConfig(t_min=0.5)
        Traceback (most recent call last):
        ...
        ValueError: 't_min' must lie in (0, 0.5), got 0.5
    """

    form: Literal["grad", "phi"] = attrs.field(default="grad", validator=v.in_(("grad", "phi")))
    t_min: float = attrs.field(default=1e-5, validator=_check_t_min)
    path: Literal["linear", "cosine"] = attrs.field(default="linear", validator=v.in_(tuple(PATHS)))
    time_penalty: float = attrs.field(default=0.0, validator=v.ge(0))
    cross_sign: float = attrs.field(default=1.0, validator=v.in_((1.0, -1.0)))
    normalize_by_dim: bool = False
    center_time_score: bool = True


class VAPOObjective(Objective):
    r"""VAPO's energy loss (see the module docstring); trains one group, ``energy``.

    ``forward(batch, step)``: ``batch.x`` ``(B, *event_shape)`` data :math:`\bar x`. Returns
    ``ObjectiveOutput(losses={"energy": scalar}, metrics=...)`` with metrics ``vapo/sq_norm``
    (:math:`\mathrm{mean}\,\tfrac12 w\lVert g\rVert^2`), ``vapo/cross`` (mean cross term, as subtracted),
    ``vapo/grad_norm`` (mean :math:`\lVert\nabla_x\Phi\rVert`), ``vapo/fm_residual`` (mean
    :math:`\lVert\nabla_x\Phi - u\rVert^2`, the flow-matching error, both forms) and
    ``vapo/time_penalty`` when on.

    References:
        Loo, Adeline, Pal, Baskaran, Ting, Phan, "Variational Potential Flow: A Novel Probabilistic Framework
        for Energy-Based Generative Modelling", arXiv 2407.15238; "Learning Energy-Based Generative Models
        via Potential Flow: A Variational Principle Approach to Probability Density Homotopy Matching",
        TMLR 2025, arXiv 2504.16262. E & Yu, "The Deep Ritz method", arXiv 1710.00211.

    Arguments:
        energy: a :class:`~ebmcore_vapo.energies.HasPotential` energy (``vapo_mlp``, ``vapo_unet``) or any
            energy callable (converted, see the module docstring).
        form, t_min, path, time_penalty, cross_sign, normalize_by_dim, center_time_score: see
            :class:`VAPOObjectiveConfig`.

    Examples:
        >>> import torch
        >>> from ebmcore import Batch
        >>> from ebmcore_vapo import VAPOMLPEnergy, VAPOObjective
        >>> energy = VAPOMLPEnergy((2,), hidden=(16, 16), fourier_dim=8)
        >>> objective = VAPOObjective(energy)
        >>> out = objective(Batch(torch.randn(8, 2)), 0)
        >>> sorted(out.losses), tuple(out.losses["energy"].shape)
        (['energy'], ())
        >>> sorted(out.metrics)
        ['vapo/cross', 'vapo/fm_residual', 'vapo/grad_norm', 'vapo/sq_norm']
        >>> out.losses["energy"].backward()  # second-order autograd reaches the weights
        >>> tuple(energy.body[0].weight.grad.shape)
        (16, 10)
        >>> energy.out.bias.grad is None  # grad form: Phi enters only through its x-gradient
        True

        A zero potential has zero loss; its flow-matching residual is the mean squared velocity
        :math:`\lVert u\rVert^2`:

        >>> zero = VAPOObjective(VAPOMLPEnergy((2,), hidden=(16,), zero_init_output=True))
        >>> out = zero(Batch(torch.randn(8, 2)), 0)
        >>> float(out.losses["energy"].detach()), bool(out.metrics["vapo/fm_residual"] > 0)
        (0.0, True)
    """

    def __init__(
        self,
        energy: Energy,
        *,
        form: str = "grad",
        t_min: float = 1e-5,
        path: str | PathSchedule = "linear",
        time_penalty: float = 0.0,
        cross_sign: float = 1.0,
        normalize_by_dim: bool = False,
        center_time_score: bool = True,
    ) -> None:
        super().__init__()
        if form not in ("grad", "phi"):
            raise ValueError(f"form must be 'grad' or 'phi', got {form!r}")
        self.parts = Parts(energy)
        self.form = form
        self.t_min = float(t_min)
        self.path = get_path(path) if isinstance(path, str) else path
        self.time_penalty = float(time_penalty)
        self.cross_sign = float(cross_sign)
        self.normalize_by_dim = bool(normalize_by_dim)
        self.center_time_score = bool(center_time_score)

    def forward(self, batch: Batch, step: int) -> ObjectiveOutput:
        energy = self.parts.energy
        xbar = batch.x
        b, d = xbar.shape[0], xbar[0].numel()
        cond = {k: val for k, val in batch.cond_for(energy).items() if k != "t"}
        t = self.t_min + (1.0 - 2.0 * self.t_min) * torch.rand(b, device=xbar.device, dtype=xbar.dtype)
        eps = torch.randn_like(xbar)
        x, u = self.path.interpolate(xbar, eps, t)
        x = x.detach().requires_grad_(True)
        t_in = t.detach().requires_grad_(True) if self.time_penalty else t
        phi = potential_of(energy, x, t_in, cond, path=self.path)
        if phi.shape != (b,):
            raise ValueError(f"the potential must have shape ({b},), got {tuple(phi.shape)}")
        inputs = [x, t_in] if self.time_penalty else [x]
        grads = torch.autograd.grad(phi.sum(), inputs, create_graph=True)
        g = grads[0]
        gf, uf = g.flatten(1), u.flatten(1)
        sq = 0.5 * gf.pow(2).sum(1)
        if self.form == "grad":
            cross = (gf * uf).sum(1)
            per = sq - self.cross_sign * cross
        else:
            sig = self.path.sigma(t)
            s = self.path.scaled_time_score(xbar, eps, t)
            if self.center_time_score:
                s = s - s.mean()
            sq = sig.pow(2) * sq
            cross = sig * phi * s.detach()
            per = sq - self.cross_sign * cross
        loss = per.mean()
        metrics = {
            "vapo/sq_norm": sq.detach().mean(),
            "vapo/cross": cross.detach().mean(),
            "vapo/grad_norm": gf.detach().norm(dim=1).mean(),
            "vapo/fm_residual": (gf.detach() - uf).pow(2).sum(1).mean(),
        }
        if self.time_penalty:
            pen = grads[1].pow(2).mean()
            loss = loss + self.time_penalty * pen
            metrics["vapo/time_penalty"] = pen.detach()
        if self.normalize_by_dim:
            loss = loss / d
        return ObjectiveOutput({"energy": loss}, metrics)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        energy = self.parts.energy
        return {"energy": list(energy.parameters()) if isinstance(energy, nn.Module) else []}

    def extra_repr(self) -> str:
        return f"form={self.form}, path={self.path.name}, t_min={self.t_min}, cross_sign={self.cross_sign}"


def build_vapo_objective(cfg: VAPOObjectiveConfig, ctx: BuildContext) -> VAPOObjective:
    """Build a :class:`VAPOObjective` on ``ctx.energy``; refuses an energy whose read-out path differs."""
    if ctx.energy is None:
        raise ValueError("the vapo objective needs an energy")
    energy_path = getattr(getattr(ctx.energy, "path", None), "name", None)
    if energy_path is not None and energy_path != cfg.path:
        raise ValueError(f"energy path {energy_path!r} differs from the vapo objective's path {cfg.path!r}")
    return VAPOObjective(ctx.energy, **cfg.as_kwargs())

