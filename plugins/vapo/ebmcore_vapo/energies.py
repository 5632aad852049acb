r"""VAPO energies: networks that compute a scalar **potential** :math:`\Phi_\theta(x, t)` whose gradient
:math:`+\nabla_x\Phi_\theta` is the generative velocity, and read out a proper energy (``-log p``).

Sign convention (ebmcore's :math:`E = -\log p + \text{const}` is kept):

* :meth:`potential` ``(x, t) -> (B,)`` is VAPO's :math:`\Phi_\theta(x, t)`; the flow is
  :math:`\dot x = +\nabla_x\Phi_\theta(x, t)` from the prior :math:`N(0, I)` at :math:`t\approx 0` to the
  data at :math:`t\approx 1` (linear "fmot" path :math:`x_t = t\bar x + (1-t)\varepsilon`). The VAPO
  objective and the ``vapo_ode`` sampler use it.
* :meth:`forward` ``(x, t=...) -> (B,)`` is the energy read-out

  .. math:: E_t(x) = \frac{\lVert x\rVert^2/2 - t\,\Phi_\theta(x, t)}{1 - t}
            \qquad(\text{linear path; general form in } \texttt{paths.PathSchedule.energy\_from\_potential}),

  which equals :math:`-\log\bar\rho_t(x) + c(t)` when :math:`\Phi_\theta` is the exact potential of the
  path's marginal :math:`\bar\rho_t` (Tweedie: :math:`\Phi^* = \lVert x\rVert^2/(2t) + \frac{1-t}{t}\log\bar\rho_t
  + c(t)`; method notes A.3(e, f)). At :math:`t = 1` the factor in front of :math:`\log\bar\rho_t` vanishes,
  so the read-out is taken below 1: without ``t`` the energy uses ``readout_t`` (default 0.9: the density
  of ``0.9 x + 0.1 eps``; the method notes suggest 0.99, but errors in :math:`\Phi` are amplified by
  :math:`t/(1-t)`, and on a trained 8-Gaussians model 0.9 gave a far better density, see docs/vapo.md). Any core MCMC sampler can run on
  this energy at a fixed ``t``; note its scale grows like :math:`1/(1-t)` (sharp densities near the data).

:class:`HasPotential` is the runtime-checkable capability the objective and the sampler test for. Other
energies (any ebmcore energy, time-conditioned or not, or a plain callable) are converted with
:func:`potential_of` / :func:`velocity_of` (the exact Gaussian-path relations of :mod:`ebmcore_vapo.paths`).

References:
    Loo, Adeline, Pal, Baskaran, Ting, Phan, "Variational Potential Flow: A Novel Probabilistic Framework
    for Energy-Based Generative Modelling", arXiv 2407.15238; "Learning Energy-Based Generative Models via
    Potential Flow: A Variational Principle Approach to Probability Density Homotopy Matching",
    arXiv 2504.16262 (TMLR 2025); code github.com/ljun0004/VAPO (``models/unet.py``: the autoencoder
    potential :math:`\tfrac12\lVert x - U(x,t)\rVert^2`).
    Dhariwal & Nichol, "Diffusion Models Beat GANs on Image Synthesis", arXiv 2105.05233 (ADM UNet,
    scale-shift norm); Tancik et al., arXiv 2006.10739 (Fourier features).
"""

from __future__ import annotations

import abc

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Literal, Protocol, runtime_checkable

import attrs
import torch
from attrs import validators as v
from torch import Tensor, nn
from torch.nn import functional as F

from ebmcore import BuildContext, Energy, EnergyConfig
from ebmcore.components.energies import ACTIVATIONS
from ebmcore_vapo.paths import PATHS, PathSchedule, get_path

__all__ = [
    "HasPotential",
    "VAPOMLPEnergy",
    "VAPOMLPEnergyConfig",
    "VAPOUNetEnergy",
    "VAPOUNetEnergyConfig",
    "build_vapo_mlp",
    "build_vapo_unet",
    "potential_of",
    "timestep_embedding",
    "velocity_of",
]

Activation = Literal["silu", "swish", "softplus", "elu", "gelu", "tanh", "leaky_relu", "relu"]


@runtime_checkable
class HasPotential(Protocol):
    r"""An energy that exposes VAPO's potential: ``potential(x, t, **cond) -> (B,)``, velocity :math:`+\nabla_x\Phi`.

    ``x``: ``(B, *event_shape)``, ``t``: ``(B,)``. A runtime-checkable protocol: the objective, the sampler
    and :func:`potential_of` / :func:`velocity_of` test for it with ``isinstance`` and use the potential
    directly; other energies are converted through the path.

    Examples:
        >>> import torch
        >>> from ebmcore.components.energies import MLPEnergy
        >>> from ebmcore_vapo import HasPotential, VAPOMLPEnergy
        >>> isinstance(VAPOMLPEnergy((2,), hidden=(16,)), HasPotential)
        True
        >>> isinstance(MLPEnergy((2,), hidden=(16,)), HasPotential)
        False
        >>> class Quadratic:
        ...     def potential(self, x, t, **cond):
        ...         return 0.5 * x.pow(2).sum(1)
        >>> isinstance(Quadratic(), HasPotential)
        True
    """

    def potential(self, x: Tensor, t: Tensor, **cond: Tensor) -> Tensor: ...


def _accepts_t(energy: object) -> bool:
    return "t" in getattr(energy, "conditions", ())


def _time(t: Tensor | float, b: int, ref: Tensor) -> Tensor:
    """``t`` as a ``(B,)`` tensor on ``ref``'s device/dtype (0-d or ``(1,)`` is broadcast)."""
    t = torch.as_tensor(t, device=ref.device, dtype=ref.dtype).reshape(-1)
    if t.shape[0] == 1 and b != 1:
        t = t.expand(b)
    if t.shape[0] != b:
        raise ValueError(f"condition t must have shape ({b},), got {tuple(t.shape)}")
    return t


def potential_of(
    energy: object, x: Tensor, t: Tensor, cond: Mapping[str, Tensor] | None = None, *, path: PathSchedule
) -> Tensor:
    r""":math:`\Phi(x, t)` ``(B,)`` of any energy, differentiable in ``x`` and the weights.

    :class:`HasPotential` energies return their own potential. Any other energy callable is read as
    :math:`E_t = -\log\bar\rho_t`, converted with :meth:`PathSchedule.potential_from_energy`
    (linear path: :math:`\Phi = (\lVert x\rVert^2/2 - (1-t)E)/t`); it gets ``t`` only if it declares
    ``"t"`` in its ``conditions`` (a time-independent energy is then used at every ``t``).

    Arguments:
        energy: a :class:`HasPotential` energy or any energy callable ``(B, *event_shape) -> (B,)``.
        x: states ``(B, *event_shape)``.
        t: times ``(B,)``.
        cond: extra conditions of the energy, each ``(B,)`` (a ``"t"`` entry is ignored); ``None``: none.
        path: the probability path of the conversion.

    Returns:
        The potential ``(B,)``.

    Examples:
        The standard normal energy :math:`\lVert x\rVert^2/2` has the potential :math:`\lVert x\rVert^2/2`
        on the linear path, at every ``t``:

        >>> import torch
        >>> from ebmcore_vapo import LinearPath, potential_of
        >>> x, t = torch.randn(4, 2), torch.full((4,), 0.3)
        >>> phi = potential_of(lambda x: 0.5 * x.pow(2).sum(1), x, t, path=LinearPath())
        >>> tuple(phi.shape), torch.allclose(phi, 0.5 * x.pow(2).sum(1))
        ((4,), True)
    """
    cond = {k: val for k, val in (cond or {}).items() if k != "t"}
    if isinstance(energy, HasPotential):
        return energy.potential(x, t, **cond)
    e = energy(x, t=t, **cond) if _accepts_t(energy) else energy(x, **cond)  # type: ignore[operator]
    return path.potential_from_energy(e, x.flatten(1).pow(2).sum(1), t)


def velocity_of(
    energy: object, x: Tensor, t: Tensor, cond: Mapping[str, Tensor] | None = None, *, path: PathSchedule
) -> Tensor:
    r"""The flow velocity ``(B, *event_shape)`` at ``(x, t)``, detached (no graph is kept).

    :class:`HasPotential`: :math:`v = \nabla_x\Phi(x, t)`. Otherwise the probability-flow velocity of the
    path given the score :math:`-\nabla_x E_t`: :math:`v = (\mu' x - \sigma W\nabla_x E_t)/\mu`
    (linear path: :math:`(x - (1-t)\nabla_x E_t)/t`).

    Arguments:
        energy: a :class:`HasPotential` energy or any energy callable ``(B, *event_shape) -> (B,)``.
        x: states ``(B, *event_shape)``.
        t: times ``(B,)``.
        cond: extra conditions of the energy, each ``(B,)`` (a ``"t"`` entry is ignored); ``None``: none.
        path: the probability path (used only for energies without a potential).

    Returns:
        The velocity ``(B, *event_shape)``, detached.

    Examples:
        >>> import torch
        >>> from ebmcore_vapo import LinearPath, VAPOUNetEnergy, velocity_of
        >>> x, t = torch.randn(4, 2), torch.full((4,), 0.3)
        >>> v = velocity_of(lambda x: 0.5 * x.pow(2).sum(1), x, t, path=LinearPath())
        >>> torch.allclose(v, x)  # (x - (1 - t) x) / t
        True

        A zero-initialised UNet potential is :math:`\lVert x\rVert^2/2`, whose gradient is ``x``:

        >>> unet = VAPOUNetEnergy((1, 4, 4), channels=(8,))
        >>> x = torch.randn(2, 1, 4, 4)
        >>> v = velocity_of(unet, x, torch.full((2,), 0.5), path=LinearPath())
        >>> tuple(v.shape), torch.allclose(v, x), v.requires_grad
        ((2, 1, 4, 4), True, False)
    """
    cond = {k: val for k, val in (cond or {}).items() if k != "t"}
    with torch.enable_grad():
        x_in = x.detach().requires_grad_(True)
        if isinstance(energy, HasPotential):
            phi = energy.potential(x_in, t, **cond)
            (g,) = torch.autograd.grad(phi.sum(), x_in)
            return g.detach()
        e = energy(x_in, t=t, **cond) if _accepts_t(energy) else energy(x_in, **cond)  # type: ignore[operator]
        (ge,) = torch.autograd.grad(e.sum(), x_in)
    return path.velocity_from_energy_grad(x.detach(), ge.detach(), t).detach()


class _PotentialEnergy(Energy):
    """Shared read-out: ``forward(x, t=readout_t) = path.energy_from_potential(potential(x, t), ‖x‖², t)``."""

    path: PathSchedule
    readout_t: float

    @abc.abstractmethod
    def potential(self, x: Tensor, t: Tensor, **cond: Tensor) -> Tensor:
        """The potential Phi(x, t), ``(B, *event_shape), (B,) -> (B,)``."""

    def forward(self, x: Tensor, **cond: Tensor) -> Tensor:
        self.check_cond(cond)
        t = cond.get("t")
        t = _time(self.readout_t if t is None else t, x.shape[0], x)
        phi = self.potential(x, t)
        return self.path.energy_from_potential(phi, x.flatten(1).pow(2).sum(1), t)

    def _check_x(self, x: Tensor) -> None:
        if tuple(x.shape[1:]) != self.event_shape:
            raise ValueError(
                f"{type(self).__name__} expects inputs of shape (B, *{self.event_shape}), got {tuple(x.shape)}"
            )


def _check_readout(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 < value < 1.0:
        raise ValueError(f"'{attribute.name}' must lie in (0, 1), got {value}")


def _all_positive(instance: object, attribute: attrs.Attribute[tuple[int, ...]], value: tuple[int, ...]) -> None:
    if not all(isinstance(w, int) and w > 0 for w in value):
        raise ValueError(f"'{attribute.name}' must hold positive integers, got {value!r}")


# --- MLP potential -----------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class VAPOMLPEnergyConfig(EnergyConfig):
    r"""Config of :class:`VAPOMLPEnergy`.

    Attributes:
        hidden: hidden widths (method notes A.9: 256 × 3 for 2-D sets, 512 × 3 for 8×8 digits).
        activation: activation name (``silu`` default; see ``ebmcore.components.energies.ACTIVATIONS``).
        fourier_dim: number of time features (half sin, half cos), concatenated to ``x``.
        max_frequency: frequencies :math:`\omega_k` log-spaced in ``[1, max_frequency]``; features
            :math:`\sin(\omega_k t), \cos(\omega_k t)`.
        zero_init_output: zero the output layer (:math:`\Phi = 0` at init).
        path: probability path used by the energy read-out (must match the objective's).
        readout_t: time of the energy read-out when ``forward`` gets no ``t``.

    Examples:
        >>> from ebmcore_vapo import VAPOMLPEnergy, VAPOMLPEnergyConfig
        >>> cfg = VAPOMLPEnergyConfig(hidden=(16, 16), fourier_dim=8)
        >>> cfg.activation, cfg.path, cfg.readout_t
        ('silu', 'linear', 0.9)
        >>> energy = VAPOMLPEnergy((2,), **cfg.as_kwargs())
        >>> len(energy.freqs)
        4
        >>> VAPOMLPEnergyConfig(fourier_dim=3)
        Traceback (most recent call last):
        ...
        ValueError: 'fourier_dim' must be even, got 3
        >>> VAPOMLPEnergyConfig(readout_t=1.0)
        Traceback (most recent call last):
        ...
        ValueError: 'readout_t' must lie in (0, 1), got 1.0
    """

    hidden: tuple[int, ...] = attrs.field(default=(256, 256, 256), validator=[v.min_len(1), _all_positive])
    activation: Activation = attrs.field(default="silu", validator=v.in_(tuple(ACTIVATIONS)))
    fourier_dim: int = attrs.field(default=32, validator=v.ge(2))
    max_frequency: float = attrs.field(default=100.0, validator=v.gt(0))
    zero_init_output: bool = False
    path: Literal["linear", "cosine"] = attrs.field(default="linear", validator=v.in_(tuple(PATHS)))
    readout_t: float = attrs.field(default=0.9, validator=_check_readout)

    @fourier_dim.validator
    def _even(self, attribute: attrs.Attribute[int], value: int) -> None:
        if value % 2:
            raise ValueError(f"'fourier_dim' must be even, got {value}")


class VAPOMLPEnergy(_PotentialEnergy):
    r"""MLP potential :math:`\Phi_\theta(x, t) = \mathrm{MLP}([\mathrm{flatten}(x), \sin(\omega t), \cos(\omega t)])`.

    As in the method notes (A.9), with the energy read-out of :mod:`ebmcore_vapo.energies`.
    ``potential(x, t)``: ``x`` ``(B, *event_shape)``, ``t`` ``(B,)`` (or a scalar) -> ``(B,)``.
    ``forward(x, t=None)``: energies ``(B,)``; ``t`` defaults to ``readout_t``.

    References:
        Loo, Adeline, Pal, Baskaran, Ting, Phan, "Variational Potential Flow: A Novel Probabilistic Framework
        for Energy-Based Generative Modelling", arXiv 2407.15238; "Learning Energy-Based Generative Models
        via Potential Flow: A Variational Principle Approach to Probability Density Homotopy Matching",
        TMLR 2025, arXiv 2504.16262. Tancik et al., "Fourier Features Let Networks Learn High Frequency
        Functions in Low Dimensional Domains", arXiv 2006.10739.

    Arguments:
        event_shape: shape of one sample (inputs are flattened, so ``(D,)`` and ``(1, 8, 8)`` both work).
        hidden, activation, fourier_dim, max_frequency, zero_init_output, path, readout_t: see
            :class:`VAPOMLPEnergyConfig`.
        device, dtype: where and in what precision to build.

    Examples:
        >>> import torch
        >>> from ebmcore_vapo import VAPOMLPEnergy
        >>> energy = VAPOMLPEnergy((2,), hidden=(16, 16), fourier_dim=8)
        >>> x, t = torch.randn(4, 2), torch.rand(4)
        >>> tuple(energy.potential(x, t).shape), tuple(energy(x).shape), tuple(energy(x, t=t).shape)
        ((4,), (4,), (4,))

        With a zero output layer :math:`\Phi = 0`, and the linear read-out at :math:`t = 0.9` is
        :math:`E = (\lVert x\rVert^2/2)/(1 - 0.9) = 5\lVert x\rVert^2`:

        >>> zero = VAPOMLPEnergy((2,), hidden=(16,), zero_init_output=True)
        >>> torch.allclose(zero(x), 5 * x.pow(2).sum(1))
        True
    """

    def __init__(
        self,
        event_shape: Sequence[int],
        *,
        hidden: Sequence[int] = (256, 256, 256),
        activation: str = "silu",
        fourier_dim: int = 32,
        max_frequency: float = 100.0,
        zero_init_output: bool = False,
        path: str = "linear",
        readout_t: float = 0.9,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if not hidden:
            raise ValueError("VAPOMLPEnergy needs at least one hidden layer")
        if fourier_dim % 2:
            raise ValueError(f"fourier_dim must be even, got {fourier_dim}")
        self.event_shape = tuple(int(s) for s in event_shape)
        self.conditions = frozenset({"t"})
        self.path = get_path(path)
        self.readout_t = float(readout_t)
        freqs = torch.exp(torch.linspace(0.0, math.log(max_frequency), fourier_dim // 2))
        self.register_buffer("freqs", freqs, persistent=False)
        widths = [math.prod(self.event_shape) + fourier_dim, *hidden]
        layers: list[nn.Module] = []
        for a, b in itertools.pairwise(widths):
            layers += [nn.Linear(a, b), ACTIVATIONS[activation]()]
        self.body = nn.Sequential(*layers)
        self.out = nn.Linear(widths[-1], 1)
        if zero_init_output:
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)
        self.to(device=device, dtype=dtype)

    def potential(self, x: Tensor, t: Tensor, **cond: Tensor) -> Tensor:
        self.check_cond(cond)
        self._check_x(x)
        b = x.shape[0]
        t = _time(t, b, x)
        ang = t[:, None] * self.freqs.to(x.dtype)[None, :]
        h = torch.cat([x.reshape(b, -1), ang.sin(), ang.cos()], dim=1)
        return self.out(self.body(h)).squeeze(-1)


def build_vapo_mlp(cfg: VAPOMLPEnergyConfig, ctx: BuildContext) -> VAPOMLPEnergy:
    """Build a :class:`VAPOMLPEnergy` for ``ctx.event_shape`` on ``ctx.device``/``ctx.dtype``."""
    return VAPOMLPEnergy(ctx.event_shape, **cfg.as_kwargs(), device=ctx.device, dtype=ctx.dtype)


# --- UNet autoencoder potential ----------------------------------------------------------------------


def timestep_embedding(t: Tensor, dim: int, max_period: float = 10000.0) -> Tensor:
    r"""Sinusoidal embedding of the raw time ``t`` ``(B,)`` -> ``(B, dim)`` (ADM/Transformer style,
    :math:`[\cos(t\,\omega_k), \sin(t\,\omega_k)]`, :math:`\omega_k = \text{max\_period}^{-k/(dim/2)}`).
    As in the VAPO code, ``t`` in ``[0, 1]`` is *not* multiplied by 1000."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=t.dtype) / half)
    args = t[:, None] * freqs[None, :]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=1)
    if dim % 2:
        emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=1)
    return emb


def _norm(channels: int, groups: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(groups, channels), channels)


class _ResBlock(nn.Module):
    """GroupNorm-SiLU-conv, time FiLM (scale-shift norm), GroupNorm-SiLU-dropout-conv, residual."""

    def __init__(self, c_in: int, c_out: int, temb_dim: int, groups: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = _norm(c_in, groups)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(temb_dim, 2 * c_out)
        self.norm2 = _norm(c_out, groups)
        self.drop = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: Tensor, temb: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb(F.silu(temb))[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(self.drop(F.silu(h)))
        return self.skip(x) + h


@attrs.frozen(kw_only=True)
class VAPOUNetEnergyConfig(EnergyConfig):
    r"""Config of :class:`VAPOUNetEnergy`.

    Attributes:
        channels: channels per resolution level; level 0 is full resolution and every later level halves
            it (so ``H`` and ``W`` must be divisible by ``2^(len(channels)-1)``). ``(32, 64)`` for 8×8,
            ``(128, 256, 256, 256)`` for CIFAR-10-sized runs.
        num_res_blocks: residual blocks per level (the decoder has one more, DDPM-style).
        groups: GroupNorm groups (reduced to a divisor of each width).
        dropout: dropout inside residual blocks (the VAPO code uses 0.3 on CIFAR-10).
        zero_init: zero the last convolution, so :math:`U = 0`, :math:`\Phi = \lVert x\rVert^2/2` and
            :math:`\nabla\Phi = x` at initialisation (the official code's choice).
        path, readout_t: energy read-out, as in :class:`VAPOMLPEnergyConfig`.

    Examples:
        >>> from ebmcore_vapo import VAPOUNetEnergy, VAPOUNetEnergyConfig
        >>> cfg = VAPOUNetEnergyConfig(channels=(8, 16), groups=4)
        >>> cfg.num_res_blocks, cfg.zero_init, cfg.readout_t
        (1, True, 0.9)
        >>> VAPOUNetEnergy((1, 8, 8), **cfg.as_kwargs()).event_shape
        (1, 8, 8)
        >>> VAPOUNetEnergyConfig(dropout=1.0)
        Traceback (most recent call last):
        ...
        ValueError: 'dropout' must be < 1: 1.0
    """

    channels: tuple[int, ...] = attrs.field(default=(32, 64), validator=[v.min_len(1), _all_positive])
    num_res_blocks: int = attrs.field(default=1, validator=v.ge(1))
    groups: int = attrs.field(default=8, validator=v.ge(1))
    dropout: float = attrs.field(default=0.0, validator=[v.ge(0), v.lt(1)])
    zero_init: bool = True
    path: Literal["linear", "cosine"] = attrs.field(default="linear", validator=v.in_(tuple(PATHS)))
    readout_t: float = attrs.field(default=0.9, validator=_check_readout)


class VAPOUNetEnergy(_PotentialEnergy):
    r"""Autoencoder potential of the official VAPO code, :math:`\Phi_\theta = \tfrac12\lVert x - U_\theta\rVert^2`.

    :math:`\Phi_\theta(x, t) = \tfrac12\lVert x - U_\theta(x, t)\rVert^2` summed over pixels, with
    :math:`U_\theta` a small UNet (no attention): conv-in, per level ``num_res_blocks`` residual blocks
    (GroupNorm, SiLU, scale-shift FiLM of a sinusoidal embedding of the raw ``t`` followed by a 2-layer
    MLP) and a stride-2 downsampling convolution, two middle blocks, a mirrored
    decoder with skip concatenations and nearest-neighbour upsampling, then GroupNorm-SiLU-conv-out
    (zero-initialised by default). ``potential(x, t)``: ``x`` ``(B, C, H, W)``, ``t`` ``(B,)`` -> ``(B,)``.
    ``forward(x, t=None)``: energy read-out ``(B,)``.

    References:
        Loo et al., "Learning Energy-Based Generative Models via Potential Flow: A Variational Principle
        Approach to Probability Density Homotopy Matching", TMLR 2025, arXiv 2504.16262 (code
        github.com/ljun0004/VAPO, ``models/unet.py``); Loo et al., "Variational Potential Flow",
        arXiv 2407.15238. Dhariwal & Nichol, "Diffusion Models Beat GANs on Image Synthesis",
        arXiv 2105.05233 (the UNet blocks).

    Arguments:
        event_shape: ``(C, H, W)``, ``H`` and ``W`` divisible by ``2^(len(channels)-1)``.
        channels, num_res_blocks, groups, dropout, zero_init, path, readout_t: see
            :class:`VAPOUNetEnergyConfig`.
        device, dtype: where and in what precision to build.

    Examples:
        >>> import torch
        >>> from ebmcore_vapo import VAPOUNetEnergy
        >>> energy = VAPOUNetEnergy((1, 8, 8), channels=(8, 16), groups=4)
        >>> x, t = torch.randn(2, 1, 8, 8), torch.rand(2)
        >>> phi = energy.potential(x, t)
        >>> tuple(phi.shape), tuple(energy(x).shape)
        ((2,), (2,))

        At initialisation :math:`U = 0`, so :math:`\Phi = \lVert x\rVert^2/2` and the read-out at
        :math:`t = 0.9` is :math:`(\lVert x\rVert^2/2 - 0.9\,\Phi)/0.1 = \lVert x\rVert^2/2`:

        >>> half_sq = 0.5 * x.flatten(1).pow(2).sum(1)
        >>> torch.allclose(phi, half_sq), torch.allclose(energy(x), half_sq, rtol=1e-4)
        (True, True)
    """

    def __init__(
        self,
        event_shape: Sequence[int],
        *,
        channels: Sequence[int] = (32, 64),
        num_res_blocks: int = 1,
        groups: int = 8,
        dropout: float = 0.0,
        zero_init: bool = True,
        path: str = "linear",
        readout_t: float = 0.9,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.event_shape = tuple(int(s) for s in event_shape)
        if len(self.event_shape) != 3:
            raise ValueError(f"VAPOUNetEnergy needs an image event shape (C, H, W), got {self.event_shape}")
        if not channels:
            raise ValueError("VAPOUNetEnergy needs at least one level")
        c_img, h, w = self.event_shape
        factor = 2 ** (len(channels) - 1)
        if h % factor or w % factor:
            raise ValueError(
                f"VAPOUNetEnergy with {len(channels)} levels needs H and W divisible by {factor}, got {h}x{w}"
            )
        self.conditions = frozenset({"t"})
        self.path = get_path(path)
        self.readout_t = float(readout_t)
        ch0 = channels[0]
        self.temb_dim = 4 * ch0
        self.model_channels = ch0
        self.time_mlp = nn.Sequential(nn.Linear(ch0, self.temb_dim), nn.SiLU(), nn.Linear(self.temb_dim, self.temb_dim))
        self.conv_in = nn.Conv2d(c_img, ch0, 3, padding=1)

        self.down = nn.ModuleList()
        skips = [ch0]
        cur = ch0
        for i, ch in enumerate(channels):
            for _ in range(num_res_blocks):
                self.down.append(_ResBlock(cur, ch, self.temb_dim, groups, dropout))
                cur = ch
                skips.append(cur)
            if i < len(channels) - 1:
                self.down.append(nn.Conv2d(cur, cur, 3, stride=2, padding=1))
                skips.append(cur)
        self.mid = nn.ModuleList([_ResBlock(cur, cur, self.temb_dim, groups, dropout),
                                  _ResBlock(cur, cur, self.temb_dim, groups, dropout)])
        self.up = nn.ModuleList()
        for i, ch in reversed(list(enumerate(channels))):
            for _ in range(num_res_blocks + 1):
                self.up.append(_ResBlock(cur + skips.pop(), ch, self.temb_dim, groups, dropout))
                cur = ch
            if i > 0:
                self.up.append(
                    nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(cur, cur, 3, padding=1))
                )
        assert not skips
        self.norm_out = _norm(cur, groups)
        self.conv_out = nn.Conv2d(cur, c_img, 3, padding=1)
        if zero_init:
            nn.init.zeros_(self.conv_out.weight)
            nn.init.zeros_(self.conv_out.bias)
        self.to(device=device, dtype=dtype)

    def unet(self, x: Tensor, t: Tensor) -> Tensor:
        r""":math:`U_\theta(x, t)`, shape of ``x``."""
        temb = self.time_mlp(timestep_embedding(t, self.model_channels))
        h = self.conv_in(x)
        hs = [h]
        for layer in self.down:
            h = layer(h, temb) if isinstance(layer, _ResBlock) else layer(h)
            hs.append(h)
        for block in self.mid:
            h = block(h, temb)
        for layer in self.up:
            h = layer(torch.cat([h, hs.pop()], dim=1), temb) if isinstance(layer, _ResBlock) else layer(h)
        return self.conv_out(F.silu(self.norm_out(h)))

    def potential(self, x: Tensor, t: Tensor, **cond: Tensor) -> Tensor:
        self.check_cond(cond)
        self._check_x(x)
        t = _time(t, x.shape[0], x)
        return 0.5 * (x - self.unet(x, t)).flatten(1).pow(2).sum(1)


def build_vapo_unet(cfg: VAPOUNetEnergyConfig, ctx: BuildContext) -> VAPOUNetEnergy:
    """Build a :class:`VAPOUNetEnergy` for ``ctx.event_shape`` (``(C, H, W)``) on ``ctx.device``/``ctx.dtype``."""
    return VAPOUNetEnergy(ctx.event_shape, **cfg.as_kwargs(), device=ctx.device, dtype=ctx.dtype)
