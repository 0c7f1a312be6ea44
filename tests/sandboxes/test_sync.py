"""The blocking facade works from plain code and from inside a running event loop."""

from __future__ import annotations

import asyncio

import pytest

from thinktank.sandboxes import SandboxClosed
from thinktank.sandboxes.sync import SyncSandbox


def test_sync_sandbox_from_plain_code() -> None:
    with SyncSandbox({"type": "local"}) as sb:
        assert sb.exec("echo hi").stdout == "hi\n"
        assert sb.run_python("print(6*7)").stdout == "42\n"
        sb.write_file("f.txt", "data")
        assert sb.read_text("f.txt") == "data"
        py = sb.python_session()
        py.run("x = 2")
        assert py.run("x * 21").stdout == "42\n"
        py.close()
    with pytest.raises(SandboxClosed):
        sb.exec("true")
    sb.close()  # idempotent


async def test_sync_sandbox_inside_a_running_loop() -> None:
    def work() -> str:
        with SyncSandbox({"type": "local"}) as sb:
            return sb.exec("echo from-thread").stdout

    assert await asyncio.to_thread(work) == "from-thread\n"
    with SyncSandbox({"type": "local"}) as sb:  # called directly from async code, too
        assert sb.exec("echo direct").stdout == "direct\n"
