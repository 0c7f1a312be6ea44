"""Local backend specifics: dropped privileges, private network, rlimits, confinement."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

import pytest

from thinktank.sandboxes import LocalSandboxConfig, PathRejected, SandboxFileError
from thinktank.sandboxes.local import LocalSandbox

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _local(**kw: object) -> LocalSandbox:
    sb = await LocalSandboxConfig(**kw).build().create()  # type: ignore[arg-type]
    assert isinstance(sb, LocalSandbox)
    return sb


@pytest.mark.skipif(os.geteuid() != 0, reason="drops to nobody only when run as root")
async def test_runs_as_nobody_when_root() -> None:
    async with await _local() as sb:
        assert (await sb.exec("id -un")).stdout == "nobody\n"
        assert (await sb.exec("touch /root/x")).exit_code != 0


async def test_private_network_with_only_loopback() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    try:
        async with await _local() as sb:
            links = await sb.exec("ip -o link | cut -d: -f2")
            assert links.stdout.split() == ["lo"]
            probe = f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n    print('reached')\nexcept OSError:\n    print('unreachable')"
            assert (await sb.run_python(probe)).stdout == "unreachable\n"
    finally:
        server.close()


async def test_rlimits_apply() -> None:
    async with await _local(memory_mb=512, max_processes=100, max_file_mb=1, nofile=256) as sb:
        res = await sb.exec("ulimit -v; ulimit -u; ulimit -f; ulimit -n")
        assert res.stdout.split() == [str(512 * 1024), "100", "1024", "256"]
        big = await sb.exec("head -c 3000000 /dev/zero > big")
        assert big.exit_code != 0
        oom = await sb.run_python("b = bytearray(1 << 30)")
        assert oom.exit_code != 0 and "MemoryError" in oom.stderr


async def test_paths_are_confined_to_the_sandbox() -> None:
    async with await _local() as sb:
        for outside in ("/etc/passwd", "/tmp/elsewhere"):
            with pytest.raises(PathRejected):
                await sb.read_file(outside)
            with pytest.raises(PathRejected):
                await sb.write_file(outside, "x")
        assert Path(sb.workdir).is_relative_to(sb.root)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs a directory the sandbox user cannot write")
async def test_file_operations_never_carry_more_privilege_than_the_code(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    async with await _local() as sb:
        await sb.exec(["ln", "-s", str(private), "door"])
        with pytest.raises(SandboxFileError):
            await sb.write_file("door/planted", "x")
    assert not (private / "planted").exists()


async def test_close_removes_the_tree_and_the_processes() -> None:
    sb = await _local()
    root = sb.root
    await sb.exec("sleep 6161 &")
    await sb.close()
    assert not root.exists()
    assert not await asyncio.to_thread(_running, b"sleep\x006161")


def _running(cmdline: bytes) -> bool:
    for pid in os.listdir("/proc"):
        try:
            if pid.isdigit() and cmdline in Path(f"/proc/{pid}/cmdline").read_bytes():
                return True
        except OSError:
            continue
    return False


async def test_network_host_is_an_explicit_opt_in() -> None:
    async with await _local(network="host") as sb:
        assert len((await sb.exec("ip -o link")).stdout.splitlines()) > 1


LOCAL_CHILD = """
import asyncio
from thinktank.sandboxes import LocalSandboxConfig

async def main():
    sb = await LocalSandboxConfig().build().create()
    await sb.exec("sleep 6262 >/dev/null 2>&1 &")
    print(sb.root, flush=True)

asyncio.run(main())
"""


async def test_an_exiting_owner_cleans_up_local_sandboxes() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", LOCAL_CHILD, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    root = Path(out.decode().strip())
    assert proc.returncode == 0 and root.name.startswith("thinktank-local-")
    assert not await asyncio.to_thread(root.exists)
    assert not await asyncio.to_thread(_running, b"sleep\x006262")
