"""The simulator over a minimal HTTP/1.1 server on asyncio (``SimulatorConfig(http="lean")``).

The same endpoints, decisions (:class:`~thinktank.llm.simulator.engine.SimulatorEngine`)
and bodies as the Starlette app (:mod:`~thinktank.llm.simulator.app`), at a small part
of its CPU per request: one protocol object per connection parses the request head,
and each reply leaves in one write (uvicorn with h11 parses in Python and writes a
reply's head and body apart). For benchmarks of clients on a small machine, where
the server shares the client's cores: with the full server a fan-out of 64 requests
costs the server about as much CPU as the client, and its intake of them adds to
the wall the client is measured by.

What it does not do: request bodies in chunked transfer encoding (clients send a
Content-Length for JSON; anything else gets a 411), ``Expect: 100-continue``, HTTP/2.
Streams are sent in chunked transfer encoding.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import threading
import time
from http import HTTPStatus
from typing import Any

from thinktank.llm.simulator.app import _completion, _events
from thinktank.llm.simulator.engine import Plan, SimulatorEngine
from thinktank.llm.simulator.faults import malformed_body, malformed_chunk

_MAX_HEAD = 65536
_CHAT = ("/v1/chat/completions", "/chat/completions")
_ROUTES = {
    **dict.fromkeys(_CHAT, "POST"),
    "/v1/models": "GET",
    "/health": "GET",
    "/stats": "GET",
    "/reset": "POST",
    "/script": "POST",
}


def _status_line(status: int) -> str:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    return f"HTTP/1.1 {status} {phrase}"


class LeanServer:
    """Serves ``engine`` on given sockets; the interface :class:`~thinktank._asgi.ThreadedServer`
    and :func:`~thinktank.llm.simulator.server.serve_forever` use of a uvicorn server
    (``run(sockets=)``, ``started``, ``should_exit``, ``force_exit``)."""

    def __init__(self, engine: SimulatorEngine) -> None:
        self.engine = engine
        self.started = False
        self.should_exit = False
        self.force_exit = False
        self.gate: asyncio.Semaphore | None = None
        self.connections: set[_Connection] = set()
        self.tasks: set[asyncio.Task[None]] = set()

    def run(self, sockets: list[socket.socket]) -> None:
        asyncio.run(self.serve(sockets))

    async def serve(self, sockets: list[socket.socket]) -> None:
        loop = asyncio.get_running_loop()
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self._exit)
        servers = [
            await loop.create_server(lambda: _Connection(self), sock=sock, backlog=4096)
            for sock in sockets
        ]
        self.started = True
        try:
            # set from other threads (ThreadedServer.stop), as uvicorn's is: polled
            while not self.should_exit:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        finally:
            for server in servers:
                server.close()
            if self.tasks and not self.force_exit:  # requests in flight get a second
                await asyncio.wait(list(self.tasks), timeout=1.0)
            for task in list(self.tasks):
                task.cancel()
            for conn in list(self.connections):
                conn.transport.close()
            await asyncio.sleep(0)

    def _exit(self) -> None:
        self.should_exit = True


class _Connection(asyncio.Protocol):
    """One client connection: requests one at a time, each reply in one write."""

    def __init__(self, server: LeanServer) -> None:
        self.server = server
        self.engine = server.engine
        self.buffer = bytearray()
        self.busy = False
        self.keep_alive = True
        self.transport: asyncio.Transport = None  # type: ignore[assignment]  # set on connection

    # --- asyncio callbacks ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.busy:
            self._next_request()

    # --- requests ---------------------------------------------------------------------

    def _next_request(self) -> None:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > _MAX_HEAD:
                self._fail(431, "request head too large")
            return
        lines = self.buffer[:end].decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            self._fail(400, "malformed request line")
            return
        method, target, version = parts
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._fail(411, "send the body with a Content-Length")
            return
        try:
            length = int(headers.get("content-length") or 0)
        except ValueError:
            self._fail(400, "bad Content-Length")
            return
        total = end + 4 + length
        if len(self.buffer) < total:
            return
        body = bytes(self.buffer[end + 4 : total])
        del self.buffer[:total]
        connection = headers.get("connection", "").lower()
        self.keep_alive = connection != "close" and (
            version == "HTTP/1.1" or connection == "keep-alive"
        )
        self.busy = True
        path = target.split("?", 1)[0]
        allowed = _ROUTES.get(path)
        if allowed is None:
            self._reply(404, b"Not Found", "text/plain; charset=utf-8")
        elif method != allowed:
            self._reply(405, b"Method Not Allowed", "text/plain; charset=utf-8")
        elif path in _CHAT:
            task = asyncio.get_running_loop().create_task(self._chat(body, headers))
            self.server.tasks.add(task)
            task.add_done_callback(self.server.tasks.discard)
        else:
            self._control(path, body)

    def _control(self, path: str, body: bytes) -> None:
        engine = self.engine
        if path == "/v1/models":
            data = [
                {"id": m, "object": "model", "created": 0, "owned_by": "thinktank-sim"}
                for m in engine.config.models
            ]
            self._json({"object": "list", "data": data})
        elif path == "/health":
            self._json({"status": "ok"})
        elif path == "/stats":
            self._json(engine.stats())
        elif path == "/reset":
            engine.reset()
            self._json({"status": "ok"})
        else:  # /script
            try:
                req = json.loads(body)
                engine.set_script(req.get("script"), req.get("fault_script"))
            except (ValueError, AttributeError) as exc:
                self._json({"error": str(exc)}, 400)
                return
            self._json({"status": "ok", "script": len(engine.script)})

    async def _chat(self, raw: bytes, headers: dict[str, str]) -> None:
        engine, cfg = self.engine, self.engine.config
        if cfg.max_concurrency is not None and self.server.gate is None:
            self.server.gate = asyncio.Semaphore(cfg.max_concurrency)
        gate = self.server.gate if cfg.max_concurrency is not None else None
        rejected = await engine.enter(gate)
        if rejected is not None:
            self._json(rejected.error, rejected.status, rejected.headers)
            return
        try:
            plan = await engine.decide(raw, headers)
            if plan.error is not None:
                self._json(plan.error, plan.status, plan.headers)
                return
            if plan.stream:
                await self._stream(plan)
                return
            if plan.fault == "malformed":
                self._reply(200, malformed_body(plan))
                return
            data = json.dumps(_completion(plan)).encode()
            if plan.fault == "truncated":  # the promised length, part of the body, then a cut
                self._write(self._head(200, "application/json", len(data)))
                self._write(data[: int(len(data) * cfg.faults.cut_fraction)])
                self.transport.close()
                return
            self._reply(200, data)
        finally:
            engine.last_reply = time.monotonic()
            engine.leave(gate)

    async def _stream(self, plan: Plan) -> None:
        cfg = self.engine.config
        events = _events(plan, cfg.stream_chunk_chars)
        cut = None
        if plan.fault == "truncated":
            cut = max(1, int(len(events) * cfg.faults.cut_fraction))
        head = self._head(200, "text/event-stream", None, {"transfer-encoding": "chunked"})
        self._write(head)
        for k, (event, tokens) in enumerate(events):
            if cut is not None and k >= cut:
                self.transport.close()
                return
            if plan.fault == "malformed" and k == 1:
                event = malformed_chunk(plan)
            elif plan.token_delay_s and tokens:
                await asyncio.sleep(plan.token_delay_s * tokens)
            self._write(b"%x\r\n%s\r\n" % (len(event), event))
        self._write(b"0\r\n\r\n")
        self._done()

    # --- replies ----------------------------------------------------------------------

    def _head(
        self, status: int, ctype: str, length: int | None, extra: dict[str, str] | None = None
    ) -> bytes:
        lines = [_status_line(status), f"content-type: {ctype}"]
        if length is not None:
            lines.append(f"content-length: {length}")
        lines += [f"{k}: {v}" for k, v in (extra or {}).items()]
        if not self.keep_alive:
            lines.append("connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _json(self, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self._reply(status, json.dumps(data).encode(), "application/json", headers)

    def _reply(
        self,
        status: int,
        body: bytes,
        ctype: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        self._write(self._head(status, ctype, len(body), headers) + body)
        self._done()

    def _write(self, data: bytes) -> None:
        if not self.transport.is_closing():  # the client may have gone (a timeout)
            self.transport.write(data)

    def _done(self) -> None:
        self.busy = False
        if not self.keep_alive:
            self.transport.close()
        elif self.buffer:
            self._next_request()

    def _fail(self, status: int, message: str) -> None:
        self.keep_alive = False
        self.busy = True
        with contextlib.suppress(Exception):
            self._reply(status, message.encode(), "text/plain; charset=utf-8")
        self.buffer.clear()
