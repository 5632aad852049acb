"""The ``ebm`` command line: plugins, recipes, config, train, sample, eval, bench."""

from __future__ import annotations

import contextlib
import functools
import json
import pathlib
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

EXIT_CONFIG = 2
EXIT_DIVERGED = 3


def _friendly_errors(fn: F) -> F:
    """Report expected failures (bad config, unknown name, missing checkpoint, divergence) without a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from ebmcore.checkpoint import CheckpointError
        from ebmcore.config import ConfigError
        from ebmcore._loader import PluginError
        from ebmcore._registry import UnknownComponentError
        from ebmcore.trainer import TrainingDiverged

        try:
            return fn(*args, **kwargs)
        except (ConfigError, UnknownComponentError, CheckpointError, PluginError, FileNotFoundError) as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_CONFIG)
        except TrainingDiverged as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_DIVERGED)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ebmcore")
def main() -> None:
    """ebmcore: train, sample and evaluate energy-based models built from plugin components."""


# --- plugins / recipes ---------------------------------------------------------------------------------


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--check", is_flag=True, help="Exit non-zero if any plugin failed to load or register.")
@_friendly_errors
def plugins(as_json: bool, check: bool) -> None:
    """List plugins: name, distribution, version, components per role, load errors."""
    from ebmcore._loader import get_plugin_host

    host = get_plugin_host()
    regs = host.registries()
    records = list(host.records.values())
    if as_json:
        click.echo(json.dumps([r.to_json() for r in records], indent=2))
    else:
        for r in records:
            dist = f"{r.provenance.distribution} {r.provenance.version}" if r.provenance.distribution else "-"
            click.echo(f"{r.name}  [{r.status}]  {dist}  ({r.source})")
            for role, names in r.components.items():
                click.echo(f"    {role + ':':<13}{', '.join(names)}")
            if r.error:
                click.echo(f"    error: {r.error}")
            for hook, err in r.hook_errors.items():
                click.echo(f"    {hook} failed: {err}")
        n = sum(1 for _ in regs.components())
        click.echo(f"{len(records)} plugin(s), {n} component(s), {len(regs.recipe)} recipe(s)")
    if check and host.failures():
        names = ", ".join(r.name for r in host.failures())
        click.echo(f"plugin check failed: {names}", err=True)
        sys.exit(1)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_friendly_errors
def recipes(as_json: bool) -> None:
    """List the built-in and plugin-provided recipes (ready-to-run configs)."""
    from ebmcore._loader import registries

    recs = list(registries().recipe)
    if as_json:
        click.echo(json.dumps([{"name": r.name, "summary": r.summary, "plugin": str(r.provenance)} for r in recs], indent=2))
        return
    width = max((len(r.name) for r in recs), default=0)
    for r in recs:
        click.echo(f"{r.name:<{width}}  {r.summary}  [{r.provenance.plugin}]")


@main.command()
@click.argument("source")
@click.argument("overrides", nargs=-1)
@_friendly_errors
def config(source: str, overrides: Sequence[str]) -> None:
    """Print the fully resolved config of a recipe or config file (with OVERRIDES) as JSON.

    Use it as a starting point for your own config file; every default is spelled out.
    """
    from ebmcore._loader import registries
    from ebmcore.config import unstructure_config

    regs = registries()
    cfg, _ = _resolve_config(source, overrides)
    click.echo(json.dumps(unstructure_config(cfg, regs), indent=2))


def _resolve_config(source: str, overrides: Sequence[str]) -> tuple[Any, str]:
    from ebmcore._loader import registries
    from ebmcore.config import ConfigError, apply_overrides, read_config_file, structure_config

    regs = registries()
    path = pathlib.Path(source)
    if source in regs.recipe:
        data, stem = dict(regs.recipe.get(source).config), source
    elif path.suffix.lower() in (".toml", ".yaml", ".yml", ".json") or path.exists():
        data, stem = read_config_file(path), path.stem
    else:
        try:
            regs.recipe.get(source)
        except Exception as exc:
            raise ConfigError([f"{exc} (and no config file of that name exists) @ $"]) from None
    return structure_config(apply_overrides(data, overrides), regs), stem


# --- train -----------------------------------------------------------------------------------------


def _print_table(metrics: dict[str, float]) -> None:
    width = max((len(k) for k in metrics), default=0)
    for k in sorted(metrics):
        v = metrics[k]
        click.echo(f"  {k:<{width}}  {v:.6g}" if isinstance(v, float) else f"  {k:<{width}}  {v}")


@main.command()
@click.argument("source")
@click.argument("overrides", nargs=-1)
@click.option("--out", "out_dir", type=click.Path(path_type=pathlib.Path), help="Run directory (default runs/<name>).")
@click.option("--resume", is_flag=True, help="Continue from the run directory's latest checkpoint.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: only on a terminal).")
@click.option("--eval/--no-eval", "do_eval", default=True, help="Evaluate and plot at the end.")
@_friendly_errors
def train(
    source: str, overrides: Sequence[str], out_dir: pathlib.Path | None, resume: bool, progress: bool | None, do_eval: bool
) -> None:
    """Train a RECIPE (see `ebm recipes`) or a CONFIG file (TOML/YAML/JSON).

    OVERRIDES are dotted assignments, e.g. `trainer.steps=2000 sampler.step_size=0.01`. Writes
    checkpoints/, metrics.jsonl, samples.png and metrics.json under the run directory.
    """
    from ebmcore._loader import registries
    from ebmcore.build import build
    from ebmcore.checkpoint import find_checkpoint
    from ebmcore.evaluation import evaluate
    from ebmcore.plotting import save_sample_plot
    from ebmcore.trainer import Trainer

    regs = registries()
    if resume:
        run_dir = out_dir or pathlib.Path("runs") / pathlib.Path(source).stem
        find_checkpoint(run_dir)  # clear error when there is nothing to resume
        trainer = Trainer.resume(run_dir, regs=regs, overrides=overrides, progress=progress)
        if trainer.rank == 0:
            click.echo(f"resuming {run_dir} at step {trainer.step}")
    else:
        cfg, stem = _resolve_config(source, overrides)
        run_dir = out_dir or pathlib.Path("runs") / stem
        trainer = Trainer(build(cfg, regs=regs), run_dir, regs=regs, progress=progress)
        if trainer.rank == 0:
            ranks = f" x {trainer.world_size} processes" if trainer.world_size > 1 else ""
            click.echo(f"training {source} on {trainer.device}{ranks} for {cfg.trainer.steps} steps -> {run_dir}")
    trainer.fit()
    if trainer.world_size > 1:
        from ebmcore.distributed import shutdown

        shutdown()
        if trainer.rank != 0:  # rank 0 reports and evaluates, alone
            return
    click.echo(f"checkpoint: {trainer.last_checkpoint}")
    if do_eval:
        with trainer.ema_applied() if trainer.cfg.eval.use_ema else contextlib.nullcontext():
            metrics = evaluate(trainer.exp, trainer.cfg.eval.n_samples, seed=trainer.cfg.seed + 1)
        pic = save_sample_plot(trainer, run_dir / "samples.png")
        metrics = {"step": trainer.step, **metrics}
        (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
        click.echo(f"picture: {pic}\nmetrics ({run_dir / 'metrics.json'}):")
        _print_table(metrics)


# --- sample / eval --------------------------------------------------------------------------------------


@main.command()
@click.argument("checkpoint", type=click.Path(path_type=pathlib.Path))
@click.argument("overrides", nargs=-1)
@click.option("-n", "n", default=1000, show_default=True, help="Number of samples.")
@click.option("--seed", default=0, show_default=True, help="Sampling seed.")
@click.option("--ema/--no-ema", default=True, show_default=True, help="Use EMA weights when the run has them.")
@click.option("--out", "out_path", type=click.Path(path_type=pathlib.Path), help="Output .safetensors (default <run>/samples-<seed>.safetensors).")
@click.option("--device", default=None, help="Override the run's device (cpu, cuda).")
@_friendly_errors
def sample(
    checkpoint: pathlib.Path, overrides: Sequence[str], n: int, seed: int, ema: bool, out_path: pathlib.Path | None,
    device: str | None,
) -> None:
    """Generate samples from a CHECKPOINT (a run directory or a step-* directory); saves tensors and a picture.

    OVERRIDES change the stored config first, e.g. `sampler.n_steps=200` to sample with another setting.
    """
    from safetensors.torch import save_file

    from ebmcore._loader import registries
    from ebmcore.evaluation import generate, load_experiment
    from ebmcore.plotting import plot_samples

    exp, ckpt = load_experiment(checkpoint, regs=registries(), use_ema=ema, device=device, overrides=overrides)
    result = generate(exp, n, seed=seed)
    run_dir = ckpt.path.parent.parent
    out_path = out_path or run_dir / f"samples-{seed}.safetensors"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    save_file({"samples": result.x.detach().cpu().contiguous()}, str(out_path))
    pic = plot_samples(exp.dataset, result.x, out_path.with_suffix(".png"), energy=exp.model_energy, title=f"{ckpt.path.name}")
    click.echo(f"{n} samples -> {out_path}\npicture -> {pic}")


@main.command(name="eval")
@click.argument("checkpoint", type=click.Path(path_type=pathlib.Path))
@click.argument("overrides", nargs=-1)
@click.option("-n", "n", default=None, type=int, help="Number of samples (default: the run's eval.n_samples).")
@click.option("--seed", default=0, show_default=True, help="Sampling seed.")
@click.option("--ema/--no-ema", default=True, show_default=True, help="Use EMA weights when the run has them.")
@click.option("--out", "out_path", type=click.Path(path_type=pathlib.Path), help="JSON output (default <run>/eval.json).")
@click.option("--device", default=None, help="Override the run's device (cpu, cuda).")
@click.option(
    "--inception-weights", type=click.Path(path_type=pathlib.Path), default=None,
    help="Local inception-2015-12-05.pt (or its folder): also report standard Inception FID (image runs). "
    "Never downloaded.",
)
@_friendly_errors
def eval_(
    checkpoint: pathlib.Path, overrides: Sequence[str], n: int | None, seed: int, ema: bool,
    out_path: pathlib.Path | None, device: str | None, inception_weights: pathlib.Path | None,
) -> None:
    """Evaluate a CHECKPOINT on its run's data set: prints a metric table and saves it as JSON.

    OVERRIDES change the stored config first, e.g. `sampler.n_steps=200` to score the same weights with
    another sampler setting (the weights must still fit the energy).
    """
    from ebmcore._loader import registries
    from ebmcore.evaluation import evaluate, generate, load_experiment

    exp, ckpt = load_experiment(checkpoint, regs=registries(), use_ema=ema, device=device, overrides=overrides)
    assert exp.config is not None
    n = n or exp.config.eval.n_samples
    metrics = {"step": ckpt.step, **evaluate(exp, n, seed=seed)}
    if inception_weights is not None:
        from ebmcore.metrics import inception_fid

        if exp.dataset.kind != "image":
            raise click.UsageError("--inception-weights applies to image data sets only")
        samples = generate(exp, n, seed=seed).x.detach()
        real = exp.dataset.test if exp.dataset.test is not None else exp.dataset.x
        metrics["inception_fid"] = inception_fid(samples, real[:n], weights_path=inception_weights, device=samples.device)
    out_path = out_path or ckpt.path.parent.parent / "eval.json"
    out_path.write_text(json.dumps(metrics, indent=2))
    click.echo(f"{ckpt.path}:")
    _print_table(metrics)
    click.echo(f"saved {out_path}")


# --- bench ----------------------------------------------------------------------------------------------


@main.group()
def bench() -> None:
    """Benchmarks across installed methods (speed benchmarks: `python -m benchmarks` in a checkout)."""


@bench.command()
@click.option("--quick", is_flag=True, help="A few-minute subset: 2-D data sets 8gaussians and 2modes, 300 steps, 1,000 samples.")
@click.option("--data", "datasets", multiple=True, help="Data set(s) to run (repeatable; default: all). See --list.")
@click.option("--method", "methods", multiple=True, help="Method(s) to run (repeatable; default: every installed one).")
@click.option("--steps", type=int, default=None, help="Common training budget in steps (default: each recipe's own).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every run.")
@click.option("-n", "n_samples", type=int, default=None, help="Evaluation samples (default: each recipe's eval.n_samples).")
@click.option("--out", type=click.Path(path_type=pathlib.Path), default=None, help="Output folder (default runs/bench-quality[-quick]).")
@click.option("--results", type=click.Path(path_type=pathlib.Path), default=None,
              help="Also write the table into this markdown file between the bench markers (e.g. docs/results.md).")
@click.option("--force", is_flag=True, help="Re-run cells that already have a result in the output folder.")
@click.option("--list", "list_only", is_flag=True, help="Print the planned cells and exit.")
@_friendly_errors
def quality(quick: bool, datasets: Sequence[str], methods: Sequence[str], steps: int | None, seed: int,
            n_samples: int | None, out: pathlib.Path | None, results: pathlib.Path | None, force: bool,
            list_only: bool) -> None:
    """Train every installed method's recipes (and the CD/PCD baselines) on the same data sets and seed;
    write one table (MMD², exact NLL, modes, mode-weight errors, DigitsFID, train and sampling time) and a
    picture per method."""
    from ebmcore import bench as qb
    from ebmcore._loader import registries

    regs = registries()
    if quick:
        datasets = datasets or qb.QUICK_DATASETS
        steps = steps if steps is not None else qb.QUICK_STEPS
        n_samples = n_samples if n_samples is not None else qb.QUICK_SAMPLES
    try:
        cells = qb.bench_plan(regs, datasets=datasets or tuple(qb.DATASETS), methods=methods or None, steps=steps,
                              seed=seed, n_samples=n_samples)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if list_only:
        for c in cells:
            click.echo(f"{c.key:<28} {c.recipe:<20} steps={c.config['trainer'].get('steps')}")
        return
    out = out or pathlib.Path("runs") / ("bench-quality-quick" if quick else "bench-quality")
    command = "ebm bench quality " + " ".join(sys.argv[3:]) if len(sys.argv) > 3 else "ebm bench quality"
    records = qb.run_quality(regs, out, cells=cells, force=force, results=results, command=command.strip(),
                             log=click.echo)
    failed = [r for r in records if r.get("error")]
    click.echo(f"{len(records) - len(failed)} cell(s) done, {len(failed)} failed; table: {out / 'quality.md'}")


if __name__ == "__main__":  # pragma: no cover
    main()
