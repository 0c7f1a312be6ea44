"""The compiler: budgets, errors, traces, and resume after the process is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from thinktank.graphs import Graph, Solver, Verifier, compile
from thinktank.llm import Budget, scope
from thinktank.llm.testing import FunctionModel
from thinktank.llm.types import ChatRequest


def role_of(req: ChatRequest) -> str:
    return (
        str(req.messages[0]["content"])
        .split(".")[0]
        .removeprefix("You are the ")
        .removeprefix("You are a ")
    )


def answering(answers: dict[str, str]) -> FunctionModel:
    """Solvers answer by seed parity; verifiers approve '4'."""

    def fn(req: ChatRequest) -> str:
        role = role_of(req)
        last = str(req.messages[-1]["content"])
        if role == "verifier":
            ok = "Candidate answer: 4" in last
            return '{{"verdict": {}, "score": {}}}'.format(
                "true" if ok else "false", "0.9" if ok else "0.2"
            )
        if role == "critic":
            return '{"issues": ["check the sum"], "suggestions": ["add again"]}'
        return answers.get(role, "Answer: 4")

    return FunctionModel(fn)


async def test_budget_exhaustion_returns_best_so_far() -> None:
    model = FunctionModel(
        lambda req: "Answer: 4" if role_of(req) == "solver" else '{"verdict": true, "score": 0.9}'
    )
    g = Graph("bon")
    s = g.add(Solver(temperature=1.0), n=4)
    v = g.add(Verifier())
    g.connect(s, v).select("verifier").budget(max_calls=5)
    res = await compile(g.build(), models=model).run("2+2?")
    assert res.status == "budget_exhausted"
    assert res.answer == "4"
    assert res.budget.calls <= 5 and res.budget.refused >= 1
    assert any(e.kind == "budget_exhausted" for e in res.trace.events)


async def test_outer_run_budget_and_ledger_see_every_call() -> None:
    model = answering({})
    g = Graph("bon")
    s = g.add(Solver(), n=3)
    v = g.add(Verifier())
    g.connect(s, v).select("verifier")
    outer = Budget(max_calls=100)
    with scope(budget=outer):
        res = await compile(g.build(), models=model).run("2+2?")
    assert res.status == "ok" and outer.calls == 6
    assert res.usage.totals.calls == 6
    assert set(res.usage.by_node) == {"solver", "verifier"}


async def test_model_errors_become_error_outputs_not_crashes() -> None:
    def fn(req: ChatRequest) -> str:
        if req.seed is not None and req.seed % 2:
            raise RuntimeError("endpoint down")
        return "Answer: 7"

    g = Graph("bon")
    g.add(Solver(temperature=1.0), n=6)
    res = await compile(g.build(), models=FunctionModel(fn)).run("?")
    errors = [o for o in res.trace.outputs if o.status == "error"]
    assert res.answer == "7" and res.status == "ok"
    assert errors and "endpoint down" in errors[0].error


async def test_all_candidates_failing_is_status_error() -> None:
    def fn(req: ChatRequest) -> str:
        raise RuntimeError("endpoint down")

    g = Graph("single")
    g.add(Solver())
    res = await compile(g.build(), models=FunctionModel(fn)).run("?")
    assert res.status == "error" and "endpoint down" in (res.error or "")


async def test_result_is_serialisable_and_seeded() -> None:
    def fn(req: ChatRequest) -> str:
        return f"Answer: {(req.seed or 0) % 3}"

    g = Graph("bon")
    g.add(Solver(temperature=1.0), n=5)
    graph = compile(g.build(), models=FunctionModel(fn))
    a = await graph.run({"id": "t1", "prompt": "?"}, seed=3)
    b = await graph.run({"id": "t1", "prompt": "?"}, seed=3)
    c = await graph.run({"id": "t1", "prompt": "?"}, seed=4)
    assert a.answer == b.answer and [x.answer for x in a.candidates] == [
        x.answer for x in b.candidates
    ]
    assert [x.answer for x in a.candidates] != [x.answer for x in c.candidates]
    from thinktank.graphs import RunResult

    assert RunResult.model_validate_json(a.model_dump_json()).answer == a.answer


SCRIPT = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
    from thinktank.graphs import Graph, Solver, Refiner, compile
    from thinktank.graphs.builder import Critic
    from thinktank.llm.testing import FunctionModel

    log, db, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3])

    async def fn(req):
        role = str(req.messages[0]["content"]).split(".")[0].split()[-1]
        with open(log, "a") as f:
            f.write(role + "\\n"); f.flush(); os.fsync(f.fileno())
        n = sum(1 for _ in open(log))
        if n == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        await asyncio.sleep(0.01)
        if role == "critic":
            return '{"issues": ["recheck"], "suggestions": ["add"]}'
        return "Answer: 4"

    async def main():
        g = Graph("refine3")
        s = g.add(Solver(temperature=1.0), n=3)
        c = g.add(Critic())
        r = g.add(Refiner(), n=3)
        g.connect(s, c).connect(s, r).connect(c, r).select("last")
        async with AsyncSqliteSaver.from_conn_string(db) as cp:
            graph = compile(g.build(), models=FunctionModel(fn), checkpointer=cp)
            res = await graph.run({"id": "t1", "prompt": "2+2?"}, thread_id="t1")
            print("RESULT", res.status, res.answer)

    asyncio.run(main())
    """
)


def test_resume_after_sigkill_repeats_no_finished_call(tmp_path: Path) -> None:
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    log, db = tmp_path / "calls.log", tmp_path / "ckpt.sqlite"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    # solver: calls 1-3, critic: call 4, refiner: calls 5-7; die as the refiners start
    first = subprocess.run(
        [sys.executable, str(script), str(log), str(db), "5"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert first.returncode == -signal.SIGKILL, first.stderr
    before = log.read_text().split()
    assert before[:4] == ["solver", "solver", "solver", "critic"] and before[4] == "refiner"
    second = subprocess.run(
        [sys.executable, str(script), str(log), str(db), "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert second.returncode == 0, second.stderr
    assert "RESULT ok 4" in second.stdout
    after = log.read_text().split()[len(before) :]
    assert after == ["refiner"] * 3  # the finished solver and critic calls were not repeated
    # a third run of a finished thread returns the stored result without any call
    third = subprocess.run(
        [sys.executable, str(script), str(log), str(db), "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "RESULT ok 4" in third.stdout and len(log.read_text().split()) == len(before) + 3
