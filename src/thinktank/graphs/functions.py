"""Function nodes: an async Python function as a node of a graph.

::

    @node(does="score")
    async def run_tests(task, inputs, ctx):
        async with ctx.sandbox() as box:
            ...
        return {c.id: 1.0 if passed else 0.0 for c in inputs}

    g.add(Function(run_tests))      # or g.add(run_tests); in YAML: role: mymodule:run_tests
    g.select("run_tests")           # select by its scores

A function node is a node whose role is a *function role* (see
:mod:`thinktank.agents.roles`): it is called with the task (:class:`RunTask`), the
outputs it reads (:class:`~thinktank.graphs.state.NodeOutput` s: the candidates for a
node that scores, selects, fuses or critiques; every input otherwise) and a
:class:`NodeContext` (the run's sandbox, tools, budget, memory and models), once per
sample, in the rounds, edges and conditions the graph gives it like any node. What
it returns depends on what it does:

* ``answer`` / ``refine`` / ``fuse`` — the answer (a ``str`` or number, an
  :class:`~thinktank.agents.outputs.AnswerOutput`, a mapping with ``answer``);
* ``score`` — a score in [0, 1] or a verdict (``bool``) per candidate: a mapping
  ``{candidate id: value}``, a list in the order of the candidates, or one value when
  there is one; a value may be a :class:`~thinktank.agents.outputs.Verification`;
  it becomes one output per candidate, as a verifier's would;
* ``critique`` — text, a list of issues or a mapping (``issues``, ``suggestions``);
* ``context`` — text or any JSON-ready value, shown to the nodes it feeds;
* ``select`` — the 1-based number or the id of the chosen candidate;
* ``decide`` — a :class:`~thinktank.agents.outputs.Decision` or its mapping.

A function that raises, or returns something its act cannot use, leaves a sample with
status ``error`` and the reason (exception, message and where it was raised) in the
trace; the run goes on as it does when a model call fails. Each sample's trajectory
records the function's time and output; a function that calls no model costs nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, get_args

from thinktank.agents.callables import NODE_ATTRIBUTE, check_params, path_of, resolve
from thinktank.agents.roles import (
    FUNCTION_PARAMS,
    RoleAct,
    RoleReads,
    RoleSpec,
    function_declaration,
    register_role,
)
from thinktank.agents.trajectory import Trajectory
from thinktank.errors import BudgetExceeded, ConfigError
from thinktank.graphs.function_outputs import ReturnError, convert, describe
from thinktank.graphs.state import NodeOutput, SampleStatus, WorkItem
from thinktank.llm.budget import Budget
from thinktank.llm.ledger import UsageLedger, scope

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunTask:
    """The task of a run, as a function node sees it."""

    id: str
    prompt: str
    kind: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    """Whatever the task carries (tests, an entry point, an expected answer, …)."""


@dataclass
class NodeContext:
    """What a function node may use besides the task and its inputs."""

    node: str
    """The node's id."""
    role: str
    round: int
    sample: int
    seed: int
    """A seed derived from the run's seed, the task, the node, the round and the sample."""
    target: str | None = None
    """The candidate a ``refine`` node works on."""
    budget: Budget | None = None
    """The run's budget (``None`` without one); model calls made here are charged to it."""
    tools: dict[str, Any] = field(default_factory=dict)
    """The tools the node names (``tools:``), by name."""
    memory: Any = None
    """The memory bank given to ``compile`` (``None`` without one)."""
    models: dict[str, Any] = field(default_factory=dict)
    """The graph's models by alias."""
    run_id: str = ""
    sandbox_source: Any = None

    @contextlib.asynccontextmanager
    async def sandbox(self) -> AsyncIterator[Any]:
        """A started sandbox: the one given to ``compile(..., sandbox=...)`` (kept open),
        or one made from the provider or config given there (closed after the block)."""
        if self.sandbox_source is None:
            raise ConfigError(
                f"function node {self.node!r} asked for a sandbox, but the graph was compiled "
                "without one: compile(spec, sandbox=DockerSandboxConfig()) (or a started "
                "sandbox, or a provider)"
            )
        from thinktank.graphs.execution import sandbox_session

        async with sandbox_session(self.sandbox_source) as box:
            yield box


def node(
    fn: Callable[..., Any] | None = None,
    *,
    does: RoleAct = "answer",
    reads: RoleReads | None = None,
) -> Any:
    """Mark an async function ``fn(task, inputs, ctx)`` as a function node that ``does``
    something for the graph (``@node`` alone: it answers). The function is returned as is."""
    if does not in get_args(RoleAct):
        raise ConfigError(f"@node(does={does!r}): valid acts are {', '.join(get_args(RoleAct))}")

    def mark(f: Callable[..., Any]) -> Callable[..., Any]:
        check_params(f, FUNCTION_PARAMS, what=f"function node {getattr(f, '__qualname__', f)!r}")
        setattr(f, NODE_ATTRIBUTE, {"does": does, "reads": reads})
        return f

    return mark(fn) if fn is not None else mark


def function_role(
    fn: Callable[..., Any] | str,
    *,
    does: RoleAct | None = None,
    reads: RoleReads | None = None,
    name: str | None = None,
) -> RoleSpec:
    """Register (or find) the function role of ``fn``: named ``name``, else by its import
    path; what it does from the arguments, else its ``@node`` declaration, else ``answer``."""
    path = fn if isinstance(fn, str) else path_of(fn)
    own = function_declaration(path)
    return register_role(
        name or path,
        function=path,
        does=does or own.does,
        reads=reads or (own.reads if does is None else None),
    )


# --- running ---------------------------------------------------------------------------


class FunctionRunner:
    """Runs the function nodes of one compiled graph."""

    def __init__(
        self,
        *,
        tools: Mapping[str, Any],
        memory: Any,
        models: Mapping[str, Any],
        sandbox: Any,
    ) -> None:
        self.tools = tools
        self.memory = memory
        self.models = models
        self.sandbox = sandbox
        self._fns: dict[str, Callable[..., Any]] = {}

    def function(self, role: RoleSpec) -> Callable[..., Any]:
        path = role.function or ""
        fn = self._fns.get(path)
        if fn is None:
            fn = self._fns[path] = resolve(path, what=f"function node {path!r}")
        return fn

    async def run(
        self, node: Any, role: RoleSpec, item: WorkItem, task: Mapping[str, Any], run: Any
    ) -> list[NodeOutput]:
        """One work item: each of its samples calls the function once."""
        samples = list(item["samples"])
        done = await asyncio.gather(
            *(self._sample(node, role, item, s, task, run) for s in samples)
        )
        return [o for outs in done for o in outs]

    async def _sample(
        self,
        node: Any,
        role: RoleSpec,
        item: WorkItem,
        sample: int,
        task: Mapping[str, Any],
        run: Any,
    ) -> list[NodeOutput]:
        from thinktank.graphs.nodes import sample_seed

        r = int(item["round"])
        target = item.get("target")
        inputs = [NodeOutput.model_validate(d) for d in item.get("records") or []]
        ctx = NodeContext(
            node=node.id,
            role=node.role,
            round=r,
            sample=sample,
            seed=sample_seed(run, node.id, r, sample, target),
            target=target,
            budget=getattr(run, "budget", None),
            tools={t: self.tools[t] for t in node.tools},
            memory=self.memory,
            models=dict(self.models),
            run_id=getattr(run, "run_id", ""),
            sandbox_source=self.sandbox,
        )
        info = RunTask(
            id=str(task.get("id", "")),
            prompt=str(task.get("prompt", "")),
            kind=task.get("kind"),
            metadata=dict(task.get("metadata") or {}),
        )
        ledger = UsageLedger()
        status, error, refused = SampleStatus.OK, None, None
        results: list[tuple[str | None, Any, str | None]] = []
        value: Any = None
        t0 = time.perf_counter()
        try:
            with scope(ledger=ledger, node=node.id, role=node.role):
                value = await self.function(role)(info, inputs, ctx)
            results = convert(role.does, value, inputs, target)
        except BudgetExceeded as exc:
            status, error, refused = SampleStatus.BUDGET_EXHAUSTED, str(exc), exc.budget
        except ReturnError as exc:
            status = SampleStatus.ERROR
            error = (
                f"function node {node.id!r} ({role.does}) returned {type(value).__name__}: {exc}"
            )
        except Exception as exc:
            status, error = SampleStatus.ERROR, describe(exc)
            log.warning("function node %s raised: %s", node.id, error)
        duration = time.perf_counter() - t0
        totals = ledger.totals()
        usage = (
            {"prompt_tokens": totals.prompt_tokens, "completion_tokens": totals.completion_tokens}
            if totals.calls
            else {}
        )
        base = f"{node.id}:{r}:{sample}"
        rows = results or [(target, None, None)]
        return [
            NodeOutput(
                id=base + (f"@{t}" if role.does == "score" and t else ""),
                node=node.id,
                role=node.role,
                round=r,
                sample=sample,
                answer=answer,
                output=output,
                target=t if role.does in ("score", "refine") else None,
                inputs=list(item.get("inputs") or []),
                status=status,
                error=error,
                refused_by=refused,
                finished_at=time.time(),
                usage=usage,
                trajectory=Trajectory(
                    agent=node.id,
                    role=node.role,
                    model=f"function:{role.function}",
                    output=output,
                    status="ok" if status == SampleStatus.OK else "error",
                    error=error,
                    refused_by=refused,
                    duration_s=duration,
                ).model_dump(mode="json"),
            )
            for t, output, answer in rows
        ]


async def choose_by_function(
    path: str, candidates: list[Any], scores: dict[str, dict[str, float]]
) -> str | None:
    """The candidate id a selection function ``fn(candidates, scores)`` picked (``None``:
    it picked none, the vote stands)."""
    fn = resolve(path, what=f"selection function {path!r}")
    value = fn(candidates, scores)
    if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
        value = await value
    if value is None:
        return None
    chosen = getattr(value, "id", value)
    ids = [c.id for c in candidates]
    if chosen not in ids:
        raise ReturnError(
            f"selection function {path!r} returned {value!r}, which is not a candidate; "
            f"return a candidate, its id or None (candidates: {ids})"
        )
    return str(chosen)


SELECTION_PARAMS = ("candidates", "scores")


def check_selection(path: str) -> None:
    """A selection function at ``path`` can be loaded and takes ``(candidates, scores)``."""
    fn = resolve(path, what=f"selection {path!r}")
    check_params(fn, SELECTION_PARAMS, what=f"selection function {path!r}", asynchronous=None)
