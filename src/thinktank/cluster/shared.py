"""Cluster-wide limits: the run budget and the per-endpoint request limit, as Ray actors.

* :class:`BudgetActor` holds the real :class:`~thinktank.llm.Budget` of a run. Every
  process taking part (the driver, each worker) keeps a local ``Budget`` whose
  ``shared`` authority is a :class:`BudgetClient`: a model call's reservation is
  decided by the actor (one round trip), settlements are sent without waiting. The
  protocol is the one-process protocol, so the overshoot bound is the same: calls in
  flight (now cluster-wide) times their under-estimate.
* :class:`LimiterActor` grants slots per endpoint, first come first served; a
  :class:`ClusterLimiter` installed with :func:`thinktank.llm.limits.set_endpoint_limiter`
  makes every request of a worker hold one, so the whole cluster keeps to the
  endpoint's ``concurrency``, not each worker.

Both actors account by *holder* (``"<actor id>:<pid>"``). A worker restarted after
its process died releases what its earlier incarnations held, so a killed worker
leaks neither budget reservations nor endpoint slots.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from thinktank.errors import BudgetExceeded
from thinktank.llm.budget import Budget, Reservation, reserve_all

_MIRRORED = ("spent_usd", "spent_tokens", "calls", "reserved_usd", "reserved_tokens")


def budget_limits(b: Budget) -> dict[str, Any]:
    """The limits and name of ``b`` (what a mirror of it is created with)."""
    return {
        "max_usd": b.max_usd,
        "max_tokens": b.max_tokens,
        "max_calls": b.max_calls,
        "max_seconds": b.max_seconds,
        "name": b.name,
    }


def mirror(budget: Budget, state: dict[str, Any]) -> None:
    """Copy the authority's totals into a local budget."""
    for key in _MIRRORED:
        setattr(budget, key, state[key])
    budget.reserved_calls = state["reserved_calls"]


class BudgetActor:
    """The authority over a cluster-wide budget (a sync actor: one call at a time)."""

    def __init__(self, limits: dict[str, Any]) -> None:
        self.budget = Budget(**limits)
        self.held: dict[str, list[float]] = {}
        """Holder → reserved [tokens, usd, calls] not yet settled."""

    def state(self) -> dict[str, Any]:
        return self.budget.state()

    def reserve(
        self, holder: str, tokens: int, usd: float, calls: int
    ) -> tuple[str | None, dict[str, Any]]:
        """Reserve for ``holder``: ``(None, state)`` when granted, else ``(why, state)``."""
        try:
            reserve_all((self.budget,), tokens=tokens, usd=usd, calls=calls)
        except BudgetExceeded as exc:
            return str(exc).split("exhausted: ", 1)[-1], self.budget.state()
        held = self.held.setdefault(holder, [0, 0.0, 0])
        held[0] += tokens
        held[1] += usd
        held[2] += calls
        return None, self.budget.state()

    def _take(self, holder: str, tokens: int, usd: float, calls: int) -> Reservation:
        """The part of a reservation still held (none when its holder was dropped)."""
        held = self.held.get(holder)
        if held is None:
            return Reservation(tokens=0, usd=0.0, calls=0)
        held[0] -= tokens
        held[1] -= usd
        held[2] -= calls
        return Reservation(tokens=tokens, usd=usd, calls=calls)

    def settle(
        self, holder: str, reserved: tuple[int, float, int], tokens: int, usd: float, calls: int
    ) -> None:
        """A call of ``holder`` returned: its reservation becomes the real usage."""
        self.budget.settle(self._take(holder, *reserved), tokens=tokens, usd=usd, calls=calls)

    def release(self, holder: str, reserved: tuple[int, float, int]) -> None:
        """A call of ``holder`` never reached the model."""
        self.budget.release(self._take(holder, *reserved))

    def release_holder(self, prefix: str, keep: str = "") -> int:
        """Release everything held by holders named ``prefix…`` except ``keep`` (earlier
        incarnations of a restarted worker); returns how many holders were dropped."""
        gone = [h for h in self.held if h.startswith(prefix) and h != keep]
        for h in gone:
            tokens, usd, calls = self.held.pop(h)
            self.budget.release(Reservation(tokens=int(tokens), usd=usd, calls=int(calls)))
        return len(gone)


class BudgetClient:
    """A process's side of a cluster-wide budget (a :class:`~thinktank.llm.budget.SharedBudget`)."""

    def __init__(self, actor: Any, holder: str) -> None:
        self.actor = actor
        self.holder = holder

    def reserve(self, budget: Budget, r: Reservation) -> str | None:
        import ray

        # Blocking by design: the reservation protocol is synchronous, and one round
        # trip per model call is small next to the call itself.
        why, state = ray.get(self.actor.reserve.remote(self.holder, r.tokens, r.usd, r.calls))
        mirror(budget, state)
        return why

    def settle(
        self, budget: Budget, r: Reservation, *, tokens: int, usd: float, calls: int
    ) -> None:
        self.actor.settle.remote(self.holder, (r.tokens, r.usd, r.calls), tokens, usd, calls)
        budget.reserved_tokens -= r.tokens
        budget.reserved_usd -= r.usd
        budget.reserved_calls -= r.calls
        budget.spent_tokens += tokens
        budget.spent_usd += usd
        budget.calls += calls

    def release(self, budget: Budget, r: Reservation) -> None:
        self.actor.release.remote(self.holder, (r.tokens, r.usd, r.calls))
        budget.reserved_tokens -= r.tokens
        budget.reserved_usd -= r.usd
        budget.reserved_calls -= r.calls

    async def refresh(self, budget: Budget) -> None:
        """Bring ``budget``'s mirrored totals up to date."""
        mirror(budget, await self.actor.state.remote())


@dataclass
class _Lane:
    limit: int
    in_use: int = 0
    max_in_use: int = 0
    granted: int = 0


class LimiterActor:
    """Grants per-endpoint request slots cluster-wide (an async actor)."""

    def __init__(self) -> None:
        self.lanes: dict[str, _Lane] = {}
        self.waiting: dict[str, OrderedDict[str, asyncio.Future[None]]] = {}
        self.holding: dict[str, tuple[str, str]] = {}
        """Granted ticket → (endpoint, holder)."""
        self.dropped: set[str] = set()

    def _grant(self, endpoint: str, ticket: str, holder: str) -> None:
        lane = self.lanes[endpoint]
        lane.in_use += 1
        lane.granted += 1
        lane.max_in_use = max(lane.max_in_use, lane.in_use)
        self.holding[ticket] = (endpoint, holder)

    async def acquire(self, endpoint: str, limit: int, holder: str, ticket: str) -> bool:
        """Wait for a slot of ``endpoint`` (the first caller's ``limit`` sets its size)."""
        if ticket in self.dropped:  # released (abandoned) before it was asked for
            self.dropped.discard(ticket)
            return False
        lane = self.lanes.setdefault(endpoint, _Lane(limit=max(1, limit)))
        queue = self.waiting.setdefault(endpoint, OrderedDict())
        if lane.in_use < lane.limit and not queue:
            self._grant(endpoint, ticket, holder)
            return True
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue[ticket] = fut
        self.holding.setdefault(ticket, ("", holder))  # waiting; replaced when granted
        await fut
        return True

    def release(self, ticket: str) -> None:
        """Give back a slot (or withdraw a request still waiting)."""
        endpoint, _ = self.holding.pop(ticket, ("", ""))
        if not endpoint:
            for queue in self.waiting.values():
                fut = queue.pop(ticket, None)
                if fut is not None:
                    fut.cancel()
                    return
            self.dropped.add(ticket)
            return
        lane = self.lanes[endpoint]
        lane.in_use -= 1
        waiting = self.waiting.get(endpoint)
        while waiting and lane.in_use < lane.limit:
            nxt, fut = waiting.popitem(last=False)
            if fut.cancelled():
                continue
            _, holder = self.holding.get(nxt, ("", ""))
            self._grant(endpoint, nxt, holder)
            fut.set_result(None)

    def release_holder(self, prefix: str, keep: str = "") -> int:
        """Release every slot held or awaited by holders named ``prefix…`` but ``keep``."""
        gone = [t for t, (_, h) in self.holding.items() if h.startswith(prefix) and h != keep]
        for ticket in gone:
            self.release(ticket)
        return len(gone)

    def stats(self) -> dict[str, dict[str, int]]:
        """Per endpoint: limit, in use, the most ever in use, grants, waiting."""
        return {
            ep: {
                "limit": lane.limit,
                "in_use": lane.in_use,
                "max_in_use": lane.max_in_use,
                "granted": lane.granted,
                "waiting": len(self.waiting.get(ep, ())),
            }
            for ep, lane in self.lanes.items()
        }


class ClusterLimiter:
    """A worker's :class:`~thinktank.llm.limits.EndpointLimiter` backed by a :class:`LimiterActor`."""

    def __init__(self, actor: Any, holder: str) -> None:
        self.actor = actor
        self.holder = holder
        self._ids = itertools.count()

    @asynccontextmanager
    async def slot(self, endpoint: str, limit: int) -> AsyncIterator[None]:
        ticket = f"{self.holder}#{next(self._ids)}"
        try:
            await self.actor.acquire.remote(endpoint, limit, self.holder, ticket)
        except BaseException:
            self.actor.release.remote(ticket)  # cancelled while waiting: withdraw it
            raise
        try:
            yield
        finally:
            self.actor.release.remote(ticket)
