"""Registries of named components, with provenance and helpful errors."""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs

from ebmcore._bases import (
    ComponentConfig,
    DatasetConfig,
    EnergyConfig,
    InitializerConfig,
    ObjectiveConfig,
    SamplerConfig,
)

__all__ = [
    "ROLES",
    "Component",
    "ComponentRegistry",
    "DuplicateComponentError",
    "Provenance",
    "Recipe",
    "RecipeRegistry",
    "Registries",
    "UnknownComponentError",
]

#: role name -> config marker base. Order is the build order.
ROLES: dict[str, type[ComponentConfig]] = {
    "dataset": DatasetConfig,
    "energy": EnergyConfig,
    "initializer": InitializerConfig,
    "sampler": SamplerConfig,
    "objective": ObjectiveConfig,
}


@attrs.frozen
class Provenance:
    """Which plugin (and distribution, version) provided a component.

    Attributes:
        plugin: the plugin's name (its entry-point name; ``"<python>"`` for components added by hand).
        distribution: the installed distribution that ships the plugin, or ``None``.
        version: that distribution's version, or ``None``.

    Examples:
        >>> from ebmcore import PluginHost, Provenance
        >>> str(Provenance("mymethod", "ebmcore-mymethod", "1.2.0")), str(Provenance())
        ('mymethod (ebmcore-mymethod 1.2.0)', '<python>')
        >>> regs = PluginHost(load_entrypoints=False).registries()
        >>> regs.sampler.get("langevin").provenance.plugin
        'ebmcore'
    """

    plugin: str = "<python>"
    distribution: str | None = None
    version: str | None = None

    def __str__(self) -> str:
        if self.distribution:
            return f"{self.plugin} ({self.distribution} {self.version})"
        return self.plugin


@attrs.frozen
class Component:
    """A registered component: name, config class, factory ``(cfg, ctx) -> module``, summary, provenance.

    Attributes:
        role: ``energy``, ``sampler``, ``objective``, ``initializer`` or ``dataset``.
        name: the key that selects it in configs (``name = "langevin"``).
        config_cls: its frozen attrs config class (deriving from the role's config base).
        factory: ``factory(cfg, ctx: BuildContext) -> nn.Module`` (data sets: ``factory(cfg, seed)``).
        summary: one line for ``ebm plugins``.
        provenance: the plugin that registered it.
        example: a valid config for the contract tests when the class defaults are not one, else ``None``.
        event_shape: the sample shape the contract tests use (``None``: the default ``(2,)``).

    Examples:
        >>> import torch
        >>> from ebmcore import BuildContext, PluginHost
        >>> comp = PluginHost(load_entrypoints=False).registries().sampler.get("langevin")
        >>> comp.role, comp.name, comp.config_cls.__name__
        ('sampler', 'langevin', 'LangevinSamplerConfig')
        >>> sampler = comp.factory(comp.example_config(), BuildContext.for_shape((2,)))
        >>> out = sampler.sample(lambda x: 0.5 * x.pow(2).sum(dim=1), torch.zeros(4, 2))
        >>> tuple(out.x.shape)
        (4, 2)
    """

    role: str
    name: str
    config_cls: type[ComponentConfig]
    factory: Callable[..., Any]
    summary: str
    provenance: Provenance
    example: ComponentConfig | None = None
    event_shape: tuple[int, ...] | None = None

    def example_config(self) -> ComponentConfig:
        """A valid config for contract tests: the registered example, else the class defaults."""
        return self.example if self.example is not None else self.config_cls()


@attrs.frozen
class Recipe:
    """A named, ready-to-run run config (a plain mapping) shipped by a plugin.

    ``bench`` names the method this recipe represents in ``ebm bench quality`` (``None``: not benchmarked).
    A method's 2-D recipe is re-run on every 2-D benchmark data set; its image recipe on digits.

    Attributes:
        name: the recipe's name (``ebm train NAME``).
        config: the run config as a plain mapping (what a config file holds).
        summary: one line for ``ebm recipes``.
        provenance: the plugin that registered it.
        bench: the method it represents in ``ebm bench quality``, or ``None``.

    Examples:
        >>> from ebmcore import PluginHost
        >>> recipe = PluginHost(load_entrypoints=False).registries().recipe.get("cd-8gaussians")
        >>> recipe.config["sampler"]["name"], recipe.bench, recipe.provenance.plugin
        ('langevin', 'CD', 'ebmcore')
    """

    name: str
    config: Mapping[str, Any]
    summary: str
    provenance: Provenance
    bench: str | None = None


class UnknownComponentError(LookupError):
    """An unknown name: says what was asked, suggests a close match, lists what exists.

    Arguments:
        role: the registry's role (``sampler``, ``recipe``, ...).
        name: the name that was asked for.
        available: the names that exist.

    Examples:
        >>> from ebmcore import PluginHost, UnknownComponentError
        >>> regs = PluginHost(load_entrypoints=False).registries()
        >>> try:
        ...     regs.sampler.get("langevn")
        ... except UnknownComponentError as err:
        ...     print(err)
        ...     print(isinstance(err, LookupError), err.available)
        unknown sampler 'langevn' (did you mean 'langevin'?); available: [...]. Run `ebm plugins` ...
        True ['grid', 'hmc', 'langevin', 'mala']
    """

    def __init__(self, role: str, name: object, available: list[str]) -> None:
        self.role, self.name, self.available = role, name, available
        close = difflib.get_close_matches(str(name), available, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        super().__init__(
            f"unknown {role} {name!r}{hint}; available: {available}. "
            "Run `ebm plugins` to see installed plugins; is the plugin installed in this environment?"
        )

    def __str__(self) -> str:
        return str(self.args[0])


class DuplicateComponentError(ValueError):
    """Two plugins registered the same name (or the same config class).

    Examples:
        >>> import attrs
        >>> from ebmcore import ComponentRegistry, DuplicateComponentError, EnergyConfig, Provenance
        >>> @attrs.frozen(kw_only=True)
        ... class ToyEnergyConfig(EnergyConfig):
        ...     scale: float = 1.0
        >>> registry = ComponentRegistry("energy")
        >>> registry.view(Provenance("first")).add("toy", ToyEnergyConfig, lambda cfg, ctx: None)
        >>> try:
        ...     registry.view(Provenance("second")).add("toy", ToyEnergyConfig, lambda cfg, ctx: None)
        ... except DuplicateComponentError as err:
        ...     print(err)
        energy 'toy' is registered twice: by first and by second
    """


class _BaseRegistry:
    role: str

    def __init__(self, role: str) -> None:
        self.role = role
        self._items: dict[str, Any] = {}
        self._provenance = Provenance()

    # --- provenance stamping: the loader hands each plugin its own view ---------------------------
    def view(self, provenance: Provenance) -> _BaseRegistry:
        """A view that adds to this registry, stamping every addition with ``provenance``."""
        other = object.__new__(type(self))
        other.__dict__.update(self.__dict__)
        other._provenance = provenance
        return other

    def _check_new(self, name: str) -> None:
        if not isinstance(name, str) or not name or name != name.strip():
            raise ValueError(f"{self.role} name must be a non-empty string, got {name!r}")
        if name in self._items:
            first = self._items[name].provenance
            raise DuplicateComponentError(
                f"{self.role} {name!r} is registered twice: by {first} and by {self._provenance}"
            )

    # --- lookup -------------------------------------------------------------------------------------
    def get(self, name: str) -> Any:
        try:
            return self._items[name]
        except (KeyError, TypeError):
            raise UnknownComponentError(self.role, name, self.names()) from None

    def names(self, pattern: str = "*") -> list[str]:
        return sorted(n for n in self._items if fnmatch.fnmatchcase(n, pattern))

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[Any]:
        return iter(self._items[n] for n in self.names())

    def __len__(self) -> int:
        return len(self._items)


class ComponentRegistry(_BaseRegistry):
    """Components of one role (energy, sampler, objective, initializer, dataset).

    Plugins receive one (a view stamped with their provenance) in their ``ebmcore_register_*`` hook and
    call ``add``; everything else looks components up by name (``get``, ``name in registry``, ``names``)
    or by config (``for_config``).

    Arguments:
        role: ``energy``, ``sampler``, ``objective``, ``initializer`` or ``dataset``; registered config
            classes must derive from that role's config base.

    Examples:
        >>> import attrs
        >>> from ebmcore import ComponentRegistry, SamplerConfig
        >>> from ebmcore.components.samplers import LangevinSampler
        >>> @attrs.frozen(kw_only=True)
        ... class QuickLangevinConfig(SamplerConfig):
        ...     n_steps: int = 3
        >>> registry = ComponentRegistry("sampler")
        >>> registry.add("quick", QuickLangevinConfig, lambda cfg, ctx: LangevinSampler(n_steps=cfg.n_steps),
        ...              summary="Three Langevin steps.")
        >>> "quick" in registry, registry.names("q*"), len(registry)
        (True, ['quick'], 1)
        >>> comp = registry.for_config(QuickLangevinConfig(n_steps=5))
        >>> comp.name, comp.summary
        ('quick', 'Three Langevin steps.')
        >>> comp.factory(QuickLangevinConfig(n_steps=5), None).n_steps
        5
    """

    def __init__(self, role: str) -> None:
        super().__init__(role)
        self._by_config: dict[type, Component] = {}

    def add(
        self,
        name: str,
        config_cls: type[ComponentConfig],
        factory: Callable[..., Any],
        *,
        summary: str = "",
        example: ComponentConfig | None = None,
        event_shape: tuple[int, ...] | None = None,
    ) -> None:
        """Register ``name`` with its attrs config class and its factory ``(cfg, ctx) -> module``.

        Arguments:
            name: the key users write as ``name`` in configs (short, lowercase).
            config_cls: frozen attrs class deriving from the role's config base.
            factory: ``factory(cfg, ctx: BuildContext)`` (datasets: ``factory(cfg, seed)``).
            summary: one line for ``ebm plugins``.
            example: a valid config for the contract tests when the class defaults are not one.
            event_shape: the sample shape the contract tests use (default ``(2,)``), e.g. ``(1, 8, 8)``
                for an image-only component.
        """
        self._check_new(name)
        base = ROLES[self.role]
        if not (isinstance(config_cls, type) and issubclass(config_cls, base) and attrs.has(config_cls)):
            raise TypeError(
                f"{self.role} {name!r} from {self._provenance}: config class must be an attrs class "
                f"deriving from ebmcore.{base.__name__}, got {config_cls!r}"
            )
        if config_cls in self._by_config:
            other = self._by_config[config_cls]
            raise DuplicateComponentError(
                f"{self.role} config class {config_cls.__qualname__} is registered twice: as {other.name!r} "
                f"by {other.provenance} and as {name!r} by {self._provenance}"
            )
        if not callable(factory):
            raise TypeError(f"{self.role} {name!r}: factory must be callable, got {factory!r}")
        if example is not None and type(example) is not config_cls:
            raise TypeError(f"{self.role} {name!r}: example must be a {config_cls.__qualname__}, got {example!r}")
        comp = Component(
            self.role, name, config_cls, factory, summary.strip(), self._provenance, example,
            None if event_shape is None else tuple(event_shape),
        )
        self._items[name] = comp
        self._by_config[config_cls] = comp

    def for_config(self, cfg: ComponentConfig) -> Component:
        """The component whose config class is exactly ``type(cfg)``."""
        try:
            return self._by_config[type(cfg)]
        except KeyError:
            raise UnknownComponentError(self.role, type(cfg).__qualname__, self.names()) from None

    def name_of(self, cfg: ComponentConfig) -> str:
        return self.for_config(cfg).name


class RecipeRegistry(_BaseRegistry):
    """Named run configs.

    Plugins fill it in their ``ebmcore_register_recipes`` hook; ``ebm train NAME`` runs a recipe.

    Examples:
        >>> from ebmcore import RecipeRegistry
        >>> recipes = RecipeRegistry()
        >>> recipes.add("cd-moons", {"data": {"name": "moons"}, "sampler": {"name": "langevin"}},
        ...             summary="CD on two moons.", bench="CD")
        >>> recipe = recipes.get("cd-moons")
        >>> recipe.config["data"], recipe.bench, recipes.names()
        ({'name': 'moons'}, 'CD', ['cd-moons'])
        >>> try:
        ...     recipes.add("bad", ["not", "a", "mapping"])
        ... except TypeError as err:
        ...     print(err)
        recipe 'bad': config must be a mapping, got list
    """

    def __init__(self) -> None:
        super().__init__("recipe")

    def add(self, name: str, config: Mapping[str, Any], *, summary: str = "", bench: str | None = None) -> None:
        """Register recipe ``name``; ``bench="METHOD"`` enters it in ``ebm bench quality`` as that method's
        template (see :mod:`ebmcore.bench`)."""
        self._check_new(name)
        if not isinstance(config, Mapping):
            raise TypeError(f"recipe {name!r}: config must be a mapping, got {type(config).__name__}")
        if bench is not None and (not isinstance(bench, str) or not bench.strip()):
            raise TypeError(f"recipe {name!r}: bench must be a non-empty method name, got {bench!r}")
        self._items[name] = Recipe(name, dict(config), summary.strip(), self._provenance, bench)


@attrs.define
class Registries:
    """All registries of one plugin manager.

    Attributes:
        energy, sampler, objective, initializer, dataset: the component registry of each role.
        recipe: the recipe registry.

    Examples:
        >>> from ebmcore import PluginHost, Registries
        >>> empty = Registries()
        >>> len(empty.sampler), empty.role("sampler") is empty.sampler
        (0, True)
        >>> regs = PluginHost(load_entrypoints=False).registries()
        >>> sorted({c.role for c in regs.components()})
        ['dataset', 'energy', 'initializer', 'objective', 'sampler']
        >>> "cd-8gaussians" in regs.recipe
        True
    """

    energy: ComponentRegistry = attrs.field(factory=lambda: ComponentRegistry("energy"))
    sampler: ComponentRegistry = attrs.field(factory=lambda: ComponentRegistry("sampler"))
    objective: ComponentRegistry = attrs.field(factory=lambda: ComponentRegistry("objective"))
    initializer: ComponentRegistry = attrs.field(factory=lambda: ComponentRegistry("initializer"))
    dataset: ComponentRegistry = attrs.field(factory=lambda: ComponentRegistry("dataset"))
    recipe: RecipeRegistry = attrs.field(factory=RecipeRegistry)

    def role(self, role: str) -> ComponentRegistry:
        if role not in ROLES:
            raise UnknownComponentError("role", role, list(ROLES))
        reg: ComponentRegistry = getattr(self, role)
        return reg

    def components(self) -> Iterator[Component]:
        for role in ROLES:
            yield from self.role(role)
