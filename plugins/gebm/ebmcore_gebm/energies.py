r"""GEBM energies: smooth (spectrally normalised) critics on data space with a lower truncation.

GEBM's energy reweights the base, :math:`Q(dx) \propto e^{-E(x)} G(dx)`; KALE is only a meaningful, weakly
continuous loss for a Lipschitz energy class, hence spectral norm on the hidden layers, no batch norm, and
the gradient penalty of the objective. The output is lower-truncated, :math:`E \leftarrow \mathrm{ReLU}(E + c) - c`
(:math:`E \ge -c`, official :math:`c = 10`), which caps :math:`e^{-E}` at :math:`e^{c}` (method notes C.3, C.8).

References:
    Arbel, Zhou & Gretton, "Generalized Energy Based Models", ICLR 2021, arXiv 2003.05033; official code
    github.com/MichaelArbel/GeneralizedEBM (``models/discriminator.py``).
    Miyato et al., "Spectral normalization for generative adversarial networks", arXiv 1802.05957.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import attrs
import torch
from attrs import validators as v
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from ebmcore import BuildContext, Energy, EnergyConfig

__all__ = ["GEBMConvEnergy", "GEBMConvEnergyConfig", "GEBMMLPEnergy", "GEBMMLPEnergyConfig", "build_gebm_conv",
           "build_gebm_mlp"]


def _truncate(e: Tensor, floor: float | None) -> Tensor:
    return e if floor is None else torch.relu(e - floor) + floor


@attrs.frozen(kw_only=True)
class GEBMMLPEnergyConfig(EnergyConfig):
    """Config of :class:`GEBMMLPEnergy`.

    Attributes:
        hidden: hidden widths.
        negative_slope: slope of the leaky ReLU (official 0.1).
        spectral_norm: spectral normalisation on the hidden linear layers (not the head).
        min_energy: lower truncation :math:`E \\ge` ``min_energy`` (official -10); ``None``: off.

    Examples:
        >>> from ebmcore_gebm import GEBMMLPEnergy, GEBMMLPEnergyConfig
        >>> cfg = GEBMMLPEnergyConfig(hidden=(16, 16), min_energy=None)
        >>> cfg.negative_slope, cfg.spectral_norm
        (0.1, True)
        >>> GEBMMLPEnergy((2,), **cfg.as_kwargs()).min_energy is None
        True
        >>> GEBMMLPEnergyConfig(hidden=(16, 0))
        Traceback (most recent call last):
        ...
        ValueError: 'hidden' must be > 0: 0
    """

    hidden: tuple[int, ...] = attrs.field(default=(128, 128, 128), validator=v.deep_iterable(v.gt(0)))
    negative_slope: float = attrs.field(default=0.1, validator=v.ge(0))
    spectral_norm: bool = True
    min_energy: float | None = -10.0


class GEBMMLPEnergy(Energy):
    r"""MLP critic :math:`E_\psi(x)` on flattened states, truncated below.

    Leaky ReLU, spectral norm on the hidden layers, output truncated below (GEBM's toy and digits energy,
    method notes 7.2/7.4).

    ``forward(x)``: ``(B, *event_shape) -> (B,)``.

    References:
        Arbel, Zhou & Gretton, "Generalized Energy Based Models", ICLR 2021, arXiv 2003.05033 (code
        github.com/MichaelArbel/GeneralizedEBM, ``models/discriminator.py``).
        Miyato et al., "Spectral Normalization for Generative Adversarial Networks", arXiv 1802.05957.

    Arguments:
        event_shape: shape of one state (flattened to ``D`` features).
        hidden, negative_slope, spectral_norm, min_energy: see :class:`GEBMMLPEnergyConfig`.
        device, dtype: of the parameters.

    Examples:
        >>> import torch
        >>> from ebmcore_gebm import GEBMMLPEnergy
        >>> energy = GEBMMLPEnergy((2,), hidden=(16, 16))
        >>> tuple(energy(torch.randn(5, 2)).shape)
        (5,)
        >>> floored = GEBMMLPEnergy((2,), hidden=(16,), min_energy=0.0)
        >>> bool((floored(torch.randn(100, 2)) >= 0).all())  # truncated below at min_energy
        True
    """

    def __init__(
        self,
        event_shape: Sequence[int],
        *,
        hidden: Sequence[int] = (128, 128, 128),
        negative_slope: float = 0.1,
        spectral_norm: bool = True,
        min_energy: float | None = -10.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.event_shape = tuple(int(s) for s in event_shape)
        self.min_energy = min_energy
        layers: list[nn.Module] = []
        width = math.prod(self.event_shape)
        for h in hidden:
            lin = nn.Linear(width, h)
            layers += [_sn(lin) if spectral_norm else lin, nn.LeakyReLU(negative_slope)]
            width = h
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)
        self.to(device=device, dtype=dtype or torch.get_default_dtype())

    def forward(self, x: Tensor, **cond: Tensor) -> Tensor:
        self.check_cond(cond)
        return _truncate(self.net(x.flatten(1)).squeeze(1), self.min_energy)


def _sn(module: nn.Module) -> nn.Module:
    return spectral_norm(module)


def build_gebm_mlp(cfg: GEBMMLPEnergyConfig, ctx: BuildContext) -> GEBMMLPEnergy:
    """Build a :class:`GEBMMLPEnergy` for ``ctx.event_shape`` on ``ctx.device``/``ctx.dtype``."""
    return GEBMMLPEnergy(ctx.event_shape, **cfg.as_kwargs(), device=ctx.device, dtype=ctx.dtype)


@attrs.frozen(kw_only=True)
class GEBMConvEnergyConfig(EnergyConfig):
    """Config of :class:`GEBMConvEnergy`.

    Attributes:
        channels: channels of the conv stages; every stage is a 3x3 conv then a stride-2 4x4 conv.
        negative_slope: leaky-ReLU slope (official 0.1).
        min_energy: lower truncation (official -10); ``None``: off.

    Examples:
        >>> from ebmcore_gebm import GEBMConvEnergy, GEBMConvEnergyConfig
        >>> cfg = GEBMConvEnergyConfig(channels=(8, 16))
        >>> cfg.min_energy
        -10.0
        >>> GEBMConvEnergy((1, 8, 8), **cfg.as_kwargs()).head
        Linear(in_features=32, out_features=1, bias=True)
        >>> GEBMConvEnergyConfig(channels=())
        Traceback (most recent call last):
        ...
        ValueError: Length of 'channels' must be >= 1: 0
    """

    channels: tuple[int, ...] = attrs.field(default=(64, 128, 256), validator=[v.min_len(1), v.deep_iterable(v.gt(0))])
    negative_slope: float = attrs.field(default=0.1, validator=v.ge(0))
    min_energy: float | None = -10.0


class GEBMConvEnergy(Energy):
    r"""SNGAN-ConvNet-style critic for images ``(B, C, H, W) -> (B,)``.

    The official ``sngan`` discriminator, scaled by ``channels``: per stage a spectrally normalised 3x3 conv
    and a stride-2 4x4 conv, leaky ReLU, then a final 3x3 SN conv, global sum pooling and a plain linear
    head; output truncated below.

    References:
        Arbel, Zhou & Gretton, "Generalized Energy Based Models", ICLR 2021, arXiv 2003.05033 (code
        github.com/MichaelArbel/GeneralizedEBM, ``models/discriminator.py``).
        Miyato et al., "Spectral Normalization for Generative Adversarial Networks", arXiv 1802.05957.

    Arguments:
        event_shape: ``(C, H, W)`` with ``H`` and ``W`` divisible by ``2 ** len(channels)``.
        channels, negative_slope, min_energy: see :class:`GEBMConvEnergyConfig`.
        device, dtype: of the parameters.

    Examples:
        >>> import torch
        >>> from ebmcore_gebm import GEBMConvEnergy
        >>> energy = GEBMConvEnergy((1, 8, 8), channels=(8, 16))
        >>> e = energy(torch.randn(3, 1, 8, 8))
        >>> tuple(e.shape), bool((e >= -10).all())
        ((3,), True)
        >>> GEBMConvEnergy((1, 6, 6), channels=(8, 16))
        Traceback (most recent call last):
        ...
        ValueError: image size 6x6 is not divisible by 2**2 (one halving per stage)
    """

    def __init__(
        self,
        event_shape: Sequence[int],
        *,
        channels: Sequence[int] = (64, 128, 256),
        negative_slope: float = 0.1,
        min_energy: float | None = -10.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.event_shape = tuple(int(s) for s in event_shape)
        if len(self.event_shape) != 3:
            raise ValueError(f"GEBMConvEnergy needs image states (C, H, W), got {self.event_shape}")
        c_in, h, w = self.event_shape
        if h % (2 ** len(channels)) or w % (2 ** len(channels)):
            raise ValueError(f"image size {h}x{w} is not divisible by 2**{len(channels)} (one halving per stage)")
        self.min_energy = min_energy
        layers: list[nn.Module] = []
        for c in channels:
            layers += [_sn(nn.Conv2d(c_in, c, 3, padding=1)), nn.LeakyReLU(negative_slope),
                       _sn(nn.Conv2d(c, c, 4, stride=2, padding=1)), nn.LeakyReLU(negative_slope)]
            c_in = c
        layers += [_sn(nn.Conv2d(c_in, 2 * c_in, 3, padding=1)), nn.LeakyReLU(negative_slope)]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(2 * c_in, 1)
        self.to(device=device, dtype=dtype or torch.get_default_dtype())

    def forward(self, x: Tensor, **cond: Tensor) -> Tensor:
        self.check_cond(cond)
        return _truncate(self.head(self.features(x).sum((2, 3))).squeeze(1), self.min_energy)


def build_gebm_conv(cfg: GEBMConvEnergyConfig, ctx: BuildContext) -> GEBMConvEnergy:
    """Build a :class:`GEBMConvEnergy` for ``ctx.event_shape`` on ``ctx.device``/``ctx.dtype``."""
    return GEBMConvEnergy(ctx.event_shape, **cfg.as_kwargs(), device=ctx.device, dtype=ctx.dtype)
