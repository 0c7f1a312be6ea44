"""``hybrid_verify``: execution-based and execution-free verification, combined.

Follows R2E-Gym's hybrid verifier (FIELD.md, "Verification"): for code and SWE
tasks, an execution-based verifier (tests run in a sandbox) and an
execution-free one (an LLM judging the code) each saturate on their own, and a
weighted combination beats both. Here the solvers write programs (plus a few
tests of their own); a :class:`~thinktank.graphs.execution.ExecutionScorer` runs
the task's tests — or, when the task has none, the generated ones — and the
selection step ranks candidates by
``exec_weight * pass_rate + (1 - exec_weight) * llm_score``, where the LLM score
is a verifier's mean score (or a listwise judge's share of picks).

Compile it with ``sandbox=...`` or ``scorer=...``.
"""

from __future__ import annotations

from collections.abc import Sequence

from thinktank.graphs.builder import Graph, Judge, Solver, Verifier
from thinktank.graphs.spec import GraphSpec
from thinktank.graphs.topologies._common import TEST_WRITER, choose, finish, node_fields

LLM = ("verifier", "judge")
CODE_ASPECT = "the program correctly and completely solves the task, edge cases included"


def hybrid_verify(
    n: int = 8,
    exec_weight: float = 0.5,
    *,
    llm: str = "verifier",
    model: str = "default",
    verifier_model: str | None = None,
    temperature: float | None = 0.8,
    max_tokens: int | None = None,
    tools: Sequence[str] = (),
) -> GraphSpec:
    """``n`` programs scored by tests and by an LLM, combined with ``exec_weight``.

    Args:
        n: solver samples (programs).
        exec_weight: weight of the execution score (``1``: tests only, ``0``: LLM only).
        llm: execution-free scorer: ``verifier`` (scores each program) or ``judge``
            (listwise picks).
        model: solver model alias; ``verifier_model`` defaults to it.
        temperature, max_tokens, tools: the solvers' settings.
    """
    choose("llm", llm, LLM)
    g = Graph(f"hybrid_verify_{n}", f"{n} programs, tests + LLM {llm}, weight {exec_weight}.")
    fields = node_fields(model, temperature, max_tokens, tools)
    s = g.add(Solver(**fields, instructions=TEST_WRITER), n=n)
    if llm == "verifier":
        v = g.add(Verifier(model=verifier_model or model, aspect=CODE_ASPECT))
    else:
        v = g.add(Judge(model=verifier_model or model))
    g.connect(s, v)
    g.select("hybrid", by=v, exec_weight=exec_weight, answer_kind="code")
    finish(g, "hybrid_verify", n=n, exec_weight=exec_weight, llm=llm, model=model)
    return g.build()
