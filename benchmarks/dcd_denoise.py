"""Denoising 8x8 digits under trained energies (the DCD paper's denoising experiment, reconstructed).

For each run directory: corrupt the held-out digits of the run's data set with Gaussian noise sigma
(default 0.3 in [-1, 1] units, seeded), denoise by MAP gradient descent on E(x) + |x - y|²/(2 sigma²)
(200 steps of 0.1 sigma², clamped to [-1.5, 1.5]) and by the posterior mean of Langevin chains on the
same energy, and print the PSNR (peak-to-peak 2) of the noisy and denoised images.

    python benchmarks/dcd_denoise.py RUN [RUN ...] [--sigma 0.3]
"""

from __future__ import annotations

import argparse
import pathlib

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=pathlib.Path)
    parser.add_argument("--sigma", type=float, default=0.3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    from ebmcore_dcd import denoise, psnr

    from ebmcore import registries, sampling_mode
    from ebmcore.evaluation import load_experiment

    print("| run | noisy PSNR | MAP PSNR (gain) | posterior-mean PSNR (gain) |")
    print("|---|---|---|---|")
    for run in args.runs:
        exp, _ = load_experiment(run, regs=registries(), device="cpu")
        x = exp.dataset.test if exp.dataset.test is not None else exp.dataset.x
        gen = torch.Generator().manual_seed(0)
        y = x + args.sigma * torch.randn(x.shape, generator=gen)
        torch.manual_seed(0)
        with sampling_mode(exp.energy):
            x_map = denoise(exp.energy, y, args.sigma, method="map")
            x_pm = denoise(exp.energy, y, args.sigma, method="posterior_mean", n_steps=200, step_frac=0.05)
        noisy = psnr(y.clamp(-1, 1), x)
        p_map, p_pm = psnr(x_map, x), psnr(x_pm, x)
        print(f"| {run.name} | {noisy:.2f} dB | {p_map:.2f} dB ({p_map - noisy:+.2f}) | {p_pm:.2f} dB ({p_pm - noisy:+.2f}) |",
              flush=True)


if __name__ == "__main__":
    main()
