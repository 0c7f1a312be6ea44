"""Task environments: what a task needs around the graph, and how its result is judged.

The runner asks :func:`environment_for` for the environment of each task kind,
starts it once per run, and for each task: ``open`` (a per-task context with the
tools the graph's agents may use — a sandbox with the repository for SWE, web
tools over the bundled corpus for web, a Python sandbox for math/code), runs the
graph with those tools, ``evaluate`` (ground truth: tests in a fresh sandbox, exact
answers, …), then closes the context. Environments are the one place that knows
about sandboxes and servers, so the runner stays a scheduler of records.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from thinktank.errors import ConfigError
from thinktank.evals.tasks.evaluators import EvalContext, Verdict, evaluate
from thinktank.evals.tasks.task import Task
from thinktank.tools.base import Tool


@dataclass
class TaskContext:
    """Per-task resources handed to the graph; closed after evaluation."""

    tools: list[Tool[Any]] = field(default_factory=list)
    """Tools the graph's nodes may name (their ``name`` is the key)."""
    prompt: str | None = None
    """The prompt to run (default: the task's prompt)."""
    data: dict[str, Any] = field(default_factory=dict)
    """Environment-private state (e.g. the sandbox, the repository path)."""
    closers: list[Callable[[], Any]] = field(default_factory=list)
    """Async or sync callables run by :meth:`aclose`, last first."""

    async def aclose(self) -> None:
        import inspect

        while self.closers:
            out = self.closers.pop()()
            if inspect.isawaitable(out):
                await out


class TaskEnvironment(ABC):
    """Sets up and judges tasks of some kinds."""

    kinds: ClassVar[frozenset[str]] = frozenset()

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Run-level set-up (start a corpus server, a sandbox pool)."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Run-level tear-down."""

    @abstractmethod
    async def open(self, task: Task) -> TaskContext:
        """Per-task set-up."""

    @abstractmethod
    async def evaluate(
        self, task: Task, answer: str | None, ctx: TaskContext, *, output: Any = None
    ) -> Verdict:
        """Judge the run's answer (``output`` is the winning candidate's full output, e.g. a patch)."""

    async def judge_candidates(
        self, task: Task, result: Any, ctx: TaskContext
    ) -> list[bool] | None:
        """Whether each of the run's final candidates is right (pass@k, the selection
        gap), or ``None`` when this environment does not judge candidates (the runner
        then judges them itself where the task's evaluator is cheap)."""
        return None

    async def __aenter__(self) -> TaskEnvironment:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class PlainEnvironment(TaskEnvironment):
    """No tools; the task's evaluator judges the answer (math, choice, text).

    ``judge`` is the model used by LLM answer matching; ``sandbox`` runs code tests.
    """

    kinds = frozenset({"math", "choice", "text", "code"})

    def __init__(
        self, *, judge: Any = None, sandbox: Any = None, tools: list[Tool[Any]] | None = None
    ) -> None:
        self.ctx = EvalContext(judge=judge, sandbox=sandbox)
        self.tools = list(tools or [])

    async def open(self, task: Task) -> TaskContext:
        return TaskContext(tools=list(self.tools))

    async def evaluate(
        self, task: Task, answer: str | None, ctx: TaskContext, *, output: Any = None
    ) -> Verdict:
        return await evaluate(task, answer, self.ctx)


_REGISTRY: dict[str, Callable[..., TaskEnvironment]] = {}


def register_environment(kind: str, factory: Callable[..., TaskEnvironment]) -> None:
    """Make ``factory(**options)`` the environment of task ``kind``."""
    _REGISTRY[kind] = factory


def environment_for(kind: str, **options: Any) -> TaskEnvironment:
    """The environment for a task kind (plain when none is registered for it)."""
    import thinktank.evals.environments  # noqa: F401 - registers swe, web, code, math

    if kind not in _REGISTRY and kind not in PlainEnvironment.kinds:
        raise ConfigError(
            f"no environment for task kind {kind!r}; registered: {sorted({*_REGISTRY, *PlainEnvironment.kinds})}"
        )
    return _REGISTRY.get(kind, PlainEnvironment)(**options)
