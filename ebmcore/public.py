"""The stable public API: the one list of what plugins and users may import from ebmcore.

A plugin (in ``plugins/``, ``examples/`` or a third-party package) imports only

* names in the ``__all__`` of a module listed in :data:`PUBLIC_MODULES`, and
* from another plugin, only names in that plugin's top-level ``__all__`` (its package, never its
  modules: ``from ebmcore_vapo import VAPOObjective``, not ``from ebmcore_vapo.objective import ...``).

Everything else (modules whose names start with ``_``, ``ebmcore.cli``, ``ebmcore.bench`` and any
module not listed) is internal and may change in any release. ``tests/test_public_api.py`` checks every
in-repo plugin against this list, and that every public class and function carries a docstring in the
project's format (summary, reference where it implements a paper, arguments with tensor shapes, returns,
and an example run as a doctest).

Examples:
    >>> from ebmcore.public import PUBLIC_MODULES, is_public
    >>> "ebmcore.components.samplers" in PUBLIC_MODULES
    True
    >>> is_public("ebmcore.components.samplers", "LangevinSampler"), is_public("ebmcore._loader", "PluginHost")
    (True, False)
"""

from __future__ import annotations

import importlib

__all__ = ["PUBLIC_MODULES", "is_public", "public_names"]

#: Modules whose ``__all__`` is the stable API (semantic versioning applies to these names only).
PUBLIC_MODULES: tuple[str, ...] = (
    "ebmcore",
    "ebmcore.abstract",
    "ebmcore.checkpoint",
    "ebmcore.components.energies",
    "ebmcore.components.initializers",
    "ebmcore.components.objectives",
    "ebmcore.components.samplers",
    "ebmcore.config",
    "ebmcore.context",
    "ebmcore.data",
    "ebmcore.distributed",
    "ebmcore.ema",
    "ebmcore.evaluation",
    "ebmcore.hookspecs",
    "ebmcore.metrics",
    "ebmcore.metrics.grid",
    "ebmcore.plotting",
    "ebmcore.public",
    "ebmcore.testing.contract",
    "ebmcore.testing.docstrings",
    "ebmcore.testing.resume",
    "ebmcore.testing.distributed",
    "ebmcore.trainer",
)


def public_names(module: str) -> tuple[str, ...]:
    """The public names of one module of :data:`PUBLIC_MODULES`.

    Arguments:
        module: a dotted module name, e.g. ``"ebmcore.components.samplers"``.

    Returns:
        The module's ``__all__``, or ``()`` for a module that is not public.

    Examples:
        >>> "LangevinSampler" in public_names("ebmcore.components.samplers")
        True
        >>> public_names("ebmcore.cli")
        ()
    """
    if module not in PUBLIC_MODULES:
        return ()
    return tuple(importlib.import_module(module).__all__)


def is_public(module: str, name: str) -> bool:
    """Whether ``from module import name`` uses the stable API.

    Arguments:
        module: a dotted module name.
        name: the imported name.

    Returns:
        ``True`` when ``module`` is in :data:`PUBLIC_MODULES` and ``name`` is in its ``__all__``.

    Examples:
        >>> is_public("ebmcore", "Energy"), is_public("ebmcore.trainer", "_private_helper")
        (True, False)
    """
    return name in public_names(module)
