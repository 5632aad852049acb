"""Configs and factories of core's data sets (toy 2-D sets, digits, MNIST, Fashion-MNIST, CIFAR-10).

A data-set factory is ``factory(cfg, seed) -> ebmcore.data.Dataset``; the run's seed makes every draw
reproducible. Definitions of every set are in ``ebmcore.data.toy.make_toy`` and ``docs/data_and_metrics.md``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import attrs
from attrs import validators as v

from ebmcore._bases import DatasetConfig
from ebmcore.data.dataset import Dataset

__all__ = ["DATASETS"]


@attrs.frozen(kw_only=True)
class _ToyConfig(DatasetConfig):
    """Common fields of toy sets: sizes of the fixed training and test draws.

    Attributes:
        n_train: number of training points (drawn once, from the run's seed).
        n_test: number of held-out points used by evaluation (0: evaluate against the training draw).
    """

    n_train: int = attrs.field(default=50_000, validator=v.ge(1))
    n_test: int = attrs.field(default=5_000, validator=v.ge(0))


@attrs.frozen(kw_only=True)
class EightGaussiansConfig(_ToyConfig):
    """8 Gaussians on a circle. Defaults are FFJORD's (radius 4/√2, std 0.5/√2); CDRL/GEBM use 2 and 0.15.

    Attributes:
        radius: distance of the 8 equally weighted centres from the origin.
        std: standard deviation of each component.
    """

    radius: float = attrs.field(default=4.0 / math.sqrt(2.0), validator=v.gt(0))
    std: float = attrs.field(default=0.5 / math.sqrt(2.0), validator=v.gt(0))


@attrs.frozen(kw_only=True)
class TwentyFiveGaussiansConfig(_ToyConfig):
    """25 Gaussians on the grid ``spacing * {-2..2}²``.

    Attributes:
        spacing: distance between neighbouring centres.
        std: standard deviation of each component.
    """

    spacing: float = attrs.field(default=2.0, validator=v.gt(0))
    std: float = attrs.field(default=0.05, validator=v.gt(0))


@attrs.frozen(kw_only=True)
class GaussianMixtureConfig(_ToyConfig):
    """An isotropic 2-D Gaussian mixture with user-given centres, weights (uniform if omitted) and std.

    Attributes:
        centers: the component means, ``[[x, y], ...]``.
        weights: mixture weights (normalised), one per centre; ``None``: uniform.
        std: standard deviation of every component.
    """

    centers: tuple[tuple[float, float], ...] = attrs.field(validator=v.min_len(1))
    weights: tuple[float, ...] | None = attrs.field(default=None)
    std: float = attrs.field(default=0.5, validator=v.gt(0))

    @weights.validator
    def _check_weights(self, attribute: attrs.Attribute[object], value: tuple[float, ...] | None) -> None:
        if value is None:
            return
        if len(value) != len(self.centers):
            raise ValueError(f"'weights' has {len(value)} entries but there are {len(self.centers)} centers")
        if any(w < 0 for w in value) or sum(value) <= 0:
            raise ValueError(f"'weights' must be non-negative with a positive sum, got {list(value)}")


@attrs.frozen(kw_only=True)
class CheckerboardConfig(_ToyConfig):
    """Uniform on the 8 filled squares of a checkerboard on ``[-4, 4)²``."""


@attrs.frozen(kw_only=True)
class NoisyToyConfig(_ToyConfig):
    """Base of toy sets with one ``noise`` parameter.

    Attributes:
        noise: standard deviation of the Gaussian noise added to each point.
    """

    noise: float = attrs.field(default=0.1, validator=v.ge(0))


@attrs.frozen(kw_only=True)
class RingsConfig(NoisyToyConfig):
    """Four concentric rings (radius 3, 2.25, 1.5, 0.75)."""

    noise: float = attrs.field(default=0.08, validator=v.ge(0))


@attrs.frozen(kw_only=True)
class MoonsConfig(NoisyToyConfig):
    """Two interleaved half circles (scikit-learn's make_moons, ×2, shifted)."""


@attrs.frozen(kw_only=True)
class TwoSpiralsConfig(NoisyToyConfig):
    """Two spirals (FFJORD's 2spirals)."""


@attrs.frozen(kw_only=True)
class SwissRollConfig(NoisyToyConfig):
    """The 2-D Swiss roll (make_swiss_roll coordinates 0 and 2, /5)."""

    noise: float = attrs.field(default=1.0, validator=v.ge(0))


@attrs.frozen(kw_only=True)
class CirclesConfig(NoisyToyConfig):
    """Two concentric circles (make_circles ×3).

    Attributes:
        factor: radius of the inner circle relative to the outer one (0 < factor < 1).
    """

    noise: float = attrs.field(default=0.08, validator=v.ge(0))
    factor: float = attrs.field(default=0.5, validator=[v.gt(0), v.lt(1)])


@attrs.frozen(kw_only=True)
class PinwheelConfig(_ToyConfig):
    """FFJORD's pinwheel.

    Attributes:
        num_arms: number of arms.
        radial_std: radial standard deviation of the points before the twist.
        tangential_std: tangential standard deviation of the points before the twist.
        rate: how fast the angle grows with the radius (the twist).
    """

    num_arms: int = attrs.field(default=5, validator=v.ge(1))
    radial_std: float = attrs.field(default=0.3, validator=v.ge(0))
    tangential_std: float = attrs.field(default=0.1, validator=v.ge(0))
    rate: float = 0.25


@attrs.frozen(kw_only=True)
class DigitsConfig(DatasetConfig):
    """scikit-learn's 8×8 digits (1,797 images, UCI test set), scaled to [-1, 1], labels 0..9.

    Attributes:
        test_fraction: stratified held-out share (0: train on all 1,797 images).
        split_seed: seed of the stratified split, independent of the run's seed. With the defaults
            ``test_fraction=0.5, split_seed=0`` the training half is the DigitsFID judge's training half
            H1 and the held-out half is H2, the half its reference statistics come from, so a model
            trained on H1 is scored against digits it never saw.
    """

    test_fraction: float = attrs.field(default=0.5, validator=[v.ge(0), v.lt(1)])
    split_seed: int = 0


@attrs.frozen(kw_only=True)
class LocalImagesConfig(DatasetConfig):
    """An image set read from a local folder in torchvision's layout (never downloaded).

    Attributes:
        root: the folder holding ``MNIST/raw``, ``FashionMNIST/raw`` or ``cifar-10-batches-py``.
    """

    root: str = "data"


@attrs.frozen(kw_only=True)
class MNISTConfig(LocalImagesConfig):
    """MNIST from ``<root>/MNIST/raw`` (IDX files, raw or .gz)."""


@attrs.frozen(kw_only=True)
class FashionMNISTConfig(LocalImagesConfig):
    """Fashion-MNIST from ``<root>/FashionMNIST/raw``."""


@attrs.frozen(kw_only=True)
class CIFAR10Config(LocalImagesConfig):
    """CIFAR-10 from ``<root>/cifar-10-batches-py`` (python pickles: use trusted files only)."""


def _toy(name: str) -> Callable[[_ToyConfig, int], Dataset]:
    def factory(cfg: _ToyConfig, seed: int) -> Dataset:
        from ebmcore.data.toy import make_toy_dataset

        params = attrs.asdict(cfg, recurse=False)
        n_train, n_test = params.pop("n_train"), params.pop("n_test")
        if name == "gmm":
            params["centers"] = [list(c) for c in params["centers"]]
            if params["weights"] is None:
                params.pop("weights")
            else:
                params["weights"] = list(params["weights"])
        return make_toy_dataset(name, n_train=n_train, n_test=n_test, seed=seed, **params)

    return factory


def _digits(cfg: DigitsConfig, seed: int) -> Dataset:
    from ebmcore.data.images import load_digits_dataset

    return load_digits_dataset(test_fraction=cfg.test_fraction, seed=cfg.split_seed)


def _local(loader_name: str) -> Callable[[LocalImagesConfig, int], Dataset]:
    def factory(cfg: LocalImagesConfig, seed: int) -> Dataset:
        from ebmcore.data import images

        dataset: Dataset = getattr(images, loader_name)(cfg.root)
        return dataset

    return factory


#: name -> (config class, factory, summary), registered by core's plugin.
DATASETS: dict[str, tuple[type[DatasetConfig], Callable[..., Dataset], str]] = {
    "8gaussians": (EightGaussiansConfig, _toy("8gaussians"), "8 Gaussians on a circle (FFJORD radius/std by default)."),
    "25gaussians": (TwentyFiveGaussiansConfig, _toy("25gaussians"), "25 Gaussians on a 5x5 grid."),
    "gmm": (GaussianMixtureConfig, _toy("gmm"), "2-D Gaussian mixture with user-given centres and weights."),
    "checkerboard": (CheckerboardConfig, _toy("checkerboard"), "Uniform on 8 checkerboard squares."),
    "rings": (RingsConfig, _toy("rings"), "Four concentric rings."),
    "moons": (MoonsConfig, _toy("moons"), "Two moons."),
    "2spirals": (TwoSpiralsConfig, _toy("2spirals"), "Two spirals."),
    "swissroll": (SwissRollConfig, _toy("swissroll"), "2-D Swiss roll."),
    "circles": (CirclesConfig, _toy("circles"), "Two concentric circles."),
    "pinwheel": (PinwheelConfig, _toy("pinwheel"), "Pinwheel with five arms."),
    "digits": (DigitsConfig, _digits, "scikit-learn 8x8 digits in [-1, 1] (offline real images; DigitsFID judge split)."),
    "mnist": (MNISTConfig, _local("load_mnist"), "MNIST from a local folder (torchvision layout, no download)."),
    "fashion_mnist": (FashionMNISTConfig, _local("load_fashion_mnist"), "Fashion-MNIST from a local folder."),
    "cifar10": (CIFAR10Config, _local("load_cifar10"), "CIFAR-10 from a local folder (python pickles)."),
}
