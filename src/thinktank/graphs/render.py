"""What each role is shown: the task plus its inputs, rendered as the user message.

Conventions the simulator and the role prompts share: a verifier sees one
``Candidate answer:`` line; a judge or fuser sees ``Candidate 1:``, ``Candidate 2:``
blocks each ending in ``Answer: X``; a CEO sees the round's discussion. What a
context-producing node (``does: context``) wrote comes after the task, under
``Context:``; outputs of a role's own type are shown as ``field: value`` lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from thinktank.agents.roles import role_does
from thinktank.graphs.state import NodeOutput


def _answer_block(o: NodeOutput, max_chars: int = 2_000) -> str:
    text = o.output.get("reasoning", "") if isinstance(o.output, dict) else str(o.output or "")
    text = text.strip()
    if len(text) > max_chars:
        text = text[: max_chars // 2] + "\n…\n" + text[-max_chars // 2 :]
    if o.answer is not None and f"Answer: {o.answer}" not in text:
        text = f"{text}\nAnswer: {o.answer}".strip()
    return text or "(no answer)"


def _fields(value: Any, max_chars: int = 2_000) -> str:
    """An output of a role's own type as ``field: value`` lines (text as it is)."""
    if isinstance(value, dict):
        lines = []
        for k, v in value.items():
            if isinstance(v, list):
                lines.append(f"{k}:" + ("".join(f"\n- {i}" for i in v) or " (none)"))
            else:
                lines.append(f"{k}: {v}")
        text = "\n".join(lines)
    else:
        text = "" if value is None else str(value)
    return text if len(text) <= max_chars else text[:max_chars] + "\n…"


def _feedback_block(o: NodeOutput) -> str:
    out = o.output if isinstance(o.output, dict) else {}
    does = role_does(o.role)
    if does == "critique":
        if not ("issues" in out or "suggestions" in out):  # a critique of its own type
            return f"Review by {o.node}:\n{_fields(o.output)}"
        issues = "\n".join(f"- {i}" for i in out.get("issues", []))
        sugg = "\n".join(f"- {s}" for s in out.get("suggestions", []))
        return f"Issues:\n{issues or '- none'}\nSuggestions:\n{sugg or '- none'}"
    if does == "score":
        verdict = "correct" if out.get("verdict") else "incorrect"
        return (
            f"Verifier says {verdict} (score {out.get('score', 0):.2f}): {out.get('rationale', '')}"
        )
    return _answer_block(o)


def _context(inputs: Sequence[NodeOutput]) -> str:
    """What context-producing nodes (a planner, a retriever) wrote, for the nodes they feed."""
    blocks = []
    for o in inputs:
        text = o.output.get("text") if isinstance(o.output, dict) else None
        body = text if isinstance(text, str) and len(o.output) == 1 else _fields(o.output)
        blocks.append(f"From {o.node}:\n{body.strip() or '(nothing)'}")
    return "Context:\n\n" + "\n\n".join(blocks)


def numbered(candidates: Sequence[NodeOutput]) -> str:
    return "\n\n".join(f"Candidate {i}:\n{_answer_block(c)}" for i, c in enumerate(candidates, 1))


def render(
    role: str,
    task: str,
    inputs: Sequence[NodeOutput],
    *,
    direction: str = "",
    target: NodeOutput | None = None,
    aspect: str | None = None,
    round_no: int = 1,
) -> str:
    """The user message for one sample of a node."""
    parts = [f"Task:\n{task.strip()}"]
    context = [i for i in inputs if role_does(i.role) == "context"]
    if context:  # shown to every role, after the task; the rest as before
        parts.append(_context(context))
        inputs = [i for i in inputs if role_does(i.role) != "context"]
    does = role_does(role)
    if does == "score" and target is not None:
        parts.append(f"Candidate solution:\n{_answer_block(target)}")
        if aspect:
            parts.append(f"Check only this aspect: {aspect}")
        parts.append(f"Candidate answer: {target.answer if target.answer is not None else ''}")
    elif does in ("select", "fuse"):
        parts.append(numbered([i for i in inputs if i.answer is not None]))
    elif does == "critique":
        parts.append(
            "Proposed solutions:\n\n" + numbered([i for i in inputs if i.answer is not None])
        )
    elif does == "refine":
        answers = [i for i in inputs if i.answer is not None]
        feedback = [i for i in inputs if i.answer is None]
        if target is not None:
            parts.append(f"Previous answer:\n{_answer_block(target)}")
        elif answers:
            parts.append("Previous answers:\n\n" + numbered(answers))
        if feedback:
            parts.append("Feedback:\n" + "\n\n".join(_feedback_block(f) for f in feedback))
    elif does == "decide":
        lines = [f"Discussion of round {round_no}:"]
        for i in inputs:
            lines.append(f"[{i.node} #{i.sample + 1} ({i.role})]\n{_feedback_block(i)}")
        parts.append("\n\n".join(lines))
    elif inputs:
        answers = [i for i in inputs if i.answer is not None]
        feedback = [i for i in inputs if i.answer is None]
        if answers:
            parts.append(
                "Answers from other agents (earlier round or previous stage):\n\n"
                + "\n\n".join(f"Agent {k}:\n{_answer_block(a)}" for k, a in enumerate(answers, 1))
            )
        if feedback:
            parts.append("Feedback:\n" + "\n\n".join(_feedback_block(f) for f in feedback))
    if direction:
        parts.append(f"Direction from the coordinator: {direction}")
    return "\n\n".join(parts)
