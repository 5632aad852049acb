"""CDRL vs DRL: sample quality at 15, 8, 5 and 3 Langevin steps per level, with the sampling wall time.

Trains `cdrl-8gaussians` and `drl-8gaussians` (identical except for the learned initializer; both train
with 15 steps per level) for each seed, then generates 2,000 samples from the EMA weights with each
number of steps per level via `ebm eval RUN sampler.n_steps=K`, timing each call's sampling. The paper's
claim is that the learned initializer allows fewer steps.

    python benchmarks/cdrl_steps.py [--seeds 0 1 2] [--steps 15 8 5 3]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, nargs="+", default=[15, 8, 5, 3])
    parser.add_argument("--recipes", nargs="+", default=["cdrl-8gaussians", "drl-8gaussians"])
    args = parser.parse_args()
    ebm = str(pathlib.Path(sys.executable).with_name("ebm"))
    env = dict(os.environ, OMP_NUM_THREADS="1")
    print("| recipe | seed | steps per level | MMD² | share within 3σ | modes | mode-weight KL | eval wall time |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for recipe in args.recipes:
            for seed in args.seeds:
                out = pathlib.Path(tmp) / f"{recipe}-{seed}"
                subprocess.run([ebm, "train", recipe, f"seed={seed}", "--out", str(out), "--no-progress"],
                               check=True, env=env, capture_output=True)
                for k in args.steps:
                    ev = pathlib.Path(tmp) / "eval.json"
                    t0 = time.perf_counter()
                    subprocess.run([ebm, "eval", str(out), "-n", "2000", "--seed", "1", f"sampler.n_steps={k}",
                                    "--out", str(ev)], check=True, env=env, capture_output=True)
                    wall = time.perf_counter() - t0
                    m = json.loads(ev.read_text())
                    print(f"| {recipe} | {seed} | {k} | {m['mmd2']:.4f} | {m['share_within_3std']:.3f} "
                          f"| {m['modes_covered']:.0f} | {m['weight_kl']:.3f} | {wall:.1f} s |", flush=True)


if __name__ == "__main__":
    main()
