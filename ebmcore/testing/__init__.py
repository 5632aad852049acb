"""Opt-in pytest plugin for ebmcore and its plugins (``-p ebmcore.testing`` or ``pytest_plugins``).

Fixtures:

* ``ebm_host``: a fresh :class:`~ebmcore.PluginHost` with core components and no entry-point discovery.
* ``ebm_regs``: its registries.
* ``ebm_device`` / ``ebm_dtype``: from ``--ebm-device`` (default ``cpu``) and ``--ebm-dtype`` (default
  ``float32``), so the same suite runs on CUDA with ``--ebm-device cuda``.
* ``register_plugin``: registers a plugin object for one test.

It also sets ``torch.set_num_threads(1)`` (two threads on two busy cores are far slower) and
``EBMCORE_STRICT_PLUGINS=1`` for the session, and skips tests marked ``cuda`` when CUDA is absent.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import torch


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ebmcore")
    group.addoption("--ebm-device", default="cpu", help="device for ebmcore component tests (cpu, cuda)")
    group.addoption("--ebm-dtype", default="float32", help="dtype for ebmcore component tests")


def pytest_configure(config: pytest.Config) -> None:
    torch.set_num_threads(1)
    os.environ.setdefault("EBMCORE_STRICT_PLUGINS", "1")
    config.addinivalue_line("markers", "cuda: needs a CUDA device (skipped without one)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="CUDA is not available")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def ebm_device(request: pytest.FixtureRequest) -> torch.device:
    device = torch.device(request.config.getoption("--ebm-device"))
    if device.type == "cuda" and not torch.cuda.is_available():
        pytest.skip("CUDA is not available")
    return device


@pytest.fixture
def ebm_dtype(request: pytest.FixtureRequest) -> torch.dtype:
    dtype = getattr(torch, request.config.getoption("--ebm-dtype"))
    assert isinstance(dtype, torch.dtype)
    return dtype


@pytest.fixture
def ebm_host() -> Iterator[Any]:
    from ebmcore._loader import PluginHost

    yield PluginHost(load_entrypoints=False)


@pytest.fixture
def ebm_regs(ebm_host: Any) -> Any:
    return ebm_host.registries()


@pytest.fixture
def register_plugin(ebm_host: Any) -> Iterator[Callable[..., Any]]:
    names: list[str] = []

    def register(plugin: object, name: str = "test-plugin") -> Any:
        names.append(name)
        return ebm_host.register(plugin, name=name)

    yield register
    for name in names:
        ebm_host.unregister(name)
