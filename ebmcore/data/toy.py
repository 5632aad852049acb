r"""Standard 2-D toy data sets, re-implemented with seeded torch generators.

The definitions follow FFJORD's ``inf_train_gen`` (Grathwohl et al., "FFJORD: Free-form Continuous
Dynamics for Scalable Reversible Generative Models", ICLR 2019; ``rtqichen/ffjord``, ``lib/toy_data.py``),
restated here, with these deliberate fixes of the original's quirks:

* every draw comes from the ``torch.Generator`` passed in (FFJORD's ``2spirals`` and ``checkerboard`` use
  the global ``np.random``; its ``swissroll``, ``circles``, ``moons`` call scikit-learn unseeded);
* exactly ``n`` points come back (FFJORD's ``pinwheel`` and ``2spirals`` return fewer);
* always ``float32``, shape ``(n, 2)``, on the CPU;
* an unknown name raises :class:`ValueError` (FFJORD silently falls back to ``8gaussians``).

The draws are computed in float64 and cast to float32 at the end. The exact generator of every set is in
:func:`make_toy`'s docstring and in ``docs/data_and_metrics.md``.

"8 Gaussians" means different things in different papers; ebmcore's default is FFJORD's (radius
:math:`4/\sqrt2 \approx 2.828`, std :math:`0.5/\sqrt2 \approx 0.354`, true NLL :math:`\approx 2.83` nats).
The CDRL/GEBM convention is ``make_toy("8gaussians", n, generator=g, radius=2.0, std=0.15)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from ebmcore.data.dataset import Dataset, MixtureReference

__all__ = [
    "MIXTURE_NAMES",
    "TOY_NAMES",
    "GaussianMixture",
    "checkerboard_inside",
    "checkerboard_log_prob",
    "derive_seed",
    "make_toy",
    "make_toy_dataset",
    "toy_mixture",
]

#: Names accepted by :func:`make_toy` and :func:`make_toy_dataset`.
TOY_NAMES: tuple[str, ...] = (
    "8gaussians",
    "25gaussians",
    "checkerboard",
    "rings",
    "moons",
    "2spirals",
    "pinwheel",
    "swissroll",
    "circles",
    "gmm",
)

#: Names whose data is an isotropic Gaussian mixture (exact ``log_prob`` and mode statistics).
MIXTURE_NAMES: tuple[str, ...] = ("8gaussians", "25gaussians", "gmm")

_F64 = torch.float64
_SQRT2 = math.sqrt(2.0)
_LOG_2PI = math.log(2.0 * math.pi)


# --------------------------------------------------------------------------------------------------
# Gaussian mixture
# --------------------------------------------------------------------------------------------------


class GaussianMixture:
    r"""An isotropic Gaussian mixture :math:`p(x) = \sum_k w_k \, \mathcal N(x; c_k, \sigma_k^2 I)`.

    The parameters are stored as float64 CPU tensors; :meth:`log_prob` evaluates on ``x``'s device/dtype.

    Arguments:
        centers: ``(K, D)`` component means.
        std: per-component standard deviation, ``(K,)`` (a scalar or 0-d tensor is broadcast).
        weights: ``(K,)`` non-negative weights; normalised to sum to 1. ``None`` means uniform.

    Raises:
        ValueError: bad shapes, a non-positive ``std`` or negative ``weights``.

    Examples:
        >>> import math, torch
        >>> from ebmcore.data import GaussianMixture
        >>> gm = GaussianMixture([[-2.0, 0.0], [2.0, 0.0]], std=0.5, weights=[1.0, 3.0])
        >>> gm, gm.weights.tolist()
        (GaussianMixture(K=2, D=2), [0.25, 0.75])
        >>> x = gm.sample(1000, torch.Generator().manual_seed(0))
        >>> tuple(x.shape), x.dtype
        ((1000, 2), torch.float32)
        >>> at_centre = gm.log_prob(torch.tensor([[2.0, 0.0]], dtype=torch.float64))  # (B, D) -> (B,)
        >>> bool(torch.isclose(at_centre, torch.tensor(math.log(0.75 / (2 * math.pi * 0.25)), dtype=torch.float64)))
        True
        >>> GaussianMixture([[0.0, 0.0]], std=-1.0)
        Traceback (most recent call last):
        ...
        ValueError: std must be positive, a scalar or shape (1,), got (1,)
    """

    def __init__(
        self,
        centers: Tensor | Sequence[Sequence[float]],
        std: Tensor | float | Sequence[float],
        weights: Tensor | Sequence[float] | None = None,
    ) -> None:
        c = torch.as_tensor(centers, dtype=_F64).detach().cpu()
        if c.ndim != 2 or c.shape[0] < 1:
            raise ValueError(f"centers must have shape (K, D) with K >= 1, got {tuple(c.shape)}")
        k = c.shape[0]
        s = torch.as_tensor(std, dtype=_F64).detach().cpu()
        s = s.expand(k).clone() if s.ndim == 0 else s.reshape(-1)
        if s.shape != (k,) or not bool((s > 0).all()):
            raise ValueError(f"std must be positive, a scalar or shape ({k},), got {tuple(s.shape)}")
        if weights is None:
            w = torch.full((k,), 1.0 / k, dtype=_F64)
        else:
            w = torch.as_tensor(weights, dtype=_F64).detach().cpu().reshape(-1)
            if w.shape != (k,) or bool((w < 0).any()) or float(w.sum()) <= 0:
                raise ValueError(f"weights must be non-negative with shape ({k},), got {w.tolist()}")
            w = w / w.sum()
        self.centers = c
        self.std = s
        self.weights = w

    @property
    def num_components(self) -> int:
        return self.centers.shape[0]

    @property
    def dim(self) -> int:
        return self.centers.shape[1]

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        """``n`` draws, ``(n, D)`` float32 on the CPU: component ``k ~ Categorical(w)`` per point, then
        ``c_k + sigma_k * N(0, I)``. Only ``generator`` (a CPU generator) is used."""
        n = _check_n(n)
        if n == 0:
            return torch.zeros(0, self.dim, dtype=torch.float32)
        k = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        eps = torch.randn(n, self.dim, generator=generator, dtype=_F64)
        return (self.centers[k] + self.std[k, None] * eps).to(torch.float32)

    def log_prob(self, x: Tensor) -> Tensor:
        r"""Exact log-density, ``(B, D) -> (B,)``, computed on ``x``'s device in ``x``'s dtype:
        :math:`\log\sum_k w_k (2\pi\sigma_k^2)^{-D/2}\exp(-\lVert x-c_k\rVert^2 / 2\sigma_k^2)`."""
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x must have shape (B, {self.dim}), got {tuple(x.shape)}")
        c = self.centers.to(device=x.device, dtype=x.dtype)
        s = self.std.to(device=x.device, dtype=x.dtype)
        logw = self.weights.to(device=x.device, dtype=x.dtype).log()
        d2 = (x[:, None, :] - c[None, :, :]).pow(2).sum(-1)  # (B, K)
        comp = -0.5 * d2 / s.pow(2) - self.dim * (s.log() + 0.5 * _LOG_2PI)
        return torch.logsumexp(comp + logw, dim=1)

    def __call__(self, x: Tensor) -> Tensor:
        return self.log_prob(x)

    def reference(self) -> MixtureReference:
        """The ground truth for mode statistics: float32 CPU ``centers (K, D)``, ``std (K,)``,
        ``weights (K,)``."""
        return MixtureReference(
            centers=self.centers.to(torch.float32),
            std=self.std.to(torch.float32),
            weights=self.weights.to(torch.float32),
        )

    def __repr__(self) -> str:
        return f"GaussianMixture(K={self.num_components}, D={self.dim})"


def toy_mixture(name: str, **params: object) -> GaussianMixture:
    """The :class:`GaussianMixture` behind a mixture toy set (``8gaussians``, ``25gaussians``, ``gmm``).

    Arguments:
        name: one of :data:`MIXTURE_NAMES`.
        **params: the set's parameters, as in :func:`make_toy` (``radius``/``std`` for ``8gaussians``,
            ``spacing``/``std`` for ``25gaussians``, ``centers``/``weights``/``std`` for ``gmm``).

    Returns:
        The mixture (float64 CPU parameters); its ``reference()`` is the ground truth for mode statistics.

    Raises:
        ValueError: ``name`` is not a mixture set, or ``gmm`` without ``centers``.
        TypeError: a parameter the set does not take.

    Examples:
        >>> from ebmcore.data import toy_mixture
        >>> gm = toy_mixture("8gaussians", radius=2.0, std=0.15)  # the CDRL/GEBM convention
        >>> gm, gm.centers[0].tolist(), gm.std[0].item()
        (GaussianMixture(K=8, D=2), [2.0, 0.0], 0.15)
        >>> toy_mixture("25gaussians").num_components
        25
        >>> toy_mixture("gmm", centers=[[0.0, 0.0], [3.0, 3.0]], weights=[1, 3]).weights.tolist()
        [0.25, 0.75]
    """
    if name == "8gaussians":
        radius = float(params.pop("radius", 4.0 / _SQRT2))  # type: ignore[arg-type]
        std = float(params.pop("std", 0.5 / _SQRT2))  # type: ignore[arg-type]
        _no_extra(name, params)
        ang = torch.arange(8, dtype=_F64) * (math.pi / 4.0)
        centers = radius * torch.stack([ang.cos(), ang.sin()], dim=1)
        return GaussianMixture(centers, std)
    if name == "25gaussians":
        spacing = float(params.pop("spacing", 2.0))  # type: ignore[arg-type]
        std = float(params.pop("std", 0.05))  # type: ignore[arg-type]
        _no_extra(name, params)
        g = torch.arange(-2, 3, dtype=_F64) * spacing
        gx, gy = torch.meshgrid(g, g, indexing="ij")
        centers = torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)
        return GaussianMixture(centers, std)
    if name == "gmm":
        if "centers" not in params:
            raise ValueError("toy set 'gmm' needs centers=[[x, y], ...] (and optionally weights=, std=)")
        centers = params.pop("centers")
        weights = params.pop("weights", None)
        std = params.pop("std", 0.5)
        _no_extra(name, params)
        return GaussianMixture(centers, std, weights)  # type: ignore[arg-type]
    raise ValueError(f"{name!r} is not a mixture toy set; mixture sets are {MIXTURE_NAMES}")


# --------------------------------------------------------------------------------------------------
# The generators
# --------------------------------------------------------------------------------------------------


def _check_n(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}")
    return n


def _no_extra(name: str, params: dict[str, object]) -> None:
    if params:
        raise TypeError(f"toy set {name!r} got unexpected parameters {sorted(params)}")


def _u(n: int, g: torch.Generator, *shape: int) -> Tensor:
    return torch.rand(n, *shape, generator=g, dtype=_F64)


def _randn(n: int, g: torch.Generator, *shape: int) -> Tensor:
    return torch.randn(n, *shape, generator=g, dtype=_F64)


def _shuffle(x: Tensor, g: torch.Generator) -> Tensor:
    return x[torch.randperm(x.shape[0], generator=g)]


def _checkerboard(n: int, g: torch.Generator) -> Tensor:
    x1 = _u(n, g) * 4.0 - 2.0
    x2_ = _u(n, g) - torch.randint(0, 2, (n,), generator=g).to(_F64) * 2.0
    x2 = x2_ + torch.floor(x1).remainder(2.0)
    return torch.stack([x1, x2], dim=1) * 2.0


def _rings(n: int, g: torch.Generator, noise: float = 0.08) -> Tensor:
    q = n // 4
    counts = (q, q, q, n - 3 * q)  # radii 1, 0.75, 0.5, 0.25: the remainder goes to the innermost
    parts = []
    for radius, m in zip((1.0, 0.75, 0.5, 0.25), counts, strict=True):
        t = torch.arange(m, dtype=_F64) * (2.0 * math.pi / max(m, 1))  # linspace(0, 2pi, endpoint=False)
        parts.append(torch.stack([t.cos(), t.sin()], dim=1) * radius)
    x = _shuffle(torch.cat(parts) * 3.0, g)
    return x + noise * _randn(n, g, 2)


def _moons(n: int, g: torch.Generator, noise: float = 0.1) -> Tensor:
    n_out = n // 2
    n_in = n - n_out
    t_out = torch.linspace(0.0, math.pi, n_out, dtype=_F64)
    t_in = torch.linspace(0.0, math.pi, n_in, dtype=_F64)
    outer = torch.stack([t_out.cos(), t_out.sin()], dim=1)
    inner = torch.stack([1.0 - t_in.cos(), 1.0 - t_in.sin() - 0.5], dim=1)
    x = _shuffle(torch.cat([outer, inner]), g) + noise * _randn(n, g, 2)
    return x * 2.0 + torch.tensor([-1.0, -0.2], dtype=_F64)


def _circles(n: int, g: torch.Generator, factor: float = 0.5, noise: float = 0.08) -> Tensor:
    n_out = n // 2
    n_in = n - n_out
    t_out = torch.arange(n_out, dtype=_F64) * (2.0 * math.pi / max(n_out, 1))
    t_in = torch.arange(n_in, dtype=_F64) * (2.0 * math.pi / max(n_in, 1))
    outer = torch.stack([t_out.cos(), t_out.sin()], dim=1)
    inner = torch.stack([t_in.cos(), t_in.sin()], dim=1) * factor
    x = _shuffle(torch.cat([outer, inner]), g) + noise * _randn(n, g, 2)
    return x * 3.0


def _swissroll(n: int, g: torch.Generator, noise: float = 1.0) -> Tensor:
    t = 1.5 * math.pi * (1.0 + 2.0 * _u(n, g))
    eps = _randn(n, g, 2) * noise  # sklearn's noise on coordinates 0 and 2 (its height coordinate is dropped)
    x = torch.stack([t * t.cos(), t * t.sin()], dim=1) + eps
    return x / 5.0


def _two_spirals(n: int, g: torch.Generator, noise: float = 0.1) -> Tensor:
    n1 = n - n // 2
    t = _u(n, g).sqrt() * (540.0 * 2.0 * math.pi / 360.0)
    jitter = _u(n, g, 2) * 0.5
    arm = torch.stack([-t.cos() * t, t.sin() * t], dim=1) + jitter
    sign = torch.ones(n, 1, dtype=_F64)
    sign[n1:] = -1.0  # the second arm is the point reflection of the first
    x = _shuffle(arm * sign, g) / 3.0
    return x + noise * _randn(n, g, 2)


def _pinwheel(
    n: int,
    g: torch.Generator,
    num_arms: int = 5,
    radial_std: float = 0.3,
    tangential_std: float = 0.1,
    rate: float = 0.25,
) -> Tensor:
    labels = torch.arange(n) % num_arms
    rads = torch.arange(num_arms, dtype=_F64) * (2.0 * math.pi / num_arms)
    f = _randn(n, g, 2) * torch.tensor([radial_std, tangential_std], dtype=_F64)
    f[:, 0] += 1.0
    ang = rads[labels] + rate * f[:, 0].exp()
    c, s = ang.cos(), ang.sin()
    # x = 2 * f^T R with R = [[cos, -sin], [sin, cos]]
    x = torch.stack([f[:, 0] * c + f[:, 1] * s, -f[:, 0] * s + f[:, 1] * c], dim=1) * 2.0
    return _shuffle(x, g)


_GENERATORS: dict[str, Callable[..., Tensor]] = {
    "checkerboard": _checkerboard,
    "rings": _rings,
    "moons": _moons,
    "circles": _circles,
    "swissroll": _swissroll,
    "2spirals": _two_spirals,
    "pinwheel": _pinwheel,
}


def make_toy(name: str, n: int, *, generator: torch.Generator, **params: object) -> Tensor:
    r"""Draw exactly ``n`` points of the 2-D toy set ``name``: ``(n, 2)`` float32 on the CPU.

    Only ``generator`` (a CPU ``torch.Generator``) is used, so the result is a deterministic function of
    its state. Draws are computed in float64 and cast to float32. Definitions (FFJORD, Grathwohl et al.
    2019, unless noted; ``U`` is uniform on ``[0, 1)``, ``N`` standard normal):

    * ``8gaussians`` (params ``radius=4/sqrt(2)``, ``std=0.5/sqrt(2)``): centres
      ``radius * (cos(k*45deg), sin(k*45deg))``, ``k = 0..7``; each point picks a centre uniformly and adds
      ``std * N(0, I)``. The defaults are FFJORD's (``(4 c + 0.5 N) / 1.414``; we divide by ``sqrt(2)``),
      true NLL ``~2.8335`` nats. CDRL/GEBM use ``radius=2, std=0.15``.
    * ``25gaussians`` (params ``spacing=2``, ``std=0.05``): centres on the grid
      ``spacing * {-2,-1,0,1,2}^2`` (i.e. ``{-4,-2,0,2,4}^2``), uniform weights, isotropic ``std`` (the
      VEEGAN/PacGAN "2-D grid"). WGAN-GP's ``25gaussians`` is ``spacing=2/2.828, std=0.05/2.828``.
    * ``gmm`` (params ``centers=[[x, y], ...]`` required, ``weights=None`` (uniform), ``std=0.5`` scalar or
      per component): the given isotropic mixture.
    * ``checkerboard``: ``x1 = 4U - 2``; ``x2 = U - 2*Bernoulli(1/2) + (floor(x1) mod 2)``; return
      ``2 (x1, x2)``: uniform on the 8 filled squares of side 2 of a checkerboard on ``[-4, 4)^2``
      (density ``1/32``, true NLL ``log 32 ~ 3.466``). See :func:`checkerboard_inside`.
    * ``rings`` (param ``noise=0.08``): four circles of radius 1, 0.75, 0.5, 0.25 with ``n // 4`` points each
      (the remainder to the innermost), evenly spaced in angle (``linspace(0, 2pi, endpoint=False)``),
      scaled by 3, shuffled, plus ``noise * N(0, I)``.
    * ``moons`` (param ``noise=0.1``): scikit-learn's ``make_moons``: ``n // 2`` points
      ``(cos t, sin t)``, ``t = linspace(0, pi)``, and ``n - n // 2`` points ``(1 - cos t, 1 - sin t - 0.5)``,
      shuffled, plus ``noise * N``; then ``2 x + (-1, -0.2)``.
    * ``circles`` (params ``factor=0.5``, ``noise=0.08``): scikit-learn's ``make_circles``: ``n // 2``
      points on the unit circle and ``n - n // 2`` on the circle of radius ``factor``, evenly spaced in angle
      (``endpoint=False``), shuffled, plus ``noise * N``; then ``x 3``.
    * ``swissroll`` (param ``noise=1.0``): scikit-learn's ``make_swiss_roll`` restricted to coordinates
      (0, 2): ``t = 1.5 pi (1 + 2U)``, ``(t cos t, t sin t) + noise * N``; then ``/ 5``.
    * ``2spirals`` (param ``noise=0.1``): ``t = sqrt(U) * 3 pi``; ``a = (-t cos t, t sin t) + 0.5 (U', U'')``;
      the first ``n - n // 2`` points are ``a``, the rest ``-a``; shuffled, ``/ 3``, plus ``noise * N``.
      (FFJORD returns the two arms unshuffled.)
    * ``pinwheel`` (params ``num_arms=5``, ``radial_std=0.3``, ``tangential_std=0.1``, ``rate=0.25``): point
      ``i`` is on arm ``k = i mod num_arms``; ``f = (1 + radial_std N, tangential_std N)``;
      ``angle = 2 pi k / num_arms + rate * exp(f_0)``; ``x = 2 f^T R(angle)``,
      ``R = [[cos, -sin], [sin, cos]]``; shuffled.

    Arguments:
        name: one of :data:`TOY_NAMES`.
        n: number of points (``>= 0``).
        generator: the CPU ``torch.Generator`` every draw comes from.
        **params: the set's parameters listed above (e.g. ``radius``, ``std``, ``noise``).

    Returns:
        ``(n, 2)`` float32 CPU tensor.

    Raises:
        ValueError: unknown ``name`` (the message lists :data:`TOY_NAMES`) or bad ``n``.
        TypeError: a parameter the set does not take.

    Examples:
        >>> import torch
        >>> from ebmcore.data import make_toy
        >>> a = make_toy("8gaussians", 500, generator=torch.Generator().manual_seed(0))
        >>> b = make_toy("8gaussians", 500, generator=torch.Generator().manual_seed(0))
        >>> tuple(a.shape), a.dtype, torch.equal(a, b)  # a function of the generator's state only
        ((500, 2), torch.float32, True)
        >>> tuple(make_toy("pinwheel", 7, generator=torch.Generator().manual_seed(1)).shape)  # exactly n
        (7, 2)
        >>> make_toy("9gaussians", 5, generator=torch.Generator())
        Traceback (most recent call last):
        ...
        ValueError: unknown toy data set '9gaussians'; valid names: 8gaussians, 25gaussians, checkerboard, ...
    """
    n = _check_n(n)
    if name in MIXTURE_NAMES:
        return toy_mixture(name, **params).sample(n, generator)
    fn = _GENERATORS.get(name)
    if fn is None:
        raise ValueError(f"unknown toy data set {name!r}; valid names: {', '.join(TOY_NAMES)}")
    if n == 0:
        return torch.zeros(0, 2, dtype=torch.float32)
    try:
        out = fn(n, generator, **params)
    except TypeError as e:
        raise TypeError(f"toy set {name!r}: {e}") from e
    assert out.shape == (n, 2), out.shape
    return out.to(torch.float32).contiguous()


# --------------------------------------------------------------------------------------------------
# Checkerboard ground truth
# --------------------------------------------------------------------------------------------------


def checkerboard_inside(x: Tensor) -> Tensor:
    """Whether each point lies in a filled square of the ``checkerboard`` set: ``(B, 2) -> (B,)`` bool.

    Filled means ``x`` in ``[-4, 4)^2`` and ``floor(x_1 / 2) + floor(x_2 / 2)`` even (8 squares of side 2).

    Arguments:
        x: points ``(B, 2)``.

    Returns:
        ``(B,)`` bool tensor on ``x``'s device.

    Examples:
        >>> import torch
        >>> from ebmcore.data import checkerboard_inside, make_toy
        >>> checkerboard_inside(torch.tensor([[1.0, 1.0], [1.0, 3.0], [5.0, 5.0]])).tolist()
        [True, False, False]
        >>> bool(checkerboard_inside(make_toy("checkerboard", 200, generator=torch.Generator().manual_seed(0))).all())
        True
    """
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"x must have shape (B, 2), got {tuple(x.shape)}")
    inside_box = ((x >= -4.0) & (x < 4.0)).all(dim=1)
    cell = torch.floor(x / 2.0)
    even = (cell[:, 0] + cell[:, 1]).remainder(2.0) == 0
    return inside_box & even


def checkerboard_log_prob(x: Tensor) -> Tensor:
    """Exact log-density of ``checkerboard``, ``(B, 2) -> (B,)``: ``-log 32`` inside a filled square and
    ``-inf`` outside.

    Arguments:
        x: points ``(B, 2)``.

    Returns:
        ``(B,)`` log-densities on ``x``'s device and in its dtype.

    Examples:
        >>> import torch
        >>> from ebmcore.data import checkerboard_log_prob
        >>> lp = checkerboard_log_prob(torch.tensor([[1.0, 1.0], [1.0, 3.0]]))
        >>> round(lp[0].item(), 4), lp[1].item()  # -log 32, then outside
        (-3.4657, -inf)
    """
    inside = checkerboard_inside(x)
    out = torch.full(inside.shape, -math.log(32.0), device=x.device, dtype=x.dtype)
    return out.masked_fill(~inside, float("-inf"))


# --------------------------------------------------------------------------------------------------
# Dataset
# --------------------------------------------------------------------------------------------------


def derive_seed(seed: int, stream: int) -> int:
    """A 63-bit seed for sub-stream ``stream`` of ``seed`` (SplitMix64 finaliser).

    Train/test draws are thus independent and reproducible: ``derive_seed(s, 0)`` is the training stream,
    ``1`` the test stream.

    Arguments:
        seed: the run's (or data set's) seed.
        stream: the sub-stream index.

    Returns:
        A non-negative int below ``2**63`` (valid for ``torch.Generator.manual_seed``).

    Examples:
        >>> from ebmcore.data import derive_seed
        >>> derive_seed(0, 0) == derive_seed(0, 0), derive_seed(0, 0) != derive_seed(0, 1)
        (True, True)
        >>> all(0 <= derive_seed(s, k) < 2**63 for s in range(5) for k in range(3))
        True
    """
    z = (int(seed) * 0x9E3779B97F4A7C15 + (int(stream) + 1) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    z ^= z >> 31
    return z & 0x7FFFFFFFFFFFFFFF


def make_toy_dataset(name: str, *, n_train: int, n_test: int = 0, seed: int = 0, **params: object) -> Dataset:
    """A :class:`~ebmcore.data.dataset.Dataset` of the toy set ``name`` (``kind="points"``).

    ``x`` holds ``n_train`` points drawn with a generator seeded ``derive_seed(seed, 0)``; ``test`` holds
    ``n_test`` points (``None`` if 0) from ``derive_seed(seed, 1)``. Mixture sets set ``log_prob`` (exact)
    and ``mixture``; ``checkerboard`` sets ``log_prob`` to :func:`checkerboard_log_prob`.

    Arguments:
        name: one of :data:`TOY_NAMES`.
        n_train: number of training points.
        n_test: number of held-out points (0: ``test`` is ``None``).
        seed: seed of both streams.
        **params: the set's parameters, as in :func:`make_toy`.

    Returns:
        The :class:`~ebmcore.data.dataset.Dataset`; ``x`` is ``(n_train, 2)``, ``test`` ``(n_test, 2)``.

    Examples:
        >>> import torch
        >>> from ebmcore.data import make_toy_dataset
        >>> ds = make_toy_dataset("8gaussians", n_train=256, n_test=64, seed=1)
        >>> ds.name, ds.kind, tuple(ds.x.shape), tuple(ds.test.shape), ds.mixture.centers.shape[0]
        ('8gaussians', 'points', (256, 2), (64, 2), 8)
        >>> torch.equal(ds.x, make_toy_dataset("8gaussians", n_train=256, seed=1).x)  # reproducible
        True
        >>> tuple(ds.log_prob(ds.test.double()).shape)  # the exact density, (B, 2) -> (B,)
        (64,)
    """
    if name not in TOY_NAMES:
        raise ValueError(f"unknown toy data set {name!r}; valid names: {', '.join(TOY_NAMES)}")
    g_train = torch.Generator().manual_seed(derive_seed(seed, 0))
    x = make_toy(name, n_train, generator=g_train, **dict(params))
    test = None
    if n_test:
        g_test = torch.Generator().manual_seed(derive_seed(seed, 1))
        test = make_toy(name, n_test, generator=g_test, **dict(params))
    log_prob: Callable[[Tensor], Tensor] | None = None
    mixture = None
    if name in MIXTURE_NAMES:
        gm = toy_mixture(name, **dict(params))
        log_prob = gm.log_prob
        mixture = gm.reference()
    elif name == "checkerboard":
        log_prob = checkerboard_log_prob
    return Dataset(x=x, kind="points", log_prob=log_prob, mixture=mixture, test=test, name=name)
