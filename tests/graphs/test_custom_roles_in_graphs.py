"""Your own roles in graphs: built with Python, carried by the spec, read back from YAML,
treated by what they declare (scoring, critiquing, producing context) like built-ins."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel

from tests.graphs.helpers import by_role, cycling, outputs_of, user_text
from thinktank.agents.roles import find_role, register_role, temporary_roles
from thinktank.graphs import Graph, GraphSpec, Solver, compile
from thinktank.graphs.builder import Refiner
from thinktank.llm.types import ChatRequest

QUESTION = "What is 17 * 23?"


@pytest.fixture(autouse=True)
def _isolated() -> Iterator[None]:
    with temporary_roles():
        yield


class Review(BaseModel):
    verdict: bool
    score: float
    comments: str = ""


def test_a_custom_scoring_role_selects_and_its_typed_output_is_recorded() -> None:
    reviewer = register_role(
        "reviewer", instructions="You are the reviewer. Check it.", output=Review, does="score"
    )

    def review(req: ChatRequest) -> str:
        ok = "Candidate answer: 391" in user_text(req)
        return json.dumps({"verdict": ok, "score": 0.9 if ok else 0.1, "comments": "checked"})

    g = Graph("reviewed")
    s = g.add(Solver(), n=3)
    r = g.add(reviewer)
    g.connect(s, r).select(r)
    spec = g.build()
    assert (spec.selection.method, spec.selection.by) == ("verifier", "reviewer")
    assert [d.name for d in spec.roles] == ["reviewer"]
    model = by_role({"solver": cycling("390", "391", "390"), "reviewer": review})
    res = compile(spec, models=model).run_sync(QUESTION)
    assert res.answer == "391"
    outs = outputs_of(res, "reviewer")
    assert len(outs) == 3 and {o.target for o in outs} == {"solver:1:0", "solver:1:1", "solver:1:2"}
    assert {o.output["comments"] for o in outs} == {"checked"}
    prompt = model.requests[-1].messages[0]["content"]
    assert "Reply with a JSON object with the fields: verdict (required)" in str(prompt)


def test_an_unparseable_reply_of_a_custom_role_becomes_feedback_in_the_run() -> None:
    register_role("reviewer", instructions="You are the reviewer.", output=Review, does="score")
    replies = iter(["Looks right to me!", '{"verdict": true, "score": 0.8}'])
    model = by_role({"solver": "Answer: 391", "reviewer": lambda req: next(replies)})
    g = Graph("r")
    g.connect(g.add(Solver()), g.add("reviewer")).select("reviewer")
    res = compile(g.build(), models=model).run_sync(QUESTION)
    [out] = outputs_of(res, "reviewer")
    steps = (out.trajectory or {})["steps"]
    assert "could not read a Review from the reply" in steps[0]["feedback"]
    assert out.output == {"verdict": True, "score": 0.8, "comments": ""}


def test_a_critique_of_its_own_type_is_shown_to_the_refiner_as_fields() -> None:
    register_role("reviewer", instructions="You are the reviewer.", output=Review, does="critique")
    model = by_role(
        {
            "solver": "Answer: 390",
            "reviewer": '{"verdict": false, "score": 0.2, "comments": "off by one"}',
            "refiner": "Answer: 391",
        }
    )
    g = Graph("r")
    s = g.add(Solver())
    rv = g.add("reviewer")
    rf = g.add(Refiner())
    g.connect(s, rv).connect(s, rf).connect(rv, rf).select("last")
    res = compile(g.build(), models=model).run_sync(QUESTION)
    assert res.answer == "391"
    [refine] = [r for r in model.requests if "refiner" in str(r.messages[0]["content"])]
    assert "Review by reviewer:\nverdict: False\nscore: 0.2\ncomments: off by one" in user_text(
        refine
    )


def test_a_built_spec_carries_its_roles_to_another_process(tmp_path: Path) -> None:
    register_role(
        "planner",
        instructions="You are the planner.",
        output={"type": "object", "properties": {"steps": {"type": "array"}}},
        does="context",
    )
    g = Graph("carried")
    g.connect(g.add("planner"), g.add(Solver()))
    path = tmp_path / "g.yaml"
    g.build().save(path)
    code = (
        "from thinktank.graphs import GraphSpec; from thinktank.agents.roles import lookup_role; "
        f"s = GraphSpec.load({str(path)!r}); r = lookup_role('planner'); "
        "print(r.does, r.reads, sorted(r.output.model_fields))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert out.stdout.split() == ["context", "task", "['steps']"]
    assert find_role("planner") is not None


def test_a_spec_declaring_a_role_differently_from_the_registry_is_refused() -> None:
    register_role("planner", instructions="Plan.", does="context")
    with pytest.raises(Exception, match=r"roles\.0: role 'planner' is already registered"):
        GraphSpec.from_yaml(
            "roles: [{name: planner, instructions: Plan differently., does: context}]\n"
            "nodes: [{id: p, role: planner}, {id: s, role: solver}]\n"
            "edges: [{source: p, target: s}]\n"
        )


def test_a_graph_without_roles_dumps_and_hashes_as_before_roles_existed() -> None:
    from thinktank.graphs.topologies import topology
    from thinktank.optimize.decode import spec_key

    spec = topology("best_of_n:n=4,select=verifier")
    assert "roles" not in spec.model_dump() and '"roles"' not in spec.model_dump_json()
    assert spec_key(spec) == "f07a4db420e30cd0"  # its key before roles: existed
    register_role("planner", instructions="Plan.", does="context")
    g = Graph("with-roles")
    g.connect(g.add("planner"), g.add(Solver()))
    assert [r["name"] for r in g.build().model_dump()["roles"]] == ["planner"]
