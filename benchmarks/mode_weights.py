"""Do EBM training methods learn the right mode weights? (the NF-MLE paper's 'balance' problem)

Trains recipes for several seeds with `ebm train` and prints, per run, the EBM's own mode masses by grid
normalisation (exact, sampler-independent), their largest error, what the samples say (MMD², mode-weight
TV of 2,000 generated samples), the flow-assisted sampler's IMH acceptance at the end of training (mean of
the last training log), and the training wall time. Default recipes (from the ebmcore-nfmle plugin,
NF-MLE method notes section 9): NF-MLE and its PCD-MALA and short-run Langevin baselines on 2 modes at
(±3, 0) with weights 0.2/0.8 and on 4 modes at (±3, ±3) with weights 0.1/0.2/0.3/0.4.

    python benchmarks/mode_weights.py [--seeds 0 1 2] [--recipes nfmle-2modes ...] [--set sampler.n_steps=40 ...]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile

DEFAULT = [f"nfmle-{k}modes{suffix}" for k in (2, 4) for suffix in ("", "-pcd", "-shortrun")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--recipes", nargs="+", default=DEFAULT)
    parser.add_argument("--set", dest="overrides", nargs="+", default=[], metavar="KEY=VALUE",
                        help="dotted.path=value overrides applied to every run")
    args = parser.parse_args()
    ebm = pathlib.Path(sys.executable).with_name("ebm")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    print("| recipe | seed | EBM mode masses (grid) | max abs. error | samples: MMD² | samples: weight TV "
          "| IMH acceptance (end) | train time |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for recipe in args.recipes:
            for seed in args.seeds:
                out = pathlib.Path(tmp) / f"{recipe}-{seed}"
                subprocess.run([str(ebm), "train", recipe, f"seed={seed}", *args.overrides, "--out", str(out),
                                "--no-progress"], check=True, env=env, capture_output=True)
                m = json.loads((out / "metrics.json").read_text())
                last = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
                keys = sorted(k for k in m if k.startswith("grid_weight_") and k.rsplit("_", 1)[1].isdigit())
                masses = ", ".join(f"{m[k]:.3f}" for k in keys)
                imh = last.get("sampler/global_acceptance")
                imh_s = "–" if imh is None else f"{imh:.2f}"
                print(f"| {recipe} | {seed} | {masses} | {m['grid_weight_max_abs_error']:.3f} | {m['mmd2']:.4f} "
                      f"| {m['weight_tv']:.3f} | {imh_s} | {last['wall_time']:.0f} s |", flush=True)


if __name__ == "__main__":
    main()
