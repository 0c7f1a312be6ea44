"""The public API: every advertised name resolves, lazily, to the object it names."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import thinktank
import thinktank.testing


@pytest.mark.parametrize("module", [thinktank, thinktank.testing])
def test_every_public_name_resolves_to_its_defining_module(module: object) -> None:
    names = [n for n in module.__all__ if n != "__version__"]  # type: ignore[attr-defined]
    assert names
    for name in names:
        value = getattr(module, name)
        where = module._LAZY[name]  # type: ignore[attr-defined]
        assert getattr(importlib.import_module(where), name) is value
    assert set(names) <= set(dir(module))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        module.nope  # type: ignore[attr-defined]  # noqa: B018


def test_importing_the_package_loads_nothing_heavy() -> None:
    code = (
        "import sys, thinktank, thinktank.testing; "
        "print(sorted(m for m in ('langgraph', 'openai', 'docker', 'httpx', 'pydantic') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_the_readme_example_runs_on_public_names() -> None:
    from thinktank import Graph, Solver, Verifier, compile
    from thinktank.testing import FunctionModel

    g = Graph("verified-best-of-3")
    s = g.add(Solver(temperature=0.8), n=3)
    g.connect(s, g.add(Verifier()))
    g.select("verifier")

    def reply(request: object) -> str:
        text = str(getattr(request, "messages", ""))
        return "Verdict: correct\nScore: 0.9" if "Candidate" in text else "17*23 = 391\nAnswer: 391"

    result = compile(g.build(), models=FunctionModel(reply)).run_sync("What is 17 * 23?")
    assert result.answer == "391" and len(result.candidates) == 3


@pytest.mark.parametrize("module", [thinktank, thinktank.testing])
def test_all_lists_exactly_the_lazy_names(module: object) -> None:
    names = set(module.__all__) - {"__version__"}  # type: ignore[attr-defined]
    assert names == set(module._LAZY)  # type: ignore[attr-defined]
