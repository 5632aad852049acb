"""The in-memory dataset every data plugin returns."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import attrs
import torch
from torch import Tensor

__all__ = ["Dataset", "MixtureReference"]


@attrs.frozen(eq=False)
class MixtureReference:
    """Ground truth of an isotropic Gaussian mixture, for mode statistics and exact NLL.

    Attributes:
        centers: ``(K, D)`` mode centres.
        std: per-mode standard deviation, ``(K,)``.
        weights: mixture weights, ``(K,)``, summing to 1.

    Examples:
        >>> import torch
        >>> from ebmcore.data import MixtureReference, make_toy_dataset
        >>> ref = MixtureReference(centers=torch.tensor([[-2.0, 0.0], [2.0, 0.0]]), std=torch.full((2,), 0.1),
        ...                        weights=torch.tensor([0.5, 0.5]))
        >>> ref.centers.shape
        torch.Size([2, 2])
        >>> mixture = make_toy_dataset("8gaussians", n_train=16).mixture  # what mixture toy sets carry
        >>> tuple(mixture.centers.shape), tuple(mixture.std.shape), float(mixture.weights.sum())
        ((8, 2), (8,), 1.0)
    """

    centers: Tensor
    std: Tensor
    weights: Tensor


@attrs.frozen(eq=False)
class Dataset:
    """A data set held in memory as one tensor (toy sets, digits, MNIST, CIFAR-10 all fit).

    Attributes:
        x: training points, ``(N, *event_shape)``, float32 on CPU. Images are scaled to ``[-1, 1]``.
        y: class labels ``(N,)`` long, or ``None``.
        kind: ``"points"`` (vectors; 2-D toy sets get scatter plots and grid NLL) or ``"image"``.
        num_classes: number of classes when ``y`` is given.
        log_prob: exact data log-density ``(B, D) -> (B,)`` when known (toy sets), else ``None``.
        mixture: mixture ground truth for mode statistics, else ``None``.
        test: held-out points for NLL/metrics, same layout as ``x``, or ``None``.
        name: the registry name it was built from.

    Examples:
        >>> import torch
        >>> from ebmcore.data import Dataset
        >>> ds = Dataset(x=torch.randn(100, 2), y=torch.randint(0, 4, (100,)), num_classes=4, name="demo")
        >>> len(ds), ds.event_shape, ds.kind
        (100, (2,), 'points')
        >>> x, y = ds.random_batch(8, torch.device("cpu"))  # drawn with replacement
        >>> tuple(x.shape), tuple(y.shape)
        ((8, 2), (8,))
    """

    x: Tensor
    y: Tensor | None = None
    kind: Literal["points", "image"] = "points"
    num_classes: int | None = None
    log_prob: Callable[[Tensor], Tensor] | None = None
    mixture: MixtureReference | None = None
    test: Tensor | None = None
    name: str = ""

    @property
    def event_shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape[1:])

    def __len__(self) -> int:
        return self.x.shape[0]

    def random_batch(self, batch_size: int, device: torch.device) -> tuple[Tensor, Tensor | None]:
        """A batch drawn with replacement from torch's global generator; ``(x, y)`` moved to ``device``."""
        idx = torch.randint(len(self), (batch_size,))
        x = self.x[idx].to(device, non_blocking=True)
        y = None if self.y is None else self.y[idx].to(device, non_blocking=True)
        return x, y
