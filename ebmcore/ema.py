"""Exponential moving average of a group's weights."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

import torch
from torch import Tensor, nn

__all__ = ["EMA"]


class EMA:
    r"""Shadow weights :math:`\bar\theta \leftarrow d\,\bar\theta + (1 - d)\,\theta` for named parameters.

    Arguments:
        params: ``name -> parameter`` (names as in the run's ``state_dict``).
        decay: EMA decay ``d`` in (0, 1).

    Examples:
        >>> import torch
        >>> from ebmcore.ema import EMA
        >>> layer = torch.nn.Linear(1, 1, bias=False)
        >>> _ = torch.nn.init.zeros_(layer.weight)
        >>> ema = EMA(dict(layer.named_parameters()), decay=0.9)
        >>> _ = torch.nn.init.ones_(layer.weight)  # a training step moves the weight from 0 to 1
        >>> ema.update()  # shadow = 0.9 * 0 + 0.1 * 1
        >>> round(ema.shadow["weight"].item(), 4)
        0.1
        >>> with ema.applied():  # sample or evaluate with the EMA weights
        ...     print(round(layer.weight.item(), 4))
        0.1
        >>> layer.weight.item(), list(ema.state_dict())  # the training weights are back
        (1.0, ['weight'])
    """

    def __init__(self, params: Mapping[str, nn.Parameter], decay: float) -> None:
        self.decay = decay
        self.params = dict(params)
        self.shadow = {k: p.detach().clone() for k, p in self.params.items()}

    @torch.no_grad()
    def update(self) -> None:
        names = list(self.params)
        shadow = [self.shadow[k] for k in names]
        torch._foreach_lerp_(shadow, [self.params[k].detach() for k in names], 1.0 - self.decay)

    @contextlib.contextmanager
    def applied(self) -> Iterator[None]:
        """Swap the EMA weights in for the duration of the block."""
        backup = {k: p.detach().clone() for k, p in self.params.items()}
        with torch.no_grad():
            for k, p in self.params.items():
                p.copy_(self.shadow[k])
        try:
            yield
        finally:
            with torch.no_grad():
                for k, p in self.params.items():
                    p.copy_(backup[k])

    def state_dict(self) -> dict[str, Tensor]:
        return dict(self.shadow)

    def load_state_dict(self, state: Mapping[str, Tensor]) -> None:
        missing = set(self.shadow) - set(state)
        if missing:
            raise KeyError(f"EMA state lacks {sorted(missing)}")
        for k in self.shadow:
            self.shadow[k].copy_(state[k])
