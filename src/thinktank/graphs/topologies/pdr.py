"""``pdr``: Parallel-Distill-Refine — drafts in parallel, distil a bounded workspace, refine, repeat.

Follows Parallel-Distill-Refine (FIELD.md, "Parallel sampling and selection"):
each round, ``k`` drafts are written in parallel; a distiller (a fuser with
distill instructions) compresses them into a short workspace — candidate answers
and their support, agreed facts, disagreements, mistakes — bounded by
``workspace_words``/``workspace_tokens`` so the context does not grow with the
number of drafts; the next round's drafts refine from that workspace (a feedback
edge from the distiller to the drafter). The last round refines from the last
workspace and its drafts are voted on.
"""

from __future__ import annotations

from collections.abc import Sequence

from thinktank.graphs.builder import Fuser, Graph, Solver
from thinktank.graphs.spec import GraphSpec
from thinktank.graphs.topologies._common import DISTILL, finish, node_fields, workspace_solver


def pdr(
    k: int = 4,
    rounds: int = 3,
    *,
    workspace_words: int = 250,
    workspace_tokens: int | None = 512,
    model: str = "default",
    distill_model: str | None = None,
    temperature: float | None = 0.8,
    max_tokens: int | None = None,
    tools: Sequence[str] = (),
) -> GraphSpec:
    """``rounds`` rounds of ``k`` parallel drafts with a distilled workspace between them.

    Args:
        k: drafts per round.
        rounds: draft rounds (``rounds - 1`` workspaces are distilled).
        workspace_words: length bound stated to the distiller.
        workspace_tokens: ``max_tokens`` of the distiller (a hard bound).
        model: drafter model alias; ``distill_model`` defaults to it.
        temperature, max_tokens, tools: the drafters' settings.
    """
    g = Graph(f"pdr_{k}x{rounds}", f"Parallel-Distill-Refine: {k} drafts x {rounds} rounds.")
    fields = node_fields(model, temperature, max_tokens, tools)
    d = g.add(Solver(**fields, instructions=workspace_solver()), id="draft", n=k)
    if rounds > 1:
        w = g.add(
            Fuser(
                model=distill_model or model,
                instructions=DISTILL.format(words=workspace_words),
                max_tokens=workspace_tokens,
                last_round=rounds - 1,
            ),
            id="distill",
        )
        g.connect(d, w)
        g.connect(w, d, feedback=True)
    g.rounds(rounds)
    g.select("vote", candidates=[d])
    finish(g, "pdr", k=k, rounds=rounds, workspace_words=workspace_words, model=model)
    return g.build()
