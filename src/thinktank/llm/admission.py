"""Admission: when a model call may reserve on its budgets, and with what ``max_tokens``.

A call is *admitted* (:func:`admit`) before it is sent:

1. its worst case fits what is neither spent nor reserved → sent as asked;
2. it would fit once the calls in flight settle (they reserved their worst case and
   usually spend far less) → the call **waits** for them, then tries again;
3. the budget is near its end (even settled spending leaves less than the worst
   case) → ``max_tokens`` is **clipped** to what the budget can still pay, as long
   as that is at least the call's *minimal useful* output (``min_tokens``: what
   calls of this model and role really returned, see :class:`OutputLengths`);
4. not even the minimal call fits settled spending → refused with
   :class:`~thinktank.errors.BudgetExceeded`.

So a run cut by its budget has spent all of it but less than one minimal call, and
every call's reservation covers its worst case (the overshoot bound is in
:mod:`thinktank.llm.budget`).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

from thinktank.errors import BudgetExceeded
from thinktank.llm.budget import _LOCK, Budget, Reservation, take_all

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
        self._quantiles: dict[tuple[str, str], int] = {}
        """Computed quantiles, dropped when a new length arrives for their key."""

    def observe(self, model: str, role: str, completion_tokens: int) -> None:
        with _LOCK:
            for key in ((model, role), (model, "")) if role else ((model, ""),):
                self._seen.setdefault(key, deque(maxlen=self.keep)).append(completion_tokens)
                self._quantiles.pop(key, None)

    def estimate(self, model: str, role: str = "") -> int | None:
        """The quantile of the lengths seen for (model, role), else for the model; None
        before ``min_count`` calls returned."""
        with _LOCK:
            for key in ((model, role), (model, "")):
                if key in self._quantiles:
                    return self._quantiles[key]
                seen = self._seen.get(key)
                if seen is not None and len(seen) >= self.min_count:
                    ordered = sorted(seen)
                    q = ordered[min(len(ordered) - 1, int(self.quantile * len(ordered)))]
                    self._quantiles[key] = q
                    return q
        return None

    def min_tokens(self, model: str, role: str, max_tokens: int) -> int:
        """The minimal useful ``max_tokens`` for a call (never above ``max_tokens``)."""
        est = self.estimate(model, role)
        want = DEFAULT_MIN_TOKENS if est is None else max(MIN_TOKENS_FLOOR, est)
        return max(1, min(max_tokens, want))

    def clear(self) -> None:
        with _LOCK:
            self._seen.clear()
            self._quantiles.clear()


output_lengths = OutputLengths()
"""The process-wide record of completion lengths that :func:`admit` clips against."""


def _decide(
    budgets: tuple[Budget, ...], c: CallCost
) -> tuple[str, int, tuple[Budget, str] | None, list[Budget]]:
    """One admission decision (the caller holds ``_LOCK``): ``("grant", max_tokens, None,
    short)``, ``("wait", 0, None, short)`` or ``("refuse", 0, (budget, why), short)``, where
    ``short`` are the budgets that cannot grant the full call now."""
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
                    got = take_all(budgets, tokens=c.tokens(out), usd=c.usd(out), calls=c.n)
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
                if b.shared is not None:
                    await b.shared.refresh(b)
    finally:
        with _LOCK:
            for b in budgets:
                b._waiting.discard(key)
