"""How a chat request becomes a run: the prompt from the messages, the budget."""

from __future__ import annotations

from typing import Any

import pytest

from thinktank.graphs.topologies import topology
from thinktank.serve.request import plan_run, run_budget, task_prompt
from thinktank.serve.wire import ChatMessage, ChatRequest, ServeError


def _msgs(*pairs: tuple[str, Any]) -> list[ChatMessage]:
    return [ChatMessage(role=r, content=c) for r, c in pairs]


def test_one_user_message_is_the_prompt_verbatim() -> None:
    assert task_prompt(_msgs(("user", "  What is 2+2?\n"))) == "  What is 2+2?\n"


def test_context_comes_before_the_question() -> None:
    prompt = task_prompt(
        _msgs(
            ("system", "Be brief."),
            ("user", "Hi"),
            ("assistant", "Hello."),
            ("developer", "Use SI units."),
            ("user", [{"type": "text", "text": "How far"}, {"type": "text", "text": "is it?"}]),
        )
    )
    assert prompt == (
        "Be brief.\n\nUse SI units.\n\nEarlier in this conversation:\nUser: Hi\n"
        "Assistant: Hello.\n\nHow far\nis it?"
    )


def test_the_last_message_must_be_the_users() -> None:
    with pytest.raises(ServeError) as exc:
        task_prompt(_msgs(("user", "x"), ("system", "y")))
    assert exc.value.status == 400 and exc.value.param == "messages.1.role"


def test_request_budgets_sit_within_the_graphs_own() -> None:
    spec = topology("best_of_n:n=2")
    assert run_budget(spec, {}, {}) is None
    b = run_budget(spec, {"x-thinktank-budget-usd": "0.5"}, {"budget_usd": "0.2"})
    assert b is not None and b.max_usd == 0.2 and b.max_tokens is None
    b = run_budget(spec, {}, {"budget_tokens": 500}, default_usd=1.0)
    assert b is not None and (b.max_usd, b.max_tokens) == (1.0, 500)
    own = spec.model_copy(
        update={"budget": spec.budget.model_copy(update={"max_usd": 0.1, "max_calls": 9})}
    )
    b = run_budget(own, {"x-thinktank-budget-usd": "0.5"}, {})
    assert b is not None and (b.max_usd, b.max_calls) == (0.1, 9)


def test_a_request_names_its_kind_and_seed() -> None:
    req = ChatRequest.model_validate(
        {"model": "g", "messages": [{"role": "user", "content": "q"}], "seed": 4,
         "metadata": {"kind": "math"}, "temperature": 0.2, "max_tokens": 5}
    )  # fmt: skip
    plan = plan_run(req, topology("single"), {}, kind="text", default_usd=None)
    assert (plan.prompt, plan.kind, plan.seed, plan.budget) == ("q", "math", 4, None)
