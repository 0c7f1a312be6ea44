"""MCP tools loaded from a real stdio server (tests/tools/mcp_server.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from thinktank.tools import Toolset
from thinktank.tools.errors import MCPError
from thinktank.tools.mcp import MCPStdioConfig

SERVER = str(Path(__file__).with_name("mcp_server.py"))


def config(**options: object) -> MCPStdioConfig:
    return MCPStdioConfig(command=sys.executable, args=[SERVER], **options)  # type: ignore[arg-type]


async def test_server_tools_become_thinktank_tools() -> None:
    async with config(prefix="demo_", exclude=["nap"]).build() as server:
        tools = Toolset(server.tools)
        assert tools.names == ["demo_add", "demo_echo", "demo_fail"]
        schema = tools["demo_add"].openai_schema()["function"]
        assert schema["description"] == "Add two integers."
        assert schema["parameters"]["required"] == ["a", "b"]
        assert schema["parameters"]["properties"]["a"]["type"] == "integer"

        added = await tools.execute("demo_add", '{"a": 2, "b": 40}')
        assert not added.is_error and added.content == "42"
        echoed = await tools.execute("demo_echo", {"text": "hi", "times": 3})
        assert echoed.content == "hi hi hi" and echoed.metadata["mcp_tool"] == "echo"


async def test_server_side_errors_come_back_as_error_results() -> None:
    async with config(include=["add", "fail"]).build() as server:
        tools = Toolset(server.tools)
        failed = await tools.execute("fail", {"message": "broken on purpose"})
        assert failed.is_error and "broken on purpose" in failed.content
        wrong = await tools.execute("add", {"a": "two", "b": 1})
        assert wrong.is_error and "a" in wrong.content
        bad_json = await tools.execute("add", "{nope")
        assert bad_json.is_error and "not valid JSON" in bad_json.content


async def test_call_timeout_and_closed_server() -> None:
    server = config(call_timeout_s=0.3).build()
    async with server:
        [nap] = [t for t in server.tools if t.name == "nap"]
        slow = await nap.invoke({"seconds": 5})
        assert slow.is_error and "did not answer within 0.3 s" in slow.content
    after = await nap.invoke({"seconds": 0})
    assert after.is_error and "not running" in after.content


async def test_a_server_that_cannot_start_is_an_mcp_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("import sys; sys.exit(3)\n")
    with pytest.raises(MCPError, match="could not start MCP server"):
        async with MCPStdioConfig(
            command=sys.executable, args=[str(broken)], startup_timeout_s=10
        ).build():
            pass
