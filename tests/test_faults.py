"""Faults and missing pieces (issue 9): a checkpoint that needs an uninstalled plugin says which one and
how to install it; a process killed with SIGKILL while saving never leaves an unreadable latest checkpoint."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import attrs
import pytest

from ebmcore import PluginHost, SamplerConfig, build, hookimpl, structure_config
from ebmcore.checkpoint import CheckpointError, find_checkpoint, load_checkpoint
from ebmcore.components.samplers import LangevinSampler
from ebmcore.evaluation import load_experiment
from ebmcore.trainer import Trainer

RUN = {
    "data": {"name": "8gaussians", "n_train": 500, "n_test": 100},
    "energy": {"name": "mlp", "hidden": [16]},
    "initializer": {"name": "gaussian", "std": 2.0},
    "sampler": {"name": "outside_langevin", "n_steps": 2},
    "objective": {"name": "contrastive_divergence"},
    "trainer": {"steps": 2, "batch_size": 16, "log_every": 1},
    "device": "cpu",
}


@attrs.frozen(kw_only=True)
class _OutsideLangevinConfig(SamplerConfig):
    n_steps: int = 2


class _OutsidePlugin:
    @hookimpl
    def ebmcore_register_samplers(self, registry):
        registry.add("outside_langevin", _OutsideLangevinConfig, lambda cfg, ctx: LangevinSampler(n_steps=cfg.n_steps))


def test_a_checkpoint_names_the_missing_plugin_and_how_to_install_it(tmp_path):
    with_plugin = PluginHost(load_entrypoints=False)
    with_plugin.register(_OutsidePlugin(), name="outside")
    regs = with_plugin.registries()
    trainer = Trainer(build(structure_config(RUN, regs), regs=regs), tmp_path / "run", regs=regs, progress=False)
    trainer.fit()
    stored = load_checkpoint(tmp_path / "run").config["components"]
    assert {"role": "sampler", "name": "outside_langevin", "plugin": "outside", "distribution": None,
            "version": None} in stored
    assert {c["name"] for c in stored} >= {"8gaussians", "mlp", "gaussian", "contrastive_divergence"}

    without = PluginHost(load_entrypoints=False).registries()
    for load in (lambda: Trainer.resume(tmp_path / "run", regs=without, progress=False),
                 lambda: load_experiment(tmp_path / "run", regs=without)):
        with pytest.raises(CheckpointError) as exc:
            load()
        msg = str(exc.value)
        assert "sampler 'outside_langevin' comes from plugin 'outside'" in msg and "pip install" in msg
    # overriding the missing component away is allowed: the run then builds with what is installed
    exp, _ = load_experiment(tmp_path / "run", regs=without, overrides=["sampler={name: langevin, n_steps: 2}"])
    assert isinstance(exp.sampler, LangevinSampler)


_SAVER = textwrap.dedent("""
    import sys, torch
    from ebmcore.checkpoint import save_checkpoint
    out = sys.argv[1]
    state = {"w": torch.zeros(2_000_000)}
    step = 0
    while True:
        step += 1
        state["w"].add_(1.0)  # checkpoint k holds w == k everywhere
        save_checkpoint(out + "/checkpoints", step=step, model_state=state, ema_state=None,
                        config={"run": {"step": step}}, trainer_state={"step": step})
        print(step, flush=True)
""")


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_during_checkpoint_writes_never_leaves_an_unreadable_latest(tmp_path):
    script = tmp_path / "saver.py"
    script.write_text(_SAVER)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for i, delay in enumerate((0.6, 0.9, 1.3)):
        out = tmp_path / f"run{i}"
        proc = subprocess.Popen([sys.executable, str(script), str(out)], stdout=subprocess.PIPE, env=env, text=True)
        assert proc.stdout is not None
        first = proc.stdout.readline()  # at least one checkpoint is complete; the next ones are in flight
        assert first.strip() == "1"
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        ckpt = load_checkpoint(out)  # whatever was in flight, 'latest' names a complete checkpoint
        step = int(ckpt.trainer_state["step"])
        assert ckpt.config["run"]["step"] == step and find_checkpoint(out).name == f"step-{step:07d}"
        assert bool((ckpt.model_state["w"] == step).all())  # the weights belong to the step 'latest' names


def test_a_checkpoint_that_does_not_fit_is_a_clear_error(tmp_path):
    regs = PluginHost(load_entrypoints=False).registries()
    run = dict(RUN, sampler={"name": "langevin", "n_steps": 2})
    trainer = Trainer(build(structure_config(run, regs), regs=regs), tmp_path / "run", regs=regs, progress=False)
    trainer.fit()
    # a sampler with state (MALA's adapted step size) swapped into a run that saved none
    with pytest.raises(CheckpointError) as exc:
        load_experiment(tmp_path / "run", regs=regs, overrides=["sampler={name: mala, n_steps: 2}"])
    msg = str(exc.value)
    assert "does not fit" in msg and "missing sampler.log_step_size" in msg and "unexpected none" in msg
    with pytest.raises(CheckpointError, match="other shapes energy"):
        load_experiment(tmp_path / "run", regs=regs, overrides=["energy.hidden=[8]"])
