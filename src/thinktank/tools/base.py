"""The tool contract: :class:`Tool`, :class:`ToolArgs` and :class:`ToolResult`.

A tool has a ``name``, a ``description`` and a pydantic argument model
(``args_model``) whose JSON schema becomes the OpenAI function schema. It
implements one method, :meth:`Tool.run`. Everything else ships with the base
class: :meth:`Tool.invoke` parses the model's arguments (a JSON string or a
mapping), validates them, runs the tool and turns every failure into an error
:class:`ToolResult` written for the model. Only control flow
(:class:`~thinktank.errors.ControlFlow`, e.g. a submit or a budget stop) and
cancellation pass through.

Write a tool as a subclass::

    class GrepArgs(ToolArgs):
        pattern: str
        \"\"\"Regular expression to look for.\"\"\"

    class Grep(Tool[GrepArgs]):
        name = "grep"
        description = "Search the repository for a pattern."
        args_model = GrepArgs

        async def run(self, args: GrepArgs) -> str: ...

or, for plain functions, with :func:`thinktank.tools.tool`.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from thinktank._strict import StrictModel
from thinktank.errors import ControlFlow, ModelFeedback
from thinktank.tools._args import (
    clean_schema,
    decode_arguments,
    describe_validation_error,
    render_value,
    signature_of,
)

log = logging.getLogger(__name__)

TRUNCATION_MARKER = "[… truncated {n} characters …]"
"""Inserted where :func:`truncate` removed text; ``{n}`` is the number of characters cut."""


class ToolResult(BaseModel):
    """What a tool call produced: the text the model sees plus data for records."""

    content: str
    """Text sent back to the model as the ``tool`` message."""
    is_error: bool = False
    """True when the call failed; ``content`` then explains what went wrong and how to fix it."""
    metadata: dict[str, Any] = Field(default_factory=dict)
    """Structured extras for traces and evaluators (never shown to the model)."""

    @classmethod
    def error(cls, message: str, **metadata: Any) -> ToolResult:
        """An error result whose content starts with ``Error:``."""
        text = message if message.startswith("Error") else f"Error: {message}"
        return cls(content=text, is_error=True, metadata=metadata)

    def to_message(self, call_id: str) -> dict[str, Any]:
        """The OpenAI ``tool`` message answering call ``call_id``."""
        return {"role": "tool", "tool_call_id": call_id, "content": self.content}


class ToolArgs(StrictModel):
    """Base for argument models: unknown arguments are refused, field docstrings become
    parameter descriptions in the schema."""

    model_config = ConfigDict(use_attribute_docstrings=True)


ArgsT = TypeVar("ArgsT", bound=BaseModel)


class Tool(ABC, Generic[ArgsT]):
    """A capability a model can call.

    Subclasses set ``name`` (``^[A-Za-z0-9_-]{1,64}$``), ``description`` and
    ``args_model`` (class or instance attributes) and implement :meth:`run`.
    """

    name: str
    """Function name the model calls."""
    description: str
    """What the tool does and when to use it; shown to the model."""
    args_model: type[ArgsT]
    """Pydantic model of the arguments; its JSON schema is the function's parameters."""
    max_output_chars: int | None = None
    """Per-tool limit on the content sent to the model (``None``: the toolset's limit)."""

    @abstractmethod
    async def run(self, args: ArgsT) -> Any:
        """Do the work.

        Return a :class:`ToolResult`, a string, or any JSON-serialisable value.
        Raise :class:`~thinktank.errors.ToolCallError` for a mistake the model
        should correct (its message is shown as is); any other exception becomes
        an error result naming the exception.
        """

    # --- built on run -------------------------------------------------------------

    def parameters_schema(self) -> dict[str, Any]:
        """JSON schema of the arguments (titles removed, ``$defs`` kept)."""
        return clean_schema(self.args_model.model_json_schema())

    def openai_schema(self) -> dict[str, Any]:
        """The OpenAI ``tools=[...]`` entry for this tool."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters_schema(),
            },
        }

    def signature(self) -> str:
        """A one-line call signature, e.g. ``fetch_page(url: string, start_index?: integer = 0)``."""
        return signature_of(self.name, self.parameters_schema())

    def parse_arguments(self, arguments: str | Mapping[str, Any] | None) -> ArgsT:
        """Decode and validate arguments; raises :class:`~thinktank.errors.ToolCallError`
        with a message for the model when they are not valid JSON or do not fit."""
        data = decode_arguments(self.name, arguments, self.signature)
        try:
            return self.args_model.model_validate(data)
        except ValidationError as exc:
            raise describe_validation_error(self.name, exc, self.signature()) from exc

    async def invoke(self, arguments: str | Mapping[str, Any] | None = None) -> ToolResult:
        """Parse, validate and run; every failure except control flow becomes an error result."""
        try:
            args = self.parse_arguments(arguments)
        except ModelFeedback as exc:
            return ToolResult.error(str(exc), error_type="invalid_arguments")
        try:
            value = await self.run(args)
        except ControlFlow:
            raise
        except ModelFeedback as exc:
            return ToolResult.error(str(exc), error_type=type(exc).__name__)
        except Exception as exc:
            log.debug("tool %s raised", self.name, exc_info=True)
            detail = str(exc) or "(no message)"
            return ToolResult.error(
                f"tool '{self.name}' failed: {type(exc).__name__}: {detail}",
                error_type="tool_exception",
                exception=type(exc).__name__,
            )
        if isinstance(value, ToolResult):
            return value
        return ToolResult(content=render_value(value))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def truncate(text: str, limit: int, *, head_fraction: float = 0.7) -> tuple[str, int]:
    """Shorten ``text`` to about ``limit`` characters, keeping its head and tail.

    Returns the new text and the number of characters removed (0 if none). The
    cut is marked with :data:`TRUNCATION_MARKER` so the model knows text is missing.
    """
    if limit <= 0 or len(text) <= limit:
        return text, 0
    removed = len(text) - limit
    head = int(limit * head_fraction)
    tail = limit - head
    marker = TRUNCATION_MARKER.format(n=f"{removed:,}")
    return f"{text[:head]}\n{marker}\n{text[len(text) - tail :] if tail else ''}", removed
