"""Tests of the core initializers (Gaussian, uniform, data, replay buffer)."""

from __future__ import annotations

import cattrs
import pytest
import torch

from ebmcore.abstract import Initializer
from ebmcore.components.initializers import (
    DataInitializer,
    DataInitializerConfig,
    GaussianInitializer,
    GaussianInitializerConfig,
    ReplayBufferInitializer,
    ReplayBufferInitializerConfig,
    UniformInitializer,
    UniformInitializerConfig,
    build_data_initializer,
    build_gaussian_initializer,
    build_replay_buffer,
    build_uniform_initializer,
)
from ebmcore.context import BuildContext
from ebmcore.data.dataset import Dataset

torch.set_num_threads(1)


def test_gaussian_initializer():
    ctx = BuildContext.for_shape((1, 4, 4), dtype=torch.float64)
    init = build_gaussian_initializer(GaussianInitializerConfig(mean=2.0, std=0.5), ctx)
    assert isinstance(init, Initializer) and init.event_shape == (1, 4, 4)
    torch.manual_seed(0)
    x = init.init(5000)
    assert x.shape == (5000, 1, 4, 4) and x.dtype == torch.float64
    assert abs(x.mean().item() - 2.0) < 0.02 and abs(x.std().item() - 0.5) < 0.02
    torch.manual_seed(0)
    assert torch.equal(init.init(5000), x)
    assert init.state_dict() == {}  # the anchor is not saved


def test_gaussian_initializer_is_a_density_initializer():
    from ebmcore.abstract import DensityInitializer

    init = GaussianInitializer((3,), mean=1.0, std=2.0, dtype=torch.float64)
    assert isinstance(init, DensityInitializer)
    torch.manual_seed(0)
    x, lq = init.sample_with_log_prob(50)
    expected = torch.distributions.Normal(1.0, 2.0).log_prob(x).sum(1)
    torch.testing.assert_close(lq, expected)
    torch.testing.assert_close(init.log_prob(x), expected)


def test_experiment_model_energy_defaults_to_the_energy(ebm_regs):
    from ebmcore import build, structure_config

    cfg = {"data": {"name": "8gaussians", "n_train": 64, "n_test": 16}, "energy": {"name": "mlp"},
           "initializer": {"name": "gaussian"}, "sampler": {"name": "langevin"},
           "objective": {"name": "contrastive_divergence"}, "device": "cpu"}
    exp = build(structure_config(cfg, ebm_regs), regs=ebm_regs)
    assert exp.objective.model_energy() is None
    assert exp.model_energy is exp.energy


def test_uniform_initializer_and_to():
    init = build_uniform_initializer(UniformInitializerConfig(low=-2.0, high=3.0), BuildContext.for_shape((3,)))
    x = init.init(4000)
    assert x.shape == (4000, 3) and x.dtype == torch.float32
    assert x.min() >= -2.0 and x.max() <= 3.0
    assert abs(x.mean().item() - 0.5) < 0.1
    init.to(torch.float64)  # the anchor follows .to()
    assert init.init(2).dtype == torch.float64
    with pytest.raises(ValueError):
        UniformInitializerConfig(low=1.0, high=1.0)


def test_plain_construction_without_config():
    g = GaussianInitializer((2, 3), std=2.0, dtype=torch.float64)
    u = UniformInitializer((4,), low=0.0, high=1.0)
    assert g.init(3).shape == (3, 2, 3) and g.init(3).dtype == torch.float64
    assert u.init(0).shape == (0, 4)
    with pytest.raises(ValueError):
        GaussianInitializer((2,), std=-1.0)
    with pytest.raises(ValueError):
        UniformInitializer((2,), low=1.0, high=0.0)


def test_data_initializer():
    data = torch.arange(20, dtype=torch.float32).reshape(10, 2)
    ds = Dataset(x=data)
    ctx = BuildContext.for_shape((2,), dtype=torch.float64, dataset=ds)
    init = build_data_initializer(DataInitializerConfig(), ctx)
    assert init.event_shape == (2,)
    x = init.init(50)
    assert x.shape == (50, 2) and x.dtype == torch.float64
    rows = {tuple(r) for r in data.tolist()}
    assert all(tuple(r) in rows for r in x.tolist())
    noisy = DataInitializer(data, noise_std=0.1).init(50)
    assert not all(tuple(r) in rows for r in noisy.tolist())
    d = (noisy[:, None, :] - data[None]).norm(dim=-1).min(1).values
    assert d.max() < 1.0
    assert init.state_dict() == {}  # the data are not saved in checkpoints
    with pytest.raises(ValueError, match="data set"):
        build_data_initializer(DataInitializerConfig(), BuildContext.for_shape((2,)))


def test_data_initializer_deterministic():
    data = torch.randn(100, 3)
    init = DataInitializer(data, noise_std=0.05)
    torch.manual_seed(3)
    a = init.init(10)
    torch.manual_seed(3)
    assert torch.equal(a, init.init(10))


# --- replay buffer -----------------------------------------------------------------------------------


def test_replay_buffer_lazy_fill_and_write_back():
    torch.manual_seed(0)
    rb = ReplayBufferInitializer((2,), capacity=100, reinit_prob=0.0, fresh="uniform", scale=1.0)
    x = rb.init(100)
    assert x.shape == (100, 2)
    assert x.abs().max() <= 1.0  # all fresh (empty buffer)
    assert rb.last_reinit_fraction == 1.0
    rb.observe(x + 100.0)
    assert rb.n_filled.item() == 100
    y = rb.init(30)
    assert rb.last_reinit_fraction == 0.0
    assert (y > 50).all()  # all come back from the buffer
    # the stored states are exactly the observed ones
    stored = {tuple(r) for r in (x + 100.0).tolist()}
    assert all(tuple(r) in stored for r in y.tolist())


def test_replay_buffer_slots_distinct_and_observe_checks():
    rb = ReplayBufferInitializer((3,), capacity=64)
    with pytest.raises(RuntimeError, match="init"):
        rb.observe(torch.zeros(4, 3))
    rb.init(64)
    assert rb._slots is not None and rb._slots.unique().numel() == 64
    with pytest.raises(ValueError, match="shape"):
        rb.observe(torch.zeros(5, 3))
    rb.observe(torch.zeros(64, 3))
    # more states than slots: works, first `capacity` rows written back
    big = rb.init(150)
    assert big.shape == (150, 3)
    rb.observe(torch.ones(150, 3))
    assert rb.filled.all() and torch.equal(rb.buffer, torch.ones(64, 3))


def test_replay_buffer_reinit_ratio():
    torch.manual_seed(0)
    rb = build_replay_buffer(
        ReplayBufferInitializerConfig(capacity=4000, reinit_prob=0.1, fresh="gaussian", scale=0.5),
        BuildContext.for_shape((2,)),
    )
    rb.observe(rb.init(4000) * 0 + 10.0)  # fill every slot with far-away states
    fracs = []
    for _ in range(5):
        x = rb.init(2000)
        fresh = (x - 10.0).flatten(1).norm(dim=1) > 1e-6
        torch.testing.assert_close(fresh.float().mean(), rb.last_reinit_fraction)
        fracs.append(fresh.float().mean().item())
        rb.observe(x * 0 + 10.0)
    assert abs(sum(fracs) / len(fracs) - 0.1) < 0.02
    assert x[fresh].std().item() == pytest.approx(0.5, rel=0.2)


def test_replay_buffer_state_dict_round_trip_and_reproducibility():
    ctx = BuildContext.for_shape((1, 4, 4), dtype=torch.float64)
    cfg = ReplayBufferInitializerConfig(capacity=50, reinit_prob=0.2)
    torch.manual_seed(0)
    rb = build_replay_buffer(cfg, ctx)
    for _ in range(3):
        x = rb.init(20)
        rb.observe(x + torch.randn_like(x))
    state = rb.state_dict()
    assert set(state) == {"buffer", "filled"}
    assert state["buffer"].dtype == torch.float64 and state["buffer"].shape == (50, 1, 4, 4)

    other = build_replay_buffer(cfg, ctx)
    other.load_state_dict(state)
    torch.manual_seed(42)
    a = rb.init(20)
    torch.manual_seed(42)
    b = other.init(20)
    assert torch.equal(a, b)
    rb.observe(a * 2)
    other.observe(b * 2)
    assert torch.equal(rb.buffer, other.buffer) and torch.equal(rb.filled, other.filled)


def test_initializer_configs_round_trip():
    conv = cattrs.Converter(forbid_extra_keys=True)
    for cfg in (
        GaussianInitializerConfig(std=2.0),
        UniformInitializerConfig(low=0.0),
        DataInitializerConfig(noise_std=0.01),
        ReplayBufferInitializerConfig(fresh="gaussian", reinit_prob=0.1),
    ):
        assert conv.structure(conv.unstructure(cfg), type(cfg)) == cfg
    with pytest.raises(ValueError):
        ReplayBufferInitializerConfig(reinit_prob=1.5)
    with pytest.raises(ValueError):
        ReplayBufferInitializerConfig(fresh="laplace")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        GaussianInitializerConfig(std=0.0)
