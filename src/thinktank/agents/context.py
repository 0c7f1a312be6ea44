"""Context control: keep long tool-using conversations within the model's window.

Tool outputs are truncated when they arrive (see :func:`thinktank.tools.base.truncate`).
When the conversation's estimated size passes a threshold, the oldest tool
observations are replaced by a one-line stub, newest kept, until it fits; the
system prompt, the task and every assistant turn stay intact so the model keeps
its plan and knows which calls it made.
"""

from __future__ import annotations

from typing import Any

from thinktank.llm.base import estimate_prompt_tokens

ELIDED = "[older observation elided to save context: {n} characters]"


def elide_old_observations(
    messages: list[dict[str, Any]], *, max_tokens: int, keep_last: int = 3
) -> int:
    """Stub out old tool results in place until the estimate fits; returns how many were elided."""
    if estimate_prompt_tokens(messages) <= max_tokens:
        return 0
    tool_idx = [i for i, m in enumerate(messages) if m.get("role") == "tool" and not _is_stub(m)]
    elided = 0
    for i in tool_idx[: max(0, len(tool_idx) - keep_last)]:
        content = messages[i].get("content") or ""
        messages[i] = {**messages[i], "content": ELIDED.format(n=len(content))}
        elided += 1
        if estimate_prompt_tokens(messages) <= max_tokens:
            break
    return elided


def _is_stub(message: dict[str, Any]) -> bool:
    return str(message.get("content", "")).startswith("[older observation elided")
