"""Registration, the role contracts, the recipe's config and the docstrings of ebmcore-nce."""

from __future__ import annotations

import inspect

import ebmcore_nce
import pytest
import torch
from ebmcore_nce import plugin

from ebmcore import Objective, Sampler, structure_config, unstructure_config
from ebmcore.testing.contract import check_component
from ebmcore.testing.docstrings import docstring_problems, public_objects, run_examples


def test_the_plugin_registers_through_its_hooks(ebm_regs, register_plugin, ebm_host):
    assert "nce" not in ebm_regs.objective  # the fixture host has core only
    record = register_plugin(plugin, name="nce")
    assert record.ok and record.hooks == [
        "ebmcore_register_objectives", "ebmcore_register_recipes", "ebmcore_register_samplers"]
    regs = ebm_host.registries()
    assert regs.objective.get("nce").provenance.plugin == "nce"
    assert regs.sampler.get("rwm").config_cls is ebmcore_nce.RWMSamplerConfig
    assert "nce-8gaussians" in regs.recipe


@pytest.mark.parametrize(("role", "name"), [("objective", "nce"), ("sampler", "rwm")])
def test_component_contract(nce_regs, role, name, ebm_device, ebm_dtype):
    check_component(nce_regs.role(role).get(name), nce_regs, ebm_device, ebm_dtype)


def test_recipe_structures_and_round_trips(nce_regs):
    recipe = nce_regs.recipe.get("nce-8gaussians")
    cfg = structure_config(recipe.config, nce_regs)
    assert type(cfg.objective) is ebmcore_nce.NCEObjectiveConfig and type(cfg.sampler) is ebmcore_nce.RWMSamplerConfig
    assert structure_config(unstructure_config(cfg, nce_regs), nce_regs) == cfg


PUBLIC = public_objects(["ebmcore_nce"])


def test_every_name_in_all_is_checked():
    assert sorted(obj.__name__ for obj in PUBLIC.values()) == sorted(ebmcore_nce.__all__)


@pytest.mark.parametrize("key", sorted(PUBLIC))
def test_public_docstrings_follow_the_format_and_their_examples_run(key):
    obj = PUBLIC[key]
    implements_a_paper = inspect.isclass(obj) and issubclass(obj, (Objective, Sampler))
    assert docstring_problems(obj, needs_reference=implements_a_paper) == []
    result = run_examples(obj, setup=lambda: torch.manual_seed(0))
    assert result.attempted > 0 and result.failed == 0, f"{key}: {result} (output above)"
