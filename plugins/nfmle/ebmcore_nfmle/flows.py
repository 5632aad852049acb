r"""Normalizing flows as initializers with a density: the in-plugin RealNVP (default) and a zuko adapter.

Both implement :class:`~ebmcore.abstract.DensityInitializer`, the two-method interface the NF-MLE sampler
and objective rely on:

* ``log_prob(x, cond) -> (B,)``: :math:`\log q_\alpha(x)` of given points ``(B, *event_shape)``;
* ``sample_with_log_prob(n, cond) -> ((n, *event_shape), (n,))``: reparameterised samples and their
  log-density in one pass (differentiable in the flow's parameters);

plus ``init(n, cond)``, detached samples, so a flow is an ordinary initializer anywhere in ebmcore.

A flow pushes the base :math:`\rho = \mathcal N(0, s^2 I)` (``base_std`` :math:`s`) through a bijection
:math:`T_\alpha`: :math:`x = T_\alpha(z)`, :math:`\log q_\alpha(x) = \log\rho(z) - \log|\det\partial_z T_\alpha(z)|`.
States of any event shape are flattened to ``D = prod(event_shape)`` features.

References:
    Dinh, Sohl-Dickstein & Bengio, "Density estimation using Real NVP", ICLR 2017, arXiv 1605.08803.
    Grenioux, Moulines & Gabrié, "Balanced training of energy-based models with adaptive flow sampling",
    arXiv 2306.00684 (the flow's role in NF-MLE; spec section 10 on flow libraries).
    Rozet et al., zuko, github.com/probabilists/zuko (the optional backend).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import attrs
import torch
from attrs import validators as v
from torch import Tensor, nn

from ebmcore import BuildContext, Cond, Initializer, InitializerConfig

__all__ = [
    "RealNVPFlow",
    "RealNVPFlowConfig",
    "ZukoFlow",
    "ZukoFlowConfig",
    "build_realnvp",
    "build_zuko_flow",
]


def _no_cond(name: str, cond: Cond | None) -> None:
    if cond:
        raise TypeError(f"{name} is an unconditional flow; it does not accept condition(s) {sorted(cond)}")


def _std_normal_log_prob(z: Tensor, std: float) -> Tensor:
    """:math:`\\log\\mathcal N(z; 0, s^2 I)` of flattened ``z`` ``(B, D)``, shape ``(B,)``."""
    d = z.shape[1]
    return -0.5 * (z / std).pow(2).sum(1) - d * (math.log(std) + 0.5 * math.log(2.0 * math.pi))


def _coupling_masks(d: int, n_layers: int) -> Tensor:
    """``(n_layers, d)`` 0/1 masks (1 = passed through, conditions the rest): alternating parity for
    ``d = 2``; for ``d > 2`` the cycle even / odd / first half / second half, so every feature is
    transformed and every pair of features interacts within four layers."""
    idx = torch.arange(d)
    cycle = [idx % 2 == 0, idx % 2 == 1]
    if d > 2:
        cycle += [idx < d // 2, idx >= d // 2]
    return torch.stack([cycle[i % len(cycle)] for i in range(n_layers)]).float()


class _Conditioner(nn.Module):
    """MLP ``(B, D) -> (B, D), (B, D)``: log-scale (bounded by ``bound * tanh(./bound)``) and shift.

    The last layer is zero-initialised, so a fresh coupling layer is the identity."""

    def __init__(self, d: int, hidden: Sequence[int], bound: float) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = d
        for h in hidden:
            layers += [nn.Linear(width, h), nn.SiLU()]
            width = h
        last = nn.Linear(width, 2 * d)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.net = nn.Sequential(*layers, last)
        self.bound = bound

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        s, t = self.net(x).chunk(2, dim=1)
        return self.bound * torch.tanh(s / self.bound), t


@attrs.frozen(kw_only=True)
class RealNVPFlowConfig(InitializerConfig):
    """Config of :class:`RealNVPFlow`.

    Attributes:
        n_layers: affine coupling layers (alternating masks).
        hidden: hidden widths of each layer's conditioner MLP (SiLU).
        scale_bound: bound :math:`b` of each layer's log-scale, :math:`b\\tanh(s/b)`.
        base_std: standard deviation :math:`s` of the Gaussian base (the flow's scale at initialisation).

    Examples:
        >>> from ebmcore_nfmle import RealNVPFlow, RealNVPFlowConfig
        >>> cfg = RealNVPFlowConfig(n_layers=4, hidden=(16,), base_std=3.0)
        >>> cfg.scale_bound
        2.0
        >>> RealNVPFlow((2,), **cfg.as_kwargs()).extra_repr()
        'event_shape=(2,), n_layers=4, base_std=3.0'
        >>> RealNVPFlowConfig(n_layers=0)
        Traceback (most recent call last):
        ...
        ValueError: 'n_layers' must be >= 1: 0
    """

    n_layers: int = attrs.field(default=8, validator=v.ge(1))
    hidden: tuple[int, ...] = attrs.field(default=(64, 64), validator=v.deep_iterable(v.gt(0)))
    scale_bound: float = attrs.field(default=2.0, validator=v.gt(0))
    base_std: float = attrs.field(default=1.0, validator=v.gt(0))


class RealNVPFlow(Initializer):
    r"""RealNVP: a stack of affine coupling layers on flattened states, identity at initialisation.

    Layer :math:`k` with mask :math:`m_k` maps :math:`u \mapsto m_k u + (1 - m_k)\,(u\,e^{s_k(m_k u)} + t_k(m_k u))`,
    with :math:`s_k = b\tanh(\tilde s_k / b)` bounded and :math:`(\tilde s_k, t_k)` from an MLP whose last
    layer starts at zero. Its log-determinant is :math:`\sum_i (1 - m_{k,i}) s_{k,i}`. Sampling runs the
    layers forward from :math:`z \sim \mathcal N(0, s^2 I)`; :meth:`log_prob` runs them backward; both are
    one pass, so the reverse-KL step and the IMH proposals cost one flow evaluation each.

    ``log_prob(x)``: ``(B, *event_shape) -> (B,)``. ``sample_with_log_prob(n)``: ``(n, *event_shape)``,
    ``(n,)``, differentiable in the parameters. ``init(n)``: detached samples ``(n, *event_shape)``.

    References:
        Dinh, Sohl-Dickstein & Bengio, "Density estimation using Real NVP", ICLR 2017, arXiv 1605.08803.
        Grenioux, Moulines & Gabrié, "Balanced Training of Energy-Based Models with Adaptive Flow
        Sampling", ICML 2023 SPIGM workshop, arXiv 2306.00684 (the flow as the EBM's MCMC proposal).

    Arguments:
        event_shape: shape of one state; flattened to ``D`` features (``D >= 2``).
        n_layers, hidden, scale_bound, base_std: see :class:`RealNVPFlowConfig`.
        device, dtype: of the parameters and of the returned samples.

    Examples:
        >>> import math
        >>> import torch
        >>> from ebmcore_nfmle import RealNVPFlow
        >>> flow = RealNVPFlow((2,), n_layers=4, hidden=(16,))
        >>> x = torch.randn(5, 2)
        >>> std_normal = -0.5 * x.pow(2).sum(1) - math.log(2 * math.pi)
        >>> torch.allclose(flow.log_prob(x), std_normal)  # the identity at initialisation
        True
        >>> y, log_q = flow.sample_with_log_prob(5)
        >>> tuple(y.shape), tuple(log_q.shape), y.requires_grad  # reparameterised
        ((5, 2), (5,), True)
        >>> torch.allclose(flow.log_prob(y), log_q, atol=1e-5)  # one density, both directions
        True
        >>> flow.init(3).requires_grad
        False
    """

    masks: Tensor

    def __init__(
        self,
        event_shape: Sequence[int],
        *,
        n_layers: int = 8,
        hidden: Sequence[int] = (64, 64),
        scale_bound: float = 2.0,
        base_std: float = 1.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.event_shape = tuple(int(s) for s in event_shape)
        d = math.prod(self.event_shape)
        if d < 2:
            raise ValueError(f"RealNVPFlow needs at least 2 features, got event_shape {self.event_shape}")
        if n_layers < 1 or scale_bound <= 0 or base_std <= 0:
            raise ValueError("RealNVPFlow needs n_layers >= 1, scale_bound > 0 and base_std > 0")
        self.dim = d
        self.base_std = float(base_std)
        self.register_buffer("masks", _coupling_masks(d, n_layers))
        self.layers = nn.ModuleList(_Conditioner(d, tuple(hidden), float(scale_bound)) for _ in range(n_layers))
        self.to(device=device, dtype=dtype or torch.get_default_dtype())

    def _ref(self) -> Tensor:
        return self.masks

    def forward_transform(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """:math:`x = T(z)` and :math:`\\log|\\det\\partial_z T|`, for flattened ``z`` ``(B, D)``."""
        x = z
        logdet = z.new_zeros(z.shape[0])
        for mask, layer in zip(self.masks, self.layers):
            s, t = layer(x * mask)
            free = 1.0 - mask
            x = x * mask + free * (x * s.exp() + t)
            logdet = logdet + (free * s).sum(1)
        return x, logdet

    def inverse_transform(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """:math:`z = T^{-1}(x)` and :math:`\\log|\\det\\partial_x T^{-1}|`, for flattened ``x`` ``(B, D)``."""
        z = x
        logdet = x.new_zeros(x.shape[0])
        for mask, layer in zip(reversed(self.masks), reversed(self.layers)):
            s, t = layer(z * mask)
            free = 1.0 - mask
            z = z * mask + free * (z - t) * (-s).exp()
            logdet = logdet - (free * s).sum(1)
        return z, logdet

    def log_prob(self, x: Tensor, cond: Cond | None = None) -> Tensor:
        _no_cond("realnvp", cond)
        z, logdet = self.inverse_transform(x.flatten(1))
        return _std_normal_log_prob(z, self.base_std) + logdet

    def sample_with_log_prob(self, n: int, cond: Cond | None = None) -> tuple[Tensor, Tensor]:
        _no_cond("realnvp", cond)
        ref = self._ref()
        z = torch.randn(n, self.dim, device=ref.device, dtype=ref.dtype) * self.base_std
        x, logdet = self.forward_transform(z)
        return x.view(n, *self.event_shape), _std_normal_log_prob(z, self.base_std) - logdet

    def init(self, n: int, cond: Cond | None = None) -> Tensor:
        with torch.no_grad():
            return self.sample_with_log_prob(n, cond)[0]

    def extra_repr(self) -> str:
        return f"event_shape={self.event_shape}, n_layers={len(self.layers)}, base_std={self.base_std}"


def build_realnvp(cfg: RealNVPFlowConfig, ctx: BuildContext) -> RealNVPFlow:
    """Build a :class:`RealNVPFlow` for ``ctx.event_shape`` on ``ctx.device``/``ctx.dtype``."""
    return RealNVPFlow(ctx.event_shape, **cfg.as_kwargs(), device=ctx.device, dtype=ctx.dtype)


# --- zuko backend (optional extra) --------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ZukoFlowConfig(InitializerConfig):
    """Config of :class:`ZukoFlow` (needs ``pip install ebmcore-nfmle[zuko]``).

    Attributes:
        flow: zuko architecture: ``nsf`` (rational-quadratic spline coupling), ``realnvp`` or ``maf``.
        transforms: number of transforms.
        hidden: hidden widths of the conditioner networks.
        base_std: the flow's output is scaled by ``base_std`` (its scale at initialisation).

    Examples:
        >>> from ebmcore_nfmle import ZukoFlowConfig
        >>> cfg = ZukoFlowConfig(flow="maf", transforms=2)
        >>> cfg.flow, cfg.transforms, cfg.hidden
        ('maf', 2, (64, 64))
        >>> ZukoFlowConfig(transforms=0)
        Traceback (most recent call last):
        ...
        ValueError: 'transforms' must be >= 1: 0
    """

    flow: Literal["nsf", "realnvp", "maf"] = attrs.field(default="nsf", validator=v.in_(("nsf", "realnvp", "maf")))
    transforms: int = attrs.field(default=4, validator=v.ge(1))
    hidden: tuple[int, ...] = attrs.field(default=(64, 64), validator=v.deep_iterable(v.gt(0)))
    base_std: float = attrs.field(default=1.0, validator=v.gt(0))


class ZukoFlow(Initializer):
    r"""A zuko flow behind the same two-method interface: "bring a stronger flow" (spec section 10.3).

    :math:`x = s\,y` with :math:`y` from the zuko flow, so :math:`\log q(x) = \log q_{\rm zuko}(x/s) - D\log s`.
    Sampling uses zuko's ``rsample_and_log_prob`` (reparameterised). zuko's coupling flows compute the
    log-determinant of a sample with a second conditioner pass (spec 10.2), so sampling costs about twice
    :class:`RealNVPFlow`'s; prefer ``realnvp`` (this plugin's) unless the extra expressiveness is needed.
    Needs the optional ``zuko`` dependency (``pip install 'ebmcore-nfmle[zuko]'``).

    References:
        Grenioux, Moulines & Gabrié, "Balanced Training of Energy-Based Models with Adaptive Flow
        Sampling", ICML 2023 SPIGM workshop, arXiv 2306.00684 (the flow as the EBM's MCMC proposal).
        Durkan et al., "Neural Spline Flows", arXiv 1906.04032; Rozet et al., zuko,
        github.com/probabilists/zuko.

    Arguments:
        event_shape: shape of one state (flattened to ``D`` features).
        flow, transforms, hidden, base_std: see :class:`ZukoFlowConfig`.
        device, dtype: of the parameters and of the returned samples.

    Examples:
        >>> import torch
        >>> from ebmcore_nfmle import ZukoFlow
        >>> flow = ZukoFlow((2,), flow="realnvp", transforms=2, hidden=(16,), base_std=2.0)
        >>> y, log_q = flow.sample_with_log_prob(5)
        >>> tuple(y.shape), tuple(log_q.shape)
        ((5, 2), (5,))
        >>> torch.allclose(flow.log_prob(y), log_q, atol=1e-4)
        True
    """

    _anchor: Tensor

    def __init__(
        self,
        event_shape: Sequence[int],
        *,
        flow: str = "nsf",
        transforms: int = 4,
        hidden: Sequence[int] = (64, 64),
        base_std: float = 1.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        try:
            import zuko
        except ImportError as err:  # pragma: no cover - exercised only without the extra
            raise ImportError(
                "initializer 'zuko_flow' needs the zuko library: pip install 'ebmcore-nfmle[zuko]' (or pip install zuko)"
            ) from err
        classes = {"nsf": zuko.flows.NSF, "realnvp": zuko.flows.RealNVP, "maf": zuko.flows.MAF}
        if flow not in classes:
            raise ValueError(f"flow must be one of {sorted(classes)}, got {flow!r}")
        self.event_shape = tuple(int(s) for s in event_shape)
        self.dim = math.prod(self.event_shape)
        self.base_std = float(base_std)
        self.flow = classes[flow](features=self.dim, transforms=int(transforms), hidden_features=tuple(hidden))
        self.register_buffer("_anchor", torch.empty(0), persistent=False)
        self.to(device=device, dtype=dtype or torch.get_default_dtype())

    def log_prob(self, x: Tensor, cond: Cond | None = None) -> Tensor:
        _no_cond("zuko_flow", cond)
        return self.flow().log_prob(x.flatten(1) / self.base_std) - self.dim * math.log(self.base_std)

    def sample_with_log_prob(self, n: int, cond: Cond | None = None) -> tuple[Tensor, Tensor]:
        _no_cond("zuko_flow", cond)
        y, log_q = self.flow().rsample_and_log_prob((n,))
        return (y * self.base_std).view(n, *self.event_shape), log_q - self.dim * math.log(self.base_std)

    def init(self, n: int, cond: Cond | None = None) -> Tensor:
        with torch.no_grad():
            return self.sample_with_log_prob(n, cond)[0]


def build_zuko_flow(cfg: ZukoFlowConfig, ctx: BuildContext) -> ZukoFlow:
    """Build a :class:`ZukoFlow` for ``ctx.event_shape`` on ``ctx.device``/``ctx.dtype``."""
    return ZukoFlow(ctx.event_shape, **cfg.as_kwargs(), device=ctx.device, dtype=ctx.dtype)
