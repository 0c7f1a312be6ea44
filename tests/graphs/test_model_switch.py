"""model_switch: stop after the cheap model when its samples agree, escalate when not."""

from __future__ import annotations

from thinktank.graphs import compile
from thinktank.graphs.topologies import model_switch

from .helpers import by_role, cycling


async def test_agreeing_cheap_model_stops_the_cascade() -> None:
    cheap, strong = by_role({"solver": "Answer: 3"}), by_role({"solver": "Answer: 5"})
    res = await compile(model_switch(n=4), models={"cheap": cheap, "strong": strong}).run("q?")
    assert res.answer == "3" and res.status == "ok"
    assert len(cheap.requests) == 4 and not strong.requests
    assert any(e.kind == "skip" and e.node == "stage2" for e in res.trace.events)


async def test_disagreeing_cheap_model_escalates() -> None:
    cheap = by_role({"solver": cycling("1", "2")})
    strong = by_role({"solver": "Answer: 5"})
    res = await compile(model_switch(n=4), models={"cheap": cheap, "strong": strong}).run("q?")
    assert res.answer == "5"  # the last stage that ran decides
    assert len(cheap.requests) == 4 and len(strong.requests) == 4


async def test_three_stage_cascade_stops_at_the_first_agreement() -> None:
    models = {
        "a": by_role({"solver": cycling("1", "2")}),
        "b": by_role({"solver": cycling("4", "4", "4", "6")}),
        "c": by_role({"solver": "Answer: 9"}),
    }
    spec = model_switch(models=["a", "b", "c"], n=4, agreement=0.75)
    res = await compile(spec, models=models).run("q?")
    assert res.answer == "4"
    assert [len(models[k].requests) for k in "abc"] == [4, 4, 0]
