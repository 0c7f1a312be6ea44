"""How the optimizer evaluates a graph on one task: the :class:`Objective` contract.

An evaluation of a candidate graph is the graph run on a subset of the dev set with
one seed; the study calls :meth:`Objective.run_task` once per (graph, task) it has
not seen, caches the :class:`TaskOutcome` and aggregates accuracy and cost.

* :class:`RunnerObjective` — the real thing: the eval runner's task worker (task
  environments, evaluators, the run budget), the same code ``thinktank eval`` runs.
* :class:`FunctionObjective` — a plain function of (graph, task, seed), for analytic
  landscapes in benchmarks and tests.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from thinktank.evals.runs.run_types import INTERRUPTED, TaskStatus
from thinktank.graphs.spec import GraphSpec
from thinktank.optimize.costs import CallPrice

if TYPE_CHECKING:
    from thinktank.evals.runs.run_types import TaskRecord
    from thinktank.evals.runs.worker import TaskJob
    from thinktank.evals.tasks.task import Task
    from thinktank.llm.base import ChatModel
    from thinktank.llm.budget import Budget

__all__ = ["INTERRUPTED", "FunctionObjective", "Objective", "RunnerObjective", "TaskOutcome"]


class TaskOutcome(BaseModel):
    """One task through one graph, as the optimizer caches it: the figures of its
    :class:`~thinktank.evals.runs.run_types.TaskRecord` a study aggregates (no run
    result: the store keeps thousands), and whether it may be reused. A
    :class:`FunctionObjective` returns one directly."""

    task_id: str
    status: TaskStatus
    """As the record's: a run status, ``error``, or ``interrupted`` (the optimizer's
    budget refused a call)."""
    correct: bool = False
    score: float = 0.0
    cost: float = 0.0
    """Dollars the task's model calls cost."""
    evaluation_cost: float = 0.0
    """Dollars judging the answer cost (an LLM judge): spent, not part of the graph's cost."""
    calls: int = 0
    tokens: int = 0
    latency_s: float = 0.0
    answer: str | None = None
    error: str | None = None
    cacheable: bool = True
    """False for results that must not be reused (interrupted, a crash before the graph ran)."""
    truncated: bool = False
    """The graph's own budget cut the task short (samples refused): not the graph as specified."""


class Objective(ABC):
    """Runs one graph on one task; the study does caching, budgets and aggregation.

    ``budget`` is set by the study: the optimizer's own budget, which every model
    call of an evaluation must reserve on (a call it refuses makes the task
    ``interrupted``).
    """

    budget: Budget | None = None

    @abstractmethod
    async def run_task(self, spec: GraphSpec, label: str, task: Task, seed: int) -> TaskOutcome:
        """Run ``spec`` (cached under ``label``) on ``task`` with ``seed`` and judge it."""

    def aliases(self) -> list[str]:
        """Model aliases graphs may use (the model pool)."""
        return list(self.prices())

    def prices(self) -> dict[str, CallPrice]:
        """Model alias → price per call, for estimates (empty: everything is free)."""
        return {}

    def fingerprint(self) -> dict[str, Any]:
        """What besides the graph, task and seed decides an outcome (model ids…)."""
        return {}

    def set_budget(self, budget: Budget | None) -> None:
        self.budget = budget

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release models and task environments."""


class RunnerObjective(Objective):
    """Evaluates with the eval runner's :class:`~thinktank.evals.runs.worker.TaskWorker`.

    Args:
        models: the model pool, alias → model (a ChatModel or a model string).
        judge: model for LLM-judged evaluators (``llm_match``).
        memory: memory bank for nodes with ``memory: true``.
        environment_options: per task kind, options of its environment.
    """

    def __init__(
        self,
        models: Mapping[str, ChatModel | str],
        *,
        judge: ChatModel | None = None,
        memory: Any = None,
        environment_options: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        from thinktank.evals.runs.worker import TaskWorker

        self._aliases = list(models)
        self.worker = TaskWorker(
            {}, models, memory=memory, environment_options=environment_options, judge=judge
        )
        self.judge = judge

    def aliases(self) -> list[str]:
        return list(self._aliases)

    def prices(self) -> dict[str, CallPrice]:
        from thinktank.llm.pricing import price_for

        return {
            alias: CallPrice(price_for(m.price_key), m.default_max_tokens)
            for alias, m in self.worker.models.items()
            if alias in self._aliases
        }

    def fingerprint(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "models": {a: m.model_id for a, m in self.worker.models.items() if a in self._aliases}
        }
        if self.judge is not None:
            out["judge"] = self.judge.model_id
        return out

    def set_budget(self, budget: Budget | None) -> None:
        self.budget = budget
        self.worker.run_budget = budget

    async def run_job(self, job: TaskJob, spec: GraphSpec) -> TaskRecord:
        """Run one job with graph ``spec`` and return its record: here, with this
        process's task worker; subclasses run it elsewhere (a Ray cluster)."""
        self.worker.specs[job.graph] = spec
        return await self.worker.run_job(job)

    async def run_task(self, spec: GraphSpec, label: str, task: Task, seed: int) -> TaskOutcome:
        from thinktank.evals.runs.worker import TaskJob

        job = TaskJob(graph=label, task=task, seed=seed, run_id=label)
        rec = await self.run_job(job, spec)
        interrupted = rec.status == INTERRUPTED  # the optimizer's budget refused a call
        return TaskOutcome(
            task_id=task.id,
            status=INTERRUPTED if interrupted else rec.status,
            correct=bool(rec.correct),
            score=float(rec.score or 0.0),
            cost=rec.cost,
            evaluation_cost=rec.evaluation_cost,
            calls=rec.calls,
            tokens=rec.tokens,
            latency_s=rec.latency_s,
            answer=rec.answer,
            error=rec.error,
            cacheable=not interrupted and not (rec.status == "error" and _infrastructure(rec)),
            truncated=not interrupted and rec.truncated,
        )

    async def aclose(self) -> None:
        await self.worker.close()


def _infrastructure(rec: TaskRecord) -> bool:
    """An error of the machinery, not of the graph (an endpoint down, a model unknown to
    it, a failed sandbox): it may not happen again, so the outcome is not cached."""
    from thinktank.errors import InfrastructureError, MissingCredential

    if rec.result is None:
        return True  # the graph never finished
    names, todo = {MissingCredential.__name__}, [InfrastructureError]
    while todo:
        cls = todo.pop()
        names.add(cls.__name__)
        todo += cls.__subclasses__()
    text = rec.error or ""
    return any(f"{n}:" in text for n in names)


OutcomeFn = Callable[[GraphSpec, "Task", int], "TaskOutcome | Awaitable[TaskOutcome]"]


class FunctionObjective(Objective):
    """Evaluates with ``fn(spec, task, seed) -> TaskOutcome`` (sync or async).

    For analytic landscapes: the function decides correctness and cost itself; the
    study still caches, budgets and aggregates as for real runs.
    """

    def __init__(
        self,
        fn: OutcomeFn,
        *,
        prices: Mapping[str, CallPrice] | None = None,
        aliases: list[str] | None = None,
        name: str = "function",
    ) -> None:
        self.fn = fn
        self._prices = dict(prices or {})
        self._aliases = aliases if aliases is not None else list(self._prices)
        self.name = name

    def aliases(self) -> list[str]:
        return list(self._aliases)

    def prices(self) -> dict[str, CallPrice]:
        return dict(self._prices)

    def fingerprint(self) -> dict[str, Any]:
        return {"function": self.name}

    async def run_task(self, spec: GraphSpec, label: str, task: Task, seed: int) -> TaskOutcome:
        out = self.fn(spec, task, seed)
        if inspect.isawaitable(out):
            out = await out
        assert isinstance(out, TaskOutcome)
        if self.budget is not None and self.budget.max_usd is not None:
            # an analytic cost is charged like a model call would be: refused past the limit
            if self.budget.spent_usd + out.cost > self.budget.max_usd + 1e-12:
                self.budget.refused += 1
                return out.model_copy(
                    update={"status": INTERRUPTED, "cacheable": False, "cost": 0.0}
                )
            self.budget.spent_usd += out.cost
        return out
