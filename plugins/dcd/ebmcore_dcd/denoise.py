r"""Denoising under a trained energy: MAP or posterior-mean estimates of :math:`x` from :math:`y = x + \sigma n`.

The posterior energy is :math:`U(x\mid y) = E_\theta(x) + \|x - y\|^2/(2\sigma^2)` (method notes B.6). ``map`` runs
gradient descent on :math:`U` (step ``step_frac`` :math:`\cdot\sigma^2`, states clamped to ``clamp`` during the
descent); ``posterior_mean`` averages the last half of a Langevin chain on :math:`U` over ``n_chains`` chains.
Quality is reported as PSNR with a peak-to-peak range of 2 (data in :math:`[-1, 1]`).

Reference: Luo et al., arXiv 2307.01668 (the denoising experiment, protocol reconstructed in the notes).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ebmcore import EnergyFn, energy_and_grad
from ebmcore_dcd.diffusion import tethered

__all__ = ["denoise", "psnr"]


def psnr(x: Tensor, ref: Tensor, *, peak_to_peak: float = 2.0) -> float:
    """Peak signal-to-noise ratio in dB over the whole batch: ``10 log10(range² / MSE)``.

    Arguments:
        x: estimates ``(B, *event)``.
        ref: the clean references, same shape as ``x``.
        peak_to_peak: the data range (2 for data in ``[-1, 1]``).

    Returns:
        The PSNR in dB, a float (identical inputs raise ``ZeroDivisionError``: the MSE is 0).

    Examples:
        >>> import torch
        >>> from ebmcore_dcd import psnr
        >>> ref = torch.zeros(4, 3)
        >>> round(psnr(ref + 0.1, ref), 2)  # 10 log10(4 / 0.01)
        26.02
    """
    mse = float((x - ref).pow(2).mean())
    return 10.0 * math.log10(peak_to_peak**2 / mse)


def denoise(
    energy: EnergyFn,
    y: Tensor,
    sigma: float,
    *,
    method: str = "map",
    n_steps: int = 200,
    step_frac: float = 0.1,
    clamp: tuple[float, float] = (-1.5, 1.5),
    n_chains: int = 8,
) -> Tensor:
    """Denoise ``y`` ``(B, *event)`` observed with Gaussian noise ``sigma``; returns ``(B, *event)`` clamped to [-1, 1].

    See the module docstring for the posterior energy :math:`U(x\\mid y)`.

    Arguments:
        energy: the prior energy :math:`E_\\theta`, ``(B, *event) -> (B,)``.
        y: noisy observations ``(B, *event)``.
        sigma: the noise standard deviation :math:`\\sigma`.
        method: ``map`` (gradient descent on :math:`U`) or ``posterior_mean`` (Langevin chains on :math:`U`,
            averaged over their last half and over the chains).
        n_steps: descent or Langevin steps.
        step_frac: the step as a fraction of :math:`\\sigma^2`.
        clamp: the range the states are clamped to during the iterations.
        n_chains: Langevin chains per observation (``posterior_mean``).

    Returns:
        The denoised states ``(B, *event)``, clamped to ``[-1, 1]``.

    Examples:
        >>> import torch
        >>> from ebmcore_dcd import denoise
        >>> def prior(x, **cond):  # a standard Gaussian prior: the MAP estimate is y / (1 + sigma^2)
        ...     return 0.5 * x.pow(2).sum(1)
        >>> y = torch.tensor([[0.5, -0.25]])
        >>> torch.allclose(denoise(prior, y, 0.5), y / 1.25, atol=1e-4)
        True
        >>> tuple(denoise(prior, y, 0.5, method="posterior_mean", n_steps=20, n_chains=4).shape)
        (1, 2)
        >>> denoise(prior, y, 0.5, method="median")
        Traceback (most recent call last):
        ...
        ValueError: method must be 'map' or 'posterior_mean', got 'median'
    """
    eta = step_frac * sigma**2
    if method == "map":
        u = tethered(energy, y, sigma**2)
        x = y.detach().clone()
        for _ in range(n_steps):
            _, g = energy_and_grad(u, x)
            x = (x - eta * g).clamp(*clamp)
        return x.clamp(-1.0, 1.0)
    if method != "posterior_mean":
        raise ValueError(f"method must be 'map' or 'posterior_mean', got {method!r}")
    y_rep = y.repeat(n_chains, *([1] * (y.dim() - 1)))
    u = tethered(energy, y_rep, sigma**2)
    x = y_rep.detach().clone()
    total = torch.zeros_like(x)
    kept = 0
    for i in range(n_steps):
        _, g = energy_and_grad(u, x)
        x = (x - eta * g + math.sqrt(2 * eta) * torch.randn_like(x)).clamp(*clamp)
        if i >= n_steps // 2:
            total += x
            kept += 1
    return (total / kept).view(n_chains, *y.shape).mean(0).clamp(-1.0, 1.0)
