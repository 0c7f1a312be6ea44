"""Blocking exec machinery for the Docker backend (runs on the sandbox executor).

Each exec is ``exec_create`` + a hijacked ``exec/start`` connection + ``exec_inspect``
(the same three requests as the SDK's ``exec_run``). The command runs under
``timeout -k`` inside the container; every process it starts inherits a marker
variable, so a host-side deadline can still find and kill the whole tree (also
daemons that left the process group). Output frames are demultiplexed and capped while
they are read; stdin is written concurrently so a full pipe never deadlocks.
"""

from __future__ import annotations

import contextlib
import re
import selectors
import socket
import time
import uuid
from typing import TYPE_CHECKING, Any

from thinktank.sandboxes.base import EXEC_MARK
from thinktank.sandboxes.errors import SandboxEngineError
from thinktank.sandboxes.types import ExecResult, OutputCapture

if TYPE_CHECKING:
    import threading

    import docker

# `timeout` leads its own process group; it SIGTERMs the group at the deadline, but it
# SIGKILLs only if its direct child survives, so the shell kills the group after it.
WRAPPER = (
    'd=$1; k=$2; t=$3; shift 3; cd -- "$d" || exit 2; exec 3<&0; '
    'timeout -k "$k" "$t" "$@" <&3 3<&- & p=$!; exec 3<&-; wait $p; rc=$?; '
    "if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then kill -s KILL -- -$p 2>/dev/null; fi; exit $rc"
)
SPAWN = 'd=$1; shift; cd -- "$d" || exit 2; exec "$@"'
KILLER = (
    'pids=$(grep -lzx "$1" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3 | grep -vx "$$"); '
    '[ -n "$pids" ] || exit 0; '
    'groups=$(ps -o pgid= -p "$(echo $pids | tr " " ,)" 2>/dev/null | sort -u); '
    "kill -KILL $pids 2>/dev/null; for g in $groups; do kill -s KILL -- -$g 2>/dev/null; done; exit 0"
)
OOM_PROBE = "cat /sys/fs/cgroup/memory.events /sys/fs/cgroup/memory/memory.oom_control 2>/dev/null"
_OOM_RE = re.compile(rb"^oom_kill (\d+)", re.M)
POLL_FIRST_S, POLL_MAX_S = 0.25, 1.0  # when an exec checks whether its main process exited
DRAIN_S = 0.1  # output still read after the main process exited (children may hold the pipe)


def parse_oom(text: bytes) -> int | None:
    """The ``oom_kill`` counter from cgroup v1/v2 memory files, if present."""
    found = _OOM_RE.findall(text)
    return max(int(n) for n in found) if found else None


class _Frames:
    """Docker's multiplexed stream: 8-byte headers (stream, 0, 0, 0, big-endian size)."""

    def __init__(self, out: OutputCapture, err: OutputCapture) -> None:
        self.buf = bytearray()
        self.sinks = {1: out, 2: err}

    def feed(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        pos = 0
        while len(buf) - pos >= 8:
            size = int.from_bytes(buf[pos + 4 : pos + 8], "big")
            if len(buf) - pos - 8 < size:
                break
            sink = self.sinks.get(buf[pos])
            if sink is not None:
                if sink.kept < sink.cap:
                    sink.feed(bytes(buf[pos + 8 : pos + 8 + size]))
                else:  # full: count, don't copy (floods stay cheap)
                    sink.dropped += size
            pos += 8 + size
        del buf[:pos]


class ContainerExec:
    """Runs execs in one container as one user."""

    def __init__(
        self, client: docker.DockerClient, container_id: str, user: str, sock_path: str | None
    ) -> None:
        self.client = client
        self.api = client.api
        self.container_id = container_id
        self.user = user
        self.sock_path = sock_path
        self.version = self.api._version

    def create(
        self, argv: list[str], env: dict[str, str], *, stdin: bool, user: str | None = None
    ) -> str:
        res = self.api.exec_create(
            self.container_id, argv, stdin=stdin, user=user or self.user, environment=env
        )
        return str(res["Id"])

    def attach(self, exec_id: str) -> tuple[socket.socket, bytes]:
        """Start an exec and return its hijacked connection and any bytes already read."""
        if self.sock_path is None:
            raw: Any = self.api.exec_start(exec_id, socket=True)
            return getattr(raw, "_sock", raw), b""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(30)
            sock.connect(self.sock_path)
            body = b'{"Detach":false,"Tty":false}'
            head = (
                f"POST /v{self.version}/exec/{exec_id}/start HTTP/1.1\r\nHost: docker\r\n"
                "Content-Type: application/json\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            )
            sock.sendall(head.encode() + body)
            buf = b""
            while b"\r\n\r\n" not in buf:
                chunk = sock.recv(65536)
                if not chunk:
                    raise SandboxEngineError("the engine closed the exec connection")
                buf += chunk
            header, _, rest = buf.partition(b"\r\n\r\n")
            status = int(header.split(b" ", 2)[1])
            if status not in (101, 200):
                raise SandboxEngineError(
                    f"exec start refused ({status}): {rest.decode(errors='replace').strip()[:300]}"
                )
            sock.settimeout(None)
            return sock, rest
        except BaseException:
            sock.close()
            raise

    def inspect(self, exec_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.api.exec_inspect(exec_id)
        return result

    def kill_marked(self, mark: str) -> None:
        """Kill every process carrying ``mark`` and their process groups."""
        with contextlib.suppress(Exception):
            self.quick([*_sh(KILLER), f"{EXEC_MARK}={mark}"], timeout=10)

    def oom_kills(self) -> int | None:
        with contextlib.suppress(Exception):
            return parse_oom(self.quick(["/bin/sh", "-c", OOM_PROBE], timeout=10).stdout_bytes)
        return None

    def quick(self, argv: list[str], *, timeout: float, stdin: bytes | None = None) -> ExecResult:
        """An internal helper command (no marker wrapper, generous cap)."""
        return self.run(
            argv,
            timeout=timeout,
            kill_after=1.0,
            cwd="/",
            env={},
            stdin=stdin,
            cap=1 << 20,
            wrap=False,
        )

    def run(
        self,
        argv: list[str],
        *,
        timeout: float,
        kill_after: float,
        cwd: str,
        env: dict[str, str],
        stdin: bytes | None,
        cap: int,
        cancel: threading.Event | None = None,
        wrap: bool = True,
        decode: bool = True,
    ) -> ExecResult:
        mark = uuid.uuid4().hex
        full = (
            ["/bin/sh", "-c", WRAPPER, "sh", cwd, f"{kill_after:g}", f"{timeout:g}", *argv]
            if wrap
            else argv
        )
        exec_id = self.create(full, {**env, EXEC_MARK: mark}, stdin=stdin is not None)
        start = time.monotonic()
        out, err = OutputCapture(cap), OutputCapture(cap)
        frames = _Frames(out, err)
        sock, rest = self.attach(exec_id)
        frames.feed(rest)
        host_kill = self._pump(
            sock, frames, stdin, exec_id, mark, start + timeout + kill_after + 2.0, cancel
        )
        info = self.inspect(exec_id)
        for _ in range(20):
            if not info.get("Running"):
                break
            time.sleep(0.05)
            info = self.inspect(exec_id)
        duration = time.monotonic() - start
        code = info.get("ExitCode")
        exit_code = int(code) if code is not None and not info.get("Running") else 137
        timed_out = host_kill or (exit_code in (124, 137) and duration >= timeout)
        if timed_out and not host_kill and wrap:
            self.kill_marked(mark)  # `timeout` killed its group; this gets what left the group
        return ExecResult.from_bytes(
            exit_code,
            out.getvalue(),
            err.getvalue(),
            timed_out=timed_out,
            truncated=out.truncated or err.truncated,
            duration_s=duration,
            decode=decode,
        )

    def _pump(
        self,
        sock: socket.socket,
        frames: _Frames,
        stdin: bytes | None,
        exec_id: str,
        mark: str,
        deadline: float,
        cancel: threading.Event | None,
    ) -> bool:
        """Read output (and write stdin) until EOF, a deadline or cancel; True if it killed."""
        sel = selectors.DefaultSelector()
        pending = memoryview(stdin) if stdin else None
        sock.setblocking(False)
        if stdin is not None and not stdin:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_WR)
        sel.register(
            sock, selectors.EVENT_READ | (selectors.EVENT_WRITE if pending is not None else 0)
        )
        killed, host_kill = False, False
        poll_every = POLL_FIRST_S
        next_poll = time.monotonic() + poll_every
        exited_at: float | None = None
        try:
            while True:
                now = time.monotonic()
                if (cancel is not None and cancel.is_set() and not killed) or (
                    now >= deadline and not killed
                ):
                    host_kill = not (cancel is not None and cancel.is_set())
                    killed = True
                    self.kill_marked(mark)
                    deadline = time.monotonic() + 2.0
                    continue
                if now >= deadline or (exited_at is not None and now >= exited_at + DRAIN_S):
                    return host_kill
                wake = min(
                    deadline, next_poll, exited_at + DRAIN_S if exited_at else deadline, now + 0.2
                )
                for _key, mask in sel.select(max(wake - now, 0.0)):
                    if mask & selectors.EVENT_READ:
                        try:
                            data = sock.recv(262144)
                        except (BlockingIOError, InterruptedError):
                            data = None
                        except OSError:
                            return host_kill
                        if data == b"":
                            return host_kill
                        if data:
                            frames.feed(data)
                    if mask & selectors.EVENT_WRITE and pending is not None:
                        try:
                            sent = sock.send(pending[:262144])
                            pending = pending[sent:]
                        except (BlockingIOError, InterruptedError):
                            continue
                        except OSError:
                            pending = memoryview(b"")  # the process closed its stdin
                        if not pending:
                            pending = None
                            with contextlib.suppress(OSError):
                                sock.shutdown(socket.SHUT_WR)
                            sel.modify(sock, selectors.EVENT_READ)
                if exited_at is None and time.monotonic() >= next_poll:
                    poll_every = min(poll_every * 2, POLL_MAX_S)
                    next_poll = time.monotonic() + poll_every
                    if not self.inspect(exec_id).get("Running"):
                        exited_at = time.monotonic()
        finally:
            sel.close()
            sock.close()


def _sh(script: str) -> list[str]:
    return ["/bin/sh", "-c", script, "sh"]
