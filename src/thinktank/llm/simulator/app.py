"""The simulator's HTTP surface (Starlette).

Routes: ``POST /v1/chat/completions`` (JSON or ``stream: true`` SSE),
``GET /v1/models``, ``GET /health``, and for tests ``GET /stats``, ``POST /reset``,
``POST /script``. Per-request controls: the ``x-sim-fault: <kind>`` header forces a
fault, ``x-sim-latency-ms: <ms>`` forces the base delay.

The request path is kept lean (no per-request logging, one JSON encode) because
benchmarks push thousands of calls through it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from thinktank.llm.simulator.engine import Plan, SimulatorEngine
from thinktank.llm.simulator.faults import malformed_body, malformed_chunk


class ConnectionCut(Exception):
    """Raised inside a response body to make the server drop the connection mid-body."""


class _DropCutLogs(logging.Filter):
    """Drops tracebacks of deliberate cuts and of requests cancelled at shutdown (hangs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        while exc is not None:
            if isinstance(exc, ConnectionCut | asyncio.CancelledError):
                return False
            exc = exc.__cause__ or exc.__context__
        return True


def install_log_filter() -> None:
    """Keep deliberate connection cuts out of the server's error log."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _DropCutLogs) for f in logger.filters):
        logger.addFilter(_DropCutLogs())


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(data), status, headers, media_type="application/json")


def _completion(plan: Plan) -> dict[str, Any]:
    choices = []
    for i, c in enumerate(plan.choices):
        msg: dict[str, Any] = {"role": "assistant", "content": c.text, "refusal": None}
        if c.tool_calls:
            msg["tool_calls"] = c.tool_calls
        choices.append(
            {"index": i, "message": msg, "logprobs": None, "finish_reason": c.finish_reason}
        )
    return {
        "id": plan.request_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": plan.model,
        "system_fingerprint": "fp_sim",
        "choices": choices,
        "usage": plan.usage,
    }


def _chunk(plan: Plan, created: int, choices: list[dict[str, Any]], usage: Any = None) -> bytes:
    data: dict[str, Any] = {
        "id": plan.request_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": plan.model,
        "system_fingerprint": "fp_sim",
        "choices": choices,
    }
    if plan.include_usage:
        data["usage"] = usage
    return b"data: " + json.dumps(data).encode() + b"\n\n"


def _events(plan: Plan, chunk_chars: int) -> list[tuple[bytes, int]]:
    """Every SSE event of a stream with the completion tokens it carries."""
    created = int(time.time())
    out: list[tuple[bytes, int]] = []
    for i, c in enumerate(plan.choices):
        first = {"role": "assistant", "content": "" if c.text is not None else None}
        out.append((_chunk(plan, created, [_delta(i, first)]), 0))
        text = c.text or ""
        for k in range(0, len(text), chunk_chars):
            piece = text[k : k + chunk_chars]
            out.append((_chunk(plan, created, [_delta(i, {"content": piece})]), len(piece) // 4))
        for j, call in enumerate(c.tool_calls):
            fn = call["function"]
            head = {"index": j, "id": call["id"], "type": "function"}
            head["function"] = {"name": fn["name"], "arguments": ""}
            out.append((_chunk(plan, created, [_delta(i, {"tool_calls": [head]})]), 1))
            args = fn["arguments"]
            for k in range(0, max(len(args), 1), chunk_chars):
                part = {"index": j, "function": {"arguments": args[k : k + chunk_chars]}}
                out.append((_chunk(plan, created, [_delta(i, {"tool_calls": [part]})]), 1))
        out.append((_chunk(plan, created, [_delta(i, {}, c.finish_reason)]), 0))
    if plan.include_usage:
        out.append((_chunk(plan, created, [], plan.usage), 0))
    out.append((b"data: [DONE]\n\n", 0))
    return out


def _delta(index: int, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}


def create_app(engine: SimulatorEngine) -> Starlette:
    """The Starlette application serving ``engine``."""
    cfg = engine.config
    state: dict[str, asyncio.Semaphore] = {}

    async def stream_body(plan: Plan, gate: asyncio.Semaphore | None) -> AsyncIterator[bytes]:
        try:
            events = _events(plan, cfg.stream_chunk_chars)
            cut = None
            if plan.fault == "truncated":
                cut = max(1, int(len(events) * cfg.faults.cut_fraction))
            for k, (event, tokens) in enumerate(events):
                if cut is not None and k >= cut:
                    raise ConnectionCut("simulated stream cut")
                if plan.fault == "malformed" and k == 1:
                    yield malformed_chunk(plan)
                    continue
                if plan.token_delay_s and tokens:
                    await asyncio.sleep(plan.token_delay_s * tokens)
                yield event
        finally:
            engine.leave(gate)

    async def cut_body(data: bytes) -> AsyncIterator[bytes]:
        yield data[: int(len(data) * cfg.faults.cut_fraction)]
        raise ConnectionCut("simulated body cut")

    async def chat(request: Request) -> Response:
        gate = None
        if cfg.max_concurrency is not None:
            gate = state.setdefault("gate", asyncio.Semaphore(cfg.max_concurrency))
        rejected = await engine.enter(gate)
        if rejected is not None:
            return _json(rejected.error, rejected.status, rejected.headers)
        handed_over = False
        try:
            plan = await engine.decide(await request.body(), request.headers)
            if plan.error is not None:
                return _json(plan.error, plan.status, plan.headers)
            if plan.stream:
                handed_over = True
                return StreamingResponse(stream_body(plan, gate), media_type="text/event-stream")
            if plan.fault == "malformed":
                return Response(malformed_body(plan), media_type="application/json")
            data = json.dumps(_completion(plan)).encode()
            if plan.fault == "truncated":
                headers = {"content-length": str(len(data))}
                return StreamingResponse(
                    cut_body(data), headers=headers, media_type="application/json"
                )
            return Response(data, media_type="application/json")
        finally:
            engine.last_reply = time.monotonic()
            if not handed_over:
                engine.leave(gate)

    async def models(request: Request) -> Response:
        data = [
            {"id": m, "object": "model", "created": 0, "owned_by": "thinktank-sim"}
            for m in cfg.models
        ]
        return _json({"object": "list", "data": data})

    async def health(request: Request) -> Response:
        return _json({"status": "ok"})

    async def stats(request: Request) -> Response:
        return _json(engine.stats())

    async def reset(request: Request) -> Response:
        engine.reset()
        return _json({"status": "ok"})

    async def script(request: Request) -> Response:
        body = await request.json()
        try:
            engine.set_script(body.get("script"), body.get("fault_script"))
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, 400)
        return _json({"status": "ok", "script": len(engine.script)})

    routes = [
        Route("/v1/chat/completions", chat, methods=["POST"]),
        Route("/chat/completions", chat, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/stats", stats, methods=["GET"]),
        Route("/reset", reset, methods=["POST"]),
        Route("/script", script, methods=["POST"]),
    ]
    return Starlette(routes=routes)
