"""Evaluation, in five parts: ``tasks`` (tasks, evaluators, suites), ``environments``
(what each task kind gets and who judges it), ``swe`` (SWE-bench), ``runs`` (the runner
and its records) and ``reports``. The everyday names are exported here.

See README.md in this folder.
"""

from __future__ import annotations

from thinktank.evals.tasks.evaluators import (
    EvalContext,
    Evaluator,
    Verdict,
    evaluate,
    evaluator_for,
)
from thinktank.evals.tasks.passk import mean_pass_at_k, pass_at_k
from thinktank.evals.tasks.suites import load_suite, suite_names
from thinktank.evals.tasks.task import TASK_KINDS, Task, TaskKind

__all__ = [
    "TASK_KINDS",
    "EvalContext",
    "Evaluator",
    "Task",
    "TaskKind",
    "Verdict",
    "evaluate",
    "evaluator_for",
    "load_suite",
    "mean_pass_at_k",
    "pass_at_k",
    "suite_names",
]
