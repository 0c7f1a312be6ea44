"""``ceo``: role agents discuss in rounds; a CEO decides after each round, and the graph obeys.

Follows MAS-TTS, "Two Heads are Better Than One" (FIELD.md, "CEO-coordinated
discussion"): solvers answer, a pool of critics reviews the answers, and after
every round a CEO agent reads the round and returns a ``Decision``. Unlike the
paper's public code, which parses the stop decision and never acts on it, every
field is *enforced* by the scheduler (:mod:`thinktank.graphs.schedule`):

* ``action: stop`` ends the run (status ``stopped_by_ceo``);
* ``recruit`` sets how many of the ``critics`` are active next round;
* ``token_budget`` becomes every agent's ``max_tokens`` next round;
* ``direction`` is shown to every agent next round.

Decisions and what was enforced are in ``RunResult.decisions`` and the trace.
Solvers read their previous answers and the critics' feedback (feedback edges);
critics read the current round's answers.
"""

from __future__ import annotations

from collections.abc import Sequence

from thinktank.graphs.builder import CEO, Critic, Graph, Solver
from thinktank.graphs.spec import SELECT_METHODS, GraphSpec
from thinktank.graphs.topologies._common import choose, finish, node_fields


def ceo(
    solvers: int = 1,
    critics: int = 3,
    rounds: int = 3,
    *,
    active: int = 1,
    select: str = "ceo",
    model: str = "default",
    ceo_model: str | None = None,
    critic_model: str | None = None,
    temperature: float | None = 0.7,
    max_tokens: int | None = None,
    tools: Sequence[str] = (),
) -> GraphSpec:
    """Solvers + a critic pool, coordinated by a CEO for up to ``rounds`` rounds.

    Args:
        solvers: parallel solver instances.
        critics: size of the critic pool (the most the CEO can recruit).
        rounds: round limit (the CEO can stop earlier).
        active: critics active in round 1.
        select: ``ceo`` (the CEO's last stated answer, else a vote) or ``vote``/``last``.
        model: solver model alias; ``ceo_model`` / ``critic_model`` default to it.
        temperature, max_tokens, tools: the solvers' settings.
    """
    choose("select", select, [m for m in SELECT_METHODS if m in ("ceo", "vote", "last")])
    g = Graph(f"ceo_{solvers}s{critics}c", f"MAS-TTS: {solvers} solver(s), {critics} critics, CEO.")
    s = g.add(Solver(**node_fields(model, temperature, max_tokens, tools)), n=solvers)
    if rounds > 1:
        g.connect(s, s, feedback=True)
    if critics > 0:
        c = g.add(Critic(model=critic_model or model), n=critics, active=min(active, critics))
        g.connect(s, c)
        if rounds > 1:
            g.connect(c, s, feedback=True)
    boss = g.add(CEO(model=ceo_model or model, max_steps=2))
    g.rounds(rounds, controller=boss)
    g.select(select)
    finish(g, "ceo", solvers=solvers, critics=critics, rounds=rounds, active=active, model=model)
    return g.build()
