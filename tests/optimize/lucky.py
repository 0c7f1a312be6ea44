"""A landscape on the simulator whose dev leader is lucky.

Three single-sample graphs that differ only in the solver's model:

* ``sound`` — right on four questions in five of every set: 80% everywhere;
* ``lucky`` — right on every dev question but on only three in ten of the others: the
  dev set happens to be the questions it knows (100% on dev, 30% elsewhere);
* ``weak`` — right on one question in five: 20% everywhere.

So the search's leader on the 10 dev questions is ``lucky`` (10/10 against 8/10),
within noise of ``sound`` (their Wilson intervals overlap) while ``weak`` (2/10) is
clearly behind. On the 30 confirmation questions ``sound`` gets 24 and ``lucky`` 9:
on the 40 together ``sound`` is the better graph (80% vs 47.5%), which is the truth
on every other question too (the 20 held-out ones: 16 vs 6). ``flipped`` questions
reverse the two (``lucky`` right, ``sound`` wrong on every one): a held-out set of
them shows that held-out results never feed the choice.

Every probability is 0 or 1, so the figures are exact whatever the simulator's draws.
All three models cost the same, so the score is the accuracy.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from thinktank.evals.tasks.task import Task
from thinktank.llm.pricing import reset_prices, set_price
from thinktank.llm.simulator import (
    Latency,
    ModelProfile,
    Question,
    SimulatorConfig,
    SimulatorServer,
    SyntheticConfig,
    TaskSet,
)
from thinktank.optimize import RunnerObjective, SearchSpace, Study, StudyConfig

SPACE_YAML = """
name: lucky
nodes:
  - id: solver
    role: solver
    n: [1]
    model: [lucky, sound, weak]
    temperature: [0.8]
    fields: {max_tokens: 64}
"""

MODELS = ("lucky", "sound", "weak")
PRICE = (1.0, 2.0)
"""Dollars per 1M input / output tokens, the same for the three models."""
NO_TOOLS = {"math": {"python": False}}
SIZES = {"dev": 10, "confirm": 30, "held": 20, "flipped": 20}


def _right(split: str, i: int) -> dict[str, bool]:
    if split == "flipped":
        return {"lucky": True, "sound": False, "weak": False}
    return {
        "sound": i % 5 != 4,
        "lucky": split == "dev" or i % 10 < 3,
        "weak": i % 5 == 0,
    }


def questions() -> list[Question]:
    out = []
    for split, n in SIZES.items():
        for i in range(n):
            a, b = 101 + 13 * i, 7 + len(split) * i
            right = _right(split, i)
            out.append(
                Question(
                    id=f"{split}-{i}",
                    question=f"Lucky landscape question {split}-{i}: what is {a} plus {b}?",
                    answer=str(a + b),
                    p_correct={
                        **{f"opt-{m}": 1.0 if right[m] else 0.0 for m in MODELS},
                        "default": 0.0,
                    },
                    wrong_answers=[str(a + b + 1)],
                )
            )
    return out


def tasks(split: str) -> list[Task]:
    """The tasks of one split: ``dev``, ``confirm``, ``held`` or ``flipped``."""
    return [
        Task(id=q.id, kind="math", prompt=q.question, expected=q.answer)
        for q in questions()
        if q.id.startswith(f"{split}-")
    ]


def space() -> SearchSpace:
    return SearchSpace.from_yaml(SPACE_YAML)


def pool(url: str) -> dict[str, str]:
    return {m: f"openai:opt-{m}@{url}" for m in MODELS}


def set_prices() -> None:
    for m in MODELS:
        set_price(f"opt-{m}", input=PRICE[0], output=PRICE[1])


def study(
    pool: dict[str, str], out: Path | None, *, holdout: str = "held", **config: object
) -> Study:
    """The exhaustive study of the three graphs: dev, confirmation and held-out tasks, a
    $1 budget (settings in ``config`` replace the defaults)."""
    settings: dict[str, object] = {"algo": "grid", "max_evals": None, "budget_usd": 1.0}
    settings.update(config)
    return Study(
        space(),
        tasks("dev"),
        RunnerObjective(pool, environment_options=NO_TOOLS),
        StudyConfig.model_validate(settings),
        confirm_tasks=tasks("confirm"),
        holdout_tasks=tasks(holdout),
        out_dir=out,
        plots=out is not None,
    )


def model_of(description: str) -> str:
    """Which of the three graphs a description is."""
    (found,) = [m for m in MODELS if f"({m}," in description or f"({m})" in description]
    return found


@contextmanager
def simulator(latency_ms: float = 0.0) -> Iterator[tuple[SimulatorServer, dict[str, str]]]:
    """The simulator serving the landscape (prices set), and the model pool on it."""
    set_prices()
    config = SimulatorConfig(
        synthetic=SyntheticConfig(tasks=TaskSet(questions=questions())),
        models={f"opt-{m}": ModelProfile(reasoning_tokens=30) for m in MODELS},
        latency=Latency(ms=latency_ms),
    )
    try:
        with SimulatorServer(config) as sim:
            yield sim, pool(sim.base_url)
    finally:
        reset_prices()
