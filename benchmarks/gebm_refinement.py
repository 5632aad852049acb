"""Does the GEBM energy improve on its base? (GEBM method notes 7.2 / 7.4 acceptance)

Trains a GEBM recipe for each seed with `ebm train`, then evaluates every checkpoint of the run with
`ebm eval` under each sampler setting: base only, SIR (beta 1), latent ULA (beta 1 and 10, gamma 1e-3,
300 steps), kinetic Langevin (beta 10). Prints one markdown row per (seed, checkpoint, sampler) with the
metrics that matter for the data (2-D: MMD², share within 3 std, modes covered, mode-weight KL; digits:
DigitsFID, largest class share, classes over 3 %, judge confidence), and per seed the KALE estimates logged
during training (min and last; KALE must stay positive and finite).

    python benchmarks/gebm_refinement.py [--recipe gebm-8gaussians] [--seeds 0 1 2] [--last-only]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile

SAMPLERS = {
    "base only": ["sampler.kernel=none"],
    "SIR, β=1": ["sampler.kernel=sir", "sampler.temperature=1"],
    "ULA, β=1": ["sampler.kernel=ula", "sampler.temperature=1"],
    "ULA, β=10": ["sampler.kernel=ula", "sampler.temperature=10"],
    "KLA, β=10": ["sampler.kernel=kla", "sampler.temperature=10"],
}
TOY = ("mmd2", "share_within_3std", "modes_covered", "weight_kl")
DIGITS = ("digits_fid", "class_share_max", "classes_over_3pct", "confidence")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", default="gebm-8gaussians")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--last-only", action="store_true", help="evaluate the final checkpoint only")
    parser.add_argument("-n", type=int, default=2000, help="samples per evaluation")
    args = parser.parse_args()
    ebm = str(pathlib.Path(sys.executable).with_name("ebm"))
    env = dict(os.environ, OMP_NUM_THREADS="1")
    header = None
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            out = pathlib.Path(tmp) / f"{args.recipe}-{seed}"
            subprocess.run([ebm, "train", args.recipe, f"seed={seed}", "--out", str(out), "--no-progress"],
                           check=True, env=env, capture_output=True)
            logs = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
            kale = [r["kale"] for r in logs if "kale" in r]
            print(f"\nseed {seed}: KALE logged {len(kale)} times, min {min(kale):.4f}, last {kale[-1]:.4f}, "
                  f"train time {logs[-1]['wall_time']:.0f} s\n", flush=True)
            ckpts = sorted(p for p in (out / "checkpoints").iterdir() if p.name.startswith("step-"))
            for ckpt in ckpts[-1:] if args.last_only else ckpts:
                for label, overrides in SAMPLERS.items():
                    metrics_file = pathlib.Path(tmp) / "eval.json"
                    subprocess.run([ebm, "eval", str(ckpt), "-n", str(args.n), "--seed", "1", *overrides,
                                    "--out", str(metrics_file)], check=True, env=env, capture_output=True)
                    m = json.loads(metrics_file.read_text())
                    keys = DIGITS if "digits_fid" in m else TOY
                    if header is None:
                        header = keys
                        print("| seed | checkpoint | sampler | " + " | ".join(keys) + " |")
                        print("|---" * (3 + len(keys)) + "|")
                    vals = " | ".join(f"{m[k]:.4g}" for k in keys)
                    print(f"| {seed} | {ckpt.name} | {label} | {vals} |", flush=True)


if __name__ == "__main__":
    main()
