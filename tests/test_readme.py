"""The README's examples work as written."""

from __future__ import annotations

import pathlib
import re

import yaml

from ebmcore import structure_config

README = (pathlib.Path(__file__).parents[1] / "README.md").read_text()


def _blocks(lang):
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def test_python_example_runs():
    (code,) = _blocks("python")
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert set(namespace["out"].losses) == {"energy"}
    assert all(p.grad is not None for p in namespace["energy"].parameters())
    assert "term1/energy_l2" in namespace["out"].metrics


def test_yaml_examples_are_valid_configs(ebm_regs):
    full, composed = _blocks("yaml")
    cfg = yaml.safe_load(full)
    assert structure_config(cfg, ebm_regs).sampler.n_steps == 20
    cfg["objective"] = yaml.safe_load(composed)["objective"]
    assert len(structure_config(cfg, ebm_regs).objective.terms) == 3


def test_quick_start_is_two_commands():
    (block,) = [b for b in _blocks("bash") if "setup.sh" in b]
    commands = [ln for ln in block.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    assert len(commands) == 2
    assert commands[0].startswith("bash scripts/setup.sh") and "pytest" in commands[1]
