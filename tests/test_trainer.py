"""Trainer: exact resume, atomic checkpoints, divergence handling, groups, EMA."""

from __future__ import annotations

import os

import attrs
import pytest
import torch
from torch import nn

from ebmcore import Batch, Objective, ObjectiveConfig, ObjectiveOutput, build, hookimpl, structure_config
from ebmcore.checkpoint import CheckpointError, atomic_write, load_checkpoint
from ebmcore.testing.resume import crash_and_resume
from ebmcore.trainer import Trainer, TrainingDiverged

SMALL = {
    "data": {"name": "8gaussians", "n_train": 2000, "n_test": 200},
    "energy": {"name": "mlp", "hidden": [32, 32]},
    "initializer": {"name": "replay_buffer", "capacity": 256, "fresh": "gaussian", "scale": 2.0},
    "sampler": {"name": "langevin", "n_steps": 5, "step_size": 0.05},
    "objective": {"name": "contrastive_divergence", "alpha": 0.1},
    "trainer": {"steps": 12, "batch_size": 32, "log_every": 3, "checkpoint_every": 4,
                "optimizer": {"lr": 1e-3, "ema": 0.9, "warmup_steps": 3, "schedule": "cosine"}},
    "device": "cpu",
    "seed": 3,
}


def _trainer(regs, run_dir, data=SMALL):
    return Trainer(build(structure_config(data, regs), regs=regs), run_dir, regs=regs, progress=False)


SAMPLERS = {
    "langevin": {"name": "langevin", "n_steps": 5, "step_size": 0.05},
    "mala": {"name": "mala", "n_steps": 5, "step_size": 0.05},  # adapted step size is state too
    "hmc": {"name": "hmc", "n_trajectories": 2, "n_leapfrog": 3, "step_size": 0.1},
}


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_interrupted_and_resumed_run_matches_uninterrupted(ebm_regs, tmp_path, sampler):
    data = dict(SMALL, sampler=SAMPLERS[sampler])
    # dies during step 7; the latest checkpoint is step 4
    full, resumed = crash_and_resume(data, tmp_path, regs=ebm_regs, crash_at=6)
    assert resumed.step == 4
    resumed.fit()
    a, b = full.exp.state_dict(), resumed.exp.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k  # weights, replay buffer and sampler state
    for k, v in full.ema_state().items():
        assert torch.equal(v, resumed.ema_state()[k]), k


def test_checkpoint_layout_and_safe_loading(ebm_regs, tmp_path):
    t = _trainer(ebm_regs, tmp_path / "run")
    t.fit(until=4)
    ckpt_dir = tmp_path / "run" / "checkpoints" / "step-0000004"
    assert sorted(p.name for p in ckpt_dir.iterdir()) == ["config.json", "ema.safetensors", "model.safetensors", "trainer_state.pt"]
    assert (tmp_path / "run" / "checkpoints" / "latest").read_text().strip() == "step-0000004"
    ckpt = load_checkpoint(tmp_path / "run")
    assert ckpt.step == 4 and ckpt.config["run"]["sampler"]["name"] == "langevin"
    assert any(k.startswith("initializer.") for k in ckpt.model_state)  # the replay buffer is saved

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    torch.save({"step": 1, "payload": Evil()}, ckpt_dir / "trainer_state.pt")
    with pytest.raises(Exception, match="(?i)weights.only|unpickl"):
        load_checkpoint(tmp_path / "run")


def test_atomic_write_keeps_previous_file_on_crash(tmp_path, monkeypatch):
    target = tmp_path / "f.bin"
    atomic_write(target, b"good")

    def crash(src, dst):
        raise OSError("disk died during rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        atomic_write(target, b"half-written")
    assert target.read_bytes() == b"good"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]  # no temp file left behind


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path)


@attrs.frozen(kw_only=True)
class _NaNAfterConfig(ObjectiveConfig):
    bad_step: int = 5


class _NaNAfter(Objective):
    """A quadratic loss that turns NaN at ``bad_step``: drives the divergence guard."""

    def __init__(self, energy, bad_step):
        super().__init__()
        self.energy_ref = [energy]
        self.bad_step = bad_step

    def forward(self, batch, step):
        e = self.energy_ref[0](batch.x).mean()
        loss = e * float("nan") if step >= self.bad_step else e.pow(2)
        return ObjectiveOutput({"energy": loss}, {"energy/pos": e.detach()})

    def parameter_groups(self):
        return {"energy": list(self.energy_ref[0].parameters())}


class _NaNPlugin:
    @hookimpl
    def ebmcore_register_objectives(self, registry):
        registry.add("nan_after", _NaNAfterConfig, lambda cfg, ctx: _NaNAfter(ctx.energy, cfg.bad_step))


def test_divergence_stops_with_message_and_keeps_last_good_checkpoint(ebm_host, tmp_path):
    ebm_host.register(_NaNPlugin(), name="nan")
    regs = ebm_host.registries()
    data = dict(SMALL, objective={"name": "nan_after", "bad_step": 6})
    t = _trainer(regs, tmp_path / "run", data)
    with pytest.raises(TrainingDiverged) as exc:
        t.fit()
    err = exc.value
    assert err.step == 7 and err.quantity == "loss[energy]"
    assert "diverged at step 7" in str(err) and "step-0000004" in str(err)
    ckpt = load_checkpoint(tmp_path / "run")
    assert ckpt.step == 4  # the last periodic checkpoint: the failed step already touched the replay buffer
    assert all(torch.isfinite(v).all() for v in ckpt.model_state.values() if v.is_floating_point())
    assert all(torch.isfinite(p).all() for p in t.exp.energy.parameters())  # the bad update was not applied


@attrs.frozen(kw_only=True)
class _TwoGroupConfig(ObjectiveConfig):
    pass


class _TwoGroups(Objective):
    """Group ``energy`` every step, group ``aux`` only on even steps (GEBM-style alternation)."""

    def __init__(self, energy):
        super().__init__()
        self.energy_ref = [energy]
        self.aux = nn.Linear(2, 1)

    def forward(self, batch, step):
        e = self.energy_ref[0](batch.x).mean()
        aux = self.aux(batch.x).pow(2).mean() + 0.0 * e  # the aux loss also touches the energy graph
        losses = {"energy": e.pow(2)}
        if step % 2 == 0:
            losses["aux"] = aux
        return ObjectiveOutput(losses)

    def parameter_groups(self):
        return {"energy": list(self.energy_ref[0].parameters()), "aux": list(self.aux.parameters())}


def test_only_groups_with_a_loss_are_stepped_and_each_gets_its_own_optimizer(ebm_host, tmp_path):
    class P:
        @hookimpl
        def ebmcore_register_objectives(self, registry):
            registry.add("two_groups", _TwoGroupConfig, lambda cfg, ctx: _TwoGroups(ctx.energy))

    ebm_host.register(P(), name="two")
    regs = ebm_host.registries()
    data = dict(SMALL, objective={"name": "two_groups"},
                trainer=dict(SMALL["trainer"], groups={"aux": {"name": "sgd", "lr": 0.1}}, checkpoint_every=0))
    t = _trainer(regs, tmp_path / "run", data)
    assert isinstance(t.groups["aux"].optimizer, torch.optim.SGD)
    assert isinstance(t.groups["energy"].optimizer, torch.optim.Adam)
    t.fit(until=1)  # step 0: both groups
    aux_after_0 = t.exp.objective.aux.weight.detach().clone()
    t.fit(until=2)  # step 1: energy only
    assert torch.equal(t.exp.objective.aux.weight, aux_after_0)
    t.fit(until=3)  # step 2: aux again
    assert not torch.equal(t.exp.objective.aux.weight, aux_after_0)


def test_unknown_group_in_trainer_config_is_reported(ebm_regs, tmp_path):
    data = dict(SMALL, trainer=dict(SMALL["trainer"], groups={"generator": {"lr": 1.0}}))
    with pytest.raises(ValueError, match="unknown group.*generator.*energy"):
        _trainer(ebm_regs, tmp_path / "run", data)


def test_metrics_log_is_jsonl(ebm_regs, tmp_path):
    import json

    t = _trainer(ebm_regs, tmp_path / "run")
    t.fit(until=6)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [3, 6]
    assert {"loss/energy", "energy/pos", "energy/neg", "lr/energy", "grad_norm/energy", "wall_time"} <= set(rows[0])
    assert rows[0]["lr/energy"] == pytest.approx(1e-3)  # warm-up done after 3 steps


def test_labelled_data_trains_an_unconditional_energy(ebm_regs, tmp_path):
    data = dict(SMALL, data={"name": "digits"}, energy={"name": "conv", "channels": [8, 8]},
                initializer={"name": "uniform"}, trainer=dict(SMALL["trainer"], steps=2, checkpoint_every=0))
    t = _trainer(ebm_regs, tmp_path / "run", data)
    assert t.exp.dataset.y is not None and "y" not in t.exp.energy.conditions
    t.fit()
    assert t.step == 2


def test_plots_and_evaluation_never_change_the_training_trajectory(ebm_regs, tmp_path):
    data = dict(SMALL, sampler=SAMPLERS["mala"])
    plain = _trainer(ebm_regs, tmp_path / "a", data)
    plain.fit()
    plotted = _trainer(ebm_regs, tmp_path / "b", dict(data, trainer=dict(SMALL["trainer"], plot_every=2, plot_samples=50)))
    plotted.fit()
    assert list((tmp_path / "b").glob("samples-*.png"))
    for k, v in plain.exp.state_dict().items():
        assert torch.equal(v, plotted.exp.state_dict()[k]), k  # MALA does not adapt while generating


def test_checkpointed_steps_are_always_checked(ebm_host, tmp_path):
    ebm_host.register(_NaNPlugin(), name="nan")
    regs = ebm_host.registries()
    data = dict(SMALL, objective={"name": "nan_after", "bad_step": 3},
                trainer=dict(SMALL["trainer"], checkpoint_every=2, check_finite_every=5))
    with pytest.raises(TrainingDiverged) as exc:
        _trainer(regs, tmp_path / "run", data).fit()
    assert exc.value.step == 4  # caught at the checkpointed step 4, before anything non-finite is saved
    ckpt = load_checkpoint(tmp_path / "run")
    assert ckpt.step == 2
    assert all(torch.isfinite(v).all() for v in ckpt.model_state.values() if v.is_floating_point())


def test_schedule_follows_the_global_step_and_reaches_its_floor():
    from ebmcore import OptimizerConfig
    from ebmcore.trainer import make_schedule

    f = make_schedule(OptimizerConfig(warmup_steps=2, schedule="cosine", min_lr_ratio=0.1), total_steps=13)
    assert [f(0), f(1), f(2)] == [0.5, 1.0, 1.0]
    assert f(12) == pytest.approx(0.1) and f(7) == pytest.approx(0.55)
    g = make_schedule(OptimizerConfig(schedule="step", step_at=0.7, min_lr_ratio=0.1), total_steps=10)
    assert [g(i) for i in range(10)] == [1.0] * 7 + [0.1] * 3


def test_cd_negatives_get_conditions_drawn_from_the_batch(ebm_regs):
    from ebmcore.components.energies import MLPEnergy
    from ebmcore.components.initializers import GaussianInitializer
    from ebmcore.components.objectives import ContrastiveDivergence
    from ebmcore.components.samplers import LangevinSampler

    energy = MLPEnergy((2,), hidden=(8,), num_classes=3)
    seen = []
    forward = energy.forward

    def spy(x, **cond):
        seen.append((x.shape[0], cond.get("y")))
        return forward(x, **cond)

    energy.forward = spy
    cd = ContrastiveDivergence(energy, LangevinSampler(n_steps=1), GaussianInitializer((2,)), n_negatives=5)
    y = torch.tensor([0, 0, 0, 0, 0, 0, 0, 2])
    cd(Batch(torch.randn(8, 2), y), 0)
    assert all(c is not None for _, c in seen)  # no unconditional energy call sneaks in
    joint = seen[-1][1]
    assert joint.shape == (13,) and torch.equal(joint[:8], y) and set(joint[8:].tolist()) <= {0, 2}


@attrs.frozen(kw_only=True)
class _NaNOnceConfig(ObjectiveConfig):
    bad_step: int = 6


class _NaNOnce(_NaNAfter):
    """NaN the first time ``bad_step`` is reached, finite afterwards: a transient fault a rollback survives."""

    def __init__(self, energy, bad_step):
        super().__init__(energy, bad_step)
        self.fired = False

    def forward(self, batch, step):
        e = self.energy_ref[0](batch.x).mean()
        if step == self.bad_step and not self.fired:
            self.fired = True
            return ObjectiveOutput({"energy": e * float("nan")}, {"energy/pos": e.detach()})
        return ObjectiveOutput({"energy": e.pow(2)}, {"energy/pos": e.detach()})


class _FaultPlugin:
    @hookimpl
    def ebmcore_register_objectives(self, registry):
        registry.add("nan_after", _NaNAfterConfig, lambda cfg, ctx: _NaNAfter(ctx.energy, cfg.bad_step))
        registry.add("nan_once", _NaNOnceConfig, lambda cfg, ctx: _NaNOnce(ctx.energy, cfg.bad_step))


def _events(run_dir):
    import json

    return [r for r in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines()) if r.get("event")]


def test_rollback_survives_a_transient_fault_with_a_lower_learning_rate(ebm_host, tmp_path, caplog):
    ebm_host.register(_FaultPlugin(), name="faults")
    regs = ebm_host.registries()
    trainer_cfg = dict(SMALL["trainer"], on_divergence="rollback")
    data = dict(SMALL, objective={"name": "nan_once", "bad_step": 6}, trainer=trainer_cfg)
    t = _trainer(regs, tmp_path / "run", data)
    with caplog.at_level("WARNING", logger="ebmcore.trainer"):
        t.fit()
    assert t.step == 12 and t.rollbacks == 1 and t.lr_scale == 0.5
    (event,) = _events(tmp_path / "run")
    assert event["diverged_at"] == 7 and event["step"] == 4 and event["lr_scale"] == 0.5
    assert "rolled back to step 4" in caplog.text
    assert all(torch.isfinite(p).all() for p in t.exp.energy.parameters())
    assert load_checkpoint(tmp_path / "run").trainer_state["lr_scale"] == 0.5  # a resumed run keeps it
    group = t.groups["energy"]
    assert group.optimizer.param_groups[0]["lr"] == pytest.approx(0.5 * 1e-3 * group.lr_factor(11))

    stop = _trainer(regs, tmp_path / "stop", dict(SMALL, objective={"name": "nan_once", "bad_step": 6}))
    with pytest.raises(TrainingDiverged):
        stop.fit()


def test_rollback_gives_up_after_max_rollbacks(ebm_host, tmp_path):
    ebm_host.register(_FaultPlugin(), name="faults")
    regs = ebm_host.registries()
    trainer_cfg = dict(SMALL["trainer"], on_divergence="rollback", max_rollbacks=2, checkpoint_every=0)
    t = _trainer(regs, tmp_path / "run", dict(SMALL, objective={"name": "nan_after", "bad_step": 3}, trainer=trainer_cfg))
    with pytest.raises(TrainingDiverged) as exc:
        t.fit()
    assert exc.value.step == 4 and t.rollbacks == 2 and t.lr_scale == 0.25
    events = _events(tmp_path / "run")
    assert [e["rollback"] for e in events] == [1, 2] and all(e["step"] == 0 for e in events)  # the step-0 checkpoint


@attrs.frozen(kw_only=True)
class _GapConfig(ObjectiveConfig):
    pass


class _ScriptedGap(Objective):
    """Reports a scripted energy gap per step (telemetry test); the loss itself is harmless."""

    GAPS = (1.0, -1.0, 1.0, 1.0, 50.0, 50.0, 60.0, 900.0)

    def __init__(self, energy):
        super().__init__()
        self.energy_ref = [energy]

    def forward(self, batch, step):
        e = self.energy_ref[0](batch.x).mean()
        gap = torch.tensor(self.GAPS[step])
        return ObjectiveOutput({"energy": e.pow(2)}, {"energy/pos": gap, "energy/neg": torch.zeros(())})

    def parameter_groups(self):
        return {"energy": list(self.energy_ref[0].parameters())}


def test_energy_gap_telemetry_and_a_warning_when_it_explodes(ebm_host, tmp_path, caplog):
    import json

    class Plugin:
        @hookimpl
        def ebmcore_register_objectives(self, registry):
            registry.add("scripted_gap", _GapConfig, lambda cfg, ctx: _ScriptedGap(ctx.energy))

    ebm_host.register(Plugin(), name="gap")
    regs = ebm_host.registries()
    trainer_cfg = dict(SMALL["trainer"], steps=8, log_every=1, checkpoint_every=0)
    t = _trainer(regs, tmp_path / "run", dict(SMALL, objective={"name": "scripted_gap"}, trainer=trainer_cfg))
    with caplog.at_level("WARNING", logger="ebmcore.trainer"):
        t.fit()
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["health/gap"] for r in rows] == list(_ScriptedGap.GAPS)
    # warned when the gap first exceeds 10x its typical size (50 vs 1), not again at 60, again at 900
    assert [r["step"] for r in rows if r.get("health/gap_exploded")] == [5, 8]
    assert caplog.text.count("energy gap") == 2 and "sampler steps too few" in caplog.text
    assert all("grad_norm/energy" in r for r in rows)
