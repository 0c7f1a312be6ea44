"""Learners on scripted models: judge, ReasoningBank extraction, MaTTS, guard, Dynamic Cheatsheet."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from thinktank.errors import ModelError, UsageError
from thinktank.learning import (
    Attempt,
    AttemptStep,
    Judgement,
    curate,
    extract_contrastive,
    extract_items,
    extract_sequential,
    learn,
    self_judge,
    synthesize,
    synthesize_from_bank,
)
from thinktank.llm.testing import ScriptedModel
from thinktank.memory import Cheatsheet, ItemLimits, MemoryItem, SQLiteMemoryBank

PAGE = (
    "The Eiffel Tower was completed in 1889 for the World's Fair and stood as the tallest "
    "man-made structure in the world until the Chrysler Building was finished in New York in 1930."
)


def _traj(**kw: object) -> Attempt:
    base: dict[str, object] = {
        "task": "When was the Eiffel Tower completed?",
        "task_id": "t-1",
        "run_id": "run-7",
        "domain": "web",
        "steps": [
            "I should search for the completion date.",
            AttemptStep(kind="action", text='web_search("Eiffel Tower completed year")'),
            AttemptStep(kind="observation", text=PAGE),
        ],
        "final_answer": "1889",
    }
    base.update(kw)
    return Attempt.model_validate(base)


def _items(*items: dict[str, str]) -> str:
    return json.dumps({"items": list(items)})


ITEM_A = {"title": "Confirm dates in a primary source", "description": "Date questions.",
          "content": "Open the primary source and confirm the date there."}  # fmt: skip
ITEM_B = {"title": "Search distinctive phrases", "description": "Fact lookups.",
          "content": "Quote the entity name and the property asked for."}  # fmt: skip


async def test_self_judge_parses_and_survives_garbage() -> None:
    model = ScriptedModel(
        [
            'Sure.\n```json\n{"outcome": "Success", "rationale": "1889 is right."}\n```',
            "I think it is fine!",
        ]
    )
    got = await self_judge(model, _traj())
    assert got.verdict == Judgement(
        outcome="success", judge="self_judge", rationale="1889 is right."
    )
    req = model.requests[0]
    assert "judge whether an agent solved" in req.messages[0]["content"]
    assert "Final answer: 1889" in req.messages[1]["content"]
    assert req.response_format is not None and req.response_format["type"] == "json_schema"
    bad = await self_judge(model, _traj())
    assert bad.verdict is None and "did not parse" in bad.warnings[0]


async def test_extraction_from_a_success_keeps_three_strategies() -> None:
    reply = _items(ITEM_A, ITEM_B, {**ITEM_A, "title": "Third"}, {**ITEM_B, "title": "Fourth"})
    model = ScriptedModel([reply])
    res = await extract_items(model, _traj(), Judgement(outcome="success", judge="ground_truth"))
    assert [i.title for i in res.items] == [ITEM_A["title"], ITEM_B["title"], "Third"]
    assert all(i.kind == "strategy" and i.domain == "web" for i in res.items)
    p = res.items[0].provenance
    assert (p.task_id, p.outcome, p.judge, p.run_id, p.method) == (
        "t-1",
        "success",
        "ground_truth",
        "run-7",
        "reasoningbank",
    )
    assert "kept the first 3" in res.warnings[0]
    assert "SUCCEEDED" in model.requests[0].messages[0]["content"]


async def test_extraction_from_a_failure_writes_pitfalls() -> None:
    model = ScriptedModel([_items({**ITEM_A, "kind": "strategy"})])
    verdict = Judgement(outcome="failure", judge="self_judge", rationale="answered 1887")
    res = await extract_items(model, _traj(final_answer="1887"), verdict)
    assert [i.kind for i in res.items] == ["pitfall"]
    assert res.items[0].provenance.judge == "self_judge"
    user = model.requests[0].messages[1]["content"]
    assert "FAILED" in model.requests[0].messages[0]["content"] and "Why: answered 1887" in user


@pytest.mark.parametrize(
    ("reply", "warning"),
    [
        ("no json here at all", "no JSON object"),
        ('{"lessons": "none"}', "no 'items' list"),
        ('```json\n{"items": [{"title": "x"\n```', "no JSON object"),  # cut off mid-object
    ],
)
async def test_unparseable_extraction_reply_skips_items(reply: str, warning: str) -> None:
    res = await extract_items(
        ScriptedModel([reply]), _traj(), Judgement(outcome="success", judge="ground_truth")
    )
    assert res.items == [] and warning in res.warnings[0]


async def test_bad_items_are_skipped_one_by_one() -> None:
    reply = _items(
        ITEM_A,
        {"title": "no content"},  # type: ignore[typeddict-item]
        {"title": "too long", "content": "x" * 300},
        "just a string",  # type: ignore[arg-type]
        ITEM_B,
    )
    res = await extract_items(
        ScriptedModel([reply]),
        _traj(),
        Judgement(outcome="success", judge="ground_truth"),
        limits=ItemLimits(max_content_chars=200),
    )
    assert [i.title for i in res.items] == [ITEM_A["title"], ITEM_B["title"]]
    assert len(res.warnings) == 3
    assert "item 3 skipped" in res.warnings[1] and "over the cap of 200" in res.warnings[1]


async def test_verbatim_guard_rejects_copied_tool_output() -> None:
    copied = {"title": "Tower facts", "description": "Landmarks.",
              "content": "Remember: " + PAGE.upper().replace(" ", "  ")}  # fmt: skip
    short_quote = {"title": "Check the fair", "description": "Dates.",
                   "content": "The tower was built for the World's Fair; verify such claims."}  # fmt: skip
    from_action = {"title": "Search query shape", "description": "Lookups.",
                   "content": 'Use queries like web_search("Eiffel Tower completed year").'}  # fmt: skip
    res = await extract_items(
        ScriptedModel([_items(copied, short_quote, from_action)]),
        _traj(),
        Judgement(outcome="success", judge="ground_truth"),
    )
    assert [i.title for i in res.items] == ["Check the fair", "Search query shape"]
    assert "repeats 34 consecutive words of a tool output" in res.warnings[0]


async def test_parallel_matts_contrasts_attempts() -> None:
    attempts = [
        _traj(final_answer="1887", outcome="failure"),
        _traj(final_answer="1889", outcome="success"),
        _traj(final_answer="1887", outcome="failure"),
    ]
    items = [dict(ITEM_A, kind="Strategy"), dict(ITEM_B, kind="pitfall")] * 3
    model = ScriptedModel([_items(*items)])
    res = await extract_contrastive(model, attempts)
    assert len(res.items) == 5 and [i.kind for i in res.items[:2]] == ["strategy", "pitfall"]
    p = res.items[0].provenance
    assert (p.method, p.outcome, p.judge) == ("matts_parallel", "success", "ground_truth")
    user = model.requests[0].messages[1]["content"]
    assert "### Attempt 1 (failure)" in user and "### Attempt 2 (success)" in user
    assert "3 attempts" in model.requests[0].messages[0]["content"]
    with pytest.raises(UsageError, match="at least 2 attempts"):
        await extract_contrastive(model, attempts[:1])
    with pytest.raises(UsageError, match="2 verdicts for 3 attempts"):
        await extract_contrastive(
            model, attempts, [Judgement(outcome="success", judge="self_judge")] * 2
        )


async def test_sequential_matts_learns_from_the_progression() -> None:
    chain = [_traj(final_answer="1887"), _traj(final_answer="1889")]
    verdicts = [
        Judgement(outcome="failure", judge="self_judge"),
        Judgement(outcome="success", judge="self_judge"),
    ]
    model = ScriptedModel([_items(dict(ITEM_B, kind="pitfall"), dict(ITEM_A, kind="insight"))])
    res = await extract_sequential(model, chain, verdicts)
    assert [i.kind for i in res.items] == ["pitfall", "strategy"]  # insight not allowed here
    assert res.items[0].provenance.method == "matts_sequential"
    assert "successive" in model.requests[0].messages[0]["content"]


async def test_learn_judges_extracts_and_stores(tmp_path: Path) -> None:
    bank = SQLiteMemoryBank(tmp_path / "m.sqlite")
    model = ScriptedModel(['{"outcome": "failure", "rationale": "wrong year"}', _items(ITEM_A)])
    res = await learn(model, _traj(), bank=bank)
    assert res.verdict is not None and res.verdict.judge == "self_judge"
    assert (await bank.retrieve("confirm the date in a primary source", k=1))[0].kind == "pitfall"
    # a known outcome is ground truth: no judge call
    model = ScriptedModel([_items(ITEM_B)])
    res = await learn(model, _traj(outcome="success"), bank=bank)
    assert res.verdict == Judgement(outcome="success", judge="ground_truth") and model.consumed == 1
    assert await bank.count() == 2
    # a judge reply that does not parse: nothing learned, no crash, one call spent
    model = ScriptedModel(["maybe?", _items(ITEM_B)])
    res = await learn(model, _traj(), bank=bank)
    assert res.items == [] and res.verdict is None and model.consumed == 1
    assert await bank.count() == 2
    bank.close()


async def test_model_errors_are_not_swallowed() -> None:
    model = ScriptedModel([ModelError("endpoint down")])
    with pytest.raises(ModelError):
        await learn(model, _traj())


async def test_cheatsheet_cumulative_mode(tmp_path: Path) -> None:
    sheet = Cheatsheet(max_chars=200)
    model = ScriptedModel(
        [
            "Here it is.\n<cheatsheet>\n- Confirm dates in a primary source.\n</cheatsheet>",
            "I could not decide.",
            "<cheatsheet>\n"
            + "\n".join(f"- tip number {i} about dates" for i in range(20))
            + "\n</cheatsheet>",
            f"<cheatsheet>{PAGE}</cheatsheet>",
        ]
    )
    first = await curate(model, sheet, _traj(outcome="success"))
    assert first.accepted and first.sheet.version == 1
    assert first.sheet.text == "- Confirm dates in a primary source."
    assert "## Current cheatsheet\n(empty)" in model.requests[0].messages[1]["content"]
    same = await curate(model, first.sheet, _traj())
    assert not same.accepted and same.sheet == first.sheet and "no <cheatsheet>" in same.warnings[0]
    cut = await curate(model, first.sheet, _traj())
    assert cut.accepted and len(cut.sheet.text) <= 200 and cut.sheet.text.endswith("about dates")
    assert "cut to" in cut.warnings[0] and cut.sheet.version == 2
    copied = await curate(model, cut.sheet, _traj())
    assert not copied.accepted and "tool output" in copied.warnings[0]
    path = tmp_path / "sheet.json"
    cut.sheet.save(path)
    assert Cheatsheet.load(path) == cut.sheet
    assert Cheatsheet.load(tmp_path / "none.json").text == ""
    assert cut.sheet.render().startswith("Cheatsheet from earlier tasks:\n- tip")


async def test_cheatsheet_retrieval_synthesis_mode(tmp_path: Path) -> None:
    model = ScriptedModel([])
    empty = await synthesize(model, "anything", [])
    assert not empty.accepted and model.requests == []
    bank = SQLiteMemoryBank(tmp_path / "m.sqlite")
    await bank.add(
        [
            MemoryItem(title="Confirm dates in a primary source", content="Open the source."),
            MemoryItem(title="Binary search the answer", content="Monotone feasibility."),
        ]
    )
    model.extend(["<cheatsheet>For dates: check a primary source.</cheatsheet>"])
    res = await synthesize_from_bank(model, bank, "When was the tower's date confirmed?", k=3)
    assert res.accepted and res.sheet.text == "For dates: check a primary source."
    user = model.requests[0].messages[1]["content"]
    assert "Confirm dates in a primary source" in user and "Binary search" not in user
    bank.close()
