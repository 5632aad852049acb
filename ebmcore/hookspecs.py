"""Hook specifications: how a plugin adds components to ebmcore.

Every hook receives a registry and adds named components to it. Each plugin's implementation is called
on its own (see :mod:`ebmcore._loader`), so each component records which plugin provided it, and a plugin
that raises is skipped and reported while the others still register. Hooks are called once per registry
build, never inside a training or sampling loop. Hook wrappers are not supported on these hooks.

A plugin module looks like::

    from ebmcore import hookimpl

    @hookimpl
    def ebmcore_register_samplers(registry):
        registry.add("my_sampler", MySamplerConfig, build_my_sampler, summary="One line.")

and is announced in its ``pyproject.toml``::

    [project.entry-points.ebmcore]
    mymethod = "ebmcore_mymethod.plugin"
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from ebmcore._registry import ComponentRegistry, RecipeRegistry

__all__ = [
    "PROJECT_NAME",
    "ebmcore_register_datasets",
    "ebmcore_register_energies",
    "ebmcore_register_initializers",
    "ebmcore_register_objectives",
    "ebmcore_register_recipes",
    "ebmcore_register_samplers",
    "hookimpl",
    "hookspec",
]

PROJECT_NAME = "ebmcore"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def ebmcore_register_energies(registry: ComponentRegistry) -> None:
    """Add energies: ``registry.add(name, ConfigClass, factory, summary=...)``.

    The factory is ``factory(cfg, ctx: BuildContext) -> ebmcore.Energy``.
    """


@hookspec
def ebmcore_register_samplers(registry: ComponentRegistry) -> None:
    """Add samplers; factory ``(cfg, ctx) -> ebmcore.Sampler``."""


@hookspec
def ebmcore_register_objectives(registry: ComponentRegistry) -> None:
    """Add objectives; factory ``(cfg, ctx) -> ebmcore.Objective``."""


@hookspec
def ebmcore_register_initializers(registry: ComponentRegistry) -> None:
    """Add initializers; factory ``(cfg, ctx) -> ebmcore.Initializer``."""


@hookspec
def ebmcore_register_datasets(registry: ComponentRegistry) -> None:
    """Add data sets; factory ``(cfg, seed: int) -> ebmcore.data.Dataset``."""


@hookspec
def ebmcore_register_recipes(registry: RecipeRegistry) -> None:
    """Add recipes: named, ready-to-run run configs, ``registry.add(name, config_dict, summary=...)``."""
