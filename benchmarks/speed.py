"""Speed benchmarks: ratios measured in one process run, never asserted in tests (issue 8).

Every row times ebmcore against a reference measured in the same run on the same batch, and reports the
median over ``--repeats`` repetitions:

* ``sampler``: time per Langevin/MALA step, and per HMC trajectory, divided by the physical floor (one
  energy forward+backward w.r.t. the input on the same 1,000 chains; L+1 of them per HMC trajectory),
  for an analytic Gaussian energy and an MLP energy 2->128->128->1.
* ``train``: a CD-10 iteration (MLP 2->128->128->1, batch 256, Langevin from noise, Adam) through
  ebmcore's Trainer vs a plain PyTorch loop doing the same math.
* ``torchebm``: the same Langevin, HMC and CD-10 workloads in TorchEBM (optional; skipped when the
  package is not installed: ``pip install -r benchmarks/requirements.txt``).
* ``compile``: Langevin/MALA/HMC on the MLP with ``compile_step`` (the step arithmetic compiled), and with
  the energy compiled too, against the same sampler eager (after compilation: the warm-up call compiles).
* ``methods``: time per training iteration of every bench-tagged method's 2-D recipe on 8 Gaussians
  (relative to CD), DCD vs CD-10 and NF-MLE vs PCD on their recipes' data, CDRL's cost per sampler
  step, and VAPO's number of function evaluations at rtol = atol = 1e-3.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

import attrs
import torch
from torch import Tensor, nn

from ebmcore import Energy, apply_overrides, build, registries, structure_config
from ebmcore.components.energies import MLPEnergy
from ebmcore.components.samplers import HMCSampler, LangevinSampler, MALASampler
from ebmcore.trainer import Trainer

__all__ = ["Row", "run_all"]

N_CHAINS = 1000


@attrs.frozen
class Row:
    """One measured ratio: ``ours_s / ref_s`` (``ref_s`` measured in the same run)."""

    table: str
    case: str
    ours_s: float
    ref_s: float
    goal: str
    note: str

    @property
    def ratio(self) -> float:
        return self.ours_s / self.ref_s


def _time_once(fn: Callable[[], Any], device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - t0


def median_time(fn: Callable[[], Any], repeats: int, device: torch.device, inner: int = 1) -> float:
    """Median wall time of ``fn`` over ``repeats`` calls (after one warm-up), divided by ``inner``."""
    fn()
    return statistics.median(_time_once(fn, device) for _ in range(repeats)) / inner


def _paired(ours: Callable[[], Any], ref: Callable[[], Any], repeats: int, device: torch.device,
            inner_ours: float = 1, inner_ref: float = 1) -> tuple[float, float]:
    """Interleave the two timings (ours, ref, ours, ref, ...) after one warm-up of each, so load changes
    hit both alike."""
    ours(), ref()
    a, b = [], []
    for _ in range(repeats):
        a.append(_time_once(ours, device) / inner_ours)
        b.append(_time_once(ref, device) / inner_ref)
    return statistics.median(a), statistics.median(b)


class GaussianEnergy(Energy):
    """Analytic standard normal energy ``E(x) = ||x||² / 2``; ``x`` ``(B, D)`` -> ``(B,)``."""

    def __init__(self, dim: int = 2) -> None:
        super().__init__()
        self.event_shape = (dim,)

    def forward(self, x: Tensor, **cond: Tensor) -> Tensor:
        return 0.5 * x.pow(2).sum(1)


def _floor_grad(energy: nn.Module, x: Tensor) -> Tensor:
    """The physical floor: one forward + backward w.r.t. the input, in plain PyTorch."""
    with torch.enable_grad():
        xi = x.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(energy(xi).sum(), xi)
    return g


def _frozen(module: nn.Module) -> nn.Module:
    for p in module.parameters():
        p.requires_grad_(False)
    return module


def sampler_rows(device: torch.device, repeats: int, n_steps: int = 100) -> list[Row]:
    rows = []
    torch.manual_seed(0)
    energies = {
        "gaussian": GaussianEnergy().to(device),
        "mlp": _frozen(MLPEnergy((2,), hidden=(128, 128), device=device)),
    }
    x0 = torch.randn(N_CHAINS, 2, device=device)
    for name, energy in energies.items():
        def floor(energy: nn.Module = energy) -> None:
            x = x0
            for _ in range(n_steps):
                x = x + 1e-3 * _floor_grad(energy, x)  # keep the chain of dependencies of a sampler

        def plain_ula(energy: nn.Module = energy) -> None:  # the least a Langevin step can do in PyTorch
            x = x0.clone()
            for _ in range(n_steps):
                g = _floor_grad(energy, x)
                x.add_(g, alpha=-0.01).add_(torch.randn_like(x), alpha=0.02**0.5)

        goal = "<= 1.05" if name == "mlp" else "<= 1.2"
        ours, ref = _paired(plain_ula, floor, repeats, device, n_steps, n_steps)
        rows.append(Row("sampler", f"plain-PyTorch ULA step / floor, {name}", ours, ref, "context",
                        "no framework: gradient + noise draw + update; what any Langevin step costs"))
        lang = LangevinSampler(step_size=0.01, n_steps=n_steps)
        ours, ref = _paired(lambda: lang.sample(energy, x0), floor, repeats, device, n_steps, n_steps)
        rows.append(Row("sampler", f"Langevin step / floor, {name}", ours, ref, goal,
                        f"{N_CHAINS} chains, {n_steps} steps; floor = 1 forward+backward"))
        mala = MALASampler(step_size=0.01, n_steps=n_steps, adapt=False, device=device)
        ours, ref = _paired(lambda: mala.sample(energy, x0), floor, repeats, device, n_steps, n_steps)
        rows.append(Row("sampler", f"MALA step / floor, {name}", ours, ref, goal,
                        "1 gradient + 1 energy per step (the energy comes with the gradient)"))
        n_leap, n_traj = 10, 10
        hmc = HMCSampler(step_size=0.05, n_leapfrog=n_leap, n_trajectories=n_traj)
        n_grad = hmc.sample(energy, x0).n_grad_evals
        ours, ref = _paired(lambda: hmc.sample(energy, x0), floor, repeats, device, n_traj, n_steps / (n_leap + 1))
        rows.append(Row("sampler", f"HMC trajectory / (L+1) floors, {name}", ours, ref, goal,
                        f"L = {n_leap}, {n_traj} trajectories, {n_grad} gradients in all (L per trajectory + 1)"))
    return rows


def compile_rows(device: torch.device, repeats: int, n_steps: int = 100) -> list[Row]:
    """Compiled vs eager sampling on the MLP energy (1,000 chains); ``compile_energy`` compiles a copy."""
    torch.manual_seed(0)
    eager_energy = _frozen(MLPEnergy((2,), hidden=(128, 128), device=device))
    compiled_energy = _frozen(MLPEnergy((2,), hidden=(128, 128), device=device))
    compiled_energy.load_state_dict(eager_energy.state_dict())
    compiled_energy.compile()
    x0 = torch.randn(N_CHAINS, 2, device=device)
    makers: dict[str, Callable[[], Any]] = {
        "Langevin": lambda: LangevinSampler(step_size=0.01, n_steps=n_steps),
        "MALA": lambda: MALASampler(step_size=0.01, n_steps=n_steps, adapt=False, device=device),
        "HMC": lambda: HMCSampler(step_size=0.05, n_leapfrog=10, n_trajectories=10),
    }
    rows = []
    for name, make in makers.items():
        eager, stepped = make(), make()
        stepped.compile_step()
        ours, ref = _paired(lambda s=stepped: s.sample(eager_energy, x0), lambda e=eager: e.sample(eager_energy, x0),
                            repeats, device)
        rows.append(Row("compile", f"{name}, compile_step / eager", ours, ref, "report",
                        f"MLP 2-128-128-1, {N_CHAINS} chains; the step arithmetic compiled, gradients eager"))
        ours, ref = _paired(lambda s=stepped: s.sample(compiled_energy, x0),
                            lambda e=eager: e.sample(eager_energy, x0), repeats, device)
        rows.append(Row("compile", f"{name}, compile_step + compile_energy / eager", ours, ref, "report",
                        "the energy's forward compiled as well (its backward through autograd)"))
    return rows


#: Overrides that keep a timed run from writing logs or checkpoints, or ending.
_NO_IO = ("trainer.log_every=1000000", "trainer.checkpoint_every=0", "trainer.steps=1000000")


def _recipe_config(recipe: str, device: torch.device, *overrides: str) -> tuple[Any, Any]:
    """``(structured config, registries)`` of ``recipe`` on ``device`` with ``overrides``."""
    regs = registries()
    return structure_config(apply_overrides(regs.recipe.get(recipe).config, [f"device={device.type}", *overrides]),
                            regs), regs


def _cd_config(device: torch.device, **extra: Any) -> Any:
    return _recipe_config("cd-8gaussians", device, "energy.hidden=[128, 128]", "sampler.n_steps=10",
                          "trainer.optimizer.ema=null", *_NO_IO, "data.n_train=20000",
                          *[f"{k}={v}" for k, v in extra.items()])


def train_rows(device: torch.device, repeats: int, n_iter: int = 20) -> list[Row]:
    """CD-10 through the Trainer vs the same math in a plain loop (same energy, data, optimiser); once with
    the default finiteness check at every step and once with it every 100 steps."""
    rows = _train_rows(device, repeats, n_iter, check_every=1)
    rows += _train_rows(device, repeats, n_iter, check_every=100)
    return rows


def _train_rows(device: torch.device, repeats: int, n_iter: int, check_every: int) -> list[Row]:
    cfg, regs = _cd_config(device, **{"trainer.check_finite_every": check_every})
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(build(cfg, regs=regs), tmp, regs=regs, progress=False)
        data = trainer.exp.dataset.x.to(device)
        ref_energy = MLPEnergy((2,), hidden=(128, 128), device=device)
        opt = torch.optim.Adam(ref_energy.parameters(), lr=1e-3, betas=(0.0, 0.999))
        step, alpha, std = cfg.sampler.step_size, cfg.objective.alpha, cfg.initializer.std

        def ours() -> None:
            trainer.fit(until=trainer.step + n_iter)

        def ref() -> None:
            for _ in range(n_iter):
                xb = data[torch.randint(len(data), (256,), device=device)]
                for p in ref_energy.parameters():
                    p.requires_grad_(False)
                x = std * torch.randn(256, 2, device=device)
                for _ in range(10):
                    x = x - step * _floor_grad(ref_energy, x) + (2 * step) ** 0.5 * torch.randn_like(x)
                for p in ref_energy.parameters():
                    p.requires_grad_(True)
                e = ref_energy(torch.cat([xb, x.detach()]))
                ep, en = e[:256], e[256:]
                loss = ep.mean() - en.mean() + alpha * (ep.pow(2).mean() + en.pow(2).mean())
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()

        ours_s, ref_s = _paired(ours, ref, repeats, device, n_iter, n_iter)
    check = "every step (default)" if check_every == 1 else f"every {check_every} steps"
    return [Row("train", f"CD-10 iteration: Trainer / plain loop, finiteness check {check}", ours_s, ref_s, "<= 1.05",
                "MLP 2-128-128-1, batch 256, Langevin 10 steps from noise, Adam; the Trainer also computes the "
                "gradient norm and the objective's metrics")]


def torchebm_rows(device: torch.device, repeats: int, n_steps: int = 100) -> tuple[list[Row], str]:
    try:
        import torchebm
        from torchebm.core import BaseModel
        from torchebm.losses import ContrastiveDivergence
        from torchebm.samplers import HamiltonianMonteCarlo, LangevinDynamics
    except ImportError as exc:
        return [], f"TorchEBM not installed ({exc}); `pip install -r benchmarks/requirements.txt` adds it"

    class Wrapped(BaseModel):  # TorchEBM's model interface around the very same network
        def __init__(self, net: nn.Module) -> None:
            super().__init__(device=device)
            self.net = net

        def forward(self, x: Tensor) -> Tensor:
            return self.net(x)

    torch.manual_seed(0)
    net = _frozen(MLPEnergy((2,), hidden=(128, 128), device=device))
    theirs_model = Wrapped(net)
    x0 = torch.randn(N_CHAINS, 2, device=device)
    rows = []
    lang, t_lang = LangevinSampler(step_size=0.01, n_steps=n_steps), LangevinDynamics(theirs_model, step_size=0.01, device=device)
    ours, ref = _paired(lambda: lang.sample(net, x0), lambda: t_lang.sample(x=x0, n_steps=n_steps), repeats, device)
    rows.append(Row("torchebm", "Langevin, 100 steps, MLP", ours, ref, "< 1", f"{N_CHAINS} chains"))
    hmc = HMCSampler(step_size=0.05, n_leapfrog=10, n_trajectories=10)
    t_hmc = HamiltonianMonteCarlo(theirs_model, step_size=0.05, n_leapfrog_steps=10, device=device)
    ours, ref = _paired(lambda: hmc.sample(net, x0), lambda: t_hmc.sample(x=x0, n_steps=10), repeats, device)
    rows.append(Row("torchebm", "HMC, 10 trajectories x L=10, MLP", ours, ref, "< 1", f"{N_CHAINS} chains"))

    # CD-10 from the data (TorchEBM's non-persistent CD starts its chains at the batch)
    cfg, regs = _cd_config(device, **{"initializer": "{name: data}"})
    n_iter = 20
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(build(cfg, regs=regs), tmp, regs=regs, progress=False)
        data = trainer.exp.dataset.x.to(device)
        model = Wrapped(MLPEnergy((2,), hidden=(128, 128), device=device))
        sampler = LangevinDynamics(model, step_size=cfg.sampler.step_size, device=device)
        loss_fn = ContrastiveDivergence(model=model, sampler=sampler, k_steps=10, energy_reg_weight=cfg.objective.alpha,
                                        device=device)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.0, 0.999))

        def theirs() -> None:
            for _ in range(n_iter):
                xb = data[torch.randint(len(data), (256,), device=device)]
                loss, _ = loss_fn(xb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()

        ours, ref = _paired(lambda: trainer.fit(until=trainer.step + n_iter), theirs, repeats, device, n_iter, n_iter)
    rows.append(Row("torchebm", "CD-10 iteration from data, MLP, batch 256", ours, ref, "< 1",
                    "Trainer.fit vs ContrastiveDivergence + Adam"))
    return rows, f"TorchEBM {torchebm.__version__}"


def _iter_time(recipe: str, device: torch.device, repeats: int, n_iter: int, overrides: tuple[str, ...] = ()) -> float:
    cfg, regs = _recipe_config(recipe, device, *_NO_IO, *overrides)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(build(cfg, regs=regs), tmp, regs=regs, progress=False)
        return median_time(lambda: trainer.fit(until=trainer.step + n_iter), repeats, device, n_iter)


def method_rows(device: torch.device, repeats: int, n_iter: int = 10) -> list[Row]:
    from ebmcore.bench import bench_plan

    regs = registries()
    rows = []
    t_cd = _iter_time("cd-8gaussians", device, repeats, n_iter)
    for cell in bench_plan(regs, datasets=["8gaussians"]):
        if cell.recipe == "cd-8gaussians":
            continue
        t = _iter_time(cell.recipe, device, repeats, n_iter)
        rows.append(Row("methods", f"{cell.method} iteration / CD iteration", t, t_cd, "report",
                        f"`{cell.recipe}` vs `cd-8gaussians` (40 Langevin steps) on their own settings"))
    names = set(regs.recipe.names())
    pairs = [("dcd-8gaussians", "dcd-8gaussians-cd", "DCD (SNIS, M=16) / CD-10, same data and net"),
             ("dcd-8gaussians-langevin", "dcd-8gaussians-cd", "DCD (posterior Langevin, K=5) / CD-10"),
             ("nfmle-2modes", "nfmle-2modes-pcd", "NF-MLE / PCD-MALA, same data and net")]
    for a, b, label in pairs:
        if a in names and b in names:
            rows.append(Row("methods", label, _iter_time(a, device, repeats, n_iter), _iter_time(b, device, repeats, n_iter),
                            "report", f"`{a}` vs `{b}`"))
    rows += _cdrl_rows(device, repeats) if "cdrl-8gaussians" in names else []
    rows += _vapo_rows(device, repeats) if "vapo-8gaussians" in names else []
    return rows


def _built(recipe: str, device: torch.device, *overrides: str) -> Any:
    cfg, regs = _recipe_config(recipe, device, *overrides)
    return build(cfg, regs=regs)


def _cdrl_rows(device: torch.device, repeats: int) -> list[Row]:
    from ebmcore.evaluation import generate

    exp = _built("cdrl-8gaussians", device)
    n = N_CHAINS
    res = generate(exp, n)
    t_gen = median_time(lambda: generate(exp, n), repeats, device)
    energy = _frozen(exp.energy)
    x = torch.randn(n, 2, device=device)
    t = torch.zeros(n, device=device)
    t_grad = median_time(lambda: _floor_grad(lambda z: energy(z, t=t), x), repeats, device)  # type: ignore[arg-type]
    steps = res.n_grad_evals
    return [Row("methods", "CDRL sampler step / floor", t_gen / max(steps, 1), t_grad, "report",
                f"`cdrl-8gaussians` sampler: {steps} gradient steps per sample (T levels x K), {n} samples, "
                "initializer pass included")]


def _vapo_rows(device: torch.device, repeats: int) -> list[Row]:
    from ebmcore.evaluation import generate

    with tempfile.TemporaryDirectory() as tmp:  # a briefly trained potential: NFE depends on the field
        cfg, regs = _recipe_config("vapo-8gaussians", device, *_NO_IO, "trainer.steps=300", "sampler.method=dopri5",
                                   "sampler.rtol=1e-3", "sampler.atol=1e-3")
        trainer = Trainer(build(cfg, regs=regs), tmp, regs=regs, progress=False)
        trainer.fit()
        exp = trainer.exp
        res = generate(exp, N_CHAINS)
        nfe = res.n_energy_evals
        t_gen = median_time(lambda: generate(exp, N_CHAINS), repeats, device)
        energy = _frozen(exp.energy)
        x = torch.randn(N_CHAINS, 2, device=device)
        tt = torch.full((N_CHAINS,), 0.5, device=device)
        t_grad = median_time(lambda: _floor_grad(lambda z: energy(z, t=tt), x), repeats, device)  # type: ignore[arg-type]
    return [Row("methods", f"VAPO dopri5 rtol=atol=1e-3: time per NFE / floor (NFE = {nfe})", t_gen / nfe, t_grad,
                "report", f"`vapo-8gaussians` after 300 steps, {N_CHAINS} samples")]


def run_all(device: torch.device, repeats: int, tables: set[str]) -> tuple[list[Row], list[str]]:
    rows: list[Row] = []
    notes: list[str] = []
    if "sampler" in tables:
        rows += sampler_rows(device, repeats)
    if "train" in tables:
        rows += train_rows(device, repeats)
    if "torchebm" in tables:
        r, note = torchebm_rows(device, repeats)
        rows += r
        notes.append(note)
    if "compile" in tables:
        rows += compile_rows(device, repeats)
    if "methods" in tables:
        rows += method_rows(device, repeats)
    return rows, notes
