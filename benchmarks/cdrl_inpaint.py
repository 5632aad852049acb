"""Inpainting half-masked 8x8 digits with a trained CDRL model: an image grid and the known-pixel check.

Loads a CDRL run (EMA weights, or raw with ``--raw``), takes ``-n`` held-out digits, hides their bottom half, and fills it with
the sampler's inpainting (known pixels replaced by the observation noised to each level, after the
initializer proposal and every Langevin step). Saves a grid: originals, masked inputs, inpaintings; prints
the mean squared error on the hidden half against the originals, next to the error of filling it with the
data mean (a trivial baseline) and the DigitsFID judge's class agreement between originals and inpaintings.

    python benchmarks/cdrl_inpaint.py RUN [--out docs/img/cdrl_inpaint.png] [-n 10] [--seed 0] [--raw]
"""

from __future__ import annotations

import argparse
import pathlib

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=pathlib.Path)
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("docs/img/cdrl_inpaint.png"))
    parser.add_argument("-n", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--raw", action="store_true", help="use the raw weights instead of the EMA weights")
    args = parser.parse_args()
    torch.set_num_threads(1)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ebmcore import registries, sampling_mode
    from ebmcore.evaluation import load_experiment
    from ebmcore.metrics.fid import digits_judge_outputs

    exp, _ = load_experiment(args.run, regs=registries(), use_ema=not args.raw, device="cpu")
    test = exp.dataset.test if exp.dataset.test is not None else exp.dataset.x
    x = test[: args.n]
    mask = torch.ones(1, 1, 8, 8)
    mask[..., 4:, :] = 0  # bottom half hidden
    torch.manual_seed(args.seed)
    with sampling_mode(exp.energy, exp.initializer):
        out = exp.sampler.inpaint(exp.energy, exp.initializer, x, mask).x
    hidden = (1 - mask).bool().expand_as(x)
    mse = float((out - x)[hidden].pow(2).mean())
    mean_fill = exp.dataset.x.mean(0, keepdim=True).expand_as(x)
    mse_mean = float((mean_fill - x)[hidden].pow(2).mean())
    _, lo = digits_judge_outputs(x)
    _, li = digits_judge_outputs(out)
    agree = float((lo.argmax(1) == li.argmax(1)).float().mean())
    print(f"hidden-half MSE: inpainting {mse:.4f}, data-mean fill {mse_mean:.4f}; "
          f"judge class agreement with the originals {agree:.2f} ({args.n} digits)")
    rows = [x, x * mask - (1 - mask), out]
    fig, axes = plt.subplots(3, args.n, figsize=(args.n * 0.8, 2.6))
    for r, imgs in enumerate(rows):
        for c in range(args.n):
            ax = axes[r, c]
            ax.imshow(imgs[c, 0].clamp(-1, 1).numpy(), cmap="gray", vmin=-1, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(["original", "input", "inpainted"][r], fontsize=7)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=100)
    print(f"grid -> {args.out}")


if __name__ == "__main__":
    main()
