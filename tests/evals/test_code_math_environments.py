"""The math and code environments through Docker: a scripted agent computes with the
``python`` tool (sandbox started on first use), code answers are judged by hidden tests
in a fresh sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from thinktank.evals.environments import CodeEnvironment, MathEnvironment
from thinktank.evals.tasks.suites import load_suite
from thinktank.evals.tasks.suites.bundled import code_records
from thinktank.evals.tasks.task import Task
from thinktank.graphs.compiler import compile
from thinktank.graphs.topologies.single import single
from thinktank.llm.testing import FunctionModel
from thinktank.llm.types import ChatRequest
from thinktank.sandboxes import DockerSandboxConfig, SandboxProvider
from thinktank.sandboxes.testing import require_docker

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def provider() -> Iterator[SandboxProvider]:
    require_docker()
    yield DockerSandboxConfig().build()


def calculator(expression: str) -> FunctionModel:
    def reply(req: ChatRequest) -> Any:
        tools = [m for m in req.messages if m["role"] == "tool"]
        if not tools:
            return {"name": "python", "arguments": {"code": f"print({expression})"}}
        return f"The program printed it.\nAnswer: {str(tools[-1]['content']).strip()}"

    return FunctionModel(reply)


async def test_math_agent_computes_with_the_python_tool(provider: SandboxProvider) -> None:
    env = MathEnvironment(provider=provider)
    task = Task(id="m1", kind="math", prompt="What is 1234 * 5678?", expected=1234 * 5678)
    await env.start()
    try:
        ctx = await env.open(task)
        lazy = ctx.data["sandbox"]
        assert lazy.sandbox is None  # no container until the tool is called
        graph = compile(single(tools=["python"]), models=calculator("1234 * 5678"), tools=ctx.tools)
        result = await graph.run(task)
        assert lazy.sandbox is not None
        verdict = await env.evaluate(task, result.answer, ctx)
        await ctx.aclose()
        assert lazy.sandbox is None
    finally:
        await env.close()
    assert result.answer == "7006652" and verdict.correct, verdict.reason


async def test_code_answers_are_judged_by_hidden_tests_in_docker(provider: SandboxProvider) -> None:
    env = CodeEnvironment(provider=provider)
    record = code_records()[0]
    task = next(t for t in load_suite("code") if t.id == record["task_id"])
    good = f"```python\n{record['prompt']}{record['canonical_solution']}\n```"
    bad = f"```python\n{record['prompt']}    raise NotImplementedError\n```"
    await env.start()
    try:
        ctx = await env.open(task)
        assert [t.name for t in ctx.tools] == ["python"]
        right = await env.evaluate(task, good, ctx)
        wrong = await env.evaluate(task, bad, ctx)
        nothing = await env.evaluate(task, "I do not know.", ctx)
        await ctx.aclose()
    finally:
        await env.close()
    assert right.correct, right.details
    assert not wrong.correct and wrong.details["exit_code"] != 0
    assert not nothing.correct and "no code" in nothing.reason
