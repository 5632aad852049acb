"""Every registered component (core and installed plugins) passes its role's contract.

Runs on ``--ebm-device`` (default cpu) in float32 and float64: shapes, device/dtype kept, seeded
determinism, gradients where expected, config round trip.
"""

from __future__ import annotations

import pytest
import torch

from ebmcore import registries
from ebmcore.testing.contract import check_component

COMPONENTS = sorted(((c.role, c.name) for c in registries().components()))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize(("role", "name"), COMPONENTS, ids=[f"{r}:{n}" for r, n in COMPONENTS])
def test_component_contract(role, name, dtype, ebm_device):
    regs = registries()
    try:
        check_component(regs.role(role).get(name), regs, ebm_device, dtype)
    except ImportError as err:  # a component behind an optional extra that is not installed here
        pytest.skip(f"{role} {name!r}: {err}")


def test_every_role_has_components():
    roles = {r for r, _ in COMPONENTS}
    assert roles == {"dataset", "energy", "initializer", "sampler", "objective"}
