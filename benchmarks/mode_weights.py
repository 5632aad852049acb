"""Do local-MCMC EBM training methods learn the right mode weights? (the NF-MLE paper's 'balance' problem)

Trains each config in benchmarks/mode_weights/ (or those given) for several seeds with `ebm train` and
prints, per run, the EBM's own mode masses by grid normalisation (exact, sampler-independent), their
largest error, and what the samples say (MMD², mode-weight TV of the samples). Configs follow the NF-MLE
method notes section 9: 2 modes at (±3, 0) with weights 0.2/0.8, or 4 modes at (±3, ±3) with weights
0.1/0.2/0.3/0.4, std 0.5; MLP 64x64 + |x|²/72; batch 256; 800 Adam steps (1e-3, betas 0.5/0.999, x0.1
after 70 %).

    python benchmarks/mode_weights.py [--seeds 0 1 2] [--configs benchmarks/mode_weights/*.yaml]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--configs", nargs="+", default=sorted(str(p) for p in (HERE / "mode_weights").glob("*.yaml")))
    args = parser.parse_args()
    ebm = pathlib.Path(sys.executable).with_name("ebm")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    print("| config | seed | EBM mode masses (grid) | max abs. error | samples: MMD² | samples: weight TV |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for cfg in args.configs:
            for seed in args.seeds:
                out = pathlib.Path(tmp) / f"{pathlib.Path(cfg).stem}-{seed}"
                subprocess.run([str(ebm), "train", cfg, f"seed={seed}", "--out", str(out), "--no-progress"],
                               check=True, env=env, capture_output=True)
                m = json.loads((out / "metrics.json").read_text())
                keys = sorted(k for k in m if k.startswith("grid_weight_") and k.rsplit("_", 1)[1].isdigit())
                masses = ", ".join(f"{m[k]:.3f}" for k in keys)
                print(f"| {pathlib.Path(cfg).stem} | {seed} | {masses} | {m['grid_weight_max_abs_error']:.3f} "
                      f"| {m['mmd2']:.4f} | {m['weight_tv']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
