"""A landscape where your own role and a function node are best by construction.

Twelve addition questions on the simulator. The built-in ``solver`` answers each right
with probability 0.15; the ``careful`` role (declared in the space) has the strategy
"add the tens first" in its instructions, which the simulator rewards (+0.4 on every
question), so it is right with 0.55. A wrong answer is one of several distractors. The
LLM ``verifier`` is a coin toss (TPR = FPR = 0.5); the function node ``exact_sum``
computes the sum from the question and scores each candidate exactly, for nothing.

Given the same samples, selecting by ``exact_sum`` is right whenever any sample is, so
it is never below a vote or the coin-toss verifier; the careful role's samples are
right far more often than the solver's. So the best graph is the careful role with the
exact checker selecting — the study must find it among the 10 graphs of the space.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from thinktank.evals.tasks.task import Task
from thinktank.graphs.functions import NodeContext, RunTask, node
from thinktank.graphs.state import NodeOutput
from thinktank.llm.pricing import reset_prices, set_price
from thinktank.llm.simulator import (
    Boost,
    ModelProfile,
    Question,
    SimulatorConfig,
    SimulatorServer,
    SyntheticConfig,
    TaskSet,
)
from thinktank.optimize import SearchSpace

STRATEGY = "add the tens first"

SPACE_YAML = f"""
name: open
roles:
  - name: careful
    instructions: >-
      You are a careful solver. Work it out step by step; {STRATEGY}, then the units.
      End with a final line of the form: Answer: <number>
    does: answer
nodes:
  - id: solver
    role: [solver, careful]
    n: [3]
    model: [cheap]
    temperature: [0.8]
    fields: {{max_tokens: 120}}
  - id: check
    role: [verifier, "tests.optimize.open_space:exact_sum"]
    present: [false, true]
    model: [cheap]
    fields: {{max_tokens: 80}}
edges:
  - {{source: solver, target: check, optional: false}}
selection: [vote, verifier]
"""

COST_WEIGHT = 1.0
NO_TOOLS = {"math": {"python": False}}


@node(does="score")
async def exact_sum(task: RunTask, inputs: list[NodeOutput], ctx: NodeContext) -> Any:
    """1.0 for a candidate equal to the sum the question asks for, else 0.0."""
    a, b = map(int, re.findall(r"what is (\d+) plus (\d+)", task.prompt)[0])
    return {o.id: 1.0 if (o.answer or "").strip() == str(a + b) else 0.0 for o in inputs}


def questions(n: int = 12) -> list[Question]:
    out = []
    for i in range(n):
        a, b = 23 + 11 * i, 38 + 7 * i
        out.append(
            Question(
                id=f"o{i}",
                question=f"Open question {i}: what is {a} plus {b}?",
                answer=str(a + b),
                p_correct=0.15,
                wrong_answers=[str(a + b + d) for d in (10, -10, 1, -1)],
                boosts=[Boost(text=STRATEGY, delta=0.4, name="tens")],
            )
        )
    return out


def tasks(n: int = 12) -> list[Task]:
    return [Task(id=q.id, kind="math", prompt=q.question, expected=q.answer) for q in questions(n)]


def space() -> SearchSpace:
    return SearchSpace.from_yaml(SPACE_YAML)


@contextmanager
def simulator(n: int = 12) -> Iterator[dict[str, str]]:
    """The simulator serving the landscape, and the model pool on it."""
    config = SimulatorConfig(
        synthetic=SyntheticConfig(
            tasks=TaskSet(questions=questions(n)), verifier_tpr=0.5, verifier_fpr=0.5
        ),
        models={"open-cheap": ModelProfile(reasoning_tokens=30)},
    )
    set_price("open-cheap", input=1.0, output=2.0)
    try:
        with SimulatorServer(config) as sim:
            yield {"cheap": f"openai:open-cheap@{sim.base_url}"}
    finally:
        reset_prices()
