"""From a graph run to the learners' inputs: trajectories, candidates, memory shown.

Agents record :class:`thinktank.agents.trajectory.Trajectory` objects (model turns,
tool calls with their results); a graph's :class:`~thinktank.graphs.result.RunResult`
keeps them, as JSON, in each :class:`~thinktank.graphs.state.NodeOutput` of its
``trace.outputs``. The learners take the plain
:class:`~thinktank.learning.attempt.Attempt`. This module converts one into the
other — a turn's text becomes a ``thought``, a tool call an ``action`` and its
result an ``observation`` (so the verbatim-copy guard knows what items must not
quote) — and reads from a run what the memory learner needs:

* the winning sample (:func:`winner_trajectory`), the final candidates
  (:func:`candidate_outputs`, for parallel MaTTS) and a chain of refinements ending
  in the winner (:func:`refinement_chain`, for sequential MaTTS);
* the memory items agents were shown (:func:`used_memory_ids`), with synthesized
  cheatsheets expanded into the bank items they were written from.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from thinktank.graphs.result import RunResult
from thinktank.graphs.spec import ANSWER_ROLES
from thinktank.graphs.state import NodeOutput
from thinktank.learning.attempt import Attempt, AttemptStep

SHEET_ID_PREFIX = "cheatsheet:"
"""Ids of cheatsheets shown to agents start with this; a synthesized sheet's id lists
the bank items it was written from (``cheatsheet:synth:<id>+<id>…``)."""


class TaskLike(Protocol):
    """What the adapter reads of a task (an evals :class:`~thinktank.evals.tasks.task.Task` fits)."""

    @property
    def id(self) -> str: ...

    @property
    def prompt(self) -> str: ...

    @property
    def kind(self) -> str: ...


def outputs(result: RunResult | None) -> list[NodeOutput]:
    """Every sample the run recorded (``trace.outputs``), in recording order."""
    return list(result.trace.outputs) if result is not None else []


def _steps(output: NodeOutput | None) -> list[AttemptStep]:
    steps: list[AttemptStep] = []
    for s in ((output.trajectory if output else None) or {}).get("steps", []) or []:
        if (s.get("text") or "").strip():
            steps.append(AttemptStep(kind="thought", text=s["text"]))
        for c in s.get("tool_calls", []) or []:
            steps.append(AttemptStep(kind="action", text=f"{c['name']}({c.get('arguments', '')})"))
            steps.append(AttemptStep(kind="observation", text=str(c.get("content", ""))))
    return steps


def agent_trajectory(
    task: TaskLike, output: NodeOutput | None, *, final_answer: str | None = None
) -> Attempt:
    """One sample of a run as a learner trajectory (an empty one for ``None``)."""
    answer = final_answer if final_answer is not None else (output.answer if output else None)
    return Attempt(
        task=task.prompt,
        steps=_steps(output),
        final_answer=str(answer or ""),
        task_id=task.id,
        domain=task.kind,
    )


def winner_output(result: RunResult | None) -> NodeOutput | None:
    """The sample selection picked, else the first answer-producing sample."""
    outs = outputs(result)
    win = result.selection.winner if result is not None and result.selection else None
    chosen = next((o for o in outs if o.id == win), None)
    return chosen or next((o for o in outs if o.role in ANSWER_ROLES), None)


def winner_trajectory(task: TaskLike, result: RunResult | None) -> Attempt:
    """The winning sample's trajectory, with the run's final answer."""
    answer = str(result.answer or "") if result is not None else ""
    return agent_trajectory(task, winner_output(result), final_answer=answer)


def candidate_outputs(result: RunResult | None) -> list[NodeOutput]:
    """The samples selection chose among (every answered answer-producing sample when
    the run lists no candidates), in candidate order."""
    outs = outputs(result)
    by_id = {o.id: o for o in outs}
    cands = [
        by_id[c.id] for c in (result.candidates if result is not None else []) if c.id in by_id
    ]
    if cands:
        return cands
    return [o for o in outs if o.role in ANSWER_ROLES and o.answer is not None]


def _previous(output: NodeOutput, by_id: dict[str, NodeOutput]) -> NodeOutput | None:
    """The earlier answer this sample revised: its own node's previous version when it
    was shown one, else the first answer it was shown."""
    shown = [by_id[i] for i in output.inputs if i in by_id]
    shown = [o for o in shown if o.role in ANSWER_ROLES and o.round < output.round]
    own = [o for o in shown if o.node == output.node and o.sample == output.sample]
    found = own or shown
    return found[0] if found else None


def refinement_chain(result: RunResult | None, *, max_len: int = 4) -> list[NodeOutput]:
    """The winner and the earlier versions it was refined from, oldest first.

    A refine / debate / PDR run has one version per round; a one-round run gives a
    chain of one. At most ``max_len`` versions are kept (the latest ones).
    """
    by_id = {o.id: o for o in outputs(result)}
    chain: list[NodeOutput] = []
    cur = winner_output(result)
    while cur is not None and cur not in chain:
        chain.append(cur)
        cur = _previous(cur, by_id)
    return list(reversed(chain[:max_len]))


def expand_ids(ids: Sequence[str]) -> list[str]:
    """Bank item ids behind ids shown to agents: a synthesized sheet stands for the
    items it was written from; a cumulative sheet for none."""
    out: dict[str, None] = {}
    for i in ids:
        if i.startswith(SHEET_ID_PREFIX):
            rest = i[len(SHEET_ID_PREFIX) :]
            if rest.startswith("synth:"):
                out.update((s, None) for s in rest[len("synth:") :].split("+") if s)
            continue
        out[i] = None
    return list(out)


def shown_ids(result: RunResult | None) -> list[str]:
    """Every memory id (items and sheets) shown to an agent of the run, first seen first."""
    seen: dict[str, None] = {}
    for o in outputs(result):
        for m in (o.trajectory or {}).get("memory_ids") or []:
            seen[str(m)] = None
    return list(seen)


def used_memory_ids(result: RunResult | None) -> list[str]:
    """Ids of the bank items whose text reached an agent's prompt in this run."""
    return expand_ids(shown_ids(result))
