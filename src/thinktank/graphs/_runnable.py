"""Nodes that can never run, found when a graph is built instead of as silence at run time.

A role that works on other nodes' answers (``RoleSpec.reads == "answers"``: a
verifier, critic, judge or fuser) is only ever dispatched with answers to work on,
so without an edge from a node that answers (and runs) it is skipped in every
round, and the selection or refinement it was meant for silently does not happen.
The same goes for a node whose ``first_round`` is past the last round.
"""

from __future__ import annotations

from thinktank.agents.roles import find_role
from thinktank.errors import ConfigError
from thinktank.graphs.spec import ANSWER_ROLES, GraphSpec, NodeSpec

_ANSWERING = "a solver, refiner, fuser or debater"


def _reads_answers(node: NodeSpec) -> bool:
    role = find_role(node.role)
    return role is not None and role.reads == "answers"


def never_run(spec: GraphSpec) -> list[str]:
    """One line per node of ``spec`` that can never run, saying why and what to change."""
    out: list[str] = []
    last = spec.rounds.max_rounds
    late = {n.id for n in spec.nodes if n.first_round > last}
    for nid in sorted(late):
        first = spec.node(nid).first_round
        out.append(
            f"node {nid!r} can never run: it starts in round {first} but the graph runs "
            f"at most {last} round(s); lower its first_round or raise rounds.max_rounds"
        )
    ctrl = spec.rounds.controller
    runs = {
        n.id for n in spec.nodes if n.id not in late and (n.id == ctrl or not _reads_answers(n))
    }
    grew = True
    while grew:  # a reader runs when a node that answers, and runs, feeds it
        grew = False
        for n in spec.nodes:
            if n.id in runs or n.id in late:
                continue
            if any(
                e.source in runs and spec.node(e.source).role in ANSWER_ROLES
                for e in spec.inputs_of(n.id)
            ):
                runs.add(n.id)
                grew = True
    for n in spec.nodes:
        if n.id in runs or n.id in late:
            continue
        sources = [e.source for e in spec.inputs_of(n.id)]
        answering = [s for s in sources if spec.node(s).role in ANSWER_ROLES]
        head = f"node {n.id!r} ({n.role}) can never run: a {n.role} works on other nodes' answers"
        if not sources:
            why = "and no edge leads to it"
        elif not answering:
            why = f"and its inputs ({', '.join(sources)}) give none"
        else:
            why = f"and its inputs that answer ({', '.join(answering)}) never run themselves"
        out.append(f"{head} {why}; add an edge to it from {_ANSWERING}")
    return out


def check_runnable(spec: GraphSpec) -> None:
    """Raise :class:`~thinktank.errors.ConfigError` naming every node that can never run."""
    problems = never_run(spec)
    if problems:
        raise ConfigError(f"invalid graph {spec.name!r}: " + "; ".join(problems))
