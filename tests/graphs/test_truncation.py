"""A graph whose per-task budget cuts it short says so: RunResult counts the answer
samples requested, run and refused, and is ``truncated``; a budget that covers what the
calls really cost runs every sample even when their worst case is several times it."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator

import pytest
from rich.console import Console
from typer.testing import CliRunner

from thinktank.cli._trace import print_trace
from thinktank.cli.app import app
from thinktank.graphs import compile
from thinktank.graphs.result import RunResult
from thinktank.graphs.topologies import topology, with_budget
from thinktank.llm import set_price
from thinktank.llm.admission import DEFAULT_MIN_TOKENS, output_lengths
from thinktank.llm.base import estimate_prompt_tokens
from thinktank.llm.pricing import reset_prices
from thinktank.llm.simulator import SimulatorConfig, SimulatorServer, SyntheticConfig, TaskSet
from thinktank.llm.testing import FunctionModel, prompt_tokens
from thinktank.llm.types import ChatRequest, Completion, Usage

MODEL = "trunc-solver"
IN_USD, OUT_USD = 1.0 / 1e6, 10.0 / 1e6
"""Dollars per prompt / completion token of MODEL."""
REPLY_TOKENS = 100
"""What every reply really uses (fewer when max_tokens is lower)."""
QUESTION = "What is 6 times 7?"
PER_CALL = 76 * IN_USD + REPLY_TOKENS * OUT_USD
"""≈ what one solver reply really costs (its prompt is ≈76 tokens): sizes the budgets."""


@pytest.fixture(autouse=True)
def _isolated() -> Iterator[None]:
    output_lengths.clear()  # admission learns reply lengths process-wide
    set_price(MODEL, input=IN_USD * 1e6, output=OUT_USD * 1e6)
    yield
    output_lengths.clear()
    reset_prices()


def solver() -> FunctionModel:
    """Replies ``Answer: 42`` using REPLY_TOKENS completion tokens (max_tokens honoured)."""

    async def reply(req: ChatRequest) -> Completion:
        await asyncio.sleep(0.005)  # a call in flight: concurrent samples overlap
        cap = req.max_tokens or REPLY_TOKENS
        used = min(REPLY_TOKENS, cap)
        return Completion(
            text="Answer: 42",
            finish_reason="stop" if used == REPLY_TOKENS else "length",
            usage=Usage(prompt_tokens=prompt_tokens(req), completion_tokens=used),
        )

    return FunctionModel(reply, model_id=MODEL)


def real_cost(model: FunctionModel) -> float:
    """What one reply of ``model`` really costs (its requests all have the same prompt)."""
    return prompt_tokens(model.requests[0]) * IN_USD + REPLY_TOKENS * OUT_USD


def estimated_prompt(model: FunctionModel) -> int:
    req = model.requests[0]
    return estimate_prompt_tokens(req.messages, req.tools)


def run_best_of(n: int, max_usd: float) -> tuple[RunResult, FunctionModel]:
    model = solver()
    spec = with_budget(topology(f"best_of_n:n={n}"), max_usd=max_usd)
    res = asyncio.run(compile(spec, models=model).run(QUESTION))
    return res, model


def test_a_budget_that_fits_a_few_samples_truncates_the_run_and_says_so() -> None:
    budget = 3 * PER_CALL
    res, model = run_best_of(8, budget)
    assert res.status == "budget_exhausted" and res.truncated
    assert res.samples_requested == 8
    assert 1 <= res.samples < 8
    assert res.refused == res.samples_requested - res.samples
    outs = res.trace.outputs
    refused = [o for o in outs if o.status == "budget_exhausted"]
    assert len(refused) == res.refused and all("exhausted" in o.error for o in refused)
    # every sample that ran made exactly one call; refused ones sent nothing
    assert len(model.requests) == res.samples == res.budget.calls
    assert res.budget.refused >= res.refused
    assert res.answer == "42"  # the samples that ran still answer
    # spent to its end: what is left cannot pay one minimal call, and nothing was overspent
    spent = res.budget.spent_usd
    assert spent == pytest.approx(res.samples * real_cost(model))
    assert spent <= budget + res.budget.excess_usd + 1e-12
    minimal = estimated_prompt(model) * IN_USD + DEFAULT_MIN_TOKENS * OUT_USD
    assert budget - spent < minimal


def test_sixteen_samples_whose_worst_case_is_far_above_the_budget_all_run() -> None:
    """The regression: every call used to reserve its worst case (max_tokens 1024), so a
    budget covering 16 real replies refused most of 16 concurrent samples."""
    budget = 16 * PER_CALL * 1.3
    res, model = run_best_of(16, budget)
    assert len(model.requests) == 16
    # no reply was cut: calls were clipped at most to what they really use
    assert all(r.max_tokens is None or r.max_tokens >= REPLY_TOKENS for r in model.requests)
    worst = 16 * (estimated_prompt(model) * IN_USD + 1024 * OUT_USD)
    assert worst > 4 * budget  # the premise: worst-case reservations could not all fit
    assert res.status == "ok" and not res.truncated
    assert res.samples_requested == res.samples == 16 and res.refused == 0
    assert res.budget.refused == 0 and res.budget.calls == 16
    assert res.budget.waited > 0  # samples were in flight together and waited, not refused
    assert res.budget.spent_usd == pytest.approx(16 * real_cost(model))
    assert res.budget.reserved_usd == pytest.approx(0.0)
    assert res.answer == "42"


def test_print_trace_flags_a_truncated_run_and_not_a_full_one() -> None:
    cut, _ = run_best_of(8, 3 * PER_CALL)
    output_lengths.clear()
    full, _ = run_best_of(8, 8 * PER_CALL * 1.3)

    def shown(res: RunResult) -> str:
        console = Console(record=True, width=240)
        print_trace(res, label="best_of_n:n=8", console=console)
        return console.export_text()

    text = shown(cut)
    assert f"{cut.samples} of 8 answer samples ran" in text
    assert f"truncated by its budget: {cut.refused} sample(s) refused" in text
    text = shown(full)
    assert full.status == "ok" and "8 answer sample(s)" in text
    assert "truncated" not in text and "answer samples ran" not in text


@pytest.fixture(scope="module")
def sim() -> Iterator[tuple[str, TaskSet]]:
    qs = TaskSet.generate(2, seed=5, p_correct=[0.9])
    with SimulatorServer(SimulatorConfig(synthetic=SyntheticConfig(tasks=qs))) as server:
        yield f"openai:sim@{server.base_url}", qs


def test_thinktank_run_reports_a_run_its_budget_cut(sim: tuple[str, TaskSet]) -> None:
    url, qs = sim
    set_price("sim", input=100.0, output=100.0)  # a cent per 100 tokens
    cli = CliRunner()

    def run(graph: str) -> str:
        res = cli.invoke(
            app,
            ["run", qs.questions[0].question, "--graph", graph, "--model", url, "--kind", "math"],
            env={"COLUMNS": "250"},
        )
        assert res.exit_code == 0, res.output
        return " ".join(res.output.replace("│", " ").split())

    text = run("best_of_n:n=8 + budget:max_usd=0.05")
    m = re.search(r"status (\S+) .*? (\d+) of 8 answer samples ran", text)
    assert m is not None, text
    assert m.group(1) == "budget_exhausted" and 1 <= int(m.group(2)) < 8
    assert "truncated by its budget" in text
    assert f"{8 - int(m.group(2))} sample(s) refused" in text
    # the same graph with room for its calls: every sample runs, nothing is flagged
    output_lengths.clear()
    text = run("best_of_n:n=8 + budget:max_usd=1")
    assert "status ok" in text and "8 answer sample(s)" in text, text
    assert "truncated by its budget" not in text


def test_the_json_of_a_run_result_carries_what_ran_and_what_was_refused() -> None:
    """``thinktank run --json`` and stored records dump the RunResult: the counts are in it."""
    outputs = [
        {"id": f"{role}:1:{i}", "node": role, "round": 1, "sample": i, "role": role, **extra}
        for i, (role, extra) in enumerate(
            [
                ("solver", {"status": "ok"}),
                ("solver", {"status": "budget_exhausted", "refused_by": "task"}),
                ("verifier", {"status": "budget_exhausted", "refused_by": "task"}),
            ]
        )
    ]
    res = RunResult(task_id="t", answer="1", status="budget_exhausted", trace={"outputs": outputs})
    dumped = res.model_dump(mode="json")
    assert (dumped["samples_requested"], dumped["samples"], dumped["refused"]) == (2, 1, 2)
    assert dumped["truncated"] is True
    again = RunResult.model_validate_json(res.model_dump_json())  # computed keys are read back
    assert again.samples == 1 and again.refusing_budgets == {"task"}
