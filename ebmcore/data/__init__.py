"""Data: the in-memory :class:`Dataset`, 2-D toy sets and offline image loaders.

Importing this package imports neither torchvision nor scikit-learn (loaded lazily where needed).
"""

from ebmcore.data.dataset import Dataset, MixtureReference
from ebmcore.data.images import (
    digits_split_indices,
    load_cifar10,
    load_digits_dataset,
    load_fashion_mnist,
    load_mnist,
    read_idx,
)
from ebmcore.data.toy import (
    MIXTURE_NAMES,
    TOY_NAMES,
    GaussianMixture,
    checkerboard_inside,
    checkerboard_log_prob,
    derive_seed,
    make_toy,
    make_toy_dataset,
    toy_mixture,
)

__all__ = [
    "MIXTURE_NAMES",
    "TOY_NAMES",
    "Dataset",
    "GaussianMixture",
    "MixtureReference",
    "checkerboard_inside",
    "checkerboard_log_prob",
    "derive_seed",
    "digits_split_indices",
    "load_cifar10",
    "load_digits_dataset",
    "load_fashion_mnist",
    "load_mnist",
    "make_toy",
    "make_toy_dataset",
    "read_idx",
    "toy_mixture",
]
