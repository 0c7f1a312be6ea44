"""Budgets: limits on dollars, tokens, calls and seconds, nestable run → task → node.

A model call is *admitted* (:func:`admit`) before it is sent: it reserves its worst
case — the estimated prompt tokens plus ``max_tokens`` per sample — on every budget
in scope, and *settles* to the real usage when it returns. Admission spends a
budget to its end instead of starving it:

1. the worst case fits what is neither spent nor reserved → sent as asked;
2. it would fit once the calls in flight settle (they reserved their worst case
   and usually spend far less) → the call **waits** for them, then tries again;
3. the budget is near its end (even settled spending leaves less than the worst
   case) → ``max_tokens`` is **clipped** to what the budget can still pay, as long
   as that is at least the call's *minimal useful* output (``min_tokens``: what
   calls of this model and role really returned, see :class:`OutputLengths`);
4. not even the minimal call fits settled spending → refused with
   :class:`~thinktank.errors.BudgetExceeded`.

So a run cut by its budget has spent all of it but less than one minimal call, and
every call's reservation covers its worst case. **Overshoot bound**: a budget can
only pass its limit by what calls spent beyond their reservation, i.e. prompts
longer than the estimate (≈3 characters per token, deliberately generous) or
servers that ignore ``max_tokens``; each budget sums that excess in
``excess_usd`` / ``excess_tokens``, so ``spent ≤ limit + excess`` always holds and
is checked by ``bench/budget_use.py``.

A budget may be *shared* by several processes (a cluster-wide run budget): its
``shared`` authority (:class:`SharedBudget`) then decides every reservation and
keeps the totals, and the local object mirrors them. The reservation protocol, and
so the overshoot bound, is the same as in one process.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from thinktank.errors import BudgetExceeded

_LOCK = threading.RLock()


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
        out: list[Reservation] = []
        for b in budgets:
            r = Reservation(tokens=tokens, usd=usd, calls=calls)
            if b.shared is not None and (why := b.shared.reserve(b, r)) is not None:
                for done_b, done_r in zip(budgets, out, strict=False):
                    done_b.release(done_r)
                b.refused += 1
                raise BudgetExceeded(f"budget {b.name!r} exhausted: {why}", state=b.state())
            if b.shared is None:
                b._apply(r, +1)
            out.append(r)
        return out


# --- admission ---------------------------------------------------------------------------

DEFAULT_MIN_TOKENS = 256
"""A call's minimal useful output per sample before any call of its model and role
has returned (afterwards: what those calls really returned, see :class:`OutputLengths`)."""

MIN_TOKENS_FLOOR = 16
"""No call is clipped below this many output tokens per sample."""


@dataclass(frozen=True)
class CallCost:
    """What one model request may cost: the input to :func:`admit`."""

    prompt_tokens: int
    """Estimated prompt tokens of the whole request (every sample)."""
    n: int
    """Samples requested."""
    max_tokens: int
    """Output tokens per sample asked for."""
    min_tokens: int
    """The smallest ``max_tokens`` per sample still worth sending (clipping stops here)."""
    input_usd: float = 0.0
    """Dollars per prompt token."""
    output_usd: float = 0.0
    """Dollars per completion token."""

    def usd(self, out_per_sample: int) -> float:
        return self.prompt_tokens * self.input_usd + self.n * out_per_sample * self.output_usd

    def tokens(self, out_per_sample: int) -> int:
        return self.prompt_tokens + self.n * out_per_sample


@dataclass
class Admission:
    """An admitted call: its reservations and the ``max_tokens`` it may send."""

    reservations: list[Reservation]
    max_tokens: int
    clipped: bool = False
    waited_s: float = 0.0


class OutputLengths:
    """Completion lengths calls really returned, per (model, role): the minimal useful
    output of the next call of that model and role is their 90th percentile."""

    def __init__(self, keep: int = 256, quantile: float = 0.9, min_count: int = 3) -> None:
        self.keep, self.quantile, self.min_count = keep, quantile, min_count
        self._seen: dict[tuple[str, str], deque[int]] = {}

    def observe(self, model: str, role: str, completion_tokens: int) -> None:
        with _LOCK:
            for key in ((model, role), (model, "")) if role else ((model, ""),):
                self._seen.setdefault(key, deque(maxlen=self.keep)).append(completion_tokens)

    def estimate(self, model: str, role: str = "") -> int | None:
        """The quantile of the lengths seen for (model, role), else for the model; None
        before ``min_count`` calls returned."""
        with _LOCK:
            for key in ((model, role), (model, "")):
                seen = self._seen.get(key)
                if seen is not None and len(seen) >= self.min_count:
                    ordered = sorted(seen)
                    return ordered[min(len(ordered) - 1, int(self.quantile * len(ordered)))]
        return None

    def min_tokens(self, model: str, role: str, max_tokens: int) -> int:
        """The minimal useful ``max_tokens`` for a call (never above ``max_tokens``)."""
        est = self.estimate(model, role)
        want = DEFAULT_MIN_TOKENS if est is None else max(MIN_TOKENS_FLOOR, est)
        return max(1, min(max_tokens, want))

    def clear(self) -> None:
        with _LOCK:
            self._seen.clear()


output_lengths = OutputLengths()
"""The process-wide record of completion lengths that :func:`admit` clips against."""


def _try_admit(
    budgets: tuple[Budget, ...], c: CallCost
) -> tuple[str, int, tuple[Budget, str] | None]:
    """One admission decision (the caller holds ``_LOCK``): ``("grant", max_tokens, None)``,
    ``("wait", 0, None)`` or ``("refuse", 0, (budget, why))``."""
    verdict, out, limit, _ = _decide(budgets, c)
    return verdict, out, limit


def _decide(
    budgets: tuple[Budget, ...], c: CallCost
) -> tuple[str, int, tuple[Budget, str] | None, list[Budget]]:
    """:func:`_try_admit`, plus the budgets that cannot grant the full call now."""
    now, settled = c.max_tokens, c.max_tokens
    limit_now: tuple[Budget, str] | None = None
    limit_settled: tuple[Budget, str] | None = None
    in_flight = False
    short: list[Budget] = []
    for b in budgets:
        k, why = b._afford(c, reserved=True)
        if k < c.max_tokens:
            short.append(b)
        if k < now:
            now, limit_now = k, (b, why)
        k, why = b._afford(c, reserved=False)
        if k < settled:
            settled, limit_settled = k, (b, why)
        in_flight = in_flight or bool(b.reserved_calls or b.reserved_usd > 0 or b.reserved_tokens)
    if now >= c.max_tokens:
        return "grant", c.max_tokens, None, short
    if in_flight and settled >= c.max_tokens:
        return "wait", 0, None, short
    if now >= c.min_tokens:
        return "grant", now, None, short
    if in_flight and settled >= c.min_tokens:
        return "wait", 0, None, short
    return "refuse", 0, limit_settled or limit_now, short


def _reserve_granted(budgets: tuple[Budget, ...], c: CallCost, out: int) -> list[Reservation] | str:
    """Reserve ``c`` with ``out`` tokens per sample on every budget (caller holds ``_LOCK``);
    the refusal of a shared budget's authority comes back as a string."""
    done: list[Reservation] = []
    for b in budgets:
        r = Reservation(tokens=c.tokens(out), usd=c.usd(out), calls=c.n)
        if b.shared is not None:
            why = b.shared.reserve(b, r)
            if why is not None:
                for done_b, done_r in zip(budgets, done, strict=False):
                    done_b.release(done_r)
                return f"budget {b.name!r} exhausted: {why}"
        else:
            b._apply(r, +1)
        done.append(r)
    return done


_ARRIVALS = iter(range(1, 1 << 62))


async def admit(
    budgets: tuple[Budget, ...],
    c: CallCost,
    *,
    priority: float | None = None,
    min_tokens: Callable[[], int] | None = None,
    poll_s: float = 0.002,
    max_poll_s: float = 0.025,
) -> Admission:
    """Admit a call on every budget (see the module docstring), waiting while calls in
    flight hold what it needs; raises :class:`~thinktank.errors.BudgetExceeded` when
    not even its minimal useful output fits.

    Waiting calls are served in order of ``priority`` (lower first, ``None`` last), then
    arrival: a call that would fit still waits behind an older call waiting for room on
    one of its budgets, so a large call is not starved by small ones and, in an eval,
    the tasks started first finish first instead of every task being cut half-way. A
    waiting call queues only on the budgets that hold it back (a task waiting for its
    own task budget does not hold up other tasks on the run budget). ``min_tokens``, when
    given, recomputes the call's minimal useful output each time it decides (the lengths
    calls return while it waits refine it)."""
    t0 = time.monotonic()
    with _LOCK:
        key = (math.inf if priority is None else float(priority), next(_ARRIVALS))
    waited = False
    delay = poll_s
    try:
        while True:
            if min_tokens is not None and waited:
                c = replace(c, min_tokens=min(c.max_tokens, min_tokens()))
            with _LOCK:
                verdict, out, limit, short = _decide(budgets, c)
                if verdict == "refuse":
                    b, why = limit or (budgets[0], "no budget left")
                    b.refused += 1
                    raise BudgetExceeded(f"budget {b.name!r} exhausted: {why}", state=b.state())
                older = any(w < key for b in budgets for w in b._waiting)
                if verdict == "grant" and not older:
                    got = _reserve_granted(budgets, c, out)
                    if isinstance(got, list):
                        clipped = out < c.max_tokens
                        for b in budgets:
                            b.clipped += clipped
                            b.waited += waited
                        wait_s = time.monotonic() - t0 if waited else 0.0
                        return Admission(got, out, clipped, wait_s)
                    # a shared authority saw more spending than this process's mirror:
                    # the mirror is fresh now, so decide again after a pause
                for b in budgets:  # queue where room is lacking, and only there
                    if any(b is s for s in short):
                        b._waiting.add(key)
                    else:
                        b._waiting.discard(key)
            waited = True
            await asyncio.sleep(delay)
            delay = min(max_poll_s, delay * 1.5)
            for b in budgets:  # a shared budget's mirror learns of other processes' settlements
                refresh = getattr(b.shared, "refresh", None)
                if refresh is not None:
                    await refresh(b)
    finally:
        with _LOCK:
            for b in budgets:
                b._waiting.discard(key)
