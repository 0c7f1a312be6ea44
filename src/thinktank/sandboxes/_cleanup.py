"""No leaks: labels that identify a container's owner and lifetime, and removal of live
containers at interpreter exit and on SIGTERM/SIGHUP (SIGINT already unwinds to atexit).

A process killed with SIGKILL cannot clean up; its containers still stop by themselves
when their TTL runs out (their main process is ``sleep <ttl>`` and they are
auto-removed), and ``thinktank sandbox gc`` removes them at once because their owner
process is gone.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import docker

LABEL = "thinktank.sandbox"
L_OWNER = "thinktank.owner"
L_CREATED = "thinktank.created"
L_TTL = "thinktank.ttl"
L_EXPIRES = "thinktank.expires"

_live: dict[str, docker.DockerClient] = {}
_local: dict[str, Callable[[], None]] = {}
_lock = threading.Lock()
_installed_pid: int | None = None
_signals_done = False


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()[:8]
    except OSError:
        return "noboot"


def _start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    return stat.rsplit(b")", 1)[1].split()[19].decode()


def owner_id(pid: int | None = None) -> str:
    """``host/boot/pid/starttime`` of a process: unique across pid reuse and reboots."""
    pid = pid or os.getpid()
    return f"{socket.gethostname()}/{_boot_id()}/{pid}/{_start_time(pid) or '0'}"


def owner_alive(owner: str) -> bool | None:
    """Whether the owning process still runs; ``None`` when it lives on another host."""
    try:
        host, boot, pid, start = owner.split("/")
    except ValueError:
        return None
    if host != socket.gethostname():
        return None
    if boot != _boot_id():
        return False
    return _start_time(int(pid)) == start


def labels(ttl_s: int, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Labels every thinktank container carries."""
    now = int(time.time())
    out = dict(extra or {})
    out.update(
        {
            LABEL: "1",
            L_OWNER: owner_id(),
            L_CREATED: str(now),
            L_TTL: str(ttl_s),
            L_EXPIRES: str(now + ttl_s),
        }
    )
    return out


def register(client: docker.DockerClient, container_id: str) -> None:
    """Track a live container so it is removed if this process exits without closing it."""
    install()
    with _lock:
        _live[container_id] = client


def unregister(container_id: str) -> None:
    """Stop tracking a container (it was removed)."""
    with _lock:
        _live.pop(container_id, None)


def register_local(key: str, destroy: Callable[[], None]) -> None:
    """Track a non-Docker sandbox: ``destroy`` (sync, idempotent) runs if the process exits."""
    install()
    with _lock:
        _local[key] = destroy


def unregister_local(key: str) -> None:
    """Stop tracking a non-Docker sandbox (it was closed)."""
    with _lock:
        _local.pop(key, None)


def live_count() -> int:
    """How many containers this process still owns."""
    with _lock:
        return len(_live)


def remove_container(client: docker.DockerClient, container_id: str) -> None:
    """Force-remove a container; already gone or being removed is fine."""
    import docker.errors

    try:
        client.api.remove_container(container_id, force=True, v=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        if exc.status_code != 409:  # 409: removal already in progress
            raise


def cleanup_all() -> int:
    """Remove every tracked container now (at exit, on a signal). Returns how many."""
    if _installed_pid != os.getpid():  # a forked child must not remove its parent's containers
        return 0
    with _lock:
        items = list(_live.items())
        _live.clear()
        local = list(_local.values())
        _local.clear()
    for destroy in local:
        with contextlib.suppress(Exception):
            destroy()
    if not items:
        return len(local)

    def _rm(item: tuple[str, docker.DockerClient]) -> None:
        with contextlib.suppress(Exception):
            remove_container(item[1], item[0])

    # plain threads: concurrent.futures refuses new work once interpreter exit has begun
    threads = [threading.Thread(target=_rm, args=(item,), daemon=True) for item in items]
    try:
        for t in threads:
            t.start()
    except RuntimeError:  # no new threads at this point of shutdown: go one by one
        threads = [t for t in threads if t.ident is not None]
        for item in items[len(threads) :]:
            _rm(item)
    for t in threads:
        t.join(timeout=30)
    return len(items)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    cleanup_all()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def install() -> None:
    """Register the atexit hook and (from the main thread) the SIGTERM/SIGHUP handlers."""
    global _installed_pid, _signals_done
    if _installed_pid != os.getpid():
        _installed_pid = os.getpid()
        _signals_done = False
        atexit.register(cleanup_all)
        # also before the interpreter joins worker threads: an exec still streaming would
        # otherwise hold the exit until its timeout; removing its container ends it now
        register_early = getattr(threading, "_register_atexit", None)
        if register_early is not None:
            with contextlib.suppress(RuntimeError):
                register_early(cleanup_all)
    if _signals_done or threading.current_thread() is not threading.main_thread():
        return
    _signals_done = True
    for sig in (signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(ValueError, OSError):
            current: Any = signal.getsignal(sig)
            if current in (signal.SIG_DFL, None):
                signal.signal(sig, _on_signal)
