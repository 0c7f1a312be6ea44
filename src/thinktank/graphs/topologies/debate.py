"""``debate``: m debaters answer, read each other's answers, and revise for r rounds.

Follows multi-agent debate (FIELD.md, "Coordination and collaboration"): every
debater answers in round 1; from round 2 on each one sees all answers of the
previous round (a feedback edge from the debater node to itself) and revises or
defends its own. The final answer is a majority vote over the last round, or a
listwise judge's pick. Studies find debate helps little on math unless problems
are hard or models weak, so it is one option among many, to be measured.
"""

from __future__ import annotations

from collections.abc import Sequence

from thinktank.graphs.builder import Debater, Graph, Judge
from thinktank.graphs.spec import GraphSpec
from thinktank.graphs.topologies._common import choose, finish, node_fields

SELECT = ("vote", "judge")


def debate(
    m: int = 3,
    r: int = 2,
    select: str = "vote",
    *,
    stop_on_agreement: float | None = None,
    model: str = "default",
    judge_model: str | None = None,
    temperature: float | None = 0.7,
    max_tokens: int | None = None,
    tools: Sequence[str] = (),
) -> GraphSpec:
    """``m`` debaters for ``r`` rounds, then ``select``.

    Args:
        m: debaters (parallel instances of one debater node).
        r: rounds; each round after the first shows every debater the previous round.
        select: ``vote`` over the last round, or ``judge`` (a listwise judge reads the
            answers of round ``r``; a debate that stops earlier on agreement is voted).
        stop_on_agreement: end before ``r`` once this share of the debaters agree.
        model: debater model alias; ``judge_model`` defaults to it.
        temperature, max_tokens, tools: the debaters' settings.
    """
    choose("select", select, SELECT)
    g = Graph(f"debate_{m}x{r}", f"{m} debaters, {r} rounds, {select}.")
    d = g.add(Debater(**node_fields(model, temperature, max_tokens, tools)), n=m)
    if r > 1:
        g.connect(d, d, feedback=True)
    if select == "judge":
        j = g.add(Judge(model=judge_model or model, first_round=r))
        g.connect(d, j)
        g.select("judge", by=j)
    else:
        g.select("vote")
    g.rounds(r, stop_on_agreement=stop_on_agreement)
    finish(g, "debate", m=m, r=r, select=select, stop_on_agreement=stop_on_agreement, model=model)
    return g.build()
