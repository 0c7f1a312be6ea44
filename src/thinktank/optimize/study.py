"""The optimizer's main loop: propose a graph, evaluate it, learn, repeat — under a budget.

    study = Study(space, tasks, RunnerObjective(pool), StudyConfig(algo="tpe", budget_usd=2),
                  out_dir="runs/opt")
    result = study.run_sync()           # best graph, Pareto front, files in out_dir

Every proposal is an Optuna trial (SQLite storage in ``out_dir/study.db``); the
evaluation cache and the spend journal live in ``out_dir/evals.db`` (or a shared
``cache_path``). Running the same study again resumes it: finished trials are kept,
a trial a crash cut short is proposed again (its finished tasks come from the
cache), samplers are re-seeded per proposal so the search continues as if never
stopped, and every dollar spent before — crashed tasks at their worst case — counts
against the budget.
"""

from __future__ import annotations

import fcntl
import os
import random
import sqlite3
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import optuna

from thinktank.errors import ConfigError, UsageError
from thinktank.evals.tasks.task import Task
from thinktank.graphs.spec import GraphSpec
from thinktank.llm.base import ChatModel
from thinktank.llm.budget import Budget
from thinktank.optimize import _loop
from thinktank.optimize.algorithms import derive_seed, min_dev_tasks, pruner, rungs
from thinktank.optimize.config import StudyConfig
from thinktank.optimize.costs import CostEstimator
from thinktank.optimize.decode import RandomChooser, assign, build, iter_assignments
from thinktank.optimize.objective import Objective
from thinktank.optimize.results import StudyResult, TrialRecord, write_outputs
from thinktank.optimize.space import SearchSpace, SpaceError


class BudgetTooSmall(UsageError):
    """The budget cannot cover even one evaluation; nothing was spent."""


class Study:
    """One search over ``space`` on ``tasks`` (the dev set) with ``evaluator``.

    Args:
        confirm_tasks: after the search, the top graphs (``config.top_k``) are
            re-evaluated on these before a best is declared; the best is chosen on the
            dev and confirmation tasks together.
        holdout_tasks: the best graph (and the other candidates, budget permitting) runs
            these once, at the end; never used to choose. :func:`~thinktank.optimize.stats.split_tasks`
            carves both sets out of one task list by seed.
        out_dir: where the study persists and its outputs go; ``None`` keeps
            everything in memory (benchmarks).
        cache_path: the evaluation cache / spend journal (default ``out_dir/evals.db``);
            studies may share one.
        feedback_model: the model of REINFORCE's LLM feedback step and of ``llm``.
        on_trial: called with each finished :class:`TrialRecord` (progress output).
        on_step: called with a line when a step after the search starts (the
            re-evaluation, the held-out run).
    """

    def __init__(
        self,
        space: SearchSpace,
        tasks: Sequence[Task],
        evaluator: Objective,
        config: StudyConfig | None = None,
        *,
        confirm_tasks: Sequence[Task] = (),
        holdout_tasks: Sequence[Task] = (),
        out_dir: str | Path | None = None,
        cache_path: str | Path | None = None,
        feedback_model: ChatModel | None = None,
        on_trial: Callable[[TrialRecord], None] | None = None,
        on_step: Callable[[str], None] | None = None,
        plots: bool = True,
    ) -> None:
        self.space = space
        self.tasks = list(tasks)
        self.confirm_tasks = list(confirm_tasks)
        self.holdout_tasks = list(holdout_tasks)
        self.evaluator = evaluator
        self.config = config or StudyConfig()
        self.out_dir = Path(out_dir) if out_dir is not None else None
        default_cache = self.out_dir / "evals.db" if self.out_dir is not None else ":memory:"
        self.cache_path = Path(cache_path) if cache_path is not None else Path(default_cache)
        self.feedback_model = feedback_model
        self.on_trial = on_trial
        self.on_step = on_step
        self.plots = plots
        self.stopped = False
        if self.config.algo == "llm" and feedback_model is None:
            raise ConfigError("algo 'llm' needs a feedback model (--feedback-model MODEL)")

    # --- set-up -----------------------------------------------------------------------

    def _tasks(self) -> list[Task]:
        if not self.tasks:
            raise ConfigError("the dev set is empty: give at least one task (--suite, --tasks)")
        seen: dict[str, str] = {}
        for name, split in (
            ("dev set", self.tasks),
            ("confirmation set", self.confirm_tasks),
            ("held-out set", self.holdout_tasks),
        ):
            for t in split:
                if t.id in seen:
                    where = (
                        "twice in the " + name
                        if seen[t.id] == name
                        else (f"in both the {seen[t.id]} and the {name}")
                    )
                    raise ConfigError(
                        f"task {t.id!r} is {where}: task ids must be unique and the splits "
                        "must not share tasks (a held-out task seen in the search is not held out)"
                    )
                seen[t.id] = name
        out = list(self.tasks)
        random.Random(derive_seed(self.config.seed, "tasks")).shuffle(out)
        return out

    def _rungs(self, n: int) -> tuple[bool, list[int]]:
        c = self.config
        need = min_dev_tasks(c.prune_min_tasks, c.prune_factor)
        if c.algo in ("nsga2", "reinforce", "random", "llm", "grid"):
            if c.prune:
                raise ConfigError(
                    f"pruning works with tpe only (Optuna prunes single-objective studies, and "
                    f"{c.algo} needs whole-dev-set scores); drop --prune"
                )
            return False, [n]
        if c.prune is None and n < need:
            return False, [n]
        if c.prune is not False and n < need:
            raise ConfigError(
                f"the dev set has {n} tasks, too few for pruning: successive halving needs at "
                f"least {need} (a first rung of {c.prune_min_tasks} tasks, then "
                f"{c.prune_min_tasks}x{c.prune_factor}); add tasks, lower --prune-min-tasks, "
                "or pass --no-prune"
            )
        if c.prune is False:
            return False, [n]
        return True, rungs(n, c.prune_min_tasks, c.prune_factor)

    def _scan(self, space: SearchSpace, est: CostEstimator) -> tuple[list[GraphSpec], bool]:
        """Distinct valid graphs among the points (all of them when the space is small enough
        to enumerate, else a sample); returns (graphs, whether the scan was complete)."""
        limit = self.config.scan
        points = list(iter_assignments(space, limit=limit + 1))
        complete = len(points) <= limit
        if not complete:
            rng = random.Random(derive_seed(self.config.seed, "scan"))
            points = [assign(space, RandomChooser(rng)) for _ in range(limit)] + points[:1]
        valid: list[GraphSpec] = []
        reasons: dict[str | None, int] = {}
        seen: set[str | None] = set()
        for a in points:
            d = build(space, a, task_cost=est.per_task)
            if d.spec is None:
                reasons[d.reason] = reasons.get(d.reason, 0) + 1
            elif d.key not in seen:
                seen.add(d.key)
                valid.append(d.spec)
        if not valid:
            top = sorted(reasons.items(), key=lambda kv: -kv[1])[:4]
            what = "any point of the space" if complete else f"{len(points)} sampled points"
            raise SpaceError(
                f"search space {space.name!r} has no valid graph in {what}; the reasons: "
                + "; ".join(f"{r} ({k}x)" for r, k in top)
            )
        return valid, complete

    def _storage(self, pruning: bool) -> tuple[optuna.Study, str, int]:
        """The Optuna study (created or resumed), the study id and the prior session count.
        With ``pruning`` its pruner is successive halving on the task rungs."""
        c = self.config
        storage = None
        if self.out_dir is not None:
            storage = _sqlite_storage(self.out_dir / "study.db")
        directions: list[Any] = ["maximize", "minimize"] if c.algo == "nsga2" else ["maximize"]
        study = optuna.create_study(
            storage=storage,
            study_name=c.name,
            directions=directions,
            load_if_exists=True,
            pruner=pruner(pruning, c.prune_min_tasks, c.prune_factor),
        )
        ident = {
            "config": c.identity(),
            "space": self.space.model_dump(mode="json"),
            "tasks": sorted(t.id for t in self.tasks),
            "evaluator": self.evaluator.fingerprint(),
        }
        saved = study.user_attrs.get("identity")
        if saved is None:
            study.set_user_attr("identity", ident)
            study.set_user_attr("study_id", uuid.uuid4().hex)
            sessions = 0
        elif saved != ident:
            diff = [k for k in ident if saved.get(k) != ident[k]]
            hint = ""
            if "tasks" in diff:
                hint = (
                    " (dev tasks: --tasks, --confirm, --holdout and --seed decide which tasks "
                    "the search runs on; a study made before the splits existed resumes with "
                    "--confirm 0 --holdout 0)"
                )
            raise UsageError(
                f"{self.out_dir} holds study {c.name!r} made with a different "
                f"{', '.join(diff)}{hint}; choose a new --out DIR (or --name) to start another "
                "study"
            )
        else:
            sessions = int(study.user_attrs.get("sessions", 0))
        study.set_user_attr("sessions", sessions + 1)
        return study, str(study.user_attrs["study_id"]), sessions

    # --- running ---------------------------------------------------------------------

    def stop(self) -> None:
        """Stop after the current proposal (call it from ``on_trial``)."""
        self.stopped = True

    def run_sync(self) -> StudyResult:
        """Blocking :meth:`run`."""
        from thinktank._sync import run_sync

        return run_sync(self.run())

    async def run(self) -> StudyResult:
        """Search until a limit is reached; returns (and writes) the result."""
        lock = _lock(self.out_dir) if self.out_dir is not None else None
        try:
            return await self._run()
        finally:
            if lock is not None:
                os.close(lock)

    async def _run(self) -> StudyResult:
        from thinktank.evals.runs.worker import RUN_BUDGET_NAME
        from thinktank.optimize._evaluation import Evaluations
        from thinktank.optimize._selection import Finisher
        from thinktank.optimize.store import EvalStore

        c = self.config
        space = self.space.bind(self.evaluator.aliases())
        tasks = self._tasks()
        pruning, sizes = self._rungs(len(tasks))
        prompt_tokens = sum(len(t.prompt) for t in tasks) // (3 * len(tasks)) + 1
        est = CostEstimator(self.evaluator.prices(), prompt_tokens=prompt_tokens)
        valid, complete = self._scan(space, est)
        cheapest = min(valid, key=est.per_task)
        study, study_id, sessions = self._storage(pruning)
        if "cost_ratio" in study.user_attrs:
            est.ratio = study.user_attrs["cost_ratio"]
        store = EvalStore(self.cache_path)
        try:
            stale, _ = store.adopt_stale(study_id)
            spent = store.spent(study_id)
            after = (len(self.confirm_tasks) if c.top_k else 0) + len(self.holdout_tasks)
            need = est.per_task(cheapest) * (sizes[0] + after)
            if c.budget_usd is not None and need > c.budget_usd - spent:
                left = c.budget_usd - spent
                what = "the budget" if spent == 0 else f"what is left of the budget (${left:.6f})"
                plus = (
                    f" (and its re-check on {after} confirmation/held-out tasks)" if after else ""
                )
                raise BudgetTooSmall(
                    f"one evaluation of the cheapest graph in the space ({cheapest.description}) "
                    f"on {sizes[0]} tasks{plus} is estimated at ${need:.6f}, more than {what} "
                    f"(--budget-usd {c.budget_usd:g}); nothing was spent. Raise --budget-usd to "
                    f"at least {need + spent:.6f}, use fewer tasks, or set lower max_tokens "
                    "in the space's node fields (estimates assume full replies)"
                )
            budget = None
            if c.budget_usd is not None:
                budget = Budget(max_usd=max(0.0, c.budget_usd - spent), name=RUN_BUDGET_NAME)
            self.evaluator.set_budget(budget)
            evals = Evaluations(
                self.evaluator,
                store,
                study_id,
                tasks,
                seed=c.eval_seed,
                estimator=est,
                concurrency=c.concurrency,
                cost_weight=c.cost_weight,
                metric=c.metric,
                budget_usd=c.budget_usd,
                confidence=c.confidence,
            )
            finisher = Finisher(
                c, evals, self.confirm_tasks, self.holdout_tasks, cheapest, on_step=self.on_step
            )
            loop = _loop.Loop(
                self,
                study,
                space,
                evals,
                est,
                pruning=pruning,
                sizes=sizes,
                cheapest=cheapest,
                space_size=len(valid) if complete else None,
                stale=stale,
                reserve=finisher.reserve,
            )
            finisher.tracker = loop.tracker
            stop = await loop.run()
            selection = await finisher.run(loop.records)
        finally:
            self.evaluator.set_budget(None)
            spent = store.spent(study_id)
            store.close()
        result = _loop.collect(
            study, c, spent=spent, stop=stop, sessions=sessions + 1, selection=selection
        )
        if self.out_dir is not None:
            result.out_dir = str(self.out_dir)
            write_outputs(result, self.out_dir, plots=self.plots)
        return result


def _sqlite_storage(path: Path) -> optuna.storages.RDBStorage:
    """Optuna's SQLite storage in WAL mode without an fsync per commit (a kill loses
    nothing committed; a power cut may lose the last trials, which then run again)."""
    path.parent.mkdir(parents=True, exist_ok=True)

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(path, timeout=30.0, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    return optuna.storages.RDBStorage(f"sqlite:///{path}", engine_kwargs={"creator": connect})


def _lock(out_dir: Path) -> int:
    out_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(out_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise UsageError(
            f"another optimizer is running in {out_dir}; wait for it or choose another --out"
        ) from None
    return fd


__all__ = ["BudgetTooSmall", "Study", "StudyConfig"]
