"""Plugin discovery through real (temporary) distributions: isolation, strict mode, allow/deny lists."""

from __future__ import annotations

import importlib
import importlib.metadata as md
import subprocess
import sys
import textwrap
import warnings

import pytest

from ebmcore import PluginError, PluginHost, PluginWarning

GOOD = '''
import attrs
from ebmcore import SamplerConfig, hookimpl

@attrs.frozen(kw_only=True)
class GoodConfig(SamplerConfig):
    k: int = 1

def build(cfg, ctx):
    raise NotImplementedError("not built in these tests")

@hookimpl
def ebmcore_register_samplers(registry):
    registry.add("good_sampler", GoodConfig, build, summary="A sampler from a fake distribution.")

@hookimpl
def ebmcore_register_recipes(registry):
    registry.add("good-recipe", {"seed": 1}, summary="A recipe.")
'''

BROKEN_IMPORT = "raise ImportError('this plugin is broken on purpose')\n"

RAISING_HOOK = '''
import attrs
from ebmcore import SamplerConfig, hookimpl

@attrs.frozen(kw_only=True)
class HalfConfig(SamplerConfig):
    pass

@hookimpl
def ebmcore_register_samplers(registry):
    registry.add("half_registered", HalfConfig, lambda cfg, ctx: None)
    raise RuntimeError("registration failed halfway")
'''

DUPLICATE = '''
import attrs
from ebmcore import SamplerConfig, hookimpl

@attrs.frozen(kw_only=True)
class DupConfig(SamplerConfig):
    pass

@hookimpl
def ebmcore_register_samplers(registry):
    registry.add("good_sampler", DupConfig, lambda cfg, ctx: None)
'''


def _make_dist(root, dist, module, source, version="1.0"):
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[ebmcore]\n{module} = {module}\n")


@pytest.fixture
def fake_plugins(tmp_path, monkeypatch):
    """Install fake distributions into a temp folder on sys.path; yields a function giving their entry points."""
    monkeypatch.syspath_prepend(str(tmp_path))
    made = []

    def make(dist, module, source):
        _make_dist(tmp_path, dist, module, source)
        made.append(module)
        importlib.invalidate_caches()

    yield make
    for module in made:
        sys.modules.pop(module, None)


def _eps():
    return [ep for ep in md.entry_points(group="ebmcore") if ep.name.startswith("fake_")]


def test_good_plugin_discovered_with_provenance(fake_plugins, monkeypatch):
    monkeypatch.delenv("EBMCORE_STRICT_PLUGINS", raising=False)
    fake_plugins("ebmcore-fake-good", "fake_good", GOOD)
    host = PluginHost(entry_points=_eps())
    regs = host.registries()
    comp = regs.sampler.get("good_sampler")
    assert comp.provenance.plugin == "fake_good"
    assert comp.provenance.distribution == "ebmcore-fake-good" and comp.provenance.version == "1.0"
    assert host.records["fake_good"].components == {"sampler": ["good_sampler"], "recipe": ["good-recipe"]}
    assert "langevin" in regs.sampler  # core still there


def test_broken_import_is_isolated_and_named(fake_plugins, monkeypatch):
    monkeypatch.delenv("EBMCORE_STRICT_PLUGINS", raising=False)
    fake_plugins("ebmcore-fake-good", "fake_good", GOOD)
    fake_plugins("ebmcore-fake-broken", "fake_broken", BROKEN_IMPORT)
    with pytest.warns(PluginWarning, match=r"'fake_broken'.*ebmcore-fake-broken 1\.0.*broken on purpose"):
        host = PluginHost(entry_points=_eps())
    rec = host.records["fake_broken"]
    assert rec.status == "failed" and "ImportError" in rec.error
    assert "good_sampler" in host.registries().sampler
    assert [r.name for r in host.failures()] == ["fake_broken"]


def test_raising_hook_is_rolled_back_and_others_register(fake_plugins, monkeypatch):
    monkeypatch.delenv("EBMCORE_STRICT_PLUGINS", raising=False)
    fake_plugins("ebmcore-fake-good", "fake_good", GOOD)
    fake_plugins("ebmcore-fake-half", "fake_half", RAISING_HOOK)
    host = PluginHost(entry_points=_eps())
    with pytest.warns(PluginWarning, match="fake_half.*registration failed halfway"):
        regs = host.registries()
    assert "half_registered" not in regs.sampler
    assert "good_sampler" in regs.sampler
    assert "ebmcore_register_samplers" in host.records["fake_half"].hook_errors


def test_duplicate_across_plugins_names_both(fake_plugins, monkeypatch):
    monkeypatch.delenv("EBMCORE_STRICT_PLUGINS", raising=False)
    fake_plugins("ebmcore-fake-good", "fake_good", GOOD)
    fake_plugins("ebmcore-fake-zdup", "fake_zdup", DUPLICATE)
    host = PluginHost(entry_points=_eps())
    with pytest.warns(PluginWarning) as record:
        regs = host.registries()
    msg = str(record[0].message)
    assert "fake_good (ebmcore-fake-good 1.0)" in msg and "fake_zdup (ebmcore-fake-zdup 1.0)" in msg
    assert regs.sampler.get("good_sampler").provenance.plugin == "fake_good"


def test_strict_mode_raises(fake_plugins, monkeypatch):
    monkeypatch.setenv("EBMCORE_STRICT_PLUGINS", "1")
    fake_plugins("ebmcore-fake-broken", "fake_broken", BROKEN_IMPORT)
    with pytest.raises(PluginError, match="fake_broken"):
        PluginHost(entry_points=_eps())


def test_disable_and_allow_lists(fake_plugins, monkeypatch):
    monkeypatch.delenv("EBMCORE_STRICT_PLUGINS", raising=False)
    fake_plugins("ebmcore-fake-good", "fake_good", GOOD)
    fake_plugins("ebmcore-fake-broken", "fake_broken", BROKEN_IMPORT)
    monkeypatch.setenv("EBMCORE_DISABLE_PLUGINS", "ebmcore-fake-broken")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        host = PluginHost(entry_points=_eps())
    assert host.records["fake_broken"].status == "disabled"
    assert "good_sampler" in host.registries().sampler
    monkeypatch.delenv("EBMCORE_DISABLE_PLUGINS")
    monkeypatch.setenv("EBMCORE_LOAD_PLUGINS", "")
    host = PluginHost(entry_points=_eps())
    assert {r.status for n, r in host.records.items() if n.startswith("fake_")} == {"disabled"}
    assert "langevin" in host.registries().sampler  # core components are not entry points


def test_runtime_registration_shows_up_and_goes_away(ebm_host):
    import attrs
    from ebmcore import ObjectiveConfig, hookimpl

    @attrs.frozen(kw_only=True)
    class MyConfig(ObjectiveConfig):
        pass

    class MyPlugin:
        @hookimpl
        def ebmcore_register_objectives(self, registry):
            registry.add("mine", MyConfig, lambda cfg, ctx: None)

    ebm_host.register(MyPlugin(), name="mine")
    assert "mine" in ebm_host.registries().objective
    ebm_host.unregister("mine")
    assert "mine" not in ebm_host.registries().objective


def test_import_ebmcore_loads_no_plugin():
    code = (
        "import sys, ebmcore; "
        "assert 'ebmcore.components.plugin' not in sys.modules; "
        "assert ebmcore._loader._HOST is None; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


def test_ebm_plugins_reports_a_broken_plugin_and_check_fails(fake_plugins, monkeypatch):
    from click.testing import CliRunner

    from ebmcore import reset_plugin_host
    from ebmcore.cli import main

    monkeypatch.delenv("EBMCORE_STRICT_PLUGINS", raising=False)
    fake_plugins("ebmcore-fake-good", "fake_good", GOOD)
    fake_plugins("ebmcore-fake-broken", "fake_broken", BROKEN_IMPORT)
    with pytest.warns(PluginWarning):
        reset_plugin_host(PluginHost(entry_points=_eps()))
    try:
        out = CliRunner().invoke(main, ["plugins"])
        assert out.exit_code == 0
        assert "fake_broken  [failed]  ebmcore-fake-broken 1.0" in out.output
        assert "error: ImportError: this plugin is broken on purpose" in out.output
        assert "good_sampler" in out.output and "langevin" in out.output
        out = CliRunner().invoke(main, ["plugins", "--check"])
        assert out.exit_code == 1 and "plugin check failed: fake_broken" in out.output
    finally:
        reset_plugin_host(None)
