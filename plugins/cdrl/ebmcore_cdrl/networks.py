r"""CDRL's noise-level-conditioned energy and its per-level initializer network (method notes A.7, B.1, 7.1).

**Energy** :math:`E(y, t) = -f_\theta(y, t)`: residual blocks
:math:`h \leftarrow h + g\odot L_2(\phi(L_1(\phi(h)) + \phi(L_t(\phi(\mathrm{temb})))))` with spectral norm on every
hidden layer, leaky ReLU 0.2 (:math:`\phi`) and a learned per-channel scale :math:`g` (init 1); the read-out
is *time-gated*: :math:`f = \sum_c \mathrm{relu}(h)_c \cdot W\phi(\mathrm{temb})_c` with a plain linear :math:`W` (no
bias, no SN). ``cdrl_mlp`` uses linear layers on flattened states, ``cdrl_resnet`` 3x3 convolutions with
average pooling between resolutions and a spatial sum before the read-out. The level enters as ``t``
(:math:`t_i = i/T`; for the cosine schedule an affine function of the code's :math:`\arctan(e^{-\lambda/2})`),
embedded by core's :class:`~ebmcore.components.energies.ConditionEmbedding`; labels ``y`` (with
:data:`~ebmcore.NULL_LABEL` as the guidance null label) add a learned embedding.

**Initializer** :math:`\mu_\phi(x, t) = x + \mathrm{net}(x, t)` with a zero-initialised last layer, so it starts
as the identity (CDRL starts as DRL); implements :class:`~ebmcore.abstract.StateInitializer`
(``init_from(x, cond)``) and draws :math:`\mathcal N(0, I)` top-level states with ``init(n)``.

References:
    Zhu et al., ICLR 2024, arXiv 2309.05153 (code ``models/ebm.py``, ``models/unet.py``, ``toy_example.py``).
    Miyato et al., arXiv 1802.05957 (spectral norm).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import attrs
import torch
from attrs import validators as v
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from ebmcore import BuildContext, Cond, Energy, EnergyConfig, Initializer, InitializerConfig
from ebmcore.components.energies import ConditionEmbedding

__all__ = [
    "CDRLEnergy",
    "CDRLEnergyConfig",
    "CDRLInitializer",
    "CDRLInitializerConfig",
    "CDRLResNetEnergyConfig",
    "build_cdrl_initializer",
    "build_cdrl_mlp",
    "build_cdrl_resnet",
]


def _sn(m: nn.Module, on: bool) -> nn.Module:
    return spectral_norm(m) if on else m


class _Block(nn.Module):
    """One residual block with a time-conditioned channel bias and a learned output scale."""

    def __init__(self, width: int, temb: int, conv: bool, sn: bool) -> None:
        super().__init__()
        make = (lambda: nn.Conv2d(width, width, 3, padding=1)) if conv else (lambda: nn.Linear(width, width))
        self.l1, self.l2 = _sn(make(), sn), _sn(make(), sn)
        self.lt = _sn(nn.Linear(temb, width), sn)
        self.g = nn.Parameter(torch.ones(width))
        self.act = nn.LeakyReLU(0.2)
        self.conv = conv

    def forward(self, h: Tensor, temb: Tensor) -> Tensor:
        tb = self.act(self.lt(self.act(temb)))
        u = self.l1(self.act(h)) + (tb[:, :, None, None] if self.conv else tb)
        g = self.g[:, None, None] if self.conv else self.g
        return h + g * self.l2(self.act(u))


@attrs.frozen(kw_only=True)
class CDRLEnergyConfig(EnergyConfig):
    """Config of the CDRL energies.

    Registered as ``cdrl_mlp`` (this class) and ``cdrl_resnet``; the factory passes the fields to
    :class:`CDRLEnergy` as keywords.

    Attributes:
        width: hidden width (MLP) or base channels (ResNet).
        n_blocks: residual blocks (MLP) or blocks per resolution (ResNet).
        n_resolutions: resolutions of the ResNet (halved by average pooling between them).
        temb_dim: width of the time embedding.
        num_classes: accept labels ``y`` with this many classes (``None``: unconditional).
        spectral_norm: spectral norm on every layer but the time-gated read-out.

    Examples:
        >>> import torch
        >>> from ebmcore_cdrl import CDRLEnergy, CDRLEnergyConfig
        >>> cfg = CDRLEnergyConfig(width=16, n_blocks=1, temb_dim=8)
        >>> energy = CDRLEnergy((2,), **cfg.as_kwargs())
        >>> tuple(energy(torch.randn(4, 2), t=torch.zeros(4)).shape)
        (4,)
        >>> CDRLEnergyConfig(width=0)
        Traceback (most recent call last):
        ...
        ValueError: 'width' must be >= 1: 0
    """

    width: int = attrs.field(default=128, validator=v.ge(1))
    n_blocks: int = attrs.field(default=3, validator=v.ge(1))
    n_resolutions: int = attrs.field(default=2, validator=v.ge(1))
    temb_dim: int = attrs.field(default=128, validator=v.ge(2))
    num_classes: int | None = attrs.field(default=None, validator=v.optional(v.ge(1)))
    spectral_norm: bool = True


@attrs.frozen(kw_only=True)
class CDRLResNetEnergyConfig(CDRLEnergyConfig):
    """Config of the ResNet CDRL energy (``cdrl_resnet``); fields as :class:`CDRLEnergyConfig`."""


class CDRLEnergy(Energy):
    r"""Noise-level-conditioned energy :math:`E(y, t) = -f_\theta(y, t)` with the time-gated read-out.

    ``forward(y, t, [y=labels])``: ``(B, *event_shape), (B,) -> (B,)``. The condition ``t`` ``(B,)`` is
    required; labels ``y`` ``(B,)`` (long, or :data:`~ebmcore.NULL_LABEL`) are accepted when ``num_classes``
    is set. See the module docstring for the architecture.

    References:
        Zhu, Xie, Wu & Gao, "Learning Energy-Based Models by Cooperative Diffusion Recovery Likelihood",
        ICLR 2024, arXiv 2309.05153.
        Gao, Song, Poole, Wu & Kingma, "Learning Energy-Based Models by Diffusion Recovery Likelihood",
        ICLR 2021, arXiv 2012.08125.

    Arguments:
        event_shape: ``(D,)`` for the MLP, ``(C, H, W)`` for the ResNet (``conv=True``).
        conv: ResNet (images) instead of MLP.
        width, n_blocks, n_resolutions, temb_dim, num_classes, spectral_norm: see :class:`CDRLEnergyConfig`.
        device, dtype: of the parameters.

    Examples:
        >>> import torch
        >>> from ebmcore_cdrl import CDRLEnergy
        >>> energy = CDRLEnergy((2,), width=16, n_blocks=1, temb_dim=8)
        >>> sorted(energy.conditions)
        ['t']
        >>> tuple(energy(torch.randn(4, 2), t=torch.full((4,), 0.5)).shape)
        (4,)
        >>> images = CDRLEnergy((1, 8, 8), conv=True, width=8, n_blocks=1, temb_dim=8, num_classes=3)
        >>> e = images(torch.randn(2, 1, 8, 8), t=torch.zeros(2), y=torch.tensor([0, 2]))
        >>> tuple(e.shape), sorted(images.conditions)
        ((2,), ['t', 'y'])
    """

    def __init__(
        self,
        event_shape: Sequence[int],
        *,
        conv: bool = False,
        width: int = 128,
        n_blocks: int = 3,
        n_resolutions: int = 2,
        temb_dim: int = 128,
        num_classes: int | None = None,
        spectral_norm: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.event_shape = tuple(int(s) for s in event_shape)
        self.conv = conv
        self.conditions = frozenset({"t", "y"} if num_classes else {"t"})
        self.embed = ConditionEmbedding(temb_dim, time_conditioned=True, num_classes=num_classes,
                                        activation="silu")
        if conv:
            c_in = self.event_shape[0]
            self.stem = _sn(nn.Conv2d(c_in, width, 3, padding=1), spectral_norm)
            self.stages = nn.ModuleList(
                nn.ModuleList(_Block(width, temb_dim, True, spectral_norm) for _ in range(n_blocks))
                for _ in range(n_resolutions)
            )
        else:
            self.stem = _sn(nn.Linear(math.prod(self.event_shape), width), spectral_norm)
            self.stages = nn.ModuleList([nn.ModuleList(_Block(width, temb_dim, False, spectral_norm)
                                                       for _ in range(n_blocks))])
        self.readout = nn.Linear(temb_dim, width, bias=False)
        self.act = nn.LeakyReLU(0.2)
        self.to(device=device, dtype=dtype or torch.get_default_dtype())

    def forward(self, x: Tensor, **cond: Tensor) -> Tensor:
        self.check_cond(cond)
        temb = self.embed(x.shape[0], x, **cond)
        h = self.stem(x if self.conv else x.flatten(1))
        for k, stage in enumerate(self.stages):
            if self.conv and k:
                h = nn.functional.avg_pool2d(h, 2)
            for block in stage:
                h = block(h, temb)
        h = torch.relu(h)
        if self.conv:
            h = h.sum((2, 3))
        f = (h * self.readout(self.act(temb))).sum(1)
        return -f


def build_cdrl_mlp(cfg: CDRLEnergyConfig, ctx: BuildContext) -> CDRLEnergy:
    """Build the MLP :class:`CDRLEnergy` for ``ctx.event_shape`` (flattened) on ``ctx.device``/``ctx.dtype``."""
    return CDRLEnergy(ctx.event_shape, conv=False, **cfg.as_kwargs(), device=ctx.device, dtype=ctx.dtype)


def build_cdrl_resnet(cfg: CDRLResNetEnergyConfig, ctx: BuildContext) -> CDRLEnergy:
    """Build the ResNet :class:`CDRLEnergy` for image states on ``ctx.device``/``ctx.dtype``."""
    if len(ctx.event_shape) != 3:
        raise ValueError(f"cdrl_resnet needs image states (C, H, W), got {ctx.event_shape}")
    return CDRLEnergy(ctx.event_shape, conv=True, **cfg.as_kwargs(), device=ctx.device, dtype=ctx.dtype)


@attrs.frozen(kw_only=True)
class CDRLInitializerConfig(InitializerConfig):
    """Config of :class:`CDRLInitializer`.

    Attributes:
        width: hidden width (MLP) or channels (conv, images).
        n_blocks: residual blocks.
        temb_dim: width of the time embedding.
        num_classes: accept labels ``y`` (``None``: unconditional).
        conv: convolutional network at full resolution (``None``: for image states); ``false`` treats images
            as flat vectors (cheaper for 8x8 digits).

    Examples:
        >>> import torch
        >>> from ebmcore_cdrl import CDRLInitializer, CDRLInitializerConfig
        >>> cfg = CDRLInitializerConfig(width=16, n_blocks=1, temb_dim=8, conv=False)
        >>> init = CDRLInitializer((1, 8, 8), **cfg.as_kwargs())
        >>> init.conv, tuple(init.init(3).shape)
        (False, (3, 1, 8, 8))
        >>> CDRLInitializerConfig(n_blocks=0)
        Traceback (most recent call last):
        ...
        ValueError: 'n_blocks' must be >= 1: 0
    """

    width: int = attrs.field(default=128, validator=v.ge(1))
    n_blocks: int = attrs.field(default=2, validator=v.ge(1))
    temb_dim: int = attrs.field(default=64, validator=v.ge(2))
    num_classes: int | None = attrs.field(default=None, validator=v.optional(v.ge(1)))
    conv: bool | None = None


class _InitBlock(nn.Module):
    """Norm, SiLU, layer, scale-shift by the time embedding, SiLU, layer (+ residual)."""

    def __init__(self, width: int, temb: int, conv: bool) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(min(8, width), width) if conv else nn.LayerNorm(width)
        make = (lambda: nn.Conv2d(width, width, 3, padding=1)) if conv else (lambda: nn.Linear(width, width))
        self.l1, self.l2 = make(), make()
        self.ss = nn.Linear(temb, 2 * width)
        self.conv = conv

    def forward(self, h: Tensor, temb: Tensor) -> Tensor:
        scale, shift = self.ss(temb).chunk(2, 1)
        if self.conv:
            scale, shift = scale[:, :, None, None], shift[:, :, None, None]
        u = self.l1(nn.functional.silu(self.norm(h)))
        u = u * (1 + scale) + shift
        return h + self.l2(nn.functional.silu(u))


class CDRLInitializer(Initializer):
    r"""The per-level initializer :math:`\mu_\phi(x_i, t_i) = x_i + \mathrm{net}(x_i, t_i)`, identity at initialisation.

    ``init_from(x, cond)``: ``(B, *event_shape) -> (B, *event_shape)``, differentiable in the weights;
    ``cond`` holds ``t`` (the *noisier* level's time, ``(B,)``) and optionally ``y``. ``init(n)``:
    :math:`\mathcal N(0, I)` states ``(n, *event_shape)`` (the top level of generation).

    References:
        Zhu, Xie, Wu & Gao, "Learning Energy-Based Models by Cooperative Diffusion Recovery Likelihood",
        ICLR 2024, arXiv 2309.05153.

    Arguments:
        event_shape: ``(D,)`` (MLP) or ``(C, H, W)`` (conv at full resolution).
        width, n_blocks, temb_dim, num_classes, conv: see :class:`CDRLInitializerConfig`.
        device, dtype: of the parameters.

    Examples:
        >>> import torch
        >>> from ebmcore_cdrl import CDRLInitializer
        >>> init = CDRLInitializer((2,), width=16, n_blocks=1, temb_dim=8)
        >>> x = torch.randn(4, 2)
        >>> torch.equal(init.init_from(x, {"t": torch.full((4,), 0.5)}), x)  # the identity at initialisation
        True
        >>> tuple(init.init(5).shape)
        (5, 2)
    """

    def __init__(
        self,
        event_shape: Sequence[int],
        *,
        width: int = 128,
        n_blocks: int = 2,
        temb_dim: int = 64,
        num_classes: int | None = None,
        conv: bool | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.event_shape = tuple(int(s) for s in event_shape)
        self.conv = len(self.event_shape) == 3 if conv is None else bool(conv)
        if self.conv and len(self.event_shape) != 3:
            raise ValueError(f"a convolutional initializer needs image states (C, H, W), got {self.event_shape}")
        self.conditions = frozenset({"t", "y"} if num_classes else {"t"})
        self.embed = ConditionEmbedding(temb_dim, time_conditioned=True, num_classes=num_classes, activation="silu")
        if self.conv:
            c = self.event_shape[0]
            self.stem = nn.Conv2d(c, width, 3, padding=1)
            self.out = nn.Conv2d(width, c, 3, padding=1)
        else:
            d = math.prod(self.event_shape)
            self.stem = nn.Linear(d, width)
            self.out = nn.Linear(width, d)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.blocks = nn.ModuleList(_InitBlock(width, temb_dim, self.conv) for _ in range(n_blocks))
        self.to(device=device, dtype=dtype or torch.get_default_dtype())

    def init_from(self, x: Tensor, cond: Cond | None = None) -> Tensor:
        cond = dict(cond or {})
        unknown = set(cond) - set(self.conditions)
        if unknown:
            raise TypeError(f"CDRLInitializer does not accept condition(s) {sorted(unknown)}")
        temb = self.embed(x.shape[0], x, **cond)
        h = self.stem(x if self.conv else x.flatten(1))
        for block in self.blocks:
            h = block(h, temb)
        return x + self.out(nn.functional.silu(h)).view(x.shape)

    def init(self, n: int, cond: Cond | None = None) -> Tensor:
        ref = self.out.weight
        return torch.randn(n, *self.event_shape, device=ref.device, dtype=ref.dtype)


def build_cdrl_initializer(cfg: CDRLInitializerConfig, ctx: BuildContext) -> CDRLInitializer:
    """Build a :class:`CDRLInitializer` for ``ctx.event_shape`` on ``ctx.device``/``ctx.dtype``."""
    return CDRLInitializer(ctx.event_shape, **cfg.as_kwargs(), device=ctx.device, dtype=ctx.dtype)
