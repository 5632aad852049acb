"""Config: strict structuring, all errors at once with paths, round trips, files and overrides."""

from __future__ import annotations

import json

import pytest

from ebmcore import ConfigError, RunConfig, apply_overrides, read_config_file, structure_config, unstructure_config

BASE = {
    "data": {"name": "8gaussians"},
    "energy": {"name": "mlp", "hidden": [32, 32]},
    "initializer": {"name": "gaussian"},
    "sampler": {"name": "langevin", "n_steps": 5},
    "objective": {"name": "contrastive_divergence", "alpha": 0.1},
    "trainer": {"steps": 10},
}


def _errors(data, regs):
    with pytest.raises(ConfigError) as exc:
        structure_config(data, regs)
    return exc.value.lines


def test_valid_config_structures_and_round_trips(ebm_regs):
    cfg = structure_config(BASE, ebm_regs)
    assert isinstance(cfg, RunConfig) and cfg.energy.hidden == (32, 32)
    again = structure_config(unstructure_config(cfg, ebm_regs), ebm_regs)
    assert again == cfg
    assert unstructure_config(cfg, ebm_regs)["sampler"]["name"] == "langevin"


def test_every_recipe_structures_and_round_trips(ebm_regs):
    for recipe in ebm_regs.recipe:
        cfg = structure_config(recipe.config, ebm_regs)
        assert structure_config(unstructure_config(cfg, ebm_regs), ebm_regs) == cfg, recipe.name


def test_all_problems_reported_at_once_with_paths(ebm_regs):
    bad = json.loads(json.dumps(BASE))
    bad["sampler"] = {"name": "hcm"}
    bad["energy"]["hidden"] = "wide"
    bad["energy"]["hiden"] = [1]
    bad["objective"]["alpha"] = -1.0
    bad["trainer"]["stepz"] = 3
    bad["seed"] = "zero"
    lines = _errors(bad, ebm_regs)
    text = "\n".join(lines)
    assert "unknown sampler 'hcm' (did you mean 'hmc'?)" in text and "@ $.sampler" in text
    assert "@ $.energy.hidden" in text
    assert "hiden" in text and "@ $.energy" in text
    assert "'alpha' must be >= 0" in text and "@ $.objective" in text
    assert "stepz" in text and "@ $.trainer" in text
    assert "@ $.seed" in text
    assert len(lines) >= 6


def test_missing_name_lists_choices(ebm_regs):
    bad = dict(BASE, sampler={"n_steps": 3})
    text = "\n".join(_errors(bad, ebm_regs))
    assert "missing 'name'" in text and "'langevin'" in text and "@ $.sampler" in text


def test_nested_weighted_sum_errors_have_deep_paths(ebm_regs):
    bad = dict(BASE, objective={"name": "weighted_sum", "terms": [
        {"objective": {"name": "contrastive_divergence", "alpha": "x"}},
        {"weight": 0.1, "objective": {"name": "energy_l3"}},
    ]})
    text = "\n".join(_errors(bad, ebm_regs))
    assert "@ $.objective.terms[0].objective.alpha" in text
    assert "unknown objective 'energy_l3' (did you mean 'energy_l2'?)" in text
    assert "@ $.objective.terms[1].objective" in text


def test_bad_choice_names_valid_choices(ebm_regs):
    bad = dict(BASE, dtype="float16")
    text = "\n".join(_errors(bad, ebm_regs))
    assert "@ $.dtype" in text and "float32" in text


def test_overrides(ebm_regs):
    data = apply_overrides(BASE, ["trainer.steps=2000", "sampler.step_size=0.01", "energy.hidden=[64,64]",
                                   "trainer.optimizer.lr=3e-4", "device=cpu"])
    cfg = structure_config(data, ebm_regs)
    assert cfg.trainer.steps == 2000 and cfg.sampler.step_size == 0.01 and cfg.energy.hidden == (64, 64)
    assert cfg.trainer.optimizer.lr == 3e-4 and cfg.device == "cpu"
    assert BASE["trainer"]["steps"] == 10  # input untouched
    with pytest.raises(ConfigError, match="dotted.path=value"):
        apply_overrides(BASE, ["trainer.steps"])


@pytest.mark.parametrize("suffix", [".json", ".toml", ".yaml"])
def test_config_files(tmp_path, ebm_regs, suffix):
    path = tmp_path / f"run{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(BASE))
    elif suffix == ".yaml":
        import yaml

        path.write_text(yaml.safe_dump(BASE))
    else:
        path.write_text(
            '[data]\nname = "8gaussians"\n[energy]\nname = "mlp"\nhidden = [32, 32]\n'
            '[initializer]\nname = "gaussian"\n[sampler]\nname = "langevin"\nn_steps = 5\n'
            '[objective]\nname = "contrastive_divergence"\nalpha = 0.1\n[trainer]\nsteps = 10\n'
        )
    assert structure_config(read_config_file(path), ebm_regs) == structure_config(BASE, ebm_regs)


def test_unreadable_config_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="cannot parse"):
        read_config_file(bad)
    with pytest.raises(ConfigError, match="not found"):
        read_config_file(tmp_path / "missing.yaml")


def test_fixed_choices_types_and_validators_name_the_field(ebm_regs):
    bad = dict(BASE, sampler={"name": "langevin", "clip_mode": "foo"}, dtype="half",
               trainer={"steps": True, "batch_size": 10.5, "optimizer": {"betas": [0.9, 1.5]}})
    text = "\n".join(_errors(bad, ebm_regs))
    assert "must be one of ['norm', 'value'], got 'foo' @ $.sampler.clip_mode" in text
    assert "must be one of ['float32', 'float64', 'bfloat16'], got 'half' @ $.dtype" in text
    assert "expected an integer, got True @ $.trainer.steps" in text
    assert "expected an integer, got 10.5 @ $.trainer.batch_size" in text
    assert "'betas' must each be in [0, 1), got [0.9, 1.5] @ $.trainer.optimizer.betas" in text
    text = "\n".join(_errors(dict(BASE, sampler={"name": "langevin", "step_size": -1}), ebm_regs))
    assert "'step_size' must be > 0: -1.0 @ $.sampler.step_size" in text


def test_an_in_validator_error_is_one_line_with_the_choices(ebm_host, register_plugin):
    """attrs' ``in_`` validator puts the attribute object into its exception; the message must not."""
    import attrs
    from attrs import validators as v

    from ebmcore import ObjectiveConfig, hookimpl

    @attrs.frozen(kw_only=True)
    class ModeConfig(ObjectiveConfig):
        mode: str = attrs.field(default="a", validator=v.in_(("a", "b")))

    class ModePlugin:
        @hookimpl
        def ebmcore_register_objectives(self, registry):
            registry.add("moded", ModeConfig, lambda cfg, ctx: None)

    register_plugin(ModePlugin(), name="moded")
    lines = _errors({**BASE, "objective": {"name": "moded", "mode": "x"}}, ebm_host.registries())
    assert lines == ["'mode' must be in ('a', 'b') (got 'x') @ $.objective.mode"]
