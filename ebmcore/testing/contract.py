"""Contract checks every registered component must pass (shapes, device/dtype, determinism, gradients,
config round trip). Plugins call them from their own tests, or rely on core's test that runs them over
every registered component.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ebmcore._registry import ROLES, Component, Registries
from ebmcore.abstract import Batch, Energy, Initializer, Objective, Sampler
from ebmcore.config import make_converter
from ebmcore.context import BuildContext

__all__ = ["check_component", "check_config_roundtrip", "default_ctx"]

BATCH = 16


def check_config_roundtrip(comp: Component, regs: Registries) -> None:
    """``structure(unstructure(cfg)) == cfg`` for the component's example config.

    Arguments:
        comp: the registered component (e.g. ``regs.energy.get("mlp")``).
        regs: the registries (they define the config converter).

    Raises:
        AssertionError: the round trip loses or changes something.

    Examples:
        >>> from ebmcore import PluginHost
        >>> from ebmcore.testing.contract import check_config_roundtrip
        >>> regs = PluginHost(load_entrypoints=False).registries()
        >>> for comp in (regs.energy.get("mlp"), regs.sampler.get("langevin"), regs.dataset.get("8gaussians")):
        ...     check_config_roundtrip(comp, regs)  # passes silently
    """
    conv = make_converter(regs)
    role_base = ROLES[comp.role]
    cfg = comp.example_config()
    data = conv.unstructure(cfg, role_base)
    assert data["name"] == comp.name, data
    assert conv.structure(data, role_base) == cfg


def _shape(comp: Component) -> tuple[int, ...]:
    return comp.event_shape or (2,)


def default_ctx(regs: Registries, shape: tuple[int, ...], device: torch.device, dtype: torch.dtype) -> BuildContext:
    """A context with core's MLP energy, Gaussian initializer and a short Langevin sampler built in.

    Its data set is 64 standard-normal points of ``shape`` (``kind="image"`` for 3-D shapes), and
    ``ctx.build_objective`` builds any objective config against it, so a component under test can rely on
    the other roles being present.

    Arguments:
        regs: the registries to build core's components from.
        shape: the event shape, e.g. ``(2,)`` or ``(1, 8, 8)``.
        device: device of the built modules.
        dtype: dtype of the energy and initializer.

    Returns:
        The :class:`~ebmcore.BuildContext`.

    Examples:
        >>> import torch
        >>> from ebmcore import PluginHost
        >>> from ebmcore.testing.contract import default_ctx
        >>> regs = PluginHost(load_entrypoints=False).registries()
        >>> ctx = default_ctx(regs, (2,), torch.device("cpu"), torch.float32)
        >>> type(ctx.energy).__name__, type(ctx.initializer).__name__, type(ctx.sampler).__name__, ctx.sampler.n_steps
        ('MLPEnergy', 'GaussianInitializer', 'LangevinSampler', 3)
        >>> ctx.event_shape, tuple(ctx.dataset.x.shape), tuple(ctx.energy(torch.zeros(5, 2)).shape)
        ((2,), (64, 2), (5,))
    """
    from ebmcore.data.dataset import Dataset

    data = Dataset(x=torch.randn(64, *shape), kind="image" if len(shape) == 3 else "points", name="contract")
    ctx = BuildContext(device=device, dtype=dtype, event_shape=shape, dataset=data)
    ctx.energy = _build(regs.energy.get("mlp"), ctx, device, dtype)
    ctx.initializer = _build(regs.initializer.get("gaussian"), ctx, device, dtype)
    sampler_comp = regs.sampler.get("langevin")
    cfg = sampler_comp.config_cls(n_steps=3)
    ctx.sampler = sampler_comp.factory(cfg, ctx).to(device)

    def build_objective(ocfg: Any) -> Objective:
        obj: Objective = regs.objective.for_config(ocfg).factory(ocfg, ctx)
        return obj.to(device)

    ctx.build_objective = build_objective
    return ctx


def _build(comp: Component, ctx: BuildContext, device: torch.device, dtype: torch.dtype) -> Any:
    module = comp.factory(comp.example_config(), ctx)
    return module.to(device=device, dtype=dtype) if comp.role in ("energy", "initializer") else module.to(device)


def _seeded(fn: Any, seed: int = 0) -> Any:
    torch.manual_seed(seed)
    return fn()


def _assert_tensor(t: Tensor, shape: tuple[int, ...], device: torch.device, dtype: torch.dtype, what: str) -> None:
    assert tuple(t.shape) == shape, f"{what}: shape {tuple(t.shape)} != {shape}"
    assert t.device.type == device.type, f"{what}: device {t.device} != {device}"
    assert t.dtype == dtype, f"{what}: dtype {t.dtype} != {dtype}"
    assert torch.isfinite(t).all(), f"{what}: non-finite values"


def check_component(comp: Component, regs: Registries, device: torch.device, dtype: torch.dtype) -> None:
    """Run the contract of ``comp``'s role on ``device``/``dtype``.

    Every role: the config round trip (:func:`check_config_roundtrip`). Energies: ``(B,)`` output on the
    right device/dtype, same weights under the same seed, a gradient reaching the weights. Initializers:
    shape, device, dtype, determinism under a seed. Samplers: detached, deterministic samples of the right
    shape from a plain callable energy, and ``generate``. Objectives: at least one loss, each a scalar for a
    declared group that gives that group a gradient, detached metrics, determinism. Data sets: deterministic finite float32 data (a
    local-folder set may instead raise a ``FileNotFoundError`` that says where the files go).

    Arguments:
        comp: the registered component.
        regs: the registries (the other roles are built from core's components, see :func:`default_ctx`).
        device: where to build and run it.
        dtype: the floating dtype to check.

    Raises:
        AssertionError: the component breaks its role's contract (the message says how).

    Examples:
        >>> import torch
        >>> from ebmcore import PluginHost
        >>> from ebmcore.testing.contract import check_component
        >>> regs = PluginHost(load_entrypoints=False).registries()
        >>> for comp in (regs.energy.get("mlp"), regs.sampler.get("langevin"),
        ...              regs.objective.get("contrastive_divergence"), regs.dataset.get("8gaussians")):
        ...     check_component(comp, regs, torch.device("cpu"), torch.float32)  # silent when it passes
    """
    check_config_roundtrip(comp, regs)
    shape = _shape(comp)
    if comp.role == "dataset":
        _check_dataset(comp)
        return
    ctx = default_ctx(regs, shape, device, dtype)
    if comp.role == "energy":
        _check_energy(comp, ctx, device, dtype)
    elif comp.role == "initializer":
        _check_initializer(comp, ctx, device, dtype)
    elif comp.role == "sampler":
        _check_sampler(comp, ctx, device, dtype)
    elif comp.role == "objective":
        _check_objective(comp, ctx, device, dtype)


def _check_energy(comp: Component, ctx: BuildContext, device: torch.device, dtype: torch.dtype) -> None:
    energy: Energy = _seeded(lambda: _build(comp, ctx, device, dtype))
    again: Energy = _seeded(lambda: _build(comp, ctx, device, dtype))
    assert isinstance(energy, Energy), f"{comp.name} must build an ebmcore.Energy"
    x = torch.randn(BATCH, *ctx.event_shape, device=device, dtype=dtype)
    cond = {"t": torch.rand(BATCH, device=device, dtype=dtype)} if "t" in energy.conditions else {}
    e = energy(x, **cond)
    _assert_tensor(e, (BATCH,), device, dtype, f"energy {comp.name}")
    assert torch.equal(e, again(x, **cond)), f"energy {comp.name}: same seed, different weights"
    e.sum().backward()
    grads = [p.grad for p in energy.parameters() if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads), f"energy {comp.name}: no gradient reaches the weights"


def _check_initializer(comp: Component, ctx: BuildContext, device: torch.device, dtype: torch.dtype) -> None:
    init: Initializer = _seeded(lambda: _build(comp, ctx, device, dtype))  # learnable initializers: seeded weights
    assert isinstance(init, Initializer), f"{comp.name} must build an ebmcore.Initializer"
    a = _seeded(lambda: init.init(BATCH))
    _assert_tensor(a, (BATCH, *ctx.event_shape), device, dtype, f"initializer {comp.name}")
    init.observe(a)
    init2: Initializer = _seeded(lambda: _build(comp, ctx, device, dtype))
    assert torch.equal(_seeded(lambda: init2.init(BATCH)), a), f"initializer {comp.name}: not deterministic under a seed"


def _check_sampler(comp: Component, ctx: BuildContext, device: torch.device, dtype: torch.dtype) -> None:
    sampler: Sampler = _build(comp, ctx, device, dtype)
    assert isinstance(sampler, Sampler), f"{comp.name} must build an ebmcore.Sampler"

    def quadratic(x: Tensor, **cond: Tensor) -> Tensor:  # a plain callable, not an Energy
        return 0.5 * x.flatten(1).pow(2).sum(1)

    x0 = torch.randn(BATCH, *ctx.event_shape, device=device, dtype=dtype)
    res = _seeded(lambda: sampler.sample(quadratic, x0))
    _assert_tensor(res.x, tuple(x0.shape), device, dtype, f"sampler {comp.name}")
    assert not res.x.requires_grad, f"sampler {comp.name}: samples must be detached"
    assert res.n_energy_evals >= 0 and res.n_grad_evals >= 0
    sampler2: Sampler = _build(comp, ctx, device, dtype)
    res2 = _seeded(lambda: sampler2.sample(quadratic, x0))
    assert torch.equal(res.x, res2.x), f"sampler {comp.name}: not deterministic under a seed"
    gen = _seeded(lambda: sampler.generate(ctx.energy, ctx.initializer, BATCH))  # type: ignore[arg-type]
    _assert_tensor(gen.x, (BATCH, *ctx.event_shape), device, dtype, f"sampler {comp.name} generate")


def _check_objective(comp: Component, ctx: BuildContext, device: torch.device, dtype: torch.dtype) -> None:
    objective: Objective = _build(comp, ctx, device, dtype)
    assert isinstance(objective, Objective), f"{comp.name} must build an ebmcore.Objective"
    groups = objective.parameter_groups()
    assert groups, f"objective {comp.name} declares no trainable group"
    batch = Batch(torch.randn(BATCH, *ctx.event_shape, device=device, dtype=dtype))
    out = _seeded(lambda: objective(batch, 0))
    assert out.losses, f"objective {comp.name} returned no loss at step 0"
    assert set(out.losses) <= set(groups), f"objective {comp.name}: losses {set(out.losses)} vs groups {set(groups)}"
    for gname, loss in out.losses.items():
        _assert_tensor(loss, (), device, dtype, f"objective {comp.name} loss[{gname}]")
        params = [p for p in groups[gname] if p.requires_grad]
        grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
        assert any(g is not None and g.abs().sum() > 0 for g in grads), (
            f"objective {comp.name}: loss[{gname}] gives no gradient to its group"
        )
    for key, val in out.metrics.items():
        assert isinstance(val, Tensor) and not val.requires_grad, f"objective {comp.name}: metric {key} not detached"
    again = _seeded(lambda: objective(batch, 0))
    for gname in out.losses:
        assert torch.equal(out.losses[gname].detach(), again.losses[gname].detach()), (
            f"objective {comp.name}: not deterministic under a seed"
        )


def _check_dataset(comp: Component) -> None:
    cfg = comp.example_config()
    try:
        a = comp.factory(cfg, 0)
    except FileNotFoundError as exc:  # local-folder sets: the message must say where files go
        assert "download" in str(exc).lower() or "expected" in str(exc).lower(), str(exc)
        return
    b = comp.factory(cfg, 0)
    assert torch.equal(a.x, b.x), f"dataset {comp.name}: not deterministic for a seed"
    assert a.x.ndim >= 2 and a.x.dtype == torch.float32 and torch.isfinite(a.x).all()
    assert a.kind in ("points", "image")
