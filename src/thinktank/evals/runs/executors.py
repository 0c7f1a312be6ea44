"""Where jobs run: the :class:`Executor` protocol, the local executor, and executor plugins.

``local`` (:class:`LocalExecutor`) runs jobs in this process's event loop; other
executors are plugins found by name in the ``thinktank.executors`` entry-point group
(``ray``: a Ray cluster, :mod:`thinktank.cluster`). Every one takes plain
:class:`~thinktank.evals.runs.worker.TaskJob` data and returns
:class:`~thinktank.evals.runs.run_types.TaskRecord` data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from thinktank.errors import ConfigError
from thinktank.evals.runs.run_types import TaskRecord
from thinktank.evals.runs.worker import TaskJob, TaskWorker

EXECUTOR_GROUP = "thinktank.executors"
"""Entry-point group of executors: ``NAME = "module:Factory"``, where ``Factory(worker, *,
models, concurrency, options)`` returns an :class:`Executor` (the ``ray`` executor is
``thinktank.cluster:RayExecutor``). The runner finds them by name, so executors live
above the runner without the runner importing them."""


class Executor(Protocol):
    """Where jobs run. ``submit`` may run remotely; records come back as data."""

    async def start(self) -> None: ...

    async def submit(self, job: TaskJob) -> TaskRecord: ...

    async def close(self) -> None: ...


class LocalExecutor:
    """Runs jobs in this process's event loop (the default)."""

    def __init__(self, worker: TaskWorker) -> None:
        self.worker = worker

    async def start(self) -> None:
        return None

    async def submit(self, job: TaskJob) -> TaskRecord:
        return await self.worker.run_job(job)

    async def close(self) -> None:
        await self.worker.close()


def executor_names() -> tuple[str, ...]:
    """``local`` and every installed executor plugin."""
    from importlib.metadata import entry_points

    return ("local", *sorted({ep.name for ep in entry_points(group=EXECUTOR_GROUP)}))


def check_executor_name(name: str) -> None:
    """Raise :class:`~thinktank.errors.ConfigError` unless ``name`` is an executor."""
    if name not in executor_names():
        raise ConfigError(
            f"unknown executor {name!r}; valid executors: {', '.join(executor_names())}"
        )


def _executor_factory(name: str) -> Any:
    from importlib.metadata import entry_points

    for ep in entry_points(group=EXECUTOR_GROUP, name=name):
        return ep.load()
    raise ConfigError(f"unknown executor {name!r}; valid executors: {', '.join(executor_names())}")


def make_executor(
    executor: str | Executor,
    worker: TaskWorker,
    *,
    models: Any,
    concurrency: int,
    options: Mapping[str, Any],
) -> Executor:
    """The executor named ``executor`` for ``worker`` (an executor object is returned as
    it is): ``local``, or a plugin's ``Factory(worker, models=, concurrency=, options=)``."""
    if not isinstance(executor, str):
        return executor
    if executor == "local":
        return LocalExecutor(worker)
    factory = _executor_factory(executor)
    made: Executor = factory(worker, models=models, concurrency=concurrency, options=options)
    return made
