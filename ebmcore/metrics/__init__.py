"""Metrics: two-sample distances and mode statistics, exact 2-D NLL by grid quadrature, DigitsFID and
offline Inception FID, and :func:`evaluate_samples`.

Importing this package imports neither torchvision nor clean-fid (Inception FID loads them lazily).
"""

from ebmcore.metrics.evaluate import evaluate_samples
from ebmcore.metrics.fid import (
    DigitsJudge,
    DigitsJudgeBundle,
    FIDResult,
    JudgeIntegrityError,
    digits_fid,
    feature_statistics,
    frechet_distance,
    inception_fid,
    load_digits_judge,
)
from ebmcore.metrics.grid import grid_log_normalizer, grid_mode_weights, grid_nll
from ebmcore.metrics.samples import (
    ModeStats,
    checkerboard_share,
    energy_distance,
    mmd2,
    mode_statistics,
    sliced_wasserstein,
)

__all__ = [
    "DigitsJudge",
    "DigitsJudgeBundle",
    "FIDResult",
    "JudgeIntegrityError",
    "ModeStats",
    "checkerboard_share",
    "digits_fid",
    "energy_distance",
    "evaluate_samples",
    "feature_statistics",
    "frechet_distance",
    "grid_log_normalizer",
    "grid_mode_weights",
    "grid_nll",
    "inception_fid",
    "load_digits_judge",
    "mmd2",
    "mode_statistics",
    "sliced_wasserstein",
]
