"""What a component factory receives: the build context."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs
import torch

if TYPE_CHECKING:
    from ebmcore._bases import ObjectiveConfig
    from ebmcore.abstract import Energy, Initializer, Objective, Sampler
    from ebmcore.data.dataset import Dataset

__all__ = ["BuildContext"]


@attrs.define(kw_only=True)
class BuildContext:
    """Everything a factory may need, filled in build order: dataset -> energy -> initializer -> sampler
    -> objective.

    Every factory has the signature ``factory(cfg, ctx: BuildContext) -> nn.Module``. Factories must
    create parameters and buffers on ``ctx.device`` with ``ctx.dtype``.

    Attributes:
        device, dtype: where and in what precision to build.
        event_shape: shape of one sample, e.g. ``(2,)`` or ``(1, 8, 8)``.
        num_classes: number of class labels in the data, or ``None``.
        dataset: the training data (used by the data initializer), or ``None``.
        energy, initializer, sampler: the parts built so far.
        build_objective: builds a nested objective config (used by composite objectives).

    Examples:
        >>> import torch
        >>> from ebmcore import BuildContext, PluginHost
        >>> from ebmcore.components.energies import MLPEnergyConfig
        >>> ctx = BuildContext.for_shape((2,), dtype=torch.float64)  # by hand; ebmcore.build fills one per run
        >>> ctx.device, ctx.event_shape, ctx.num_classes, ctx.energy
        (device(type='cpu'), (2,), None, None)
        >>> regs = PluginHost(load_entrypoints=False).registries()
        >>> cfg = MLPEnergyConfig(hidden=(16,))
        >>> energy = regs.energy.for_config(cfg).factory(cfg, ctx)
        >>> energy.event_shape, {p.dtype for p in energy.parameters()}
        ((2,), {torch.float64})
        >>> tuple(energy(torch.zeros(3, 2, dtype=torch.float64)).shape)
        (3,)
    """

    device: torch.device
    dtype: torch.dtype
    event_shape: tuple[int, ...]
    num_classes: int | None = None
    dataset: Dataset | None = None
    energy: Energy | None = None
    initializer: Initializer | None = None
    sampler: Sampler | None = None
    build_objective: Callable[[ObjectiveConfig], Objective] | None = None

    @classmethod
    def for_shape(
        cls,
        event_shape: tuple[int, ...],
        *,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        **parts: object,
    ) -> BuildContext:
        """A context for building components by hand (tests, notebooks)."""
        return cls(device=torch.device(device), dtype=dtype, event_shape=tuple(event_shape), **parts)  # type: ignore[arg-type]
