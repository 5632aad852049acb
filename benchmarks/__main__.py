"""``python -m benchmarks``: every speed table of ``benchmarks/speed.py``, written to ``docs/performance.md``.

    python -m benchmarks [--device cpu|cuda] [--repeats 5] [--tables sampler train torchebm compile methods]
                         [--out docs/performance.md] [--json runs/performance.json]

Ratios only: each row's reference is measured in the same run, interleaved with ebmcore's timing.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import sys

import attrs
import torch

from benchmarks.speed import run_all
from ebmcore.bench import write_between_markers

TABLES = ("sampler", "train", "torchebm", "compile", "methods")
TITLES = {
    "sampler": "Sampler overhead vs the physical floor",
    "train": "Training step vs a hand-written PyTorch loop",
    "torchebm": "Against TorchEBM (ebmcore / TorchEBM)",
    "compile": "torch.compile (opt-in) vs eager",
    "methods": "Method costs",
}
BEGIN, END = "<!-- python -m benchmarks: begin (generated) -->", "<!-- python -m benchmarks: end -->"


def machine(device: torch.device) -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = f", GPU {torch.cuda.get_device_name(device)}" if device.type == "cuda" else ""
    return (f"{cpu}, {os.cpu_count()} logical cores{gpu}; Python {platform.python_version()}, torch {torch.__version__}, "
            f"{torch.get_num_threads()} intra-op thread(s), device {device}")


def to_markdown(rows, notes, device: torch.device, repeats: int, command: str) -> str:
    out = [f"Made by `{command}` on {machine(device)}. Medians over {repeats} interleaved repetitions.", ""]
    for table in TABLES:
        sel = [r for r in rows if r.table == table]
        if not sel:
            continue
        out += [f"**{TITLES[table]}**", "", "| case | ebmcore | reference | ratio | goal | note |", "|---|---|---|---|---|---|"]
        for r in sel:
            out.append(f"| {r.case} | {r.ours_s * 1e3:.3f} ms | {r.ref_s * 1e3:.3f} ms | {r.ratio:.2f} | {r.goal} | {r.note} |")
        out.append("")
    if notes:
        out += ["Notes: " + "; ".join(notes) + ".", ""]
    return "\n".join(out)


def write_block(path: pathlib.Path, text: str) -> None:
    """The tables between this script's markers in ``path`` (a new file starts with a title)."""
    if not path.exists():
        path.write_text("# Performance\n")
    write_between_markers(path, text, begin=BEGIN, end=END)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--tables", nargs="+", choices=TABLES, default=list(TABLES))
    p.add_argument("--out", type=pathlib.Path, default=None, help="Markdown file to write the tables into (between markers).")
    p.add_argument("--json", type=pathlib.Path, default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    rows, notes = run_all(device, args.repeats, set(args.tables))
    command = "python -m benchmarks " + " ".join(sys.argv[1:] if argv is None else argv)
    text = to_markdown(rows, notes, device, args.repeats, command.strip())
    print(text)
    if args.out:
        write_block(args.out, text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"machine": machine(device), "notes": notes,
                                         "rows": [{**attrs.asdict(r), "ratio": r.ratio} for r in rows]}, indent=2))


if __name__ == "__main__":
    main()
