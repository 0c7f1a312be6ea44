"""Topology optimization: search collaboration graphs for the best accuracy per dollar.

    from thinktank.optimize import RunnerObjective, SearchSpace, Study, StudyConfig, split_tasks

    space = SearchSpace.load("space.yaml")
    split = split_tasks(tasks, confirm=0.2, holdout=0.2, seed=0)
    study = Study(space, split.dev, RunnerObjective({"small": ..., "large": ...}),
                  StudyConfig(algo="reinforce", budget_usd=2.0, max_evals=40),
                  confirm_tasks=split.confirm, holdout_tasks=split.holdout, out_dir="opt")
    result = study.run_sync()
    result.best_spec  # a GraphSpec; result.pareto: the accuracy-cost front
    result.selection  # the top graphs re-evaluated, the held-out accuracy of the best

See README.md in this folder.
"""

from __future__ import annotations

from thinktank.optimize.algorithms import ALGOS
from thinktank.optimize.costs import CallPrice, CostEstimator
from thinktank.optimize.decode import (
    Assignment,
    Decoded,
    RandomChooser,
    ReplayChooser,
    assign,
    build,
    iter_assignments,
    nominal_calls,
    spec_key,
)
from thinktank.optimize.objective import FunctionObjective, Objective, RunnerObjective, TaskOutcome
from thinktank.optimize.reinforce import Policy, ReinforceConfig, ReinforceSampler
from thinktank.optimize.results import (
    Candidate,
    Evidence,
    Selection,
    StudyResult,
    TrialRecord,
    load_result,
    write_outputs,
)
from thinktank.optimize.space import Constraints, EdgeChoice, NodeChoice, SearchSpace, SpaceError
from thinktank.optimize.stats import Interval, TaskSplit, split_tasks
from thinktank.optimize.store import EvalStore
from thinktank.optimize.study import BudgetTooSmall, Study, StudyConfig

__all__ = [
    "ALGOS",
    "Assignment",
    "BudgetTooSmall",
    "CallPrice",
    "Candidate",
    "Constraints",
    "CostEstimator",
    "Decoded",
    "EdgeChoice",
    "EvalStore",
    "Evidence",
    "FunctionObjective",
    "Interval",
    "NodeChoice",
    "Objective",
    "Policy",
    "RandomChooser",
    "ReinforceConfig",
    "ReinforceSampler",
    "ReplayChooser",
    "RunnerObjective",
    "SearchSpace",
    "Selection",
    "SpaceError",
    "Study",
    "StudyConfig",
    "StudyResult",
    "TaskOutcome",
    "TaskSplit",
    "TrialRecord",
    "assign",
    "build",
    "iter_assignments",
    "load_result",
    "nominal_calls",
    "spec_key",
    "split_tasks",
    "write_outputs",
]
