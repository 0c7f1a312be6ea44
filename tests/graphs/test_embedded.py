"""Plumbing: all twelve topologies against the embedded model (llama.cpp, SmolLM2-135M).

The model is tiny; this checks that every topology runs end to end against a real
endpoint and returns a RunResult with an allowed status — never an exception, never
a transport or endpoint failure — not what the model says: whether its replies hold
an answer (a run with none ends ``error``) depends on the build and the CPU, so no
count of good runs is asserted. Replies are capped at 16 tokens, every agent
gets one step and the topologies are as small as they go (about 30 calls), to keep
the CPU-bound model quick.
"""

from __future__ import annotations

import pytest

from thinktank.errors import InfrastructureError
from thinktank.graphs import GraphSpec, compile
from thinktank.graphs.state import RunStatus
from thinktank.graphs.topologies import TOPOLOGIES, topology
from thinktank.llm import load_model, local
from thinktank.sandboxes import LocalSandboxConfig

pytestmark = pytest.mark.embedded

TINY = {
    "single": "single",
    "best_of_n": "best_of_n:n=2,select=judge",
    "self_consistency": "self_consistency:n_max=2,wave=2,min_samples=2",
    "mav": "mav:n=1,k=1",
    "debate": "debate:m=2,r=2",
    "refine": "refine:k=2,iterations=1",
    "ceo": "ceo:critics=1,rounds=2",
    "pdr": "pdr:k=1,rounds=2",
    "fusion": "fusion:n=2",
    "hybrid_verify": "hybrid_verify:n=1",
    "test_vote": "test_vote:n=1",
    "model_switch": "model_switch:n=2",
}
ALLOWED = set(RunStatus)  # ok, budget_exhausted, …, degraded, error


def _subclasses(cls: type) -> set[str]:
    out = {cls.__name__}
    for sub in cls.__subclasses__():
        out |= _subclasses(sub)
    return out


# what an endpoint or transport failure looks like in a sample's error ("Name: message")
INFRA = _subclasses(InfrastructureError) | {"APIConnectionError", "APITimeoutError", "OSError"}


def _short(spec: GraphSpec) -> GraphSpec:
    nodes = [n.model_copy(update={"max_tokens": 16, "max_steps": 1}) for n in spec.nodes]
    return GraphSpec.parse_data({**spec.model_dump(), "nodes": [n.model_dump() for n in nodes]})


async def test_all_twelve_topologies_run_against_the_embedded_model(
    embedded_server: local.LocalServer,
) -> None:
    assert set(TINY) == set(TOPOLOGIES)
    model = load_model("local:smollm2")
    models = {"default": model, "cheap": model, "strong": model}
    for name, text in TINY.items():
        graph = compile(_short(topology(text)), models=models, sandbox=LocalSandboxConfig())
        res = await graph.run({"id": name, "prompt": "What is 2 + 3?", "kind": "math"})
        assert res.status in ALLOWED, (name, res.status)
        assert res.usage.totals.calls >= 1, name
        outputs = res.trace.outputs
        assert outputs, name
        infra = [o.error for o in outputs if (o.error or "").split(":")[0] in INFRA]
        assert not infra, (name, infra)
        if res.status == "error":  # the model's replies held no answer: said, not raised
            assert res.error, name
