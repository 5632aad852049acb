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
]

LATEST = "latest"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, incomplete or unreadable."""


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
    """Write ``data`` to ``path`` atomically: temp file in the same directory, fsync, rename, fsync dir."""
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
    """A loaded checkpoint."""

    path: pathlib.Path
    model_state: dict[str, Tensor]
    ema_state: dict[str, Tensor] | None
    config: dict[str, Any]
    trainer_state: dict[str, Any]

    @property
    def step(self) -> int:
        return int(self.trainer_state.get("step", 0))


def save_checkpoint(
    checkpoints_dir: str | pathlib.Path,
    *,
    step: int,
    model_state: dict[str, Tensor],
    config: dict[str, Any],
    trainer_state: dict[str, Any],
    ema_state: dict[str, Tensor] | None = None,
) -> pathlib.Path:
    """Write ``step-<step>/`` atomically under ``checkpoints_dir`` and point ``latest`` at it."""
    root = pathlib.Path(checkpoints_dir)
    target = root / f"step-{step:07d}"
    target.mkdir(parents=True, exist_ok=True)
    for stale in target.glob(".tmp-*"):
        stale.unlink()
    atomic_write(target / "model.safetensors", st_save(_tensors_for_safetensors(model_state)))
    if ema_state:
        atomic_write(target / "ema.safetensors", st_save(_tensors_for_safetensors(ema_state)))
    elif (target / "ema.safetensors").exists():
        (target / "ema.safetensors").unlink()
    buf = io.BytesIO()
    torch.save(trainer_state, buf)
    atomic_write(target / "trainer_state.pt", buf.getvalue())
    atomic_write(target / "config.json", json.dumps(config, indent=2, sort_keys=True).encode())
    atomic_write(root / LATEST, f"{target.name}\n".encode())
    return target


def find_checkpoint(path: str | pathlib.Path) -> pathlib.Path:
    """Resolve a run directory, a ``checkpoints`` directory or a ``step-*`` directory to a checkpoint."""
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
    """Load a checkpoint; the trainer state is read with ``weights_only=True`` (no arbitrary unpickling)."""
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
    """Which plugin provides each component a run config names: ``[{role, name, plugin, distribution,
    version}]``, stored in ``config.json`` so a checkpoint can say what to install."""
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
    ``run`` (the stored config, after any overrides) needs and this environment does not have."""
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
    """``module.load_state_dict(state, strict=True)``, with a mismatch reported as a :class:`CheckpointError`
    that lists the missing and unexpected keys (by component) and the versions that wrote the checkpoint,
    instead of torch's traceback. Typical causes: a checkpoint from another version of a plugin, or an
    override that swaps in a component with other state (e.g. a sampler with persistent chains)."""
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
    """Multi-process runs: rank ``rank``'s own state (its chains, replay buffers and RNG; the weights are the
    same on every rank) as ``rank-<rank>.safetensors`` and ``rank-<rank>.pt`` in a checkpoint directory.
    Written before rank 0 points ``latest`` at that directory."""
    target = pathlib.Path(step_dir)
    target.mkdir(parents=True, exist_ok=True)
    atomic_write(target / f"rank-{rank}.safetensors", st_save(_tensors_for_safetensors(model_state)))
    buf = io.BytesIO()
    torch.save({"rng": rng}, buf)
    atomic_write(target / f"rank-{rank}.pt", buf.getvalue())


def load_rank_state(step_dir: str | pathlib.Path, rank: int) -> tuple[dict[str, Tensor], dict[str, Any]] | None:
    """``(model_state, rng)`` saved by :func:`save_rank_state`, or ``None`` when the checkpoint has none for
    ``rank`` (a single-process checkpoint: that rank starts from rank 0's state with its own seed)."""
    target = pathlib.Path(step_dir)
    tensors, extra = target / f"rank-{rank}.safetensors", target / f"rank-{rank}.pt"
    if not (tensors.is_file() and extra.is_file()):
        return None
    state = dict(st_load(tensors.read_bytes()))
    return state, torch.load(extra, map_location="cpu", weights_only=True)["rng"]
