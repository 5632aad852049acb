"""Pictures of samples: a scatter over the energy landscape for 2-D data, an image grid for images."""

from __future__ import annotations

import contextlib
import pathlib
from typing import TYPE_CHECKING

import torch
from torch import Tensor

if TYPE_CHECKING:
    from ebmcore.abstract import EnergyFn
    from ebmcore.data.dataset import Dataset
    from ebmcore.trainer import Trainer

__all__ = ["energy_on_grid", "plot_samples", "save_sample_plot"]


def energy_on_grid(energy: EnergyFn, box: float = 6.0, n: int = 200) -> tuple[Tensor, Tensor, Tensor]:
    """``(xx, yy, E)``, each ``(n, n)`` on the CPU: a 2-D energy on ``[-box, box]²``, evaluated on the
    energy's own device/dtype in chunks. A noise-conditioned energy (one that takes ``t``) is drawn at
    ``t = 0``, the data level."""
    ref = next((t for t in getattr(energy, "parameters", lambda: iter(()))()), None)
    device = ref.device if ref is not None else torch.device("cpu")
    dtype = ref.dtype if ref is not None else torch.float32
    g = torch.linspace(-box, box, n, device=device, dtype=dtype)
    xx, yy = torch.meshgrid(g, g, indexing="xy")
    grid = torch.stack([xx.reshape(-1), yy.reshape(-1)], 1)
    from ebmcore.abstract import sampling_mode

    def at_data_level(chunk: Tensor) -> Tensor:
        if "t" in getattr(energy, "conditions", ()):
            return energy(chunk, t=chunk.new_zeros(chunk.shape[0]))
        return energy(chunk)

    with torch.no_grad(), sampling_mode(energy if isinstance(energy, torch.nn.Module) else None):
        e = torch.cat([at_data_level(chunk) for chunk in grid.split(10000)]).reshape(n, n).float().cpu()
    return xx.float().cpu(), yy.float().cpu(), e


def plot_samples(
    dataset: Dataset,
    samples: Tensor,
    path: str | pathlib.Path,
    *,
    energy: EnergyFn | None = None,
    title: str = "",
    box: float = 6.0,
) -> pathlib.Path:
    """Save a picture of ``samples`` (``(N, *event_shape)``) to ``path`` (PNG).

    2-D points: data (grey) and samples (blue) over filled contours of ``-E`` on ``[-box, box]²``.
    Images: a grid of up to 100 samples, values in ``[-1, 1]``.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    samples = samples.detach().float().cpu()
    if dataset.kind == "image":
        from torchvision.utils import save_image

        save_image(samples[:100].clamp(-1, 1) * 0.5 + 0.5, path, nrow=10, padding=1)
        return path
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    ncols = 2 if (energy is not None and samples.shape[1] == 2) else 1
    fig, axes = plt.subplots(1, ncols, figsize=(5 * ncols, 5), squeeze=False)
    ax = axes[0, 0]
    data = dataset.x[:2000].float()
    if samples.shape[1] >= 2:
        ax.scatter(data[:, 0], data[:, 1], s=2, c="0.7", label="data")
        ax.scatter(samples[:, 0], samples[:, 1], s=2, c="tab:blue", label="samples")
        ax.set_xlim(-box, box)
        ax.set_ylim(-box, box)
        ax.set_aspect("equal")
        ax.legend(loc="upper right", markerscale=4)
    ax.set_title(title or "samples")
    if ncols == 2 and energy is not None:
        xx, yy, e = energy_on_grid(energy, box)
        cs = axes[0, 1].contourf(xx, yy, -(e - e.min()), levels=40, cmap="viridis")
        fig.colorbar(cs, ax=axes[0, 1])
        axes[0, 1].set_aspect("equal")
        axes[0, 1].set_title("-E(x) (shifted)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def save_sample_plot(trainer: Trainer, path: str | pathlib.Path) -> pathlib.Path:
    """Generate with EMA weights (when kept) and save a picture; never touches the training RNG stream."""
    from ebmcore.evaluation import generate

    exp = trainer.exp
    n = trainer.cfg.trainer.plot_samples
    with trainer.ema_applied() if trainer.cfg.eval.use_ema else contextlib.nullcontext():
        result = generate(exp, n, seed=trainer.cfg.seed + 1)
        return plot_samples(exp.dataset, result.x, path, energy=exp.model_energy, title=f"step {trainer.step}")
