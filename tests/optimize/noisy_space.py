"""A noisy analytic landscape of a few hundred graphs, known exactly.

A solver (model ``a``/``b``/``c``, ``n`` 1-6, four temperatures), an optional verifier
with its own model, selection by vote or verifier. A graph's true accuracy is additive
in its choices (a better model, more samples, a middle temperature help) plus one
interaction: verifier selection pays only with a good verifier model. Each dev task is
right or wrong by a hashed draw with that accuracy, so a study sees the sampling noise of
its dev set while the truth of every graph is known: how good the graph a study declares
really is, and how many evaluations it took to get there.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from thinktank.evals.tasks.task import Task
from thinktank.graphs.spec import GraphSpec
from thinktank.optimize import (
    FunctionObjective,
    SearchSpace,
    Study,
    StudyConfig,
    TaskOutcome,
    TrialRecord,
    build,
    iter_assignments,
)

SPACE_YAML = """
name: noisy
nodes:
  - {id: s, role: solver, model: [a, b, c], n: [1, 2, 3, 4, 5, 6],
     temperature: [0.2, 0.5, 0.8, 1.0]}
  - {id: v, role: verifier, present: [false, true], model: [a, b, c]}
edges:
  - {source: s, target: v, optional: false}
selection: [vote, verifier]
"""
MODEL = {"a": 0.0, "b": 0.08, "c": 0.14}
TEMPERATURE = {0.2: 0.0, 0.5: 0.04, 0.8: 0.03, 1.0: -0.03}
VERIFIER = {"a": -0.06, "b": 0.02, "c": 0.08}


def space() -> SearchSpace:
    return SearchSpace.from_yaml(SPACE_YAML)


def truth(spec: GraphSpec) -> float:
    s = spec.node("s")
    p = 0.35 + MODEL[str(s.model)] + 0.025 * s.n + TEMPERATURE[float(s.temperature or 0.0)]
    if spec.selection.method == "verifier":
        p += VERIFIER[str(spec.node("v").model)]
    return p


def best() -> float:
    bound = space().bind(list(MODEL))
    return max(
        truth(d.spec) for a in iter_assignments(bound) if (d := build(bound, a)).spec is not None
    )


def _draw(*parts: object) -> float:
    return int(hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:8], 16) / 2**32


def objective() -> FunctionObjective:
    def fn(spec: GraphSpec, task: Task, seed: int) -> TaskOutcome:
        ok = _draw(spec.model_dump_json(), task.id, seed) < truth(spec)
        return TaskOutcome(task_id=task.id, status="ok", correct=ok)

    return FunctionObjective(fn, aliases=list(MODEL))


def tasks(n: int = 20) -> list[Task]:
    return [Task(id=f"t{i}", kind="math", prompt=f"q{i}", expected="1") for i in range(n)]


def evaluations_to(
    config: StudyConfig, within: float, dev: int = 20
) -> tuple[float, list[TrialRecord]]:
    """Evaluations (task runs / ``dev``: a graph pruned early counts the share it ran)
    until the graph the study declares is truly within ``within`` of the best
    (``config.max_evals`` when it never is), and the trials."""
    target = best() - within
    specs: dict[int, GraphSpec] = {}
    seen: list[TrialRecord] = []
    reached: list[float] = []
    runs = {"tasks": 0}

    def check(t: TrialRecord) -> None:
        seen.append(t)
        runs["tasks"] += t.fresh
        if t.spec is not None:
            specs.setdefault(t.number, GraphSpec.model_validate(t.spec))
        if t.incumbent is not None and truth(specs[t.incumbent]) >= target and not reached:
            reached.append(runs["tasks"] / dev)
            study.stop()

    on: Callable[[TrialRecord], None] = check
    study = Study(space(), tasks(dev), objective(), config, on_trial=on, plots=False)
    study.run_sync()
    return (reached[0] if reached else float(config.max_evals or 0)), seen
