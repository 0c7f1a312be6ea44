"""A :class:`Toolset`: the tools one agent may call, and the executor of its calls.

``execute(name, arguments)`` never raises for anything the model did: an unknown
tool, arguments that are not JSON or do not validate, a tool that raises or
times out all come back as error :class:`~thinktank.tools.base.ToolResult`\\ s
whose text tells the model how to do better. Control flow
(:class:`~thinktank.errors.ControlFlow`) and cancellation still propagate. The
content the model sees is cut to ``max_output_chars`` with a visible marker.
"""

from __future__ import annotations

import asyncio
import difflib
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from thinktank import telemetry
from thinktank.errors import ConfigError
from thinktank.llm.types import ToolCall
from thinktank.tools.base import Tool, ToolResult, truncate
from thinktank.tools.function import TOOL_NAME, FunctionTool

DEFAULT_MAX_OUTPUT_CHARS = 16_000
"""Default cap on the characters of one tool result sent to the model."""

ToolLike = Tool[Any] | Callable[..., Any]


class Toolset:
    """An ordered registry of tools with a forgiving executor.

    ``tools`` may mix :class:`Tool` objects and plain functions (wrapped with
    :func:`~thinktank.tools.tool`). ``max_output_chars`` caps each result's
    content (a tool's own ``max_output_chars`` wins); ``timeout_s`` bounds each
    call (``None``: no limit).
    """

    def __init__(
        self,
        tools: Iterable[ToolLike] = (),
        *,
        max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS,
        timeout_s: float | None = None,
    ) -> None:
        self.max_output_chars = max_output_chars
        self.timeout_s = timeout_s
        self._tools: dict[str, Tool[Any]] = {}
        for item in tools:
            self.add(item)

    # --- registry -----------------------------------------------------------------

    def add(self, item: ToolLike) -> Tool[Any]:
        """Register a tool (or wrap a function); duplicate names are a :class:`ConfigError`."""
        tool = item if isinstance(item, Tool) else FunctionTool(item)
        if not TOOL_NAME.match(tool.name):
            raise ConfigError(f"tool name {tool.name!r} must match {TOOL_NAME.pattern}")
        if tool.name in self._tools:
            raise ConfigError(f"two tools are named {tool.name!r}; rename one (e.g. a prefix)")
        self._tools[tool.name] = tool
        return tool

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __getitem__(self, name: str) -> Tool[Any]:
        return self._tools[name]

    def __iter__(self) -> Iterator[Tool[Any]]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def schemas(self) -> list[dict[str, Any]]:
        """OpenAI ``tools=[...]`` entries for every tool, in registration order."""
        return [t.openai_schema() for t in self._tools.values()]

    # --- execution ----------------------------------------------------------------

    async def execute(
        self, name: str, arguments: str | Mapping[str, Any] | None = None
    ) -> ToolResult:
        """Run one call; every failure the model caused comes back as an error result."""
        started = time.perf_counter()
        tool = self._tools.get(name)
        if tool is None:
            result = ToolResult.error(self._unknown(name), error_type="unknown_tool")
        else:
            try:
                if self.timeout_s is None:
                    result = await tool.invoke(arguments)
                else:
                    result = await asyncio.wait_for(tool.invoke(arguments), self.timeout_s)
            except TimeoutError:
                result = ToolResult.error(
                    f"tool '{name}' did not finish within {self.timeout_s:g} s and was stopped; "
                    "try a smaller request.",
                    error_type="timeout",
                )
        limit = tool.max_output_chars if tool and tool.max_output_chars else self.max_output_chars
        content, removed = truncate(result.content, limit)
        metadata = dict(result.metadata)
        metadata["duration_s"] = round(time.perf_counter() - started, 6)
        if removed:
            metadata["truncated_chars"] = removed
            metadata["original_chars"] = len(result.content)
        return ToolResult(content=content, is_error=result.is_error, metadata=metadata)

    async def execute_call(self, call: ToolCall) -> ToolResult:
        """Run a :class:`~thinktank.llm.types.ToolCall` from a completion."""
        result = await telemetry.tool(
            self.execute(call.name, call.arguments), call, self._tools.get(call.name)
        )
        result.metadata.setdefault("call_id", call.id)
        return result

    async def execute_calls(self, calls: Sequence[ToolCall]) -> list[ToolResult]:
        """Run several calls concurrently; results keep the calls' order."""
        return list(await asyncio.gather(*(self.execute_call(c) for c in calls)))

    def _unknown(self, name: str) -> str:
        available = ", ".join(self._tools) or "(none)"
        close = difflib.get_close_matches(name, list(self._tools), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        return f"unknown tool '{name}'.{hint} Available tools: {available}."
