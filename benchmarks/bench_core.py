"""Core overhead benchmarks: ebmcore's components and trainer against hand-written PyTorch references
measured in the same run. Reports time ratios (ebmcore / reference), never absolute thresholds.

    python benchmarks/bench_core.py [--device cpu|cuda] [--repeats 5] [--json out.json]

Cases:
* langevin: LangevinSampler.sample vs a hand-written ULA loop (same MLP energy, 50 steps, 1024 chains).
* mala: MALASampler vs a hand-written MALA loop.
* hmc: HMCSampler (gradient reuse, L+1 gradients per trajectory) vs a naive leapfrog that recomputes the
  gradient at the start of every trajectory and step (2L per trajectory, the pattern measured in a peer).
* train_step: one Trainer step of CD-10 (MLP energy, Langevin) vs a hand-written CD-10 step.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time

import torch

from ebmcore import apply_overrides, build, registries, structure_config
from ebmcore.components.energies import MLPEnergy
from ebmcore.components.samplers import HMCSampler, LangevinSampler, MALASampler
from ebmcore.trainer import Trainer


def _time(fn, repeats, device):
    fn()  # warm-up
    out = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def _grad(energy, x):
    x = x.detach().requires_grad_(True)
    e = energy(x)
    return e.detach(), torch.autograd.grad(e.sum(), x)[0]


def ref_ula(energy, x, step, n):
    for _ in range(n):
        _, g = _grad(energy, x)
        x = x - step * g + (2 * step) ** 0.5 * torch.randn_like(x)
    return x


def ref_mala(energy, x, step, n):
    e, g = _grad(energy, x)
    for _ in range(n):
        y = x - step * g + (2 * step) ** 0.5 * torch.randn_like(x)
        ey, gy = _grad(energy, y)
        fwd = ((y - x + step * g) ** 2).sum(1) / (4 * step)
        bwd = ((x - y + step * gy) ** 2).sum(1) / (4 * step)
        accept = torch.rand_like(e).log() < (e - ey - bwd + fwd)
        x = torch.where(accept[:, None], y, x)
        e = torch.where(accept, ey, e)
        g = torch.where(accept[:, None], gy, g)
    return x


def ref_hmc_naive(energy, x, step, n_leapfrog, n_traj):
    for _ in range(n_traj):
        p = torch.randn_like(x)
        e0, _ = _grad(energy, x)
        q, pp = x, p
        for _ in range(n_leapfrog):  # 2 gradients per step: the textbook pattern without reuse
            _, g = _grad(energy, q)
            pp = pp - 0.5 * step * g
            q = q + step * pp
            _, g = _grad(energy, q)
            pp = pp - 0.5 * step * g
        e1, _ = _grad(energy, q)
        log_acc = e0 - e1 + 0.5 * (p**2).sum(1) - 0.5 * (pp**2).sum(1)
        acc = torch.rand_like(e0).log() < log_acc
        x = torch.where(acc[:, None], q, x)
    return x


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    energy = MLPEnergy((2,), hidden=(128, 128, 128), device=device)
    for p in energy.parameters():
        p.requires_grad_(False)
    x0 = torch.randn(1024, 2, device=device)
    rows = []

    def case(name, ours, ref, note):
        t_ours, t_ref = _time(ours, args.repeats, device), _time(ref, args.repeats, device)
        rows.append({"case": name, "ebmcore_s": t_ours, "reference_s": t_ref, "ratio": t_ours / t_ref, "note": note})

    lang = LangevinSampler(step_size=0.01, n_steps=50)
    case("langevin", lambda: lang.sample(energy, x0), lambda: ref_ula(energy, x0, 0.01, 50), "50 steps, 1024 chains")
    mala = MALASampler(step_size=0.01, n_steps=50, adapt=False, device=device)
    case("mala", lambda: mala.sample(energy, x0), lambda: ref_mala(energy, x0, 0.01, 50), "50 steps, 1024 chains")
    hmc = HMCSampler(step_size=0.05, n_leapfrog=10, n_trajectories=5)
    res = hmc.sample(energy, x0)
    case("hmc", lambda: hmc.sample(energy, x0), lambda: ref_hmc_naive(energy, x0, 0.05, 10, 5),
         f"5 trajectories x L=10: ebmcore {res.n_grad_evals} gradient evals vs naive {5 * (2 * 10 + 2)}")

    regs = registries()
    cfg = structure_config(apply_overrides(regs.recipe.get("cd-8gaussians").config, [
        f"device={args.device}", "sampler.n_steps=10", "trainer.optimizer.ema=null", "trainer.log_every=1000000",
        "trainer.checkpoint_every=0", "trainer.steps=1000000", "data.n_train=20000"]), regs)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(build(cfg, regs=regs), tmp, regs=regs, progress=False)

        def ours():
            trainer.fit(until=trainer.step + 10)

        e2 = MLPEnergy((2,), hidden=(128, 128, 128), device=device)
        opt = torch.optim.Adam(e2.parameters(), lr=1e-3, betas=(0.0, 0.999))
        data = trainer.exp.dataset.x.to(device)

        def ref():
            for _ in range(10):
                xb = data[torch.randint(len(data), (256,), device=device)]
                for p in e2.parameters():
                    p.requires_grad_(False)
                neg = ref_ula(e2, 2.0 * torch.randn(256, 2, device=device), 0.05, 10).detach()
                for p in e2.parameters():
                    p.requires_grad_(True)
                e = e2(torch.cat([xb, neg]))
                loss = e[:256].mean() - e[256:].mean() + 0.1 * (e[:256].pow(2).mean() + e[256:].pow(2).mean())
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()

        case("train_step", ours, ref, "10 CD-10 steps, batch 256 (ebmcore: finiteness check + grad norm each step)")

    print(f"device={device} torch={torch.__version__} threads={args.threads} repeats={args.repeats} (median)")
    print(f"{'case':<12}{'ebmcore s':>12}{'reference s':>14}{'ratio':>8}  note")
    for r in rows:
        print(f"{r['case']:<12}{r['ebmcore_s']:>12.4f}{r['reference_s']:>14.4f}{r['ratio']:>8.2f}  {r['note']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": str(device), "torch": torch.__version__, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
