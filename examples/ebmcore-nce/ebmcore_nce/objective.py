r"""Noise-contrastive estimation (NCE): train an energy by telling data from noise.

The model is :math:`\log p_\theta(x) = -E_\theta(x) - c` with a learned scalar log-normaliser :math:`c`.
Noise :math:`y \sim q` comes from the run's initializer, which must have a tractable density
(:class:`ebmcore.DensityInitializer`). With :math:`G(x) = \log p_\theta(x) - \log q(x)` and
:math:`\nu = M / B` noise samples per data point, logistic regression of data against noise minimises

.. math::
    L(\theta, c) = \frac{1}{B}\Big[\sum_{i=1}^{B} \mathrm{softplus}\big(-(G(x_i) - \log\nu)\big)
                 + \sum_{j=1}^{M} \mathrm{softplus}\big(G(y_j) - \log\nu\big)\Big],

whose minimiser over all densities is :math:`p_\theta = p_\text{data}` with :math:`c = \log Z_\theta`
(self-normalisation). No MCMC runs during training.

References:
    Gutmann & Hyvärinen, "Noise-contrastive estimation: A new estimation principle for unnormalized
    statistical models", AISTATS 2010 (PMLR 9:297-304).
    Song & Kingma, "How to train your energy-based models", arXiv 2101.03288 (NCE among EBM training
    methods).
"""

from __future__ import annotations

import math

import attrs
import torch
from attrs import validators as v
from torch import Tensor, nn
from torch.nn import functional as F

from ebmcore import (
    Batch,
    BuildContext,
    DensityInitializer,
    Energy,
    EnergyFn,
    Initializer,
    Objective,
    ObjectiveConfig,
    ObjectiveOutput,
    Parts,
)

__all__ = ["NCEObjective", "NCEObjectiveConfig", "build_nce", "nce_loss"]


def nce_loss(log_ratio_data: Tensor, log_ratio_noise: Tensor) -> Tensor:
    r"""The NCE loss from the log density ratios of data and noise points.

    With :math:`G = \log p_\text{model} - \log q` and :math:`\nu = M / B`, the loss is
    :math:`\frac{1}{B}[\sum_i \mathrm{softplus}(\log\nu - G(x_i)) + \sum_j \mathrm{softplus}(G(y_j) - \log\nu)]`,
    the negative of Gutmann & Hyvärinen's :math:`J_T` (their eq. 3 times :math:`-1`): cross-entropy of
    the classifier :math:`h = \sigma(G - \log\nu)` that labels data 1 and noise 0.

    Arguments:
        log_ratio_data: :math:`G(x_i)` of the ``B`` data points, shape ``(B,)``.
        log_ratio_noise: :math:`G(y_j)` of the ``M`` noise points, shape ``(M,)``.

    Returns:
        The loss, a 0-dim tensor (differentiable in both inputs).

    Examples:
        >>> import math
        >>> import torch
        >>> from ebmcore_nce import nce_loss
        >>> # a model equal to the noise (G = 0) cannot tell them apart: 2 log 2 for one noise per point
        >>> round(float(nce_loss(torch.zeros(4), torch.zeros(4))), 4), round(2 * math.log(2), 4)
        (1.3863, 1.3863)
        >>> # raising G on data and lowering it on noise lowers the loss
        >>> bool(nce_loss(torch.full((4,), 3.0), torch.full((4,), -3.0)) < 0.1)
        True
    """
    if log_ratio_data.dim() != 1 or log_ratio_noise.dim() != 1 or not len(log_ratio_data) or not len(log_ratio_noise):
        raise ValueError(
            f"nce_loss expects non-empty (B,) and (M,) tensors, got {tuple(log_ratio_data.shape)} "
            f"and {tuple(log_ratio_noise.shape)}"
        )
    b, m = log_ratio_data.shape[0], log_ratio_noise.shape[0]
    log_nu = math.log(m / b)
    return (F.softplus(log_nu - log_ratio_data).sum() + F.softplus(log_ratio_noise - log_nu).sum()) / b


@attrs.frozen(kw_only=True)
class NCEObjectiveConfig(ObjectiveConfig):
    """Config of :class:`NCEObjective` (registered as objective ``nce``).

    Attributes:
        noise_ratio: :math:`\\nu`, noise samples per data point (``round(noise_ratio * B)`` per step, at
            least 1).
        init_log_normalizer: starting value of the learned log-normaliser :math:`c`.

    Examples:
        >>> from ebmcore_nce import NCEObjectiveConfig
        >>> NCEObjectiveConfig(noise_ratio=4.0).as_kwargs()
        {'noise_ratio': 4.0, 'init_log_normalizer': 0.0}
        >>> NCEObjectiveConfig(noise_ratio=0.0)
        Traceback (most recent call last):
        ...
        ValueError: 'noise_ratio' must be > 0: 0.0
    """

    noise_ratio: float = attrs.field(default=1.0, validator=v.gt(0))
    init_log_normalizer: float = 0.0


class NCEObjective(Objective):
    r"""Noise-contrastive estimation of an energy with a learned log-normaliser :math:`c`.

    Each step draws :math:`M = \mathrm{round}(\nu B)` noise points and their log-densities in one pass,
    ``initializer.sample_with_log_prob(M)``, evaluates ``initializer.log_prob`` on the ``B`` data points
    (both without gradient: the noise is fixed), runs the energy once on data and noise together and
    returns :func:`nce_loss` of :math:`G = -E_\theta - c - \log q`. It trains one group, ``energy``: the
    energy's parameters and :math:`c` (a parameter of this objective, saved in checkpoints). The sampler
    is not used in training; it only generates samples from the trained energy.

    The energy must be unconditional (:math:`c` and the noise do not depend on labels); labels in the
    batch are ignored.

    References:
        Gutmann & Hyvärinen, "Noise-contrastive estimation: A new estimation principle for unnormalized
        statistical models", AISTATS 2010 (no arXiv version).
        Song & Kingma, "How to train your energy-based models", arXiv 2101.03288 (NCE for EBMs).

    Arguments:
        energy: the energy, ``(B, *event_shape) -> (B,)``.
        initializer: the noise distribution, a :class:`ebmcore.DensityInitializer` (``log_prob``
            ``(B, *event_shape) -> (B,)`` and ``sample_with_log_prob(n)``), e.g. core's ``gaussian``.
        noise_ratio: :math:`\nu > 0`, noise samples per data point.
        init_log_normalizer: starting :math:`c`.
        device, dtype: of :math:`c` (default: torch's default device and dtype).

    Forward returns:
        :class:`ebmcore.ObjectiveOutput` with ``losses = {"energy": loss}`` (0-dim) and detached metrics
        ``nce/log_normalizer`` (:math:`c`), ``nce/accuracy`` (share of data and noise points the
        classifier :math:`\sigma(G - \log\nu)` labels correctly), ``energy/data`` and ``energy/noise``
        (mean energies).

    Examples:
        >>> import torch
        >>> from ebmcore import Batch
        >>> from ebmcore.components.energies import MLPEnergy
        >>> from ebmcore.components.initializers import GaussianInitializer, UniformInitializer
        >>> from ebmcore_nce import NCEObjective
        >>> energy = MLPEnergy((2,), hidden=(16,))
        >>> objective = NCEObjective(energy, GaussianInitializer((2,), std=2.0), noise_ratio=2.0)
        >>> out = objective(Batch(torch.randn(8, 2)), step=0)
        >>> sorted(out.losses), tuple(out.losses["energy"].shape)
        (['energy'], ())
        >>> sorted(out.metrics)
        ['energy/data', 'energy/noise', 'nce/accuracy', 'nce/log_normalizer']
        >>> [name for name, _ in objective.named_parameters()]  # c is the objective's own parameter
        ['log_normalizer']
        >>> len(objective.parameter_groups()["energy"]) == len(list(energy.parameters())) + 1
        True
        >>> NCEObjective(energy, UniformInitializer((2,)))
        Traceback (most recent call last):
        ...
        TypeError: nce draws its noise from the run's initializer, which must have a tractable density ...
    """

    log_normalizer: nn.Parameter

    def __init__(
        self,
        energy: Energy | EnergyFn,
        initializer: Initializer,
        *,
        noise_ratio: float = 1.0,
        init_log_normalizer: float = 0.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(initializer, DensityInitializer):
            raise TypeError(
                "nce draws its noise from the run's initializer, which must have a tractable density "
                "(an ebmcore.DensityInitializer with log_prob and sample_with_log_prob); "
                f"{type(initializer).__name__} has none. Use core's 'gaussian' initializer or a flow."
            )
        conditions = getattr(energy, "conditions", frozenset())
        if conditions:
            raise TypeError(f"nce trains unconditional energies; this energy takes condition(s) {sorted(conditions)}")
        if not noise_ratio > 0:
            raise ValueError(f"noise_ratio must be > 0, got {noise_ratio}")
        self.parts = Parts(energy, None, initializer)
        self.noise_ratio = float(noise_ratio)
        self.log_normalizer = nn.Parameter(
            torch.tensor(float(init_log_normalizer), device=device, dtype=dtype or torch.get_default_dtype())
        )

    def forward(self, batch: Batch, step: int) -> ObjectiveOutput:
        energy = self.parts.energy
        noise: DensityInitializer = self.parts.initializer  # type: ignore[assignment]
        x = batch.x
        b = x.shape[0]
        m = max(1, round(self.noise_ratio * b))
        with torch.no_grad():  # the noise distribution is fixed: no gradient into a learnable initializer
            y, log_q_noise = noise.sample_with_log_prob(m)
            log_q_data = noise.log_prob(x)
        e = energy(torch.cat([x, y.to(device=x.device, dtype=x.dtype)]))
        c = self.log_normalizer.to(e.dtype)
        g = -e - c - torch.cat([log_q_data, log_q_noise]).to(device=e.device, dtype=e.dtype)
        g_data, g_noise = g[:b], g[b:]
        loss = nce_loss(g_data, g_noise)
        with torch.no_grad():
            log_nu = math.log(m / b)
            correct = (g_data > log_nu).sum() + (g_noise <= log_nu).sum()
            metrics = {
                "nce/log_normalizer": self.log_normalizer.detach().clone(),
                "nce/accuracy": correct.to(e.dtype) / (b + m),
                "energy/data": e[:b].mean(),
                "energy/noise": e[b:].mean(),
            }
        return ObjectiveOutput({"energy": loss}, metrics)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        energy = self.parts.energy
        own = list(energy.parameters()) if isinstance(energy, nn.Module) else []
        return {"energy": [*own, self.log_normalizer]}

    def extra_repr(self) -> str:
        return f"noise_ratio={self.noise_ratio}"


def build_nce(cfg: NCEObjectiveConfig, ctx: BuildContext) -> NCEObjective:
    """Build an :class:`NCEObjective` from the run's energy and (density) initializer.

    Arguments:
        cfg: the objective's config.
        ctx: the build context: ``energy`` and ``initializer`` (built before the objective) and
            ``device``/``dtype`` of :math:`c`.

    Returns:
        The objective.

    Examples:
        >>> import torch
        >>> from ebmcore import BuildContext
        >>> from ebmcore.components.energies import MLPEnergy
        >>> from ebmcore.components.initializers import GaussianInitializer
        >>> from ebmcore_nce import NCEObjectiveConfig, build_nce
        >>> ctx = BuildContext.for_shape((2,), dtype=torch.float64, energy=MLPEnergy((2,), hidden=(16,)),
        ...                              initializer=GaussianInitializer((2,), std=2.0))
        >>> objective = build_nce(NCEObjectiveConfig(noise_ratio=4.0), ctx)
        >>> objective.noise_ratio, objective.log_normalizer.dtype
        (4.0, torch.float64)
        >>> build_nce(NCEObjectiveConfig(), BuildContext.for_shape((2,)))
        Traceback (most recent call last):
        ...
        ValueError: nce needs an energy and an initializer
    """
    if ctx.energy is None or ctx.initializer is None:
        raise ValueError("nce needs an energy and an initializer")
    return NCEObjective(ctx.energy, ctx.initializer, **cfg.as_kwargs(), device=ctx.device, dtype=ctx.dtype)

