"""Sandbox plumbing shared by the environments: providers from options, lazy sandboxes.

A task that never runs code should not pay for a container, so the ``python`` tool
of the math and code environments starts its sandbox on first use
(:class:`LazySandbox`) and the task's context closes it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel

from thinktank.errors import ConfigError
from thinktank.evals.environments.base import TaskContext, TaskEnvironment
from thinktank.evals.tasks.task import Task
from thinktank.sandboxes.base import Sandbox
from thinktank.sandboxes.provider import SandboxProvider, provider_from_config
from thinktank.tools.base import Tool, ToolResult
from thinktank.tools.code import PythonArgs, PythonTool

ProviderOption = SandboxProvider | dict[str, Any] | BaseModel | None
"""A provider, a sandbox config (``{"type": "docker", ...}``, a ``PoolConfig``), or
``None`` for Docker with its secure defaults."""


def resolve_provider(option: ProviderOption) -> tuple[SandboxProvider, bool]:
    """``(provider, owned)``: ``owned`` is true when it was built here (close it after)."""
    if isinstance(option, SandboxProvider):
        return option, False
    if option is None or isinstance(option, dict | BaseModel):
        return provider_from_config(option), True
    raise ConfigError(
        f"provider must be a SandboxProvider or a sandbox config, not {type(option).__name__}"
    )


class LazySandbox:
    """A sandbox from ``provider``, created on the first :meth:`get`, closed by :meth:`close`."""

    def __init__(self, provider: SandboxProvider) -> None:
        self.provider = provider
        self.sandbox: Sandbox | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> Sandbox:
        async with self._lock:
            if self.sandbox is None:
                self.sandbox = await self.provider.create()
            return self.sandbox

    async def close(self) -> None:
        sb, self.sandbox = self.sandbox, None
        if sb is not None:
            await sb.close()


class LazyPythonTool(Tool[PythonArgs]):
    """The ``python`` tool over a :class:`LazySandbox` (no container until it is called)."""

    name = "python"
    args_model = PythonArgs

    def __init__(self, lazy: LazySandbox, *, timeout_s: float = 30.0) -> None:
        self.lazy = lazy
        self.timeout_s = timeout_s
        self.description = (
            "Run Python 3 code in an isolated sandbox and return what it prints (each call "
            "starts a fresh interpreter: print the results you need). Use it to compute "
            f"exactly instead of by hand. Calls are limited to {timeout_s:g} s; no network."
        )
        self._tool: PythonTool | None = None

    async def run(self, args: PythonArgs) -> ToolResult:
        if self._tool is None:
            self._tool = PythonTool(await self.lazy.get(), timeout_s=self.timeout_s)
        return await self._tool.run(args)


class PythonToolEnvironment(TaskEnvironment):
    """Per task: a lazily started ``python`` tool (no container until the first call).

    Args:
        provider: where the sandboxes come from (a provider, a sandbox config such as
            ``PoolConfig(size=2)``, or ``None`` for Docker with its secure defaults).
        judge: the model used by ``llm_match`` evaluators, if a task asks for one.
        python: give the agents the ``python`` tool (``False``: no tools).
        timeout_s: limit per ``python`` call.
    """

    def __init__(
        self,
        *,
        provider: ProviderOption = None,
        judge: Any = None,
        python: bool = True,
        timeout_s: float = 30.0,
    ) -> None:
        self._option = provider
        self.provider: SandboxProvider | None = None
        self._owned = False
        self.judge = judge
        self.python = python
        self.timeout_s = timeout_s

    async def start(self) -> None:
        if self.provider is None:
            self.provider, self._owned = resolve_provider(self._option)

    async def close(self) -> None:
        if self._owned and self.provider is not None:
            await self.provider.aclose()
        self.provider = None

    async def _provider(self) -> SandboxProvider:
        if self.provider is None:
            await self.start()
        assert self.provider is not None
        return self.provider

    async def open(self, task: Task) -> TaskContext:
        if not self.python:
            return TaskContext()
        lazy = LazySandbox(await self._provider())
        return TaskContext(
            tools=[LazyPythonTool(lazy, timeout_s=self.timeout_s)],
            data={"sandbox": lazy},
            closers=[lazy.close],
        )
