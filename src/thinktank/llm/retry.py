"""The one retry layer for model calls (tenacity; SDK retries are off).

Retried: 408, 409, 429, 5xx, connection errors, timeouts, and bodies that do not
parse. Never retried: authentication, invalid requests, context-length errors.
Waits honour ``retry-after-ms`` / ``Retry-After`` when the server sends them,
otherwise exponential backoff with full jitter. A *refused* connection (nothing
listens at the address) is retried only ``refused_retries`` times after a short
fixed wait: a server that is starting comes up within that, one that is down does
not, and backing off for seconds would only delay the report. When attempts run
out the caller gets a :class:`~thinktank.errors.ModelError` naming the endpoint,
chained to the last underlying error.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from pydantic import Field
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception

from thinktank._strict import StrictModel

T = TypeVar("T")

RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


class RetryPolicy(StrictModel):
    """How model calls are retried."""

    max_retries: int = Field(default=5, ge=0)
    """Retries after the first attempt; attempts never exceed ``max_retries + 1``."""
    initial_s: float = Field(default=0.5, ge=0)
    """Base of the exponential backoff (the first wait is uniform in [0, initial_s])."""
    max_wait_s: float = Field(default=30.0, ge=0)
    """Cap of one backoff wait."""
    max_retry_after_s: float = Field(default=120.0, ge=0)
    """Longest server-requested wait honoured; longer requests are capped to this."""
    refused_retries: int = Field(default=2, ge=0)
    """Retries of a refused connection (never more than ``max_retries``)."""
    refused_wait_s: float = Field(default=0.2, ge=0)
    """Wait before retrying a refused connection (fixed: no backoff)."""


class RetryableError(Exception):
    """Internal marker: a failed attempt that may be retried.

    ``retry_after`` is the server-requested wait in seconds, when it sent one;
    ``refused`` marks a connection the endpoint's host refused.
    """

    def __init__(
        self, cause: BaseException, retry_after: float | None = None, *, refused: bool = False
    ) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.retry_after = retry_after
        self.refused = refused


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


def _out_of_attempts(policy: RetryPolicy, exc: BaseException | None, attempts: int) -> bool:
    """True when no attempt may follow ``attempts`` failed ones ending in ``exc``."""
    retries = policy.max_retries
    if isinstance(exc, RetryableError) and exc.refused:
        retries = min(retries, policy.refused_retries)
    return attempts > retries


def _delay(policy: RetryPolicy, exc: BaseException | None, attempt: int) -> float:
    """The wait after failed attempt number ``attempt`` (1-based)."""
    if isinstance(exc, RetryableError) and exc.retry_after is not None:
        return min(exc.retry_after, policy.max_retry_after_s)
    if isinstance(exc, RetryableError) and exc.refused:
        return policy.refused_wait_s
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
        if _out_of_attempts(policy, exc, 1):
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

    def stop(state: RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        return _out_of_attempts(policy, exc, state.attempt_number + 1)

    retrying = AsyncRetrying(
        stop=stop,
        wait=wait,
        retry=retry_if_exception(lambda e: isinstance(e, RetryableError)),
        before_sleep=before_sleep,
        reraise=True,
    )
    return await retrying(fn)
