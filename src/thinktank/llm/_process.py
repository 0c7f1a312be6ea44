"""Process helpers for servers thinktank starts: free ports, liveness, stopping a
process group, and a cross-process file lock.

Linux first (``/proc`` and ``fcntl``); elsewhere the checks degrade to trusting
the recorded pid.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

# Popen objects of processes this interpreter started, so that stopping one also
# reaps it (a reaped child is gone; an unreaped one lingers as a zombie).
CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def usable_cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def spawn(cmd: Sequence[str], log_path: Path) -> subprocess.Popen[bytes]:
    """Start ``cmd`` in a new session (its own process group), output to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            list(cmd),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    CHILDREN[proc.pid] = proc
    return proc


def pid_alive(pid: int) -> bool:
    """True while ``pid`` runs (zombies count as gone)."""
    proc = CHILDREN.get(pid)
    if proc is not None:
        if proc.poll() is None:
            return True
        CHILDREN.pop(pid, None)
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def cmdline_has(pid: int, *parts: str) -> bool:
    """True when every one of ``parts`` is an argument of ``pid``'s command line
    (guards against a recorded pid that was reused by another program)."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        return False
    except OSError:
        return True  # no /proc here: trust the record
    return all(p.encode() in args for p in parts)


def terminate(pid: int, timeout_s: float = 10.0) -> None:
    """SIGTERM ``pid``'s process group (or the pid alone when it leads none), then
    SIGKILL if it is still alive after ``timeout_s``; returns once it is gone."""
    for sig, wait in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 5.0)):
        if not pid_alive(pid):
            break
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if os.getpgid(pid) == pid:
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
    CHILDREN.pop(pid, None)


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing) across processes.

    Not re-entrant: a second lock of the same path in one process deadlocks.
    """
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
