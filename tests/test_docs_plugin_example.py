"""The component in docs/plugins.md works and passes the sampler contract when registered."""

from __future__ import annotations

import pathlib
import re

import torch

from ebmcore import hookimpl
from ebmcore.testing.contract import check_component

DOC = (pathlib.Path(__file__).parents[1] / "docs" / "plugins.md").read_text()


def test_plugin_doc_component_registers_and_passes_the_contract(ebm_host):
    code = re.findall(r"```python\n(.*?)```", DOC, flags=re.S)[0]
    ns: dict = {}
    exec(compile(code, "docs/plugins.md", "exec"), ns)

    class DocPlugin:
        @hookimpl
        def ebmcore_register_samplers(self, registry):
            registry.add("noisy_gd", ns["NoisyGradientDescentConfig"], ns["build"], summary="doc example")

    ebm_host.register(DocPlugin(), name="doc")
    regs = ebm_host.registries()
    comp = regs.sampler.get("noisy_gd")
    assert comp.provenance.plugin == "doc"
    check_component(comp, regs, torch.device("cpu"), torch.float32)
