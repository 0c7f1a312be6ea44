"""Model access: the ChatModel contract, OpenAI-compatible client, retries, cache,
usage ledger, budgets, structured output and the text tool-call protocol.

Names are imported on first use (PEP 562): a module that needs one helper (the
role parsers read JSON with :func:`~thinktank.llm.structured.extract_json`) does
not load the whole client stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from thinktank._lazy import lazy_names

if TYPE_CHECKING:
    from thinktank.llm.base import Capabilities, ChatModel
    from thinktank.llm.budget import Budget
    from thinktank.llm.cache import ResponseCache
    from thinktank.llm.config import (
        LocalModelConfig,
        ModelConfig,
        OpenAIModelConfig,
        load_model,
        parse_model,
    )
    from thinktank.llm.ledger import CallRecord, UsageLedger, scope
    from thinktank.llm.pricing import cost_of, price_for, set_price
    from thinktank.llm.retry import RetryPolicy
    from thinktank.llm.structured import generate_structured
    from thinktank.llm.types import ChatRequest, Completion, Message, ToolCall, Usage

# public name -> module defining it
_LAZY: dict[str, str] = {
    "Capabilities": "thinktank.llm.base",
    "ChatModel": "thinktank.llm.base",
    "Budget": "thinktank.llm.budget",
    "ResponseCache": "thinktank.llm.cache",
    **dict.fromkeys(
        ("LocalModelConfig", "ModelConfig", "OpenAIModelConfig", "load_model", "parse_model"),
        "thinktank.llm.config",
    ),
    **dict.fromkeys(("CallRecord", "UsageLedger", "scope"), "thinktank.llm.ledger"),
    **dict.fromkeys(("cost_of", "price_for", "set_price"), "thinktank.llm.pricing"),
    "RetryPolicy": "thinktank.llm.retry",
    "generate_structured": "thinktank.llm.structured",
    **dict.fromkeys(
        ("ChatRequest", "Completion", "Message", "ToolCall", "Usage"), "thinktank.llm.types"
    ),
}


__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals())


__all__ = [
    "Budget",
    "CallRecord",
    "Capabilities",
    "ChatModel",
    "ChatRequest",
    "Completion",
    "LocalModelConfig",
    "Message",
    "ModelConfig",
    "OpenAIModelConfig",
    "ResponseCache",
    "RetryPolicy",
    "ToolCall",
    "Usage",
    "UsageLedger",
    "cost_of",
    "generate_structured",
    "load_model",
    "parse_model",
    "price_for",
    "scope",
    "set_price",
]
