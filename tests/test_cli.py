"""The `ebm` command line, end to end (in process, small runs)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from ebmcore.cli import main

FAST = ["trainer.steps=6", "trainer.checkpoint_every=3", "trainer.batch_size=32", "eval.n_samples=200",
        "data.n_train=1000", "data.n_test=200", "sampler.n_steps=3", "trainer.plot_samples=100"]


def test_help_for_every_command():
    runner = CliRunner()
    for cmd in ["plugins", "recipes", "config", "train", "sample", "eval"]:
        out = runner.invoke(main, [cmd, "--help"])
        assert out.exit_code == 0 and "Usage" in out.output and len(out.output) > 100, cmd


def test_plugins_lists_core_with_provenance():
    out = CliRunner().invoke(main, ["plugins", "--json"])
    assert out.exit_code == 0
    records = {r["name"]: r for r in json.loads(out.output)}
    core = records["ebmcore"]
    assert core["distribution"] == "ebmcore" and core["status"] == "loaded"
    assert "langevin" in core["components"]["sampler"] and "mlp" in core["components"]["energy"]
    assert CliRunner().invoke(main, ["plugins", "--check"]).exit_code == 0


def test_recipes_and_config():
    runner = CliRunner()
    out = runner.invoke(main, ["recipes"])
    assert out.exit_code == 0 and "cd-8gaussians" in out.output
    out = runner.invoke(main, ["config", "cd-8gaussians", "trainer.steps=7"])
    cfg = json.loads(out.output)
    assert cfg["trainer"]["steps"] == 7 and cfg["sampler"]["name"] == "langevin" and "step_size" in cfg["sampler"]


def test_train_sample_eval_resume(tmp_path):
    runner = CliRunner()
    run = tmp_path / "run"
    out = runner.invoke(main, ["train", "cd-8gaussians", *FAST, "--out", str(run), "--no-progress"])
    assert out.exit_code == 0, out.output
    assert (run / "samples.png").stat().st_size > 0 and (run / "checkpoints" / "latest").is_file()
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"mmd2", "modes_covered", "nll_grid", "step"} <= set(metrics) and metrics["step"] == 6
    out = runner.invoke(main, ["sample", str(run), "-n", "50", "--out", str(tmp_path / "s.safetensors")])
    assert out.exit_code == 0, out.output
    from safetensors.torch import load_file

    assert load_file(str(tmp_path / "s.safetensors"))["samples"].shape == (50, 2)
    out = runner.invoke(main, ["eval", str(run), "-n", "100"])
    assert out.exit_code == 0 and "mmd2" in out.output
    assert json.loads((run / "eval.json").read_text())["step"] == 6
    out = runner.invoke(main, ["eval", str(run), "sampler.n_steps=7", "-n", "100", "--out", str(tmp_path / "e7.json")])
    assert out.exit_code == 0, out.output
    assert json.loads((tmp_path / "e7.json").read_text())["sampler/grad_evals_per_sample"] == 7
    out = runner.invoke(main, ["train", "cd-8gaussians", "--resume", "--out", str(run), "trainer.steps=9", "--no-eval"])
    assert out.exit_code == 0, out.output
    assert "resuming" in out.output and "step-0000009" in out.output


def test_bad_config_exits_2_without_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: {name: 8gausians}\nenergy: {name: mlp, hidden: 3x}\ninitializer: {name: gaussian}\n"
                   "sampler: {name: langevin, step_size: -1}\nobjective: {name: contrastive_divergence}\n")
    out = CliRunner().invoke(main, ["train", str(bad), "--out", str(tmp_path / "r")])
    assert out.exit_code == 2
    assert "Traceback" not in out.output
    assert "unknown dataset '8gausians' (did you mean '8gaussians'?)" in out.output
    assert "@ $.energy.hidden" in out.output and "@ $.sampler" in out.output and "step_size" in out.output


def test_unknown_recipe_and_missing_checkpoint(tmp_path):
    runner = CliRunner()
    out = runner.invoke(main, ["train", "cd-8gausians"])
    assert out.exit_code == 2 and "did you mean 'cd-8gaussians'" in out.output
    out = runner.invoke(main, ["eval", str(tmp_path)])
    assert out.exit_code == 2 and "no checkpoint" in out.output


def test_digits_run_reports_digitsfid_and_inception_weights_are_never_downloaded(tmp_path):
    runner = CliRunner()
    run = tmp_path / "digits"
    out = runner.invoke(main, ["train", "cd-digits", "trainer.steps=2", "energy.channels=[8,8]",
                               "sampler.n_steps=2", "eval.n_samples=100", "trainer.plot_samples=20",
                               "--out", str(run), "--no-progress"])
    assert out.exit_code == 0, out.output
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["digits_fid"] > metrics["digits_fid_floor"] > 0  # 2 steps of training: far from real digits
    out = runner.invoke(main, ["eval", str(run), "-n", "50", "--inception-weights", str(tmp_path / "nowhere")])
    assert out.exit_code == 2 and "inception-2015-12-05.pt" in out.output and "Traceback" not in out.output


def test_missing_local_dataset_says_where_files_go(tmp_path):
    out = CliRunner().invoke(main, ["train", "cd-digits", "data.name=mnist", f"data.root={tmp_path}",
                                    "--out", str(tmp_path / "r")])
    assert out.exit_code == 2 and "MNIST" in out.output and "Traceback" not in out.output
