"""From a chat request to a graph run: the task prompt, its kind, seed and budget.

**Messages → prompt.** The last message must be the user's: it is the question. A
request of that one message runs it verbatim. Anything before it — system and
developer messages, earlier turns — is context, put before the question in the task
prompt::

    <system and developer messages, in order>

    Earlier in this conversation:
    User: …
    Assistant: …

    <the last user message>

The graph's agents keep their own role prompts; this text is the task they are given.
Only text content is read (a list of ``{"type": "text"}`` parts is joined); images,
audio and files are refused.

**Tools** (``tools``, ``functions``, tool messages, assistant tool calls) are refused
with a 400 (``code: tools_not_supported``): a graph's agents use the tools the graph
was built with, and a served graph returns a final answer, never a call for the client
to run.

**Budget.** ``X-Thinktank-Budget-Usd`` / ``X-Thinktank-Budget-Tokens`` headers or
``metadata.budget_usd`` / ``metadata.budget_tokens`` (the smaller wins when both are
given) cap the run; the server's ``--budget-usd`` is the default, and the graph's own
budget, if it has one, still applies (each limit is the smaller of the two).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from thinktank.graphs.spec import GraphSpec
from thinktank.llm.budget import Budget
from thinktank.serve.wire import ChatMessage, ChatRequest, ServeError

KINDS = ("math", "choice", "text", "code")
"""Task kinds a request may name in ``metadata.kind`` (how candidate answers are voted on)."""

USD_HEADER = "x-thinktank-budget-usd"
TOKENS_HEADER = "x-thinktank-budget-tokens"


@dataclass(frozen=True)
class RunPlan:
    """What one request asks a graph to do."""

    prompt: str
    kind: str
    seed: int
    budget: Budget | None


def tools_refused(param: str) -> ServeError:
    return ServeError(
        400,
        "thinktank serve does not take tools: a served graph's agents use the tools the "
        "graph was built with and it returns a final answer, never a tool call; send the "
        "request without tools (or serve a graph whose nodes have the tools)",
        code="tools_not_supported",
        param=param,
    )


def _text(message: ChatMessage, index: int) -> str:
    content = message.content
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts = []
    for k, part in enumerate(content):
        if part.get("type") != "text" or not isinstance(part.get("text"), str):
            raise ServeError(
                400,
                f"only text content is supported, not {part.get('type')!r} parts",
                code="unsupported_content",
                param=f"messages.{index}.content.{k}",
            )
        parts.append(part["text"])
    return "\n".join(parts)


def task_prompt(messages: list[ChatMessage]) -> str:
    """The task prompt for a conversation (see the module docstring)."""
    for i, m in enumerate(messages):
        if m.role in ("tool", "function") or m.tool_calls:
            raise tools_refused(f"messages.{i}")
    last = messages[-1]
    if last.role != "user":
        raise ServeError(
            400,
            f"the last message must be the user's question (role 'user'), not {last.role!r}",
            code="invalid_value",
            param=f"messages.{len(messages) - 1}.role",
        )
    question = _text(last, len(messages) - 1)
    if not question.strip():
        raise ServeError(
            400,
            "the last user message is empty",
            code="invalid_value",
            param=f"messages.{len(messages) - 1}.content",
        )
    system = [_text(m, i) for i, m in enumerate(messages[:-1]) if m.role in ("system", "developer")]
    turns = [
        f"{m.role.capitalize()}: {_text(m, i)}"
        for i, m in enumerate(messages[:-1])
        if m.role in ("user", "assistant")
    ]
    sections = [s for s in system if s.strip()]
    if turns:
        sections.append("Earlier in this conversation:\n" + "\n".join(turns))
    return "\n\n".join([*sections, question])


def _number(value: Any, param: str, *, integer: bool) -> float | None:
    if value is None:
        return None
    try:
        x = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        x = math.nan
    if not math.isfinite(x) or x < 0 or (integer and x != int(x)):
        what = "a whole number of tokens" if integer else "a number of dollars"
        raise ServeError(
            400, f"{param} must be {what} ≥ 0, not {value!r}", code="invalid_value", param=param
        )
    return x


def _smaller(*values: float | None) -> float | None:
    given = [v for v in values if v is not None]
    return min(given) if given else None


def run_budget(
    spec: GraphSpec,
    headers: Any,
    metadata: dict[str, Any],
    default_usd: float | None = None,
) -> Budget | None:
    """The run's :class:`Budget`: the request's limits within the graph's own."""
    usd = _smaller(
        _number(headers.get(USD_HEADER), "X-Thinktank-Budget-Usd", integer=False),
        _number(metadata.get("budget_usd"), "metadata.budget_usd", integer=False),
    )
    tokens = _smaller(
        _number(headers.get(TOKENS_HEADER), "X-Thinktank-Budget-Tokens", integer=True),
        _number(metadata.get("budget_tokens"), "metadata.budget_tokens", integer=True),
    )
    if usd is None:
        usd = default_usd
    own = spec.budget.model_dump()
    limits = dict(own)
    limits["max_usd"] = _smaller(own.get("max_usd"), usd)
    max_tokens = _smaller(own.get("max_tokens"), tokens)
    limits["max_tokens"] = None if max_tokens is None else int(max_tokens)
    if all(v is None for v in limits.values()):
        return None
    return Budget(**limits, name="request")


def plan_run(
    req: ChatRequest, spec: GraphSpec, headers: Any, *, kind: str, default_usd: float | None
) -> RunPlan:
    """Check a request and turn it into a :class:`RunPlan` (a :class:`ServeError` if it cannot)."""
    if req.tools or req.tool_choice not in (None, "none"):
        raise tools_refused("tools")
    if req.functions or req.function_call not in (None, "none"):
        raise tools_refused("functions")
    if req.n not in (None, 1):
        raise ServeError(
            400,
            f"n must be 1, not {req.n}: a graph returns one answer (its samples are its own; "
            "serve a best_of_n graph for more)",
            code="invalid_value",
            param="n",
        )
    metadata = req.metadata or {}
    kind = str(metadata.get("kind") or kind)
    if kind not in KINDS:
        raise ServeError(
            400,
            f"unknown metadata.kind {kind!r}; valid kinds: {', '.join(KINDS)}",
            code="invalid_value",
            param="metadata.kind",
        )
    seed = req.seed if req.seed is not None else random.getrandbits(31)
    budget = run_budget(spec, headers, metadata, default_usd)
    return RunPlan(prompt=task_prompt(req.messages), kind=kind, seed=seed, budget=budget)
