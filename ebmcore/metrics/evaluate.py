"""One call that computes every cheap metric that applies to a data set: :func:`evaluate_samples`."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from ebmcore.data.dataset import Dataset

__all__ = ["DIGITS_FID_MAX_N", "evaluate_samples"]

#: DigitsFID uses at most this many samples (the largest N with a tabulated floor).
DIGITS_FID_MAX_N = 898


def _subsample(x: Tensor, k: int, generator: torch.Generator) -> Tensor:
    if x.shape[0] <= k:
        return x
    idx = torch.randperm(x.shape[0], generator=generator)[:k]
    return x[idx.to(x.device)]


def evaluate_samples(
    dataset: Dataset,
    samples: Tensor,
    *,
    energy_fn: Callable[..., Tensor] | None = None,
    max_points: int = 2000,
    generator: torch.Generator | None = None,
    grid_kw: dict | None = None,
) -> dict[str, float]:
    """Metrics of ``samples`` ``(n, *event_shape)`` against ``dataset``; a flat ``{name: float}``.

    Always: ``count_nonfinite`` (samples with any non-finite entry) and ``n_evaluated``. All other metrics
    use the finite samples only (so always read them together with ``count_nonfinite``); with fewer than 2
    finite samples they are ``nan``. At most ``max_points`` samples and reference points are used, drawn
    with ``generator`` (default: a CPU generator seeded 0, so the call is deterministic). The reference is
    ``dataset.test`` if present, else ``dataset.x``.

    ``kind="points"``: ``mmd2``, ``energy_distance``, ``sliced_wasserstein`` (see
    :mod:`ebmcore.metrics.samples`). With a mixture: ``modes_covered``, ``n_modes``, ``share_within_3std``,
    ``weight_kl``, ``weight_tv`` (CDRL/GEBM convention, 25 % of the fair share) and ``modes_share_gt_2pct``
    (VAPO/DCD convention), ``weight_max_abs_error`` (largest ``|estimated weight - true weight|`` among the
    high-quality samples), ``mode_share_min``/``mode_share_max`` (smallest/largest share of all samples
    within 3 std of one mode). ``checkerboard``: ``checkerboard_share``. With ``energy_fn`` and ``D == 2``:
    ``nll_grid`` (exact test NLL by grid quadrature on the reference points, ``grid_kw`` passed to
    :func:`~ebmcore.metrics.grid.grid_nll`), and ``nll_true`` (mean ``-log p``) when ``dataset.log_prob`` is
    known; with a mixture also ``grid_weight_tv`` (total variation between the EBM's own mode masses, by
    grid normalisation, and the true weights), ``grid_weight_min`` (smallest model mode mass),
    ``grid_weight_max_abs_error`` and, for at most 8 modes, each mode's mass ``grid_weight_<k>``.

    ``kind="image"``: for ``(1, 8, 8)`` digits ``digits_fid``, ``digits_fid_floor``, ``digits_fid_floor_n``,
    ``class_tv``, ``confidence``, ``class_share_<k>`` (the judge's predicted share of digit k, k = 0..9),
    ``class_share_max`` (largest predicted-class share) and
    ``classes_over_3pct`` (classes holding more than 3 % of samples) (:func:`~ebmcore.metrics.fid.digits_fid`
    on at most 898 samples); for other
    images ``mmd2`` on flattened pixels.

    Arguments:
        dataset: the data set the samples should match (its ``kind``, ``mixture``, ``log_prob``, ``test``
            choose the metrics).
        samples: ``(n, *event_shape)`` generated samples.
        energy_fn: the model's energy ``(B, 2) -> (B,)`` for the grid metrics (2-D only), or ``None``.
        max_points: at most this many samples and reference points are used.
        generator: CPU generator for the subsampling and projections (default: seeded 0).
        grid_kw: keywords for :func:`~ebmcore.metrics.grid.grid_nll` and
            :func:`~ebmcore.metrics.grid.grid_mode_weights` (``box``, ``n_grid``, ...).

    Returns:
        ``{metric name: float}``.

    Examples:
        Real training points of ``8gaussians`` judged against its test points, with the true energy
        ``-log p`` as the model (so the grid NLL equals the true NLL):

        >>> import torch
        >>> from ebmcore.data import make_toy_dataset
        >>> from ebmcore.metrics import evaluate_samples
        >>> ds = make_toy_dataset("8gaussians", n_train=500, n_test=500)
        >>> samples = torch.cat([ds.x, torch.full((1, 2), float("nan"))])  # one broken sample
        >>> m = evaluate_samples(ds, samples, energy_fn=lambda x: -ds.log_prob(x), grid_kw={"n_grid": 200})
        >>> m["count_nonfinite"], m["n_evaluated"], m["modes_covered"], m["n_modes"]
        (1.0, 500.0, 8.0, 8.0)
        >>> abs(m["mmd2"]) < 0.01, abs(m["nll_grid"] - m["nll_true"]) < 1e-3, m["grid_weight_tv"] < 1e-3
        (True, True, True)
    """
    from ebmcore.metrics.samples import (
        checkerboard_share,
        energy_distance,
        mmd2,
        mode_statistics,
        sliced_wasserstein,
    )

    g = generator if generator is not None else torch.Generator().manual_seed(0)
    flat = samples.reshape(samples.shape[0], -1)
    finite = torch.isfinite(flat).all(dim=1)
    out: dict[str, float] = {"count_nonfinite": float((~finite).sum())}
    x = samples[finite]
    out["n_evaluated"] = float(min(x.shape[0], max_points))
    ref_all = dataset.test if dataset.test is not None else dataset.x
    ref = _subsample(ref_all, max_points, g).to(device=samples.device, dtype=samples.dtype)
    enough = x.shape[0] >= 2

    if dataset.kind == "image":
        if tuple(samples.shape[1:]) == (1, 8, 8):
            names = ("digits_fid", "digits_fid_floor", "digits_fid_floor_n", "class_tv", "confidence",
                     "class_share_max", "classes_over_3pct")
            if enough:
                from ebmcore.metrics.fid import digits_fid

                r = digits_fid(_subsample(x, min(max_points, DIGITS_FID_MAX_N), g))
                hist = torch.as_tensor(r.class_histogram, dtype=torch.float64)
                share = hist / hist.sum()
                vals = (r.fid, r.floor, float(r.floor_n), r.class_tv, r.confidence,
                        float(share.max()), float((share > 0.03).sum()))
                out.update(zip(names, vals, strict=True))
                out.update({f"class_share_{k}": float(v) for k, v in enumerate(share)})
            else:
                out.update(dict.fromkeys(names, math.nan))
        else:
            out["mmd2"] = float(mmd2(_subsample(x, max_points, g), ref)) if enough else math.nan
        return out

    xs = _subsample(x, max_points, g)
    if enough:
        out["mmd2"] = float(mmd2(xs, ref))
        out["energy_distance"] = float(energy_distance(xs, ref))
        out["sliced_wasserstein"] = float(sliced_wasserstein(xs, ref, generator=g))
    else:
        out.update(dict.fromkeys(("mmd2", "energy_distance", "sliced_wasserstein"), math.nan))
    if dataset.mixture is not None:
        keys = ("modes_covered", "n_modes", "share_within_3std", "weight_kl", "weight_tv", "modes_share_gt_2pct")
        if xs.shape[0] > 0:
            ms = mode_statistics(xs, dataset.mixture)
            vals = (ms.modes_covered, ms.n_modes, ms.share_within_3std, ms.weight_kl, ms.weight_tv,
                    ms.modes_with_share_above(0.02))
            out.update({k: float(v) for k, v in zip(keys, vals, strict=True)})
            w_true = dataset.mixture.weights.to(ms.weights)
            out["weight_max_abs_error"] = float((ms.weights - w_true).abs().max()) if ms.counts.sum() > 0 else 1.0
            out["mode_share_min"] = float(ms.share_per_mode.min())
            out["mode_share_max"] = float(ms.share_per_mode.max())
        else:
            out.update(dict.fromkeys((*keys, "weight_max_abs_error", "mode_share_min", "mode_share_max"), math.nan))
    if dataset.name == "checkerboard":
        out["checkerboard_share"] = checkerboard_share(xs) if xs.shape[0] > 0 else math.nan
    d = ref_all.reshape(ref_all.shape[0], -1).shape[1]
    if energy_fn is not None and d == 2:
        from ebmcore.metrics.grid import grid_nll

        test = _subsample(ref_all, max_points, g)
        kw = dict(grid_kw or {})
        if not isinstance(energy_fn, torch.nn.Module):  # a module's own device/dtype is used otherwise
            kw.setdefault("device", samples.device)
        out["nll_grid"] = grid_nll(energy_fn, test, **kw)
        if dataset.mixture is not None:
            from ebmcore.metrics.grid import grid_mode_weights

            w_model = grid_mode_weights(energy_fn, dataset.mixture, **kw).to(torch.float64).cpu()
            w_true = dataset.mixture.weights.to(torch.float64).cpu()
            out["grid_weight_tv"] = float(0.5 * (w_model - w_true).abs().sum())
            out["grid_weight_min"] = float(w_model.min())
            out["grid_weight_max_abs_error"] = float((w_model - w_true).abs().max())
            if w_model.numel() <= 8:
                out.update({f"grid_weight_{k}": float(w) for k, w in enumerate(w_model)})
        if dataset.log_prob is not None:
            t64 = test.to(torch.float64)
            out["nll_true"] = float(-dataset.log_prob(t64).mean())
    return out
