"""Registries: provenance, duplicates, unknown names."""

from __future__ import annotations

import attrs
import pytest

from ebmcore import (
    DuplicateComponentError,
    EnergyConfig,
    Provenance,
    SamplerConfig,
    UnknownComponentError,
)
from ebmcore._registry import ComponentRegistry


@attrs.frozen(kw_only=True)
class _CfgA(SamplerConfig):
    step: float = 0.1


@attrs.frozen(kw_only=True)
class _CfgB(SamplerConfig):
    pass


def _factory(cfg, ctx):  # pragma: no cover - never called
    raise AssertionError


def test_duplicate_name_names_both_plugins():
    reg = ComponentRegistry("sampler")
    reg.view(Provenance("alpha", "ebmcore-alpha", "1.0")).add("hmc", _CfgA, _factory)
    with pytest.raises(DuplicateComponentError) as exc:
        reg.view(Provenance("beta", "ebmcore-beta", "2.0")).add("hmc", _CfgB, _factory)
    msg = str(exc.value)
    assert "'hmc'" in msg and "alpha (ebmcore-alpha 1.0)" in msg and "beta (ebmcore-beta 2.0)" in msg


def test_same_config_class_twice_is_an_error():
    reg = ComponentRegistry("sampler")
    reg.add("one", _CfgA, _factory)
    with pytest.raises(DuplicateComponentError, match="_CfgA"):
        reg.add("two", _CfgA, _factory)


def test_unknown_name_suggests_and_lists():
    reg = ComponentRegistry("sampler")
    reg.add("hmc", _CfgA, _factory)
    reg.add("langevin", _CfgB, _factory)
    with pytest.raises(UnknownComponentError) as exc:
        reg.get("hcm")
    msg = str(exc.value)
    assert "did you mean 'hmc'" in msg and "['hmc', 'langevin']" in msg and "ebm plugins" in msg


def test_config_class_must_match_role():
    @attrs.frozen(kw_only=True)
    class WrongRole(EnergyConfig):
        pass

    reg = ComponentRegistry("sampler")
    with pytest.raises(TypeError, match="SamplerConfig"):
        reg.add("x", WrongRole, _factory)


def test_provenance_recorded_and_names_filtered():
    reg = ComponentRegistry("sampler")
    reg.view(Provenance("alpha", "ebmcore-alpha", "1.0")).add("hmc", _CfgA, _factory, summary=" HMC ")
    comp = reg.get("hmc")
    assert comp.provenance.distribution == "ebmcore-alpha" and comp.summary == "HMC"
    assert reg.for_config(_CfgA()) is comp
    assert reg.names("h*") == ["hmc"] and reg.names("x*") == []


def test_core_components_have_provenance(ebm_regs):
    names = {c.name: c for c in ebm_regs.components()}
    for expected in ["mlp", "conv", "langevin", "mala", "hmc", "contrastive_divergence", "weighted_sum",
                     "gaussian", "uniform", "data", "replay_buffer", "8gaussians", "digits"]:
        assert expected in names, expected
        assert names[expected].provenance.plugin == "ebmcore"
        assert names[expected].provenance.distribution == "ebmcore"
    assert "cd-8gaussians" in ebm_regs.recipe
