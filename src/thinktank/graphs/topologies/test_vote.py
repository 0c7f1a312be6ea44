"""``test_vote``: every candidate writes a program and tests; all programs run all tests.

Follows generated-test voting from CodeMonkeys and S* (FIELD.md, "Verification"):
each trajectory writes an edit (here a program) and a test script; every
candidate is run against every generated test in a sandbox; the candidate that
passes the most tests wins, ties going to the larger group of equivalent
programs. Tests written by one sample check the others, so a program that only
passes its own (possibly wrong) tests does not win.

Compile it with ``sandbox=...`` or ``scorer=...``.
"""

from __future__ import annotations

from collections.abc import Sequence

from thinktank.graphs.builder import Graph, Solver
from thinktank.graphs.spec import GraphSpec
from thinktank.graphs.topologies._common import TEST_WRITER, finish, node_fields


def test_vote(
    n: int = 8,
    *,
    model: str = "default",
    temperature: float | None = 0.8,
    max_tokens: int | None = None,
    tools: Sequence[str] = (),
) -> GraphSpec:
    """``n`` program + tests samples, selected by cross-running every test.

    Args:
        n: solver samples, each writing a program and a ``tests`` block.
        model, temperature, max_tokens, tools: the solvers' settings.
    """
    g = Graph(f"test_vote_{n}", f"{n} programs with tests, cross-run, most passes wins.")
    g.add(
        Solver(**node_fields(model, temperature, max_tokens, tools), instructions=TEST_WRITER), n=n
    )
    g.select("test_vote", answer_kind="code")
    finish(g, "test_vote", n=n, model=model)
    return g.build()


test_vote.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
