"""Plugin discovery and isolation.

Plugins are found through the ``ebmcore`` entry-point group and loaded one at a time. A plugin that fails
to import, or whose registration hook raises, is recorded with its error and reported with a warning that
names it; the other plugins keep working. ``EBMCORE_STRICT_PLUGINS=1`` turns every such failure into an
error (used in tests and CI).

Environment variables:

* ``EBMCORE_STRICT_PLUGINS=1``: raise :class:`PluginError` instead of warning.
* ``EBMCORE_DISABLE_PLUGINS=a,b``: skip these entry points (by entry-point or distribution name).
* ``EBMCORE_LOAD_PLUGINS=a,b``: load only these entry points (an empty value loads none).

Nothing here runs at ``import ebmcore``: the first call to :func:`get_plugin_host` loads plugins.
"""

from __future__ import annotations

import importlib.metadata as importlib_metadata
import os
import traceback
import warnings
from collections.abc import Iterable
from types import ModuleType
from typing import Any, Literal

import attrs
import pluggy

from ebmcore import hookspecs
from ebmcore._registry import Provenance, Registries

__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginError",
    "PluginHost",
    "PluginRecord",
    "PluginWarning",
    "get_plugin_host",
    "registries",
    "reset_plugin_host",
]

ENTRY_POINT_GROUP = "ebmcore"
CORE_PLUGIN_NAME = "ebmcore"

#: hook name -> attribute of :class:`Registries` it fills.
HOOK_TARGETS = {
    "ebmcore_register_datasets": "dataset",
    "ebmcore_register_energies": "energy",
    "ebmcore_register_initializers": "initializer",
    "ebmcore_register_samplers": "sampler",
    "ebmcore_register_objectives": "objective",
    "ebmcore_register_recipes": "recipe",
}


class PluginError(RuntimeError):
    """A plugin failed to load or register (raised in strict mode).

    Raised instead of a :class:`PluginWarning` when ``EBMCORE_STRICT_PLUGINS=1``, and always for a
    second plugin registered under a name already taken.

    Examples:
        >>> import os
        >>> from unittest import mock
        >>> from ebmcore import PluginError, PluginHost, hookimpl
        >>> class Broken:
        ...     @hookimpl
        ...     def ebmcore_register_energies(self, registry):
        ...         raise RuntimeError("boom")
        >>> host = PluginHost(load_entrypoints=False, load_core=False)
        >>> _ = host.register(Broken(), name="broken")
        >>> with mock.patch.dict(os.environ, {"EBMCORE_STRICT_PLUGINS": "1"}):
        ...     try:
        ...         host.registries()
        ...     except PluginError as err:
        ...         print(err)
        ebmcore plugin 'broken': ebmcore_register_energies raised and was skipped: RuntimeError: boom
        >>> try:
        ...     host.register(Broken(), name="broken")
        ... except PluginError as err:
        ...     print(err)
        a plugin named 'broken' is already registered
    """


class PluginWarning(UserWarning):
    """A plugin failed to load or register and was skipped.

    Outside strict mode a failing plugin is recorded (``host.records[name]``) and reported with this
    warning; the other plugins keep working.

    Examples:
        >>> import os, warnings
        >>> from unittest import mock
        >>> from ebmcore import PluginHost, PluginWarning, hookimpl
        >>> class Broken:
        ...     @hookimpl
        ...     def ebmcore_register_energies(self, registry):
        ...         raise RuntimeError("boom")
        >>> host = PluginHost(load_entrypoints=False)
        >>> _ = host.register(Broken(), name="broken")
        >>> with mock.patch.dict(os.environ, {"EBMCORE_STRICT_PLUGINS": "0"}):
        ...     with warnings.catch_warnings(record=True) as caught:
        ...         warnings.simplefilter("always")
        ...         regs = host.registries()
        >>> [w.category is PluginWarning for w in caught]
        [True]
        >>> host.records["broken"].hook_errors
        {'ebmcore_register_energies': 'RuntimeError: boom'}
        >>> "mlp" in regs.energy  # core's components are still there
        True
    """


def _strict() -> bool:
    return os.environ.get("EBMCORE_STRICT_PLUGINS", "").strip().lower() in {"1", "true", "yes", "on"}


def _name_list(var: str) -> set[str] | None:
    raw = os.environ.get(var)
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


@attrs.define
class PluginRecord:
    """What is known about one plugin: where it came from, whether it loaded, what it registered."""

    name: str
    provenance: Provenance
    source: str
    status: Literal["loaded", "failed", "disabled"] = "loaded"
    error: str | None = None
    hooks: list[str] = attrs.field(factory=list)
    components: dict[str, list[str]] = attrs.field(factory=dict)
    hook_errors: dict[str, str] = attrs.field(factory=dict)

    @property
    def ok(self) -> bool:
        return self.status != "failed" and not self.hook_errors

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.provenance.distribution,
            "version": self.provenance.version,
            "source": self.source,
            "status": self.status,
            "error": self.error,
            "hooks": self.hooks,
            "components": self.components,
            "hook_errors": self.hook_errors,
        }


class PluginHost:
    """A pluggy manager with ebmcore's hook specs, plugin records and on-demand registries.

    Arguments:
        load_entrypoints: discover plugins from the ``ebmcore`` entry-point group.
        load_core: register core's own components (the ``ebmcore`` default plugin).
        entry_points: override discovery (tests pass fake entry points here).

    Examples:
        >>> import attrs
        >>> from ebmcore import EnergyConfig, PluginHost, hookimpl
        >>> @attrs.frozen(kw_only=True)
        ... class ToyEnergyConfig(EnergyConfig):
        ...     scale: float = 1.0
        >>> class ToyPlugin:
        ...     @hookimpl
        ...     def ebmcore_register_energies(self, registry):
        ...         registry.add("toy", ToyEnergyConfig, lambda cfg, ctx: None, summary="A toy.")
        >>> host = PluginHost(load_entrypoints=False)  # core's components only, no installed plugins
        >>> record = host.register(ToyPlugin(), name="toy_plugin")
        >>> record.status, record.hooks
        ('loaded', ['ebmcore_register_energies'])
        >>> regs = host.registries()
        >>> "toy" in regs.energy, "mlp" in regs.energy  # the plugin's and core's
        (True, True)
        >>> str(regs.energy.get("toy").provenance), host.records["toy_plugin"].components
        ('toy_plugin', {'energy': ['toy']})
        >>> host.unregister("toy_plugin")
        >>> "toy" in host.registries().energy
        False
    """

    def __init__(
        self,
        *,
        load_entrypoints: bool = True,
        load_core: bool = True,
        entry_points: Iterable[importlib_metadata.EntryPoint] | None = None,
    ) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.records: dict[str, PluginRecord] = {}
        self._registries: Registries | None = None
        if load_core:
            core = Provenance(CORE_PLUGIN_NAME, "ebmcore", _dist_version("ebmcore"))
            try:
                from ebmcore.components import plugin as core_plugin
            except Exception as exc:  # reported like any plugin, never fatal outside strict mode
                self._fail(PluginRecord(CORE_PLUGIN_NAME, core, "ebmcore.components.plugin"), exc)
            else:
                self.register(core_plugin, name=CORE_PLUGIN_NAME, provenance=core, source=core_plugin.__name__)
        if load_entrypoints or entry_points is not None:
            eps = entry_points if entry_points is not None else importlib_metadata.entry_points(group=ENTRY_POINT_GROUP)
            for ep in sorted(eps, key=lambda e: e.name):
                self._load_entry_point(ep)

    # --- registration -------------------------------------------------------------------------------
    def register(
        self,
        plugin: ModuleType | object,
        *,
        name: str,
        provenance: Provenance | None = None,
        source: str | None = None,
    ) -> PluginRecord:
        """Register a plugin object (a module or any object with ``ebmcore_*`` hook implementations)."""
        if name in self.records and self.records[name].status == "loaded":
            raise PluginError(f"a plugin named {name!r} is already registered")
        record = PluginRecord(name, provenance or Provenance(name), source or repr(plugin))
        try:
            self.pm.register(plugin, name=name)
            self.pm.check_pending()
        except Exception as exc:  # pluggy validation errors, bad hook names
            if self.pm.get_plugin(name) is not None:
                self.pm.unregister(name=name)
            self._fail(record, exc)
            return record
        record.hooks = sorted(c.name for c in self.pm.get_hookcallers(plugin) or [])
        self.records[name] = record
        self._registries = None
        return record

    def unregister(self, name: str) -> None:
        if self.pm.get_plugin(name) is not None:
            self.pm.unregister(name=name)
        self.records.pop(name, None)
        self._registries = None

    def _load_entry_point(self, ep: importlib_metadata.EntryPoint) -> None:
        dist = getattr(ep, "dist", None)
        dist_name = dist.name if dist is not None else None
        prov = Provenance(ep.name, dist_name, dist.version if dist is not None else None)
        disabled = _name_list("EBMCORE_DISABLE_PLUGINS") or set()
        allowed = _name_list("EBMCORE_LOAD_PLUGINS")
        if ep.name in disabled or (dist_name and dist_name in disabled) or (
            allowed is not None and ep.name not in allowed and dist_name not in allowed
        ):
            self.records[ep.name] = PluginRecord(ep.name, prov, ep.value, status="disabled")
            return
        try:
            plugin = ep.load()
        except Exception as exc:
            self._fail(PluginRecord(ep.name, prov, ep.value), exc)
            return
        self.register(plugin, name=ep.name, provenance=prov, source=ep.value)

    def _fail(self, record: PluginRecord, exc: BaseException) -> None:
        record.status = "failed"
        record.error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        self.records[record.name] = record
        msg = (
            f"ebmcore plugin {record.name!r} ({record.source}"
            f"{', ' + str(record.provenance.distribution) + ' ' + str(record.provenance.version) if record.provenance.distribution else ''})"
            f" failed to load and was skipped: {record.error}"
        )
        if _strict():
            raise PluginError(msg) from exc
        warnings.warn(msg + " (set EBMCORE_STRICT_PLUGINS=1 to make this an error)", PluginWarning, stacklevel=3)

    # --- registries ---------------------------------------------------------------------------------
    def registries(self) -> Registries:
        """The registries filled by every loaded plugin (built once, rebuilt after (un)registration).

        Each plugin's hook implementation is called on its own with a registry view stamped with its
        provenance; a hook that raises has its additions rolled back and is reported.
        """
        if self._registries is not None:
            return self._registries
        regs = Registries()
        for rec in self.records.values():
            rec.components = {}
            rec.hook_errors = {}
        for hook_name, target in HOOK_TARGETS.items():
            caller = getattr(self.pm.hook, hook_name)
            impls = {impl.plugin_name: impl for impl in caller.get_hookimpls()}
            registry = getattr(regs, target)
            for plugin_name, rec in self.records.items():
                impl = impls.get(plugin_name)
                if impl is None or rec.status != "loaded":
                    continue
                before = set(registry.names())
                view = registry.view(rec.provenance)
                try:
                    impl.function(**{arg: view for arg in impl.argnames})
                except Exception as exc:
                    for added in set(registry.names()) - before:
                        registry._items.pop(added)
                        if hasattr(registry, "_by_config"):
                            for cls, comp in list(registry._by_config.items()):
                                if comp.name == added:
                                    del registry._by_config[cls]
                    rec.hook_errors[hook_name] = "".join(traceback.format_exception_only(type(exc), exc)).strip()
                    msg = f"ebmcore plugin {plugin_name!r}: {hook_name} raised and was skipped: {rec.hook_errors[hook_name]}"
                    if _strict():
                        raise PluginError(msg) from exc
                    warnings.warn(msg, PluginWarning, stacklevel=2)
                    continue
                added_names = sorted(set(registry.names()) - before)
                if added_names:
                    rec.components.setdefault(target, []).extend(added_names)
        self._registries = regs
        return regs

    def failures(self) -> list[PluginRecord]:
        self.registries()
        return [r for r in self.records.values() if not r.ok]


def _dist_version(dist: str) -> str | None:
    try:
        return importlib_metadata.version(dist)
    except importlib_metadata.PackageNotFoundError:
        return None


_HOST: PluginHost | None = None


def get_plugin_host() -> PluginHost:
    """The process-wide plugin host, created (and plugins loaded) on first use.

    Returns:
        The same :class:`PluginHost` on every call until :func:`reset_plugin_host`; the first call builds
        one with entry-point discovery (every installed plugin).

    Examples:
        >>> from ebmcore import PluginHost, get_plugin_host, reset_plugin_host
        >>> host = PluginHost(load_entrypoints=False)
        >>> reset_plugin_host(host)  # install a host without entry-point discovery
        >>> get_plugin_host() is host, get_plugin_host() is get_plugin_host()
        (True, True)
        >>> reset_plugin_host()  # drop it: the next call discovers the installed plugins again
    """
    global _HOST
    if _HOST is None:
        _HOST = PluginHost()
    return _HOST


def reset_plugin_host(host: PluginHost | None = None) -> None:
    """Drop (or replace) the process-wide host; the next :func:`get_plugin_host` reloads.

    Arguments:
        host: the host to install (tests install one with fake or no entry points), or ``None`` to drop
            the current one so that the next :func:`get_plugin_host` discovers plugins again.

    Examples:
        >>> from ebmcore import PluginHost, get_plugin_host, registries, reset_plugin_host
        >>> host = PluginHost(load_entrypoints=False, load_core=False)
        >>> reset_plugin_host(host)
        >>> get_plugin_host() is host, len(registries().sampler)
        (True, 0)
        >>> reset_plugin_host(None)
    """
    global _HOST
    _HOST = host


def registries() -> Registries:
    """The registries of the process-wide plugin host.

    Returns:
        ``get_plugin_host().registries()``: every loaded plugin's components and recipes (the first call
        loads the installed plugins).

    Examples:
        >>> from ebmcore import PluginHost, registries, reset_plugin_host
        >>> reset_plugin_host(PluginHost(load_entrypoints=False))  # core only, whatever is installed
        >>> regs = registries()
        >>> regs.sampler.names()
        ['grid', 'hmc', 'langevin', 'mala']
        >>> registries() is regs  # built once, until a plugin is (un)registered
        True
        >>> reset_plugin_host()
    """
    return get_plugin_host().registries()
