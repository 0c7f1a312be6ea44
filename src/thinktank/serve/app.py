"""The HTTP surface of ``thinktank serve`` (Starlette): graphs as OpenAI models.

Routes (every ``/v1`` route needs ``Authorization: Bearer KEY`` when the server has a key):

* ``GET /v1/models``, ``GET /v1/models/{name}`` — the served graphs;
* ``POST /v1/chat/completions`` — run the graph the ``model`` names on the conversation
  (see :mod:`thinktank.serve.request`); the reply is a ``chat.completion`` (or, with
  ``stream: true``, SSE ``chat.completion.chunk`` events then ``data: [DONE]``) whose
  content is the graph's answer and whose ``usage`` counts every token the run spent;
  a ``thinktank`` field adds the run's status, cost, samples and where its trace is;
* ``GET /v1/thinktank/runs/{id}`` — a served run (its :class:`RunResult`) by response id;
* ``GET /health`` — liveness, no key needed.

Every refusal is an OpenAI error object with OpenAI's status code: 400 malformed
body / tools / bad budget, 401 missing or wrong key, 402 budget exhausted with no
answer, 404 unknown model, run or route, 429 over capacity, 502 the graph failed.
A client that disconnects cancels its run.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from thinktank import telemetry
from thinktank.graphs.result import RunResult
from thinktank.serve.config import ServeConfig
from thinktank.serve.execute import Gate, execute, extension, outcome, reply_usage
from thinktank.serve.registry import GraphRegistry
from thinktank.serve.request import plan_run
from thinktank.serve.store import TraceStore, open_store
from thinktank.serve.wire import (
    DONE,
    KEEPALIVE,
    ServeError,
    chunk,
    completion,
    error_event,
    now,
    parse_request,
)

log = logging.getLogger("thinktank.serve")

_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(data), status, headers, media_type="application/json")


def _error(err: ServeError) -> Response:
    headers = dict(err.headers)
    if err.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return _json(err.body(), err.status, headers)


def _unexpected(exc: BaseException) -> ServeError:
    log.error("request failed", exc_info=exc)
    return ServeError(
        500, f"internal error: {type(exc).__name__}: {exc}", type="server_error", code=None
    )


async def _disconnected(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _wait(request: Request, run: asyncio.Task[RunResult], limit: float | None) -> str:
    """Wait for ``run`` up to ``limit`` seconds: ``done``, ``running``, or ``gone`` (the client
    disconnected: the run is cancelled, so nothing more is spent on it)."""
    gone = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({run, gone}, timeout=limit, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
    if run.done():
        return "done"
    if gone.done() and not gone.cancelled():
        run.cancel()
        return "gone"
    return "running"


def _failure(run: asyncio.Task[RunResult], rid: str) -> ServeError | None:
    """What a finished run becomes when it is not an answer."""
    if run.cancelled():
        return ServeError(
            503, "the run was cancelled: the server is shutting down", type="server_error"
        )
    exc = run.exception()
    if isinstance(exc, ServeError):
        return exc
    if exc is not None:
        return _unexpected(exc)
    return outcome(run.result(), rid)


def create_app(
    registry: GraphRegistry, config: ServeConfig | None = None, store: TraceStore | None = None
) -> Starlette:
    """The application serving ``registry``'s graphs (it closes the registry and the store
    when the server shuts down)."""
    cfg = config or ServeConfig()
    runs = store or open_store(cfg.store, cfg.keep)
    gate = Gate(cfg.max_concurrency, cfg.max_queue)
    key = cfg.api_key.encode() if cfg.api_key else None
    started = now()

    def authorize(request: Request) -> None:
        if key is None:
            return
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ServeError(
                401,
                "no API key given: send the header 'Authorization: Bearer KEY' (the key the "
                "server was started with: --api-key or THINKTANK_SERVE_API_KEY)",
                code="invalid_api_key",
            )
        if not hmac.compare_digest(token.strip().encode(), key):
            raise ServeError(401, "incorrect API key provided", code="invalid_api_key")

    async def chat(request: Request) -> Response:
        try:
            authorize(request)
            req = parse_request(await request.body())
            served = registry.get(req.model)
            plan = plan_run(
                req, served.spec, request.headers, kind=cfg.kind, default_usd=cfg.budget_usd
            )
        except ServeError as err:
            return _error(err)
        rid, created = "chatcmpl-" + uuid.uuid4().hex[:24], now()
        run = asyncio.create_task(
            telemetry.served(
                execute(served, plan, rid, created, gate, runs), served.name, rid, request.headers
            )
        )
        stream = bool(req.stream)
        include_usage = bool(req.stream_options and req.stream_options.include_usage)
        # a stream's status is held back a while, so an early failure gets its own code
        state = await _wait(request, run, cfg.keepalive_s if stream else None)
        if state == "gone":
            return Response(status_code=499)  # nobody reads it
        if state == "running":
            return StreamingResponse(
                events(run, rid, created, served.name, plan.seed, include_usage),
                media_type="text/event-stream",
                headers=_HEADERS,
            )
        failed = _failure(run, rid)
        if failed is not None:
            return _error(failed)
        res = run.result()
        ext = extension(res, rid, plan.seed)
        if stream:
            body = _stream_body(res, rid, created, served.name, ext, include_usage)
            return Response(body, media_type="text/event-stream", headers=_HEADERS)
        return _json(completion(rid, created, served.name, res.answer or "", reply_usage(res), ext))

    async def events(
        run: asyncio.Task[RunResult],
        rid: str,
        created: int,
        model: str,
        seed: int,
        include_usage: bool,
    ) -> AsyncIterator[bytes]:
        try:
            yield chunk(rid, created, model, {"role": "assistant", "content": ""})
            while not run.done():
                await asyncio.wait({run}, timeout=cfg.keepalive_s)
                if not run.done():
                    yield KEEPALIVE
            err = _failure(run, rid)
            if err is not None:
                yield error_event(err)
                yield DONE
                return
            res = run.result()
            ext = extension(res, rid, seed)
            yield _stream_body(res, rid, created, model, ext, include_usage, role=False)
        finally:
            if not run.done():  # the client went away: stop spending on its run
                run.cancel()

    async def models(request: Request) -> Response:
        try:
            authorize(request)
            if "name" in request.path_params:
                return _json(_model(registry.get(request.path_params["name"]).name, started))
        except ServeError as err:
            return _error(err)
        data = [_model(name, started) for name in registry.names()]
        return _json({"object": "list", "data": data})

    async def run_trace(request: Request) -> Response:
        try:
            authorize(request)
            rid = request.path_params["rid"]
            found = await runs.get(rid)
            if found is None:
                raise ServeError(
                    404,
                    f"no run {rid!r} on this server (it keeps the last {cfg.keep or 'all'} runs)",
                    code="run_not_found",
                    param="id",
                )
        except ServeError as err:
            return _error(err)
        return Response(found.model_dump_json(), media_type="application/json")

    async def health(request: Request) -> Response:
        return _json({"status": "ok", "models": registry.names(), "running": gate.running})

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        detail = exc.detail if isinstance(exc, HTTPException) else str(exc)
        kind = "invalid_request_error" if status < 500 else "server_error"
        what = f"{request.method} {request.url.path}: {detail}"
        return _error(ServeError(status, what, type=kind, code=None))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await registry.aclose()
            await runs.aclose()

    routes = [
        Route("/v1/chat/completions", chat, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/v1/models/{name:path}", models, methods=["GET"]),
        Route("/v1/thinktank/runs/{rid}", run_trace, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
    ]
    return Starlette(
        routes=routes, exception_handlers={HTTPException: http_error}, lifespan=lifespan
    )


def _model(name: str, created: int) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": created, "owned_by": "thinktank"}


def _stream_body(
    res: RunResult,
    rid: str,
    created: int,
    model: str,
    ext: dict[str, Any],
    include_usage: bool,
    *,
    role: bool = True,
) -> bytes:
    """The chunks after the run: (role,) answer, finish (with the extension), usage, DONE."""
    parts = [chunk(rid, created, model, {"role": "assistant", "content": ""})] if role else []
    parts.append(chunk(rid, created, model, {"content": res.answer or ""}))
    parts.append(chunk(rid, created, model, {}, finish="stop", extension=ext))
    if include_usage:
        parts.append(chunk(rid, created, model, None, use=reply_usage(res)))
    parts.append(DONE)
    return b"".join(parts)
