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
    """A 2-D energy evaluated on the grid ``[-box, box]²``, for contour plots.

    Evaluated on the energy's own device/dtype in chunks, in sampling mode (no gradients), called without
    conditions: pass the model's energy (``Experiment.model_energy``), which for noise-conditioned methods is
    a :class:`~ebmcore.DataLevelEnergy` at the data level.

    Arguments:
        energy: ``(B, 2) -> (B,)`` energy (an :class:`~ebmcore.Energy` or any callable).
        box: half-width of the square.
        n: grid points per axis.

    Returns:
        ``(xx, yy, E)``, each ``(n, n)`` float32 on the CPU (``xx`` varies along columns).

    Examples:
        >>> from ebmcore.plotting import energy_on_grid
        >>> xx, yy, e = energy_on_grid(lambda x: x.pow(2).sum(1), box=2.0, n=5)
        >>> tuple(e.shape), xx[0].tolist(), e[2, 2].item(), e[0, 0].item()
        ((5, 5), [-2.0, -1.0, 0.0, 1.0, 2.0], 0.0, 8.0)
    """
    ref = next((t for t in getattr(energy, "parameters", lambda: iter(()))()), None)
    device = ref.device if ref is not None else torch.device("cpu")
    dtype = ref.dtype if ref is not None else torch.float32
    g = torch.linspace(-box, box, n, device=device, dtype=dtype)
    xx, yy = torch.meshgrid(g, g, indexing="xy")
    grid = torch.stack([xx.reshape(-1), yy.reshape(-1)], 1)
    from ebmcore.abstract import sampling_mode

    with torch.no_grad(), sampling_mode(energy if isinstance(energy, torch.nn.Module) else None):
        e = torch.cat([energy(chunk) for chunk in grid.split(10000)]).reshape(n, n).float().cpu()
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

    2-D points: data (grey) and samples (blue), next to filled contours of ``-E`` on ``[-box, box]²``.
    Images: a grid of up to 100 samples, values in ``[-1, 1]``. Uses matplotlib's Agg backend (no
    window).

    Arguments:
        dataset: the data set (its ``kind`` picks the picture; its points are drawn in grey).
        samples: ``(N, *event_shape)`` samples.
        path: the PNG to write (parent directories are created).
        energy: the energy to draw as contours (2-D points only), or ``None``.
        title: the title of the scatter panel (default ``"samples"``).
        box: half-width of the plotted square.

    Returns:
        ``path`` as a ``pathlib.Path``.

    Examples:
        >>> import pathlib, tempfile
        >>> from ebmcore.data import make_toy_dataset
        >>> from ebmcore.plotting import plot_samples
        >>> ds = make_toy_dataset("8gaussians", n_train=200)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     png = plot_samples(ds, ds.x[:100], pathlib.Path(tmp) / "plots" / "samples.png",
        ...                        energy=lambda x: -ds.log_prob(x), title="data as samples", box=4.0)
        ...     print(png.name, png.read_bytes()[:4])
        samples.png b'\\x89PNG'
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
    """Generate with EMA weights (when kept) and save a picture; never touches the training RNG stream.

    Draws ``trainer.plot_samples`` samples (seed ``run seed + 1``) with :func:`~ebmcore.evaluation.generate`
    and plots them with :func:`plot_samples`, titled with the current step.

    Arguments:
        trainer: the :class:`~ebmcore.trainer.Trainer` whose run to picture.
        path: the PNG to write.

    Returns:
        ``path`` as a ``pathlib.Path``.

    Examples:
        >>> import tempfile, torch
        >>> from ebmcore import PluginHost, build
        >>> from ebmcore.plotting import save_sample_plot
        >>> from ebmcore.trainer import Trainer
        >>> regs = PluginHost(load_entrypoints=False).registries()
        >>> config = {"data": {"name": "8gaussians", "n_train": 256}, "energy": {"name": "mlp", "hidden": [16]},
        ...           "initializer": {"name": "gaussian"}, "sampler": {"name": "langevin", "n_steps": 2},
        ...           "objective": {"name": "contrastive_divergence"},
        ...           "trainer": {"steps": 2, "batch_size": 32, "plot_samples": 64}, "device": "cpu"}
        >>> with tempfile.TemporaryDirectory() as run_dir:
        ...     trainer = Trainer(build(config, regs=regs), run_dir, regs=regs, progress=False)
        ...     rng = torch.get_rng_state()
        ...     png = save_sample_plot(trainer, trainer.run_dir / "samples-0000000.png")
        ...     print(png.name, png.is_file(), torch.equal(torch.get_rng_state(), rng))
        samples-0000000.png True True
    """
    from ebmcore.evaluation import generate

    exp = trainer.exp
    n = trainer.cfg.trainer.plot_samples
    with trainer.ema_applied() if trainer.cfg.eval.use_ema else contextlib.nullcontext():
        result = generate(exp, n, seed=trainer.cfg.seed + 1)
        return plot_samples(exp.dataset, result.x, path, energy=exp.model_energy, title=f"step {trainer.step}")
