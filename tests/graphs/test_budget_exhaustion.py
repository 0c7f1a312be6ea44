"""Budget exhaustion inside multi-round topologies keeps the best answer so far."""

from __future__ import annotations

import pytest

from thinktank.graphs import compile
from thinktank.graphs.topologies import topology, with_budget

from .helpers import by_role, cycling


@pytest.mark.parametrize(
    ("name", "calls"),
    [("debate:m=3,r=3", 4), ("self_consistency:n_max=16,wave=4", 6), ("ceo:rounds=3", 5)],
)
async def test_exhaustion_returns_best_so_far(name: str, calls: int) -> None:
    model = by_role({"solver": cycling("4", "4", "5"), "debater": cycling("4", "4", "5")})
    spec = with_budget(topology(name), max_calls=calls)
    res = await compile(spec, models=model).run("q?")
    assert res.status == "budget_exhausted"
    assert res.answer == "4"
    assert res.budget.calls <= calls
    assert any(e.kind == "budget_exhausted" for e in res.trace.events)


async def test_exhaustion_before_any_answer_is_an_honest_failure() -> None:
    spec = with_budget(topology("best_of_n:n=4"), max_calls=1, max_tokens=10)
    res = await compile(spec, models=by_role({})).run("q?")
    assert res.status == "budget_exhausted" and res.answer is None
