"""Usage and cost ledger, and the scope that carries budgets and labels to every call.

``with scope(budget=Budget(max_usd=1), ledger=ledger, task="t1", node="solver"):``
makes every model call inside (including in asyncio tasks created inside) reserve
on that budget, record into that ledger, and carry those labels. Scopes nest: the
inner call is charged on every enclosing budget and recorded in every enclosing
ledger, with the labels merged (inner wins).
"""

from __future__ import annotations

import contextvars
import threading
from collections import defaultdict
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from thinktank.llm.budget import Budget

LABEL_KEYS = ("run", "task", "node", "role")


class CallRecord(BaseModel):
    """One model request as the ledger saw it."""

    model: str
    labels: dict[str, str] = Field(default_factory=dict)
    samples: int = 1
    cached_samples: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    cost_usd: float = 0.0
    """What the completions cost, cached or not (the experiment's true cost)."""
    spent_usd: float = 0.0
    """What was paid now: the cost of the completions that were not cache hits."""
    max_tokens: int | None = None
    """The ``max_tokens`` per sample the request was sent with."""
    clipped_from: int | None = None
    """The ``max_tokens`` asked for, when a budget clipped it to what it could still pay."""
    budget_wait_s: float = 0.0
    """Seconds the call waited for calls in flight to settle before a budget admitted it."""
    error: str | None = None


class UsageTotals(BaseModel):
    calls: int = 0
    samples: int = 0
    cached_samples: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    cost_usd: float = 0.0
    spent_usd: float = 0.0
    errors: int = 0
    clipped: int = 0
    """Calls whose ``max_tokens`` a budget clipped."""
    budget_wait_s: float = 0.0

    @classmethod
    def of(cls, records: Iterable[CallRecord]) -> UsageTotals:
        """The totals of ``records`` (what :meth:`add` gives one by one, summed in the same
        order, without a pydantic attribute write per field and record)."""
        calls = samples = cached = prompt = completion = errors = clipped = 0
        latency = cost = spent = wait = 0.0
        for r in records:
            calls += 1
            samples += r.samples
            cached += r.cached_samples
            prompt += r.prompt_tokens
            completion += r.completion_tokens
            latency += r.latency_s
            cost += r.cost_usd
            spent += r.spent_usd
            errors += r.error is not None
            clipped += r.clipped_from is not None
            wait += r.budget_wait_s
        return cls(
            calls=calls,
            samples=samples,
            cached_samples=cached,
            prompt_tokens=prompt,
            completion_tokens=completion,
            latency_s=latency,
            cost_usd=cost,
            spent_usd=spent,
            errors=errors,
            clipped=clipped,
            budget_wait_s=wait,
        )

    def add(self, r: CallRecord) -> None:
        self.calls += 1
        self.samples += r.samples
        self.cached_samples += r.cached_samples
        self.prompt_tokens += r.prompt_tokens
        self.completion_tokens += r.completion_tokens
        self.latency_s += r.latency_s
        self.cost_usd += r.cost_usd
        self.spent_usd += r.spent_usd
        self.errors += r.error is not None
        self.clipped += r.clipped_from is not None
        self.budget_wait_s += r.budget_wait_s

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class UsageLedger:
    """Collects :class:`CallRecord` s; aggregates per run / task / node / role / model."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.records: list[CallRecord] = []

    def record(self, rec: CallRecord) -> None:
        with self._lock:
            self.records.append(rec)

    def totals(self) -> UsageTotals:
        return UsageTotals.of(list(self.records))

    def by(self, *keys: str) -> dict[tuple[str, ...], UsageTotals]:
        """Totals grouped by label keys and/or ``"model"``, e.g. ``by("node", "model")``."""
        groups: dict[tuple[str, ...], list[CallRecord]] = defaultdict(list)
        for r in list(self.records):
            k = tuple(r.model if key == "model" else r.labels.get(key, "") for key in keys)
            groups[k].append(r)
        return {k: UsageTotals.of(rs) for k, rs in groups.items()}

    def summary(self) -> dict[str, Any]:
        """JSON-ready totals plus per-model and per-node breakdowns."""
        return {
            "totals": self.totals().model_dump(),
            "by_model": {k[0]: v.model_dump() for k, v in self.by("model").items()},
            "by_node": {k[0]: v.model_dump() for k, v in self.by("node").items() if k[0]},
        }


@dataclass(frozen=True)
class _Scope:
    budgets: tuple[Budget, ...] = ()
    ledgers: tuple[UsageLedger, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    priority: float | None = None
    """Budget admission order: lower goes first (see :func:`thinktank.llm.admission.admit`)."""


_EMPTY = _Scope()
_current: contextvars.ContextVar[_Scope] = contextvars.ContextVar(
    "thinktank_llm_scope",
    default=_EMPTY,
)


def current_scope() -> _Scope:
    return _current.get()


def scope(
    *,
    budget: Budget | None = None,
    ledger: UsageLedger | None = None,
    budgets: Iterable[Budget] = (),
    priority: float | None = None,
    **labels: Any,
) -> AbstractContextManager[_Scope]:
    """Enter a budget / ledger / label scope for the model calls made inside.

    ``priority`` orders calls waiting for the same budget (lower first; calls without
    one come after, first come first served): the eval runner gives each job its task
    index, so near a budget's end the jobs started first are finished first."""
    return _Entered(budget, ledger, budgets, priority, labels)


class _Entered:
    """:func:`scope`'s context manager (a class: entered for every agent run, so no
    generator per use); the scope is made on entry, from the one around it then."""

    __slots__ = ("_args", "_token")

    def __init__(self, *args: Any) -> None:
        self._args = args

    def __enter__(self) -> _Scope:
        budget, ledger, budgets, priority, labels = self._args
        outer = _current.get()
        extra = tuple(budgets) + ((budget,) if budget is not None else ())
        new = _Scope(
            budgets=outer.budgets + tuple(b for b in extra if b not in outer.budgets),
            ledgers=outer.ledgers
            + ((ledger,) if ledger is not None and ledger not in outer.ledgers else ()),
            labels={**outer.labels, **{k: str(v) for k, v in labels.items() if v is not None}},
            priority=outer.priority if priority is None else priority,
        )
        self._token = _current.set(new)
        return new

    def __exit__(self, *exc: object) -> None:
        _current.reset(self._token)
