"""The sandbox conformance suite: behaviour every backend must show (imports pytest).

Subclass :class:`SandboxConformance` in a test module and provide two fixtures:
``sandbox_provider`` (a :class:`~thinktank.sandboxes.provider.SandboxProvider`) and ``sandbox``
(an open sandbox from it, which tests may share: they use unique paths and leave no
processes behind). thinktank runs it over Docker, local and pooled sandboxes in
``tests/conformance/``; a third-party backend can run it the same way.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from pathlib import Path

import pytest

from thinktank.sandboxes.base import Sandbox
from thinktank.sandboxes.errors import (
    FileTooLarge,
    PathRejected,
    SandboxClosed,
    SandboxFileError,
    SandboxFileNotFound,
)
from thinktank.sandboxes.provider import SandboxProvider


def _uid() -> str:
    return uuid.uuid4().hex[:8]


async def _gone(sandbox: Sandbox, marker: str) -> bool:
    """True when no process in the sandbox has ``marker`` in its command line."""
    res = await sandbox.exec(["ps", "-eo", "args="], timeout=10)
    return not [line for line in res.stdout.splitlines() if marker in line and "ps -eo" not in line]


class SandboxConformance:
    """Contract tests; a subclass supplies the ``sandbox_provider`` and ``sandbox`` fixtures."""

    # --- exec -------------------------------------------------------------------------

    async def test_exec_streams_and_exit_code(self, sandbox: Sandbox) -> None:
        res = await sandbox.exec("echo out; echo err >&2; exit 3")
        assert (res.exit_code, res.stdout, res.stderr) == (3, "out\n", "err\n")
        assert (
            not (res.timed_out or res.oom_killed or res.truncated)
            and res.duration_s > 0
            and not res.ok
        )

    async def test_argv_is_not_shell_parsed(self, sandbox: Sandbox) -> None:
        res = await sandbox.exec(["printf", "%s|", "a b", "$HOME", "'q'"])
        assert res.stdout == "a b|$HOME|'q'|" and res.ok

    async def test_command_not_found_is_127_not_an_exception(self, sandbox: Sandbox) -> None:
        assert (await sandbox.exec("no-such-command-xyz")).exit_code == 127
        assert (await sandbox.exec(["no-such-command-xyz"])).exit_code == 127

    async def test_non_utf8_output_is_replaced_and_bytes_kept(self, sandbox: Sandbox) -> None:
        res = await sandbox.exec(["printf", "\\377\\376ok"])
        assert res.stdout_bytes == b"\xff\xfeok" and res.stdout == "\ufffd\ufffdok"

    async def test_binary_output_without_decoding(self, sandbox: Sandbox) -> None:
        res = await sandbox.exec(["printf", "\\377ok"], decode=False)
        assert res.stdout == "" and res.stdout_bytes == b"\xffok" and res.ok

    async def test_stdin_text_bytes_and_large(self, sandbox: Sandbox) -> None:
        assert (await sandbox.exec("cat", stdin="héllo")).stdout == "héllo"
        blob = os.urandom(3 << 20)
        res = await sandbox.exec(
            [
                "python3",
                "-c",
                "import sys,hashlib; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())",
            ],
            stdin=blob,
        )
        import hashlib

        assert res.stdout.strip() == hashlib.sha256(blob).hexdigest()
        # a command that never reads its stdin must not hang the call
        assert (await sandbox.exec("true", stdin=b"x" * (1 << 20), timeout=10)).exit_code == 0

    async def test_env_cwd(self, sandbox: Sandbox) -> None:
        d = f"cwd-{_uid()}"
        await sandbox.exec(["mkdir", "-p", d])
        res = await sandbox.exec("echo $FOO; pwd", env={"FOO": "bar"}, cwd=d)
        assert res.stdout == f"bar\n{sandbox.path(d)}\n"
        assert (await sandbox.exec("true", cwd="does-not-exist")).exit_code != 0
        with pytest.raises(ValueError):
            await sandbox.exec("true", env={"BAD NAME": "x"})

    async def test_output_is_capped_per_stream(self, sandbox: Sandbox) -> None:
        res = await sandbox.exec("head -c 3000000 /dev/zero; echo tail >&2", output_cap=65536)
        assert (
            res.truncated
            and len(res.stdout_bytes) == 65536
            and res.stderr == "tail\n"
            and res.exit_code == 0
        )

    async def test_flood_until_timeout_is_bounded(self, sandbox: Sandbox) -> None:
        res = await sandbox.exec("yes", timeout=1.5, output_cap=4096)
        assert (
            res.timed_out
            and res.truncated
            and len(res.stdout_bytes) == 4096
            and res.duration_s < 10
        )

    async def test_concurrent_execs(self, sandbox: Sandbox) -> None:
        results = await asyncio.gather(*(sandbox.exec(f"sleep 0.2; echo {i}") for i in range(8)))
        assert [r.stdout for r in results] == [f"{i}\n" for i in range(8)]

    # --- timeouts kill the whole tree ---------------------------------------------------

    async def test_timeout_kills_the_tree(self, sandbox: Sandbox) -> None:
        tag = str(3000 + int(_uid(), 16) % 900)
        start = time.monotonic()
        res = await sandbox.exec(
            f"sleep {tag}1 & sleep {tag}2 & (setsid sleep {tag}3 &); while :; do :; done", timeout=1
        )
        assert res.timed_out and time.monotonic() - start < 8
        for n in (1, 2, 3):
            assert await _gone(sandbox, f"sleep {tag}{n}"), f"sleep {tag}{n} survived the timeout"

    async def test_background_job_does_not_hold_the_call(self, sandbox: Sandbox) -> None:
        tag = str(4000 + int(_uid(), 16) % 900)
        start = time.monotonic()
        res = await sandbox.exec(f"sleep {tag}7 & echo started")
        assert res.stdout == "started\n" and not res.timed_out and time.monotonic() - start < 3
        await sandbox.exec(f"pkill -f 'sleep {tag}7'")

    async def test_cancelling_a_call_kills_its_process(self, sandbox: Sandbox) -> None:
        tag = str(5000 + int(_uid(), 16) % 900)
        task = asyncio.ensure_future(sandbox.exec(f"sleep {tag}9", timeout=60))
        await asyncio.sleep(0.8)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(40):
            if await _gone(sandbox, f"sleep {tag}9"):
                break
            await asyncio.sleep(0.1)
        assert await _gone(sandbox, f"sleep {tag}9")

    # --- Python -------------------------------------------------------------------------

    async def test_run_python(self, sandbox: Sandbox) -> None:
        assert (await sandbox.run_python("print(6*7)")).stdout == "42\n"
        res = await sandbox.run_python("raise SystemExit(4)")
        assert res.exit_code == 4
        big = "x = 1\n" * 30000 + "print(x)"
        assert (await sandbox.run_python(big)).stdout == "1\n"

    async def test_python_session_keeps_state(self, sandbox: Sandbox) -> None:
        async with sandbox.python_session() as py:
            assert (await py.run("import math\nx = 41")).ok
            res = await py.run("x + 1")
            assert res.stdout == "42\n" and res.exit_code == 0
            err = await py.run("print('before'); 1/0")
            assert err.exit_code == 1 and err.error == "ZeroDivisionError: division by zero"
            assert "ZeroDivisionError" in err.stderr and err.stdout == "before\n"
            assert (await py.run("print(x, math.pi > 3)")).stdout == "41 True\n"
            sub = await py.run("import subprocess; subprocess.run(['echo', 'child']); None")
            assert sub.stdout == "child\n"

    async def test_python_session_timeout_keeps_state(self, sandbox: Sandbox) -> None:
        async with sandbox.python_session() as py:
            await py.run("y = 'kept'")
            res = await py.run("import time\nwhile True: time.sleep(0.01)", timeout=1)
            assert (
                res.timed_out and not res.session_restarted and res.error and "Timeout" in res.error
            )
            assert (await py.run("y")).stdout == "'kept'\n"

    async def test_python_session_hard_timeout_restarts(
        self, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from thinktank.sandboxes import session as session_mod

        monkeypatch.setattr(session_mod, "HARD_GRACE_S", 1.0)
        async with sandbox.python_session() as py:
            await py.run("w = 1")
            stuck = (
                "import signal, time\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\ntime.sleep(60)"
            )
            start = time.monotonic()
            res = await py.run(stuck, timeout=1)
            assert res.timed_out and res.session_restarted and time.monotonic() - start < 10
            assert (await py.run("print('fresh')")).stdout == "fresh\n"
            await py.restart()
            assert (await py.run("'w' in globals()")).stdout == "False\n"

    async def test_python_session_survives_a_dead_interpreter(self, sandbox: Sandbox) -> None:
        async with sandbox.python_session() as py:
            await py.run("z = 1")
            res = await py.run("import os; os._exit(9)")
            assert res.session_restarted and not res.ok
            assert (await py.run("print('alive')")).stdout == "alive\n"
            assert (await py.run("z")).error is not None  # state was lost, and said so
        with pytest.raises(SandboxClosed):
            await py.run("1")

    async def test_python_session_output_cap(self, sandbox: Sandbox) -> None:
        async with sandbox.python_session() as py:
            res = await py.run("print('x' * 500000)", output_cap=1024)
            assert res.truncated and len(res.stdout_bytes) == 1024
            assert (await py.run("print('small')")).stdout == "small\n"

    # --- files --------------------------------------------------------------------------

    async def test_write_read_roundtrip(self, sandbox: Sandbox) -> None:
        name = f"files-{_uid()}/deep/er/data.bin"
        blob = bytes(range(256)) * 64
        full = await sandbox.write_file(name, blob)
        assert full == sandbox.path(name)
        assert await sandbox.read_file(name) == blob
        assert (await sandbox.exec(["sha256sum", name])).ok
        await sandbox.write_file(name, "replaced")
        assert await sandbox.read_text(name) == "replaced"
        script = f"run-{_uid()}.sh"
        await sandbox.write_file(script, "#!/bin/sh\necho ran\n", mode=0o755)
        assert (await sandbox.exec(f"./{script}")).stdout == "ran\n"

    async def test_file_errors(self, sandbox: Sandbox) -> None:
        with pytest.raises(SandboxFileNotFound):
            await sandbox.read_file(f"missing-{_uid()}")
        d = f"dir-{_uid()}"
        await sandbox.exec(["mkdir", d])
        with pytest.raises(SandboxFileError):
            await sandbox.read_file(d)
        await sandbox.write_file(f"{d}/big", b"x" * 5000)
        with pytest.raises(FileTooLarge):
            await sandbox.read_file(f"{d}/big", max_bytes=1000)
        with pytest.raises(FileTooLarge):
            await sandbox.write_file(f"{d}/huge", b"x" * (sandbox.max_file_bytes + 1))

    async def test_paths_with_dotdot_are_rejected(self, sandbox: Sandbox) -> None:
        for bad in ("../escape", "a/../../b", "ok/../x"):
            with pytest.raises(PathRejected):
                await sandbox.write_file(bad, "x")
            with pytest.raises(PathRejected):
                await sandbox.read_file(bad)

    async def test_symlinks_are_never_followed_on_read(self, sandbox: Sandbox) -> None:
        link = f"link-{_uid()}"
        await sandbox.exec(["ln", "-s", "/etc/passwd", link])
        with pytest.raises(PathRejected):
            await sandbox.read_file(link)

    async def test_upload_and_download(self, sandbox: Sandbox, tmp_path: Path) -> None:
        src = tmp_path / "src"
        (src / "pkg").mkdir(parents=True)
        (src / "pkg" / "mod.py").write_text("VALUE = 7\n")
        (src / "top.txt").write_bytes(b"\x00\x01binary")
        (src / "alias.py").symlink_to("pkg/mod.py")
        dest = f"up-{_uid()}"
        assert await sandbox.upload(src, dest) == sandbox.path(dest)
        res = await sandbox.exec(["python3", "-c", "import pkg.mod as m; print(m.VALUE)"], cwd=dest)
        assert res.stdout == "7\n"
        await sandbox.exec(["ln", "-s", "/etc/passwd", f"{dest}/evil"])
        await sandbox.exec(["ln", "-s", "../../../../../../etc", f"{dest}/pkg/up"])
        out = await sandbox.download(dest, tmp_path / "out")
        assert (out / "pkg" / "mod.py").read_text() == "VALUE = 7\n"
        assert (out / "top.txt").read_bytes() == b"\x00\x01binary"
        assert (out / "alias.py").is_symlink() and (out / "alias.py").read_text() == "VALUE = 7\n"
        assert not (out / "evil").exists() and not (out / "evil").is_symlink()
        assert not (out / "pkg" / "up").exists() and not (out / "pkg" / "up").is_symlink()
        one = await sandbox.download(f"{dest}/top.txt", tmp_path / "single")
        assert one.read_bytes() == b"\x00\x01binary"

    async def test_upload_refuses_links_leaving_the_tree(
        self, sandbox: Sandbox, tmp_path: Path
    ) -> None:
        src = tmp_path / "bad"
        src.mkdir()
        (src / "secret").symlink_to("/etc/passwd")
        with pytest.raises(PathRejected):
            await sandbox.upload(src, f"bad-{_uid()}")
        (src / "secret").unlink()
        (src / "up").symlink_to("../../outside")
        with pytest.raises(PathRejected):
            await sandbox.upload(src, f"bad-{_uid()}")

    # --- lifecycle ----------------------------------------------------------------------

    async def test_host_environment_does_not_leak(self, sandbox_provider: SandboxProvider) -> None:
        os.environ["THINKTANK_TEST_SECRET"] = "s3cr3t-value"
        try:
            async with sandbox_provider.sandbox() as sb:
                res = await sb.exec("env; cat /proc/1/environ 2>/dev/null | tr '\\0' '\\n'")
        finally:
            del os.environ["THINKTANK_TEST_SECRET"]
        assert "s3cr3t-value" not in res.stdout and "THINKTANK_TEST_SECRET" not in res.stdout

    async def test_use_after_close_raises(self, sandbox_provider: SandboxProvider) -> None:
        sb = await sandbox_provider.create()
        async with sb:
            assert (await sb.exec("true")).ok
        await sb.close()  # idempotent
        assert sb.closed
        with pytest.raises(SandboxClosed):
            await sb.exec("true")
        with pytest.raises(SandboxClosed):
            await sb.run_python("1")
        with pytest.raises(SandboxClosed):
            await sb.write_file("x", "y")
        with pytest.raises(SandboxClosed):
            sb.python_session()

    async def test_reset_wipes_files_and_processes(self, sandbox_provider: SandboxProvider) -> None:
        async with sandbox_provider.sandbox() as sb:
            await sb.write_file("junk/file.txt", "x")
            await sb.exec("sleep 4242 &")
            if not await sb.reset():
                pytest.skip(f"{sb.backend} sandboxes cannot be reset")
            assert (await sb.exec("ls -A")).stdout == ""
            assert await _gone(sb, "sleep 4242")
            assert (await sb.exec("echo fine")).stdout == "fine\n"
