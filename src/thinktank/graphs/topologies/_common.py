"""Helpers shared by the topology functions: parameter records and role instructions.

The instructions here replace a role's packaged prompt where a topology needs a
different contract (code with tests, a bounded workspace). They keep the words the
simulator reads a prompt's role from: only verifier and judge prompts say
"verifier"/"judge", so nothing else is mistaken for one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from thinktank.agents.roles import load_prompt
from thinktank.errors import ConfigError
from thinktank.graphs.builder import Graph

DEFAULT_ASPECTS: tuple[str, ...] = (
    "the final answer answers exactly what the task asks, in the requested form",
    "every calculation and intermediate result is correct",
    "the reasoning is logically valid, with no unjustified step or hidden assumption",
    "no condition or constraint stated in the task is ignored",
    "the answer survives a sanity check (plugging it back in, estimating, edge cases)",
)
"""Aspects for multi-agent verification, one per aspect verifier (first ``k`` used)."""

CODE_SOLVER = (
    "You are the solver. Write a correct, complete Python solution to the programming "
    "task. Think about edge cases first. Put the whole program (imports included) in one "
    "fenced ```python block."
)
"""Solver instructions for code tasks."""

TEST_WRITER = (
    CODE_SOLVER
    + " Then write tests for your program in a second fenced block tagged ```tests: a few "
    "plain `assert` statements that call the function on inputs whose expected outputs you "
    "are sure of, edge cases included. The tests must not redefine the function."
)
"""Solver instructions for generated-test voting: a program plus a ``tests`` block."""

DISTILL = (
    "You are the distiller. You get a task and several draft solutions written in parallel. "
    "Write a compact workspace for the next round, at most {words} words: the candidate "
    "answers and how many drafts support each, the facts and intermediate results the drafts "
    "agree on, where and why they disagree, and the mistakes to avoid. Do not copy whole "
    "drafts.\nEnd your reply with a final line of the form:\nAnswer: <the answer best supported so far>"
)
"""Fuser instructions for Parallel-Distill-Refine's bounded workspace."""


def workspace_solver() -> str:
    """Solver instructions for PDR rounds after the first (refine from the workspace)."""
    return (
        load_prompt("solver")
        + "\nWhen a workspace from an earlier round is shown, refine from it: build on what it "
        "established, settle the disagreements it lists, avoid the mistakes it names, and "
        "write a complete improved solution."
    )


def node_fields(
    model: str,
    temperature: float | None = None,
    max_tokens: int | None = None,
    tools: Sequence[str] = (),
) -> dict[str, Any]:
    """NodeSpec fields common to answer-producing nodes (unset ones left out)."""
    out: dict[str, Any] = {"model": model, "tools": list(tools)}
    if temperature is not None:
        out["temperature"] = temperature
    if max_tokens is not None:
        out["max_tokens"] = max_tokens
    return out


def finish(g: Graph, topology: str, **params: Any) -> Graph:
    """Record the topology name and its parameters in the spec's metadata."""
    clean = {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}
    return g.meta(topology=topology, params=clean)


def choose(name: str, value: str, valid: Sequence[str]) -> str:
    """Check a choice parameter; unknown values list the valid ones."""
    if value not in valid:
        raise ConfigError(f"{name}={value!r} is not one of: {', '.join(valid)}")
    return value


def aspects_for(k: int, aspects: Sequence[str] | None) -> list[str]:
    """``aspects`` when given, else the first ``k`` default aspects."""
    if aspects:
        return [str(a) for a in aspects]
    if not 1 <= k <= len(DEFAULT_ASPECTS):
        raise ConfigError(
            f"k={k}: there are {len(DEFAULT_ASPECTS)} default aspects; pass aspects=[...] for more"
        )
    return list(DEFAULT_ASPECTS[:k])
