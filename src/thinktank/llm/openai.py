"""OpenAI-compatible chat model over ``openai.AsyncOpenAI``.

Works against OpenAI, vLLM, llama.cpp's server, Ollama and the simulator. The SDK
is given its own kind of HTTP client (``httpx2``) over aiohttp, its pool sized to the
configured concurrency (the default 100-connection cap never silently limits
fan-out); its own retries are off (:mod:`thinktank.llm.retry` is the one retry
layer), and a per-endpoint semaphore bounds the requests in flight (across
processes too, when a limiter is installed in :mod:`thinktank.llm.limits`).

Each request goes through the SDK's generic ``post`` (its auth, headers, timeouts
and status errors) with the body as thinktank builds it, and the JSON reply is read
into :class:`~thinktank.llm.types.Completion` directly. The typed
``chat.completions.create`` would walk its parameter annotations to transform a
body that needs no transforming (chat parameters have no aliases or formats; a test
holds the SDK to that) and build pydantic objects only to be read once: about half
the client's CPU per request, which a fan-out of 64 pays 64 times.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
import weakref
from typing import Any
from urllib.parse import urlsplit

import httpx
import httpx2
import openai
from httpx_aiohttp.httpx2 import AiohttpTransport

from thinktank.errors import (
    AuthenticationFailed,
    ConfigError,
    ContextLengthExceeded,
    MalformedResponse,
    ModelError,
    ModelRequestError,
    ModelUnavailable,
    UsageError,
)
from thinktank.llm import toolcall_text
from thinktank.llm.base import Capabilities, ChatModel
from thinktank.llm.cache import ResponseCache
from thinktank.llm.connection import (
    describe_connection_failure,
    is_loopback_url,
    is_read_timeout,
    is_refused,
)
from thinktank.llm.limits import endpoint_semaphore, endpoint_slot
from thinktank.llm.reply import read_completions
from thinktank.llm.retry import RETRYABLE_STATUS, RetryableError, RetryPolicy, call_with_retries
from thinktank.llm.types import ChatRequest, Completion

log = logging.getLogger(__name__)

_AUTH: dict[str, Any] = {"security": {"bearer_auth": True}}
"""Request options of a chat completion: the API key as a bearer token (as the SDK's
``chat.completions.create`` asks for it)."""


def _drop_http(http: httpx2.AsyncClient | httpx.AsyncClient) -> None:
    """Close an aiohttp-backed client's connector synchronously (for a finished event
    loop or a model garbage-collected without ``aclose``), so no socket or warning leaks."""
    transport = getattr(http, "_transport", None)
    session = getattr(transport, "client", None)
    connector = getattr(session, "connector", None)
    close_now = getattr(connector, "_close", None)  # aiohttp's synchronous part of close()
    if connector is not None and not connector.closed and close_now is not None:
        with contextlib.suppress(Exception):
            close_now()


def _context_length_error(exc: openai.APIStatusError) -> bool:
    body = exc.body if isinstance(exc.body, dict) else {}
    err = body.get("error", body) if isinstance(body, dict) else {}
    code = str(err.get("code", "")) if isinstance(err, dict) else ""
    text = f"{code} {exc.message}".lower()
    return "context_length" in text or "context length" in text or "maximum context" in text


class OpenAICompatModel(ChatModel):
    """A chat model behind any OpenAI-compatible ``/v1/chat/completions`` endpoint."""

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        model_id: str | None = None,
        concurrency: int = 32,
        timeout_s: float = 120.0,
        connect_timeout_s: float = 5.0,
        retry: RetryPolicy | None = None,
        capabilities: Capabilities | None = None,
        default_max_tokens: int = 1024,
        cache: ResponseCache | None = None,
        http_client: httpx.AsyncClient | None = None,
        extra_body: dict[str, Any] | None = None,
        transport: str = "aiohttp",
    ) -> None:
        self.model = model
        self.base_url = (
            base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        ).rstrip("/")
        self.model_id = model_id or model
        self.concurrency = concurrency
        self.timeout = httpx.Timeout(timeout_s, connect=connect_timeout_s)
        self.retry = retry or RetryPolicy()
        self.capabilities = capabilities or Capabilities()
        self.default_max_tokens = default_max_tokens
        self.cache = cache
        self.extra_body = extra_body
        if transport not in ("aiohttp", "httpcore"):
            raise ConfigError(f"unknown transport {transport!r}; use 'aiohttp' or 'httpcore'")
        self.transport = transport
        self._api_key = api_key if api_key is not None else os.environ.get(api_key_env)
        self._api_key_env = api_key_env
        self._injected = http_client
        self._client: openai.AsyncOpenAI | None = None
        self._http: httpx2.AsyncClient | None = None
        self._options: dict[str, Any] = _AUTH
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sem: asyncio.Semaphore | None = None
        self._native_n = self.capabilities.native_n
        if not self._api_key:
            # Self-hosted servers usually ignore the key; OpenAI's own API needs one.
            if urlsplit(self.base_url).hostname == "api.openai.com":
                from thinktank.errors import MissingCredential

                raise MissingCredential(
                    f"model {self.model_id!r} needs an API key: set the {api_key_env} environment variable"
                )
            self._api_key = "not-needed"
        if os.environ.get("THINKTANK_LOOPBACK_ONLY") == "1" and not is_loopback_url(self.base_url):
            raise UsageError(
                f"THINKTANK_LOOPBACK_ONLY=1 forbids the non-loopback endpoint {self.base_url}; "
                "tests must use the simulator or the embedded model"
            )

    def __repr__(self) -> str:  # never shows the key
        return f"OpenAICompatModel(model={self.model!r}, base_url={self.base_url!r})"

    def __getstate__(self) -> dict[str, Any]:
        # A copy (e.g. shipped to a cluster worker) opens its own connections: clients
        # belong to the process and event loop that made them.
        return {
            **self.__dict__,
            **dict.fromkeys(("_client", "_http", "_loop", "_injected", "_sem")),
        }

    # --- client lifecycle ---------------------------------------------------------------

    def _sdk(self) -> openai.AsyncOpenAI:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            if self._http is not None:
                _drop_http(self._http)  # its loop is gone: release the sockets without awaiting
            # httpx clients are bound to the loop they were first used on; sync
            # wrappers run a fresh loop per call, so rebuild when the loop changes.
            http: httpx2.AsyncClient | httpx.AsyncClient
            if self._injected is not None:
                http = self._injected
            else:
                limits = httpx2.Limits(
                    max_connections=self.concurrency, max_keepalive_connections=self.concurrency
                )
                # The client's own pool spends time quadratic in the connections in flight;
                # at the fan-out widths test-time scaling uses (64+) aiohttp's connector is
                # several times faster, so it is the default transport under the client.
                transport = AiohttpTransport(limits=limits) if self.transport == "aiohttp" else None
                http = httpx2.AsyncClient(
                    limits=limits,
                    timeout=httpx2.Timeout(**self.timeout.as_dict()),
                    transport=transport,
                )
                self._http = http
                weakref.finalize(self, _drop_http, http)
            self._client = openai.AsyncOpenAI(
                api_key=self._api_key,
                base_url=self.base_url,
                http_client=http,  # type: ignore[arg-type]  # legacy httpx is accepted
                max_retries=0,
                # the full Timeout, not a float: a float would become the connect
                # timeout too, and a dead address would hang for the read timeout
                timeout=self.timeout,  # type: ignore[arg-type]  # converted by the SDK
            )
            self._options = {**_AUTH, "extra_json": self.extra_body} if self.extra_body else _AUTH
            self._loop = loop
            # the endpoint's limit in this loop, looked up once per loop, not per request
            self._sem = endpoint_semaphore(self.base_url, self.concurrency)
        return self._client

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
        self._http = None
        self._client = None

    # --- the endpoint ------------------------------------------------------------------------

    async def probe(self) -> None:
        """Check once that the endpoint answers, spending no tokens (``GET /models``).

        Any HTTP answer but 401/403 counts as up (a server without a model list
        answers 404), and so does a connection that is accepted but slow to answer.
        Raises :class:`~thinktank.errors.ModelUnavailable` (refused, unknown host,
        connect timeout; after the policy's refused-connection retries) or
        :class:`~thinktank.errors.AuthenticationFailed`. A replay-only cache needs
        no endpoint, so it is not asked.
        """
        if self.cache is not None and self.cache.mode == "replay":
            return
        client = self._sdk()
        timeout = httpx.Timeout(min(self.timeout.read or 10.0, 10.0), connect=self.timeout.connect)
        policy = self.retry.model_copy(
            update={"max_retries": min(self.retry.max_retries, self.retry.refused_retries)}
        )
        attempts = 0

        async def attempt() -> None:
            nonlocal attempts
            attempts += 1
            try:
                await client.models.with_raw_response.list(timeout=timeout)  # type: ignore[arg-type]
            except openai.APIStatusError as exc:
                if exc.status_code in (401, 403):
                    raise self._translate_status(exc) from exc
            except (openai.APITimeoutError, openai.APIConnectionError) as exc:
                if is_read_timeout(exc):
                    return  # connected; the server is busy, not gone
                raise RetryableError(exc, refused=is_refused(exc)) from exc

        try:
            await call_with_retries(attempt, policy)
        except RetryableError as exc:
            raise self._exhausted(exc, attempts) from exc.cause

    # --- one request ----------------------------------------------------------------------

    async def _generate(self, request: ChatRequest) -> list[Completion]:
        text_tools = bool(request.tools) and not self.capabilities.native_tools
        if request.n == 1:
            return await self._send(request, 1, 0, text_tools)
        if not self._native_n:
            parts = await asyncio.gather(
                *(self._send(request, 1, i, text_tools) for i in range(request.n))
            )
            return [c for part in parts for c in part]
        out = await self._send(request, request.n, 0, text_tools)
        if len(out) < request.n:
            # The endpoint ignored n: remember it and fan out the remainder.
            log.info(
                "%s returned %d of n=%d choices; fanning out from now on",
                self.base_url,
                len(out),
                request.n,
            )
            self._native_n = False
            more = await asyncio.gather(
                *(self._send(request, 1, i, text_tools) for i in range(len(out), request.n))
            )
            out += [c for part in more for c in part]
        return out[: request.n]

    def _kwargs(self, request: ChatRequest, n: int, index: int, text_tools: bool) -> dict[str, Any]:
        messages = request.messages
        kw: dict[str, Any] = {"model": self.model, "messages": messages}
        if text_tools:
            kw["messages"] = toolcall_text.render(messages, request.tools or [])
        elif request.tools:
            kw["tools"] = request.tools
            if request.tool_choice is not None:
                kw["tool_choice"] = request.tool_choice
        if n > 1:
            kw["n"] = n
        if request.temperature is not None:
            kw["temperature"] = request.temperature
        if request.max_tokens is not None:
            kw["max_tokens"] = request.max_tokens
        if request.response_format is not None:
            kw["response_format"] = request.response_format
        if request.seed is not None:
            # fanned-out samples get distinct seeds so they are distinct samples
            kw["seed"] = request.seed + index
        if request.stop:
            kw["stop"] = request.stop
        return kw

    async def _send(
        self, request: ChatRequest, n: int, index: int, text_tools: bool
    ) -> list[Completion]:
        body = self._kwargs(request, n, index, text_tools)
        client = self._sdk()
        sem = self._sem
        assert sem is not None  # set by _sdk()
        options: Any = self._options  # the SDK's RequestOptions (auth, extra_body)
        chat_url = self.base_url + "/chat/completions"
        t0 = time.perf_counter()
        attempts = 0

        async def attempt() -> dict[str, Any]:
            nonlocal attempts
            attempts += 1
            async with sem, endpoint_slot(self.base_url, self.concurrency):
                try:
                    # the whole URL: a path would be parsed and joined to the base per request
                    raw = await client.post(
                        chat_url, body=body, cast_to=httpx2.Response, options=options
                    )
                except openai.APIStatusError as exc:
                    raise self._translate_status(exc) from exc
                except (openai.APITimeoutError, openai.APIConnectionError) as exc:
                    raise RetryableError(exc, refused=is_refused(exc)) from exc
            try:
                data = json.loads(raw.content)
            except ValueError:  # the body is not JSON
                data = None
            if not isinstance(data, dict):
                raise RetryableError(
                    MalformedResponse(
                        f"{self.base_url} returned a body that is not a chat completion: "
                        f"{raw.content[:300].decode(errors='replace')!r}",
                        endpoint=self.base_url,
                    )
                )
            return data

        try:
            resp = await call_with_retries(attempt, self.retry)
        except RetryableError as exc:
            raise self._exhausted(exc, attempts) from exc.cause
        latency = time.perf_counter() - t0
        return read_completions(resp, self.base_url, self.model, latency, text_tools)

    def _translate_status(self, exc: openai.APIStatusError) -> Exception:
        status = exc.status_code
        where = f"{self.base_url} ({self.model})"
        if status in RETRYABLE_STATUS:
            from thinktank.llm.retry import parse_retry_after

            return RetryableError(exc, parse_retry_after(exc.response.headers))
        if status in (401, 403):
            return AuthenticationFailed(
                f"{where} rejected the credentials (HTTP {status}); check the {self._api_key_env} environment variable",
                endpoint=self.base_url,
                status=status,
            )
        if status in (400, 413, 422) and _context_length_error(exc):
            return ContextLengthExceeded(
                f"{where}: the prompt does not fit the context window: {exc.message}",
                endpoint=self.base_url,
                status=status,
            )
        return ModelRequestError(
            f"{where} refused the request (HTTP {status}): {exc.message}",
            endpoint=self.base_url,
            status=status,
        )

    def _exhausted(self, exc: RetryableError, attempts: int) -> ModelError:
        cause = exc.cause
        if isinstance(cause, MalformedResponse):
            return MalformedResponse(f"{cause} (after {attempts} attempts)", endpoint=self.base_url)
        if isinstance(cause, openai.APIStatusError):
            return ModelError(
                f"{self.base_url} ({self.model}) kept failing with HTTP {cause.status_code} after {attempts} attempts: {cause.message}",
                endpoint=self.base_url,
                status=cause.status_code,
            )
        what = describe_connection_failure(cause, self.base_url, self.timeout)
        return ModelUnavailable(
            f"{what} (model {self.model}, {attempts} attempt{'s' if attempts > 1 else ''})",
            endpoint=self.base_url,
        )
