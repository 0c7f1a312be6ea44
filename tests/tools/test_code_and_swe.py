"""Code and SWE editing tools through a real Docker sandbox, driven by scripted agents."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from thinktank.agents.agent import Agent
from thinktank.llm.testing import ScriptedModel
from thinktank.sandboxes import DockerSandboxConfig, Sandbox
from thinktank.sandboxes.testing import require_docker
from thinktank.tools import Toolset
from thinktank.tools.code import BashTool, PythonTool
from thinktank.tools.swe import swe_tools

pytestmark = pytest.mark.docker

CALC = "def add(a, b):\n    return a - b\n\n\ndef sub(a, b):\n    return a - b\n"
TEST = "from calc import add, sub\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\ndef test_sub():\n    assert sub(5, 3) == 2\n"


@pytest_asyncio.fixture(loop_scope="function")
async def sandbox() -> AsyncIterator[Sandbox]:
    require_docker()
    provider = DockerSandboxConfig().build()
    async with provider.sandbox() as sb:
        yield sb
    await provider.aclose()


async def make_repo(sb: Sandbox) -> tuple[str, str]:
    await sb.write_file("repo/calc.py", CALC)
    await sb.write_file("repo/test_calc.py", TEST)
    git = "git -c user.email=t@example.invalid -c user.name=t"
    res = await sb.exec(
        f"cd repo && git init -q && {git} add -A && {git} commit -qm base && git rev-parse HEAD"
    )
    assert res.exit_code == 0, res.stderr
    return sb.path("repo"), res.stdout.strip()


async def test_agent_fixes_a_bug_and_submits_a_patch_that_applies(sandbox: Sandbox) -> None:
    repo, base = await make_repo(sandbox)
    tools = Toolset([*swe_tools(sandbox, repo, base_commit=base), BashTool(sandbox)])
    model = ScriptedModel(
        [
            {"name": "view", "arguments": {"path": "."}},
            {"name": "grep", "arguments": {"pattern": "def add", "include": "*.py"}},
            {"name": "view", "arguments": {"path": "calc.py", "view_range": [1, 2]}},
            {
                "name": "str_replace",
                "arguments": {
                    "path": "calc.py",
                    "old_str": "return a - b",
                    "new_str": "return a + b",
                },
            },
            {
                "name": "str_replace",
                "arguments": {
                    "path": "calc.py",
                    "old_str": "def add(a, b):\n    return a - b",
                    "new_str": "def add(a, b):\n    return a + b",
                },
            },
            {
                "name": "bash",
                "arguments": {"command": f"cd {repo} && python3 -m pytest -q -p no:cacheprovider"},
            },
            {"name": "submit", "arguments": {}},
        ]
    )
    traj = await Agent("solver", model, tools=tools, max_steps=10).run("Fix add() in calc.py")
    calls = [s.tool_calls[0] for s in traj.steps]
    assert "calc.py" in calls[0].content and "test_calc.py" in calls[0].content
    assert "calc.py:1:def add(a, b):" in calls[1].content
    assert (
        "     1\tdef add(a, b):" in calls[2].content
        and "     2\t    return a - b" in calls[2].content
    )
    assert (
        calls[3].is_error and "occurs 2 times" in calls[3].content and "[2, 6]" in calls[3].content
    )
    assert not calls[4].is_error and "return a + b" in calls[4].content
    assert not calls[5].is_error and "2 passed" in calls[5].content
    assert traj.status == "submitted"
    patch = traj.output
    assert "-    return a - b\n+    return a + b" in patch and patch.count("diff --git") == 1
    # the patch resolves the bug from a clean checkout
    await sandbox.exec(f"cd {repo} && git stash -q && git status --short")
    await sandbox.write_file("fix.patch", patch)
    res = await sandbox.exec(
        f"cd {repo} && git checkout -q {base} -- . && git apply ../fix.patch && python3 -m pytest -q -p no:cacheprovider"
    )
    assert res.exit_code == 0 and "2 passed" in res.stdout, res.stdout + res.stderr


async def test_editing_semantics(sandbox: Sandbox) -> None:
    repo, base = await make_repo(sandbox)
    ts = Toolset(swe_tools(sandbox, repo, base_commit=base))
    miss = await ts.execute(
        "str_replace", {"path": "calc.py", "old_str": "return a * b", "new_str": "x"}
    )
    assert miss.is_error and "does not occur" in miss.content and "similar lines" in miss.content
    assert (await ts.execute("create", {"path": "calc.py", "file_text": "x"})).is_error
    made = await ts.execute("create", {"path": "pkg/new.py", "file_text": "VALUE = 1\n"})
    assert not made.is_error and (await sandbox.read_text("repo/pkg/new.py")) == "VALUE = 1\n"
    ins = await ts.execute(
        "insert", {"path": "calc.py", "insert_line": 0, "new_str": '"""Calculator."""'}
    )
    assert not ins.is_error and (await sandbox.read_text("repo/calc.py")).startswith(
        '"""Calculator."""\ndef add'
    )
    assert not (await ts.execute("undo_edit", {"path": "calc.py"})).is_error
    assert (await sandbox.read_text("repo/calc.py")) == CALC
    assert (await ts.execute("undo_edit", {"path": "calc.py"})).is_error
    assert not (await ts.execute("undo_edit", {"path": "pkg/new.py"})).is_error
    assert (await ts.execute("view", {"path": "pkg/new.py"})).is_error
    for bad in ("../etc/passwd", "/etc/passwd", ".git/config"):
        res = await ts.execute("view", {"path": bad})
        assert res.is_error, bad
    assert "no matches" in (await ts.execute("grep", {"pattern": "nothing_here"})).content
    assert (await ts.execute("view", {"path": "calc.py", "view_range": [50, 60]})).is_error


async def test_python_tool_fresh_and_stateful(sandbox: Sandbox) -> None:
    fresh = PythonTool(sandbox)
    assert (await fresh.invoke({"code": "x = 6 * 7\nprint(x)"})).content == "42"
    gone = await fresh.invoke({"code": "print(x)"})
    assert gone.is_error and "NameError" in gone.content
    stateful = PythonTool(sandbox, stateful=True)
    try:
        await stateful.invoke({"code": "import math\nx = math.factorial(5)"})
        assert (await stateful.invoke({"code": "x + 1"})).content.strip() == "121"
    finally:
        await stateful.close()


async def test_bash_tool_reports_timeouts_and_missing_commands(sandbox: Sandbox) -> None:
    bash = BashTool(sandbox, timeout_s=2)
    slow = await bash.invoke({"command": "sleep 30"})
    assert slow.is_error and "timed out" in slow.content and slow.metadata["timed_out"]
    missing = await bash.invoke({"command": "no-such-tool --flag"})
    assert missing.is_error and "command not found" in missing.content
