"""Function nodes: Python functions as nodes, in rounds, edges, conditions and selection,
with clear errors for everything that can be wrong with them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.graphs import fnodes
from tests.graphs.helpers import by_role, cycling, outputs_of, user_text
from thinktank.agents.roles import temporary_roles
from thinktank.errors import ConfigError
from thinktank.graphs import Graph, GraphSpec, Solver, compile
from thinktank.graphs.builder import Function
from thinktank.graphs.diagram import to_mermaid
from thinktank.graphs.functions import NodeContext, RunTask, node
from thinktank.graphs.state import NodeOutput, SampleStatus
from thinktank.llm import Budget
from thinktank.llm.testing import FunctionModel
from thinktank.sandboxes import LocalSandboxConfig

QUESTION = "What is 17 * 23?"


@pytest.fixture(autouse=True)
def _isolated() -> Iterator[None]:
    fnodes.CALLS.clear()
    with temporary_roles():
        yield


def _scored_graph(checker: Any = fnodes.product_check, n: int = 3) -> GraphSpec:
    g = Graph("checked")
    s = g.add(Solver(), n=n)
    t = g.add(Function(checker), id="tests")
    g.connect(s, t).select("tests")
    return g.build()


async def test_a_scoring_function_selects_a_minority_answer_and_is_traced_like_a_verifier() -> None:
    spec = _scored_graph()
    assert spec.selection.method == "verifier" and spec.selection.by == "tests"
    assert spec.node("tests").role == "tests.graphs.fnodes:product_check" and not spec.roles
    model = by_role({"solver": cycling("390", "391", "390")})
    res = await compile(spec, models=model).run(QUESTION)
    assert (res.answer, res.status) == ("391", "ok")  # the vote would say 390
    scores = {o.target: o.output["score"] for o in outputs_of(res, "tests")}
    assert scores == {"solver:1:0": 0.0, "solver:1:1": 1.0, "solver:1:2": 0.0}
    assert fnodes.CALLS == [
        {"node": "tests", "round": 1, "inputs": ["solver:1:0", "solver:1:1", "solver:1:2"]}
    ]
    out = outputs_of(res, "tests")[1]
    assert out.id == "tests:1:0@solver:1:1" and out.usage == {}
    traj = out.trajectory or {}
    assert traj["model"] == "function:tests.graphs.fnodes:product_check"
    assert traj["duration_s"] > 0 and traj["status"] == "ok"
    assert {v.target: v.verdict for v in res.verifications}["solver:1:1"] is True
    assert res.usage.by_node["tests"].calls == 0 and res.usage.by_node["tests"].cost_usd == 0.0
    assert res.usage.by_node["solver"].calls == 3


async def test_a_function_that_raises_is_an_error_in_the_trace_and_the_run_goes_on() -> None:
    model = by_role({"solver": cycling("390", "391", "390")})
    res = await compile(_scored_graph(fnodes.broken), models=model).run(QUESTION)
    [out] = outputs_of(res, "tests")
    assert out.status == SampleStatus.ERROR
    assert out.error is not None and out.error.startswith(
        "ValueError: the checker broke (at fnodes.py:"
    )
    assert "in broken" in out.error
    assert (res.status, res.answer) == ("degraded", "390")  # the vote stands
    assert "the checker broke" in (res.error or "")


async def test_a_function_returning_what_its_act_cannot_use_says_what_to_return() -> None:
    model = by_role({"solver": cycling("390", "391")})
    res = await compile(_scored_graph(fnodes.one_score, n=2), models=model).run(QUESTION)
    [out] = outputs_of(res, "tests")
    assert out.status == SampleStatus.ERROR
    assert "returned float: one value for 2 candidates" in (out.error or "")
    assert "a mapping {candidate id: value}" in (out.error or "")


def test_the_yaml_form_names_functions_by_path_and_declares_roles(tmp_path: Path) -> None:
    path = tmp_path / "g.yaml"
    path.write_text(
        """
name: open
roles:
  - name: planner
    instructions: You are the planner. List the steps.
    does: context
    output:
      type: object
      properties: {steps: {type: array, items: {type: string}}}
      required: [steps]
  - {name: checker, function: "tests.graphs.fnodes:plain", does: score}
nodes:
  - {id: plan, role: planner}
  - {id: solver, role: solver, n: 2}
  - {id: compute, role: "tests.graphs.fnodes:product"}
edges:
  - {source: plan, target: solver}
selection: {method: vote}
"""
    )
    spec = GraphSpec.load(path)
    assert spec.node("plan").does == "context" and spec.node("compute").does == "answer"
    assert set(spec.candidate_nodes()) == {"solver", "compute"}
    assert GraphSpec.from_yaml(spec.to_yaml()) == spec
    model = by_role({"planner": '{"steps": ["multiply"]}', "solver": "Answer: 391"})
    res = compile(spec, models=model).run_sync(QUESTION)
    assert res.answer == "391"
    assert sorted(c.id for c in res.candidates) == ["compute:1:0", "solver:1:0", "solver:1:1"]
    shown = [user_text(r) for r in model.requests if "solver" in str(r.messages[0]["content"])]
    assert shown and all("Context:\n\nFrom plan:\nsteps:\n- multiply" in u for u in shown)


@pytest.mark.parametrize(
    ("role", "message"),
    [
        ("tests.graphs.nope:fn", "cannot import 'tests.graphs.nope:fn': No module named"),
        ("tests.graphs.fnodes:missing", "module 'tests.graphs.fnodes' has no 'missing'"),
        ("tests.graphs.fnodes:not_async", "not_async(task, inputs, ctx) is not async"),
        ("tests.graphs.fnodes:two_args", "two_args(task, inputs) has the wrong signature"),
        ("planner", "unknown role 'planner'; valid roles:"),
    ],
)
def test_a_bad_function_or_role_is_a_clear_error_when_the_spec_is_read(
    tmp_path: Path, role: str, message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(f'nodes:\n  - {{id: a, role: solver}}\n  - {{id: b, role: "{role}"}}\n')
    with pytest.raises(ConfigError) as err:
        GraphSpec.load(path)
    assert f"{path}:3" in str(err.value) and "nodes.1.role" in str(err.value)
    assert message in str(err.value)


def test_a_bad_function_is_refused_when_it_is_added() -> None:
    async def sync_args(task: Any) -> str:
        return "x"

    with pytest.raises(ConfigError, match=r"sync_args\(task\) has the wrong signature"):
        Graph("g").add(Function(sync_args))
    with pytest.raises(ConfigError, match="is not async; write it as `async def"):
        node(fnodes.not_async)
    with pytest.raises(ConfigError, match="cannot select by node 's': it does 'answer'"):
        g = Graph("g")
        g.add(Solver(), id="s")
        g.select("s")


async def test_a_function_node_runs_only_when_its_gate_opens_and_in_every_round() -> None:
    g = Graph("gated")
    s = g.add(Solver(), n=2)
    c = g.add(Function(fnodes.product), id="compute")
    g.connect(s, c, when="disagree").connect(c, s, feedback=True).rounds(2).select("last")
    spec = g.build()
    agree = await compile(spec, models=by_role({"solver": "Answer: 5"})).run(QUESTION)
    assert fnodes.CALLS == [] and agree.answer == "5"
    skips = [e for e in agree.trace.events if e.kind == "skip" and e.node == "compute"]
    assert [e.reason for e in skips] == ["solver's answers agree"] * 2
    await compile(spec, models=by_role({"solver": cycling("1", "2")})).run(QUESTION)
    assert [(c["round"], c["inputs"]) for c in fnodes.CALLS] == [
        (1, ["solver:1:0", "solver:1:1"]),
        (2, ["solver:2:0", "solver:2:1"]),
    ]


async def test_a_selection_function_gets_the_candidates_and_every_scorer_s_scores() -> None:
    g = Graph("custom")
    s = g.add(Solver(), n=3)
    t = g.add(Function(fnodes.product_check), id="tests")
    g.connect(s, t).select(fnodes.prefer_scored)
    spec = g.build()
    assert spec.selection.method == "tests.graphs.fnodes:prefer_scored"
    res = await compile(spec, models=by_role({"solver": cycling("390", "391", "390")})).run(
        QUESTION
    )
    assert res.selection is not None
    assert (res.answer, res.selection.winner) == ("391", "solver:1:1")
    [call] = fnodes.CALLS[1:]
    assert call["scores"]["solver:1:1"] == {"tests": 1.0}
    yaml_spec = GraphSpec.from_yaml(spec.to_yaml())
    assert yaml_spec.selection.method == "tests.graphs.fnodes:prefer_scored"


async def test_a_failing_selection_function_falls_back_to_the_vote_and_says_why() -> None:
    g = Graph("custom")
    g.add(Solver(), n=3)
    g.select("tests.graphs.fnodes:failing_selection")
    res = await compile(g.build(), models=by_role({"solver": cycling("390", "391", "390")})).run(
        QUESTION
    )
    assert (res.status, res.answer) == ("degraded", "390")
    assert "RuntimeError: no idea" in (res.error or "")
    g.select("tests.graphs.fnodes:last_candidate")
    res = await compile(g.build(), models=by_role({"solver": cycling("390", "391", "392")})).run(
        QUESTION
    )
    assert (res.status, res.answer) == ("ok", "392")


async def test_a_failing_selection_function_stays_the_reason_when_no_answer_is_left() -> None:
    """Replies with no answer in them: the run fails, and says the selection function
    failed before the vote found nothing, not only that no candidate answered."""
    g = Graph("custom")
    g.add(Solver(), n=2)
    g.select("tests.graphs.fnodes:failing_selection")
    free = FunctionModel(lambda _: "")
    res = await compile(g.build(), models=free).run(QUESTION)
    assert res.status == "error" and res.answer is None
    assert "RuntimeError: no idea" in (res.error or "") and "fell back to" in (res.error or "")


def test_a_bad_selection_function_is_a_clear_error() -> None:
    for method, message in (
        ("best_guess", "unknown selection method 'best_guess'; valid methods: vote"),
        ("tests.graphs.fnodes:missing", "module 'tests.graphs.fnodes' has no 'missing'"),
        ("tests.graphs.fnodes:plain", "plain(task, inputs, ctx) has the wrong signature"),
    ):
        g = Graph("g")
        g.add(Solver())
        with pytest.raises(ConfigError, match="selection") as err:
            g.select(method).build()
        assert message in str(err.value)


async def test_a_function_node_gets_the_sandbox_tools_budget_and_models() -> None:
    seen: dict[str, Any] = {}

    @node(does="score")
    async def run_it(task: RunTask, inputs: list[NodeOutput], ctx: NodeContext) -> Any:
        async with ctx.sandbox() as box:
            res = await box.run_python(f"print({inputs[0].answer} == 17 * 23)", timeout=30)
        [reply] = await ctx.models["default"].generate([{"role": "user", "content": "hi"}])
        seen.update(
            stdout=res.stdout, budget=ctx.budget, reply=reply.text, task=task, seed=ctx.seed
        )
        return res.stdout.strip() == "True"

    g = Graph("sandboxed")
    s = g.add(Solver())
    g.connect(s, g.add(run_it, id="run")).select("run").budget(max_calls=5)
    model = by_role({"solver": "Answer: 391", "unknown": "hello"})
    res = await compile(g.build(), models=model, sandbox=LocalSandboxConfig()).run(
        {"id": "t1", "prompt": QUESTION, "metadata": {"tests": ["x"]}}
    )
    assert res.answer == "391" and seen["stdout"] == "True\n" and seen["reply"] == "hello"
    assert isinstance(seen["budget"], Budget) and seen["budget"].calls == 2
    assert seen["task"] == RunTask(id="t1", prompt=QUESTION, metadata={"tests": ["x"]})
    [out] = outputs_of(res, "run")
    assert out.output["verdict"] is True and out.usage["completion_tokens"] > 0
    assert res.usage.by_node["run"].calls == 1  # its own model call, attributed to it


async def test_a_function_node_without_a_sandbox_says_how_to_give_one() -> None:
    @node(does="score")
    async def needs_box(task: RunTask, inputs: list[NodeOutput], ctx: NodeContext) -> Any:
        async with ctx.sandbox():
            return 1.0

    g = Graph("nobox")
    s = g.add(Solver())
    g.connect(s, g.add(needs_box)).select("needs_box")
    res = await compile(g.build(), models=by_role({})).run(QUESTION)
    [out] = outputs_of(res, "needs_box")
    assert "compiled without one: compile(spec, sandbox=" in (out.error or "")


async def test_function_nodes_run_with_a_checkpointer(tmp_path: Path) -> None:
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    async with AsyncSqliteSaver.from_conn_string(str(tmp_path / "cp.db")) as cp:
        model = by_role({"solver": cycling("390", "391", "390")})
        graph = compile(_scored_graph(), models=model, checkpointer=cp)
        res = await graph.run(QUESTION, thread_id="t")
    assert res.answer == "391" and len(outputs_of(res, "tests")) == 3


def test_the_diagram_shows_function_nodes_and_what_custom_roles_do() -> None:
    text = to_mermaid(_scored_graph())
    assert 'tests["tests<br/>ƒ product_check<br/>does: score"]' in text
    assert 'tests -. "scores" .-> select_step' in text


def test_an_answering_function_counts_as_a_sample(tmp_path: Path) -> None:
    g = Graph("f")
    g.add(Function("tests.graphs.fnodes:plain"), n=2)
    res = compile(g.build(), models=FunctionModel(lambda r: "unused")).run_sync(QUESTION)
    assert (res.answer, res.samples, res.usage.totals.calls) == ("7", 2, 0)


def test_a_function_role_registered_under_a_name_is_added_by_it() -> None:
    from thinktank.agents.roles import register_role

    named = register_role("exact", function=fnodes.product_check, does="score")
    g = Graph("named")
    s = g.add(Solver(), n=2)
    assert g.add(named) == "exact" and g.add("exact") == "exact2"
    assert g.add("tests.graphs.fnodes:product") == "product"
    g.connect(s, "exact").connect(s, "exact2").select("exact")
    spec = g.build()
    assert [d.name for d in spec.roles] == ["exact"]  # a named role travels with the spec
    assert spec.node("exact").does == "score" and spec.node("product").does == "answer"


def test_selecting_by_a_node_that_does_not_score_is_refused_where_the_spec_says_so() -> None:
    text = """
name: g
nodes:
  - {id: solver, role: solver, n: 2}
  - {id: check, role: verifier}
edges: [{source: solver, target: check}]
selection: {method: verifier, by: solver}
"""
    with pytest.raises(ConfigError) as err:
        GraphSpec.from_yaml(text)
    message = str(err.value)
    assert "goes by a node that does 'score', but 'solver' does 'answer'" in message
    assert "selection.by" in message or "line 7" in message
