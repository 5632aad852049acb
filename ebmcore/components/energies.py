r"""Core energies: a fully connected :class:`MLPEnergy` and a small convolutional :class:`ConvEnergy`.

Both map ``(B, *event_shape)`` to energies ``(B,)``, accept optional conditions (a time or noise level
``t`` and a class label ``y`` with :data:`~ebmcore.abstract.NULL_LABEL` meaning "unconditional"), use a
smooth activation by default (so Langevin/HMC gradients are Lipschitz-friendly) and can put spectral
normalisation on their hidden layers.

Conditioning (both energies): the conditions are embedded into one vector ``c`` of width
``cond_dim`` — ``c = MLP_t(fourier(t)) + Emb(y)`` — and ``c`` is added, through a per-layer linear map,
to the pre-activation of every hidden layer (a bias shift, as in the DDPM/NCSN++ time embeddings).

References:
    Du & Mordatch, "Implicit generation and generalization in energy-based models", arXiv 1903.08689.
    Miyato et al., "Spectral normalization for generative adversarial networks", arXiv 1802.05957.
    Tancik et al., "Fourier features let networks learn high frequency functions in low dimensional
    domains", arXiv 2006.10739 (Fourier time embedding).
    Ho & Salimans, "Classifier-free diffusion guidance", arXiv 2207.12598 (learned null label).
    Ramachandran et al., "Searching for activation functions", arXiv 1710.05941 (SiLU/swish).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal

import attrs
import torch
from attrs import validators as v
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from ebmcore._bases import EnergyConfig
from ebmcore.abstract import NULL_LABEL, Energy
from ebmcore.context import BuildContext

__all__ = [
    "ACTIVATIONS",
    "ConditionEmbedding",
    "ConvEnergy",
    "ConvEnergyConfig",
    "MLPEnergy",
    "MLPEnergyConfig",
    "build_conv_energy",
    "build_mlp_energy",
]

Activation = Literal["silu", "swish", "softplus", "elu", "gelu", "tanh", "leaky_relu", "relu"]

#: activation name -> module constructor. ``swish`` is an alias of ``silu``; ``relu`` and ``leaky_relu`` are
#: not smooth (their input gradients are discontinuous), offered for comparison with published baselines.
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "silu": nn.SiLU,
    "swish": nn.SiLU,
    "softplus": nn.Softplus,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "relu": nn.ReLU,
}


def _activation(name: str) -> nn.Module:
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; available: {sorted(ACTIVATIONS)}") from None


def _all_positive(instance: object, attribute: attrs.Attribute[tuple[int, ...]], value: tuple[int, ...]) -> None:
    if not all(isinstance(w, int) and w > 0 for w in value):
        raise ValueError(f"'{attribute.name}' must hold positive integers, got {value!r}")


def _check_event(x: Tensor, event_shape: tuple[int, ...], who: str) -> None:
    if tuple(x.shape[1:]) != event_shape:
        raise ValueError(
            f"{who} expects inputs of shape (B, *{event_shape}), got {tuple(x.shape)}"
        )


# --- condition embedding -----------------------------------------------------------------------------


class ConditionEmbedding(nn.Module):
    r"""Embeds the conditions ``t`` and ``y`` into one vector per sample.

    .. math:: c = \mathrm{MLP}_t\big([\sin(\omega_k t), \cos(\omega_k t)]_{k}\big) + \mathrm{Emb}(y)

    with frequencies :math:`\omega_k` spaced geometrically in ``[1, max_frequency]`` (deterministic, so
    no random draw at construction) and a learned embedding table with one extra row for
    :data:`NULL_LABEL` (classifier-free guidance's unconditional embedding). A missing ``y`` means
    :data:`NULL_LABEL`; a missing ``t`` on a time-conditioned energy is an error.

    Arguments:
        dim: output width ``cond_dim``.
        time_conditioned: embed ``t``.
        num_classes: number of labels for ``y`` (``None``: no label embedding).
        fourier_dim: number of Fourier features (even).
        max_frequency: largest angular frequency :math:`\omega`.
        activation: activation of the time MLP.

    Forward arguments:
        batch: the batch size ``B``.
        ref: any tensor on the target device and dtype (the states ``x``).
        t: ``(B,)`` (or ``(1,)``, broadcast), required when time-conditioned.
        y: ``(B,)`` long labels; missing means :data:`NULL_LABEL`.

    Forward returns:
        ``c`` of shape ``(B, dim)``, or ``None`` when the module embeds nothing.

    Examples:
        >>> import torch
        >>> from ebmcore import NULL_LABEL
        >>> from ebmcore.components.energies import ConditionEmbedding
        >>> emb = ConditionEmbedding(8, time_conditioned=True, num_classes=3, fourier_dim=4)
        >>> sorted(emb.conditions)
        ['t', 'y']
        >>> x, t = torch.zeros(5, 2), torch.rand(5)
        >>> c = emb(5, x, t=t, y=torch.tensor([0, 1, 2, 0, 1]))
        >>> tuple(c.shape)
        (5, 8)
        >>> # a missing label is the learned null (unconditional) embedding
        >>> torch.allclose(emb(5, x, t=t), emb(5, x, t=t, y=torch.full((5,), NULL_LABEL)))
        True
        >>> ConditionEmbedding(8)(5, x) is None  # nothing to embed
        True
    """

    def __init__(
        self,
        dim: int,
        *,
        time_conditioned: bool = False,
        num_classes: int | None = None,
        fourier_dim: int = 64,
        max_frequency: float = 1000.0,
        activation: str = "silu",
    ) -> None:
        super().__init__()
        if fourier_dim % 2:
            raise ValueError(f"fourier_dim must be even, got {fourier_dim}")
        self.dim = dim
        self.time_conditioned = time_conditioned
        self.num_classes = num_classes
        if time_conditioned:
            freqs = torch.exp(torch.linspace(0.0, math.log(max_frequency), fourier_dim // 2))
            self.register_buffer("freqs", freqs, persistent=False)
            self.time_mlp = nn.Sequential(
                nn.Linear(fourier_dim, dim), _activation(activation), nn.Linear(dim, dim)
            )
        if num_classes is not None:
            # row ``num_classes`` is the learned null (unconditional) embedding
            self.label_emb = nn.Embedding(num_classes + 1, dim)

    @property
    def conditions(self) -> frozenset[str]:
        keys = set()
        if self.time_conditioned:
            keys.add("t")
        if self.num_classes is not None:
            keys.add("y")
        return frozenset(keys)

    def forward(self, batch: int, ref: Tensor, t: Tensor | None = None, y: Tensor | None = None) -> Tensor | None:
        c: Tensor | None = None
        if self.time_conditioned:
            if t is None:
                raise ValueError("this energy is time-conditioned: pass the condition t of shape (B,)")
            t = t.to(ref.dtype).reshape(-1)
            if t.shape[0] == 1 and batch != 1:
                t = t.expand(batch)
            if t.shape[0] != batch:
                raise ValueError(f"condition t must have shape ({batch},), got {tuple(t.shape)}")
            ang = t[:, None] * self.freqs.to(ref.dtype)[None, :]
            c = self.time_mlp(torch.cat([ang.sin(), ang.cos()], dim=1))
        if self.num_classes is not None:
            if y is None:
                idx = torch.full((batch,), self.num_classes, device=ref.device, dtype=torch.long)
            else:
                y = y.reshape(-1).long()
                if y.shape[0] != batch:
                    raise ValueError(f"condition y must have shape ({batch},), got {tuple(y.shape)}")
                idx = torch.where(y == NULL_LABEL, torch.full_like(y, self.num_classes), y)
            emb = self.label_emb(idx).to(ref.dtype)
            c = emb if c is None else c + emb
        return c


# --- MLP energy --------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class _ConditionedEnergyConfig(EnergyConfig):
    """Conditioning fields shared by core's energies (see :class:`ConditionEmbedding`)."""

    time_conditioned: bool = False
    num_classes: int | None = attrs.field(default=None, validator=v.optional(v.ge(1)))
    cond_dim: int | None = attrs.field(default=None, validator=v.optional(v.ge(1)))
    fourier_dim: int = attrs.field(default=64, validator=v.ge(2))
    max_frequency: float = attrs.field(default=1000.0, validator=v.gt(0))
    spectral_norm: bool = False

    @fourier_dim.validator
    def _even(self, attribute: attrs.Attribute[int], value: int) -> None:
        if value % 2:
            raise ValueError(f"'fourier_dim' must be even, got {value}")


@attrs.frozen(kw_only=True)
class MLPEnergyConfig(_ConditionedEnergyConfig):
    """Config of :class:`MLPEnergy`.

    Attributes:
        hidden: widths of the hidden layers.
        activation: ``silu`` (default, smooth), ``swish`` (= silu), ``softplus``, ``elu``, ``gelu``,
            ``tanh``, ``leaky_relu``, ``relu``.
        time_conditioned: accept a condition ``t`` ``(B,)`` (time or noise level).
        num_classes: accept a class label ``y`` ``(B,)`` with this many classes (``None``: no labels).
        cond_dim: width of the condition embedding (``None``: the first hidden width).
        fourier_dim: number of Fourier features of ``t``.
        max_frequency: largest angular frequency of the Fourier features.
        spectral_norm: spectral normalisation on the hidden layers (not on the output layer).
        confinement: adds ``confinement * ||x||^2`` to the energy (a weak quadratic well, e.g. 1/72 in the
            NF-MLE notes, so ``exp(-E)`` is normalisable whatever the network does far from the data).

    Examples:
        >>> from ebmcore.components.energies import MLPEnergyConfig
        >>> cfg = MLPEnergyConfig(hidden=(16, 16), activation="softplus", num_classes=10)
        >>> cfg.as_kwargs()["hidden"], cfg.cond_dim
        ((16, 16), None)
        >>> MLPEnergyConfig(hidden=(16, 0))
        Traceback (most recent call last):
        ...
        ValueError: 'hidden' must hold positive integers, got (16, 0)
        >>> MLPEnergyConfig(fourier_dim=3)
        Traceback (most recent call last):
        ...
        ValueError: 'fourier_dim' must be even, got 3
    """

    hidden: tuple[int, ...] = attrs.field(default=(128, 128, 128), validator=[v.min_len(1), _all_positive])
    activation: Activation = attrs.field(default="silu", validator=v.in_(tuple(ACTIVATIONS)))
    confinement: float = attrs.field(default=0.0, validator=v.ge(0))


class MLPEnergy(Energy):
    r"""A fully connected energy :math:`E(x \mid c) = w^\top h_L + b`, with
    :math:`h_l = \sigma(W_l h_{l-1} + U_l c + b_l)` and :math:`h_0 = \mathrm{flatten}(x)`.

    Works on any event shape (vectors ``(D,)`` or small images such as ``(1, 8, 8)``): inputs are
    flattened internally. ``c`` is the condition embedding (see :class:`ConditionEmbedding`), absent for
    an unconditional energy.

    References:
        Du & Mordatch, arXiv 1903.08689; Miyato et al., arXiv 1802.05957 (spectral norm).

    Arguments:
        event_shape: shape of one sample, e.g. ``(2,)`` or ``(1, 8, 8)``.
        hidden: hidden widths.
        activation: activation name (see :data:`ACTIVATIONS`).
        time_conditioned: accept ``t`` ``(B,)``.
        num_classes: accept ``y`` ``(B,)`` long with values in ``[0, num_classes)`` or ``NULL_LABEL``.
        cond_dim: condition embedding width (``None``: ``hidden[0]``).
        fourier_dim, max_frequency: Fourier features of ``t``.
        spectral_norm: spectral normalisation on the hidden layers.
        confinement: weight of the quadratic well ``confinement * ||x||^2`` added to the energy (0: none).
        device, dtype: where and in what precision to build.

    Forward arguments:
        x: ``(B, *event_shape)``.
        t: ``(B,)`` float, when time-conditioned (required then).
        y: ``(B,)`` long, when class-conditional (optional; missing means unconditional).

    Returns:
        Energies ``(B,)`` in the dtype of ``x``.

    Examples:
        >>> import torch
        >>> from ebmcore import NULL_LABEL
        >>> from ebmcore.components.energies import MLPEnergy
        >>> energy = MLPEnergy((2,), hidden=(16,))
        >>> tuple(energy(torch.randn(4, 2)).shape)
        (4,)
        >>> # class-conditional; NULL_LABEL asks for the unconditional energy
        >>> cond_energy = MLPEnergy((2,), hidden=(16,), num_classes=3)
        >>> sorted(cond_energy.conditions)
        ['y']
        >>> tuple(cond_energy(torch.randn(4, 2), y=torch.tensor([0, 1, 2, NULL_LABEL])).shape)
        (4,)
        >>> # images are flattened internally
        >>> tuple(MLPEnergy((1, 8, 8), hidden=(16,))(torch.rand(3, 1, 8, 8)).shape)
        (3,)
        >>> # the confinement well dominates far from the origin: exp(-E) is normalisable
        >>> confined = MLPEnergy((2,), hidden=(16,), confinement=0.5)
        >>> bool(confined(torch.full((1, 2), 100.0)) > 1000.0)
        True
        >>> energy(torch.randn(4, 3))
        Traceback (most recent call last):
        ...
        ValueError: MLPEnergy expects inputs of shape (B, *(2,)), got (4, 3)
    """

    def __init__(
        self,
        event_shape: Sequence[int],
        *,
        hidden: Sequence[int] = (128, 128, 128),
        activation: str = "silu",
        time_conditioned: bool = False,
        num_classes: int | None = None,
        cond_dim: int | None = None,
        fourier_dim: int = 64,
        max_frequency: float = 1000.0,
        spectral_norm: bool = False,
        confinement: float = 0.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if not hidden:
            raise ValueError("MLPEnergy needs at least one hidden layer")
        self.confinement = float(confinement)
        self.event_shape = tuple(int(s) for s in event_shape)
        in_dim = math.prod(self.event_shape)
        self.cond = ConditionEmbedding(
            cond_dim or hidden[0],
            time_conditioned=time_conditioned,
            num_classes=num_classes,
            fourier_dim=fourier_dim,
            max_frequency=max_frequency,
            activation=activation,
        )
        self.conditions = self.cond.conditions
        widths = [in_dim, *hidden]
        self.layers = nn.ModuleList()
        for a, b in zip(widths[:-1], widths[1:]):
            lin = nn.Linear(a, b)
            self.layers.append(_spectral_norm(lin) if spectral_norm else lin)
        self.cond_proj = (
            nn.ModuleList([nn.Linear(self.cond.dim, w, bias=False) for w in hidden]) if self.conditions else None
        )
        self.act = _activation(activation)
        self.out = nn.Linear(widths[-1], 1)
        self.to(device=device, dtype=dtype)

    def forward(self, x: Tensor, **cond: Tensor) -> Tensor:
        self.check_cond(cond)
        _check_event(x, self.event_shape, type(self).__name__)
        b = x.shape[0]
        c = self.cond(b, x, **cond) if self.conditions else None
        h = x.reshape(b, -1)
        for i, layer in enumerate(self.layers):
            h = layer(h)
            if c is not None and self.cond_proj is not None:
                h = h + self.cond_proj[i](c)
            h = self.act(h)
        e = self.out(h).squeeze(-1)
        if self.confinement:
            e = e + self.confinement * x.reshape(b, -1).pow(2).sum(1)
        return e


def build_mlp_energy(cfg: MLPEnergyConfig, ctx: BuildContext) -> MLPEnergy:
    """Build an :class:`MLPEnergy` for ``ctx.event_shape`` on ``ctx.device``/``ctx.dtype``.

    Arguments:
        cfg: the energy's config.
        ctx: the build context (``event_shape``, ``device``, ``dtype``; ``num_classes`` of the data, which
            ``cfg.num_classes`` must cover).

    Returns:
        The energy, mapping ``(B, *ctx.event_shape)`` to ``(B,)``.

    Examples:
        >>> import torch
        >>> from ebmcore import BuildContext
        >>> from ebmcore.components.energies import MLPEnergyConfig, build_mlp_energy
        >>> ctx = BuildContext.for_shape((2,), dtype=torch.float64)
        >>> energy = build_mlp_energy(MLPEnergyConfig(hidden=(16,)), ctx)
        >>> e = energy(torch.zeros(3, 2, dtype=torch.float64))
        >>> tuple(e.shape), e.dtype
        ((3,), torch.float64)
        >>> build_mlp_energy(MLPEnergyConfig(hidden=(16,), num_classes=2), BuildContext.for_shape((2,), num_classes=10))
        Traceback (most recent call last):
        ...
        ValueError: energy num_classes=2 is smaller than the data's 10 classes
    """
    _check_classes(cfg.num_classes, ctx)
    return MLPEnergy(ctx.event_shape, **cfg.as_kwargs(), device=ctx.device, dtype=ctx.dtype)


def _check_classes(num_classes: int | None, ctx: BuildContext) -> None:
    if num_classes is not None and ctx.num_classes is not None and num_classes < ctx.num_classes:
        raise ValueError(
            f"energy num_classes={num_classes} is smaller than the data's {ctx.num_classes} classes"
        )


# --- conv energy -------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ConvEnergyConfig(_ConditionedEnergyConfig):
    """Config of :class:`ConvEnergy`.

    Attributes:
        channels: output channels of each stage; stage 0 keeps the resolution, every later stage halves it
            (stride-2 convolution).
        convs_per_stage: 3x3 convolutions per stage (the first of a later stage has stride 2).
        activation: ``silu`` (default, smooth), ``leaky_relu`` (IGEBM-style), or any of ``ACTIVATIONS``.
        time_conditioned: accept a condition ``t`` ``(B,)``.
        num_classes: accept a class label ``y`` ``(B,)`` (``None``: no labels).
        cond_dim: width of the condition embedding (``None``: ``channels[-1]``).
        fourier_dim, max_frequency: Fourier features of ``t``.
        spectral_norm: spectral normalisation on every convolution (not on the output layer).

    Examples:
        >>> from ebmcore.components.energies import ConvEnergyConfig
        >>> cfg = ConvEnergyConfig(channels=(8, 16), activation="leaky_relu", time_conditioned=True)
        >>> cfg.as_kwargs()["channels"], cfg.convs_per_stage
        ((8, 16), 1)
        >>> ConvEnergyConfig(channels=())
        Traceback (most recent call last):
        ...
        ValueError: Length of 'channels' must be >= 1: 0
    """

    channels: tuple[int, ...] = attrs.field(default=(32, 64, 128), validator=[v.min_len(1), _all_positive])
    convs_per_stage: int = attrs.field(default=1, validator=v.ge(1))
    activation: Activation = attrs.field(default="silu", validator=v.in_(tuple(ACTIVATIONS)))


class ConvEnergy(Energy):
    r"""A small convolutional energy for images ``(B, C, H, W) -> (B,)``.

    Stages of 3x3 convolutions (stage 0 at full resolution, each later stage starting with a stride-2
    convolution), the condition embedding added per stage as a channel bias, a smooth activation after
    every convolution, global average pooling and a linear head:

    .. math:: E(x \mid c) = w^\top \mathrm{mean}_{hw}\, \phi(x, c) + b

    Any spatial size works (8x8 digits, 28x28 MNIST, 32x32 CIFAR-10); with ``k`` stages the resolution is
    divided by ``2^(k-1)`` (rounded up).

    References:
        Du & Mordatch, arXiv 1903.08689; Nijkamp et al., "Learning non-convergent non-persistent
        short-run MCMC toward energy-based model", arXiv 1904.09770 (small conv EBMs); Miyato et al.,
        arXiv 1802.05957.

    Arguments:
        event_shape: ``(C, H, W)``.
        channels: channels per stage.
        convs_per_stage: convolutions per stage.
        activation: activation name.
        time_conditioned, num_classes, cond_dim, fourier_dim, max_frequency: conditioning, as in
            :class:`MLPEnergy`.
        spectral_norm: spectral normalisation on the convolutions.
        device, dtype: where and in what precision to build.

    Forward arguments:
        x: ``(B, C, H, W)``; ``t``/``y`` ``(B,)`` as declared.

    Returns:
        Energies ``(B,)`` in the dtype of ``x``.

    Examples:
        >>> import torch
        >>> from ebmcore.components.energies import ConvEnergy
        >>> energy = ConvEnergy((1, 8, 8), channels=(4, 8))
        >>> tuple(energy(torch.rand(2, 1, 8, 8)).shape)
        (2,)
        >>> # time-conditioned: t of shape (B,) is required
        >>> timed = ConvEnergy((3, 16, 16), channels=(4, 8, 8), time_conditioned=True, fourier_dim=8)
        >>> tuple(timed(torch.rand(2, 3, 16, 16), t=torch.tensor([0.1, 0.9])).shape)
        (2,)
        >>> ConvEnergy((2,))
        Traceback (most recent call last):
        ...
        ValueError: ConvEnergy needs an image event shape (C, H, W), got (2,)
    """

    def __init__(
        self,
        event_shape: Sequence[int],
        *,
        channels: Sequence[int] = (32, 64, 128),
        convs_per_stage: int = 1,
        activation: str = "silu",
        time_conditioned: bool = False,
        num_classes: int | None = None,
        cond_dim: int | None = None,
        fourier_dim: int = 64,
        max_frequency: float = 1000.0,
        spectral_norm: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.event_shape = tuple(int(s) for s in event_shape)
        if len(self.event_shape) != 3:
            raise ValueError(f"ConvEnergy needs an image event shape (C, H, W), got {self.event_shape}")
        if not channels:
            raise ValueError("ConvEnergy needs at least one stage")
        self.cond = ConditionEmbedding(
            cond_dim or channels[-1],
            time_conditioned=time_conditioned,
            num_classes=num_classes,
            fourier_dim=fourier_dim,
            max_frequency=max_frequency,
            activation=activation,
        )
        self.conditions = self.cond.conditions
        self.stages = nn.ModuleList()
        c_in = self.event_shape[0]
        for i, c_out in enumerate(channels):
            convs = nn.ModuleList()
            for j in range(convs_per_stage):
                stride = 2 if (i > 0 and j == 0) else 1
                conv = nn.Conv2d(c_in if j == 0 else c_out, c_out, 3, stride=stride, padding=1)
                convs.append(_spectral_norm(conv) if spectral_norm else conv)
            self.stages.append(convs)
            c_in = c_out
        self.cond_proj = (
            nn.ModuleList([nn.Linear(self.cond.dim, c, bias=False) for c in channels]) if self.conditions else None
        )
        self.act = _activation(activation)
        self.out = nn.Linear(channels[-1], 1)
        self.to(device=device, dtype=dtype)

    def forward(self, x: Tensor, **cond: Tensor) -> Tensor:
        self.check_cond(cond)
        _check_event(x, self.event_shape, type(self).__name__)
        b = x.shape[0]
        c = self.cond(b, x, **cond) if self.conditions else None
        h = x
        for i, convs in enumerate(self.stages):
            for j, conv in enumerate(convs):
                h = conv(h)
                if j == 0 and c is not None and self.cond_proj is not None:
                    h = h + self.cond_proj[i](c)[:, :, None, None]
                h = self.act(h)
        return self.out(h.mean(dim=(2, 3))).squeeze(-1)


def build_conv_energy(cfg: ConvEnergyConfig, ctx: BuildContext) -> ConvEnergy:
    """Build a :class:`ConvEnergy` for ``ctx.event_shape`` (must be ``(C, H, W)``) on ``ctx.device``/``ctx.dtype``.

    Arguments:
        cfg: the energy's config.
        ctx: the build context (``event_shape`` ``(C, H, W)``, ``device``, ``dtype``; ``num_classes`` of
            the data, which ``cfg.num_classes`` must cover).

    Returns:
        The energy, mapping ``(B, C, H, W)`` to ``(B,)``.

    Examples:
        >>> import torch
        >>> from ebmcore import BuildContext
        >>> from ebmcore.components.energies import ConvEnergyConfig, build_conv_energy
        >>> ctx = BuildContext.for_shape((1, 8, 8), num_classes=10)
        >>> energy = build_conv_energy(ConvEnergyConfig(channels=(4, 8), num_classes=10), ctx)
        >>> tuple(energy(torch.rand(3, 1, 8, 8), y=torch.tensor([0, 5, 9])).shape)
        (3,)
    """
    _check_classes(cfg.num_classes, ctx)
    return ConvEnergy(ctx.event_shape, **cfg.as_kwargs(), device=ctx.device, dtype=ctx.dtype)
