"""``best_of_n``: N parallel samples, one selection step.

Follows Best-of-N / self-consistency and its selection variants (FIELD.md,
"Parallel sampling and selection"): majority vote over canonical answers
(self-consistency), the highest verifier score (best-of-N with a reward model),
a listwise judge (the best selection method for agents in "Scaling Test-time
Compute for LLM Agents"), first-finish, and short-m@k (start k, keep the first m
to finish, vote over them — fewer tokens because long, often wrong, chains are
cut).
"""

from __future__ import annotations

from collections.abc import Sequence

from thinktank.graphs.builder import Graph, Judge, Solver, Verifier
from thinktank.graphs.spec import GraphSpec, SamplingSpec
from thinktank.graphs.topologies._common import choose, finish, node_fields

SELECT = ("vote", "verifier", "judge", "first_finish", "short_m_at_k")


def best_of_n(
    n: int = 8,
    select: str = "vote",
    *,
    m: int = 3,
    model: str = "default",
    verifier_model: str | None = None,
    judge_model: str | None = None,
    temperature: float | None = 0.8,
    max_tokens: int | None = None,
    tools: Sequence[str] = (),
) -> GraphSpec:
    """``n`` solver samples, then ``select``.

    Args:
        n: samples drawn (k of short-m@k).
        select: ``vote``, ``verifier`` (one verifier scores every sample; highest mean
            score wins), ``judge`` (a listwise judge picks), ``first_finish`` (the first
            sample to finish; the others are cancelled) or ``short_m_at_k`` (vote over
            the first ``m`` to finish; the others are cancelled).
        m: samples kept by short-m@k.
        model: model alias of the solver; ``verifier_model`` / ``judge_model`` default to it.
        temperature: solver sampling temperature (diversity matters for voting).
        max_tokens: completion limit per solver call.
        tools: injected tools the solver may call.
    """
    choose("select", select, SELECT)
    fields = node_fields(model, temperature, max_tokens, tools)
    g = Graph(f"best_of_{n}_{select}", f"Best-of-{n} with {select} selection.")
    if select in ("first_finish", "short_m_at_k"):
        keep = 1 if select == "first_finish" else min(m, n)
        s = g.add(Solver(**fields), n=n, sampling=SamplingSpec(mode="first_m", m=keep))
        g.select(select, m=keep)
    else:
        s = g.add(Solver(**fields), n=n)
        if select == "verifier":
            v = g.add(Verifier(model=verifier_model or model))
            g.connect(s, v)
            g.select("verifier", by=v)
        elif select == "judge":
            j = g.add(Judge(model=judge_model or model))
            g.connect(s, j)
            g.select("judge", by=j)
        else:
            g.select("vote")
    finish(g, "best_of_n", n=n, select=select, m=m, model=model)
    return g.build()
