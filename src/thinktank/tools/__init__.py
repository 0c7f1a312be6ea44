"""Tools: the contract (:class:`Tool`, :func:`tool`, :class:`ToolResult`, :class:`Toolset`)
and the built-in tools. Web tools live in :mod:`thinktank.tools.web`, MCP loading in
:mod:`thinktank.tools.mcp`; both import their dependencies only when used."""

from __future__ import annotations

from thinktank.tools.base import TRUNCATION_MARKER, Tool, ToolArgs, ToolResult, truncate
from thinktank.tools.function import FunctionTool, tool
from thinktank.tools.toolset import DEFAULT_MAX_OUTPUT_CHARS, Toolset

__all__ = [
    "DEFAULT_MAX_OUTPUT_CHARS",
    "TRUNCATION_MARKER",
    "FunctionTool",
    "Tool",
    "ToolArgs",
    "ToolResult",
    "Toolset",
    "tool",
    "truncate",
]
