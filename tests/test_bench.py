"""``ebm bench quality``: the plan built from bench-tagged recipes, a tiny end-to-end run, resumption,
failure isolation and the generated markdown block."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

from ebmcore import bench as qb
from ebmcore import hookimpl
from ebmcore.cli import main


def test_plan_takes_core_baselines_and_replaces_only_the_data(ebm_regs):
    cells = qb.bench_plan(ebm_regs, steps=7, seed=3, n_samples=50)
    keys = {c.key for c in cells}
    # CD has a 2-D template only; PCD also has the digits recipe
    assert {f"cd/{d}" for d in qb.DATASETS if d != "digits"} <= keys and "cd/digits" not in keys
    assert "pcd/digits" in keys
    cell = next(c for c in cells if c.key == "cd/rings")
    template = ebm_regs.recipe.get("cd-8gaussians").config
    assert cell.config["data"] == qb.DATASETS["rings"]
    assert cell.config["energy"] == template["energy"] and cell.config["sampler"] == template["sampler"]
    assert cell.config["trainer"]["steps"] == 7 and cell.config["seed"] == 3
    assert cell.config["eval"]["n_samples"] == 50
    assert template["data"]["name"] == "8gaussians"  # the registered recipe is not mutated


def test_plan_errors_name_the_valid_choices(ebm_regs):
    with pytest.raises(ValueError, match="unknown benchmark data set.*swirl.*8gaussians"):
        qb.bench_plan(ebm_regs, datasets=["swirl"])
    with pytest.raises(ValueError, match=r"unknown method.*nope.*installed: \['CD', 'PCD'\]"):
        qb.bench_plan(ebm_regs, methods=["nope"])


def test_a_plugin_enters_the_benchmark_through_its_recipe_tag(ebm_regs, register_plugin, ebm_host):
    class Plugin:
        @hookimpl
        def ebmcore_register_recipes(self, registry):
            cfg = dict(ebm_regs.recipe.get("cd-8gaussians").config)
            registry.add("mine-toy", cfg, summary="x", bench="Mine")

    register_plugin(Plugin(), name="mine")
    regs = ebm_host.registries()
    cells = qb.bench_plan(regs, datasets=["moons"], methods=["mine"])
    assert [(c.method, c.dataset, c.recipe) for c in cells] == [("Mine", "moons", "mine-toy")]


def test_recipe_bench_tag_is_validated(ebm_regs):
    with pytest.raises(TypeError, match="bench must be a non-empty method name"):
        ebm_regs.recipe.add("bad", {}, bench="  ")


def test_tiny_run_writes_table_pictures_and_resumes(ebm_regs, register_plugin, ebm_host, tmp_path):
    class Broken:  # a recipe whose objective does not exist: its cell fails, the others still run
        @hookimpl
        def ebmcore_register_recipes(self, registry):
            cfg = dict(ebm_regs.recipe.get("cd-8gaussians").config)
            registry.add("broken-toy", {**cfg, "objective": {"name": "no_such_objective"}}, bench="Broken")

    register_plugin(Broken(), name="broken")
    regs = ebm_host.registries()
    cells = qb.bench_plan(regs, datasets=["8gaussians", "2modes"], methods=["CD", "Broken"], steps=4, n_samples=64)
    results = tmp_path / "results.md"
    results.write_text("# Results\n\nbefore\n")
    logs: list[str] = []
    records = qb.run_quality(regs, tmp_path / "out", cells=cells, results=results, log=logs.append)

    by_key = {(r["method"], r["dataset"]): r for r in records}
    assert by_key[("Broken", "8gaussians")]["error"].startswith("ConfigError")
    ok = by_key[("CD", "2modes")]
    assert ok["error"] is None and ok["steps"] == 4 and ok["n_samples"] == 64
    m = ok["metrics"]
    assert math.isfinite(m["mmd2"]) and math.isfinite(m["nll_grid"]) and m["n_modes"] == 2
    assert 0.0 <= m["weight_max_abs_error"] <= 1.0 and 0.0 <= m["grid_weight_max_abs_error"] <= 1.0
    assert ok["train_s"] > 0 and ok["sample_s"] > 0
    assert (tmp_path / "out" / "img" / "cd.png").stat().st_size > 0
    assert not (tmp_path / "out" / "img" / "broken.png").exists()

    text = results.read_text()
    assert text.startswith("# Results\n\nbefore\n") and qb.BEGIN in text and qb.END in text
    rows = [line for line in text.splitlines() if line.startswith(("| CD |", "| Broken |"))]
    assert len(rows) == 4 and sum("failed: ConfigError" in r for r in rows) == 2
    assert "](img/bench/cd.png)" in text and (tmp_path / "img" / "bench" / "cd.png").stat().st_size > 0

    # a second run reuses every finished cell (records and all) and rewrites the block in place
    again = qb.run_quality(regs, tmp_path / "out", cells=cells, results=results, log=logs.append)
    assert sum("reused" in line for line in logs) == len(cells)
    assert json.dumps(again, sort_keys=True) == json.dumps(records, sort_keys=True)
    assert results.read_text().count(qb.BEGIN) == 1

    # a changed plan (another step budget) is never answered with a stale result
    changed = qb.bench_plan(regs, datasets=["2modes"], methods=["CD"], steps=5, n_samples=64)
    logs.clear()
    (rec,) = qb.run_quality(regs, tmp_path / "out", cells=changed, log=logs.append)
    assert "another config; re-running" in logs[0] and rec["steps"] == 5 and rec["config"]["trainer"]["steps"] == 5


def test_write_between_markers_keeps_the_rest(tmp_path):
    path = tmp_path / "r.md"
    path.write_text("head\n")
    qb.write_between_markers(path, "one\n")
    path.write_text(path.read_text() + "tail\n")
    qb.write_between_markers(path, "two\n")
    assert path.read_text() == f"head\n\n{qb.BEGIN}\ntwo\n{qb.END}\ntail\n"


def test_cli_lists_the_quick_plan():
    res = CliRunner().invoke(main, ["bench", "quality", "--quick", "--method", "CD", "--list"])
    assert res.exit_code == 0, res.output
    assert res.output.split() == ["cd/8gaussians", "cd-8gaussians", "steps=300", "cd/2modes", "cd-8gaussians", "steps=300"]
    bad = CliRunner().invoke(main, ["bench", "quality", "--data", "swirl", "--list"])
    assert bad.exit_code == 2 and "unknown benchmark data set" in bad.output


def test_every_bench_tag_names_a_recipe_of_its_module():
    """A misspelt BENCH key would silently leave a method out of the benchmark."""
    import importlib

    for module in ["ebmcore.components.recipes", *(f"ebmcore_{p}.recipes" for p in ("cdrl", "dcd", "gebm", "nfmle", "vapo"))]:
        try:
            recipes = importlib.import_module(module)
        except ImportError:
            continue
        assert set(recipes.BENCH) <= set(recipes.RECIPES), f"{module}: {set(recipes.BENCH) - set(recipes.RECIPES)}"
