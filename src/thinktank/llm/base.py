"""The model contract: :class:`ChatModel`.

Implementations write one method, :meth:`ChatModel._generate`, which must return
exactly ``request.n`` completions. The public :meth:`ChatModel.generate` wraps it
with what every model shares: request normalisation, budget reservation and
settlement, the response cache, and the usage ledger.
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from thinktank import telemetry
from thinktank.errors import BudgetExceeded, ModelError
from thinktank.llm.admission import CallCost, admit, output_lengths
from thinktank.llm.budget import Reservation
from thinktank.llm.cache import ResponseCache, request_key
from thinktank.llm.ledger import CallRecord, current_scope
from thinktank.llm.pricing import price_for
from thinktank.llm.types import ChatRequest, Completion, as_dicts


class Capabilities(BaseModel):
    """What an endpoint supports natively; the rest is emulated."""

    native_n: bool = True
    """Accepts ``n > 1`` in one request (else fanned out as concurrent requests)."""
    native_tools: bool = True
    """Supports OpenAI function calling (else the text tool-call protocol is used)."""
    json_schema: bool = True
    """Supports ``response_format={"type": "json_schema", ...}``."""


def estimate_prompt_tokens(
    messages: Sequence[dict[str, Any]], tools: Sequence[Any] | None = None
) -> int:
    """A deliberately generous prompt-size estimate (≈3 characters per token).

    Budgets reserve with it; over-estimating keeps the overshoot bound true.
    """
    chars = 0
    for m in messages:
        content = m.get("content")
        if isinstance(content, str):
            chars += len(content)
        elif content is not None:
            chars += len(json.dumps(content, default=str))
        if m.get("tool_calls"):
            chars += len(json.dumps(m["tool_calls"], default=str))
        chars += 16
    if tools:
        chars += len(json.dumps(list(tools), default=str))
    return chars // 3 + 8


class ChatModel(ABC):
    """An async chat-completion model.

    ``model_id`` names the model for prices, caching and records (e.g.
    ``openai:gpt-4o-mini``). ``default_max_tokens`` is sent when a caller gives no
    ``max_tokens``, so every call has a bounded worst case for budgets.
    """

    model_id: str = "model"
    capabilities: Capabilities = Capabilities()
    default_max_tokens: int = 1024
    cache: ResponseCache | None = None

    @abstractmethod
    async def _generate(self, request: ChatRequest) -> list[Completion]:
        """Send one request; return exactly ``request.n`` completions."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections; the default holds nothing."""

    async def __aenter__(self) -> ChatModel:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def price_key(self) -> str:
        return self.model_id

    async def generate(
        self,
        messages: Sequence[Any],
        *,
        n: int = 1,
        temperature: float | None = None,
        max_tokens: int | None = None,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: Any = None,
        response_format: dict[str, Any] | None = None,
        seed: int | None = None,
        stop: list[str] | None = None,
    ) -> list[Completion]:
        """Sample ``n`` completions for ``messages``.

        Raises :class:`~thinktank.errors.BudgetExceeded` before sending when a budget
        in scope cannot cover the call's worst case.
        """
        request = ChatRequest(
            messages=as_dicts(messages),
            n=n,
            temperature=temperature,
            max_tokens=max_tokens if max_tokens is not None else self.default_max_tokens,
            tools=tools or None,
            tool_choice=tool_choice,
            response_format=response_format,
            seed=seed,
            stop=stop,
        )
        return await self.generate_request(request)

    def generate_sync(self, messages: Sequence[Any], **kwargs: Any) -> list[Completion]:
        """Blocking :meth:`generate`, for scripts and notebooks."""
        from thinktank._sync import run_sync

        return run_sync(self.generate(messages, **kwargs))

    async def generate_request(self, request: ChatRequest) -> list[Completion]:
        sc = current_scope()
        reservations: list[Reservation] = []
        asked = request.max_tokens or self.default_max_tokens
        clipped_from: int | None = None
        waited_s = 0.0
        if sc.budgets:
            price = price_for(self.price_key)
            role = sc.labels.get("role", "")
            admission = await admit(
                sc.budgets,
                CallCost(
                    prompt_tokens=estimate_prompt_tokens(request.messages, request.tools)
                    * request.n,
                    n=request.n,
                    max_tokens=asked,
                    min_tokens=output_lengths.min_tokens(self.model_id, role, asked),
                    input_usd=price.input / 1_000_000,
                    output_usd=price.output / 1_000_000,
                ),
                priority=sc.priority,
                min_tokens=lambda: output_lengths.min_tokens(self.model_id, role, asked),
            )
            reservations, waited_s = admission.reservations, admission.waited_s
            if admission.clipped:
                clipped_from = asked
                request = request.model_copy(update={"max_tokens": admission.max_tokens})
        t0 = time.perf_counter()
        results: dict[int, Completion] = {}
        try:
            if self.cache is not None:
                key = request_key(request.cache_payload(self.model_id))
                indices = self.cache.claim(key, request.n)
                hits = self.cache.get(key, indices)
                results.update(
                    {
                        i: c.model_copy(
                            update={"usage": c.usage.model_copy(update={"cached": True})}
                        )
                        for i, c in hits.items()
                    }
                )
                missing = [i for i in indices if i not in hits]
                if missing:
                    fresh = await self._checked(request.model_copy(update={"n": len(missing)}))
                    self.cache.put(key, self.model_id, dict(zip(missing, fresh, strict=True)))
                    results.update(zip(missing, fresh, strict=True))
                completions = [results[i] for i in indices]
            else:
                completions = await self._checked(request)
        except BaseException as exc:
            for b, r in zip(sc.budgets, reservations, strict=False):
                b.release(r)
            telemetry.chat(self, request, None, time.perf_counter() - t0, error=exc)
            if sc.ledgers and not isinstance(exc, BudgetExceeded):
                rec = CallRecord(
                    model=self.model_id,
                    labels=dict(sc.labels),
                    samples=request.n,
                    latency_s=time.perf_counter() - t0,
                    budget_wait_s=waited_s,
                    error=f"{type(exc).__name__}: {exc}"[:500],
                )
                for ledger in sc.ledgers:
                    ledger.record(rec)
            raise
        self._account(
            request,
            completions,
            reservations,
            time.perf_counter() - t0,
            clipped_from=clipped_from,
            waited_s=waited_s,
        )
        return completions

    async def _checked(self, request: ChatRequest) -> list[Completion]:
        out = await self._generate(request)
        if len(out) != request.n:
            raise ModelError(f"{self.model_id} returned {len(out)} completions for n={request.n}")
        return out

    def _account(
        self,
        request: ChatRequest,
        completions: list[Completion],
        reservations: list[Reservation],
        latency: float,
        *,
        clipped_from: int | None = None,
        waited_s: float = 0.0,
    ) -> None:
        sc = current_scope()
        if sc.budgets:  # only admission reads these lengths: calls without budgets skip it
            role = sc.labels.get("role", "")
            for c in completions:
                if not c.usage.cached and c.finish_reason != "length":
                    output_lengths.observe(self.model_id, role, c.usage.completion_tokens)
        prompt = sum(c.usage.prompt_tokens for c in completions)
        completion = sum(c.usage.completion_tokens for c in completions)
        fresh = [c for c in completions if not c.usage.cached]
        price = price_for(self.price_key)
        cost = price.cost(prompt, completion)
        spent = (
            cost
            if len(fresh) == len(completions)
            else price.cost(
                sum(c.usage.prompt_tokens for c in fresh),
                sum(c.usage.completion_tokens for c in fresh),
            )
        )
        # Budgets are charged the full cost (cached or not) so that a re-run from the
        # cache takes exactly the same budget decisions as the original run.
        for b, r in zip(sc.budgets, reservations, strict=True):
            b.settle(r, tokens=prompt + completion, usd=cost)
        telemetry.chat(self, request, completions, latency, cost)
        if sc.ledgers:
            rec = CallRecord(
                model=self.model_id,
                labels=sc.labels,  # copied by the record's validation
                samples=len(completions),
                cached_samples=len(completions) - len(fresh),
                prompt_tokens=prompt,
                completion_tokens=completion,
                latency_s=latency,
                cost_usd=cost,
                spent_usd=spent,
                max_tokens=request.max_tokens,
                clipped_from=clipped_from,
                budget_wait_s=waited_s,
            )
            for ledger in sc.ledgers:
                ledger.record(rec)
