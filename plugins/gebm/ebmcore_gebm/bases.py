r"""GEBM bases: implicit generators :math:`x = G_\theta(z)`, :math:`z \sim \mathcal N(0, I_d)`.

Both implement :class:`~ebmcore.abstract.LatentInitializer` (``latent_shape``, ``sample_latent``,
``decode``), so latent-space samplers find them by capability, and ``init(n)`` returns detached base
samples, so they are ordinary initializers anywhere in ebmcore. A normalizing-flow base (any
:class:`~ebmcore.abstract.DensityInitializer`, e.g. ``realnvp`` of ebmcore-nfmle or core's ``gaussian``)
plugs into the same objective for density estimation.

Batch norm follows the official code: the generator uses batch statistics while the base is trained and
running statistics otherwise (the objective keeps the base in eval mode while it trains the energy, and
generation runs under :func:`~ebmcore.sampling_mode`).

References:
    Arbel, Zhou & Gretton, ICLR 2021, arXiv 2003.05033; code github.com/MichaelArbel/GeneralizedEBM
    (``models/generator.py``). Miyato et al., arXiv 1802.05957 (the SNGAN ConvNet generator).
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence
from typing import Literal

import attrs
import torch
from attrs import validators as v
from torch import Tensor, nn

from ebmcore import BuildContext, Cond, Initializer, InitializerConfig

__all__ = ["ConvGenerator", "ConvGeneratorConfig", "MLPGenerator", "MLPGeneratorConfig", "build_conv_generator",
           "build_mlp_generator"]

_OUTPUTS = ("none", "tanh")


class _Generator(Initializer):
    """Shared latent machinery: ``latent_shape``, ``sample_latent``, ``init``; subclasses define ``decode``."""

    latent_shape: tuple[int, ...]

    def _ref(self) -> Tensor:
        return next(self.parameters())

    def sample_latent(self, n: int, cond: Cond | None = None) -> Tensor:
        """``n`` latents ``(n, *latent_shape)`` from :math:`\\mathcal N(0, I)` on the generator's device/dtype."""
        if cond:
            raise TypeError(f"{type(self).__name__} is unconditional; got condition(s) {sorted(cond)}")
        ref = self._ref()
        return torch.randn(n, *self.latent_shape, device=ref.device, dtype=ref.dtype)

    @abc.abstractmethod
    def decode(self, z: Tensor, cond: Cond | None = None) -> Tensor:
        """``(n, *latent_shape) -> (n, *event_shape)``, differentiable in ``z`` and the weights."""

    def init(self, n: int, cond: Cond | None = None) -> Tensor:
        with torch.no_grad():
            return self.decode(self.sample_latent(n, cond), cond)


@attrs.frozen(kw_only=True)
class MLPGeneratorConfig(InitializerConfig):
    """Config of :class:`MLPGenerator`.

    Attributes:
        latent_dim: dimension ``d`` of :math:`z`.
        hidden: hidden widths.
        batch_norm: batch norm before each ReLU (the official GAN-style generator).
        output: ``none`` (toys) or ``tanh`` (images in ``[-1, 1]``).

    Examples:
        >>> from ebmcore_gebm import MLPGenerator, MLPGeneratorConfig
        >>> cfg = MLPGeneratorConfig(latent_dim=4, hidden=(16,), output="tanh")
        >>> cfg.batch_norm
        True
        >>> MLPGenerator((2,), **cfg.as_kwargs()).latent_shape
        (4,)
        >>> MLPGeneratorConfig(output="sigmoid")
        Traceback (most recent call last):
        ...
        ValueError: ("'output' must be in ('none', 'tanh') (got 'sigmoid')", ...)
    """

    latent_dim: int = attrs.field(default=2, validator=v.ge(1))
    hidden: tuple[int, ...] = attrs.field(default=(128, 128), validator=v.deep_iterable(v.gt(0)))
    batch_norm: bool = True
    output: Literal["none", "tanh"] = attrs.field(default="none", validator=v.in_(_OUTPUTS))


class MLPGenerator(_Generator):
    r"""MLP generator :math:`G_\theta: \mathbb R^d \to` ``event_shape`` (Linear, BatchNorm, ReLU blocks).

    A GEBM base: ``sample_latent(n)`` draws :math:`z \sim \mathcal N(0, I_d)` ``(n, d)``; ``decode(z)``:
    ``(n, d) -> (n, *event_shape)``, differentiable in ``z`` and the weights; ``init(n)``: detached samples.

    References:
        Arbel, Zhou & Gretton, "Generalized Energy Based Models", ICLR 2021, arXiv 2003.05033 (code
        github.com/MichaelArbel/GeneralizedEBM, ``models/generator.py``).

    Arguments:
        event_shape: shape of one generated state.
        latent_dim, hidden, batch_norm, output: see :class:`MLPGeneratorConfig`.
        device, dtype: of the parameters.

    Examples:
        >>> from ebmcore import LatentInitializer
        >>> from ebmcore_gebm import MLPGenerator
        >>> base = MLPGenerator((2,), latent_dim=3, hidden=(16,))
        >>> isinstance(base, LatentInitializer)  # latent samplers find it by capability
        True
        >>> z = base.sample_latent(5)
        >>> x = base.decode(z)
        >>> tuple(z.shape), tuple(x.shape), x.requires_grad
        ((5, 3), (5, 2), True)
        >>> base.init(5).requires_grad
        False
    """

    def __init__(
        self,
        event_shape: Sequence[int],
        *,
        latent_dim: int = 2,
        hidden: Sequence[int] = (128, 128),
        batch_norm: bool = True,
        output: str = "none",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if output not in _OUTPUTS:
            raise ValueError(f"output must be one of {_OUTPUTS}, got {output!r}")
        self.event_shape = tuple(int(s) for s in event_shape)
        self.latent_shape = (int(latent_dim),)
        layers: list[nn.Module] = []
        width = int(latent_dim)
        for h in hidden:
            layers.append(nn.Linear(width, h))
            if batch_norm:
                layers.append(nn.BatchNorm1d(h))
            layers.append(nn.ReLU())
            width = h
        layers.append(nn.Linear(width, math.prod(self.event_shape)))
        if output == "tanh":
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)
        self.to(device=device, dtype=dtype or torch.get_default_dtype())

    def decode(self, z: Tensor, cond: Cond | None = None) -> Tensor:
        return self.net(z).view(z.shape[0], *self.event_shape)


def build_mlp_generator(cfg: MLPGeneratorConfig, ctx: BuildContext) -> MLPGenerator:
    """Build an :class:`MLPGenerator` for ``ctx.event_shape`` on ``ctx.device``/``ctx.dtype``."""
    return MLPGenerator(ctx.event_shape, **cfg.as_kwargs(), device=ctx.device, dtype=ctx.dtype)


@attrs.frozen(kw_only=True)
class ConvGeneratorConfig(InitializerConfig):
    """Config of :class:`ConvGenerator`.

    Attributes:
        latent_dim: dimension of :math:`z` (official 100).
        channels: channels from the first feature map down; one 2x upsampling per entry after the first.

    Examples:
        >>> from ebmcore_gebm import ConvGenerator, ConvGeneratorConfig
        >>> cfg = ConvGeneratorConfig(latent_dim=8, channels=(16, 8))
        >>> ConvGenerator((1, 8, 8), **cfg.as_kwargs()).start  # 16 maps of 4x4, doubled once to 8x8
        (16, 4, 4)
        >>> ConvGeneratorConfig(channels=(64,))
        Traceback (most recent call last):
        ...
        ValueError: Length of 'channels' must be >= 2: 1
    """

    latent_dim: int = attrs.field(default=100, validator=v.ge(1))
    channels: tuple[int, ...] = attrs.field(default=(512, 256, 128, 64), validator=[v.min_len(2), v.deep_iterable(v.gt(0))])


class ConvGenerator(_Generator):
    r"""DCGAN / SNGAN-ConvNet generator :math:`G_\theta(z)` for images ``(C, H, W)``.

    A dense layer maps :math:`z` to ``channels[0]`` maps of size ``H / 2**(len(channels) - 1)``, then per
    further entry a stride-2 4x4 transposed conv with BatchNorm and ReLU, a 3x3 conv to the image channels
    and tanh (official ``sngan`` generator: 512→256→128→64 on 4x4 → 32x32). ``decode(z)``:
    ``(n, latent_dim) -> (n, C, H, W)``.

    References:
        Arbel, Zhou & Gretton, "Generalized Energy Based Models", ICLR 2021, arXiv 2003.05033 (code
        github.com/MichaelArbel/GeneralizedEBM, ``models/generator.py``).
        Miyato et al., "Spectral Normalization for Generative Adversarial Networks", arXiv 1802.05957 (the
        SNGAN ConvNet generator).

    Arguments:
        event_shape: ``(C, H, W)`` with ``H``, ``W`` divisible by ``2 ** (len(channels) - 1)``.
        latent_dim, channels: see :class:`ConvGeneratorConfig`.
        device, dtype: of the parameters.

    Examples:
        >>> from ebmcore_gebm import ConvGenerator
        >>> base = ConvGenerator((1, 8, 8), latent_dim=8, channels=(16, 8))
        >>> x = base.init(2)
        >>> tuple(x.shape), bool(x.abs().max() <= 1)  # tanh output: images in [-1, 1]
        ((2, 1, 8, 8), True)
    """

    def __init__(
        self,
        event_shape: Sequence[int],
        *,
        latent_dim: int = 100,
        channels: Sequence[int] = (512, 256, 128, 64),
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.event_shape = tuple(int(s) for s in event_shape)
        if len(self.event_shape) != 3:
            raise ValueError(f"ConvGenerator needs image states (C, H, W), got {self.event_shape}")
        c_out, h, w = self.event_shape
        ups = len(channels) - 1
        if h % (2**ups) or w % (2**ups):
            raise ValueError(f"image size {h}x{w} is not divisible by 2**{ups} (one doubling per stage)")
        self.latent_shape = (int(latent_dim),)
        self.start = (int(channels[0]), h // 2**ups, w // 2**ups)
        self.dense = nn.Linear(int(latent_dim), math.prod(self.start))
        blocks: list[nn.Module] = [nn.BatchNorm2d(channels[0]), nn.ReLU()]
        for c_prev, c in zip(channels[:-1], channels[1:]):
            blocks += [nn.ConvTranspose2d(c_prev, c, 4, stride=2, padding=1), nn.BatchNorm2d(c), nn.ReLU()]
        blocks += [nn.Conv2d(channels[-1], c_out, 3, padding=1), nn.Tanh()]
        self.blocks = nn.Sequential(*blocks)
        self.to(device=device, dtype=dtype or torch.get_default_dtype())

    def decode(self, z: Tensor, cond: Cond | None = None) -> Tensor:
        return self.blocks(self.dense(z).view(z.shape[0], *self.start))


def build_conv_generator(cfg: ConvGeneratorConfig, ctx: BuildContext) -> ConvGenerator:
    """Build a :class:`ConvGenerator` for ``ctx.event_shape`` on ``ctx.device``/``ctx.dtype``."""
    return ConvGenerator(ctx.event_shape, **cfg.as_kwargs(), device=ctx.device, dtype=ctx.dtype)
