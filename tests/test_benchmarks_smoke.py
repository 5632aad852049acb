"""The speed harness stays runnable: tiny repetitions, rows well formed. No timing is asserted here
(speed is measured by `python -m benchmarks`, never judged by a test)."""

from __future__ import annotations

import pathlib
import sys

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # the repository's benchmarks/ package

from benchmarks import __main__ as bench_main  # noqa: E402
from benchmarks import speed  # noqa: E402


def test_sampler_and_train_rows_are_measured_against_a_reference(tmp_path):
    cpu = torch.device("cpu")
    rows = speed.sampler_rows(cpu, repeats=1, n_steps=3) + speed.train_rows(cpu, repeats=1, n_iter=2)
    cases = [r.case for r in rows]
    assert len(rows) == 10 and cases[-1].startswith("CD-10 iteration") and "every 100 steps" in cases[-1]
    assert sum("gaussian" in c for c in cases) == 4 and sum(c.endswith("mlp") for c in cases) == 4
    assert all(r.ours_s > 0 and r.ref_s > 0 and r.ratio == r.ours_s / r.ref_s for r in rows)
    out = tmp_path / "performance.md"
    out.write_text("# Performance\n\nprose stays\n")
    bench_main.write_block(out, bench_main.to_markdown(rows, ["a note"], cpu, 1, "python -m benchmarks"))
    bench_main.write_block(out, bench_main.to_markdown(rows, ["a note"], cpu, 1, "python -m benchmarks"))
    text = out.read_text()
    assert text.startswith("# Performance\n\nprose stays\n") and text.count(bench_main.BEGIN) == 1
    assert text.count("| Langevin step / floor, mlp |") == 1 and "Notes: a note." in text


def test_main_writes_markdown_and_json(tmp_path, monkeypatch):
    rows = [speed.Row("train", "case", 2.0, 1.0, "<= 1.05", "note")]
    monkeypatch.setattr(bench_main, "run_all", lambda device, repeats, tables: (rows, []))
    bench_main.main(["--tables", "train", "--out", str(tmp_path / "p.md"), "--json", str(tmp_path / "p.json")])
    import json

    data = json.loads((tmp_path / "p.json").read_text())
    assert data["rows"][0]["ratio"] == 2.0 and data["rows"][0]["case"] == "case"
    assert "| case | 2000.000 ms | 1000.000 ms | 2.00 | <= 1.05 | note |" in (tmp_path / "p.md").read_text()


def test_gaussian_energy_is_the_standard_normal():
    x = torch.tensor([[0.0, 0.0], [1.0, 2.0]], dtype=torch.float64)
    assert torch.equal(speed.GaussianEnergy()(x), torch.tensor([0.0, 2.5], dtype=torch.float64))
