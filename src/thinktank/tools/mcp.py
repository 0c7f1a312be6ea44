"""Load the tools of an MCP server (stdio transport) as thinktank tools.

::

    config = MCPStdioConfig(command="python", args=["my_server.py"], prefix="fs_")
    async with config.build() as server:
        toolset = Toolset(server.tools)

The server runs as a subprocess for the life of the ``async with`` block (enter
and leave it in the same task: the MCP client keeps a task group open). Each MCP
tool becomes an :class:`MCPTool` whose parameters schema is the server's own JSON
schema; the server validates arguments, and its errors (``isError`` results and
protocol errors such as invalid parameters) come back to the model as error
results. Works with the ``mcp`` package's 1.x and 2.x client APIs.
"""

from __future__ import annotations

import base64
import re
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, Literal

import anyio
from pydantic import BaseModel, ConfigDict, Field

from thinktank._strict import StrictModel
from thinktank.errors import MissingDependency, ToolCallError
from thinktank.tools.base import Tool, ToolResult
from thinktank.tools.errors import MCPError

INSTALL_HINT = "pip install 'thinktank[mcp]'"


class MCPStdioConfig(StrictModel):
    """An MCP server started as a subprocess and spoken to over stdin/stdout."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    type: Literal["stdio"] = "stdio"
    command: str
    """Executable that starts the server (e.g. ``python``, ``npx``, ``uvx``)."""
    args: list[str] = Field(default_factory=list)
    """Its arguments."""
    env: dict[str, str] | None = None
    """Extra environment variables for the server (on top of a minimal safe set)."""
    cwd: Path | None = None
    """Working directory of the server process."""
    prefix: str = ""
    """Prepended to every tool name, to keep names unique across servers."""
    include: list[str] | None = None
    """Only these server tools (default: all)."""
    exclude: list[str] = Field(default_factory=list)
    """Server tools to leave out."""
    startup_timeout_s: float = 30.0
    """Seconds to start, initialise and list tools."""
    call_timeout_s: float = 120.0
    """Seconds one tool call may take."""

    def build(self) -> MCPServer:
        """An unstarted connection; start it with ``async with``."""
        return MCPServer(self)


class _AnyArgs(BaseModel):
    """Arguments are passed through; the MCP server validates them against its schema."""

    model_config = ConfigDict(extra="allow")


def _get(obj: Any, *names: str, default: Any = None) -> Any:
    """Read a field under its 2.x (snake_case) or 1.x (camelCase) name."""
    for name in names:
        if hasattr(obj, name):
            return getattr(obj, name)
    return default


class MCPTool(Tool[_AnyArgs]):
    """One tool of a connected :class:`MCPServer`."""

    args_model = _AnyArgs

    def __init__(self, server: MCPServer, remote: Any, prefix: str = "") -> None:
        self.server = server
        self.remote_name: str = remote.name
        self.name = re.sub(r"[^A-Za-z0-9_-]", "_", f"{prefix}{remote.name}")[:64]
        self.description = _get(remote, "description") or f"MCP tool {remote.name}"
        schema = _get(remote, "input_schema", "inputSchema") or {}
        self._schema: dict[str, Any] = {"type": "object", "properties": {}, **dict(schema)}

    def parameters_schema(self) -> dict[str, Any]:
        return self._schema

    async def run(self, args: _AnyArgs) -> ToolResult:
        return await self.server.call(self.remote_name, args.model_dump())


def _render(block: Any) -> str:
    kind = _get(block, "type")
    if kind == "text":
        return str(block.text)
    if kind in ("image", "audio"):
        size = len(base64.b64decode(block.data or "", validate=False)) if block.data else 0
        return f"[{kind}: {_get(block, 'mime_type', 'mimeType')}, {size:,} bytes]"
    if kind == "resource":
        resource = block.resource
        text = _get(resource, "text")
        return str(text) if text is not None else f"[binary resource {resource.uri}]"
    if kind == "resource_link":
        return f"[resource {_get(block, 'uri')}]"
    return str(block)


class MCPServer:
    """A live connection to one MCP server; ``tools`` is filled once it has started."""

    def __init__(self, config: MCPStdioConfig) -> None:
        self.config = config
        self.tools: list[MCPTool] = []
        self._stack: AsyncExitStack | None = None
        self._session: Any = None

    async def __aenter__(self) -> MCPServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def start(self) -> None:
        try:
            from mcp import ClientSession, StdioServerParameters
            from mcp.client.stdio import stdio_client
        except ImportError as exc:
            raise MissingDependency(
                f"loading MCP tools needs the mcp package: {INSTALL_HINT}"
            ) from exc
        c = self.config
        params = StdioServerParameters(command=c.command, args=c.args, env=c.env, cwd=c.cwd)
        self._stack = AsyncExitStack()
        try:
            # The client's task groups must be entered outside the timeout's cancel scope.
            read, write = await self._stack.enter_async_context(stdio_client(params))
            self._session = await self._stack.enter_async_context(ClientSession(read, write))
            with anyio.fail_after(c.startup_timeout_s):
                await self._session.initialize()
                remote_tools = await self._list_tools()
        except BaseException as exc:
            await self.aclose()
            if isinstance(exc, Exception):
                raise MCPError(
                    f"could not start MCP server {c.command!r}: {type(exc).__name__}: {exc}"
                ) from exc
            raise
        wanted = set(c.include) if c.include is not None else None
        self.tools = [
            MCPTool(self, t, c.prefix)
            for t in remote_tools
            if (wanted is None or t.name in wanted) and t.name not in c.exclude
        ]

    async def _list_tools(self) -> list[Any]:
        result = await self._session.list_tools()
        tools = list(result.tools)
        cursor = _get(result, "next_cursor", "nextCursor")
        while cursor:
            try:
                from mcp.types import PaginatedRequestParams

                result = await self._session.list_tools(
                    params=PaginatedRequestParams(cursor=cursor)
                )
            except (ImportError, TypeError):  # mcp 1.x
                result = await self._session.list_tools(cursor=cursor)
            tools += result.tools
            cursor = _get(result, "next_cursor", "nextCursor")
        return tools

    async def call(self, name: str, arguments: dict[str, Any]) -> ToolResult:
        """Call a server tool; protocol errors become :class:`ToolCallError` for the model."""
        if self._session is None:
            raise MCPError(
                "the MCP server is not running; use `async with config.build() as server`"
            )
        try:
            with anyio.fail_after(self.config.call_timeout_s):
                result = await self._session.call_tool(name, arguments)
        except TimeoutError as exc:
            raise MCPError(
                f"MCP tool {name!r} did not answer within {self.config.call_timeout_s:g} s"
            ) from exc
        except Exception as exc:
            if type(exc).__name__ in ("MCPError", "McpError"):  # the server refused the call
                raise ToolCallError(f"MCP tool {name!r} refused the call: {exc}") from exc
            raise
        text = "\n".join(_render(b) for b in result.content)
        structured = _get(result, "structured_content", "structuredContent")
        if not text and structured is not None:
            text = str(structured)
        metadata = {"mcp_tool": name, "structured": structured}
        if _get(result, "is_error", "isError", default=False):
            return ToolResult.error(
                text or f"MCP tool {name!r} failed without a message", **metadata
            )
        return ToolResult(content=text, metadata=metadata)

    async def aclose(self) -> None:
        stack, self._stack, self._session = self._stack, None, None
        if stack is not None:
            await stack.aclose()
