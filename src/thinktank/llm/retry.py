"""The one retry layer for model calls (tenacity; SDK retries are off).

Retried: 408, 409, 429, 5xx, connection errors, timeouts, and bodies that do not
parse. Never retried: authentication, invalid requests, context-length errors.
Waits honour ``retry-after-ms`` / ``Retry-After`` when the server sends them,
otherwise exponential backoff with full jitter. When attempts run out the caller
gets a :class:`~thinktank.errors.ModelError` naming the endpoint, chained to the
last underlying error.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

T = TypeVar("T")

RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


class RetryPolicy(BaseModel):
    """How model calls are retried."""

    model_config = ConfigDict(extra="forbid")

    max_retries: int = Field(default=5, ge=0)
    """Retries after the first attempt; attempts never exceed ``max_retries + 1``."""
    initial_s: float = Field(default=0.5, ge=0)
    """Base of the exponential backoff (the first wait is uniform in [0, initial_s])."""
    max_wait_s: float = Field(default=30.0, ge=0)
    """Cap of one backoff wait."""
    max_retry_after_s: float = Field(default=120.0, ge=0)
    """Longest server-requested wait honoured; longer requests are capped to this."""


class RetryableError(Exception):
    """Internal marker: a failed attempt that may be retried.

    ``retry_after`` is the server-requested wait in seconds, when it sent one.
    """

    def __init__(self, cause: BaseException, retry_after: float | None = None) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.retry_after = retry_after


def parse_retry_after(headers: object) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP date)."""
    get = getattr(headers, "get", None)
    if get is None:
        return None
    ms = get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    ra = get("retry-after")
    if not ra:
        return None
    try:
        return max(0.0, float(ra))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(ra) if ra else None
        if parsed is None:
            return None
        return max(0.0, parsed.timestamp() - time.time())


def _delay(policy: RetryPolicy, exc: BaseException | None, attempt: int) -> float:
    """The wait after failed attempt number ``attempt`` (1-based)."""
    if isinstance(exc, RetryableError) and exc.retry_after is not None:
        return min(exc.retry_after, policy.max_retry_after_s)
    # full jitter: uniform in [0, min(cap, base * 2^(attempt-1))]
    ceiling = min(policy.max_wait_s, policy.initial_s * (2 ** (attempt - 1)))
    return random.uniform(0, ceiling)


async def call_with_retries(
    fn: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    on_retry: Callable[[RetryableError, int], None] | None = None,
) -> T:
    """Run ``fn`` with the policy; ``fn`` raises :class:`RetryableError` for retryable failures.

    Returns ``fn``'s result or re-raises the last :class:`RetryableError` (callers
    translate it); non-retryable exceptions pass through at once.
    """

    # Fast path: the first attempt runs without building a retry controller, so a
    # healthy endpoint pays nothing for the retry layer.
    try:
        return await fn()
    except RetryableError as exc:
        if policy.max_retries == 0:
            raise
        if on_retry is not None:
            on_retry(exc, 1)
        await asyncio.sleep(_delay(policy, exc, 1))

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        return _delay(policy, exc, state.attempt_number + 1)

    def before_sleep(state: RetryCallState) -> None:
        if on_retry is not None and state.outcome is not None:
            exc = state.outcome.exception()
            if isinstance(exc, RetryableError):
                on_retry(exc, state.attempt_number + 1)

    retrying = AsyncRetrying(
        stop=stop_after_attempt(policy.max_retries),
        wait=wait,
        retry=retry_if_exception(lambda e: isinstance(e, RetryableError)),
        before_sleep=before_sleep,
        reraise=True,
    )
    return await retrying(fn)
