r"""Two-sample metrics and mode statistics for samples of vectors (2-D toy sets and beyond).

All functions are pure torch and compute on the device and in the dtype of their inputs; inputs are
``(n, D)`` (anything with a leading sample dimension is flattened to ``(n, D)``). They are
``O(n^2)`` in memory; keep ``n <= 2000`` (CI uses ``<= 1000``).

References:
    Gretton, Borgwardt, Rasch, Schoelkopf, Smola, "A Kernel Two-Sample Test", JMLR 2012 (MMD, median
    heuristic). Szekely & Rizzo, "Energy statistics", 2013 (energy distance). Bonneel et al., "Sliced and
    Radon Wasserstein Barycenters of Measures", 2015 (sliced Wasserstein). Mode statistics follow the
    VEEGAN / Unrolled-GAN / PacGAN convention (Srivastava et al. 2017; Metz et al. 2017; Lin et al. 2018).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import attrs
import torch
from torch import Tensor

from ebmcore.data.dataset import MixtureReference

__all__ = [
    "ModeStats",
    "checkerboard_share",
    "energy_distance",
    "mmd2",
    "mode_statistics",
    "sliced_wasserstein",
]

#: Epsilon added to both distributions in :attr:`ModeStats.weight_kl`.
KL_EPS = 1e-6


def _flat_pair(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    x = x.reshape(x.shape[0], -1)
    y = y.reshape(y.shape[0], -1)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same event size, got {x.shape[1]} and {y.shape[1]}")
    if x.device != y.device or x.dtype != y.dtype:
        raise ValueError(f"x and y must share device and dtype, got {x.device}/{x.dtype} and {y.device}/{y.dtype}")
    if x.shape[0] < 2 or y.shape[0] < 2:
        raise ValueError("each sample needs at least 2 points")
    return x, y


def _sqdist(a: Tensor, b: Tensor) -> Tensor:
    d2 = a.pow(2).sum(1)[:, None] + b.pow(2).sum(1)[None, :] - 2.0 * a @ b.T
    return d2.clamp_min_(0.0)


def _offdiag_mean(k: Tensor) -> Tensor:
    n = k.shape[0]
    return (k.sum() - k.diagonal().sum()) / (n * (n - 1))


def mmd2(x: Tensor, y: Tensor, *, multipliers: Sequence[float] = (0.25, 0.5, 1.0, 2.0, 4.0)) -> Tensor:
    r"""Unbiased squared maximum mean discrepancy (Gretton et al. 2012) with a sum of RBF kernels.

    :math:`k(a, b) = \sum_j \exp(-\lVert a - b\rVert^2 / (2 h_j^2))`, :math:`h_j = m_j \cdot \mathrm{med}`,
    where med is the median Euclidean distance over all distinct pairs of the pooled sample
    ``cat([x, y])`` and :math:`m_j` are ``multipliers``. Returns the U-statistic
    :math:`\overline{K_{xx}} + \overline{K_{yy}} - 2\overline{K_{xy}}` (diagonals excluded from the first
    two), a 0-d tensor on ``x``'s device/dtype; it can be slightly negative when ``x`` and ``y`` come from
    the same distribution.

    Arguments:
        x: first sample ``(n, D)`` (or ``(n, *event_shape)``, flattened).
        y: second sample ``(m, D)``, same device/dtype as ``x``.
        multipliers: bandwidths of the kernel sum, in units of the median distance.

    Returns:
        0-d tensor on ``x``'s device/dtype: about 0 for equal distributions, larger the more they differ.

    Examples:
        >>> import torch
        >>> from ebmcore.metrics import mmd2
        >>> x, y = torch.randn(200, 2), torch.randn(200, 2)
        >>> abs(mmd2(x, y).item()) < 0.02, mmd2(x, y + 3.0).item() > 1.0
        (True, True)
    """
    x, y = _flat_pair(x, y)
    z = torch.cat([x, y])
    d2 = _sqdist(z, z)
    n_all = z.shape[0]
    offdiag = d2.flatten()[1:].view(n_all - 1, n_all + 1)[:, :-1]  # all entries but the diagonal
    med = offdiag.median().sqrt()
    if not bool(med > 0):
        med = torch.ones_like(med)
    k = torch.zeros_like(d2)
    for m in multipliers:
        k += torch.exp(-d2 / (2.0 * (m * med) ** 2))
    n = x.shape[0]
    kxx, kyy, kxy = k[:n, :n], k[n:, n:], k[:n, n:]
    return _offdiag_mean(kxx) + _offdiag_mean(kyy) - 2.0 * kxy.mean()


def energy_distance(x: Tensor, y: Tensor) -> Tensor:
    r"""Unbiased energy distance (Szekely & Rizzo): :math:`2E\lVert X-Y\rVert - E\lVert X-X'\rVert -
    E\lVert Y-Y'\rVert`, the within-sample means over distinct pairs. 0-d tensor on ``x``'s device/dtype
    (can be slightly negative for equal distributions).

    Arguments:
        x: first sample ``(n, D)`` (or ``(n, *event_shape)``, flattened).
        y: second sample ``(m, D)``, same device/dtype as ``x``.

    Returns:
        0-d tensor on ``x``'s device/dtype.

    Examples:
        >>> import torch
        >>> from ebmcore.metrics import energy_distance
        >>> x, y = torch.randn(200, 2), torch.randn(200, 2)
        >>> abs(energy_distance(x, y).item()) < 0.05, energy_distance(x, y + 3.0).item() > 4.0
        (True, True)
    """
    x, y = _flat_pair(x, y)
    dxy = _sqdist(x, y).sqrt().mean()
    dxx = _offdiag_mean(_sqdist(x, x).sqrt())
    dyy = _offdiag_mean(_sqdist(y, y).sqrt())
    return 2.0 * dxy - dxx - dyy


def _w2sq_1d(px: Tensor, py: Tensor) -> Tensor:
    """Exact squared 2-Wasserstein distance between uniform empirical measures, per column.

    ``px`` ``(n, P)``, ``py`` ``(m, P)`` -> ``(P,)``. Integrates ``(F_x^{-1}(t) - F_y^{-1}(t))^2`` over the
    merged breakpoints ``{i/n} u {j/m}``.
    """
    n, m = px.shape[0], py.shape[0]
    xs = px.sort(dim=0).values
    ys = py.sort(dim=0).values
    if n == m:
        return (xs - ys).pow(2).mean(0)
    dev, dt = px.device, px.dtype
    levels = torch.cat(
        [torch.arange(1, n + 1, device=dev, dtype=dt) / n, torch.arange(1, m + 1, device=dev, dtype=dt) / m]
    ).sort().values
    prev = torch.cat([levels.new_zeros(1), levels[:-1]])
    w = levels - prev
    mid = 0.5 * (levels + prev)
    ix = (mid * n).floor().long().clamp_(0, n - 1)
    iy = (mid * m).floor().long().clamp_(0, m - 1)
    return ((xs[ix] - ys[iy]).pow(2) * w[:, None]).sum(0)


def sliced_wasserstein(
    x: Tensor, y: Tensor, *, n_projections: int = 500, generator: torch.Generator | None = None
) -> Tensor:
    r"""Sliced 2-Wasserstein distance :math:`\big(\mathbb E_\theta W_2^2(\theta^\top x, \theta^\top
    y)\big)^{1/2}`, Monte Carlo over ``n_projections`` uniform directions on the sphere.

    Each 1-D :math:`W_2^2` is exact (quantile matching over merged breakpoints, so ``n != m`` is fine).
    Directions are drawn from ``generator`` (on its own device, then moved to ``x``'s), or from torch's
    global generator on ``x``'s device when ``None``.

    Arguments:
        x: first sample ``(n, D)`` (or ``(n, *event_shape)``, flattened).
        y: second sample ``(m, D)``, same device/dtype as ``x``.
        n_projections: number of random directions.
        generator: source of the directions (``None``: torch's global generator).

    Returns:
        0-d tensor on ``x``'s device/dtype.

    Examples:
        A shift by ``v`` gives :math:`\lVert v\rVert / \sqrt{D}` (``3 / sqrt(2) ~ 2.12`` here), up to Monte Carlo
        error over the directions:

        >>> import torch
        >>> from ebmcore.metrics import sliced_wasserstein
        >>> x = torch.randn(300, 2)
        >>> sliced_wasserstein(x, x)
        tensor(0.)
        >>> sw = sliced_wasserstein(x, x + torch.tensor([3.0, 0.0]), generator=torch.Generator().manual_seed(0))
        >>> round(sw.item(), 1)
        2.1
    """
    x, y = _flat_pair(x, y)
    d = x.shape[1]
    if generator is None:
        theta = torch.randn(d, n_projections, device=x.device, dtype=x.dtype)
    else:
        theta = torch.randn(d, n_projections, generator=generator, device=generator.device, dtype=x.dtype)
        theta = theta.to(x.device)
    theta = theta / theta.norm(dim=0, keepdim=True).clamp_min(1e-12)
    return _w2sq_1d(x @ theta, y @ theta).mean().sqrt()


# --------------------------------------------------------------------------------------------------
# Mode statistics
# --------------------------------------------------------------------------------------------------


@attrs.frozen(eq=False)
class ModeStats:
    """Mode statistics of samples against a Gaussian-mixture ground truth (see :func:`mode_statistics`).

    Attributes:
        counts: ``(K,)`` long, high-quality (HQ) samples per mode: assigned to mode ``k`` (nearest centre)
            and within ``3 std_k`` of it.
        n: number of samples.
        share_within_3std: ``n_HQ / n``.
        weights: ``(K,)`` estimated weights ``counts / n_HQ`` (zeros if ``n_HQ = 0``).
        covered: ``(K,)`` bool, ``counts_k >= coverage_fraction * w_k * n_HQ`` and ``counts_k > 0``.
        modes_covered: ``covered.sum()``.
        n_modes: ``K``.
        coverage_fraction: the threshold used.
        weight_tv: ``0.5 * sum |weights - w|`` (1.0 if ``n_HQ = 0``).
        weight_kl: ``KL(weights || w) = sum (weights+eps) log((weights+eps) / (w+eps))`` with ``eps = 1e-6``
            (``inf`` if ``n_HQ = 0``).
        share_per_mode: ``(K,)`` ``counts / n``: share of *all* samples that are HQ samples of each mode.

    Examples:
        Samples sitting on two of the eight modes of ``8gaussians``:

        >>> from ebmcore.data import toy_mixture
        >>> from ebmcore.metrics import mode_statistics
        >>> ref = toy_mixture("8gaussians").reference()
        >>> stats = mode_statistics(ref.centers[:2].repeat(10, 1), ref)
        >>> stats.n, stats.counts.tolist(), stats.modes_covered, stats.n_modes, stats.weight_tv
        (20, [10, 10, 0, 0, 0, 0, 0, 0], 2, 8, 0.75)
        >>> stats.modes_with_share_above(0.02), stats.share_within_3std
        (2, 1.0)
    """

    counts: Tensor
    n: int
    share_within_3std: float
    weights: Tensor
    covered: Tensor
    modes_covered: int
    n_modes: int
    coverage_fraction: float
    weight_tv: float
    weight_kl: float
    share_per_mode: Tensor

    def modes_with_share_above(self, min_share: float = 0.02) -> int:
        """Number of modes holding more than ``min_share`` of all samples within 3 std (the VAPO/DCD
        convention: a mode is covered if it holds > 2 % of the samples)."""
        return int((self.share_per_mode > min_share).sum())


def mode_statistics(
    samples: Tensor, mixture: MixtureReference, *, coverage_fraction: float = 0.25
) -> ModeStats:
    r"""Mode coverage and weight error of ``samples`` ``(n, D)`` against ``mixture``.

    Each sample is assigned to its nearest centre (Euclidean); it is *high quality* (HQ) if its distance to
    that centre is at most ``3 std_k`` (for a 2-D Gaussian that holds with probability
    :math:`1 - e^{-9/2} \approx 0.989`). Two coverage conventions are reported:

    * CDRL/GEBM (:attr:`ModeStats.modes_covered`): mode ``k`` is covered if its HQ count is at least
      ``coverage_fraction`` (default 0.25) of its fair share ``w_k * n_HQ``.
    * VAPO/DCD (:meth:`ModeStats.modes_with_share_above`): covered if its HQ count exceeds 2 % of *all*
      samples.

    Computed on ``samples``' device and dtype; non-finite samples count as not HQ.

    Arguments:
        samples: ``(n, D)`` samples, ``n >= 1``.
        mixture: the ground truth (e.g. ``Dataset.mixture``).
        coverage_fraction: the CDRL/GEBM threshold, as a fraction of each mode's fair share.

    Returns:
        The :class:`ModeStats`.

    Examples:
        >>> import torch
        >>> from ebmcore.data import make_toy_dataset
        >>> from ebmcore.metrics import mode_statistics
        >>> ds = make_toy_dataset("8gaussians", n_train=2000)
        >>> stats = mode_statistics(ds.x, ds.mixture)  # real data covers every mode, weights close to 1/8
        >>> stats.modes_covered, stats.n_modes, stats.share_within_3std > 0.97, stats.weight_tv < 0.05
        (8, 8, True, True)
        >>> mode_statistics(torch.full((10, 2), float("nan")), ds.mixture).share_within_3std  # never HQ
        0.0
    """
    x = samples.reshape(samples.shape[0], -1)
    c = mixture.centers.to(device=x.device, dtype=x.dtype)
    s = mixture.std.to(device=x.device, dtype=x.dtype)
    w = mixture.weights.to(device=x.device, dtype=x.dtype)
    k_modes = c.shape[0]
    n = x.shape[0]
    if n == 0:
        raise ValueError("mode_statistics needs at least one sample")
    d2 = _sqdist(x.nan_to_num(nan=float("inf")), c)  # (n, K)
    dmin, idx = d2.min(dim=1)
    hq = (dmin <= (3.0 * s[idx]) ** 2) & torch.isfinite(x).all(dim=1)
    counts = torch.zeros(k_modes, dtype=torch.long, device=x.device)
    counts.index_add_(0, idx[hq], torch.ones_like(idx[hq]))
    n_hq = int(counts.sum())
    cf = counts.to(x.dtype)
    if n_hq > 0:
        what = cf / n_hq
        tv = float(0.5 * (what - w).abs().sum())
        kl = float(((what + KL_EPS) * ((what + KL_EPS) / (w + KL_EPS)).log()).sum())
    else:
        what = torch.zeros_like(w)
        tv, kl = 1.0, math.inf
    covered = (cf >= coverage_fraction * w * n_hq) & (counts > 0)
    return ModeStats(
        counts=counts,
        n=n,
        share_within_3std=n_hq / n,
        weights=what,
        covered=covered,
        modes_covered=int(covered.sum()),
        n_modes=k_modes,
        coverage_fraction=float(coverage_fraction),
        weight_tv=tv,
        weight_kl=kl,
        share_per_mode=cf / n,
    )


def checkerboard_share(samples: Tensor) -> float:
    """Fraction of ``samples`` ``(n, 2)`` inside a filled square of the ``checkerboard`` toy set.

    Arguments:
        samples: ``(n, 2)`` points, ``n >= 1``.

    Returns:
        A float in ``[0, 1]``: 1.0 for perfect samples, about 0.5 for uniform noise on ``[-4, 4]^2``.

    Examples:
        >>> import torch
        >>> from ebmcore.data import make_toy
        >>> from ebmcore.metrics import checkerboard_share
        >>> checkerboard_share(make_toy("checkerboard", 500, generator=torch.Generator().manual_seed(0)))
        1.0
        >>> checkerboard_share(torch.tensor([[1.0, 1.0], [1.0, 3.0]]))
        0.5
    """
    from ebmcore.data.toy import checkerboard_inside

    if samples.shape[0] == 0:
        raise ValueError("checkerboard_share needs at least one sample")
    return float(checkerboard_inside(samples.reshape(samples.shape[0], -1)).to(torch.float64).mean())
