r"""NF-assisted maximum likelihood: the EBM's ML gradient with flow-assisted negatives, and the flow's loss.

Two trainable groups (spec sections 2.2 and 4.1):

* ``energy``: the maximum-likelihood surrogate
  :math:`J(\theta) = \frac1B\sum_b E_\theta(x^+_b) - \frac1N\sum_n E_\theta(\mathrm{sg}\,x^-_n)` (+ the optional
  energy-squared regulariser), whose gradient estimates :math:`-\nabla_\theta \mathbb E_{p_\star}\log p_\theta`
  when the negatives follow :math:`p_\theta`. Negatives are the sampler's chains (``negatives='chains'``,
  default; with :class:`~ebmcore_nfmle.sampler.FlowMCMCSampler` the persistent IMH + MALA chains) or a
  self-normalised importance-sampling average over flow samples (``negatives='snis'``: weights
  :math:`\bar w_m \propto e^{-E(y_m)}/q(y_m)`, biased :math:`O(1/M)`, an ablation; the ESS is logged).
* ``flow``: keep the flow on the *current EBM*, the mix
  :math:`\lambda L_{\rm fwd} + (1 - \lambda) L_{\rm rev}` with :math:`L_{\rm fwd} = -\frac1N\sum_n\log q_\alpha(x^-_n)`
  (forward KL on the chain states) and :math:`L_{\rm rev} = \mathbb E_{z}[\log q_\alpha(T_\alpha z) + E_\theta(T_\alpha z)]`
  (reverse KL, reparameterised; the energy's weights get no gradient from it; with ``snis`` negatives the
  forward KL is the self-normalised weighted average over the flow samples), plus an optional data term
  :math:`-\frac1B\sum_b \log q_\alpha(x^+_b)`. Spec default :math:`\lambda = 0.8`; :math:`\lambda = 1` is the
  PNAS 2022 (forward-only) choice. The flow's loss changes how well the sampler mixes, never its target.

Flow-tilted model (``model='tilted'``, spec 4.3): :math:`p_{\theta,\alpha}(x) \propto q_\alpha(x) e^{-E_\theta(x)}`,
the EBM a correction to the flow density. We take the "flow backbone" form: the flow is fitted to the data
by maximum likelihood (group ``flow``: :math:`-\frac1B\sum_b\log q_\alpha(x^+_b)`), and :math:`\theta` gets the exact
ML gradient of the tilted model for the current flow, with negatives from the tilted model (the sampler
runs on :math:`E_\theta - \log q_\alpha`, so the IMH weight reduces to :math:`e^{-E_\theta}`). The run's model
density is the tilted one: :meth:`NFMLEObjective.model_energy` returns :math:`E_\theta - \log q_\alpha`, which
generation, evaluation and plots use. Why not the joint ML gradient for :math:`\alpha`: see docs/nfmle.md.

The order within one trainer step: negatives from the current :math:`(\theta, \alpha)`, then both losses from the
same parameters, then both groups step (the spec's pseudocode updates the flow after the EBM step; with
one step per iteration the flow lags the EBM by one update either way).

References:
    Grenioux, Moulines & Gabrié, "Balanced training of energy-based models with adaptive flow sampling",
    arXiv 2306.00684. Gabrié, Rotskoff & Vanden-Eijnden, PNAS 2022, arXiv 2105.12603. Nijkamp et al., "MCMC
    should mix", ICLR 2022 (flow-backbone EBMs).
"""

from __future__ import annotations

from typing import Literal

import attrs
import torch
from attrs import validators as v
from torch import Tensor, nn

from ebmcore import (
    Batch,
    BuildContext,
    DensityInitializer,
    Energy,
    Initializer,
    Objective,
    ObjectiveConfig,
    ObjectiveOutput,
    Parts,
    Sampler,
    TiltedEnergy,
    sampling_mode,
)

__all__ = ["NFMLEObjective", "NFMLEObjectiveConfig", "TiltedEnergy", "build_nfmle"]  # TiltedEnergy: core's, re-exported


@attrs.frozen(kw_only=True)
class NFMLEObjectiveConfig(ObjectiveConfig):
    """Config of :class:`NFMLEObjective`.

    Attributes:
        forward_kl_weight: :math:`\\lambda` of the flow loss (1: forward KL on chains only, 0: reverse only).
        data_weight: weight of the flow's data term :math:`-\\log q(x^+)` (warm start; 0 by default).
        n_reverse: reverse-KL samples per step (``None``: the batch size).
        negatives: ``chains`` (the sampler's states) or ``snis`` (importance-weighted flow samples).
        n_snis: flow samples of the ``snis`` estimator (``None``: the batch size).
        model: ``plain`` (:math:`p \\propto e^{-E}`) or ``tilted`` (:math:`p \\propto q\\,e^{-E}`).
        alpha: energy-squared regulariser :math:`\\alpha(E(x^+)^2 + E(x^-)^2)`.
        n_negatives: chains used as negatives per step (``None``: the batch size).

    Examples:
        >>> from ebmcore_nfmle import NFMLEObjectiveConfig
        >>> cfg = NFMLEObjectiveConfig(negatives="snis", n_snis=128)
        >>> cfg.forward_kl_weight, cfg.model, cfg.as_kwargs()["n_snis"]
        (0.8, 'plain', 128)
        >>> NFMLEObjectiveConfig(forward_kl_weight=1.5)
        Traceback (most recent call last):
        ...
        ValueError: 'forward_kl_weight' must be <= 1: 1.5
    """

    forward_kl_weight: float = attrs.field(default=0.8, validator=[v.ge(0), v.le(1)])
    data_weight: float = attrs.field(default=0.0, validator=v.ge(0))
    n_reverse: int | None = attrs.field(default=None, validator=v.optional(v.ge(1)))
    negatives: Literal["chains", "snis"] = attrs.field(default="chains", validator=v.in_(("chains", "snis")))
    n_snis: int | None = attrs.field(default=None, validator=v.optional(v.ge(2)))
    model: Literal["plain", "tilted"] = attrs.field(default="plain", validator=v.in_(("plain", "tilted")))
    alpha: float = attrs.field(default=0.0, validator=v.ge(0))
    n_negatives: int | None = attrs.field(default=None, validator=v.optional(v.ge(1)))


class NFMLEObjective(Objective):
    r"""NF-assisted ML training of an EBM: groups ``energy`` and (when the flow has weights) ``flow``.

    See the module docstring for the losses. Works with any sampler (the flow-assisted one is the point of
    the method, but PCD or short-run negatives plug in the same way) and any
    :class:`~ebmcore.abstract.DensityInitializer` (a flow; core's fixed Gaussian gives an IMH baseline
    with no flow group).

    Metrics: ``energy/pos``, ``energy/neg``, ``cd_gap``, ``flow/fwd_nll`` (:math:`L_{\rm fwd}`),
    ``flow/reverse`` (:math:`L_{\rm rev}`), ``flow/data_nll``, ``snis/ess`` and the sampler's stats under
    ``sampler/`` (``global_acceptance``: the IMH acceptance rate, the flow-quality diagnostic).

    References:
        Grenioux, Moulines & Gabrié, "Balanced Training of Energy-Based Models with Adaptive Flow
        Sampling", ICML 2023 SPIGM workshop, arXiv 2306.00684.
        Gabrié, Rotskoff & Vanden-Eijnden, "Adaptive Monte Carlo augmented with normalizing flows",
        PNAS 2022, arXiv 2105.12603 (the forward-KL flow loss).

    Arguments:
        energy: :math:`E_\theta`, ``(B, *event_shape) -> (B,)``, unconditional.
        sampler: produces negatives via ``generate(target, flow, n)``.
        flow: the density initializer :math:`q_\alpha`.
        forward_kl_weight, data_weight, n_reverse, negatives, n_snis, model, alpha, n_negatives: see
            :class:`NFMLEObjectiveConfig`.

    Examples:
        >>> import torch
        >>> from ebmcore import Batch
        >>> from ebmcore.components.energies import MLPEnergy
        >>> from ebmcore_nfmle import FlowMCMCSampler, NFMLEObjective, RealNVPFlow
        >>> energy = MLPEnergy((2,), hidden=(16,))
        >>> flow = RealNVPFlow((2,), n_layers=2, hidden=(16,))
        >>> sampler = FlowMCMCSampler((2,), n_rounds=1, local_steps=2, n_chains=8)
        >>> objective = NFMLEObjective(energy, sampler, flow)
        >>> out = objective(Batch(torch.randn(8, 2)), 0)
        >>> sorted(out.losses), sorted(objective.parameter_groups())
        (['energy', 'flow'], ['energy', 'flow'])
        >>> sorted(k for k in out.metrics if not k.startswith("sampler/"))
        ['cd_gap', 'energy/neg', 'energy/pos', 'flow/fwd_nll', 'flow/reverse']
        >>> torch.allclose(out.metrics["cd_gap"], out.metrics["energy/pos"] - out.metrics["energy/neg"])
        True

        The tilted model :math:`p \propto q\,e^{-E}` samples and evaluates :math:`E - \log q`:

        >>> tilted = NFMLEObjective(energy, sampler, flow, model="tilted")
        >>> x = torch.randn(3, 2)
        >>> torch.allclose(tilted.model_energy()(x), energy(x) - flow.log_prob(x))
        True
    """

    def __init__(
        self,
        energy: Energy,
        sampler: Sampler,
        flow: Initializer,
        *,
        forward_kl_weight: float = 0.8,
        data_weight: float = 0.0,
        n_reverse: int | None = None,
        negatives: str = "chains",
        n_snis: int | None = None,
        model: str = "plain",
        alpha: float = 0.0,
        n_negatives: int | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(flow, DensityInitializer):
            raise TypeError(
                f"nfmle needs an initializer with a density (log_prob, sample_with_log_prob), e.g. 'realnvp'; "
                f"got {type(flow).__name__}"
            )
        if negatives not in ("chains", "snis") or model not in ("plain", "tilted"):
            raise ValueError(f"negatives must be chains|snis and model plain|tilted, got {negatives!r}, {model!r}")
        if energy.conditions:
            raise TypeError(f"nfmle trains unconditional energies; this one accepts {sorted(energy.conditions)}")
        self.parts = Parts(energy, sampler, flow)
        self.tilted = model == "tilted"
        # the sampler's target; kept in an attrs holder so its weights are not registered twice
        self._target = Parts(TiltedEnergy(energy, flow) if self.tilted else energy)
        self.forward_kl_weight = float(forward_kl_weight)
        self.data_weight = float(data_weight)
        self.n_reverse = n_reverse
        self.negatives = negatives
        self.n_snis = n_snis
        self.alpha = float(alpha)
        self.n_negatives = n_negatives

    @property
    def target(self) -> nn.Module:
        """The energy the sampler targets: :math:`E_\\theta`, or :math:`E_\\theta - \\log q_\\alpha` (tilted)."""
        return self._target.energy  # type: ignore[return-value]

    def model_energy(self) -> nn.Module | None:
        return self.target if self.tilted else None

    def _flow_params(self) -> list[nn.Parameter]:
        flow = self.parts.initializer
        assert flow is not None
        return [p for p in flow.parameters() if p.requires_grad]

    def forward(self, batch: Batch, step: int) -> ObjectiveOutput:
        energy, sampler, flow = self.parts.energy, self.parts.sampler, self.parts.initializer
        assert sampler is not None and flow is not None and isinstance(energy, nn.Module)
        b = batch.x.shape[0]
        metrics: dict[str, Tensor] = {}
        x_neg: Tensor | None = None
        w: Tensor | None = None
        if self.negatives == "chains":
            n = self.n_negatives or b
            with sampling_mode(energy, flow):
                result = sampler.generate(self.target, flow, n, None)
            flow.observe(result.x)
            x_neg = result.x.detach()
            e = energy(torch.cat([batch.x, x_neg]))
            e_pos, e_neg = e[:b], e[b:]
            neg_term = e_neg.mean()
            for key, val in result.stats.items():
                metrics[f"sampler/{key}"] = (
                    val.detach() if isinstance(val, Tensor) else torch.tensor(float(val), device=e.device)
                )
        else:
            m = self.n_snis or b
            with torch.no_grad(), sampling_mode(flow):
                y, lq_y = flow.sample_with_log_prob(m)
            e = energy(torch.cat([batch.x, y.detach()]))
            e_pos, e_neg = e[:b], e[b:]
            logw = -e_neg.detach() if self.tilted else -e_neg.detach() - lq_y
            w = torch.softmax(logw.float(), 0).to(e.dtype)
            neg_term = (w * e_neg).sum()
            x_neg = y.detach()
            metrics["snis/ess"] = (1.0 / w.pow(2).sum() / m).detach()
        cd = e_pos.mean() - neg_term
        loss_e = cd + self.alpha * (e_pos.pow(2).mean() + e_neg.pow(2).mean()) if self.alpha else cd
        metrics.update({"energy/pos": e_pos.detach().mean(), "energy/neg": e_neg.detach().mean(), "cd_gap": cd.detach()})
        losses = {"energy": loss_e}
        if self._flow_params():
            assert x_neg is not None
            losses["flow"] = self._flow_loss(batch, x_neg, w, metrics)
        return ObjectiveOutput(losses, metrics)

    def _flow_loss(self, batch: Batch, x_neg: Tensor, w: Tensor | None, metrics: dict[str, Tensor]) -> Tensor:
        """The flow group's loss; ``x_neg`` are the negatives, ``w`` their self-normalised weights (snis)."""
        energy, flow = self.parts.energy, self.parts.initializer
        assert isinstance(flow, DensityInitializer) and isinstance(energy, nn.Module)
        if self.tilted:
            nll = -flow.log_prob(batch.x).mean()
            metrics["flow/data_nll"] = nll.detach()
            return nll
        lam = self.forward_kl_weight
        loss = batch.x.new_zeros(())
        if lam > 0:
            lq_neg = flow.log_prob(x_neg)
            fwd = -lq_neg.mean() if w is None else -(w.detach() * lq_neg).sum()  # snis: weighted forward KL
            metrics["flow/fwd_nll"] = fwd.detach()
            loss = loss + lam * fwd
        if lam < 1:
            y, lq_y = flow.sample_with_log_prob(self.n_reverse or batch.x.shape[0])
            with sampling_mode(energy):  # the energy's weights get no gradient from the flow's loss
                rev = (lq_y + energy(y)).mean()
            metrics["flow/reverse"] = rev.detach()
            loss = loss + (1 - lam) * rev
        if self.data_weight:
            nll = -flow.log_prob(batch.x).mean()
            metrics["flow/data_nll"] = nll.detach()
            loss = loss + self.data_weight * nll
        return loss

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        energy = self.parts.energy
        groups = {"energy": list(energy.parameters()) if isinstance(energy, nn.Module) else []}
        flow_params = self._flow_params()
        if flow_params:
            groups["flow"] = flow_params
        return groups


def build_nfmle(cfg: NFMLEObjectiveConfig, ctx: BuildContext) -> NFMLEObjective:
    if ctx.energy is None or ctx.sampler is None or ctx.initializer is None:
        raise ValueError("nfmle needs an energy, a sampler and a density initializer (a flow)")
    return NFMLEObjective(ctx.energy, ctx.sampler, ctx.initializer, **cfg.as_kwargs())
