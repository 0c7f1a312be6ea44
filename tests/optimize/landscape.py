"""A known landscape on the simulator: one family of graphs is best by construction.

Eight arithmetic questions; the ``cheap`` model answers each right with probability
0.2, the ``strong`` one with 0.6, and a wrong answer is always the same distractor
(so majority voting converges to it when p < 0.5). The models are served as ``opt-cheap`` / ``opt-strong`` (priced by :func:`set_prices`).
The verifier is perfect (TPR 1,
FPR 0). So: verifier selection beats voting, more samples help only with the
verifier, the strong solver beats the cheap one, and a verifier that is present
but not used for selection only adds cost. With a small cost weight the best graph
is the strong solver with enough samples and verifier selection; which sample
count wins on these eight questions is decided by the exhaustive sweep (``grid``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from thinktank.evals.tasks.task import Task
from thinktank.llm.pricing import reset_prices, set_price
from thinktank.llm.simulator import (
    ModelProfile,
    Question,
    SimulatorConfig,
    SimulatorServer,
    SyntheticConfig,
    TaskSet,
)
from thinktank.optimize import SearchSpace

SPACE_YAML = """
name: landscape
nodes:
  - id: solver
    role: solver
    n: [1, 3, 5]
    model: [cheap, strong]
    temperature: [0.8]
    fields: {max_tokens: 160}
  - id: verifier
    role: verifier
    present: [false, true]
    model: [cheap]
    fields: {max_tokens: 100}
edges:
  - {source: solver, target: verifier, optional: false}
selection: [vote, verifier]
"""

COST_WEIGHT = 2.0
"""Score = accuracy - 2 * dollars per task: a tie in accuracy goes to the cheaper graph."""


PRICES = {"opt-cheap": (1.0, 2.0), "opt-strong": (5.0, 15.0)}
"""Dollars per 1M input / output tokens of the two simulated models."""

NO_TOOLS = {"math": {"python": False}}
"""Environment options: the agents get no python tool (the simulator never calls it)."""


def pool(url: str) -> dict[str, str]:
    """The model pool: aliases ``cheap`` and ``strong`` on the simulator at ``url``."""
    return {"cheap": f"openai:opt-cheap@{url}", "strong": f"openai:opt-strong@{url}"}


def space() -> SearchSpace:
    return SearchSpace.from_yaml(SPACE_YAML)


def questions(n: int = 8) -> list[Question]:
    out = []
    for i in range(n):
        a, b = 17 + 7 * i, 5 + 3 * i
        out.append(
            Question(
                id=f"q{i}",
                question=f"Landscape question {i}: what is {a} plus {b}?",
                answer=str(a + b),
                p_correct={"opt-cheap": 0.2, "opt-strong": 0.6, "default": 0.2},
                wrong_answers=[str(a + b + 10)],
            )
        )
    return out


def tasks(n: int = 8) -> list[Task]:
    return [Task(id=q.id, kind="math", prompt=q.question, expected=q.answer) for q in questions(n)]


def config(n: int = 8, **kw: object) -> SimulatorConfig:
    return SimulatorConfig(
        synthetic=SyntheticConfig(
            tasks=TaskSet(questions=questions(n)), verifier_tpr=1.0, verifier_fpr=0.0
        ),
        models={
            "opt-cheap": ModelProfile(reasoning_tokens=40),
            "opt-strong": ModelProfile(reasoning_tokens=60),
        },
        **kw,  # type: ignore[arg-type]
    )


def set_prices() -> None:
    for model, (inp, out) in PRICES.items():
        set_price(model, input=inp, output=out)


@contextmanager
def simulator(n: int = 8) -> Iterator[tuple[SimulatorServer, dict[str, str]]]:
    """The simulator serving the landscape (prices set), and the model pool on it."""
    set_prices()
    try:
        with SimulatorServer(config(n)) as sim:
            yield sim, pool(sim.base_url)
    finally:
        reset_prices()


def spent_on(sim: SimulatorServer, model: str) -> float:
    """What the simulator served cost, all tokens priced as ``model`` (exact for one model)."""
    stats = sim.stats()
    inp, out = PRICES[model]
    return (stats["prompt_tokens"] * inp + stats["completion_tokens"] * out) / 1e6
