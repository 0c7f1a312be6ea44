"""Helpers of the memory learner: verdicts for a run and its samples, the task's budget.

* The run's verdict, with the oracle judge, is ground truth when an evaluator gave one
  (an evals :class:`~thinktank.evals.tasks.evaluators.Verdict`, a memory
  :class:`~thinktank.learning.attempt.Judgement` or a bool), else the LLM self-judge.
* A sample other than the winner shares the winner's verdict when it gave the same
  answer; otherwise, with the oracle judge, the task's evaluator judges it when that is
  cheap (exact answers: numeric, string, choice, game24); otherwise the self-judge if
  allowed; otherwise its outcome stays unknown.
* Learning spends what is left of the task's budget: :func:`remaining_budget`
  rebuilds the task's :class:`~thinktank.llm.Budget` from the run's final state.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from thinktank.graphs.result import RunResult
from thinktank.graphs.state import NodeOutput
from thinktank.learning.attempt import Judgement
from thinktank.learning.learn import self_judge
from thinktank.learning.runs import TaskLike, agent_trajectory
from thinktank.llm.base import ChatModel
from thinktank.llm.budget import Budget

log = logging.getLogger("thinktank.learning")

CHEAP_EVALUATORS = frozenset({"numeric", "string", "choice", "game24"})
"""Evaluators that judge an answer without a model call or a sandbox."""


def ground_truth(verdict: Any) -> Judgement | None:
    """A memory verdict from what an evaluator returned (``None`` for none)."""
    if verdict is None:
        return None
    if isinstance(verdict, Judgement):
        return verdict
    if isinstance(verdict, bool):
        return Judgement.from_ground_truth(verdict)
    correct = getattr(verdict, "correct", None)
    if correct is None:
        return None
    return Judgement.from_ground_truth(bool(correct), str(getattr(verdict, "reason", "") or ""))


def _norm(answer: Any) -> str:
    return " ".join(str(answer or "").split()).lower()


def cheap_evaluator(task: Any) -> bool:
    """Whether the task's evaluator judges answers exactly and for free."""
    cfg = getattr(task, "evaluator_config", None)
    if cfg is None or getattr(task, "expected", None) is None:
        return False
    try:
        return cfg().type in CHEAP_EVALUATORS
    except Exception:  # a kind without an answer evaluator (swe)
        return False


async def sample_verdicts(
    model: ChatModel,
    task: TaskLike,
    samples: list[NodeOutput],
    winner: NodeOutput | None,
    winner_verdict: Judgement,
    *,
    keys: dict[str, str | None],
    self_judge_unknown: bool,
    warnings: list[str],
    oracle: bool = False,
) -> list[Judgement | None]:
    """One verdict per sample (``None`` when unknown), by the rules in the module docstring.

    ``keys`` maps sample ids to canonical voting keys, when selection computed them.
    """
    win_id = winner.id if winner else None
    win_key = keys.get(win_id) if win_id else None
    win_answer = _norm(winner.answer if winner else None)
    cheap = oracle and cheap_evaluator(task)  # ground truth only for the oracle judge
    out: list[Judgement | None] = []
    for s in samples:
        sid, answer = s.id, s.answer
        key = keys.get(sid) if sid else None
        if (
            sid == win_id
            or (key is not None and key == win_key)
            or (answer is not None and _norm(answer) == win_answer)
        ):
            out.append(winner_verdict)
            continue
        if cheap:
            from thinktank.evals.tasks.evaluators import evaluate

            try:
                v = await evaluate(task, answer)  # type: ignore[arg-type]
                out.append(Judgement.from_ground_truth(v.correct, v.reason))
                continue
            except Exception as exc:  # an evaluator that cannot read this task
                log.debug("evaluating sample %s failed: %s", sid, exc)
        if self_judge_unknown:
            judged = await self_judge(model, agent_trajectory(task, s))
            warnings.extend(judged.warnings)
            out.append(judged.verdict)
            continue
        out.append(None)
    return out


def remaining_budget(result: RunResult | None, task_id: str) -> Budget | None:
    """The task's budget as the run left it (``None`` when the graph set no limit).

    Limits and spending come from ``result.budget`` (the state the run recorded);
    the clock of a time limit keeps running from the task's start.
    """
    st = result.budget if result is not None else None
    if st is None or all(
        v is None for v in (st.max_usd, st.max_tokens, st.max_calls, st.max_seconds)
    ):
        return None
    b = Budget(
        max_usd=st.max_usd, max_tokens=st.max_tokens, max_calls=st.max_calls,
        max_seconds=st.max_seconds, name=f"task {task_id}",
    )  # fmt: skip
    b.spent_usd = st.spent_usd
    b.spent_tokens = st.spent_tokens
    b.calls = st.calls
    b.started = time.monotonic() - st.elapsed_s
    return b
