"""Helpers for graph tests: read a request's role and inputs; build role-aware FunctionModels."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from thinktank.llm.testing import FunctionModel
from thinktank.llm.types import ChatRequest

Reply = str | Callable[[ChatRequest], str]


def role_of(req: ChatRequest) -> str:
    """The role named by the system prompt ("You are the verifier. ..." -> "verifier")."""
    m = re.match(r"You are (?:the |a )?(\w+)", str(req.messages[0]["content"]))
    return m.group(1).lower() if m else "unknown"


def user_text(req: ChatRequest) -> str:
    """The first user message (what :func:`thinktank.graphs.render.render` produced)."""
    return next(str(m["content"]) for m in req.messages if m["role"] == "user")


def candidate_answer(req: ChatRequest) -> str:
    """The ``Candidate answer:`` a verifier is shown."""
    m = re.findall(r"^Candidate answer: (.*)$", user_text(req), re.M)
    return m[-1].strip() if m else ""


def numbered_answers(req: ChatRequest) -> list[str]:
    """The answers of the ``Candidate k:`` blocks a judge or fuser is shown, in order."""
    blocks = re.split(r"^Candidate \d+:$", user_text(req), flags=re.M)[1:]
    out = []
    for b in blocks:
        found = re.findall(r"^Answer: (.*)$", b, re.M)
        out.append(found[-1].strip() if found else "")
    return out


def verdict(ok: bool, score: float | None = None) -> str:
    s = score if score is not None else (0.9 if ok else 0.1)
    return f'{{"verdict": {"true" if ok else "false"}, "score": {s}}}'


def by_role(replies: Mapping[str, Reply], *, model_id: str = "function") -> FunctionModel:
    """A model replying per role; a reply is text or ``fn(request) -> text``.

    Roles without an entry answer ``Answer: 0`` (solver-like) or a neutral typed
    reply (verifier approves, judge picks 1, critic has one issue, CEO continues).
    """
    defaults: dict[str, Reply] = {
        "verifier": verdict(True, 0.5),
        "judge": '{"best": 1}',
        "critic": '{"issues": ["check the arithmetic"], "suggestions": ["redo it"]}',
        "ceo": '{"action": "continue", "recruit": 1}',
    }

    def fn(req: ChatRequest) -> str:
        role = role_of(req)
        reply = replies.get(role, defaults.get(role, "Answer: 0"))
        return reply(req) if callable(reply) else reply

    return FunctionModel(fn, model_id=model_id)


def cycling(*answers: str) -> Callable[[ChatRequest], str]:
    """A reply function giving ``Answer: a`` for each of ``answers`` in turn, forever."""
    state = {"i": 0}

    def reply(req: ChatRequest) -> str:
        a = answers[state["i"] % len(answers)]
        state["i"] += 1
        return f"Answer: {a}"

    return reply


def outputs_of(result: Any, node: str, round_no: int | None = None) -> list[dict[str, Any]]:
    """A run's outputs of one node (optionally of one round)."""
    return [
        o
        for o in result.trace.outputs
        if o.node == node and (round_no is None or o.round == round_no)
    ]
