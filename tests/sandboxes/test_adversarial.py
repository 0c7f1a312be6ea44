"""Adversarial suite: each attack is contained AND a sibling sandbox stays healthy.

Attacks run in fresh Docker sandboxes with tight limits; the session-wide ``sibling``
sandbox must keep answering while (and after) they run. Network tests only ever aim
at loopback: a port this test opens on the host's 127.0.0.1 must be unreachable.
"""

from __future__ import annotations

import asyncio
import os
import resource
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from thinktank.sandboxes import DockerSandboxConfig, PathRejected, Sandbox, SandboxFileError
from thinktank.sandboxes.testing import assert_healthy

pytestmark = [pytest.mark.docker, pytest.mark.asyncio(loop_scope="session")]


@asynccontextmanager
async def victim(**limits: Any) -> AsyncIterator[Sandbox]:
    """A fresh sandbox with tight limits (overridable) for one attack."""
    defaults: dict[str, Any] = {
        "memory_mb": 256,
        "pids_limit": 64,
        "workdir_size_mb": 32,
        "tmp_size_mb": 16,
    }
    async with await DockerSandboxConfig(**(defaults | limits)).build().create() as sb:
        yield sb


async def _while_attacking(
    attack: Any, sibling: Sandbox, probe: Callable[[], None] | None = None
) -> Any:
    """Run ``attack`` while checking the sibling (and an optional host probe) meanwhile."""
    task = asyncio.ensure_future(attack)
    await asyncio.sleep(0.7)
    await assert_healthy(sibling)
    while probe is not None and not task.done():
        probe()
        await asyncio.sleep(0.1)
    result = await task
    await assert_healthy(sibling)
    return result


def _pids_current(container_id: str) -> int | None:
    """The container's live task count from its pids cgroup (v1 or v2), if visible here."""
    for pattern in (
        f"/sys/fs/cgroup/pids/docker/{container_id}/pids.current",
        f"/sys/fs/cgroup/system.slice/docker-{container_id}.scope/pids.current",
    ):
        try:
            return int(Path(pattern).read_text())
        except (OSError, ValueError):
            continue
    return None


async def test_fork_bomb_is_stopped_by_the_pids_limit(sibling: Sandbox) -> None:
    async with victim(pids_limit=64) as sb:
        cid = getattr(sb, "container_id", "")
        peak: list[int] = []

        def probe() -> None:
            current = _pids_current(cid)
            if current is not None:
                peak.append(current)

        res = await _while_attacking(sb.exec(":(){ :|:& };: ; sleep 30", timeout=3), sibling, probe)
        assert res.timed_out
        assert all(n <= 64 for n in peak), f"the bomb grew past the pids limit: {peak}"
        assert not peak or max(peak) >= 32, f"the bomb did not run: {peak}"
        await asyncio.sleep(0.3)
        ps = await sb.exec("ps -eo args=")
        assert ps.ok and ":|:" not in ps.stdout, f"bomb processes survived: {ps.stdout}"
        assert (await sb.exec("echo recovered")).stdout == "recovered\n"


async def test_memory_bomb_is_oom_killed(sibling: Sandbox) -> None:
    async with victim(memory_mb=128) as sb:
        res = await _while_attacking(
            sb.run_python("b = bytearray(1 << 30)\nprint('survived')"), sibling
        )
        assert res.exit_code == 137 and res.oom_killed and "survived" not in res.stdout
        async with sb.python_session() as py:
            await py.run("keep = 1")
            cell = await py.run("hog = [bytearray(1 << 20) for _ in range(1024)]")
            assert cell.oom_killed and cell.session_restarted
            assert (await py.run("print('back')")).stdout == "back\n"
        assert not (await sb.exec("true")).oom_killed  # the flag is per command, not sticky


async def test_infinite_loop_and_sleeping_children_are_gone_after_timeout(sibling: Sandbox) -> None:
    async with victim() as sb:
        script = "sleep 7771 & (sleep 7772 &) & (setsid sleep 7773 &); nohup sleep 7774 >/dev/null 2>&1 & while :; do :; done"
        res = await _while_attacking(sb.exec(script, timeout=2), sibling)
        assert res.timed_out and res.duration_s < 8
        ps = await sb.exec("ps -eo args=")
        assert "sleep 777" not in ps.stdout and "while" not in ps.stdout, ps.stdout


async def test_cpu_burn_is_held_to_its_quota(sibling: Sandbox) -> None:
    burn = """
import multiprocessing as mp, time
def usage():
    try:
        return int(open('/sys/fs/cgroup/cpuacct/cpuacct.usage').read()) / 1e9
    except OSError:
        for line in open('/sys/fs/cgroup/cpu.stat'):
            if line.startswith('usage_usec'):
                return int(line.split()[1]) / 1e6
def spin():
    while True:
        pass
for _ in range(3):
    mp.Process(target=spin, daemon=True).start()
time.sleep(0.5)
u0, t0 = usage(), time.time()
time.sleep(2.0)
print((usage() - u0) / (time.time() - t0))
"""
    async with victim(cpus=0.5) as sb:
        res = await _while_attacking(sb.run_python(burn, timeout=20), sibling)
        cores = float(res.stdout.strip())
        assert 0.02 < cores < 0.7, f"3 spinning processes used {cores:.2f} cores under a 0.5 quota"


async def test_disk_fill_hits_enospc_and_the_host_is_unaffected(sibling: Sandbox) -> None:
    free_before = os.statvfs("/").f_bavail * os.statvfs("/").f_frsize
    async with victim(workdir_size_mb=16, tmp_size_mb=8) as sb:
        res = await _while_attacking(
            sb.exec("dd if=/dev/zero of=/work/fill bs=1M count=200", timeout=30), sibling
        )
        assert res.exit_code != 0 and "No space left on device" in res.stderr
        tmp = await sb.exec("dd if=/dev/zero of=/tmp/fill bs=1M count=200")
        assert tmp.exit_code != 0 and "No space left on device" in tmp.stderr
        assert (
            await sb.exec("rm /work/fill && echo ok > /work/after && cat /work/after")
        ).stdout == "ok\n"
    free_after = os.statvfs("/").f_bavail * os.statvfs("/").f_frsize
    assert free_before - free_after < 64 << 20, "the sandbox's disk fill reached the host disk"


async def test_stdout_flood_is_truncated_and_host_memory_bounded(sibling: Sandbox) -> None:
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB
    async with victim() as sb:
        res = await _while_attacking(
            sb.exec("head -c 300000000 /dev/zero; yes", timeout=3), sibling
        )
        assert res.truncated and res.timed_out and len(res.stdout_bytes) == sb.output_cap
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    assert grown_mb < 80, f"host process grew {grown_mb:.0f} MiB while draining a flood"


async def test_no_network_only_loopback_and_host_ports_unreachable(sibling: Sandbox) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.5)
    port = server.getsockname()[1]
    try:
        async with victim() as sb:
            links = await sb.exec("ls /sys/class/net; ip -o link | cut -d: -f2")
            assert links.stdout.split() == ["lo", "lo"], links
            probe = f"""
import socket
try:
    socket.getaddrinfo('example.com', 80)
    print('resolved')
except OSError:
    print('no-dns')
try:
    socket.create_connection(('127.0.0.1', {port}), timeout=2)
    print('reached')
except OSError:
    print('unreachable')
"""
            res = await sb.run_python(probe, timeout=20)
            assert res.stdout.split() == ["no-dns", "unreachable"], res
        with pytest.raises(TimeoutError):
            server.accept()  # nothing from the sandbox ever arrived
    finally:
        server.close()
    await assert_healthy(sibling)


async def test_host_secret_variables_are_absent(sibling: Sandbox) -> None:
    os.environ["THINKTANK_ADVERSARIAL_SECRET"] = "hunter2-secret"
    try:
        async with victim() as sb:
            res = await sb.exec("env; cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n'")
    finally:
        del os.environ["THINKTANK_ADVERSARIAL_SECRET"]
    assert "hunter2-secret" not in res.stdout
    await assert_healthy(sibling)


async def test_transfer_path_traversal_and_symlink_tricks(sibling: Sandbox, tmp_path: Path) -> None:
    async with victim() as sb:
        for bad in ("../../etc/passwd", "/work/../etc/passwd"):
            with pytest.raises(PathRejected):
                await sb.write_file(bad, "pwned")
        with pytest.raises(SandboxFileError):
            await sb.write_file("/etc/passwd", "pwned")  # read-only image
        await sb.exec(
            "ln -s /etc/shadow leak; ln -s / root; mkdir d; ln -s ../../../../../../../tmp d/up"
        )
        with pytest.raises(PathRejected):
            await sb.read_file("leak")
        out = await sb.download("/work", tmp_path / "dl")
        assert {p.name for p in out.iterdir()} == {"d"}
        assert list((out / "d").iterdir()) == []
        evil = tmp_path / "evil"
        evil.mkdir()
        (evil / "x").symlink_to("/root/.ssh")
        with pytest.raises(PathRejected):
            await sb.upload(evil)
    await assert_healthy(sibling)


async def test_writes_outside_the_work_dir_fail_and_privileges_are_gone(sibling: Sandbox) -> None:
    async with victim() as sb:
        res = await sb.exec(
            "for f in /etc/x /usr/bin/x /x /var/tmp/x /root/x; do touch $f 2>/dev/null && echo WROTE $f; done; echo done"
        )
        assert res.stdout == "done\n", res.stdout
        status = await sb.exec("id -u; grep -E '^(CapEff|CapPrm|NoNewPrivs)' /proc/self/status")
        lines = status.stdout.split("\n")
        assert lines[0] != "0"
        assert (
            "CapEff:\t0000000000000000" in status.stdout
            and "CapPrm:\t0000000000000000" in status.stdout
        )
        assert "NoNewPrivs:\t1" in status.stdout
        assert (await sb.exec("mount -t tmpfs none /mnt")).exit_code != 0
        assert (await sb.exec("echo fine > /work/ok && cat /work/ok")).stdout == "fine\n"
    await assert_healthy(sibling)
