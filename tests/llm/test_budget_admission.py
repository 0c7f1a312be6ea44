"""Budget admission: calls wait for calls in flight, clip near the end, refuse only when
not even a minimal useful call fits; spending reaches the limit and stays within the bound."""

from __future__ import annotations

import asyncio

import pytest

from thinktank.errors import BudgetExceeded
from thinktank.llm import Budget, scope, set_price
from thinktank.llm.admission import (
    DEFAULT_MIN_TOKENS,
    CallCost,
    OutputLengths,
    _decide,
    output_lengths,
)
from thinktank.llm.ledger import UsageLedger
from thinktank.llm.testing import FunctionModel
from thinktank.llm.types import ChatRequest, Completion, Usage


@pytest.fixture(autouse=True)
def _fresh_lengths() -> None:
    output_lengths.clear()


def _model(name: str, out_tokens: int, *, delay: float = 0.005) -> FunctionModel:
    """A model whose replies are ``out_tokens`` long (fewer when max_tokens is lower)."""

    async def reply(request: ChatRequest) -> list[Completion]:
        await asyncio.sleep(delay)
        cap = request.max_tokens or out_tokens
        used = min(out_tokens, cap)
        return [
            Completion(
                text="x" * used * 4,
                finish_reason="length" if used < out_tokens else "stop",
                usage=Usage(prompt_tokens=10, completion_tokens=used),
            )
            for _ in range(request.n)
        ]

    m = FunctionModel(reply, model_id=name)
    set_price(name, input=1.0, output=10.0)  # $ per 1M tokens
    return m


def _try_admit(budgets: tuple[Budget, ...], c: CallCost) -> tuple[object, ...]:
    return _decide(budgets, c)[:3]


def test_decisions_grant_wait_clip_refuse() -> None:
    c = CallCost(prompt_tokens=0, n=1, max_tokens=1000, min_tokens=100, output_usd=1.0)
    b = Budget(max_usd=2000.0)
    assert _try_admit((b,), c) == ("grant", 1000, None)
    b.reserved_usd, b.reserved_calls = 1500.0, 1  # one call in flight holds its worst case
    assert _try_admit((b,), c)[0] == "wait"  # it will fit once that call settles
    b.spent_usd = 1200.0  # ... but spending is near the end: clip to what is left
    assert _try_admit((b,), c) == ("wait", 0, None)
    b.reserved_usd, b.reserved_calls = 0.0, 0
    assert _try_admit((b,), c) == ("grant", 800, None)
    b.spent_usd = 1950.0
    verdict, _, limit = _try_admit((b,), c)
    assert verdict == "refuse" and limit is not None and "$2000 limit" in limit[1]


async def test_a_budget_that_covers_the_calls_runs_them_all_concurrently() -> None:
    """16 concurrent calls whose worst case (16 x 1024 tokens) is 8x the budget, whose real
    cost fits it: every one runs (the old worst-case reservation refused 15 of them)."""
    m = _model("adm-a", out_tokens=100)
    per_call = (10 * 1.0 + 100 * 10.0) / 1e6
    b = Budget(max_usd=16 * per_call * 1.3, name="task")
    with scope(budget=b):
        out = await asyncio.gather(*(m.generate(["q"], max_tokens=1024) for _ in range(16)))
    assert len(out) == 16 and b.refused == 0 and b.waited > 0
    assert b.spent_usd == pytest.approx(16 * per_call)
    assert b.reserved_usd == pytest.approx(0.0) and b.reserved_calls == 0


@pytest.mark.parametrize("concurrency", [8, 64])
async def test_a_cut_budget_is_spent_to_its_end_and_never_passed(concurrency: int) -> None:
    m = _model(f"adm-b{concurrency}", out_tokens=120)
    b = Budget(max_usd=0.05, name="run")
    ledger = UsageLedger()
    sem = asyncio.Semaphore(concurrency)
    refused = 0

    async def one() -> None:
        nonlocal refused
        async with sem:
            try:
                await m.generate(["a question"], max_tokens=1024)
            except BudgetExceeded:
                refused += 1

    with scope(budget=b, ledger=ledger, role="solver"):
        await asyncio.gather(*(one() for _ in range(200)))
    assert refused > 0  # the budget did cut the work
    assert b.spent_usd <= b.max_usd + b.excess_usd + 1e-12
    assert b.excess_usd == 0.0  # prompts were over-estimated, max_tokens honoured
    assert b.spent_usd / b.max_usd >= 0.95, b.state()
    assert b.reserved_usd == pytest.approx(0.0)


async def test_clipping_stops_at_the_minimal_useful_output() -> None:
    m = _model("adm-c", out_tokens=300)
    lengths = [300, 300, 300]
    for n in lengths:
        output_lengths.observe("adm-c", "solver", n)
    assert output_lengths.min_tokens("adm-c", "solver", 1024) == 300
    # room for 200 output tokens only: below the minimal useful 300 -> refused, unsent
    b = Budget(max_usd=(10 + 200 * 10) / 1e6 + 30 / 1e6, name="task")
    with scope(budget=b, role="solver"), pytest.raises(BudgetExceeded, match="'task'"):
        await m.generate(["q"], max_tokens=1024)
    assert b.spent_usd == 0.0 and b.refused == 1
    # room for 500: sent, clipped from 1024 to what the budget pays, and recorded so
    b2 = Budget(max_usd=(10 + 500 * 10) / 1e6 + 30 / 1e6, name="task")
    ledger = UsageLedger()
    with scope(budget=b2, ledger=ledger, role="solver"):
        await m.generate(["q"], max_tokens=1024)
    rec = ledger.records[0]
    assert rec.clipped_from == 1024 and rec.max_tokens is not None and 300 <= rec.max_tokens < 1024
    assert b2.clipped == 1 and ledger.totals().clipped == 1
    assert b2.spent_usd <= b2.max_usd


def test_output_lengths_quantile_per_model_and_role() -> None:
    ol = OutputLengths(min_count=3)
    assert ol.estimate("m", "solver") is None
    assert ol.min_tokens("m", "solver", 1024) == DEFAULT_MIN_TOKENS
    assert ol.min_tokens("m", "solver", 100) == 100  # never above what was asked
    for n in range(1, 101):
        ol.observe("m", "solver", n)
    assert ol.estimate("m", "solver") == 91
    ol.observe("m", "verifier", 5)
    # too few verifier replies: the model's 101 lengths (that 5 among them) stand in
    assert ol.estimate("m", "verifier") == 90
    assert ol.min_tokens("m", "solver", 50) == 50


async def test_time_limit_refuses_a_waiting_call() -> None:
    m = _model("adm-d", out_tokens=50, delay=0.3)
    b = Budget(max_usd=(10 + 1024 * 10) / 1e6 * 1.5, max_seconds=0.2, name="t")
    with scope(budget=b):
        first = asyncio.ensure_future(m.generate(["a"], max_tokens=1024))
        await asyncio.sleep(0.01)
        with pytest.raises(BudgetExceeded, match="time limit"):
            await m.generate(["b"], max_tokens=1024)  # waits for the first, then time is up
        await first


async def test_waiting_calls_are_served_in_priority_order() -> None:
    """Ten tasks' calls race for a budget that pays for about five: once calls wait, the
    tasks with the lowest priority numbers (started first, in an eval) get through."""
    m = _model("adm-e", out_tokens=100, delay=0.01)
    per_call = (10 * 1.0 + 100 * 10.0) / 1e6
    b = Budget(max_usd=5.5 * per_call, name="run")
    ran: list[int] = []

    async def task(i: int) -> None:
        with scope(budget=b, priority=i):
            try:
                await m.generate(["q"], max_tokens=1024)
                ran.append(i)
            except BudgetExceeded:
                pass

    await asyncio.gather(*(task(i) for i in reversed(range(10))))  # the youngest asks first
    # task 9 asked when nothing waited: it went; every later grant followed the order
    assert ran[0] == 9 and ran[1:] == list(range(len(ran) - 1)) and len(ran) == 5, ran
    assert b.spent_usd <= b.max_usd and not b._waiting


async def test_a_call_waiting_for_its_own_task_budget_does_not_hold_up_others() -> None:
    m = _model("adm-f", out_tokens=100, delay=0.05)
    per_call = (13 * 1.0 + 200 * 10.0) / 1e6  # the worst case of a call asking 200 tokens
    run = Budget(max_usd=100 * per_call, name="run")
    small = Budget(max_usd=2.2 * per_call, name="task-a")  # two calls in flight fit
    ledger = UsageLedger()

    async def task_a() -> None:
        with scope(budget=run, ledger=ledger), scope(budget=small, priority=0, task="a"):
            await asyncio.gather(*(m.generate(["a"], max_tokens=200) for _ in range(3)))

    async def task_b() -> None:
        await asyncio.sleep(0.01)  # task a's third call is waiting for task a's budget
        with scope(budget=run, ledger=ledger, priority=1, task="b"):
            await m.generate(["b"], max_tokens=200)

    await asyncio.gather(task_a(), task_b())
    waits = {r.labels["task"]: r.budget_wait_s for r in ledger.records if r.labels["task"] == "b"}
    assert waits == {"b": 0.0}  # the older waiter queues on task a's budget only
    assert max(r.budget_wait_s for r in ledger.records if r.labels["task"] == "a") > 0
    assert small.refused == 0 and run.refused == 0
