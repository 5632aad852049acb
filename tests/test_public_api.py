"""The stable public API (issue 10): plugins import only what :mod:`ebmcore.public` lists, and every public
class and function has a docstring in the project's format whose examples run."""

from __future__ import annotations

import ast
import importlib
import pathlib

import pytest
import torch

from ebmcore.public import PUBLIC_MODULES, is_public
from ebmcore.testing.docstrings import docstring_problems, public_objects, run_examples

ROOT = pathlib.Path(__file__).resolve().parents[1]
PLUGIN_DIRS = sorted(p.parent for p in (ROOT / "plugins").glob("*/pyproject.toml")) + sorted(
    p.parent for p in (ROOT / "examples").glob("*/pyproject.toml"))


#: import name -> the plugin's folder (the same rule as scripts/gen_reference.py's in_repo_plugins)
PLUGIN_PACKAGES = {p.parent.name: d for d in PLUGIN_DIRS for p in d.glob("ebmcore_*/__init__.py")}


def _import_problems(path: pathlib.Path, own: str) -> list[str]:
    """Imports in one file that leave the public API: private/unlisted core modules or names, another
    plugin's internals."""
    problems = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            mods = [(node.module, [a.name for a in node.names])]
        elif isinstance(node, ast.Import):
            mods = [(a.name, []) for a in node.names]
        else:
            continue
        for module, names in mods:
            top = module.split(".")[0]
            where = f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name}:{node.lineno}"
            if top == "ebmcore":
                if module not in PUBLIC_MODULES:
                    problems.append(f"{where}: {module} is not a public module")
                    continue
                problems += [f"{where}: {module}.{n} is not public" for n in names if not is_public(module, n)]
            elif top in PLUGIN_PACKAGES and top != own:
                if module != top:
                    problems.append(f"{where}: {module} is another plugin's internal module")
                    continue
                public = importlib.import_module(top).__all__
                problems += [f"{where}: {top}.{n} is not in its __all__" for n in names if n not in public]
    return problems


@pytest.mark.parametrize("package", sorted(PLUGIN_PACKAGES))
def test_plugins_import_only_the_public_api(package):
    plugin_dir = PLUGIN_PACKAGES[package]
    problems = []
    for path in sorted(plugin_dir.rglob("*.py")):
        if ".egg-info" not in str(path) and "build" not in path.parts:
            problems += _import_problems(path, package)
    assert not problems, "\n".join(problems)


def test_the_import_check_catches_private_and_cross_plugin_imports(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from ebmcore._loader import PluginHost\nfrom ebmcore.trainer import _secret\n"
                   "import ebmcore.cli\nfrom ebmcore_vapo.paths import x\nfrom ebmcore_vapo import nothing_here\n"
                   "from ebmcore import Energy\n")
    problems = _import_problems(bad, "ebmcore_cdrl")
    assert len(problems) == 5, problems
    assert "ebmcore._loader is not a public module" in problems[0] and "ebmcore.trainer._secret" in problems[1]
    assert "ebmcore.cli" in problems[2] and "another plugin's internal module" in problems[3]
    assert "nothing_here is not in its __all__" in problems[4]


def _public() -> dict[str, object]:
    objs = public_objects(PUBLIC_MODULES)
    objs.update(public_objects(sorted(PLUGIN_PACKAGES)))
    return objs


PUBLIC = _public()


def _implements_a_paper(key: str, obj: object) -> bool:
    """Plugin classes that fill one of the four roles implement their paper and must cite it."""
    from ebmcore import Energy, Initializer, Objective, Sampler

    return (not key.startswith("ebmcore.") and isinstance(obj, type)
            and issubclass(obj, (Energy, Initializer, Objective, Sampler)))


@pytest.mark.parametrize("key", sorted(PUBLIC))
def test_public_docstrings_follow_the_format(key):
    problems = docstring_problems(PUBLIC[key], needs_reference=_implements_a_paper(key, PUBLIC[key]))
    assert not problems, f"{key}: " + "; ".join(problems)


@pytest.mark.parametrize("key", sorted(PUBLIC))
def test_public_docstring_examples_run(key):
    result = run_examples(PUBLIC[key], setup=lambda: torch.manual_seed(0))
    assert result.failed == 0, f"{key}: {result.failed} of {result.attempted} examples failed (output above)"
