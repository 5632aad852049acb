"""Config fuzzing (issue 9): random mutations of valid run configs are either reported as
``message @ $.path`` config errors or build a valid run; never any other exception (a traceback)."""

from __future__ import annotations

import contextlib
import copy
import math
import tempfile

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ebmcore import ConfigError, build, structure_config
from ebmcore.trainer import Trainer, TrainingDiverged

BASE = {
    "data": {"name": "8gaussians", "n_train": 256, "n_test": 64},
    "energy": {"name": "mlp", "hidden": [16, 16], "activation": "silu"},
    "initializer": {"name": "replay_buffer", "capacity": 64, "fresh": "gaussian", "scale": 2.0},
    "sampler": {"name": "langevin", "n_steps": 3, "step_size": 0.05},
    "objective": {"name": "weighted_sum", "terms": [
        {"weight": 1.0, "objective": {"name": "contrastive_divergence", "alpha": 0.1}},
        {"weight": 0.1, "objective": {"name": "gradient_penalty"}},
    ]},
    "trainer": {"steps": 2, "batch_size": 16, "log_every": 1,
                "optimizer": {"name": "adam", "lr": 1e-3, "schedule": "cosine", "ema": 0.9}},
    "eval": {"n_samples": 32},
    "device": "cpu",
    "seed": 0,
}


def _paths(node, prefix=()):
    """Every path in a nested dict/list config (containers and leaves)."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


PATHS = [p for p in _paths(BASE) if p]

values = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 10**7), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", "mlp", "langevin", "gaussian", "nope", "cosine", "cuda", "float16", "-1", "1e400"]),
    st.lists(st.integers(-3, 64), max_size=3), st.dictionaries(st.sampled_from(["name", "x", "steps"]), st.integers(-2, 5), max_size=2),
)
mutation = st.tuples(st.sampled_from(PATHS), st.sampled_from(["replace", "delete", "add"]), values)


def _mutate(cfg, path, op, value):
    parent = cfg
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if op == "replace":
        parent[last] = value
    elif op == "delete":
        del parent[last]
    elif isinstance(parent, dict):
        parent[f"unknown_{last}"] = value
    else:
        parent.append(value)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture], derandomize=True)
@given(st.lists(mutation, min_size=1, max_size=3))
def test_mutated_configs_give_a_path_error_or_a_valid_run(ebm_regs, mutations):
    cfg = copy.deepcopy(BASE)
    for path, op, value in mutations:
        # an earlier mutation may have removed or replaced the container: that mutation is dropped
        with contextlib.suppress(KeyError, IndexError, TypeError, AttributeError):
            _mutate(cfg, path, op, value)
    try:
        run = structure_config(cfg, ebm_regs)
        exp = build(run, regs=ebm_regs)
    except ConfigError as exc:
        assert exc.lines and all(" @ $" in line for line in exc.lines), exc.lines
        return
    with tempfile.TemporaryDirectory() as tmp:  # a config that builds also trains (or stops with a message)
        trainer = Trainer(exp, tmp, regs=ebm_regs, progress=False)
        try:
            trainer.fit(until=1)
        except TrainingDiverged:
            return
    assert trainer.step == 1 and math.isfinite(float(exp.config.trainer.steps))


@pytest.mark.parametrize(("path", "value", "expected"), [
    (("data", "n_train"), 17179869184, "cannot build data '8gaussians': RuntimeError"),  # 128 GiB of points
    (("energy", "hidden"), [10**12], "cannot build energy 'mlp'"),
    (("seed",), 2**64, "'seed' must be < 9223372036854775808"),
])
def test_impossible_sizes_are_config_errors_at_their_path(ebm_regs, path, value, expected):
    """Found by the fuzzer: sizes that cannot be allocated, and seeds outside torch's range."""
    cfg = copy.deepcopy(BASE)
    _mutate(cfg, path, "replace", value)
    with pytest.raises(ConfigError) as exc:
        build(structure_config(cfg, ebm_regs), regs=ebm_regs)
    (line,) = exc.value.lines
    assert expected in line and line.endswith(f"@ $.{path[0]}"), line
