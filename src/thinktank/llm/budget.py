"""Budgets: limits on dollars, tokens, calls and seconds, nestable run → task → node.

A model call reserves its worst case — the estimated prompt tokens plus ``max_tokens``
per sample — on every budget in scope before it is sent, and *settles* to the real
usage when it returns; :mod:`thinktank.llm.admission` decides when a call may reserve
(it waits for calls in flight, clips ``max_tokens`` near a budget's end, refuses only
when a minimal useful call does not fit).

**Overshoot bound**: a budget can only pass its limit by what calls spent beyond their
reservation, i.e. prompts longer than the estimate (≈3 characters per token,
deliberately generous) or servers that ignore ``max_tokens``; each budget sums that
excess in ``excess_usd`` / ``excess_tokens``, so ``spent ≤ limit + excess`` always
holds and is checked by ``bench/budget_use.py``.

A budget may be *shared* by several processes (a cluster-wide run budget): its
``shared`` authority (:class:`SharedBudget`) then decides every reservation and
keeps the totals, and the local object mirrors them. The reservation protocol, and
so the overshoot bound, is the same as in one process.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel

from thinktank.errors import BudgetExceeded

if TYPE_CHECKING:
    from thinktank.llm.admission import CallCost

_LOCK = threading.RLock()
"""Guards every budget's totals (admission holds it while it decides and reserves)."""


@dataclass
class Reservation:
    """What one call holds on one budget until it settles."""

    tokens: int
    usd: float
    calls: int = 1
    settled: bool = False


class SharedBudget(Protocol):
    """The authority over a budget shared by several processes.

    It keeps the real totals; each method also refreshes the mirrored totals of the
    local ``budget`` object it is called for.
    """

    def reserve(self, budget: Budget, r: Reservation) -> str | None:
        """Reserve ``r``; ``None`` when granted, else why it was refused."""
        ...

    def settle(
        self, budget: Budget, r: Reservation, *, tokens: int, usd: float, calls: int
    ) -> None:
        """Replace reservation ``r`` by the usage the call really had."""
        ...

    def release(self, budget: Budget, r: Reservation) -> None:
        """Drop reservation ``r`` (its call never reached the model)."""
        ...

    async def refresh(self, budget: Budget) -> None:
        """Bring ``budget``'s mirrored totals up to date (a waiting call polls it)."""
        ...


@dataclass
class Budget:
    """Limits for a scope of work. ``None`` means unlimited.

    Create one per run, task or node and enter it with
    :func:`thinktank.llm.scope`; nested scopes charge every enclosing budget.
    """

    max_usd: float | None = None
    """Dollar limit, priced from the model price table."""
    max_tokens: int | None = None
    """Prompt + completion token limit."""
    max_calls: int | None = None
    """Limit on model requests (a request for n samples counts n)."""
    max_seconds: float | None = None
    """Wall-clock limit, counted from the budget's creation."""
    name: str = "budget"
    """Label shown in errors and records."""

    spent_usd: float = 0.0
    spent_tokens: int = 0
    calls: int = 0
    reserved_usd: float = 0.0
    reserved_tokens: int = 0
    reserved_calls: int = 0
    refused: int = 0
    """How many calls this budget refused."""
    clipped: int = 0
    """How many calls it sent with ``max_tokens`` clipped to what it could still pay."""
    waited: int = 0
    """How many calls waited for calls in flight to settle before it admitted them."""
    excess_usd: float = 0.0
    """Dollars calls spent beyond their reservations (the overshoot bound: ``spent ≤ max + excess``)."""
    excess_tokens: int = 0
    """Tokens calls used beyond their reservations."""
    started: float = field(default_factory=time.monotonic)
    _waiting: set[tuple[float, int]] = field(default_factory=set, repr=False, compare=False)
    """Calls waiting for admission, by (priority, arrival): the oldest goes first."""
    shared: SharedBudget | None = field(default=None, repr=False, compare=False)
    """The authority when this budget is shared across processes (the totals above
    are then its mirror); ``None`` for a budget of this process alone."""

    # --- queries -------------------------------------------------------------------

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    @property
    def exhausted(self) -> bool:
        """True once any limit is reached by settled usage (no further call fits)."""
        return self._violation(0, 0.0, 0, reserved=False) is not None

    def remaining_usd(self) -> float | None:
        if self.max_usd is None:
            return None
        return max(0.0, self.max_usd - self.spent_usd - self.reserved_usd)

    def state(self) -> dict[str, Any]:
        """A JSON-ready snapshot: limits, spent, reserved, refusals, elapsed."""
        return {
            "name": self.name,
            "max_usd": self.max_usd,
            "max_tokens": self.max_tokens,
            "max_calls": self.max_calls,
            "max_seconds": self.max_seconds,
            "spent_usd": round(self.spent_usd, 10),
            "spent_tokens": self.spent_tokens,
            "calls": self.calls,
            "reserved_usd": round(self.reserved_usd, 10),
            "reserved_tokens": self.reserved_tokens,
            "reserved_calls": self.reserved_calls,
            "refused": self.refused,
            "clipped": self.clipped,
            "waited": self.waited,
            "excess_usd": round(self.excess_usd, 10),
            "excess_tokens": self.excess_tokens,
            "elapsed_s": round(self.elapsed_s, 3),
        }

    # --- reservation protocol --------------------------------------------------------

    def _violation(
        self, tokens: int, usd: float, calls: int, *, reserved: bool = True
    ) -> str | None:
        r_usd = self.reserved_usd if reserved else 0.0
        r_tok = self.reserved_tokens if reserved else 0
        r_calls = self.reserved_calls if reserved else 0
        if self.max_seconds is not None and self.elapsed_s >= self.max_seconds:
            return f"time limit of {self.max_seconds:g}s reached"
        if self.max_usd is not None:
            if self.spent_usd + r_usd + usd > self.max_usd + 1e-12 or (
                calls == 0 and self.spent_usd >= self.max_usd
            ):
                return f"${self.max_usd:g} limit (spent ${self.spent_usd:.6f}, in flight ${r_usd:.6f}, this call up to ${usd:.6f})"
        if self.max_tokens is not None:
            if self.spent_tokens + r_tok + tokens > self.max_tokens or (
                calls == 0 and self.spent_tokens >= self.max_tokens
            ):
                return f"{self.max_tokens} token limit (spent {self.spent_tokens}, in flight {r_tok}, this call up to {tokens})"
        if self.max_calls is not None:
            if self.calls + r_calls + calls > self.max_calls or (
                calls == 0 and self.calls >= self.max_calls
            ):
                return f"{self.max_calls} call limit (made {self.calls}, in flight {r_calls})"
        return None

    def _afford(self, c: CallCost, *, reserved: bool) -> tuple[int, str]:
        """The most output tokens per sample this budget can pay for call ``c`` (capped at
        ``c.max_tokens``; negative when not even an empty reply fits), and why it is limited."""
        r_usd = self.reserved_usd if reserved else 0.0
        r_tok = self.reserved_tokens if reserved else 0
        r_calls = self.reserved_calls if reserved else 0
        if self.max_seconds is not None and self.elapsed_s >= self.max_seconds:
            return -1, f"time limit of {self.max_seconds:g}s reached"
        if self.max_calls is not None and self.calls + r_calls + c.n > self.max_calls:
            return -1, f"{self.max_calls} call limit (made {self.calls}, in flight {r_calls})"
        cap, why = c.max_tokens, ""
        if self.max_usd is not None:
            left = self.max_usd - self.spent_usd - r_usd - c.prompt_tokens * c.input_usd
            if left < -1e-12:
                k = -1
            elif c.output_usd > 0:
                k = math.floor(left / (c.n * c.output_usd) + 1e-9)
            else:
                k = cap
            if k < cap:
                cap = k
                why = (
                    f"${self.max_usd:g} limit (spent ${self.spent_usd:.6f}, in flight "
                    f"${r_usd:.6f}, this call up to ${c.usd(c.max_tokens):.6f})"
                )
        if self.max_tokens is not None:
            left_t = self.max_tokens - self.spent_tokens - r_tok - c.prompt_tokens
            k = left_t // c.n if left_t >= 0 else -1
            if k < cap:
                cap = k
                why = (
                    f"{self.max_tokens} token limit (spent {self.spent_tokens}, in flight "
                    f"{r_tok}, this call up to {c.tokens(c.max_tokens)})"
                )
        return cap, why

    def _apply(self, r: Reservation, sign: int) -> None:
        self.reserved_tokens += sign * r.tokens
        self.reserved_usd += sign * r.usd
        self.reserved_calls += sign * r.calls

    def settle(self, r: Reservation, *, tokens: int, usd: float, calls: int | None = None) -> None:
        """Replace a reservation by the usage the call really had."""
        with _LOCK:
            if r.settled:
                return
            r.settled = True
            self.excess_usd += max(0.0, usd - r.usd)
            self.excess_tokens += max(0, tokens - r.tokens)
            if self.shared is not None:
                calls = r.calls if calls is None else calls
                self.shared.settle(self, r, tokens=tokens, usd=usd, calls=calls)
                return
            self._apply(r, -1)
            self.spent_tokens += tokens
            self.spent_usd += usd
            self.calls += r.calls if calls is None else calls

    def release(self, r: Reservation) -> None:
        """Drop a reservation whose call never reached the model."""
        with _LOCK:
            if not r.settled:
                r.settled = True
                if self.shared is not None:
                    self.shared.release(self, r)
                else:
                    self._apply(r, -1)


def reserve_all(
    budgets: tuple[Budget, ...], *, tokens: int, usd: float, calls: int
) -> list[Reservation]:
    """Reserve on every budget, or on none: raises :class:`BudgetExceeded` naming the first that refuses."""
    with _LOCK:
        for b in budgets:
            why = b._violation(tokens, usd, calls) if b.shared is None else None
            if why is not None:
                b.refused += 1
                raise BudgetExceeded(f"budget {b.name!r} exhausted: {why}", state=b.state())
        got = take_all(budgets, tokens=tokens, usd=usd, calls=calls)
        if isinstance(got, tuple):
            b, why = got
            b.refused += 1
            raise BudgetExceeded(f"budget {b.name!r} exhausted: {why}", state=b.state())
        return got


def take_all(
    budgets: tuple[Budget, ...], *, tokens: int, usd: float, calls: int
) -> list[Reservation] | tuple[Budget, str]:
    """Reserve on every budget, already checked by the caller (who holds ``_LOCK``); a
    shared budget's authority may still refuse: then nothing stays reserved and the
    refusing budget and its reason come back."""
    out: list[Reservation] = []
    for b in budgets:
        r = Reservation(tokens=tokens, usd=usd, calls=calls)
        if b.shared is not None and (why := b.shared.reserve(b, r)) is not None:
            for done_b, done_r in zip(budgets, out, strict=False):
                done_b.release(done_r)
            return b, why
        if b.shared is None:
            b._apply(r, +1)
        out.append(r)
    return out


class BudgetState(BaseModel):
    """A budget as it stood when a run ended (:meth:`Budget.state`), as records keep it."""

    name: str = "budget"
    max_usd: float | None = None
    max_tokens: int | None = None
    max_calls: int | None = None
    max_seconds: float | None = None
    spent_usd: float = 0.0
    spent_tokens: int = 0
    calls: int = 0
    reserved_usd: float = 0.0
    reserved_tokens: int = 0
    reserved_calls: int = 0
    refused: int = 0
    """Calls it refused."""
    clipped: int = 0
    """Calls whose ``max_tokens`` it cut to what it could still pay."""
    waited: int = 0
    """Calls that waited for calls in flight to settle."""
    excess_usd: float = 0.0
    """What calls spent beyond their reservations: ``spent_usd <= max_usd + excess_usd``."""
    excess_tokens: int = 0
    elapsed_s: float = 0.0
