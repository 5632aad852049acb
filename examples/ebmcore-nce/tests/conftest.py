"""Fixtures of the ebmcore-nce tests, on top of ebmcore's pytest plugin (``-p ebmcore.testing`` in
``pyproject.toml``: ``ebm_host``, ``ebm_regs``, ``register_plugin``, ``ebm_device``, ``ebm_dtype``)."""

from __future__ import annotations

import pytest
from ebmcore_nce import plugin


@pytest.fixture
def nce_regs(ebm_host, register_plugin):
    """Core's registries plus this plugin's components, registered through its hooks for one test.

    ``ebm_host`` loads core only (no entry-point discovery), so the test sees exactly core + this plugin,
    whatever else is installed. The registries are read after registering: ``ebm_regs`` is built before.
    """
    record = register_plugin(plugin, name="nce")
    assert record.ok, record.error
    return ebm_host.registries()
