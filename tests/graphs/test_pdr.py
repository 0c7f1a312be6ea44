"""pdr: drafts, a bounded distilled workspace, refinement from it, a vote at the end."""

from __future__ import annotations

from thinktank.graphs import compile
from thinktank.graphs.topologies import pdr
from thinktank.llm.types import ChatRequest

from .helpers import by_role, outputs_of, user_text


async def test_drafts_refine_from_the_distilled_workspace() -> None:
    draft_prompts: list[str] = []
    distill_limits: list[int | None] = []

    def draft(req: ChatRequest) -> str:
        draft_prompts.append(user_text(req))
        return "Answer: 6" if "WORKSPACE-NOTE" in user_text(req) else "Answer: 5"

    def distill(req: ChatRequest) -> str:
        distill_limits.append(req.max_tokens)
        return "WORKSPACE-NOTE: drafts split 5 vs 6; recheck the carry.\nAnswer: 6"

    model = by_role({"solver": draft, "distiller": distill})
    res = await compile(pdr(k=3, rounds=3, workspace_tokens=128), models=model).run("q?")
    assert res.rounds == 3 and res.answer == "6"
    assert [len(outputs_of(res, "draft", r)) for r in (1, 2, 3)] == [3, 3, 3]
    assert [len(outputs_of(res, "distill", r)) for r in (1, 2, 3)] == [1, 1, 0]
    assert distill_limits == [128, 128]
    assert all("WORKSPACE-NOTE" not in p for p in draft_prompts[:3])
    assert all("WORKSPACE-NOTE" in p for p in draft_prompts[3:])
    assert {c.node for c in res.candidates} == {"draft"}
