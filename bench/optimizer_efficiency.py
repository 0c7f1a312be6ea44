"""Evaluations each search algorithm needs to come within 1 accuracy point of the best graph.

The landscape is a simulated one, the same for every algorithm: a search space of
solver counts, temperatures, models (small / medium / large), verifiers, judges,
critics, rounds and selection methods under a 48-calls-per-task constraint, scored
by an analytic model of how the simulator behaves on a 60-question dev set (per-
question success probabilities, model skill as a logit shift, a main distractor
that majority voting can converge to, verifier TPR/FPR, judge accuracy, sample
diversity by temperature, critic feedback). Its exact optimum is found by
enumerating the space. Each algorithm (REINFORCE, TPE, random search) runs as a
real :class:`~thinktank.optimize.Study` (in memory) with an analytic evaluator;
an evaluation is a distinct graph (proposing a graph again is free: it is cached).

Metric: the median over 10 seeds of the evaluations until the incumbent is within
1 accuracy point of the optimum (a run that never gets there counts as the cap).
``ratio`` = the worse of REINFORCE's and TPE's medians / random search's median;
target <= 0.40.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from functools import lru_cache

from _common import emit, parser

from thinktank.evals.tasks.task import Task
from thinktank.graphs.spec import GraphSpec
from thinktank.optimize import (
    FunctionObjective,
    ReinforceConfig,
    SearchSpace,
    Study,
    StudyConfig,
    TaskOutcome,
    TrialRecord,
    build,
    iter_assignments,
)

SPACE = SearchSpace.from_yaml(
    """
name: bench
nodes:
  - {id: solver, role: solver, n: [1, 2, 4, 8, 16, 32], temperature: [0.3, 0.7, 1.0]}
  - {id: verifier, role: verifier, present: [false, true], n: [1, 3]}
  - {id: judge, role: judge, present: [false, true]}
edges:
  - {source: solver, target: verifier, optional: false}
  - {source: solver, target: judge, optional: false}
selection: [vote, verifier, judge]
constraints: {max_calls_per_task: 40}
"""
)
POOL = ["small", "medium", "large"]
MODELS = {
    "small": {"shift": -1.0, "tpr": 0.75, "fpr": 0.25, "judge": 0.60, "critic": 0.10},
    "medium": {"shift": 0.0, "tpr": 0.85, "fpr": 0.12, "judge": 0.75, "critic": 0.20},
    "large": {"shift": 1.0, "tpr": 0.93, "fpr": 0.06, "judge": 0.85, "critic": 0.30},
}
TEMPERATURE = {0.3: (0.02, 0.35), 0.7: (0.0, 0.8), 1.0: (-0.03, 1.0)}
"""temperature -> (per-sample accuracy change, sample diversity)."""


def _questions(k: int = 60, seed: int = 11) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    return [(rng.betavariate(1.2, 1.6), rng.uniform(0.3, 0.9)) for _ in range(k)]


QUESTIONS = _questions()


def _binom(n: int, p: float) -> list[float]:
    return [math.comb(n, c) * p**c * (1 - p) ** (n - c) for c in range(n + 1)]


@lru_cache(maxsize=200_000)
def _vote(p: float, w: float, n: int) -> float:
    """P(the correct answer wins a plurality vote); wrong mass w goes to one distractor."""
    d = (1 - p) * w
    total = 0.0
    for c in range(n + 1):
        pc = math.comb(n, c) * p**c
        rest = n - c
        for k in range(rest + 1):
            prob = pc * math.comb(rest, k) * d**k * (1 - p - d) ** (rest - k)
            if c > k:
                total += prob
            elif c == k and c > 0:
                total += prob / 2
    return total


@lru_cache(maxsize=200_000)
def _verified(p: float, n: int, tpr: float, fpr: float) -> float:
    """P(the highest-scored candidate is correct) with an imperfect verifier."""
    total = 0.0
    for c, pc in enumerate(_binom(n, p)):
        none = (1 - tpr) ** c * (1 - fpr) ** (n - c)
        hit = c * tpr / (c * tpr + (n - c) * fpr) if c else 0.0
        total += pc * ((1 - none) * hit + none * c / n)
    return total


def _majority(n: int, p: float) -> float:
    return sum(pr for k, pr in enumerate(_binom(n, p)) if k > n / 2) if n > 1 else p


def accuracy(spec: GraphSpec) -> float:
    """Expected accuracy of a graph on the dev set."""
    s = spec.node("solver")
    delta, diversity = TEMPERATURE[float(s.temperature or 0.7)]
    n_eff = max(1, round(1 + (s.n - 1) * diversity))
    ids = {n.id for n in spec.nodes}
    critic = spec.node("critic") if "critic" in ids else None
    refine = (
        critic is not None and spec.rounds.max_rounds >= 2 and any(e.feedback for e in spec.edges)
    )
    method = spec.selection.method
    acc = 0.0
    for p0, w in QUESTIONS:
        z = math.log(max(p0, 1e-4) / max(1 - p0, 1e-4)) + MODELS[s.model]["shift"]
        p = min(max(1 / (1 + math.exp(-z)) + delta, 0.0), 1.0)
        if refine and critic is not None:
            p += MODELS[critic.model]["critic"] * (1 - p) * 0.5
        p = round(p, 3)
        if method == "verifier":
            v = spec.node("verifier")
            m = MODELS[v.model]
            tpr, fpr = _majority(v.n, m["tpr"]), _majority(v.n, m["fpr"])
            acc += _verified(p, n_eff, round(tpr, 3), round(fpr, 3))
        elif method == "judge":
            j = MODELS[spec.node("judge").model]["judge"] * max(0.0, 1 - 0.006 * s.n)
            acc += (1 - (1 - p) ** n_eff) * j
        else:
            acc += _vote(p, round(w, 2), n_eff)
    return acc / len(QUESTIONS)


DEV = [Task(id="devset", kind="math", prompt="the dev set", expected="1")]


def outcome(spec: GraphSpec, task: Task, seed: int) -> TaskOutcome:
    a = accuracy(spec)
    return TaskOutcome(task_id=task.id, status="ok", correct=a >= 0.5, score=a)


def optimum() -> tuple[float, int, int]:
    """The best accuracy of the space, the number of valid graphs and how many are within 1 point."""
    space = SPACE.bind(POOL)
    accs: dict[str, float] = {}
    for a in iter_assignments(space):
        d = build(space, a)
        if d.spec is not None and d.key not in accs:
            accs[d.key or ""] = accuracy(d.spec)
    best = max(accs.values())
    return best, len(accs), sum(v >= best - 0.01 for v in accs.values())


def evals_to_reach(
    algo: str, seed: int, target: float, cap: int, patience: int = 200
) -> tuple[int, int]:
    """(evaluations until the incumbent reaches ``target`` or ``cap``, proposals made)."""
    config = StudyConfig(
        algo=algo,  # type: ignore[arg-type]
        seed=seed,
        max_evals=cap,
        metric="score",
        startup_trials=10,
        patience=patience,
        scan=50,
        reinforce=ReinforceConfig(batch=4, lr=0.6),
    )
    reached: list[tuple[int, int]] = []

    def check(t: TrialRecord) -> None:
        if t.evaluation is not None and t.accuracy is not None and t.accuracy >= target:
            reached.append((t.evaluation, t.number + 1))
            study.stop()

    study = Study(
        SPACE, DEV, FunctionObjective(outcome, aliases=POOL), config, on_trial=check, plots=False
    )
    result = study.run_sync()
    return reached[0] if reached else (cap, len(result.trials))


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    cap, patience = (400, 60) if args.quick else (1000, 300)
    seeds = range(10)
    t0 = time.perf_counter()
    best, n_graphs, near = optimum()
    target = best - 0.01
    print(
        f"landscape: {n_graphs} valid graphs, best accuracy {best:.4f}, {near} within 1 point "
        f"({time.perf_counter() - t0:.1f}s)"
    )
    medians: dict[str, float] = {}
    proposals: dict[str, float] = {}
    for algo in ("random", "reinforce", "tpe"):
        t1 = time.perf_counter()
        runs = [evals_to_reach(algo, s, target, cap, patience) for s in seeds]
        medians[algo] = statistics.median(r[0] for r in runs)
        proposals[algo] = statistics.median(r[1] for r in runs)
        print(
            f"{algo:9s} evaluations to within 1 point: median {medians[algo]:g} "
            f"(runs {[r[0] for r in runs]}, proposals {[r[1] for r in runs]}) "
            f"{time.perf_counter() - t1:.1f}s"
        )
    worse = max(medians["reinforce"], medians["tpe"])
    ratio = worse / medians["random"]
    emit(
        "optimizer_efficiency",
        metric="median evaluations to within 1 accuracy point (worse of reinforce, tpe)",
        value=worse,
        unit="evaluations",
        baseline=medians["random"],
        ratio=ratio,
        target=0.40,
        ok=ratio <= 0.40,
        reinforce=medians["reinforce"],
        tpe=medians["tpe"],
        random=medians["random"],
        proposals=proposals,
        cap=cap,
        graphs=n_graphs,
        within_1pt=near,
    )


if __name__ == "__main__":
    main()
