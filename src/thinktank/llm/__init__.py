"""Model access: the ChatModel contract, OpenAI-compatible client, retries, cache,
usage ledger, budgets, structured output and the text tool-call protocol."""

from __future__ import annotations

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
