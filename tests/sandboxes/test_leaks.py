"""Leak tests: containers abandoned by a process are removed — by the process itself at
exit or on SIGTERM/SIGINT, and by ``thinktank sandbox gc`` after a SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from thinktank.sandboxes import DockerSandboxConfig
from thinktank.sandboxes._cleanup import owner_alive, owner_id
from thinktank.sandboxes.gc import ContainerInfo, _reason, gc, list_containers

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_required")]

CHILD = """
import asyncio, faulthandler, signal, sys
from thinktank.sandboxes import DockerSandboxConfig

# Ctrl-C as in a terminal: a suite started in the background (nohup ... &) passes its
# children SIGINT ignored, and this program would never see the test's SIGINT
signal.signal(signal.SIGINT, signal.default_int_handler)

async def main():
    boxes = [await DockerSandboxConfig().build().create() for _ in range(int(sys.argv[2]))]
    print(" ".join(b.container_id for b in boxes), flush=True)
    # if ending takes this long, the stacks of every thread say where it hangs
    faulthandler.dump_traceback_later(150)
    if sys.argv[1] == "exit":
        return
    if sys.argv[1] == "raise":
        raise RuntimeError("crash without closing")
    # short waits, as a working program's loop wakes: a SIGINT the kernel hands to another
    # thread (the executor's) does not interrupt the main thread's select(), and Python
    # runs the handler only when the main thread wakes (one 600 s sleep hung here)
    for _ in range(1200):
        await asyncio.sleep(0.5)

asyncio.run(main())
"""
THINKTANK = Path(sys.executable).with_name("thinktank")


def _spawn(mode: str, count: int = 1) -> tuple[subprocess.Popen[str], list[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, mode, str(count)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    ids = line.split()
    assert len(ids) == count, f"child failed: {line!r} {proc.stderr.read() if proc.stderr else ''}"
    return proc, ids


def _existing(ids: list[str]) -> set[str]:
    return {c.id for c in list_containers()} & set(ids)


def _wait_gone(ids: list[str], within: float = 60.0) -> set[str]:
    deadline = time.monotonic() + within
    while (left := _existing(ids)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


@pytest.mark.parametrize("mode", ["exit", "raise", "sigterm", "sigint"])
def test_the_owner_removes_its_containers_when_it_ends(mode: str) -> None:
    proc, ids = _spawn(mode)
    if mode == "sigterm":
        proc.send_signal(signal.SIGTERM)
    elif mode == "sigint":
        proc.send_signal(signal.SIGINT)
    # a guard against a hang, not a race: removing a container waits on the engine,
    # which a loaded machine (other suites' sandboxes) can keep busy for tens of seconds
    try:
        _, err = proc.communicate(timeout=180)  # reads the pipes: a full one cannot block it
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"{mode}: the owner did not end within 180 s; its threads:\n{err[-8000:]}")
    assert not _wait_gone(ids), f"{mode}: containers left behind\n{err[-4000:]}"


def test_gc_removes_what_a_sigkilled_process_left() -> None:
    proc, ids = _spawn("sleep", count=2)
    proc.kill()
    proc.wait(timeout=10)
    assert _existing(ids) == set(ids), (
        "a SIGKILLed owner cannot clean up; the containers must still be there"
    )
    orphaned = {c.id: c for c in list_containers() if c.id in ids}
    assert all(c.owner_alive is False for c in orphaned.values())
    out = subprocess.run(
        [str(THINKTANK), "sandbox", "gc"], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr
    assert "orphaned" in out.stdout
    assert not _wait_gone(ids, within=5)


async def test_gc_keeps_containers_of_live_owners() -> None:
    async with await DockerSandboxConfig().build().create() as sb:
        report = gc(dry_run=True)
        assert sb.name in report.kept and sb.name not in report.removed
        assert (await sb.exec("true")).ok


def test_gc_reasons() -> None:
    def info(**kw: object) -> ContainerInfo:
        base: dict[str, object] = {
            "id": "x",
            "name": "n",
            "state": "running",
            "owner": owner_id(),
            "owner_alive": True,
            "age_s": 10.0,
            "ttl_s": 100,
        }
        return ContainerInfo(**(base | kw))  # type: ignore[arg-type]

    assert _reason(info(), False) is None
    assert _reason(info(), True) == "all"
    assert _reason(info(age_s=101.0), False) == "expired"
    assert _reason(info(owner_alive=False), False) == "orphaned"
    assert _reason(info(state="exited"), False) == "stopped"
    assert _reason(info(owner_alive=None), False) is None  # another host: wait for its TTL
    assert owner_alive(owner_id()) is True
    assert (
        owner_alive(owner_id(os.getpid()).rsplit("/", 1)[0] + "/1") is False
    )  # same pid, other start
    assert owner_alive("elsewhere/boot/1/1") is None
