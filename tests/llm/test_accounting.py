"""Cache, budgets, ledger and pricing through the real client path (MockTransport)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from thinktank.errors import BudgetExceeded, CacheMiss, ConfigError
from thinktank.llm import Budget, ResponseCache, UsageLedger, scope, set_price
from thinktank.llm.pricing import cost_of, price_for, reset_prices

from ._mock import completion_body, mock_model, ok


@pytest.fixture(autouse=True)
def _prices() -> Any:
    reset_prices()
    yield
    reset_prices()


def counting(prompt_tokens: int = 100, completion_tokens: int = 50) -> Any:
    def handler(body: dict[str, Any], i: int) -> httpx.Response:
        n = int(body.get("n", 1))
        return httpx.Response(
            200,
            json=completion_body(
                [f"r{i}.{k}" for k in range(n)],
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens * n,
            ),
        )

    return handler


async def test_cache_hit_serves_original_usage_marked_cached(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c.sqlite")
    model, rec = mock_model(counting(), cache=cache)
    first = await model.generate(["q"], temperature=0.7)
    cache.reset_counters()  # a new session: the re-run of an experiment
    again = await model.generate(["q"], temperature=0.7)
    assert rec.calls == 1
    assert again[0].text == first[0].text and again[0].usage.cached
    assert again[0].usage.prompt_tokens == first[0].usage.prompt_tokens


async def test_n_samples_are_n_entries_whatever_the_call_shape(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c.sqlite")
    model, rec = mock_model(counting(), cache=cache)
    batch = await model.generate(["q"], n=4, temperature=1.0)
    assert len(cache) == 4 and len({c.text for c in batch}) == 4
    cache.reset_counters()
    singles = [(await model.generate(["q"], temperature=1.0))[0] for _ in range(4)]
    assert rec.calls == 1 and [c.text for c in singles] == [c.text for c in batch]
    # a fifth sample is new
    await model.generate(["q"], temperature=1.0)
    assert rec.calls == 2 and len(cache) == 5


async def test_partial_hits_only_request_the_missing_samples(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c.sqlite")
    model, rec = mock_model(counting(), cache=cache)
    await model.generate(["q"], n=2, temperature=1.0)
    cache.reset_counters()
    out = await model.generate(["q"], n=5, temperature=1.0)
    assert len(out) == 5 and rec.bodies[-1]["n"] == 3
    assert [c.usage.cached for c in out] == [True, True, False, False, False]


async def test_replay_mode_raises_on_miss_and_makes_zero_requests(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    model, _rec = mock_model(counting(), cache=ResponseCache(path))
    await model.generate(["known"])
    replay, rec2 = mock_model(counting(), cache=ResponseCache(path, mode="replay"))
    assert (await replay.generate(["known"]))[0].usage.cached
    with pytest.raises(CacheMiss, match="replay"):
        await replay.generate(["unknown"])
    assert rec2.calls == 0


async def test_cache_key_ignores_nothing_but_n(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c.sqlite")
    model, rec = mock_model(counting(), cache=cache)
    await model.generate(["q"], temperature=0.1)
    await model.generate(["q"], temperature=0.2)
    await model.generate(["q"], temperature=0.2, max_tokens=9)
    assert rec.calls == 3


def test_cache_refuses_a_foreign_file(tmp_path: Path) -> None:
    bad = tmp_path / "notadb.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ConfigError, match="not a usable response cache"):
        ResponseCache(bad)
    assert bad.read_bytes().startswith(b"this is not sqlite")  # nothing overwritten


async def test_ledger_aggregates_by_labels_and_counts_cached_cost(tmp_path: Path) -> None:
    set_price("mock-model", input=1.0, output=2.0)
    cache = ResponseCache(tmp_path / "c.sqlite")
    model, _ = mock_model(counting(100, 50), cache=cache)
    ledger = UsageLedger()
    with scope(ledger=ledger, run="r1", task="t1"):
        with scope(node="solver", role="solver"):
            await model.generate(["a"], n=2)
        with scope(node="verifier", role="verifier"):
            await model.generate(["b"])
    cache.reset_counters()
    with scope(ledger=ledger, run="r2", task="t1", node="solver"):
        await model.generate(["a"], n=2)
    by_node = ledger.by("node")
    assert by_node[("solver",)].calls == 2 and by_node[("verifier",)].calls == 1
    t = ledger.totals()
    per_call = cost_of("mock-model", 100, 100)
    assert t.cost_usd == pytest.approx(per_call * 2 + cost_of("mock-model", 100, 50))
    assert t.spent_usd == pytest.approx(
        per_call + cost_of("mock-model", 100, 50)
    )  # the cached re-run paid nothing
    assert ledger.by("run")[("r2",)].cached_samples == 2
    summary = ledger.summary()
    assert summary["by_model"]["mock-model"]["samples"] == 5


def test_prices_prefix_match_and_unknown_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    assert price_for("gpt-4o-mini-2024-07-18") == price_for("gpt-4o-mini")
    assert price_for("openai:gpt-4o").input == 2.5
    with caplog.at_level("WARNING"):
        assert cost_of("mystery-model", 1000, 1000) == 0.0
        cost_of("mystery-model", 1000, 1000)
    assert sum("mystery-model" in r.message for r in caplog.records) == 1


def test_price_file_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "prices.yaml"
    f.write_text("house-model: {input: 3.0, output: 6.0}\n")
    monkeypatch.setenv("THINKTANK_PRICES", str(f))
    assert cost_of("house-model", 1_000_000, 0) == pytest.approx(3.0)


async def test_budget_refuses_before_sending_with_state() -> None:
    model, rec = mock_model(ok())
    b = Budget(max_calls=2, name="task-budget")
    with scope(budget=b):
        await model.generate(["a"])
        await model.generate(["b"])
        with pytest.raises(BudgetExceeded) as info:
            await model.generate(["c"])
    assert rec.calls == 2
    assert info.value.state["name"] == "task-budget" and info.value.state["calls"] == 2
    assert b.exhausted and b.refused == 1


async def test_nested_budgets_charge_every_level() -> None:
    set_price("mock-model", input=1.0, output=1.0)
    model, _ = mock_model(counting(100, 100))
    run, task = Budget(max_usd=1.0, name="run"), Budget(max_tokens=10_000, name="task")
    with scope(budget=run), scope(budget=task):
        await model.generate(["x"], max_tokens=100)
    assert run.spent_usd == pytest.approx(200 / 1e6) and task.spent_tokens == 200
    assert run.reserved_usd == pytest.approx(0.0) and task.reserved_tokens == 0


async def test_failed_call_releases_its_reservation() -> None:
    model, _ = mock_model(lambda b, i: httpx.Response(400, json={"error": {"message": "bad"}}))
    b = Budget(max_tokens=100_000)
    with scope(budget=b), pytest.raises(Exception, match="refused"):
        await model.generate(["x"])
    assert b.reserved_tokens == 0 and b.spent_tokens == 0


async def test_time_budget() -> None:
    model, rec = mock_model(ok())
    b = Budget(max_seconds=0.05)
    await asyncio.sleep(0.06)
    with scope(budget=b), pytest.raises(BudgetExceeded, match="time limit"):
        await model.generate(["x"])
    assert rec.calls == 0


async def test_overshoot_is_bounded_by_in_flight_calls_times_max_tokens() -> None:
    """64 concurrent calls whose real usage exceeds the prompt estimate."""
    max_tokens = 200

    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.01)
        # the server reports far more prompt tokens than the estimate, and the full max_tokens
        return httpx.Response(
            200, json=completion_body(["x"], prompt_tokens=150, completion_tokens=max_tokens)
        )

    from thinktank.llm.openai import OpenAICompatModel

    model = OpenAICompatModel(
        "m",
        base_url="http://127.0.0.1:9/v1",
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(slow)),
        concurrency=64,
    )
    b = Budget(max_tokens=5_000)
    with scope(budget=b):
        results = await asyncio.gather(
            *(model.generate(["hi"], max_tokens=max_tokens) for _ in range(64)),
            return_exceptions=True,
        )
    ok_calls = sum(not isinstance(r, BaseException) for r in results)
    refused = sum(isinstance(r, BudgetExceeded) for r in results)
    assert ok_calls + refused == 64 and refused > 0
    overshoot = b.spent_tokens - b.max_tokens
    assert overshoot <= ok_calls * max_tokens
    assert b.reserved_tokens == 0
