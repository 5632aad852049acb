r"""Core initializers: noise (:class:`GaussianInitializer`, :class:`UniformInitializer`), data starts
(:class:`DataInitializer`, CD-k) and persistent chains (:class:`ReplayBufferInitializer`, PCD).

Every initializer returns ``(n, *event_shape)`` states on its own device and dtype. Initializers without
parameters register an empty, non-persistent ``_anchor`` buffer so that ``.to(device, dtype)`` moves them
with the rest of a run. Random draws come from torch's global generator of the initializer's device
(the data initializer draws its indices on the CPU, where the data set lives).

References:
    Hinton, "Training products of experts by minimizing contrastive divergence", Neural Computation 2002
    (CD-k from data).
    Tieleman, "Training restricted Boltzmann machines using approximations to the likelihood gradient",
    ICML 2008 (persistent chains).
    Du & Mordatch, "Implicit generation and generalization in energy-based models", arXiv 1903.08689
    (replay buffer with 5% re-initialisation).
    Grathwohl et al., "Your classifier is secretly an energy based model and you should treat it like
    one", arXiv 1912.03263 (replay buffer written back in place).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import attrs
import torch
from attrs import validators as v
from torch import Tensor

from ebmcore._bases import InitializerConfig
from ebmcore.abstract import Cond, Initializer
from ebmcore.context import BuildContext

__all__ = [
    "DataInitializer",
    "DataInitializerConfig",
    "GaussianInitializer",
    "GaussianInitializerConfig",
    "ReplayBufferInitializer",
    "ReplayBufferInitializerConfig",
    "UniformInitializer",
    "UniformInitializerConfig",
    "build_data_initializer",
    "build_gaussian_initializer",
    "build_replay_buffer",
    "build_uniform_initializer",
]


class _AnchoredInitializer(Initializer):
    """An initializer whose device/dtype come from an empty non-persistent ``_anchor`` buffer."""

    _anchor: Tensor

    def __init__(
        self, event_shape: Sequence[int], device: torch.device | str | None, dtype: torch.dtype | None
    ) -> None:
        super().__init__()
        self.event_shape = tuple(int(s) for s in event_shape)
        self.register_buffer(
            "_anchor", torch.empty(0, device=device, dtype=dtype or torch.get_default_dtype()), persistent=False
        )

    @property
    def device(self) -> torch.device:
        return self._anchor.device

    @property
    def dtype(self) -> torch.dtype:
        return self._anchor.dtype

    def _shape(self, n: int) -> tuple[int, ...]:
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        return (int(n), *self.event_shape)


# --- noise -------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class GaussianInitializerConfig(InitializerConfig):
    """Config of :class:`GaussianInitializer`.

    Attributes:
        mean: mean of every coordinate.
        std: standard deviation of every coordinate.

    Examples:
        >>> from ebmcore.components.initializers import GaussianInitializerConfig
        >>> GaussianInitializerConfig(std=2.0).as_kwargs()
        {'mean': 0.0, 'std': 2.0}
        >>> GaussianInitializerConfig(std=0.0)
        Traceback (most recent call last):
        ...
        ValueError: 'std' must be > 0: 0.0
    """

    mean: float = 0.0
    std: float = attrs.field(default=1.0, validator=v.gt(0))


class GaussianInitializer(_AnchoredInitializer):
    r"""Independent Gaussian starts, :math:`x_0 \sim \mathcal N(\mu, \sigma^2 I)`.

    ``init(n, cond)`` returns ``(n, *event_shape)``; ``cond`` is ignored. It is also a
    :class:`~ebmcore.abstract.DensityInitializer` (``log_prob``, ``sample_with_log_prob``).

    Arguments:
        event_shape: shape of one sample.
        mean: :math:`\mu`.
        std: :math:`\sigma > 0`.
        device, dtype: where and in what precision to draw.

    Examples:
        >>> import math
        >>> import torch
        >>> from ebmcore.components.initializers import GaussianInitializer
        >>> init = GaussianInitializer((2,), mean=1.0, std=0.5)
        >>> x = init.init(4096)
        >>> tuple(x.shape), x.dtype
        ((4096, 2), torch.float32)
        >>> bool((x.mean() - 1.0).abs() < 0.05), bool((x.std() - 0.5).abs() < 0.05)
        (True, True)
        >>> # log-density at the mean: -d * (log(std) + log(2 pi) / 2) with d = 2
        >>> lp = init.log_prob(torch.ones(1, 2))
        >>> math.isclose(float(lp), -2 * (math.log(0.5) + 0.5 * math.log(2 * math.pi)), rel_tol=1e-6)
        True
    """

    def __init__(
        self,
        event_shape: Sequence[int],
        *,
        mean: float = 0.0,
        std: float = 1.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(event_shape, device, dtype)
        if std <= 0:
            raise ValueError(f"std must be > 0, got {std}")
        self.mean, self.std = float(mean), float(std)

    def init(self, n: int, cond: Cond | None = None) -> Tensor:
        x = torch.randn(self._shape(n), device=self.device, dtype=self.dtype)
        return x * self.std + self.mean if (self.std != 1.0 or self.mean != 0.0) else x

    def log_prob(self, x: Tensor, cond: Cond | None = None) -> Tensor:
        r"""Log-density of ``x`` ``(B, *event_shape)`` under :math:`\mathcal N(\mu, \sigma^2 I)`, ``(B,)``.

        With :meth:`sample_with_log_prob` this makes the Gaussian a
        :class:`~ebmcore.abstract.DensityInitializer`: a fixed independence proposal (IMH) or importance
        sampling base.
        """
        d = math.prod(self.event_shape)
        z = ((x - self.mean) / self.std).flatten(1)
        return -0.5 * z.pow(2).sum(1) - d * (math.log(self.std) + 0.5 * math.log(2.0 * math.pi))

    def sample_with_log_prob(self, n: int, cond: Cond | None = None) -> tuple[Tensor, Tensor]:
        """``n`` samples ``(n, *event_shape)`` and their log-density ``(n,)`` in one pass."""
        x = self.init(n, cond)
        return x, self.log_prob(x, cond)

    def extra_repr(self) -> str:
        return f"event_shape={self.event_shape}, mean={self.mean}, std={self.std}"


def build_gaussian_initializer(cfg: GaussianInitializerConfig, ctx: BuildContext) -> GaussianInitializer:
    """Build a :class:`GaussianInitializer` for ``ctx.event_shape`` on ``ctx.device``/``ctx.dtype``.

    Arguments:
        cfg: the initializer's config.
        ctx: the build context (``event_shape``, ``device``, ``dtype``).

    Returns:
        The initializer; ``init(n)`` gives ``(n, *ctx.event_shape)``.

    Examples:
        >>> import torch
        >>> from ebmcore import BuildContext
        >>> from ebmcore.components.initializers import GaussianInitializerConfig, build_gaussian_initializer
        >>> ctx = BuildContext.for_shape((1, 8, 8), dtype=torch.float64)
        >>> x = build_gaussian_initializer(GaussianInitializerConfig(), ctx).init(3)
        >>> tuple(x.shape), x.dtype
        ((3, 1, 8, 8), torch.float64)
    """
    return GaussianInitializer(ctx.event_shape, **cfg.as_kwargs(), device=ctx.device, dtype=ctx.dtype)


@attrs.frozen(kw_only=True)
class UniformInitializerConfig(InitializerConfig):
    """Config of :class:`UniformInitializer`.

    Attributes:
        low, high: bounds of every coordinate (``low < high``).

    Examples:
        >>> from ebmcore.components.initializers import UniformInitializerConfig
        >>> UniformInitializerConfig(low=0.0, high=2.0).as_kwargs()
        {'low': 0.0, 'high': 2.0}
        >>> UniformInitializerConfig(low=1.0, high=0.0)
        Traceback (most recent call last):
        ...
        ValueError: need low < high, got low=1.0, high=0.0
    """

    low: float = -1.0
    high: float = 1.0

    def __attrs_post_init__(self) -> None:
        if not self.low < self.high:
            raise ValueError(f"need low < high, got low={self.low}, high={self.high}")


class UniformInitializer(_AnchoredInitializer):
    r"""Independent uniform starts, :math:`x_0 \sim \mathcal U[\mathrm{low}, \mathrm{high}]^{d}`.

    ``init(n, cond)`` returns ``(n, *event_shape)``; ``cond`` is ignored.

    Arguments:
        event_shape: shape of one sample.
        low, high: bounds.
        device, dtype: where and in what precision to draw.

    Examples:
        >>> import torch
        >>> from ebmcore.components.initializers import UniformInitializer
        >>> x = UniformInitializer((2,), low=-2.0, high=2.0).init(1000)
        >>> tuple(x.shape), bool((x >= -2.0).all() and (x < 2.0).all())
        ((1000, 2), True)
        >>> bool(x.mean().abs() < 0.15)  # centred on (low + high) / 2
        True
    """

    def __init__(
        self,
        event_shape: Sequence[int],
        *,
        low: float = -1.0,
        high: float = 1.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(event_shape, device, dtype)
        if not low < high:
            raise ValueError(f"need low < high, got {low}, {high}")
        self.low, self.high = float(low), float(high)

    def init(self, n: int, cond: Cond | None = None) -> Tensor:
        u = torch.rand(self._shape(n), device=self.device, dtype=self.dtype)
        return u * (self.high - self.low) + self.low

    def extra_repr(self) -> str:
        return f"event_shape={self.event_shape}, low={self.low}, high={self.high}"


def build_uniform_initializer(cfg: UniformInitializerConfig, ctx: BuildContext) -> UniformInitializer:
    """Build a :class:`UniformInitializer` for ``ctx.event_shape`` on ``ctx.device``/``ctx.dtype``.

    Arguments:
        cfg: the initializer's config.
        ctx: the build context (``event_shape``, ``device``, ``dtype``).

    Returns:
        The initializer; ``init(n)`` gives ``(n, *ctx.event_shape)``.

    Examples:
        >>> from ebmcore import BuildContext
        >>> from ebmcore.components.initializers import UniformInitializerConfig, build_uniform_initializer
        >>> init = build_uniform_initializer(UniformInitializerConfig(low=0.0, high=1.0), BuildContext.for_shape((3,)))
        >>> x = init.init(5)
        >>> tuple(x.shape), bool((x >= 0.0).all() and (x < 1.0).all())
        ((5, 3), True)
    """
    return UniformInitializer(ctx.event_shape, **cfg.as_kwargs(), device=ctx.device, dtype=ctx.dtype)


# --- data --------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class DataInitializerConfig(InitializerConfig):
    """Config of :class:`DataInitializer`.

    Attributes:
        noise_std: standard deviation of Gaussian noise added to the data points (0: exact data).

    Examples:
        >>> from ebmcore.components.initializers import DataInitializerConfig
        >>> DataInitializerConfig().noise_std
        0.0
        >>> DataInitializerConfig(noise_std=-1.0)
        Traceback (most recent call last):
        ...
        ValueError: 'noise_std' must be >= 0: -1.0
    """

    noise_std: float = attrs.field(default=0.0, validator=v.ge(0))


class DataInitializer(_AnchoredInitializer):
    r"""Chains start at training points (contrastive divergence, CD-k), optionally jittered:
    :math:`x_0 = x_i + \sigma\xi`, with :math:`i` uniform over the data set and :math:`\xi \sim \mathcal N(0, I)`.

    The data set stays where it is (on the CPU, not a buffer, never saved in checkpoints); indices are
    drawn from the CPU generator (as :meth:`Dataset.random_batch` does) and the chosen points are moved to
    the initializer's device/dtype; the noise is drawn there.

    References:
        Hinton, Neural Computation 2002.

    ``init(n, cond)`` returns ``(n, *event_shape)``; ``cond`` is ignored (the points are drawn regardless
    of label).

    Arguments:
        data: training points ``(N, *event_shape)``.
        noise_std: :math:`\sigma \ge 0`.
        device, dtype: of the returned states.

    Examples:
        >>> import torch
        >>> from ebmcore.components.initializers import DataInitializer
        >>> data = torch.arange(10.0).reshape(5, 2)  # five training points
        >>> x = DataInitializer(data, dtype=torch.float64).init(3)
        >>> tuple(x.shape), x.dtype
        ((3, 2), torch.float64)
        >>> all(any(torch.equal(row, d) for d in data.double()) for row in x)  # exact training points
        True
        >>> jittered = DataInitializer(data, noise_std=0.1).init(3)
        >>> all(not any(torch.equal(row, d) for d in data) for row in jittered)
        True
    """

    def __init__(
        self,
        data: Tensor,
        *,
        noise_std: float = 0.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        if data.dim() < 2 or data.shape[0] == 0:
            raise ValueError(f"data must be a non-empty (N, *event_shape) tensor, got shape {tuple(data.shape)}")
        super().__init__(tuple(data.shape[1:]), device, dtype)
        if noise_std < 0:
            raise ValueError(f"noise_std must be >= 0, got {noise_std}")
        self.data = data.detach()
        self.noise_std = float(noise_std)

    def init(self, n: int, cond: Cond | None = None) -> Tensor:
        idx = torch.randint(self.data.shape[0], (self._shape(n)[0],), device=self.data.device)
        x = self.data[idx].to(device=self.device, dtype=self.dtype, non_blocking=True)
        if self.noise_std:
            x = x + self.noise_std * torch.randn_like(x)
        return x

    def extra_repr(self) -> str:
        return f"n_data={self.data.shape[0]}, event_shape={self.event_shape}, noise_std={self.noise_std}"


def build_data_initializer(cfg: DataInitializerConfig, ctx: BuildContext) -> DataInitializer:
    """Build a :class:`DataInitializer` from ``ctx.dataset.x``; an error when the context has no data set.

    Arguments:
        cfg: the initializer's config.
        ctx: the build context; ``ctx.dataset.x`` ``(N, *ctx.event_shape)`` are the starting points.

    Returns:
        The initializer; ``init(n)`` gives ``(n, *ctx.event_shape)`` on ``ctx.device``/``ctx.dtype``.

    Examples:
        >>> import torch
        >>> from ebmcore import BuildContext
        >>> from ebmcore.data import Dataset
        >>> from ebmcore.components.initializers import DataInitializerConfig, build_data_initializer
        >>> ctx = BuildContext.for_shape((2,), dataset=Dataset(x=torch.randn(100, 2)))
        >>> tuple(build_data_initializer(DataInitializerConfig(noise_std=0.01), ctx).init(8).shape)
        (8, 2)
        >>> build_data_initializer(DataInitializerConfig(), BuildContext.for_shape((2,)))
        Traceback (most recent call last):
        ...
        ValueError: the data initializer needs a data set (ctx.dataset is None)
    """
    if ctx.dataset is None:
        raise ValueError("the data initializer needs a data set (ctx.dataset is None)")
    data = ctx.dataset.x
    if tuple(data.shape[1:]) != tuple(ctx.event_shape):
        raise ValueError(f"data event shape {tuple(data.shape[1:])} differs from ctx.event_shape {ctx.event_shape}")
    return DataInitializer(data, noise_std=cfg.noise_std, device=ctx.device, dtype=ctx.dtype)


# --- replay buffer -----------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ReplayBufferInitializerConfig(InitializerConfig):
    """Config of :class:`ReplayBufferInitializer`.

    Attributes:
        capacity: number of stored states.
        reinit_prob: probability that a drawn state is replaced by fresh noise.
        fresh: fresh-noise distribution, ``uniform`` on ``[-scale, scale]`` or ``gaussian`` with std
            ``scale``.
        scale: scale of the fresh noise.

    Examples:
        >>> from ebmcore.components.initializers import ReplayBufferInitializerConfig
        >>> cfg = ReplayBufferInitializerConfig(capacity=1000, fresh="gaussian")
        >>> cfg.reinit_prob, cfg.scale
        (0.05, 1.0)
        >>> ReplayBufferInitializerConfig(reinit_prob=1.5)
        Traceback (most recent call last):
        ...
        ValueError: 'reinit_prob' must be <= 1: 1.5
    """

    capacity: int = attrs.field(default=10000, validator=v.ge(1))
    reinit_prob: float = attrs.field(default=0.05, validator=[v.ge(0), v.le(1)])
    fresh: Literal["uniform", "gaussian"] = attrs.field(default="uniform", validator=v.in_(("uniform", "gaussian")))
    scale: float = attrs.field(default=1.0, validator=v.gt(0))


class ReplayBufferInitializer(Initializer):
    r"""Persistent chains in a replay buffer (PCD à la IGEBM / JEM).

    The buffer holds ``capacity`` states and a per-slot ``filled`` flag; both are persistent buffers, so
    they live in the run's ``state_dict`` and checkpoints. Slots start empty (lazy initialisation: an
    empty slot yields fresh noise).

    ``init(n)``:

    1. draws ``n`` distinct slots uniformly at random (a random permutation of the slots; when
       ``n > capacity``, concatenated permutations), remembered for :meth:`observe`;
    2. returns, per drawn slot, fresh noise with probability ``reinit_prob`` or when the slot is empty, and
       the stored state otherwise.

    ``observe(x)`` writes the refined states back into the drawn slots and marks them filled (with
    ``n > capacity`` only the first ``capacity`` rows, which hold distinct slots, are written).

    All draws (slot permutation, fresh noise, re-initialisation coins, in this order) come from the global
    generator of the buffer's device, so a seeded run is reproducible and a run restored from
    ``state_dict`` with the same RNG state continues identically. There is no host synchronisation.

    ``init(n, cond)`` returns ``(n, *event_shape)`` (``cond`` ignored); ``observe(x)`` takes the
    ``(n, *event_shape)`` refined states of the batch last drawn.

    References:
        Du & Mordatch, arXiv 1903.08689; Grathwohl et al., arXiv 1912.03263; Tieleman, ICML 2008.

    Arguments:
        event_shape: shape of one state.
        capacity: number of slots.
        reinit_prob: probability of fresh noise per drawn state.
        fresh: ``"uniform"`` (on ``[-scale, scale]``) or ``"gaussian"`` (std ``scale``).
        scale: noise scale.
        device, dtype: of the buffer and of the returned states.

    Attributes:
        last_reinit_fraction: fraction of the last batch that was fresh noise (tensor, not saved).

    Examples:
        >>> import torch
        >>> from ebmcore.components.initializers import ReplayBufferInitializer
        >>> buffer = ReplayBufferInitializer((2,), capacity=4, reinit_prob=0.0)
        >>> x = buffer.init(4)  # empty slots: fresh uniform noise on [-1, 1]
        >>> tuple(x.shape), float(buffer.last_reinit_fraction)
        ((4, 2), 1.0)
        >>> buffer.observe(x + 10.0)  # the refined states go back into the drawn slots
        >>> int(buffer.n_filled)
        4
        >>> y = buffer.init(4)  # now every slot is filled and reinit_prob is 0: the stored states come back
        >>> float(buffer.last_reinit_fraction), bool((y > 5.0).all())
        (0.0, True)
        >>> sorted(buffer.state_dict())  # the chains are saved in checkpoints
        ['buffer', 'filled']
    """

    buffer: Tensor
    filled: Tensor

    def __init__(
        self,
        event_shape: Sequence[int],
        *,
        capacity: int = 10000,
        reinit_prob: float = 0.05,
        fresh: str = "uniform",
        scale: float = 1.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if capacity < 1 or not 0 <= reinit_prob <= 1 or scale <= 0:
            raise ValueError("ReplayBufferInitializer needs capacity >= 1, 0 <= reinit_prob <= 1, scale > 0")
        if fresh not in ("uniform", "gaussian"):
            raise ValueError(f"fresh must be 'uniform' or 'gaussian', got {fresh!r}")
        self.event_shape = tuple(int(s) for s in event_shape)
        self.capacity = int(capacity)
        self.reinit_prob = float(reinit_prob)
        self.fresh = fresh
        self.scale = float(scale)
        dtype = dtype or torch.get_default_dtype()
        self.register_buffer("buffer", torch.zeros((self.capacity, *self.event_shape), device=device, dtype=dtype))
        self.register_buffer("filled", torch.zeros(self.capacity, device=device, dtype=torch.bool))
        self._slots: Tensor | None = None
        self.last_reinit_fraction: Tensor | None = None

    @property
    def n_filled(self) -> Tensor:
        """Number of filled slots (0-dim long tensor on the buffer's device)."""
        return self.filled.sum()

    def _fresh(self, n: int) -> Tensor:
        shape = (n, *self.event_shape)
        dev, dt = self.buffer.device, self.buffer.dtype
        if self.fresh == "gaussian":
            return torch.randn(shape, device=dev, dtype=dt) * self.scale
        return (torch.rand(shape, device=dev, dtype=dt) * 2.0 - 1.0) * self.scale

    def _draw_slots(self, n: int) -> Tensor:
        dev = self.buffer.device
        if n <= self.capacity:
            return torch.randperm(self.capacity, device=dev)[:n]
        reps = math.ceil(n / self.capacity)
        return torch.cat([torch.randperm(self.capacity, device=dev) for _ in range(reps)])[:n]

    def init(self, n: int, cond: Cond | None = None) -> Tensor:
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        slots = self._draw_slots(n)
        fresh = self._fresh(n)
        coins = torch.rand(n, device=self.buffer.device) < self.reinit_prob
        reinit = coins | ~self.filled[slots]
        x = torch.where(reinit.view(-1, *([1] * len(self.event_shape))), fresh, self.buffer[slots])
        self._slots = slots
        self.last_reinit_fraction = reinit.to(self.buffer.dtype).mean()
        return x

    @torch.no_grad()
    def observe(self, x: Tensor) -> None:
        if self._slots is None:
            raise RuntimeError("observe() must follow init(): no batch drawn from the replay buffer is pending")
        slots = self._slots
        if tuple(x.shape) != (slots.shape[0], *self.event_shape):
            raise ValueError(
                f"observe() expects the refined batch of shape {(slots.shape[0], *self.event_shape)}, "
                f"got {tuple(x.shape)}"
            )
        k = min(slots.shape[0], self.capacity)
        slots = slots[:k]
        self.buffer[slots] = x[:k].detach().to(device=self.buffer.device, dtype=self.buffer.dtype)
        self.filled[slots] = True
        self._slots = None

    def extra_repr(self) -> str:
        return (
            f"event_shape={self.event_shape}, capacity={self.capacity}, reinit_prob={self.reinit_prob}, "
            f"fresh={self.fresh!r}, scale={self.scale}"
        )


def build_replay_buffer(cfg: ReplayBufferInitializerConfig, ctx: BuildContext) -> ReplayBufferInitializer:
    """Build a :class:`ReplayBufferInitializer` for ``ctx.event_shape`` on ``ctx.device``/``ctx.dtype``.

    Arguments:
        cfg: the initializer's config.
        ctx: the build context (``event_shape``, ``device``, ``dtype``).

    Returns:
        The replay buffer, holding ``(cfg.capacity, *ctx.event_shape)`` states.

    Examples:
        >>> from ebmcore import BuildContext
        >>> from ebmcore.components.initializers import ReplayBufferInitializerConfig, build_replay_buffer
        >>> cfg = ReplayBufferInitializerConfig(capacity=100, fresh="gaussian")
        >>> buffer = build_replay_buffer(cfg, BuildContext.for_shape((1, 8, 8)))
        >>> tuple(buffer.buffer.shape), tuple(buffer.init(16).shape)
        ((100, 1, 8, 8), (16, 1, 8, 8))
    """
    return ReplayBufferInitializer(ctx.event_shape, **cfg.as_kwargs(), device=ctx.device, dtype=ctx.dtype)
