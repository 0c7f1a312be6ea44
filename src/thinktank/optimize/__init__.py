"""Topology optimization: search collaboration graphs for the best accuracy per dollar.

    from thinktank.optimize import RunnerObjective, SearchSpace, Study, StudyConfig

    space = SearchSpace.load("space.yaml")
    study = Study(space, tasks, RunnerObjective({"small": ..., "large": ...}),
                  StudyConfig(algo="reinforce", budget_usd=2.0, max_evals=40), out_dir="opt")
    result = study.run_sync()
    result.best_spec  # a GraphSpec; result.pareto: the accuracy-cost front

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
from thinktank.optimize.results import StudyResult, TrialRecord, load_result, write_outputs
from thinktank.optimize.space import Constraints, EdgeChoice, NodeChoice, SearchSpace, SpaceError
from thinktank.optimize.store import EvalStore
from thinktank.optimize.study import BudgetTooSmall, Study, StudyConfig

__all__ = [
    "ALGOS",
    "Assignment",
    "BudgetTooSmall",
    "CallPrice",
    "Constraints",
    "CostEstimator",
    "Decoded",
    "EdgeChoice",
    "EvalStore",
    "FunctionObjective",
    "NodeChoice",
    "Objective",
    "Policy",
    "RandomChooser",
    "ReinforceConfig",
    "ReinforceSampler",
    "ReplayChooser",
    "RunnerObjective",
    "SearchSpace",
    "SpaceError",
    "Study",
    "StudyConfig",
    "StudyResult",
    "TaskOutcome",
    "TrialRecord",
    "assign",
    "build",
    "iter_assignments",
    "load_result",
    "nominal_calls",
    "spec_key",
    "write_outputs",
]
