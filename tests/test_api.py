"""The public surface: explicit, complete, and the optional capability protocols are checkable."""

from __future__ import annotations

import torch

import ebmcore
from ebmcore import DensityInitializer, Initializer, LatentInitializer, StateInitializer


def test_all_is_complete_and_importable():
    assert sorted(ebmcore.__all__) == sorted(set(ebmcore.__all__))
    for name in ebmcore.__all__:
        assert hasattr(ebmcore, name), name
    assert isinstance(ebmcore.__version__, str)


class _Flow(Initializer):
    """A diagonal Gaussian 'flow': enough to exercise DensityInitializer."""

    def __init__(self):
        super().__init__()
        self.event_shape = (2,)
        self.log_std = torch.nn.Parameter(torch.zeros(2))

    def init(self, n, cond=None):
        return self.sample_with_log_prob(n)[0]

    def sample_with_log_prob(self, n, cond=None):
        x = torch.randn(n, 2, dtype=self.log_std.dtype) * self.log_std.exp()
        return x, self.log_prob(x)

    def log_prob(self, x, cond=None):
        z = x / self.log_std.exp()
        return -0.5 * z.pow(2).sum(1) - self.log_std.sum() - torch.log(torch.tensor(2 * torch.pi))


def test_capability_protocols_are_runtime_checkable():
    flow = _Flow()
    assert isinstance(flow, DensityInitializer)
    assert not isinstance(flow, LatentInitializer) and not isinstance(flow, StateInitializer)
    x, log_q = flow.sample_with_log_prob(5)
    assert x.shape == (5, 2) and torch.allclose(log_q, flow.log_prob(x))
