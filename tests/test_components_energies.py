"""Tests of the core energies (MLPEnergy, ConvEnergy)."""

from __future__ import annotations

import attrs
import cattrs
import pytest
import torch

from ebmcore.abstract import NULL_LABEL, Energy, energy_and_grad, sampling_mode
from ebmcore.components.energies import (
    ConvEnergy,
    ConvEnergyConfig,
    MLPEnergy,
    MLPEnergyConfig,
    build_conv_energy,
    build_mlp_energy,
)
from ebmcore.components.samplers import LangevinSampler
from ebmcore.context import BuildContext

torch.set_num_threads(1)

SMALL_CONV = dict(channels=(8, 16, 16))


@pytest.mark.parametrize("shape", [(2,), (5,), (1, 8, 8)])
def test_mlp_shapes(shape):
    ctx = BuildContext.for_shape(shape)
    e = build_mlp_energy(MLPEnergyConfig(hidden=(32, 32)), ctx)
    assert isinstance(e, Energy)
    assert e.event_shape == shape
    assert e.conditions == frozenset()
    out = e(torch.randn(7, *shape))
    assert out.shape == (7,)
    assert out.dtype == torch.float32


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32)])
def test_conv_shapes(shape):
    e = build_conv_energy(ConvEnergyConfig(**SMALL_CONV), BuildContext.for_shape(shape))
    assert e.event_shape == shape
    out = e(torch.randn(3, *shape))
    assert out.shape == (3,)


def test_conv_rejects_vectors_and_wrong_inputs():
    with pytest.raises(ValueError, match="image"):
        ConvEnergy((2,))
    e = ConvEnergy((1, 8, 8), **SMALL_CONV)
    with pytest.raises(ValueError, match="shape"):
        e(torch.randn(2, 1, 9, 9))
    m = MLPEnergy((2,), hidden=(8,))
    with pytest.raises(ValueError, match="shape"):
        m(torch.randn(2, 3))


@pytest.mark.parametrize("builder,cfg,shape", [
    (
        build_mlp_energy,
        MLPEnergyConfig(hidden=(16, 16), time_conditioned=True, num_classes=3, spectral_norm=True),
        (2,),
    ),
    (build_conv_energy, ConvEnergyConfig(channels=(4, 8), time_conditioned=True, num_classes=3, spectral_norm=True),
     (1, 8, 8)),
])
def test_float64_kept(builder, cfg, shape):
    e = builder(cfg, BuildContext.for_shape(shape, dtype=torch.float64))
    assert all(p.dtype == torch.float64 for p in e.parameters())
    assert all(b.dtype == torch.float64 for b in e.buffers() if b.is_floating_point())
    x = torch.randn(4, *shape, dtype=torch.float64)
    out = e(x, t=torch.rand(4, dtype=torch.float64), y=torch.tensor([0, 1, 2, NULL_LABEL]))
    assert out.dtype == torch.float64 and out.shape == (4,)
    _, g = energy_and_grad(e, x, {"t": torch.rand(4, dtype=torch.float64), "y": torch.zeros(4, dtype=torch.long)})
    assert g.dtype == torch.float64 and g.shape == x.shape


@pytest.mark.parametrize("make", [
    lambda: MLPEnergy((2,), hidden=(16, 16), time_conditioned=True, num_classes=3),
    lambda: ConvEnergy((1, 8, 8), channels=(4, 8), time_conditioned=True, num_classes=3),
])
def test_gradients_reach_all_parameters(make):
    e = make()
    shape = e.event_shape
    x = torch.randn(6, *shape)
    y = torch.tensor([0, 1, 2, NULL_LABEL, 0, 1])
    e(x, t=torch.rand(6), y=y).sum().backward()
    for name, p in e.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_determinism_under_seed():
    def make():
        torch.manual_seed(123)
        return MLPEnergy((3,), hidden=(16, 16)), ConvEnergy((1, 8, 8), **SMALL_CONV)

    (m1, c1), (m2, c2) = make(), make()
    for a, b in [(m1, m2), (c1, c2)]:
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys()
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    x = torch.randn(4, 3)
    assert torch.equal(m1(x), m2(x))


def test_time_condition():
    torch.manual_seed(0)
    e = MLPEnergy((2,), hidden=(32, 32), time_conditioned=True)
    assert e.conditions == frozenset({"t"})
    x = torch.randn(5, 2)
    a = e(x, t=torch.zeros(5))
    b = e(x, t=torch.full((5,), 0.5))
    assert a.shape == (5,)
    assert not torch.allclose(a, b)
    with pytest.raises(ValueError, match="time-conditioned"):
        e(x)
    with pytest.raises(TypeError, match="does not accept"):
        e(x, t=torch.zeros(5), y=torch.zeros(5, dtype=torch.long))


def test_label_condition_and_null_label():
    torch.manual_seed(0)
    for e in (MLPEnergy((2,), hidden=(16,), num_classes=4), ConvEnergy((1, 8, 8), channels=(4,), num_classes=4)):
        assert e.conditions == frozenset({"y"})
        x = torch.randn(4, *e.event_shape)
        null = torch.full((4,), NULL_LABEL)
        # missing y means the null label (unconditional)
        assert torch.equal(e(x), e(x, y=null))
        assert not torch.allclose(e(x, y=torch.zeros(4, dtype=torch.long)), e(x, y=null))
        with pytest.raises(TypeError, match="does not accept"):
            e(x, t=torch.zeros(4))


def test_unconditional_energy_rejects_conditions():
    e = MLPEnergy((2,), hidden=(8,))
    with pytest.raises(TypeError, match="accepts none"):
        e(torch.randn(3, 2), y=torch.zeros(3, dtype=torch.long))


def test_spectral_norm_frozen_in_sampling_mode():
    torch.manual_seed(0)
    e = MLPEnergy((2,), hidden=(16, 16), spectral_norm=True)
    c = ConvEnergy((1, 8, 8), channels=(4, 8), spectral_norm=True)
    for mod, x in [(e, torch.randn(8, 2)), (c, torch.randn(8, 1, 8, 8))]:
        assert any("parametrizations" in k for k in mod.state_dict())
        before = {k: v.clone() for k, v in mod.state_dict().items()}
        with sampling_mode(mod):
            energy_and_grad(mod, x)
            energy_and_grad(mod, x)
        after = mod.state_dict()
        assert all(torch.equal(before[k], after[k]) for k in before)  # no power iteration while sampling
        assert mod.training  # mode restored
        for _ in range(30):  # training-mode forwards run the power iteration
            mod(x)
        for layer in (mod.layers if mod is e else [s[0] for s in mod.stages]):
            w = layer.weight.detach().flatten(1)
            assert torch.linalg.matrix_norm(w, ord=2) < 1.05


def test_config_validation_and_json_round_trip():
    with pytest.raises(ValueError):
        MLPEnergyConfig(hidden=())
    with pytest.raises(ValueError):
        MLPEnergyConfig(hidden=(16, 0))
    with pytest.raises(ValueError):
        MLPEnergyConfig(activation="sigmoid")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        MLPEnergyConfig(fourier_dim=7)
    with pytest.raises(ValueError):
        ConvEnergyConfig(num_classes=0)
    conv = cattrs.Converter(forbid_extra_keys=True)
    for cfg in (MLPEnergyConfig(hidden=(8, 8), num_classes=3, time_conditioned=True),
                ConvEnergyConfig(channels=(4, 8), activation="leaky_relu")):
        data = conv.unstructure(cfg)
        assert conv.structure(data, type(cfg)) == cfg
        assert attrs.has(type(cfg))
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        MLPEnergyConfig().hidden = (1,)  # type: ignore[misc]


def test_num_classes_checked_against_data():
    ctx = BuildContext.for_shape((2,), num_classes=10)
    with pytest.raises(ValueError, match="classes"):
        build_mlp_energy(MLPEnergyConfig(num_classes=5), ctx)
    assert build_mlp_energy(MLPEnergyConfig(num_classes=10, hidden=(8,)), ctx).conditions == {"y"}


def test_time_conditioned_energy_under_sampler():
    torch.manual_seed(0)
    e = MLPEnergy((2,), hidden=(16,), time_conditioned=True)
    x0 = torch.randn(5, 2)
    with sampling_mode(e):
        res = LangevinSampler(step_size=0.01, n_steps=3).sample(e, x0, {"t": torch.rand(5)})
    assert res.x.shape == (5, 2)
    with pytest.raises(ValueError, match="time-conditioned"):
        LangevinSampler(step_size=0.01, n_steps=1).sample(e, x0)


def test_mlp_confinement_adds_a_quadratic_well():
    from ebmcore.components.energies import MLPEnergy

    torch.manual_seed(0)
    plain = MLPEnergy((2,), hidden=(8,))
    torch.manual_seed(0)
    confined = MLPEnergy((2,), hidden=(8,), confinement=1 / 72)
    x = torch.randn(5, 2) * 10
    assert torch.allclose(confined(x) - plain(x), x.pow(2).sum(1) / 72)
