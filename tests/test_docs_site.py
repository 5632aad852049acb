"""The documentation site builds with warnings as errors, and its generated reference pages match the
code (issue 10)."""

from __future__ import annotations

import importlib.util
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _gen():
    spec = importlib.util.spec_from_file_location("gen_reference", ROOT / "scripts" / "gen_reference.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_reference_pages_match_the_code():
    gen = _gen()
    assert len(gen.in_repo_plugins()) == len(list((ROOT / "plugins").glob("*/pyproject.toml"))), (
        "install every in-repo plugin (scripts/setup.sh) to check the reference pages")
    assert gen.main(["--check"]) == 0, "run: python scripts/gen_reference.py"


def test_config_reference_documents_every_field():
    text = (ROOT / "docs" / "reference" / "config.md").read_text()
    assert "### `langevin`" in text and "### `vapo_ode`" in text and "`compile_sampler`" in text
    empty = [ln for ln in text.splitlines() if ln.startswith("| `") and ln.rstrip().endswith("|  |")]
    assert not empty, "config fields without an Attributes: entry:\n" + "\n".join(empty)


def test_site_builds_strict(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    api = tmp_path / "site" / "reference" / "api" / "ebmcore.components.samplers" / "index.html"
    assert "LangevinSampler" in api.read_text()
