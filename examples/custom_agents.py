"""Your own agents: a planner, coders, a Python function running their code against the
task's tests in the Docker sandbox, selection by those tests, and a reviewer.

    planner ──▶ coder ×4 ──▶ tests (a function: runs each candidate in the sandbox) ──▶ select
      (plan)        │
                    └──(when the coders disagree)──▶ reviewer (comments, in the trace)

planner, coder and reviewer are roles of your own (instructions, an output type, what
they do for the graph); tests is an async Python function. Run with a real endpoint
(THINKTANK_MODEL=openai:gpt-4o-mini and OPENAI_API_KEY) or the simulator
(`thinktank models simulate`). Needs the Docker engine and the sandbox image:
`thinktank sandbox doctor --fix`.
"""

from __future__ import annotations

import asyncio
import os
import re
from typing import Any

from pydantic import BaseModel, Field

from thinktank import Function, Graph, compile, node, register_role
from thinktank.graphs import GraphSpec, NodeContext, RunResult, RunTask
from thinktank.graphs.state import NodeOutput
from thinktank.sandboxes import DockerSandboxConfig


class Plan(BaseModel):
    steps: list[str] = Field(description="what the code must do, in order")


class Review(BaseModel):
    issues: list[str] = Field(description="bugs spotted, one line each (none: an empty list)")
    summary: str = Field(default="", description="how the candidates differ")


planner = register_role(
    "planner",
    instructions="You are the planner of a small coding team. Read the task and write a "
    "short plan of what the code must do.",
    output=Plan,
    does="context",  # the coders read its plan
)
coder = register_role(
    "coder",
    instructions="You are a coder. Follow the plan. Write the Python function the task asks "
    "for in one ```python block, then end with a final line of the form: Answer: <its value>",
    does="answer",  # its outputs are the candidates
)
reviewer = register_role(
    "reviewer",
    instructions="You are a code reviewer. You get several candidate solutions that do not "
    "agree. Say how they differ and point out bugs.",
    output=Review,
    does="critique",
)

TASK = {
    "id": "mul",
    "prompt": "What is 17 * 23? Write a Python function answer() that returns it.",
    "metadata": {"tests": ["assert answer() == 17 * 23"]},
}


def program(candidate: NodeOutput) -> str:
    """A candidate's code: its ```python block, else a function returning its answer."""
    found = re.findall(r"```(?:python)?\n(.*?)```", candidate.reply, re.S)
    return found[-1] if found else f"def answer():\n    return {candidate.answer}\n"


@node(does="score")
async def run_tests(task: RunTask, candidates: list[NodeOutput], ctx: NodeContext) -> Any:
    """Run every candidate against the task's tests in the sandbox: 1.0 when they pass."""
    tests = "\n".join(task.metadata["tests"])
    scores: dict[str, Any] = {}
    async with ctx.sandbox() as box:
        for c in candidates:
            res = await box.run_python(program(c) + "\n" + tests + "\n", timeout=30)
            last = (res.stderr.strip().splitlines() or ["passed"])[-1]
            scores[c.id] = {
                "score": 1.0 if res.exit_code == 0 else 0.0,
                "rationale": f"{type(box).__name__}: exit {res.exit_code}: {last}",
            }
    return scores


def build() -> GraphSpec:
    g = Graph("custom-agents")
    p = g.add(planner)
    c = g.add(coder, n=4, temperature=0.8)
    t = g.add(Function(run_tests), id="tests")
    r = g.add(reviewer)
    g.connect(p, c).connect(c, t).connect(c, r, when="disagree")
    g.select(t)  # the candidate the tests score best
    g.budget(max_usd=0.05)
    return g.build()


async def main(models: Any = None) -> RunResult:
    graph = compile(
        build(),
        models=models or os.environ.get("THINKTANK_MODEL"),
        sandbox=DockerSandboxConfig(),
    )
    result = await graph.run(TASK)
    print(
        f"answer={result.answer} status={result.status} cost=${result.cost:.4f} "
        f"candidates={len(result.candidates)}"
    )
    for o in result.trace.outputs:
        if o.node == "planner":
            print(f"  plan: {o.output}")
        elif o.node == "tests":
            print(f"  tests on {o.target}: {o.output}")
        elif o.node == "reviewer":
            print(f"  reviewer: {o.output}")
    return result


if __name__ == "__main__":
    asyncio.run(main())
