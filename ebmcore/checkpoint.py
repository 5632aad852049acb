"""Checkpoints as directories, written atomically and loaded without unpickling arbitrary objects.

Layout of ``<run>/checkpoints/step-0001000/``:

* ``model.safetensors``: every weight and buffer of the run (energy, initializer, sampler, objective),
  code-free and shareable.
* ``ema.safetensors``: EMA weights, when any group keeps an EMA.
* ``config.json``: the full resolved run config, ebmcore/torch/plugin versions, and which plugin (and
  distribution) provides each component, so a checkpoint loaded without that plugin says what to install.
* ``trainer_state.pt``: optimizers, schedulers, step and RNG states; tensors and plain containers only,
  read back with ``torch.load(..., weights_only=True)``.

``<run>/checkpoints/latest`` names the newest complete checkpoint. Every file is written to a temporary
file in the same directory, flushed, fsynced and renamed over the target (``os.replace``), and the
directory is fsynced; ``latest`` is switched only after all files of a checkpoint are in place, so a
crash at any point leaves the previous checkpoint intact.
"""

from __future__ import annotations

import io
import json
import os
import pathlib
import tempfile
from typing import Any

import attrs
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch import Tensor

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "atomic_write",
    "check_components_installed",
    "component_provenance",
    "find_checkpoint",
    "load_checkpoint",
    "load_model_state",
    "load_rank_state",
    "save_checkpoint",
    "save_rank_state",
    "step_dir",
]

LATEST = "latest"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, incomplete or unreadable.

    Examples:
        >>> import tempfile
        >>> from ebmcore.checkpoint import CheckpointError, load_checkpoint
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     try:
        ...         load_checkpoint(tmp)  # an empty directory holds no checkpoint
        ...     except CheckpointError as err:
        ...         print(str(err).split(":")[0])
        no checkpoint at '...'
    """


def _fsync_dir(directory: pathlib.Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def atomic_write(path: str | pathlib.Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: temp file in the same directory, fsync, rename, fsync dir.

    A crash at any point leaves either the old file or the new one at ``path``, never a partial file.
    Missing parent directories are created.

    Arguments:
        path: the file to (over)write.
        data: its new contents.

    Examples:
        >>> import pathlib, tempfile
        >>> from ebmcore.checkpoint import atomic_write
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     target = pathlib.Path(tmp) / "sub" / "latest"
        ...     atomic_write(target, b"step-0000001\\n")
        ...     atomic_write(target, b"step-0000002\\n")  # replaces it in one rename
        ...     print(target.read_text().strip(), sorted(p.name for p in target.parent.iterdir()))
        step-0000002 ['latest']
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _tensors_for_safetensors(state: dict[str, Tensor]) -> dict[str, Tensor]:
    # safetensors refuses tensors sharing storage; copies are cheap for EBM-sized models.
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in state.items()}


@attrs.frozen
class Checkpoint:
    """A loaded checkpoint (see :func:`load_checkpoint`).

    Attributes:
        path: the ``step-*`` directory it was read from.
        model_state: every weight and buffer of the run, ``{name: tensor}`` (from ``model.safetensors``).
        ema_state: EMA weights ``{name: tensor}``, or ``None`` when no group keeps an EMA.
        config: the parsed ``config.json``: ``run`` (the resolved run config), ``versions`` and
            ``components`` (which plugin provides each component).
        trainer_state: optimizers, schedulers, ``step`` and RNG states (tensors and plain containers).

    Examples:
        >>> import tempfile, torch
        >>> from ebmcore.checkpoint import load_checkpoint, save_checkpoint
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     _ = save_checkpoint(f"{tmp}/checkpoints", step=5, model_state={"w": torch.ones(3)},
        ...                         config={"run": {"seed": 0}}, trainer_state={"step": 5})
        ...     ckpt = load_checkpoint(tmp)
        >>> ckpt.path.name, ckpt.step, ckpt.model_state["w"].tolist(), ckpt.ema_state, ckpt.config["run"]
        ('step-0000005', 5, [1.0, 1.0, 1.0], None, {'seed': 0})
    """

    path: pathlib.Path
    model_state: dict[str, Tensor]
    ema_state: dict[str, Tensor] | None
    config: dict[str, Any]
    trainer_state: dict[str, Any]

    @property
    def step(self) -> int:
        return int(self.trainer_state.get("step", 0))


def step_dir(checkpoints_dir: str | pathlib.Path, step: int) -> pathlib.Path:
    """The directory of step ``step``'s checkpoint under ``checkpoints_dir``: ``step-<step:07d>``.

    Arguments:
        checkpoints_dir: a run's ``checkpoints`` directory.
        step: the global step.

    Returns:
        The path (not created).

    Examples:
        >>> from ebmcore.checkpoint import step_dir
        >>> step_dir("runs/x/checkpoints", 42).name
        'step-0000042'
    """
    return pathlib.Path(checkpoints_dir) / f"step-{step:07d}"


def _write_tensors(path: pathlib.Path, state: dict[str, Tensor]) -> None:
    atomic_write(path, st_save(_tensors_for_safetensors(state)))


def _write_torch(path: pathlib.Path, obj: Any) -> None:
    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write(path, buf.getvalue())


def save_checkpoint(
    checkpoints_dir: str | pathlib.Path,
    *,
    step: int,
    model_state: dict[str, Tensor],
    config: dict[str, Any],
    trainer_state: dict[str, Any],
    ema_state: dict[str, Tensor] | None = None,
) -> pathlib.Path:
    """Write ``step-<step>/`` atomically under ``checkpoints_dir`` and point ``latest`` at it.

    ``latest`` is switched only after every file of the checkpoint is in place, so a crash at any point
    leaves the previous checkpoint intact.

    Arguments:
        checkpoints_dir: the run's ``checkpoints`` directory (created if missing).
        step: the global step; the directory is named ``step-<step:07d>``.
        model_state: every weight and buffer, ``{name: tensor}`` (copied to the CPU, saved as safetensors).
        config: JSON-serialisable run config and provenance (``config.json``).
        trainer_state: optimizer, scheduler, step and RNG states; tensors and plain containers only (read
            back with ``weights_only=True``).
        ema_state: EMA weights, or ``None`` (an ``ema.safetensors`` left from an earlier save is removed).

    Returns:
        The path of the written ``step-*`` directory.

    Examples:
        >>> import pathlib, tempfile, torch
        >>> from ebmcore.checkpoint import save_checkpoint
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     step_dir = save_checkpoint(pathlib.Path(tmp) / "checkpoints", step=3,
        ...                                model_state={"energy.w": torch.zeros(2, 2)}, config={"run": {}},
        ...                                trainer_state={"step": 3}, ema_state={"energy.w": torch.ones(2, 2)})
        ...     print(step_dir.name, sorted(p.name for p in step_dir.iterdir()))
        ...     print((step_dir.parent / "latest").read_text().strip())
        step-0000003 ['config.json', 'ema.safetensors', 'model.safetensors', 'trainer_state.pt']
        step-0000003
    """
    root = pathlib.Path(checkpoints_dir)
    target = step_dir(root, step)
    target.mkdir(parents=True, exist_ok=True)
    for stale in target.glob(".tmp-*"):
        stale.unlink()
    _write_tensors(target / "model.safetensors", model_state)
    if ema_state:
        _write_tensors(target / "ema.safetensors", ema_state)
    elif (target / "ema.safetensors").exists():
        (target / "ema.safetensors").unlink()
    _write_torch(target / "trainer_state.pt", trainer_state)
    atomic_write(target / "config.json", json.dumps(config, indent=2, sort_keys=True).encode())
    atomic_write(root / LATEST, f"{target.name}\n".encode())
    return target


def find_checkpoint(path: str | pathlib.Path) -> pathlib.Path:
    """Resolve a run directory, a ``checkpoints`` directory or a ``step-*`` directory to a checkpoint.

    Arguments:
        path: a run directory (its ``checkpoints/latest`` is followed), a ``checkpoints`` directory (its
            ``latest`` is followed) or a ``step-*`` directory holding ``model.safetensors``.

    Returns:
        The ``step-*`` directory of the checkpoint.

    Raises:
        CheckpointError: nothing at ``path`` looks like a checkpoint.

    Examples:
        >>> import pathlib, tempfile, torch
        >>> from ebmcore.checkpoint import find_checkpoint, save_checkpoint
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     run = pathlib.Path(tmp)
        ...     for step in (2, 4):
        ...         _ = save_checkpoint(run / "checkpoints", step=step, model_state={"w": torch.zeros(1)},
        ...                             config={}, trainer_state={"step": step})
        ...     print([find_checkpoint(p).name for p in (run, run / "checkpoints", run / "checkpoints" / "step-0000002")])
        ['step-0000004', 'step-0000004', 'step-0000002']
    """
    p = pathlib.Path(path)
    for root in (p / "checkpoints", p):
        latest = root / LATEST
        if latest.is_file():
            return root / latest.read_text().strip()
    if (p / "model.safetensors").is_file():
        return p
    raise CheckpointError(
        f"no checkpoint at {str(p)!r}: expected a run directory with checkpoints/latest, or a step-* "
        "directory holding model.safetensors"
    )


def load_checkpoint(path: str | pathlib.Path, *, map_location: str | torch.device = "cpu") -> Checkpoint:
    """Load a checkpoint; the trainer state is read with ``weights_only=True`` (no arbitrary unpickling).

    Arguments:
        path: anything :func:`find_checkpoint` accepts (a run, ``checkpoints`` or ``step-*`` directory).
        map_location: device the model and EMA tensors are moved to (the trainer state stays on the CPU;
            optimizers move their state to the parameters when it is loaded).

    Returns:
        The :class:`Checkpoint`.

    Raises:
        CheckpointError: no checkpoint at ``path``, or one of its files is missing.

    Examples:
        >>> import tempfile, torch
        >>> from ebmcore.checkpoint import load_checkpoint, save_checkpoint
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     _ = save_checkpoint(f"{tmp}/checkpoints", step=7, model_state={"w": torch.arange(3.0)},
        ...                         config={"run": {}}, trainer_state={"step": 7, "rng": torch.get_rng_state()})
        ...     ckpt = load_checkpoint(tmp, map_location="cpu")
        >>> ckpt.step, ckpt.model_state["w"], ckpt.trainer_state["rng"].dtype
        (7, tensor([0., 1., 2.]), torch.uint8)
    """
    ckpt = find_checkpoint(path)
    needed = ["model.safetensors", "config.json", "trainer_state.pt"]
    missing = [n for n in needed if not (ckpt / n).is_file()]
    if missing:
        raise CheckpointError(f"checkpoint {str(ckpt)!r} is incomplete: missing {missing}")
    device = str(map_location)
    model_state = {k: v.to(device) for k, v in st_load((ckpt / "model.safetensors").read_bytes()).items()}
    ema_path = ckpt / "ema.safetensors"
    ema_state = (
        {k: v.to(device) for k, v in st_load(ema_path.read_bytes()).items()} if ema_path.is_file() else None
    )
    config = json.loads((ckpt / "config.json").read_text())
    # RNG states must stay CPU tensors; optimizers move their state to the parameters on load.
    trainer_state = torch.load(ckpt / "trainer_state.pt", map_location="cpu", weights_only=True)
    return Checkpoint(ckpt, model_state, ema_state, config, trainer_state)


#: run-config section -> component role (nested configs of the same role, e.g. a weighted sum's terms,
#: are found by walking the section)
_SECTIONS = {"data": "dataset", "energy": "energy", "initializer": "initializer", "sampler": "sampler",
             "objective": "objective"}


def _referenced(run: dict[str, Any]) -> list[tuple[str, str]]:
    """``(role, name)`` of every component named in a run config (unstructured), nested ones included."""
    found: list[tuple[str, str]] = []

    def walk(node: Any, role: str) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("name"), str) and (role, node["name"]) not in found:
                found.append((role, node["name"]))
            for v in node.values():
                walk(v, role)
        elif isinstance(node, list):
            for v in node:
                walk(v, role)

    for section, role in _SECTIONS.items():
        walk(run.get(section), role)
    return found


def component_provenance(run: dict[str, Any], regs: Any) -> list[dict[str, str | None]]:
    """Which plugin provides each component a run config names, stored in ``config.json`` so a checkpoint
    can say what to install.

    Nested components (e.g. the terms of a weighted sum) are included; names the registries do not know
    are left out.

    Arguments:
        run: an unstructured run config (``{"data": {"name": ...}, "energy": {...}, ...}``).
        regs: the registries the components come from (:class:`~ebmcore.Registries`).

    Returns:
        ``[{"role", "name", "plugin", "distribution", "version"}]``, one dict per component.

    Examples:
        >>> from ebmcore import PluginHost
        >>> from ebmcore.checkpoint import component_provenance
        >>> regs = PluginHost(load_entrypoints=False).registries()
        >>> run = {"data": {"name": "8gaussians"}, "energy": {"name": "mlp"}, "sampler": {"name": "langevin"}}
        >>> [(c["role"], c["name"], c["plugin"]) for c in component_provenance(run, regs)]
        [('dataset', '8gaussians', 'ebmcore'), ('energy', 'mlp', 'ebmcore'), ('sampler', 'langevin', 'ebmcore')]
    """
    out = []
    for role, name in _referenced(run):
        reg = regs.role(role)
        if name in reg:
            prov = reg.get(name).provenance
            out.append({"role": role, "name": name, "plugin": prov.plugin, "distribution": prov.distribution,
                        "version": prov.version})
    return out


def check_components_installed(ckpt: Checkpoint, run: dict[str, Any], regs: Any) -> None:
    """Raise :class:`CheckpointError` naming the plugin (and how to install it) for every component that
    ``run`` (the stored config, after any overrides) needs and this environment does not have.

    Components the checkpoint does not record either are left to the config check, which reports them.

    Arguments:
        ckpt: the loaded checkpoint; its ``config["components"]`` says which plugin provides what.
        run: the run config about to be built (unstructured).
        regs: the registries of this environment.

    Raises:
        CheckpointError: one line per missing component, with the ``pip install`` command.

    Examples:
        >>> import pathlib
        >>> from ebmcore import PluginHost
        >>> from ebmcore.checkpoint import Checkpoint, check_components_installed
        >>> regs = PluginHost(load_entrypoints=False).registries()
        >>> stored = [{"role": "energy", "name": "fancy", "plugin": "fancy", "distribution": "ebmcore-fancy",
        ...            "version": "1.0"}]
        >>> ckpt = Checkpoint(pathlib.Path("run/checkpoints/step-0000010"), {}, None, {"components": stored}, {})
        >>> check_components_installed(ckpt, {"energy": {"name": "mlp"}}, regs)  # installed: nothing to say
        >>> check_components_installed(ckpt, {"energy": {"name": "fancy"}}, regs)
        Traceback (most recent call last):
        ...
        ebmcore.checkpoint.CheckpointError: checkpoint 'run/checkpoints/step-0000010' needs components that are not installed:
          energy 'fancy' comes from plugin 'fancy' (ebmcore-fancy 1.0), which is not installed here: pip install ebmcore-fancy ...
    """
    stored = {(c["role"], c["name"]): c for c in ckpt.config.get("components", [])}
    missing = []
    for role, name in _referenced(run):
        if name in regs.role(role) or (role, name) not in stored:
            continue  # installed, or unknown to the checkpoint too: the config check reports it
        c = stored[(role, name)]
        dist = c.get("distribution") or c.get("plugin")
        version = f" {c['version']}" if c.get("version") else ""
        missing.append(f"{role} {name!r} comes from plugin {c.get('plugin')!r} ({dist}{version}), which is not "
                       f"installed here: pip install {dist} (from a checkout: pip install -e plugins/{c.get('plugin')})")
    if missing:
        raise CheckpointError(f"checkpoint {str(ckpt.path)!r} needs components that are not installed:\n  "
                              + "\n  ".join(missing))


def load_model_state(module: torch.nn.Module, state: dict[str, Tensor], ckpt: Checkpoint) -> None:
    """``module.load_state_dict(state, strict=True)``, with a mismatch reported as a :class:`CheckpointError`.

    The error lists the missing and unexpected keys (by component) and the versions that wrote the
    checkpoint, instead of torch's traceback. Typical causes: a checkpoint from another version of a
    plugin, or an override that swaps in a component with other state (e.g. a sampler with persistent
    chains).

    Arguments:
        module: the module to load into (usually the built :class:`~ebmcore.Experiment`).
        state: ``{name: tensor}``, e.g. ``ckpt.model_state`` (with EMA weights swapped in).
        ckpt: the checkpoint ``state`` comes from (named in the error, with its plugin versions).

    Raises:
        CheckpointError: the keys or shapes of ``state`` do not fit ``module``.

    Examples:
        >>> import pathlib, torch
        >>> from ebmcore.checkpoint import Checkpoint, load_model_state
        >>> ckpt = Checkpoint(pathlib.Path("step-0000001"), {}, None, {}, {})
        >>> net = torch.nn.Linear(2, 1)
        >>> load_model_state(net, {"weight": torch.ones(1, 2), "bias": torch.zeros(1)}, ckpt)
        >>> net.weight.tolist()
        [[1.0, 1.0]]
        >>> load_model_state(net, {"weight": torch.ones(1, 3)}, ckpt)
        Traceback (most recent call last):
        ...
        ebmcore.checkpoint.CheckpointError: checkpoint 'step-0000001' does not fit the components built from its config: missing bias; unexpected none; other shapes weight. ...
    """
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        own = module.state_dict()
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        shape = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)

        def show(keys: list[str]) -> str:
            return ", ".join(keys[:6]) + (f" and {len(keys) - 6} more" if len(keys) > 6 else "") if keys else "none"

        versions = ckpt.config.get("versions", {}).get("plugins", {})
        raise CheckpointError(
            f"checkpoint {str(ckpt.path)!r} does not fit the components built from its config: missing "
            f"{show(missing)}; unexpected {show(unexpected)}; other shapes {show(shape)}. It was written with "
            f"plugins {versions or 'unknown'}; a different plugin version, or an override that swaps in a "
            "component with other state, causes this."
        ) from exc


def save_rank_state(step_dir: str | pathlib.Path, rank: int, model_state: dict[str, Tensor], rng: dict[str, Any]) -> None:
    """Save one rank's own state of a multi-process run into a checkpoint directory.

    Rank ``rank``'s chains, replay buffers and RNG (the weights are the same on every rank) go to
    ``rank-<rank>.safetensors`` and ``rank-<rank>.pt``. Written before rank 0 points ``latest`` at that
    directory.

    Arguments:
        step_dir: the ``step-*`` directory of the checkpoint (created if missing).
        rank: the rank whose state this is.
        model_state: the rank's full ``state_dict`` ``{name: tensor}``.
        rng: the rank's RNG states (tensors and plain containers).

    Examples:
        >>> import tempfile, torch
        >>> from ebmcore.checkpoint import load_rank_state, save_rank_state
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     save_rank_state(tmp, 1, {"sampler.chains": torch.zeros(4, 2)}, {"torch": torch.get_rng_state()})
        ...     state, rng = load_rank_state(tmp, 1)
        >>> tuple(state["sampler.chains"].shape), sorted(rng)
        ((4, 2), ['torch'])
    """
    target = pathlib.Path(step_dir)
    target.mkdir(parents=True, exist_ok=True)
    _write_tensors(target / f"rank-{rank}.safetensors", model_state)
    _write_torch(target / f"rank-{rank}.pt", {"rng": rng})


def load_rank_state(step_dir: str | pathlib.Path, rank: int) -> tuple[dict[str, Tensor], dict[str, Any]] | None:
    """Read back one rank's own state saved by :func:`save_rank_state`.

    Arguments:
        step_dir: the ``step-*`` directory of the checkpoint.
        rank: the rank to read.

    Returns:
        ``(model_state, rng)``, or ``None`` when the checkpoint has none for ``rank`` (a single-process
        checkpoint: that rank starts from rank 0's state with its own seed).

    Examples:
        >>> import tempfile, torch
        >>> from ebmcore.checkpoint import load_rank_state, save_rank_state
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     save_rank_state(tmp, 2, {"w": torch.ones(2)}, {"python": [1, 2]})
        ...     print(load_rank_state(tmp, 2), load_rank_state(tmp, 3))
        ({'w': tensor([1., 1.])}, {'python': [1, 2]}) None
    """
    target = pathlib.Path(step_dir)
    tensors, extra = target / f"rank-{rank}.safetensors", target / f"rank-{rank}.pt"
    if not (tensors.is_file() and extra.is_file()):
        return None
    return st_load(tensors.read_bytes()), torch.load(extra, map_location="cpu", weights_only=True)["rng"]
