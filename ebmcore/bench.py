"""``ebm bench quality``: every installed method on the same data sets, seeds and budget, in one table.

A method enters the benchmark through its recipes: a plugin registers a recipe with
``registry.add(name, config, summary=..., bench="METHOD")``. The method's 2-D recipe is the template for
every 2-D data set of :data:`DATASETS` (only ``data`` is replaced; the energy, sampler, objective and
optimiser stay the method's own), and its image recipe (``data.name == "digits"``) is run on digits.
Core tags its CD and PCD baselines the same way, so they appear as rows like any plugin.

Each (method, data set) cell trains in-process from scratch, then draws ``eval.n_samples`` samples with
the method's own sampler (EMA weights when kept) and scores them with :func:`ebmcore.metrics.evaluate_samples`:

* ``mmd2`` against held-out data; ``modes_covered`` and ``weight_max_abs_error`` (largest error of the
  sample mode weights) on the mixtures;
* ``nll_grid``: exact test NLL by grid normalisation of exp(-E) (2-D, methods with a density only), and
  ``grid_weight_max_abs_error``: the EBM's own mode masses against the truth;
* ``digits_fid`` (the offline digits judge; its floor, test vs train, is printed with the table);
* ``train_s`` and ``sample_s``: wall time of training and of drawing the samples, in this process.

Every finished cell is written, with its config, to ``OUT/<method>/<data>/result.json`` before the next
one starts; a re-run skips finished cells whose stored config is the planned one (``--force`` redoes them), so an interrupted benchmark loses nothing and two
processes may share one ``OUT`` with disjoint ``--methods``. A cell that raises is recorded with its
error and the others go on. The table goes to ``OUT/quality.md`` and, with ``--results``, between the
markers :data:`BEGIN`/:data:`END` of a markdown file (``docs/results.md``); one picture per method
(samples over the data, and the energy landscape) goes to ``OUT/img`` and, with ``--results``, is copied
to ``img/bench/`` beside that file.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import pathlib
import shutil
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs
import torch

from ebmcore._registry import Registries

__all__ = [
    "BEGIN",
    "DATASETS",
    "END",
    "QUICK_DATASETS",
    "BenchCell",
    "bench_plan",
    "markdown_table",
    "run_cell",
    "run_quality",
    "write_between_markers",
]

#: the benchmark's data sets: name -> data config (2-D sets at their registered defaults; the two
#: imbalanced mixtures are NF-MLE's; digits uses the 898/899 judge split).
DATASETS: dict[str, dict[str, Any]] = {
    "8gaussians": {"name": "8gaussians"},
    "checkerboard": {"name": "checkerboard"},
    "rings": {"name": "rings"},
    "moons": {"name": "moons"},
    "2modes": {"name": "gmm", "centers": [[-3.0, 0.0], [3.0, 0.0]], "weights": [0.2, 0.8], "std": 0.5},
    "4modes": {"name": "gmm", "centers": [[-3.0, -3.0], [-3.0, 3.0], [3.0, -3.0], [3.0, 3.0]],
               "weights": [0.1, 0.2, 0.3, 0.4], "std": 0.5},
    "digits": {"name": "digits", "test_fraction": 0.5, "split_seed": 0},
}
#: ``--quick``: two 2-D sets (one balanced, one imbalanced) at :data:`QUICK_STEPS` steps, 1,000 samples.
QUICK_DATASETS: tuple[str, ...] = ("8gaussians", "2modes")
QUICK_STEPS = 300
QUICK_SAMPLES = 1000
IMAGE_DATA = frozenset({"digits", "mnist", "fashion_mnist", "cifar10", "celeba32"})
BEGIN = "<!-- ebm bench quality: begin (generated; edit ebmcore/bench.py, not this table) -->"
END = "<!-- ebm bench quality: end -->"


@attrs.frozen
class BenchCell:
    """One (method, data set) run: the method's template ``recipe`` with ``config`` ready to build."""

    method: str
    dataset: str
    recipe: str
    config: Mapping[str, Any]

    @property
    def key(self) -> str:
        return f"{_slug(self.method)}/{self.dataset}"


def _slug(name: str) -> str:
    return "".join(c.lower() if c.isalnum() else "-" for c in name).strip("-")


def _kind(data_name: str | None) -> str:
    return "image" if data_name in IMAGE_DATA else "points"


def bench_plan(
    regs: Registries,
    *,
    datasets: Sequence[str] = tuple(DATASETS),
    methods: Sequence[str] | None = None,
    steps: int | None = None,
    seed: int = 0,
    n_samples: int | None = None,
) -> list[BenchCell]:
    """The cells to run, in method order then data set order.

    Arguments:
        datasets: names from :data:`DATASETS`.
        methods: method names (case-insensitive); ``None``: every method with a ``bench``-tagged recipe.
        steps: the common training budget; ``None``: each recipe's own ``trainer.steps``.
        seed: the run seed of every cell.
        n_samples: evaluation samples; ``None``: each recipe's ``eval.n_samples``.
    """
    unknown = [d for d in datasets if d not in DATASETS]
    if unknown:
        raise ValueError(f"unknown benchmark data set(s) {unknown}; choose from {sorted(DATASETS)}")
    templates: dict[str, dict[str, str]] = {}
    for recipe in regs.recipe:
        if recipe.bench is None:
            continue
        kind = _kind(recipe.config.get("data", {}).get("name"))
        templates.setdefault(recipe.bench, {}).setdefault(kind, recipe.name)
    if methods is not None:
        wanted = {m.lower() for m in methods}
        missing = wanted - {m.lower() for m in templates}
        if missing:
            raise ValueError(f"unknown method(s) {sorted(missing)}; installed: {sorted(templates)}")
        templates = {m: t for m, t in templates.items() if m.lower() in wanted}
    cells = []
    for method in sorted(templates, key=lambda m: (m not in ("CD", "PCD"), m)):  # baselines first
        for ds in datasets:
            name = templates[method].get(_kind(DATASETS[ds]["name"]))
            if name is None:
                continue
            cfg = copy.deepcopy(dict(regs.recipe.get(name).config))
            cfg["data"] = copy.deepcopy(DATASETS[ds])
            cfg["seed"] = seed
            trainer = dict(cfg.get("trainer", {}))
            if steps is not None:
                trainer["steps"] = steps
            total = int(trainer.get("steps", 1000))
            trainer.update(checkpoint_every=0, plot_every=0, log_every=max(1, total // 20))
            cfg["trainer"] = trainer
            if n_samples is not None:
                cfg["eval"] = {**cfg.get("eval", {}), "n_samples": n_samples}
            cells.append(BenchCell(method, ds, name, cfg))
    return cells


def run_cell(cell: BenchCell, run_dir: pathlib.Path, regs: Registries) -> dict[str, Any]:
    """Train, sample and score one cell in this process; returns (and writes ``result.json``) its record.

    The record has ``method``, ``dataset``, ``recipe``, ``steps``, ``train_s``, ``sample_s``, ``n_samples``,
    ``metrics`` (see :func:`ebmcore.metrics.evaluate_samples`) and ``error`` (``None`` on success). Samples
    and, for 2-D data, the energy on a grid are saved to ``run_dir/samples.safetensors`` for the pictures.
    """
    from safetensors.torch import save_file

    from ebmcore.build import build
    from ebmcore.config import structure_config
    from ebmcore.evaluation import generate, score_samples
    from ebmcore.plotting import energy_on_grid
    from ebmcore.trainer import Trainer

    run_dir.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {"method": cell.method, "dataset": cell.dataset, "recipe": cell.recipe,
                              "steps": cell.config.get("trainer", {}).get("steps"), "error": None,
                              "config": _plain(cell.config)}
    try:
        cfg = structure_config(dict(cell.config), regs)
        trainer = Trainer(build(cfg, regs=regs), run_dir, regs=regs, progress=False)
        t0 = time.perf_counter()
        trainer.fit()
        record["train_s"] = time.perf_counter() - t0
        exp, n = trainer.exp, cfg.eval.n_samples
        with trainer.ema_applied() if cfg.eval.use_ema else contextlib.nullcontext():
            _sync(trainer.device)
            t0 = time.perf_counter()
            result = generate(exp, n, seed=cfg.seed + 1)
            _sync(trainer.device)
            record["sample_s"] = time.perf_counter() - t0
            density = exp.objective.model_has_density
            metrics = score_samples(exp, result.x, seed=cfg.seed + 1)
            tensors = {"samples": result.x.detach().float().cpu().contiguous()}
            if exp.dataset.kind != "image":
                tensors["data"] = exp.dataset.x[:1500].float().cpu().contiguous()
                tensors["energy"] = energy_on_grid(exp.model_energy, 6.0, 120)[2].contiguous()
        save_file(tensors, str(run_dir / "samples.safetensors"))
        record.update(n_samples=n, density=density, metrics=metrics)
    except Exception as exc:  # noqa: BLE001 - one broken cell never takes the benchmark down
        record["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        (run_dir / "error.txt").write_text(traceback.format_exc())
    (run_dir / "result.json").write_text(json.dumps(record, indent=2, default=_json_default))
    return record


def _plain(config: Mapping[str, Any]) -> Any:
    """``config`` as plain JSON values (tuples become lists), for comparing with a stored result."""
    return json.loads(json.dumps(config))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _json_default(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return x.tolist()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def run_quality(
    regs: Registries,
    out: pathlib.Path,
    *,
    cells: Sequence[BenchCell],
    force: bool = False,
    results: pathlib.Path | None = None,
    command: str = "ebm bench quality",
    log: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """Run (or reuse) every cell, then write ``OUT/quality.json``, ``OUT/quality.md``, the pictures and,
    with ``results``, the table into that markdown file between :data:`BEGIN` and :data:`END`."""
    out.mkdir(parents=True, exist_ok=True)
    records = []
    for i, cell in enumerate(cells, 1):
        run_dir = out / cell.key
        done = run_dir / "result.json"
        rec = json.loads(done.read_text()) if done.exists() and not force else None
        if rec is not None and rec.get("config") != _plain(cell.config):
            log(f"[{i}/{len(cells)}] {cell.key}: the stored result was made with another config; re-running")
            rec = None
        if rec is not None:
            log(f"[{i}/{len(cells)}] {cell.key}: reused {done}")
        else:
            log(f"[{i}/{len(cells)}] {cell.key}: training {cell.recipe} for {cell.config['trainer'].get('steps')} steps")
            if run_dir.exists():  # a fresh run: no checkpoints or metrics lines of an earlier one
                shutil.rmtree(run_dir)
            rec = run_cell(cell, run_dir, regs)
            log(f"    {_summary(rec)}")
        records.append(rec)
    (out / "quality.json").write_text(json.dumps(records, indent=2, default=_json_default))
    pictures = plot_methods(cells, out)
    if results is not None:  # the pictures travel with the markdown file: <results dir>/img/bench/<method>.png
        img_dir = results.parent / "img" / "bench"
        img_dir.mkdir(parents=True, exist_ok=True)
        pictures = {m: pathlib.Path(shutil.copyfile(path, img_dir / path.name)) for m, path in pictures.items()}
    table = markdown_table(records, command=command, pictures=pictures, relative_to=results.parent if results else out)
    (out / "quality.md").write_text(table)
    if results is not None:
        write_between_markers(results, table)
    return records


def _summary(rec: Mapping[str, Any]) -> str:
    if rec.get("error"):
        return f"FAILED {rec['error']}"
    m = rec["metrics"]
    keys = ("mmd2", "nll_grid", "modes_covered", "digits_fid")
    vals = ", ".join(f"{k} {m[k]:.4g}" for k in keys if k in m)
    return f"{vals}; train {rec['train_s']:.1f} s, sample {rec['sample_s']:.2f} s"


def _fmt(x: Any, spec: str) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    text = format(x, spec)
    return text[1:] if text.startswith("-") and float(text) == 0 else text  # "-0.0000": an unbiased MMD² just below 0


def markdown_table(records: Iterable[Mapping[str, Any]], *, command: str, pictures: Mapping[str, pathlib.Path] = {},
                   relative_to: pathlib.Path | None = None) -> str:
    """The results table (one row per method x data set) with the command that made it."""
    records = list(records)
    import platform

    lines = [
        (f"Made by `{command}` on {platform.machine()} / {platform.system()}, torch {torch.__version__}, "
         f"{torch.get_num_threads()} thread(s). Samples are drawn by each method's own sampler; NLL is exact "
         "(grid normalisation of exp(-E)) and only exists for methods with a density. \"weight err\" is the "
         "largest absolute error of a mode weight: the EBM's own masses by grid normalisation (EBM) and the "
         "samples' mode shares (samples)."),
        "",
        ("| method | data | recipe | steps | MMD² | NLL (2-D) | modes | weight err (EBM) | weight err (samples) "
         "| DigitsFID | train s | sample s |"),
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    floor = None
    for r in records:
        if r.get("error"):
            lines.append(f"| {r['method']} | {r['dataset']} | `{r['recipe']}` | {r.get('steps')} | failed: {r['error']} "
                         "| | | | | | | |")
            continue
        m = r["metrics"]
        floor = m.get("digits_fid_floor", floor)
        modes = f"{int(m['modes_covered'])}/{int(m['n_modes'])}" if "modes_covered" in m else "–"
        lines.append(
            f"| {r['method']} | {r['dataset']} | `{r['recipe']}` | {r['steps']} | {_fmt(m.get('mmd2'), '.4f')} "
            f"| {_fmt(m.get('nll_grid'), '.3f')} | {modes} | {_fmt(m.get('grid_weight_max_abs_error'), '.3f')} "
            f"| {_fmt(m.get('weight_max_abs_error'), '.3f')} | {_fmt(m.get('digits_fid'), '.1f')} "
            f"| {r['train_s']:.0f} | {r['sample_s']:.2f} |"
        )
    truth = {r["dataset"]: r["metrics"]["nll_true"] for r in records if not r.get("error") and "nll_true" in r["metrics"]}
    notes = []
    if truth:
        notes.append("True test NLL of the mixtures: " + ", ".join(f"{k} {v:.3f}" for k, v in truth.items()) + ".")
    if floor is not None:
        notes.append(f"DigitsFID floor (held-out digits vs the judge's training digits): {floor:.2f}.")
    if notes:
        lines += ["", " ".join(notes)]
    if pictures:
        lines.append("")
        for method, path in pictures.items():
            rel = _relpath(path, relative_to)
            lines.append(f"![{method}: samples over the data (top) and -E (bottom)]({rel})")
    return "\n".join(lines) + "\n"


def _relpath(path: pathlib.Path, base: pathlib.Path | None) -> str:
    import os

    return os.path.relpath(path, base) if base is not None else str(path)


def plot_methods(cells: Sequence[BenchCell], out: pathlib.Path) -> dict[str, pathlib.Path]:
    """One picture per method (``OUT/img/<method>.png``): for each of its data sets, the samples over the
    data (top row) and the shifted ``-E`` landscape (bottom row; 2-D only). Digits show 20 samples."""
    import matplotlib
    from safetensors.torch import load_file

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    by_method: dict[str, list[BenchCell]] = {}
    for c in cells:
        if (out / c.key / "samples.safetensors").exists():
            by_method.setdefault(c.method, []).append(c)
    paths = {}
    for method, mcells in by_method.items():
        fig, axes = plt.subplots(2, len(mcells), figsize=(2.6 * len(mcells), 5.2), squeeze=False)
        for j, c in enumerate(mcells):
            t = load_file(str(out / c.key / "samples.safetensors"))
            top, bottom = axes[0, j], axes[1, j]
            top.set_title(c.dataset, fontsize=9)
            for ax in (top, bottom):
                ax.set_xticks([])
                ax.set_yticks([])
            x = t["samples"]
            if x.dim() == 2 and x.shape[1] == 2:
                data = t["data"]
                top.scatter(data[:, 0], data[:, 1], s=1, c="0.75")
                top.scatter(x[:1500, 0], x[:1500, 1], s=1, c="tab:blue")
                for ax in (top, bottom):
                    ax.set_xlim(-6, 6)
                    ax.set_ylim(-6, 6)
                    ax.set_aspect("equal")
                if "energy" in t:
                    e = t["energy"]
                    g = torch.linspace(-6, 6, e.shape[0])
                    bottom.contourf(g, g, -(e - e.min()).clamp_max(30), levels=30, cmap="viridis")
                else:
                    bottom.set_axis_off()
            else:
                from torchvision.utils import make_grid

                grid = make_grid(x[:20].float().clamp(-1, 1), nrow=5, padding=1, pad_value=1.0)
                top.imshow(grid[0], cmap="gray", vmin=-1, vmax=1)
                bottom.set_axis_off()
        fig.suptitle(method)
        fig.tight_layout()
        path = out / "img" / f"{_slug(method)}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=80)
        plt.close(fig)
        paths[method] = path
    return paths


def write_between_markers(path: pathlib.Path, text: str, *, begin: str = BEGIN, end: str = END) -> None:
    """Replace what lies between the markers ``begin`` and ``end`` (default :data:`BEGIN`/:data:`END`) in
    ``path``, appending both if absent; rewriting an unchanged block leaves the file byte-identical."""
    from ebmcore.checkpoint import atomic_write

    body = path.read_text() if path.exists() else ""
    atomic_write(path, replace_between_markers(body, text, begin=begin, end=end).encode())


def replace_between_markers(body: str, text: str, *, begin: str = BEGIN, end: str = END) -> str:
    """``body`` with ``text`` between the lines ``begin`` and ``end`` (both appended when absent)."""
    block = f"{begin}\n{text}{end}\n"
    if begin in body and end in body:
        head, rest = body.split(begin, 1)
        tail = rest.split(end, 1)[1].removeprefix("\n")  # the block ends with its own newline
        return head + block + tail
    return body.rstrip("\n") + "\n\n" + block if body else block
