"""Run configuration: frozen attrs classes, a strict cattrs converter and helpful errors.

A run is ``energy + sampler + objective + initializer + data + trainer + eval + device/dtype/seed``. Each
role is selected by its ``name`` key, looked up in the live registry, and the remaining keys are
structured as that component's config class. Unknown keys are errors. All problems in a config are
reported at once as ``message @ $.path`` lines.
"""

from __future__ import annotations

import json
import pathlib
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import attrs
import cattrs
from attrs import validators as v
from cattrs.gen import make_dict_unstructure_fn
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError

from ebmcore._bases import (
    ComponentConfig,
    DatasetConfig,
    EnergyConfig,
    InitializerConfig,
    ObjectiveConfig,
    SamplerConfig,
)
from ebmcore._registry import ROLES, Registries, UnknownComponentError

__all__ = [
    "ComponentConfig",
    "ConfigError",
    "DatasetConfig",
    "EnergyConfig",
    "EvalConfig",
    "InitializerConfig",
    "ObjectiveConfig",
    "OptimizerConfig",
    "RunConfig",
    "SamplerConfig",
    "TrainerConfig",
    "apply_overrides",
    "make_converter",
    "read_config_file",
    "structure_config",
    "unstructure_config",
]

DTYPES = ("float32", "float64", "bfloat16")


@attrs.frozen(kw_only=True)
class OptimizerConfig:
    """Optimizer, schedule, clipping and EMA of one trainable group.

    Attributes:
        name: ``adam``, ``adamw`` or ``sgd``.
        lr: peak learning rate (after warm-up).
        betas: Adam betas; ``momentum`` for SGD.
        momentum: SGD momentum (ignored by ``adam`` and ``adamw``).
        weight_decay: decoupled for ``adamw``, L2 for the others.
        warmup_steps: linear warm-up from 0 to ``lr``.
        schedule: after warm-up: ``constant``, ``cosine`` (to ``min_lr_ratio * lr`` at the last step),
            ``linear`` (likewise) or ``step`` (``lr`` until ``step_at`` of the run, then
            ``min_lr_ratio * lr``).
        min_lr_ratio: the final learning rate as a fraction of ``lr``.
        step_at: fraction of the run after which the ``step`` schedule drops the rate.
        grad_clip: clip the group's gradient norm to this value (``None``: no clipping).
        ema: EMA decay of the group's weights (``None``: no EMA). Sampling and evaluation use EMA weights.

    Examples:
        >>> from ebmcore import OptimizerConfig
        >>> opt = OptimizerConfig(name="sgd", lr=0.1, momentum=0.9, schedule="cosine", warmup_steps=100)
        >>> opt.name, opt.lr, opt.ema
        ('sgd', 0.1, None)
        >>> OptimizerConfig(lr=0.0)
        Traceback (most recent call last):
        ...
        ValueError: 'lr' must be > 0: 0.0
        >>> OptimizerConfig(betas=(0.9, 1.0))
        Traceback (most recent call last):
        ...
        ValueError: 'betas' must each be in [0, 1), got [0.9, 1.0]
    """

    name: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = attrs.field(default=1e-3, validator=v.gt(0))
    betas: tuple[float, float] = attrs.field(default=(0.9, 0.999))
    momentum: float = attrs.field(default=0.0, validator=v.ge(0))
    weight_decay: float = attrs.field(default=0.0, validator=v.ge(0))
    warmup_steps: int = attrs.field(default=0, validator=v.ge(0))
    schedule: Literal["constant", "cosine", "linear", "step"] = "constant"
    min_lr_ratio: float = attrs.field(default=0.0, validator=[v.ge(0), v.le(1)])
    step_at: float = attrs.field(default=0.7, validator=[v.gt(0), v.lt(1)])
    grad_clip: float | None = attrs.field(default=None, validator=v.optional(v.gt(0)))
    ema: float | None = attrs.field(default=None, validator=v.optional([v.gt(0), v.lt(1)]))

    @betas.validator
    def _check_betas(self, attribute: attrs.Attribute[tuple[float, float]], value: tuple[float, float]) -> None:
        if not all(0.0 <= b < 1.0 for b in value):
            raise ValueError(f"'betas' must each be in [0, 1), got {list(value)}")


@attrs.frozen(kw_only=True)
class TrainerConfig:
    """Training loop settings.

    Attributes:
        steps: number of optimisation steps.
        batch_size: data batch size.
        optimizer: defaults for every trainable group.
        groups: per-group overrides of ``optimizer`` (group name -> full optimizer config).
        log_every: write metrics to ``metrics.jsonl`` every this many steps.
        plot_every: save a sample picture every this many steps (0: only at the end).
        checkpoint_every: write a checkpoint every this many steps (0: only at the end).
        check_finite_every: check losses/metrics/gradients for NaN/inf every this many steps (one host
            sync each); 1 guarantees no non-finite update is ever applied. With a larger value a bad
            update between checks may reach the weights before it is caught, but steps that write a
            checkpoint are always checked and checkpoints are never non-finite.
        autocast: bfloat16 autocast of the objective's forward on CUDA (ignored on CPU).
        plot_samples: number of samples in pictures.
        on_divergence: ``"stop"`` (raise, keeping the last good checkpoint) or ``"rollback"``: reload the
            last good checkpoint (one is written at the start when there is none), multiply every group's
            learning rate by ``rollback_lr_factor`` and continue, at most ``max_rollbacks`` times.
        rollback_lr_factor: learning-rate factor applied at each rollback (cumulative).
        max_rollbacks: rollbacks allowed before the run stops as with ``"stop"``.

    Examples:
        >>> from ebmcore import OptimizerConfig, TrainerConfig
        >>> trainer = TrainerConfig(steps=500, batch_size=64, optimizer=OptimizerConfig(lr=1e-3),
        ...                         groups={"initializer": OptimizerConfig(lr=1e-4)})
        >>> trainer.optimizer_for("energy").lr, trainer.optimizer_for("initializer").lr
        (0.001, 0.0001)
        >>> TrainerConfig(steps=0)
        Traceback (most recent call last):
        ...
        ValueError: 'steps' must be >= 1: 0
    """

    steps: int = attrs.field(default=1000, validator=v.ge(1))
    batch_size: int = attrs.field(default=128, validator=v.ge(1))
    optimizer: OptimizerConfig = OptimizerConfig()
    groups: dict[str, OptimizerConfig] = attrs.field(factory=dict)
    log_every: int = attrs.field(default=50, validator=v.ge(1))
    plot_every: int = attrs.field(default=0, validator=v.ge(0))
    checkpoint_every: int = attrs.field(default=0, validator=v.ge(0))
    check_finite_every: int = attrs.field(default=1, validator=v.ge(1))
    autocast: bool = False
    plot_samples: int = attrs.field(default=2000, validator=v.ge(1))
    on_divergence: Literal["stop", "rollback"] = "stop"
    rollback_lr_factor: float = attrs.field(default=0.5, validator=[v.gt(0), v.lt(1)])
    max_rollbacks: int = attrs.field(default=3, validator=v.ge(1))

    def optimizer_for(self, group: str) -> OptimizerConfig:
        return self.groups.get(group, self.optimizer)


@attrs.frozen(kw_only=True)
class EvalConfig:
    """Evaluation settings (``ebm eval`` and the end of ``ebm train``).

    Attributes:
        n_samples: number of generated samples to score.
        use_ema: sample with EMA weights when the run has them.

    Examples:
        >>> from ebmcore import EvalConfig
        >>> EvalConfig()
        EvalConfig(n_samples=2000, use_ema=True)
        >>> EvalConfig(n_samples=500, use_ema=False).n_samples
        500
    """

    n_samples: int = attrs.field(default=2000, validator=v.ge(1))
    use_ema: bool = True


@attrs.frozen(kw_only=True)
class RunConfig:
    """One run: the five parts, trainer and eval settings, device, dtype and seed.

    Attributes:
        data: the data set (``name`` picks a registered data set).
        energy, initializer, sampler, objective: the four roles, each picked by ``name``.
        trainer, eval: loop settings.
        device: ``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
        dtype: parameter and data dtype.
        seed: seeds every random draw (data, initialisation, sampling).
        compile_energy: opt-in ``torch.compile`` of the energy (``nn.Module.compile``: in place, so
            checkpoints keep their keys). Every sampler step and loss goes through the energy, so this is
            where compilation pays; the first steps are slow while graphs compile.
        compile_sampler: opt-in ``torch.compile`` of the sampler's step arithmetic
            (:meth:`~ebmcore.abstract.Sampler.compile_step`; core's Langevin, MALA and HMC offer it). Random
            draws stay eager, so a compiled run sees the eager run's random numbers.

    Examples:
        >>> from ebmcore import PluginHost, RunConfig, structure_config
        >>> regs = PluginHost(load_entrypoints=False).registries()
        >>> cfg = structure_config({
        ...     "data": {"name": "8gaussians"},
        ...     "energy": {"name": "mlp", "hidden": [16]},
        ...     "initializer": {"name": "gaussian"},
        ...     "sampler": {"name": "langevin", "n_steps": 5},
        ...     "objective": {"name": "contrastive_divergence"},
        ...     "trainer": {"steps": 100},
        ...     "device": "cpu",
        ... }, regs)
        >>> isinstance(cfg, RunConfig), type(cfg.sampler).__name__, cfg.sampler.n_steps
        (True, 'LangevinSamplerConfig', 5)
        >>> cfg.trainer.steps, cfg.eval.n_samples, cfg.dtype, cfg.seed  # unset keys keep their defaults
        (100, 2000, 'float32', 0)
    """

    data: DatasetConfig
    energy: EnergyConfig
    initializer: InitializerConfig
    sampler: SamplerConfig
    objective: ObjectiveConfig
    trainer: TrainerConfig = TrainerConfig()
    eval: EvalConfig = EvalConfig()
    device: str = attrs.field(default="auto")
    dtype: Literal["float32", "float64", "bfloat16"] = "float32"
    seed: int = attrs.field(default=0, validator=[v.ge(0), v.lt(2**63)])  # torch.manual_seed range, non-negative
    compile_energy: bool = False
    compile_sampler: bool = False

    @device.validator
    def _check_device(self, attribute: attrs.Attribute[str], value: str) -> None:
        if value not in ("auto", "cpu", "cuda", "mps") and not value.startswith("cuda:"):
            raise ValueError(f"'device' must be one of auto, cpu, cuda, cuda:N, mps; got {value!r}")


# --- converter ---------------------------------------------------------------------------------------


class ConfigError(ValueError):
    """A config with problems; ``lines`` holds one ``message @ $.path`` per problem.

    Arguments:
        lines: one ``message @ $.path`` line per problem.

    Examples:
        >>> from ebmcore import ConfigError, PluginHost, structure_config
        >>> regs = PluginHost(load_entrypoints=False).registries()
        >>> bad = {
        ...     "data": {"name": "8gaussians"},
        ...     "energy": {"name": "mlp", "hidden": [16]},
        ...     "initializer": {"name": "gaussian"},
        ...     "sampler": {"name": "langevn"},
        ...     "objective": {"name": "contrastive_divergence"},
        ...     "trainer": {"stepz": 100},
        ... }
        >>> try:
        ...     structure_config(bad, regs)
        ... except ConfigError as err:
        ...     print(isinstance(err, ValueError), len(err.lines))
        ...     print(err)
        True 2
        invalid config (2 problems):
          unknown sampler 'langevn' (did you mean 'langevin'?); available: ... @ $.sampler
          unknown key(s) ['stepz'] @ $.trainer
    """

    def __init__(self, lines: Sequence[str]) -> None:
        self.lines = list(lines)
        super().__init__("\n".join(self.lines))

    def __str__(self) -> str:
        n = len(self.lines)
        return f"invalid config ({n} problem{'s' if n != 1 else ''}):\n" + "\n".join(f"  {ln}" for ln in self.lines)


class _MissingName(LookupError):
    def __init__(self, role: str, available: list[str]) -> None:
        super().__init__(f"missing 'name'; available {role} names: {available}")


def _strict_int(val: Any, _: type) -> int:
    if isinstance(val, bool) or (isinstance(val, float) and not val.is_integer()):
        raise ValueError(f"expected an integer, got {val!r}")
    if isinstance(val, str):
        val = val.strip()
    return int(val)


def _strict_bool(val: Any, _: type) -> bool:
    if not isinstance(val, bool):
        raise ValueError(f"expected true or false, got {val!r}")
    return val


def _strict_float(val: Any, _: type) -> float:
    if isinstance(val, bool):
        raise ValueError(f"expected a number, got {val!r}")
    return float(val)  # numeric strings are accepted: YAML 1.1 reads 1e-3 as a string


_LITERAL_MESSAGE = re.compile(r"^(.*) not in literal typing\.Literal\[(.*)\]$")
_FIELD_MESSAGE = re.compile(r"^'(\w+)' (.*) @ (\$\S*)$")


def _field_paths(lines: list[str]) -> list[str]:
    """attrs validator messages name their field: move it into the path (``@ $.sampler.step_size``)."""
    return [_FIELD_MESSAGE.sub(r"'\1' \2 @ \3.\1", line) for line in lines]


def _role_of(base: type) -> str:
    return next(role for role, b in ROLES.items() if b is base)


def make_converter(regs: Registries) -> cattrs.Converter:
    """A strict converter whose role fields dispatch on ``name`` through ``regs`` at call time.

    Integers, floats and booleans are not coerced from one another (``true`` is not a number, ``1.5`` is
    not an integer); unknown keys are errors. Most callers want :func:`structure_config` and
    :func:`unstructure_config`, which wrap it and format its errors.

    Arguments:
        regs: the registries that map each role's ``name`` to its config class.

    Returns:
        A ``cattrs.Converter`` that structures ``{"name": ..., **fields}`` mappings into component configs
        and unstructures them back, ``name`` included.

    Examples:
        >>> from ebmcore import PluginHost, SamplerConfig
        >>> from ebmcore.config import make_converter
        >>> conv = make_converter(PluginHost(load_entrypoints=False).registries())
        >>> cfg = conv.structure({"name": "langevin", "n_steps": 5}, SamplerConfig)
        >>> type(cfg).__name__, cfg.n_steps
        ('LangevinSamplerConfig', 5)
        >>> conv.unstructure(cfg)["name"]
        'langevin'
    """
    conv = cattrs.Converter(forbid_extra_keys=True)
    conv.register_structure_hook(int, _strict_int)
    conv.register_structure_hook(float, _strict_float)
    conv.register_structure_hook(bool, _strict_bool)  # after int: bool is a subclass of int
    attrs_unstructure: dict[type, Callable[[Any], dict[str, Any]]] = {}

    for base in ROLES.values():
        registry = regs.role(_role_of(base))

        def structure(val: Any, _: type, registry: Any = registry) -> ComponentConfig:
            if not isinstance(val, Mapping):
                raise TypeError(f"expected a mapping with a 'name' key, got {type(val).__name__} {val!r}")
            if "name" not in val:
                raise _MissingName(registry.role, registry.names())
            comp = registry.get(val["name"])  # UnknownComponentError with suggestion
            rest = {k: x for k, x in val.items() if k != "name"}
            return conv.structure(rest, comp.config_cls)  # type: ignore[no-any-return]

        def unstructure(cfg: ComponentConfig, registry: Any = registry) -> dict[str, Any]:
            comp = registry.for_config(cfg)
            fields = attrs_unstructure.get(comp.config_cls)
            if fields is None:
                fields = attrs_unstructure[comp.config_cls] = make_dict_unstructure_fn(comp.config_cls, conv)
            return {"name": comp.name, **fields(cfg)}

        conv.register_structure_hook_func(lambda t, b=base: t is b, structure)
        conv.register_unstructure_hook_func(lambda t, b=base: t is b, unstructure)
        # component configs reached through their concrete class keep their name too
        conv.register_unstructure_hook_func(
            lambda t, b=base: isinstance(t, type) and issubclass(t, b) and t is not b,
            lambda cfg, registry=registry: unstructure(cfg, registry),
        )
    return conv


def _format_exception(exc: BaseException, type_: Any) -> str:
    if isinstance(exc, (UnknownComponentError, _MissingName)):
        return str(exc)
    literal = _LITERAL_MESSAGE.match(str(exc))
    if literal:
        return f"must be one of [{literal.group(2)}], got {literal.group(1)!r}"
    if isinstance(exc, ForbiddenExtraKeysError):
        return f"unknown key(s) {sorted(exc.extra_fields)}"
    if isinstance(exc, KeyError):
        return "required field missing"
    if isinstance(exc, (ValueError, TypeError)) and type(exc) in (ValueError, TypeError):
        # attrs' in_ validator raises ValueError(message, attribute, options, value): keep the message only
        msg = exc.args[0] if len(exc.args) > 1 and isinstance(exc.args[0], str) else str(exc)
        if msg and not msg.startswith("Unsupported type"):
            return msg
    return cattrs.v.format_exception(exc, type_)


def structure_config(data: Mapping[str, Any], regs: Registries, cls: type = RunConfig) -> Any:
    """Structure a mapping as ``cls`` (a :class:`RunConfig` by default); raise :class:`ConfigError`.

    Every problem is reported at once, as ``message @ $.path``.

    Arguments:
        data: the plain config (as read from a file), each role a mapping with a ``name`` key.
        regs: the registries that resolve each role's ``name``.
        cls: the class to structure ``data`` as (e.g. :class:`TrainerConfig` for one section).

    Returns:
        An instance of ``cls`` (a :class:`RunConfig` by default) with every component config structured as
        its registered class.

    Examples:
        >>> from ebmcore import ConfigError, PluginHost, TrainerConfig, structure_config
        >>> regs = PluginHost(load_entrypoints=False).registries()
        >>> cfg = structure_config({
        ...     "data": {"name": "moons"},
        ...     "energy": {"name": "mlp", "hidden": [16, 16]},
        ...     "initializer": {"name": "uniform"},
        ...     "sampler": {"name": "mala", "step_size": 0.01},
        ...     "objective": {"name": "contrastive_divergence", "alpha": 0.1},
        ... }, regs)
        >>> cfg.energy.hidden, type(cfg.sampler).__name__, cfg.objective.alpha
        ((16, 16), 'MALASamplerConfig', 0.1)
        >>> structure_config({"steps": "10", "batch_size": 32}, regs, TrainerConfig).steps
        10
        >>> structure_config({"steps": 1.5, "autocast": "yes"}, regs, TrainerConfig)
        Traceback (most recent call last):
        ...
        ebmcore.config.ConfigError: invalid config (2 problems):
          expected an integer, got 1.5 @ $.steps
          expected true or false, got 'yes' @ $.autocast
    """
    conv = make_converter(regs)
    try:
        return conv.structure(dict(data), cls)
    except (ClassValidationError, IterableValidationError) as exc:
        raise ConfigError(_field_paths(cattrs.transform_error(exc, format_exception=_format_exception))) from exc
    except (UnknownComponentError, _MissingName, ValueError, TypeError) as exc:
        raise ConfigError(_field_paths([f"{_format_exception(exc, cls)} @ $"])) from exc


def unstructure_config(cfg: Any, regs: Registries) -> dict[str, Any]:
    """The plain-dict form of a config (JSON-able), with every component's ``name``.

    Arguments:
        cfg: a :class:`RunConfig` (or any config class, e.g. one component's config).
        regs: the registries that give each component config its ``name``.

    Returns:
        A plain ``dict`` that :func:`structure_config` turns back into an equal config.

    Examples:
        >>> from ebmcore import PluginHost, structure_config, unstructure_config
        >>> regs = PluginHost(load_entrypoints=False).registries()
        >>> cfg = structure_config({
        ...     "data": {"name": "8gaussians"},
        ...     "energy": {"name": "mlp", "hidden": [16]},
        ...     "initializer": {"name": "gaussian", "std": 2.0},
        ...     "sampler": {"name": "langevin"},
        ...     "objective": {"name": "contrastive_divergence"},
        ... }, regs)
        >>> plain = unstructure_config(cfg, regs)
        >>> plain["initializer"]
        {'name': 'gaussian', 'mean': 0.0, 'std': 2.0}
        >>> structure_config(plain, regs) == cfg
        True
    """
    out: dict[str, Any] = make_converter(regs).unstructure(cfg)
    return out


# --- files and overrides -----------------------------------------------------------------------------


def read_config_file(path: str | pathlib.Path) -> dict[str, Any]:
    """Read a TOML, YAML or JSON config file into a dict (by extension).

    Arguments:
        path: a ``.toml``, ``.yaml``/``.yml`` or ``.json`` file holding a mapping.

    Returns:
        The file's top-level mapping as a plain ``dict`` (not yet validated: see :func:`structure_config`).
        A missing, unreadable or non-mapping file raises :class:`ConfigError`.

    Examples:
        >>> import pathlib, tempfile
        >>> from ebmcore import ConfigError, read_config_file
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = pathlib.Path(tmp) / "run.toml"
        ...     _ = path.write_text('sampler = { name = "langevin", n_steps = 10 }')
        ...     print(read_config_file(path))
        ...     try:
        ...         read_config_file(path.with_suffix(".ini"))
        ...     except ConfigError as err:
        ...         print(err.lines)
        {'sampler': {'name': 'langevin', 'n_steps': 10}}
        ["config file not found: '.../run.ini' @ $"]
    """
    p = pathlib.Path(path)
    if not p.is_file():
        raise ConfigError([f"config file not found: {str(p)!r} @ $"])
    text = p.read_text()
    suffix = p.suffix.lower()
    try:
        if suffix == ".toml":
            import tomllib

            data: Any = tomllib.loads(text)
        elif suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        elif suffix == ".json":
            data = json.loads(text)
        else:
            raise ConfigError([f"unsupported config extension {suffix!r} (use .toml, .yaml, .yml or .json) @ $"])
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError([f"cannot parse {str(p)!r}: {exc} @ $"]) from exc
    if not isinstance(data, dict):
        raise ConfigError([f"{str(p)!r} must hold a mapping at the top level, got {type(data).__name__} @ $"])
    return data


def _parse_value(text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def apply_overrides(data: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``dotted.path=value`` overrides (values parsed as YAML scalars/lists) to a config dict.

    ``trainer.steps=2000 sampler.step_size=0.01 energy.hidden=[64,64]``. Setting a role's ``name`` keeps
    the other keys, so switching component may need the keys of the new one.

    Arguments:
        data: the config as a plain mapping; it is not modified.
        overrides: ``dotted.path=value`` strings, applied in order; missing intermediate mappings are created.

    Returns:
        A new config dict with the overrides applied. Malformed overrides raise :class:`ConfigError`, all
        of them reported at once.

    Examples:
        >>> from ebmcore import apply_overrides
        >>> base = {"sampler": {"name": "langevin", "n_steps": 20}}
        >>> apply_overrides(base, ["sampler.n_steps=5", "energy.hidden=[64,64]", "trainer.autocast=true"])
        {'sampler': {'name': 'langevin', 'n_steps': 5}, 'energy': {'hidden': [64, 64]}, 'trainer': {'autocast': True}}
        >>> base["sampler"]["n_steps"]  # the input is left as it was
        20
        >>> apply_overrides(base, ["sampler.n_steps"])
        Traceback (most recent call last):
        ...
        ebmcore.config.ConfigError: invalid config (1 problem):
          override 'sampler.n_steps' is not of the form dotted.path=value @ $
    """
    out: dict[str, Any] = json.loads(json.dumps(data))  # deep copy of plain data
    problems = []
    for item in overrides:
        if "=" not in item:
            problems.append(f"override {item!r} is not of the form dotted.path=value @ $")
            continue
        key, _, raw = item.partition("=")
        parts = [p for p in key.strip().split(".") if p]
        if not parts:
            problems.append(f"override {item!r} has an empty path @ $")
            continue
        node: Any = out
        path = "$"
        for part in parts[:-1]:
            path += f".{part}"
            if not isinstance(node.get(part), dict):
                if part in node:
                    problems.append(f"cannot set {key!r}: {path} is not a mapping @ {path}")
                    break
                node[part] = {}
            node = node[part]
        else:
            node[parts[-1]] = _parse_value(raw)
    if problems:
        raise ConfigError(problems)
    return out
