#!/usr/bin/env python
"""Train the DigitsFID judge and write the shipped assets (weights, reference statistics, floor, manifest).

Usage (from the repository root)::

    .venv/bin/python scripts/train_digits_judge.py            # writes ebmcore/metrics/judge/
    .venv/bin/python scripts/train_digits_judge.py --out DIR  # writes elsewhere (e.g. to compare)

Protocol (all fixed, so the run is reproducible on one machine; across machines CPU BLAS differences can
change the last bits, which is why the result is shipped and verified by sha256 instead of retrained):

* Data: scikit-learn ``load_digits`` (1,797 images, pixels ``p / 8 - 1`` in ``[-1, 1]``), split with
  ``train_test_split(arange(1797), test_size=0.5, stratify=y, random_state=0)`` into H1 (898, judge
  training) and H2 (899, held out). ``ebmcore.data.load_digits_dataset(test_fraction=0.5, seed=0)`` gives
  the same split.
* Judge: :class:`ebmcore.metrics.fid.DigitsJudge`, ``torch.manual_seed(0)``, one thread, deterministic
  algorithms, Adam (lr 1e-3), batch 64, 40 epochs over H1, cross-entropy.
* Reference: mean and covariance (float64, divisor N-1) of the judge's 64-d features on H2.
* Floor: FID(features of N real digits drawn without replacement from H1, H2 reference) for several N,
  mean and std over 50 random subsets (one subset, all of H1, at N = 898). These are real digits the
  reference never saw. H1 was seen by the judge in training, so the script also measures a control that
  is unseen by both: H2 split at random into A (449) and B (450), FID(A, stats of B), over 20 splits.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ebmcore.data.images import digits_split_indices, load_digits_dataset  # noqa: E402
from ebmcore.metrics.fid import (  # noqa: E402
    JUDGE_DIR,
    JUDGE_MANIFEST,
    JUDGE_REFERENCE,
    JUDGE_WEIGHTS,
    DigitsJudge,
    feature_statistics,
    frechet_distance,
)

FLOOR_NS = (50, 100, 200, 300, 400, 449, 500, 600, 700, 800, 898)
FLOOR_REPEATS = 50
SPLIT_REPEATS = 20
EPOCHS = 40
BATCH = 64
LR = 1e-3
SEED = 0


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=JUDGE_DIR, help="output directory (default: the shipped one)")
    args = ap.parse_args()
    t0 = time.time()
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)

    full = load_digits_dataset()
    tr_idx, te_idx = digits_split_indices(0.5, SEED)
    x1, y1 = full.x[tr_idx], full.y[tr_idx]  # H1: judge training half (898)
    x2, y2 = full.x[te_idx], full.y[te_idx]  # H2: held-out half, the reference (899)
    assert full.y is not None and len(x1) == 898 and len(x2) == 899

    judge = DigitsJudge()
    opt = torch.optim.Adam(judge.parameters(), lr=LR)
    g = torch.Generator().manual_seed(SEED)
    for _ in range(EPOCHS):
        judge.train()
        perm = torch.randperm(len(x1), generator=g)
        for i in range(0, len(x1), BATCH):
            idx = perm[i : i + BATCH]
            loss = torch.nn.functional.cross_entropy(judge(x1[idx]), y1[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    judge.eval().requires_grad_(False)
    with torch.no_grad():
        acc_train = float((judge(x1).argmax(1) == y1).float().mean())
        acc_test = float((judge(x2).argmax(1) == y2).float().mean())
        f1 = judge.features(x1).double()
        f2 = judge.features(x2).double()
    print(f"judge: train accuracy {acc_train:.4f}, held-out (H2) accuracy {acc_test:.4f}")

    mu, sigma = feature_statistics(f2)
    gf = torch.Generator().manual_seed(1)
    floor_mean, floor_std, floor_rep = [], [], []
    for n in FLOOR_NS:
        reps = 1 if n >= len(x1) else FLOOR_REPEATS
        vals = []
        for _ in range(reps):
            sel = torch.randperm(len(x1), generator=gf)[:n]
            m, s = feature_statistics(f1[sel])
            vals.append(frechet_distance(m, s, mu, sigma))
        v = np.array(vals)
        floor_mean.append(float(v.mean()))
        floor_std.append(float(v.std(ddof=1)) if reps > 1 else 0.0)
        floor_rep.append(reps)
        print(f"floor N={n:4d}: FID(H1 subset, H2 ref) = {v.mean():.3f} +- {floor_std[-1]:.3f} ({reps} subsets)")

    # Control unseen by the judge and by the reference: split H2 into A (449) / B (450).
    split_vals = []
    for _ in range(SPLIT_REPEATS):
        p = torch.randperm(len(x2), generator=gf)
        a, b = p[:449], p[449:]
        ma, sa = feature_statistics(f2[a])
        mb, sb = feature_statistics(f2[b])
        split_vals.append(frechet_distance(ma, sa, mb, sb))
    sv = np.array(split_vals)
    # Same sizes but A drawn from H1 (seen by the judge), B from H2: isolates the effect of the judge
    # having seen H1.
    cross_vals = []
    for _ in range(SPLIT_REPEATS):
        a = torch.randperm(len(x1), generator=gf)[:449]
        b = torch.randperm(len(x2), generator=gf)[:450]
        ma, sa = feature_statistics(f1[a])
        mb, sb = feature_statistics(f2[b])
        cross_vals.append(frechet_distance(ma, sa, mb, sb))
    cv = np.array(cross_vals)
    print(f"control: FID(H2 A 449, H2 B 450) = {sv.mean():.3f} +- {sv.std(ddof=1):.3f} ({SPLIT_REPEATS} splits)")
    print(f"control: FID(H1 449, H2 450)     = {cv.mean():.3f} +- {cv.std(ddof=1):.3f} ({SPLIT_REPEATS} draws)")

    with torch.no_grad():
        noise = torch.rand(898, 1, 8, 8, generator=gf) * 2.0 - 1.0
        mn, sn = feature_statistics(judge.features(noise).double())
        fid_noise = frechet_distance(mn, sn, mu, sigma)
        low = x1[y1 < 5]
        ml, sl = feature_statistics(judge.features(low).double())
        fid_drop = frechet_distance(ml, sl, mu, sigma)
    print(f"uniform noise U[-1,1] (N=898): {fid_noise:.2f};  H1 digits 0-4 only (N={len(low)}): {fid_drop:.2f}")

    from safetensors.torch import save_file

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    # One metadata key only: safetensors writes the metadata map in hash order, so several keys would make
    # the file bytes (and sha256) differ between identical runs.
    meta = {"format": "ebmcore-digits-judge-v1"}
    state = {k: v.detach().contiguous() for k, v in judge.state_dict().items()}
    save_file(state, str(out / JUDGE_WEIGHTS), metadata=meta)
    save_file(
        {
            "mu": mu.contiguous(),
            "sigma": sigma.contiguous(),
            "floor_n": torch.tensor(FLOOR_NS, dtype=torch.int64),
            "floor_mean": torch.tensor(floor_mean, dtype=torch.float64),
            "floor_std": torch.tensor(floor_std, dtype=torch.float64),
        },
        str(out / JUDGE_REFERENCE),
        metadata=meta,
    )
    manifest = {
        "format": "ebmcore-digits-judge-v1",
        "command": "python scripts/train_digits_judge.py",
        "files": {
            name: {"sha256": sha256(out / name), "bytes": (out / name).stat().st_size}
            for name in (JUDGE_WEIGHTS, JUDGE_REFERENCE)
        },
        "data": "sklearn.datasets.load_digits (UCI optdigits test set, Alpaydin & Kaynak 1998), pixels p/8-1",
        "split": "H1, H2 = train_test_split(arange(1797), test_size=0.5, stratify=y, random_state=0); "
        "judge trained on H1 (898), reference statistics from H2 (899)",
        "training": {"seed": SEED, "epochs": EPOCHS, "batch_size": BATCH, "optimizer": f"Adam(lr={LR})",
                     "threads": 1, "deterministic": True},
        "accuracy": {"train_H1": acc_train, "heldout_H2": acc_test},
        "features": "64-d penultimate pre-activation (fc1 output)",
        "floor": {
            "definition": "FID(features of N digits drawn without replacement from H1, H2 reference mu/sigma); "
            "mean/std over random subsets (generator seed 1)",
            "table": [
                {"n": n, "mean": m, "std": s, "subsets": r}
                for n, m, s, r in zip(FLOOR_NS, floor_mean, floor_std, floor_rep, strict=True)
            ],
        },
        "controls": {
            "heldout_split_half_A449_vs_B450": {"mean": float(sv.mean()), "std": float(sv.std(ddof=1)),
                                                "repeats": SPLIT_REPEATS},
            "H1_449_vs_H2_450": {"mean": float(cv.mean()), "std": float(cv.std(ddof=1)), "repeats": SPLIT_REPEATS},
            "uniform_noise_N898": fid_noise,
            "H1_digits_0_to_4_only": {"n": int(len(low)), "fid": fid_drop},
        },
        "environment": {"torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version(),
                        "machine": platform.machine()},
        "seconds": round(time.time() - t0, 1),
    }
    (out / JUDGE_MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    for name, e in manifest["files"].items():
        print(f"wrote {out / name} ({e['bytes']} bytes, sha256 {e['sha256']})")
    print(f"wrote {out / JUDGE_MANIFEST}; {manifest['seconds']} s")


if __name__ == "__main__":
    main()
