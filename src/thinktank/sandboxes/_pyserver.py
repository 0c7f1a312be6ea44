"""The interpreter behind a Python session; its *source* is run inside the sandbox.

Stand-alone (standard library only). Protocol on the process's original stdin/stdout:
each message is a 4-byte big-endian length and a JSON object. The server greets with
``{"hello": 1, "pid": ...}``; each request ``{"code", "timeout", "cap"}`` gets a reply
``{"ok", "error", "stdout", "stderr", "truncated", "timed_out"}`` (streams base64).

User code sees fd 1 and 2 as pipes drained by reader threads, so output from child
processes is captured too and bounded by ``cap`` without touching the disk. A cell that
runs past its timeout is interrupted by ``SIGALRM`` (an exception user code cannot
catch with ``except Exception``) and the processes it started are killed.
"""

from __future__ import annotations

import ast
import base64
import builtins
import json
import os
import signal
import struct
import sys
import threading
import traceback
from typing import Any

MARK = b"\x00\x1b[thinktank-cell-end:" + os.urandom(8).hex().encode() + b"]\x00"


class CellTimeout(BaseException):
    """Raised in the cell's frame by SIGALRM."""


class Capture(threading.Thread):
    """Drains a pipe; keeps up to ``cap`` bytes of the current cell; splits cells at MARK."""

    def __init__(self, fd: int) -> None:
        super().__init__(daemon=True)
        self.fd = fd
        self.cap = 1 << 20
        self.buf = bytearray()
        self.dropped = 0
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.result: tuple[bytes, bool] = (b"", False)

    def _append(self, data: bytes) -> None:
        room = self.cap - len(self.buf)
        self.buf += data[: max(room, 0)]
        self.dropped += max(len(data) - max(room, 0), 0)

    def run(self) -> None:
        tail = b""
        keep = len(MARK) - 1
        while True:
            chunk = os.read(self.fd, 65536)
            if not chunk:
                return
            data = tail + chunk
            with self.lock:
                idx = data.find(MARK)
                while idx >= 0:
                    self._append(data[:idx])
                    self.result = (bytes(self.buf), self.dropped > 0)
                    self.buf, self.dropped = bytearray(), 0
                    self.done.set()
                    data = data[idx + len(MARK) :]
                    idx = data.find(MARK)
                self._append(data[:-keep] if len(data) > keep else b"")
                tail = data[-keep:] if len(data) > keep else data

    def set_cap(self, cap: int) -> None:
        with self.lock:
            self.cap = cap

    def finish(self) -> tuple[bytes, bool]:
        self.done.wait(10)
        self.done.clear()
        with self.lock:
            return self.result


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as fh:
                    ppid = int(fh.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(name))
    out, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _kill_children() -> None:
    for pid in _descendants(os.getpid()):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _on_alarm(signum: int, frame: Any) -> None:
    raise CellTimeout()


def _run_cell(code: str, ns: dict[str, Any]) -> str | None:
    """Execute ``code`` in ``ns``; echo the last expression's repr like a REPL."""
    try:
        tree = ast.parse(code, "<cell>", "exec")
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        exec(compile(tree, "<cell>", "exec"), ns)
        if isinstance(last, ast.Expr):
            value = eval(compile(ast.Expression(last.value), "<cell>", "eval"), ns)
            if value is not None:
                ns["_"] = value
                print(repr(value))
    except CellTimeout:
        raise
    except BaseException as exc:  # the cell's own error (SystemExit and KeyboardInterrupt included)
        tb = exc.__traceback__.tb_next if exc.__traceback__ else None
        sys.stderr.write("".join(traceback.format_exception(type(exc), exc, tb)))
        return f"{type(exc).__name__}: {exc}"
    return None


def main() -> None:
    proto_in = os.fdopen(os.dup(0), "rb", buffering=0)
    proto_out = os.fdopen(os.dup(1), "wb", buffering=0)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    captures = []
    for fd in (1, 2):
        r, w = os.pipe()
        os.dup2(w, fd)
        os.close(w)
        cap = Capture(r)
        cap.start()
        captures.append(cap)
    signal.signal(signal.SIGALRM, _on_alarm)
    out_stream, err_stream = sys.stdout, sys.stderr
    ns: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}

    def send(obj: dict[str, Any]) -> None:
        blob = json.dumps(obj).encode()
        proto_out.write(struct.pack(">I", len(blob)) + blob)

    def recv_exactly(n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = proto_in.read(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    send({"hello": 1, "pid": os.getpid()})
    while True:
        try:
            (size,) = struct.unpack(">I", recv_exactly(4))
            req = json.loads(recv_exactly(size))
        except EOFError:
            return
        timed_out = False
        for cap in captures:
            cap.set_cap(int(req.get("cap", 1 << 20)))
        signal.setitimer(signal.ITIMER_REAL, max(float(req.get("timeout", 60)), 0.001))
        try:
            error = _run_cell(req["code"], ns)
            signal.setitimer(signal.ITIMER_REAL, 0)
        except CellTimeout:
            signal.setitimer(signal.ITIMER_REAL, 0)
            timed_out = True
            error = (
                f"TimeoutError: the cell ran longer than {req.get('timeout')}s and was interrupted"
            )
            _kill_children()
        sys.stdout, sys.stderr = out_stream, err_stream
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os.write(1, MARK)
        os.write(2, MARK)
        out, out_cut = captures[0].finish()
        err, err_cut = captures[1].finish()
        send(
            {
                "ok": error is None,
                "error": error,
                "stdout": base64.b64encode(out).decode(),
                "stderr": base64.b64encode(err).decode(),
                "truncated": out_cut or err_cut,
                "timed_out": timed_out,
            }
        )


if __name__ == "__main__":
    main()
